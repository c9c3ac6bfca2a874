"""The payout aggregate: proposal, objections, answers, settlement, payments.

After ``CampaignClosed`` the brand publishes ``PayoutsProposed``: the hash of the
canonical export (``projections/export.py``) and the payees with their amounts.
Each payee may object once (``PayoutObjected``) while the objection window of the
campaign's policy runs; the brand answers each objection once
(``ObjectionAnswered``). ``PayoutsSettled`` then needs the window to have ended,
every objection answered and none upheld, and must carry the proposal's hash: the
amounts cannot change unless the brand withdraws the proposal
(``PayoutsWithdrawn``) and proposes again. After settlement, ``PaymentRecorded``
records what a rail paid: only payees, never more than the settlement owes them.
``ClaimsPublished`` puts the on-chain claims rail's tree in the log (its root, the
Distributor paying it, the token, how much to how many): once per campaign, never more
than is owed, and every ``claims`` payment must cite that Distributor and stay within it.

A campaign whose policy has no ``objection_window`` (opened before the field
existed) may still settle without a proposal, as every log written before it did;
its settled lines are then not in the log, so no payment can be recorded for it.

A proposal with more payees than one body holds (``MAX_PAYEES``; the ledger caps a body at
63 KiB) comes in parts: ``PayoutsProposed`` says ``parts`` and carries the first payees,
each ``PayoutsProposalPart`` the next ones, in order. The proposal is complete with its
last part, and its objection window opens then; until it is complete nobody can object to
it and it cannot settle, but the brand may withdraw it.

The domain checks the shape and the arithmetic it can see; that the proposed
payees and hash are the ones the log's credit gives is the audit's step 5.

Longer than ~400 lines on purpose: it is one aggregate (one module per thing, as every
aggregate here), its value types and one ``check_*`` per event of the payout lifecycle, all
reading and writing the same ``PayoutBook``; the payment checks lean on the settlement's
lines, so apart they would import each other.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Any

from eth_utils import is_checksum_address

from domain.campaign import Campaign, campaign_of, require_owner
from domain.errors import (
    AlreadyAnsweredError,
    AlreadyObjectedError,
    AlreadyPaidError,
    AlreadySettledError,
    CampaignNotClosedError,
    ClaimsAlreadyPublishedError,
    ClaimsMismatchError,
    NoClaimsPublishedError,
    NoProposalError,
    NotPayeeError,
    NotSettledError,
    ObjectionWindowClosedError,
    ObjectionWindowOpenError,
    OverpaymentError,
    ProposalIncompleteError,
    ProposalMismatchError,
    ProposalOpenError,
    SettlementMismatchError,
    UnansweredObjectionError,
    UnknownObjectionError,
    UnknownProposalError,
    UpheldObjectionError,
)
from domain.state import Rule, State
from domain.values import (
    CONTRIBUTION_ID,
    CURRENCY,
    Fact,
    code,
    constants,
    contribution_id,
    event_time,
    expect_keys,
    integer,
    malformed,
    matching,
    one_of,
    sha256_hex,
    text,
)
from domain.vocabulary import (
    ANSWER_OUTCOMES,
    CHAIN_RAILS,
    CLAIMS,
    CLAIMS_PUBLISHED,
    OBJECTION_ANSWERED,
    OBJECTION_REASONS,
    PAYMENT_RAILS,
    PAYMENT_RECORDED,
    PAYOUT_OBJECTED,
    PAYOUTS_PROPOSAL_PART,
    PAYOUTS_PROPOSED,
    PAYOUTS_SETTLED,
    PAYOUTS_WITHDRAWN,
    UPHELD,
)
from ledger.envelope import format_ts
from ledger.keys import ID_PATTERN

REASONS = constants(*OBJECTION_REASONS)
OUTCOMES = constants(*ANSWER_OUTCOMES)
RAILS = constants(*PAYMENT_RAILS)
MAX_PAYEES = 1000  # payees in one body (the ledger caps bodies at 63 KiB); more go in parts
# Payments the writers (the CLI, the demo) put in one PaymentRecorded. A payment line is
# bigger than a payee's entry (member, amount and, on a chain, the address paid): 1,000 of
# them made a 68.5 kB body that the ledger refused, so a campaign of more than ~930 payees
# could never record its payments (found by bench/scale.py at 1M events). The rule still
# admits up to MAX_PAYEES lines, as records written before may hold; 400 chain lines stay
# under the cap (tests/domain/test_payout_parts.py).
PAYMENTS_PER_RECORD = 400
MAX_PARTS = 1000  # parts of one proposal: a million payees
MAX_BATCH_TEXT = 140
_AFTER_CLOSE = {PAYOUTS_SETTLED: "payouts are settled", PAYOUTS_PROPOSED: "payouts are proposed"}
_NOUN = {PAYOUTS_SETTLED: "settlement", PAYOUTS_PROPOSED: "proposal"}
_TX = re.compile(r"0x[0-9a-f]{64}")
_PROPOSED_FIELDS = frozenset({"policy", "total", "currency", "export", "lines", "payees"})
_PART_FIELDS = frozenset({"proposal", "part", "payees"})
_SETTLED_FIELDS = frozenset({"policy", "total", "currency", "export", "lines"})
_PAYMENT_FIELDS = frozenset({"rail", "batch", "tx", "token", "decimals", "payments"})
_CLAIMS_FIELDS = frozenset(
    {"root", "chain", "distributor", "token", "decimals", "claimants", "amount"}
)


@dataclass(frozen=True, slots=True)
class Answer:
    """The brand's answer to one objection."""

    outcome: str
    text: str | None
    at: str


