"""Every refused payout command (proposal, objection, answer, settlement, payment): its
own error type, its exact sentence, and nothing written.

Kept beside ``test_refusals.py`` (same shape) so neither file grows past reading. Time
runs in the past: the ledger refuses an envelope from the future, so a proposal is
made eight days ago and its seven-day window has ended by now.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from domain import commands
from domain.errors import (
    AlreadyAnsweredError,
    AlreadyObjectedError,
    AlreadyPaidError,
    AlreadySettledError,
    CampaignNotClosedError,
    ClaimsAlreadyPublishedError,
    ClaimsMismatchError,
    MalformedBodyError,
    NoClaimsPublishedError,
    NoProposalError,
    NotCampaignOwnerError,
    NotPayeeError,
    NotSettledError,
    ObjectionWindowClosedError,
    ObjectionWindowOpenError,
    OverpaymentError,
    ProposalMismatchError,
    ProposalOpenError,
    SettlementMismatchError,
    UnansweredObjectionError,
    UnknownObjectionError,
    UnknownProposalError,
    UpheldObjectionError,
)
from domain.policy import DEFAULT_POLICY
from tests.domain.conftest import CAMPAIGN, GUIDELINES, World
from tests.domain.test_refusals import Case, assert_refused

CASES: dict[str, Callable[[World], Case]] = {}
ADDRESS = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"  # EIP-55's own example
DISTRIBUTOR = "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359"  # EIP-55's examples too
TOKEN = "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB"
ROOT = "0x" + "cd" * 32
TX = "0x" + "ab" * 32


def case(name: str) -> Callable[[Callable[[World], Case]], Callable[[World], Case]]:
    def register(build: Callable[[World], Case]) -> Callable[[World], Case]:
        CASES[name] = build
        return build

    return register


def _objection(w: World, proposal: str, who: Any = None, *, days_ago: float = 7.5) -> str:
    receipt = w.c.object_to_payouts(
        who or w.ana, CAMPAIGN, proposal, "wrong-amount", at=w.now - timedelta(days=days_ago)
    )
    return str(receipt.ids["objection"])


def _settled(w: World) -> None:
    w.propose()
    w.settle()


def _pay(w: World, *lines: tuple[str, int], rail: str = "sepa", **kw: Any) -> Callable[[], Any]:
    return lambda: w.c.record_payment(
        w.brand, CAMPAIGN, rail=rail, batch="B-1", payments=[(m, a, None) for m, a in lines], **kw
    )


# -- proposals ---------------------------------------------------------------------------------


@case("a proposal before the close")
def _(w: World) -> Case:
    return (
        lambda: w.c.propose_payouts(w.brand, CAMPAIGN, export="e" * 64, payees={}),
        CampaignNotClosedError,
        f"campaign {CAMPAIGN} is still open: payouts are proposed after CampaignClosed",
    )


@case("a proposal by someone else than the brand")
def _(w: World) -> Case:
    w.c.close_campaign(w.brand, CAMPAIGN)
    return (
        lambda: w.c.propose_payouts(w.ana, CAMPAIGN, export="e" * 64, payees={w.ana.actor: 1}),
        NotCampaignOwnerError,
        f"only the brand {w.brand.actor} of campaign {CAMPAIGN} may propose its payouts; "
        f"{w.ana.actor} may not",
    )


@case("a proposal whose payees do not add up to the pool")
def _(w: World) -> Case:
    w.c.close_campaign(w.brand, CAMPAIGN)
    payees = {w.ana.actor: 60_000, w.ben.actor: 30_000}
    return (
        lambda: w.c.propose_payouts(w.brand, CAMPAIGN, export="e" * 64, payees=payees),
        SettlementMismatchError,
        f"campaign {CAMPAIGN}: the proposal's 2 payees get 90000 in all; 'lines' says 2 and "
        f"the pool is 100000",
    )


@case("a second proposal while one is open")
def _(w: World) -> Case:
    proposal = w.propose()
    return (
        lambda: w.propose(),
        ProposalOpenError,
        f"campaign {CAMPAIGN} has the open proposal {proposal}: withdraw it before proposing again",
    )


@case("withdrawing a proposal that is not the open one")
def _(w: World) -> Case:
    proposal = w.propose()
    other = f"{w.brand.actor}:1"
    return (
        lambda: w.c.withdraw_proposal(w.brand, CAMPAIGN, other, "wrong-split"),
        UnknownProposalError,
        f"campaign {CAMPAIGN}: {other!r} is not its open proposal {proposal}",
    )


@case("withdrawing after the settlement")
def _(w: World) -> Case:
    proposal = w.propose()
    w.settle()
    return (
        lambda: w.c.withdraw_proposal(w.brand, CAMPAIGN, proposal, "too-late"),
        AlreadySettledError,
        f"campaign {CAMPAIGN} was settled already",
    )


# -- objections and answers --------------------------------------------------------------------


@case("an objection after the window")
def _(w: World) -> Case:
    proposal = w.propose()
    opened = w.now - timedelta(days=8)
    return (
        lambda: _objection(w, proposal, days_ago=0.5),
        ObjectionWindowClosedError,
        f"campaign {CAMPAIGN}: proposal {proposal} takes objections from {_ts(opened)} until "
        f"{_ts(opened + timedelta(days=7))}; {_ts(w.now - timedelta(days=0.5))} is outside",
    )


@case("an objection by a member who is not a payee")
def _(w: World) -> Case:
    proposal = w.propose()
    return (
        lambda: _objection(w, proposal, w.cy),
        NotPayeeError,
        f"{w.cy.actor} is not a payee of proposal {proposal} in campaign {CAMPAIGN}",
    )


@case("a second objection by the same payee")
def _(w: World) -> Case:
    proposal = w.propose()
    _objection(w, proposal)
    return (
        lambda: _objection(w, proposal, days_ago=7),
        AlreadyObjectedError,
        f"{w.ana.actor} objected to proposal {proposal} already",
    )


@case("an objection to a withdrawn proposal")
def _(w: World) -> Case:
    proposal = w.propose()
    w.c.withdraw_proposal(w.brand, CAMPAIGN, proposal, "recount")
    return (
        lambda: _objection(w, proposal),
        NoProposalError,
        f"campaign {CAMPAIGN} has no open payout proposal: PayoutObjected is refused",
    )


@case("an objection with a reason not in the list")
def _(w: World) -> Case:
    proposal = w.propose()
    return (
        lambda: w.c.object_to_payouts(w.ana, CAMPAIGN, proposal, "greed"),
        MalformedBodyError,
        "PayoutObjected body: field 'reason' must be one of missing-credit, wrong-amount, "
        "wrong-attribution, moderation, other, got 'greed'",
    )


@case("a second answer to one objection")
def _(w: World) -> Case:
    objection = _objection(w, w.propose())
    w.c.answer_objection(w.brand, CAMPAIGN, objection, "rejected")
    return (
        lambda: w.c.answer_objection(w.brand, CAMPAIGN, objection, "upheld"),
        AlreadyAnsweredError,
        f"campaign {CAMPAIGN}: objection {objection} was answered already (rejected)",
    )


@case("an answer to an unknown objection")
def _(w: World) -> Case:
    w.propose()
    unknown = f"{w.cy.actor}:9"
    return (
        lambda: w.c.answer_objection(w.brand, CAMPAIGN, unknown, "rejected"),
        UnknownObjectionError,
        f"campaign {CAMPAIGN}: no objection {unknown} to its open proposal",
    )


@case("an answer by someone else than the brand")
def _(w: World) -> Case:
    objection = _objection(w, w.propose())
    return (
        lambda: w.c.answer_objection(w.ben, CAMPAIGN, objection, "rejected"),
        NotCampaignOwnerError,
        f"only the brand {w.brand.actor} of campaign {CAMPAIGN} may answer objections; "
        f"{w.ben.actor} may not",
    )


# -- settlement --------------------------------------------------------------------------------


@case("a settlement without a proposal")
def _(w: World) -> Case:
    w.c.close_campaign(w.brand, CAMPAIGN)
    return (
        lambda: w.settle(),
        NoProposalError,
        f"campaign {CAMPAIGN} has no open payout proposal: propose, let the objection window "
        f"run, answer every objection, then settle",
    )


@case("a settlement before the objection window ends")
def _(w: World) -> Case:
    proposal = w.propose(days_ago=3)
    ends = w.now - timedelta(days=3) + timedelta(days=7)
    return (
        lambda: w.settle(),
        ObjectionWindowOpenError,
        f"campaign {CAMPAIGN}: the objection window of proposal {proposal} runs until "
        f"{_ts(ends)}; settling at {_ts(w.now)} is too early",
    )


@case("a settlement with another hash than the proposal's")
def _(w: World) -> Case:
    proposal = w.propose()
    return (
        lambda: w.settle(export="f" * 64),
        ProposalMismatchError,
        f"campaign {CAMPAIGN}: the settlement's export {'f' * 64} (2 lines) is not the proposal "
        f"{proposal}'s {'e' * 64} (2 lines); withdraw and propose again to change it",
    )


@case("a settlement with an unanswered objection")
def _(w: World) -> Case:
    objection = _objection(w, w.propose())
    return (
        lambda: w.settle(),
        UnansweredObjectionError,
        f"campaign {CAMPAIGN}: objection {objection} by {w.ana.actor} has no answer yet",
    )


@case("a settlement of a proposal with an upheld objection")
def _(w: World) -> Case:
    proposal = w.propose()
    objection = _objection(w, proposal)
    w.c.answer_objection(w.brand, CAMPAIGN, objection, "upheld")
    return (
        lambda: w.settle(),
        UpheldObjectionError,
        f"campaign {CAMPAIGN}: objection {objection} was upheld; withdraw proposal {proposal} "
        f"and propose again",
    )


# -- payments ----------------------------------------------------------------------------------


@case("a payment before the settlement")
def _(w: World) -> Case:
    w.propose()
    return (
        _pay(w, (w.ben.actor, 1)),
        NotSettledError,
        f"campaign {CAMPAIGN} is not settled: payments are recorded after PayoutsSettled",
    )


@case("a payment to a member who is not in the settlement")
def _(w: World) -> Case:
    _settled(w)
    return (
        _pay(w, (w.ben.actor, 25_000), (w.cy.actor, 10)),
        NotPayeeError,
        f"{w.cy.actor} is not a payee of campaign {CAMPAIGN}'s settlement",
    )


@case("a payment above what is owed")
def _(w: World) -> Case:
    _settled(w)
    _pay(w, (w.ben.actor, 20_000))()
    return (
        _pay(w, (w.ben.actor, 5_001)),
        OverpaymentError,
        f"paying {w.ben.actor} 5001 would make 25001, more than the 25000 campaign {CAMPAIGN} "
        f"owes them",
    )


@case("paying someone twice")
def _(w: World) -> Case:
    _settled(w)
    _pay(w, (w.ben.actor, 25_000))()
    return (
        _pay(w, (w.ben.actor, 25_000)),
        AlreadyPaidError,
        f"{w.ben.actor} was paid 25000 of 25000 already in campaign {CAMPAIGN}",
    )


@case("a chain payment without its transaction")
def _(w: World) -> Case:
    _settled(w)
    return (
        _pay(w, (w.ben.actor, 1), rail="eth"),
        MalformedBodyError,
        "PaymentRecorded body: field 'tx' must be a transaction hash (0x + 64 hex), got None",
    )


@case("a chain payment to an address without its checksum")
def _(w: World) -> Case:
    _settled(w)
    return (
        lambda: w.c.record_payment(
            w.brand,
            CAMPAIGN,
            rail="safe",
            batch="B-1",
            tx=TX,
            token=ADDRESS,
            decimals=6,
            payments=[(w.ben.actor, 1, ADDRESS.lower())],
        ),  # fmt: skip
        MalformedBodyError,
        f"PaymentRecorded body: field 'to' of {w.ben.actor} must be an EIP-55 checksummed address",
    )


@case("a payment by someone else than the brand")
def _(w: World) -> Case:
    _settled(w)
    return (
        lambda: w.c.record_payment(
            w.ben, CAMPAIGN, rail="paypal", batch="B", payments=[(w.ben.actor, 1, None)]
        ),
        NotCampaignOwnerError,
        f"only the brand {w.brand.actor} of campaign {CAMPAIGN} may record payments; "
        f"{w.ben.actor} may not",
    )


@case("a payment in a campaign settled before proposals existed")
def _(w: World) -> Case:
    legacy = {k: v for k, v in DEFAULT_POLICY.items() if k != "objection_window"}
    w.c.open_campaign(
        w.brand, "legacy-25", title="Old", guidelines=GUIDELINES, starts_at=w.now,
        ends_at=w.now + timedelta(days=1), pool=100, policy=legacy,
    )  # fmt: skip
    w.c.close_campaign(w.brand, "legacy-25")
    w.c.settle_payouts(w.brand, "legacy-25", export="e" * 64, lines=1)
    return (
        lambda: w.c.record_payment(
            w.brand, "legacy-25", rail="sepa", batch="B", payments=[(w.ana.actor, 1, None)]
        ),
        NotSettledError,
        "campaign legacy-25 was settled without a proposal (before proposals existed): its "
        "settled lines are not in the log, so no payment can be checked",
    )


# -- the claims rail ------------------------------------------------------------------------------


def _publish(w: World, amount: int = 25_000, claimants: int = 1, **kw: Any) -> Callable[[], Any]:
    fields = {"root": ROOT, "chain": 31337, "distributor": DISTRIBUTOR, "token": TOKEN,
              "decimals": 18} | kw  # fmt: skip
    return lambda: w.c.publish_claims(
        w.brand, CAMPAIGN, claimants=claimants, amount=amount, **fields
    )


def _claim(w: World, amount: int, **kw: Any) -> Callable[[], Any]:
    fields = {"batch": DISTRIBUTOR, "token": TOKEN, "decimals": 18} | kw
    return lambda: w.c.record_payment(
        w.brand, CAMPAIGN, rail="claims", tx=TX, payments=[(w.ben.actor, amount, ADDRESS)],
        **fields,
    )  # fmt: skip


@case("claims published before the settlement")
def _(w: World) -> Case:
    w.propose()
    return (
        _publish(w),
        NotSettledError,
        f"campaign {CAMPAIGN} is not settled: claims are published after PayoutsSettled",
    )


@case("claims published by someone else than the brand")
def _(w: World) -> Case:
    _settled(w)
    return (
        lambda: w.c.publish_claims(
            w.ana,
            CAMPAIGN,
            root=ROOT,
            chain=1,
            distributor=DISTRIBUTOR,
            token=TOKEN,
            decimals=18,
            claimants=1,
            amount=1,
        ),  # fmt: skip
        NotCampaignOwnerError,
        f"only the brand {w.brand.actor} of campaign {CAMPAIGN} may publish its claims; "
        f"{w.ana.actor} may not",
    )


@case("claims worth more than is owed")
def _(w: World) -> Case:
    _settled(w)
    _pay(w, (w.ben.actor, 25_000))()
    return (
        _publish(w, amount=75_001),
        OverpaymentError,
        f"campaign {CAMPAIGN}: the claim tree pays 75001 to 1 claimant(s), but 75000 is owed "
        f"to 1 payee(s)",
    )


@case("claims for more claimants than payees owed")
def _(w: World) -> Case:
    _settled(w)
    return (
        _publish(w, amount=2, claimants=3),
        OverpaymentError,
        f"campaign {CAMPAIGN}: the claim tree pays 2 to 3 claimant(s), but 100000 is owed to 2 "
        f"payee(s)",
    )


@case("a second claim tree")
def _(w: World) -> Case:
    _settled(w)
    _publish(w)()
    book = w.c.payout_book(CAMPAIGN)
    assert book.claims is not None
    return (
        _publish(w),
        ClaimsAlreadyPublishedError,
        f"campaign {CAMPAIGN} published its claims in {book.claims.id} (Distributor "
        f"{DISTRIBUTOR}): one claim tree per campaign",
    )


@case("claims with a Distributor address without its checksum")
def _(w: World) -> Case:
    _settled(w)
    return (
        _publish(w, distributor=DISTRIBUTOR.lower()),
        MalformedBodyError,
        "ClaimsPublished body: field 'distributor' must be an EIP-55 checksummed address",
    )


@case("claims with a root that is no hash")
def _(w: World) -> Case:
    _settled(w)
    return (
        _publish(w, root="0x1234"),
        MalformedBodyError,
        "ClaimsPublished body: field 'root' must be a Merkle root (0x + 64 lowercase hex), "
        "got '0x1234'",
    )


@case("a claims payment before the tree is published")
def _(w: World) -> Case:
    _settled(w)
    return (
        _claim(w, 1),
        NoClaimsPublishedError,
        f"campaign {CAMPAIGN} has no ClaimsPublished: a claims payment cites the Distributor "
        f"its brand published, so publish the deployed tree first",
    )


@case("a claims payment from another Distributor")
def _(w: World) -> Case:
    _settled(w)
    _publish(w)()
    published = w.c.payout_book(CAMPAIGN).claims
    assert published is not None
    return (
        _claim(w, 1, batch=ADDRESS),
        ClaimsMismatchError,
        f"campaign {CAMPAIGN}: a claims payment names Distributor {ADDRESS}, token {TOKEN}, 18 "
        f"decimals; ClaimsPublished {published.id} says {DISTRIBUTOR}, {TOKEN}, 18",
    )


@case("claims payments beyond the published tree")
def _(w: World) -> Case:
    _settled(w)
    _publish(w, amount=10_000)()
    _claim(w, 6_000)()
    return (
        _claim(w, 4_001),
        OverpaymentError,
        f"campaign {CAMPAIGN}: claims recorded would total 10001, more than the 10000 its "
        f"published claim tree holds",
    )


@case("an objection window longer than 90 days")
def _(w: World) -> Case:
    policy = {**DEFAULT_POLICY, "objection_window": 91 * 24 * 3600}
    return (
        lambda: w.c.open_campaign(
            w.brand,
            "long-wait",
            title="Slow",
            guidelines=GUIDELINES,
            starts_at=w.now,
            ends_at=w.now + timedelta(days=1),
            policy=policy,
        ),  # fmt: skip
        MalformedBodyError,
        "CampaignOpened body: field 'policy.objection_window' must be seconds from 0 to "
        "7776000 (90 days), got 7862400",
    )


def _ts(moment: Any) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.mark.parametrize("name", list(CASES))
def test_a_refused_payout_command_names_its_reason_and_writes_nothing(
    world: World, name: str
) -> None:
    assert_refused(world, CASES[name])


def test_a_campaign_opened_before_proposals_still_settles_directly(world: World) -> None:
    w = world
    legacy = {k: v for k, v in DEFAULT_POLICY.items() if k != "objection_window"}
    w.c.open_campaign(
        w.brand, "legacy-25", title="Old", guidelines=GUIDELINES, starts_at=w.now,
        ends_at=w.now + timedelta(days=1), pool=100, policy=legacy,
    )  # fmt: skip
    w.c.close_campaign(w.brand, "legacy-25")
    assert w.c.settle_payouts(w.brand, "legacy-25", export="e" * 64, lines=1).type == (
        "PayoutsSettled"
    )
    assert w.c.campaign("legacy-25").settled


def test_a_withdrawn_proposal_makes_way_for_new_amounts(world: World) -> None:
    w = world
    first = w.propose()
    w.c.withdraw_proposal(w.brand, CAMPAIGN, first, "recount")
    second = w.propose({w.ana.actor: 50_000, w.ben.actor: 50_000})
    w.settle()
    book = w.c.payout_book(CAMPAIGN)
    assert (book.withdrawn, book.settled) == ((first,), True)
    assert book.proposal is not None and book.proposal.id == second
    assert dict(book.lines or {}) == {w.ana.actor: 50_000, w.ben.actor: 50_000}


def test_a_window_of_zero_takes_no_objection_and_settles_at_once(world: World) -> None:
    w = world
    policy = {**DEFAULT_POLICY, "objection_window": 0}
    w.c.open_campaign(
        w.brand, "quick-26", title="Quick", guidelines=GUIDELINES, starts_at=w.now,
        ends_at=w.now + timedelta(days=1), pool=10, policy=policy,
    )  # fmt: skip
    w.c.close_campaign(w.brand, "quick-26")
    proposed = w.c.propose_payouts(
        w.brand, "quick-26", export="e" * 64, payees={w.ana.actor: 10}, at=w.now
    )
    with pytest.raises(ObjectionWindowClosedError):
        w.c.object_to_payouts(w.ana, "quick-26", proposed.ids["proposal"], "other", at=w.now)
    assert w.c.settle_payouts(w.brand, "quick-26", export="e" * 64, lines=1, at=w.now)


def test_payment_lines_are_built_once(world: World) -> None:
    """The builder writes ``to`` only for chain rails (the body the rules expect)."""
    env = commands.payment_recorded(
        world.brand, CAMPAIGN, rail="eth", batch="b", payments=[("m" * 43, 5, ADDRESS)],
        tx=TX, token=ADDRESS, decimals=6, seq=1, at=world.now,
    )  # fmt: skip
    assert env.body["payments"] == [{"member": "m" * 43, "amount": 5, "to": ADDRESS}]


def test_published_claims_are_in_the_book_and_claims_payments_count_against_them(
    world: World,
) -> None:
    w = world
    _settled(w)
    receipt = _publish(w, amount=25_000)()
    _claim(w, 25_000)()
    book = w.c.payout_book(CAMPAIGN)
    assert book.claims is not None and book.claims.id.endswith(f":{receipt.seq}")
    assert (book.claims.root, book.claims.distributor, book.claims.amount) == (
        ROOT, DISTRIBUTOR, 25_000,
    )  # fmt: skip
    assert book.claimed == 25_000 and book.owed(w.ben.actor) == 0
    assert book.claims.to_json()["claimants"] == 1
