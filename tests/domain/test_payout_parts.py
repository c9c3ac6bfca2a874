"""A proposal with more payees than one body holds goes in parts (``PayoutsProposed`` with
``parts``, then ``PayoutsProposalPart`` in order): complete with its last part, refused to
objections and settlement until then, resumed after a crash between two parts.

Found when ``cocred demo --members 3000`` stopped at its payout step: 1,608 payees in one
body of 79 kB, over the ledger's 63 KiB cap, so no big campaign could be paid. Here
``MAX_PAYEES`` is 1 for the services, so the world's three payees make three parts.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import orjson
import pytest

from domain import commands
from domain.errors import (
    MalformedBodyError,
    ProposalIncompleteError,
    ProposalOpenError,
    SettlementMismatchError,
)
from domain.vocabulary import PAYOUTS_PROPOSAL_PART, PAYOUTS_PROPOSED
from tests.domain.conftest import CAMPAIGN, World
from tests.domain.test_refusals import Case, assert_refused

EXPORT = "e" * 64


@pytest.fixture(autouse=True)
def one_payee_a_body(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("domain.payout_services.MAX_PAYEES", 1)


def payees(w: World) -> dict[str, int]:
    return {w.ana.actor: 50_000, w.ben.actor: 30_000, w.cy.actor: 20_000}


def first_part(w: World, *, days_ago: int = 8, **body: Any) -> str:
    """Close and append only the first of three parts (as a crash after it would leave)."""
    w.c.close_campaign(w.brand, CAMPAIGN)
    found = w.c.campaign(CAMPAIGN)
    fields: dict[str, Any] = {"lines": 3, "parts": 3, **body}
    receipt = w.c._do(
        w.brand, commands.payouts_proposed, CAMPAIGN, policy=found.policy.raw,
        total=found.pool, currency=found.currency, export=EXPORT,
        payees=fields.pop("payees", {w.ana.actor: 50_000}), **fields,
        at=w.now - timedelta(days=days_ago), ids={},
    )  # fmt: skip
    return f"{receipt.actor}:{receipt.seq}"


def part(w: World, proposal: str, number: int, payees: dict[str, int], days_ago: int = 8):
    return lambda: w.c._do(
        w.brand, commands.payouts_proposal_part, CAMPAIGN, proposal, number, payees,
        at=w.now - timedelta(days=days_ago), ids={},
    )  # fmt: skip


def bodies(w: World, start: int) -> list[tuple[str, dict[str, Any]]]:
    records = w.svc.ledger.store.read(start, 100)
    return [(r.type, orjson.loads(r.data)["body"]) for r in records]


def test_three_payees_go_in_three_parts_and_the_window_opens_with_the_last(w: World) -> None:
    w.c.close_campaign(w.brand, CAMPAIGN)
    start = w.size()
    at = w.now - timedelta(days=8)
    receipt = w.c.propose_payouts(w.brand, CAMPAIGN, export=EXPORT, payees=payees(w), at=at)
    proposal = receipt.ids["proposal"]
    assert proposal == f"{w.brand.actor}:{receipt.seq}"
    assert receipt.ids["parts"] == 3
    assert receipt.ids["positions"] == [start, start + 1, start + 2]
    written = bodies(w, start)
    assert [t for t, _ in written] == [PAYOUTS_PROPOSED, *[PAYOUTS_PROPOSAL_PART] * 2]
    assert (written[0][1]["parts"], written[0][1]["lines"]) == (3, 3)
    assert written[0][1]["payees"] == {w.ana.actor: 50_000}
    assert written[2][1] == {"proposal": proposal, "part": 3, "payees": {w.cy.actor: 20_000}}
    book = w.c.payout_book(CAMPAIGN)
    assert book.proposal is not None and book.proposal.complete
    assert dict(book.proposal.payees) == payees(w)
    assert book.proposal.to_json()["parts"] == 3
    w.settle(lines=3)  # the seven-day window ran from the last part, eight days ago
    assert w.c.payout_book(CAMPAIGN).lines == payees(w)


def test_one_body_of_payees_keeps_the_proposal_as_it_always_was(w: World) -> None:
    w.c.close_campaign(w.brand, CAMPAIGN)
    start = w.size()
    one = {w.ana.actor: 100_000}
    receipt = w.c.propose_payouts(w.brand, CAMPAIGN, export=EXPORT, payees=one)
    assert "parts" not in receipt.ids and "positions" not in receipt.ids
    [(kind, body)] = bodies(w, start)
    assert kind == PAYOUTS_PROPOSED and "parts" not in body


def test_a_crash_between_two_parts_is_resumed_by_proposing_again(w: World) -> None:
    proposal = first_part(w)
    start = w.size()
    at = w.now - timedelta(days=8)
    receipt = w.c.propose_payouts(w.brand, CAMPAIGN, export=EXPORT, payees=payees(w), at=at)
    assert receipt.ids["proposal"] == proposal, "the same proposal, not a second one"
    assert receipt.ids["positions"] == [start, start + 1]
    assert [b["part"] for _, b in bodies(w, start)] == [2, 3]
    assert dict(w.c.payout_book(CAMPAIGN).proposal.payees) == payees(w)


def test_an_incomplete_proposal_may_be_withdrawn_and_proposed_again(w: World) -> None:
    proposal = first_part(w)
    w.c.withdraw_proposal(w.brand, CAMPAIGN, proposal, "wrong-export")
    book = w.c.payout_book(CAMPAIGN)
    assert book.proposal is None and book.withdrawn == (proposal,)
    again = w.c.propose_payouts(w.brand, CAMPAIGN, export=EXPORT, payees=payees(w))
    assert again.ids["proposal"] != proposal
    assert w.c.payout_book(CAMPAIGN).proposal.complete


CASES: dict[str, Callable[[World], Case]] = {}


def case(name: str) -> Callable[[Callable[[World], Case]], Callable[[World], Case]]:
    def register(arrange: Callable[[World], Case]) -> Callable[[World], Case]:
        CASES[name] = arrange
        return arrange

    return register


@case("an objection before the last part")
def _(w: World) -> Case:
    proposal = first_part(w, days_ago=1)
    return (
        lambda: w.c.object_to_payouts(w.ana, CAMPAIGN, proposal, "wrong-amount"),
        ProposalIncompleteError,
        f"campaign {CAMPAIGN}: proposal {proposal} has 1 of its 3 parts; PayoutObjected waits "
        f"for the last one",
    )


@case("a settlement before the last part")
def _(w: World) -> Case:
    proposal = first_part(w)
    return (
        lambda: w.settle(lines=3),
        ProposalIncompleteError,
        f"campaign {CAMPAIGN}: proposal {proposal} has 1 of its 3 parts; it settles after its "
        f"last part and its window",
    )


@case("part 3 before part 2")
def _(w: World) -> Case:
    proposal = first_part(w)
    return (
        part(w, proposal, 3, {w.cy.actor: 20_000}),
        ProposalIncompleteError,
        f"campaign {CAMPAIGN}: proposal {proposal} has 1 of its 3 parts; part 3 is not the "
        f"next one",
    )


@case("a part after the last one")
def _(w: World) -> Case:
    proposal = first_part(w, parts=2, lines=2, payees={w.ana.actor: 70_000})
    part(w, proposal, 2, {w.ben.actor: 30_000})()
    return (
        part(w, proposal, 3, {w.cy.actor: 1}),
        ProposalIncompleteError,
        f"campaign {CAMPAIGN}: proposal {proposal} has 2 of its 2 parts; part 3 is not the "
        f"next one",
    )


@case("a payee named in two parts")
def _(w: World) -> Case:
    proposal = first_part(w)
    return (
        part(w, proposal, 2, {w.ana.actor: 30_000}),
        MalformedBodyError,
        f"{PAYOUTS_PROPOSAL_PART} body: field 'payees' names {w.ana.actor}, a payee of an "
        f"earlier part",
    )


@case("an empty part")
def _(w: World) -> Case:
    proposal = first_part(w)
    return (
        part(w, proposal, 2, {}),
        MalformedBodyError,
        f"{PAYOUTS_PROPOSAL_PART} body: field 'payees' must name a payee in every part of a "
        f"proposal",
    )


@case("a part that leaves too little for the parts still to come")
def _(w: World) -> Case:
    proposal = first_part(w)
    return (
        part(w, proposal, 2, {w.ben.actor: 50_000}),  # 100000 so far, one part to come
        SettlementMismatchError,
        f"campaign {CAMPAIGN}: the proposal's 2 payees get 100000 in all after part 2 of 3; "
        f"'lines' says 3 and the pool is 100000",
    )


@case("a last part whose sums are not the pool")
def _(w: World) -> Case:
    proposal = first_part(w)
    part(w, proposal, 2, {w.ben.actor: 30_000})()
    return (
        part(w, proposal, 3, {w.cy.actor: 10_000}),
        SettlementMismatchError,
        f"campaign {CAMPAIGN}: the proposal's 3 payees get 90000 in all; 'lines' says 3 and "
        f"the pool is 100000",
    )


@case("a part of a proposal that is not the open one")
def _(w: World) -> Case:
    first_part(w)
    other = f"{w.brand.actor}:999"
    from domain.errors import UnknownProposalError

    return (
        part(w, other, 2, {w.ben.actor: 30_000}),
        UnknownProposalError,
        f"campaign {CAMPAIGN}: {other!r} is not its open proposal {w.brand.actor}:"
        f"{w.c.payout_book(CAMPAIGN).proposal.id.rsplit(':', 1)[1]}",
    )


@case("parts: 1 spelled out")
def _(w: World) -> Case:
    w.c.close_campaign(w.brand, CAMPAIGN)
    found = w.c.campaign(CAMPAIGN)
    body = {
        "policy": {"name": found.policy.name, "version": found.policy.version},
        "total": found.pool, "currency": found.currency, "export": EXPORT, "lines": 1,
        "payees": {w.ana.actor: found.pool}, "parts": 1,
    }  # fmt: skip
    from ledger.envelope import sign_envelope

    def attempt() -> Any:
        seq = w.svc.ledger.next_seq(w.brand.actor)
        env = sign_envelope(w.brand, PAYOUTS_PROPOSED, body, seq=seq, campaign=CAMPAIGN)
        return w.c.gate.append(env)

    return (
        attempt,
        MalformedBodyError,
        f"{PAYOUTS_PROPOSED} body: field 'parts' must be an integer of at least 2",
    )


@case("proposing other payees while an incomplete proposal is open")
def _(w: World) -> Case:
    proposal = first_part(w)
    other = {w.ana.actor: 40_000, w.ben.actor: 40_000, w.cy.actor: 20_000}
    return (
        lambda: w.c.propose_payouts(w.brand, CAMPAIGN, export=EXPORT, payees=other),
        ProposalOpenError,
        f"campaign {CAMPAIGN} has the open proposal {proposal}: withdraw it before proposing again",
    )


@pytest.mark.parametrize("name", list(CASES))
def test_a_refused_part_names_its_reason_and_writes_nothing(w: World, name: str) -> None:
    assert_refused(w, CASES[name])


@pytest.fixture
def w(world: World) -> World:
    return world


def test_the_payments_a_writer_puts_in_one_record_fit_the_ledger_body_cap() -> None:
    """1,000 payment lines made a 68.5 kB PaymentRecorded that the ledger refused, so the
    demo at 1M events (and any campaign of more than ~930 payees) could not record its
    payments (found by bench/scale.py); the writers now put PAYMENTS_PER_RECORD in one,
    which fits even on a chain rail, with the longest amounts and the address paid."""
    from domain.payouts import MAX_PAYEES, PAYMENTS_PER_RECORD
    from ledger.canonical import canonical
    from ledger.limits import MAX_BODY_BYTES

    def body(lines: int) -> int:
        payment = {"member": "A" * 43, "amount": 10**15, "to": "0x" + "aB" * 20}
        return len(
            canonical(
                {
                    "rail": "ethereum",
                    "batch": "b" * 140,
                    "tx": "0x" + "f" * 64,
                    "token": "0x" + "Cd" * 20,
                    "decimals": 18,
                    "payments": [payment] * lines,
                }
            )
        )

    assert body(PAYMENTS_PER_RECORD) <= MAX_BODY_BYTES < body(MAX_PAYEES)