@dataclass(frozen=True, slots=True)
class Objection:
    """A payee's objection to a proposal (id ``<member>:<seq>`` of its envelope)."""

    id: str
    member: str
    reason: str
    text: str | None
    at: str
    answer: Answer | None = None

    def to_json(self) -> dict[str, Any]:
        answer = self.answer
        return {
            "objection": self.id,
            "member": self.member,
            "reason": self.reason,
            "text": self.text,
            "at": self.at,
            "answer": None
            if answer is None
            else {"outcome": answer.outcome, "text": answer.text, "at": answer.at},
        }


@dataclass(frozen=True, slots=True)
class Proposal:
    """A published proposal (id ``<brand>:<seq>``), with its window and objections."""

    id: str
    export: str
    total: int
    payees: Mapping[str, int]
    proposed_at: datetime  # when its last part was (its window opens then)
    window: int  # seconds
    objections: tuple[Objection, ...] = ()
    lines: int = 0  # payees over all its parts
    parts: int = 1
    received: int = 1  # parts in the log so far

    @property
    def complete(self) -> bool:
        return self.received == self.parts

    @property
    def window_ends(self) -> datetime:
        return self.proposed_at + timedelta(seconds=self.window)

    def objection(self, objection: str) -> Objection | None:
        return next((o for o in self.objections if o.id == objection), None)

    def to_json(self) -> dict[str, Any]:
        return {
            "proposal": self.id,
            "export": self.export,
            "total": self.total,
            "payees": dict(self.payees),
            "lines": self.lines,
            "parts": self.parts,
            "complete": self.complete,
            "proposed_at": format_ts(self.proposed_at),
            "window_seconds": self.window,
            "window_ends": format_ts(self.window_ends),
            "objections": [o.to_json() for o in self.objections],
        }


@dataclass(frozen=True, slots=True)
class Payment:
    """One recorded payment batch (id ``<brand>:<seq>``)."""

    id: str
    rail: str
    batch: str
    tx: str | None
    token: str | None
    decimals: int | None
    lines: tuple[tuple[str, int, str | None], ...]  # (member, amount, recipient address)
    at: str

    def to_json(self) -> dict[str, Any]:
        return {
            "payment": self.id,
            "rail": self.rail,
            "batch": self.batch,
            "tx": self.tx,
            "token": self.token,
            "decimals": self.decimals,
            "at": self.at,
            "payments": [
                {"member": m, "amount": a, **({} if to is None else {"to": to})}
                for m, a, to in self.lines
            ],
        }


@dataclass(frozen=True, slots=True)
class ClaimsPublication:
    """A campaign's claim tree as deployed on chain (id ``<brand>:<seq>``): the root the
    Distributor holds, where it is, the ERC-20 it pays, and how much (minor units) to how
    many claimants. Who the claimants are and their addresses stay off the log."""

    id: str
    root: str
    chain: int
    distributor: str
    token: str
    decimals: int
    claimants: int
    amount: int
    at: str

    def to_json(self) -> dict[str, Any]:
        return {
            "claims_published": self.id,
            "root": self.root,
            "chain": self.chain,
            "distributor": self.distributor,
            "token": self.token,
            "decimals": self.decimals,
            "claimants": self.claimants,
            "amount": self.amount,
            "at": self.at,
        }


@dataclass(frozen=True, slots=True)
class PayoutBook:
    """Where a campaign's payouts stand: the open (or settled) proposal, the payments."""

    campaign: str
    proposal: Proposal | None = None
    withdrawn: tuple[str, ...] = ()
    settled: bool = False
    lines: Mapping[str, int] | None = None  # the settled payees (None: not settled, or legacy)
    paid: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))
    payments: tuple[Payment, ...] = ()
    claims: ClaimsPublication | None = None

    def owed(self, member: str) -> int:
        """What the settlement still owes ``member`` (0 for a non-payee)."""
        return (self.lines or {}).get(member, 0) - self.paid.get(member, 0)

    @property
    def claimed(self) -> int:
        """Minor units recorded as claimed from the published Distributor so far."""
        return sum(a for p in self.payments if p.rail == CLAIMS for _, a, _ in p.lines)


def book_of(state: State, campaign: str) -> PayoutBook:
    """The campaign's payout book (empty before any payout event)."""
    return state.payouts.get(campaign) or PayoutBook(campaign)


def _closed_campaign(state: State, ev: Fact, what: str) -> tuple[Campaign, PayoutBook]:
    campaign = campaign_of(state, ev)
    require_owner(campaign, ev, what)
    if not campaign.closed:
        raise CampaignNotClosedError(
            f"campaign {campaign.id} is still open: {_AFTER_CLOSE.get(ev.type, ev.type)} "
            f"after CampaignClosed",
            campaign=campaign.id,
        )
    return campaign, book_of(state, campaign.id)


def _not_settled(campaign: Campaign) -> None:
    if campaign.settled:
        raise AlreadySettledError(
            f"campaign {campaign.id} was settled already", campaign=campaign.id
        )


def _matches_campaign(ev: Fact, campaign: Campaign, body: Mapping[str, Any]) -> None:
    """``policy``, ``total`` and ``currency`` of a proposal or settlement are the campaign's."""
    policy = body["policy"]
    if not isinstance(policy, dict) or set(policy) != {"name", "version"}:
        raise malformed(ev, "field 'policy' must be {name, version}")
    total = integer(ev, "total", body["total"])
    currency = matching(ev, "currency", body["currency"], CURRENCY, "an ISO 4217 code")
    sha256_hex(ev, "export", body["export"])
    integer(ev, "lines", body["lines"])
    expected = {"name": campaign.policy.name, "version": campaign.policy.version}
    for what, got, want in (
        ("total", total, campaign.pool),
        ("currency", currency, campaign.currency),
        ("policy", policy, expected),
    ):
        if got != want:
            raise SettlementMismatchError(
                f"campaign {campaign.id}: {_NOUN[ev.type]} {what} {got!r} is not the "
                f"campaign's {want!r}",
                campaign=campaign.id,
            )


def _open_proposal(
    book: PayoutBook, campaign: str, named: Any, ev: Fact, *, whole: bool = True
) -> Proposal:
    """The open proposal, which ``named`` (its id) must be, and (``whole``) all in the log."""
    proposal = book.proposal
    if proposal is None or book.settled:
        raise NoProposalError(
            f"campaign {campaign} has no open payout proposal: {ev.type} is refused",
            campaign=campaign,
        )
    if named != proposal.id:
        raise UnknownProposalError(
            f"campaign {campaign}: {named!r} is not its open proposal {proposal.id}",
            campaign=campaign,
            proposal=str(named),
        )
    if whole and not proposal.complete:
        raise ProposalIncompleteError(
            f"campaign {campaign}: proposal {proposal.id} has {proposal.received} of its "
            f"{proposal.parts} parts; {ev.type} waits for the last one",
            campaign=campaign,
            proposal=proposal.id,
        )
    return proposal


# -- the brand proposes, withdraws, answers, settles ------------------------------------------


def _payees(ev: Fact, state: State, before: Mapping[str, int], *, least: int) -> dict[str, int]:
    """The body's payees (by member name, at least ``least``), none already in ``before``."""
    payees = ev.body["payees"]
    if not isinstance(payees, dict) or len(payees) > MAX_PAYEES:
        raise malformed(ev, f"field 'payees' must be an object of at most {MAX_PAYEES} payees")
    if len(payees) < least:
        raise malformed(ev, "field 'payees' must name a payee in every part of a proposal")
    named: dict[str, int] = {}
    for member, amount in payees.items():
        matching(ev, "payees", member, ID_PATTERN, "keyed by 43-character actor ids")
        named[state.name(member)] = integer(ev, f"payees.{member}", amount, minimum=1)
    if twice := sorted(set(named) & set(before)):
        raise malformed(ev, f"field 'payees' names {twice[0]}, a payee of an earlier part")
    return named


def _with_part(
    campaign: Campaign, proposal: Proposal, payees: Mapping[str, int], ev: Fact
) -> Proposal:
    """``proposal`` with one more part: the sums are checked when the last part is in, and
    before it only as far as the parts still to come can make them right."""
    merged = {**proposal.payees, **payees}
    received = proposal.received + 1
    left = proposal.parts - received  # parts still to come, each with >= 1 payee of >= 1
    count, amount = len(merged), sum(merged.values())
    if (
        (count != proposal.lines or amount != campaign.pool)
        if left == 0
        else (count + left > proposal.lines or amount + left > campaign.pool)
    ):
        so_far = "" if left == 0 else f" after part {received} of {proposal.parts}"
        raise SettlementMismatchError(
            f"campaign {campaign.id}: the proposal's {count} payees get {amount} in all"
            f"{so_far}; 'lines' says {proposal.lines} and the pool is {campaign.pool}",
            campaign=campaign.id,
        )
    return replace(
        proposal,
        payees=MappingProxyType(merged),
        received=received,
        proposed_at=event_time(ev),
    )


def check_proposed(state: State, ev: Fact) -> PayoutBook:
    in_parts = isinstance(ev.body, dict) and "parts" in ev.body
    body = expect_keys(ev, _PROPOSED_FIELDS | ({"parts"} if in_parts else set()))
    parts = integer(ev, "parts", body["parts"], minimum=2) if in_parts else 1
    if parts > MAX_PARTS:
        raise malformed(ev, f"field 'parts' must be 2-{MAX_PARTS} (leave it out for one)")
    payees = _payees(ev, state, {}, least=1 if in_parts else 0)
    campaign, book = _closed_campaign(state, ev, "propose its payouts")
    _not_settled(campaign)
    _matches_campaign(ev, campaign, body)
    empty = Proposal(
        id=contribution_id(state.name(ev.actor), ev.seq),
        export=body["export"],
        total=body["total"],
        payees=MappingProxyType({}),
        proposed_at=event_time(ev),
        window=campaign.policy.window_seconds,
        lines=body["lines"],
        parts=parts,
        received=0,
    )
    proposal = _with_part(campaign, empty, payees, ev)
    if book.proposal is not None:
        raise ProposalOpenError(
            f"campaign {campaign.id} has the open proposal {book.proposal.id}: withdraw it "
            f"before proposing again",
            campaign=campaign.id,
            proposal=book.proposal.id,
        )
    return replace(book, proposal=proposal)


def check_part(state: State, ev: Fact) -> PayoutBook:
    body = expect_keys(ev, _PART_FIELDS)
    part = integer(ev, "part", body["part"], minimum=2)
    campaign, book = _closed_campaign(state, ev, "propose its payouts")
    _not_settled(campaign)
    proposal = _open_proposal(book, campaign.id, body["proposal"], ev, whole=False)
    if proposal.complete or part != proposal.received + 1:
        raise ProposalIncompleteError(
            f"campaign {campaign.id}: proposal {proposal.id} has {proposal.received} of its "
            f"{proposal.parts} parts; part {part} is not the next one",
            campaign=campaign.id,
            proposal=proposal.id,
        )
    payees = _payees(ev, state, proposal.payees, least=1)
    return replace(book, proposal=_with_part(campaign, proposal, payees, ev))


def check_withdrawn(state: State, ev: Fact) -> PayoutBook:
    body = expect_keys(ev, {"proposal", "reason"})
    code(ev, "reason", body["reason"])
    campaign, book = _closed_campaign(state, ev, "withdraw its payout proposal")
    _not_settled(campaign)
    proposal = _open_proposal(book, campaign.id, body["proposal"], ev, whole=False)
    return replace(book, proposal=None, withdrawn=(*book.withdrawn, proposal.id))


def check_answered(state: State, ev: Fact) -> PayoutBook:
    body = expect_keys(ev, {"objection", "outcome", "text"})
    named = matching(ev, "objection", body["objection"], CONTRIBUTION_ID, "an objection id")
    outcome = one_of(ev, "outcome", body["outcome"], OUTCOMES)
    note = None if body["text"] is None else sha256_hex(ev, "text", body["text"])
    campaign, book = _closed_campaign(state, ev, "answer objections")
    proposal = book.proposal
    found = None if proposal is None else proposal.objection(named)
    if proposal is None or found is None:
        raise UnknownObjectionError(
            f"campaign {campaign.id}: no objection {named} to its open proposal",
            campaign=campaign.id,
            objection=named,
        )
    if found.answer is not None:
        raise AlreadyAnsweredError(
            f"campaign {campaign.id}: objection {named} was answered already "
            f"({found.answer.outcome})",
            campaign=campaign.id,
            objection=named,
        )
    answered = replace(found, answer=Answer(outcome, note, ev.ts))
    objections = tuple(answered if o.id == named else o for o in proposal.objections)
    return replace(book, proposal=replace(proposal, objections=objections))


def check_settled(state: State, ev: Fact) -> tuple[Campaign, PayoutBook]:
    body = expect_keys(ev, _SETTLED_FIELDS)
    campaign, book = _closed_campaign(state, ev, "settle its payouts")
    _not_settled(campaign)
    _matches_campaign(ev, campaign, body)
    settled = replace(campaign, settled=True)
    proposal = book.proposal
    if proposal is None:
        if campaign.policy.objection_window is not None:
            raise NoProposalError(
                f"campaign {campaign.id} has no open payout proposal: propose, let the "
                f"objection window run, answer every objection, then settle",
                campaign=campaign.id,
            )
        return settled, replace(book, settled=True)  # a policy from before proposals
    if not proposal.complete:
        raise ProposalIncompleteError(
            f"campaign {campaign.id}: proposal {proposal.id} has {proposal.received} of its "
            f"{proposal.parts} parts; it settles after its last part and its window",
            campaign=campaign.id,
            proposal=proposal.id,
        )
    if body["export"] != proposal.export or body["lines"] != len(proposal.payees):
        raise ProposalMismatchError(
            f"campaign {campaign.id}: the settlement's export {body['export']} "
            f"({body['lines']} lines) is not the proposal {proposal.id}'s {proposal.export} "
            f"({len(proposal.payees)} lines); withdraw and propose again to change it",
            campaign=campaign.id,
            proposal=proposal.id,
        )
    if event_time(ev) < proposal.window_ends:
        raise ObjectionWindowOpenError(
            f"campaign {campaign.id}: the objection window of proposal {proposal.id} runs "
            f"until {format_ts(proposal.window_ends)}; settling at {ev.ts} is too early",
            campaign=campaign.id,
            proposal=proposal.id,
        )
    for objection in proposal.objections:
        if objection.answer is None:
            raise UnansweredObjectionError(
                f"campaign {campaign.id}: objection {objection.id} by {objection.member} has "
                f"no answer yet",
                campaign=campaign.id,
                objection=objection.id,
            )
        if objection.answer.outcome == UPHELD:
            raise UpheldObjectionError(
                f"campaign {campaign.id}: objection {objection.id} was upheld; withdraw "
                f"proposal {proposal.id} and propose again",
                campaign=campaign.id,
                objection=objection.id,
            )
    return settled, replace(book, settled=True, lines=proposal.payees)


# -- payees object -----------------------------------------------------------------------------


def check_objected(state: State, ev: Fact) -> PayoutBook:
    body = expect_keys(ev, {"proposal", "reason", "text"})
    reason = one_of(ev, "reason", body["reason"], REASONS)
    note = None if body["text"] is None else sha256_hex(ev, "text", body["text"])
    campaign = campaign_of(state, ev)
    book = book_of(state, campaign.id)
    proposal = _open_proposal(book, campaign.id, body["proposal"], ev)
    member = state.name(ev.actor)
    if member not in proposal.payees:
        raise NotPayeeError(
            f"{member} is not a payee of proposal {proposal.id} in campaign {campaign.id}",
            campaign=campaign.id,
            member=member,
        )
    moment = event_time(ev)
    if not proposal.proposed_at <= moment < proposal.window_ends:
        raise ObjectionWindowClosedError(
            f"campaign {campaign.id}: proposal {proposal.id} takes objections from "
            f"{format_ts(proposal.proposed_at)} until {format_ts(proposal.window_ends)}; "
            f"{ev.ts} is outside",
            campaign=campaign.id,
            member=member,
        )
    if any(o.member == member for o in proposal.objections):
        raise AlreadyObjectedError(
            f"{member} objected to proposal {proposal.id} already", campaign=campaign.id,
            member=member,
        )  # fmt: skip
    objection = Objection(contribution_id(member, ev.seq), member, reason, note, ev.ts)
    return replace(book, proposal=replace(proposal, objections=(*proposal.objections, objection)))


# -- the brand records payments ----------------------------------------------------------------


def _payment_lines(ev: Fact, value: Any, chain: bool) -> tuple[tuple[str, int, str | None], ...]:
    if not isinstance(value, list) or not 1 <= len(value) <= MAX_PAYEES:
        raise malformed(ev, f"field 'payments' must be a list of 1-{MAX_PAYEES} payments")
    lines, seen = [], set()
    fields = {"member", "amount", "to"} if chain else {"member", "amount"}
    for item in value:
        if not isinstance(item, dict):
            raise malformed(ev, "each payment must be an object")
        entry = expect_keys(ev, fields, obj=item, where=" in a payment")
        member = matching(ev, "member", entry["member"], ID_PATTERN, "a 43-character actor id")
        if member in seen:
            raise malformed(ev, f"member {member} is paid twice in one payment")
        seen.add(member)
        to = entry.get("to")
        if chain and (type(to) is not str or not is_checksum_address(to)):
            raise malformed(ev, f"field 'to' of {member} must be an EIP-55 checksummed address")
        lines.append((member, integer(ev, "amount", entry["amount"], minimum=1), to))
    return tuple(lines)


def check_payment(state: State, ev: Fact) -> PayoutBook:
    body = expect_keys(ev, _PAYMENT_FIELDS)
    rail = one_of(ev, "rail", body["rail"], RAILS)
    batch = text(ev, "batch", body["batch"], MAX_BATCH_TEXT)
    chain = rail in CHAIN_RAILS
    tx, token, decimals = body["tx"], body["token"], body["decimals"]
    if chain:
        matching(ev, "tx", tx, _TX, "a transaction hash (0x + 64 hex)")
        if type(token) is not str or not is_checksum_address(token):
            raise malformed(ev, "field 'token' must be the EIP-55 address of the ERC-20 paid")
        if type(decimals) is not int or not 0 <= decimals <= 36:
            raise malformed(ev, "field 'decimals' must be the token's decimals (0-36)")
    elif (tx, token, decimals) != (None, None, None):
        raise malformed(ev, f"rail {rail} is not a chain: 'tx', 'token', 'decimals' are null")
    lines = _payment_lines(ev, body["payments"], chain)
    campaign, book = _closed_campaign(state, ev, "record payments")
    settled = _settled_lines(campaign, book, "payments are recorded")
    if rail == CLAIMS:
        _within_claims(campaign, book, ev, sum(a for _, a, _ in lines))
    paid = dict(book.paid)
    for member, amount, _ in lines:
        owed = settled.get(member)
        if owed is None:
            raise NotPayeeError(
                f"{member} is not a payee of campaign {campaign.id}'s settlement",
                campaign=campaign.id,
                member=member,
            )
        before = paid.get(member, 0)
        if before >= owed:
            raise AlreadyPaidError(
                f"{member} was paid {before} of {owed} already in campaign {campaign.id}",
                campaign=campaign.id,
                member=member,
            )
        if before + amount > owed:
            raise OverpaymentError(
                f"paying {member} {amount} would make {before + amount}, more than the "
                f"{owed} campaign {campaign.id} owes them",
                campaign=campaign.id,
                member=member,
            )
        paid[member] = before + amount
    payment = Payment(
        contribution_id(state.name(ev.actor), ev.seq), rail, batch, tx, token, decimals,
        lines, ev.ts,
    )  # fmt: skip
    return replace(book, paid=MappingProxyType(paid), payments=(*book.payments, payment))


def _settled_lines(campaign: Campaign, book: PayoutBook, what: str) -> Mapping[str, int]:
    """The settled lines in the log (``NotSettledError`` before, or for a legacy settlement)."""
    if not book.settled:
        raise NotSettledError(
            f"campaign {campaign.id} is not settled: {what} after PayoutsSettled",
            campaign=campaign.id,
        )
    if book.lines is None:
        raise NotSettledError(
            f"campaign {campaign.id} was settled without a proposal (before proposals "
            f"existed): its settled lines are not in the log, so no payment can be checked",
            campaign=campaign.id,
        )
    return book.lines


def _within_claims(campaign: Campaign, book: PayoutBook, ev: Fact, amount: int) -> None:
    """A ``claims`` payment cites the published Distributor and stays within its tree."""
    published = book.claims
    if published is None:
        raise NoClaimsPublishedError(
            f"campaign {campaign.id} has no ClaimsPublished: a claims payment cites the "
            f"Distributor its brand published, so publish the deployed tree first",
            campaign=campaign.id,
        )
    named = (ev.body["batch"], ev.body["token"], ev.body["decimals"])
    if named != (published.distributor, published.token, published.decimals):
        raise ClaimsMismatchError(
            f"campaign {campaign.id}: a claims payment names Distributor {named[0]}, token "
            f"{named[1]}, {named[2]} decimals; ClaimsPublished {published.id} says "
            f"{published.distributor}, {published.token}, {published.decimals}",
            campaign=campaign.id,
        )
    if book.claimed + amount > published.amount:
        raise OverpaymentError(
            f"campaign {campaign.id}: claims recorded would total {book.claimed + amount}, "
            f"more than the {published.amount} its published claim tree holds",
            campaign=campaign.id,
        )


def check_claims_published(state: State, ev: Fact) -> PayoutBook:
    body = expect_keys(ev, _CLAIMS_FIELDS)
    root = matching(ev, "root", body["root"], _TX, "a Merkle root (0x + 64 lowercase hex)")
    chain = integer(ev, "chain", body["chain"], minimum=1)
    for name in ("distributor", "token"):
        if type(body[name]) is not str or not is_checksum_address(body[name]):
            raise malformed(ev, f"field '{name}' must be an EIP-55 checksummed address")
    decimals = body["decimals"]
    if type(decimals) is not int or not 0 <= decimals <= 36:
        raise malformed(ev, "field 'decimals' must be the token's decimals (0-36)")
    claimants = integer(ev, "claimants", body["claimants"], minimum=1)
    amount = integer(ev, "amount", body["amount"], minimum=1)
    campaign, book = _closed_campaign(state, ev, "publish its claims")
    settled = _settled_lines(campaign, book, "claims are published")
    if book.claims is not None:
        raise ClaimsAlreadyPublishedError(
            f"campaign {campaign.id} published its claims in {book.claims.id} (Distributor "
            f"{book.claims.distributor}): one claim tree per campaign",
            campaign=campaign.id,
        )
    owed = [book.owed(m) for m in settled if book.owed(m) > 0]
    if claimants > len(owed) or amount > sum(owed):
        raise OverpaymentError(
            f"campaign {campaign.id}: the claim tree pays {amount} to {claimants} claimant(s), "
            f"but {sum(owed)} is owed to {len(owed)} payee(s)",
            campaign=campaign.id,
        )
    published = ClaimsPublication(
        contribution_id(state.name(ev.actor), ev.seq), root, chain, body["distributor"],
        body["token"], decimals, claimants, amount, ev.ts,
    )  # fmt: skip
    return replace(book, claims=published)


def store_book(state: State, ev: Fact, book: PayoutBook) -> None:
    state.put(state.payouts, book.campaign, book)


def store_settled(state: State, ev: Fact, checked: tuple[Campaign, PayoutBook]) -> None:
    campaign, book = checked
    state.put(state.campaigns, campaign.id, campaign)
    store_book(state, ev, book)


RULES = {
    PAYOUTS_PROPOSED: Rule(check_proposed, store_book),
    PAYOUTS_PROPOSAL_PART: Rule(check_part, store_book),
    PAYOUTS_WITHDRAWN: Rule(check_withdrawn, store_book),
    PAYOUT_OBJECTED: Rule(check_objected, store_book),
    OBJECTION_ANSWERED: Rule(check_answered, store_book),
    PAYOUTS_SETTLED: Rule(check_settled, store_settled),
    CLAIMS_PUBLISHED: Rule(check_claims_published, store_book),
    PAYMENT_RECORDED: Rule(check_payment, store_book),
}
