"""What the pages show of a campaign's payouts: the proposal, its objection window, the
objections and answers, and (once settled) what was paid and what is still owed, and the
published claim tree of the on-chain claims rail (its Distributor, root, and how much of it
was claimed).

Built from the domain's payout book (``domain/payouts.py``); public like the log it comes
from. Why an owed payee is unpaid needs their private profile: only the brand's signed
``GET /campaigns/{c}/payouts/status`` says it.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from domain.payouts import PayoutBook
from ledger.envelope import format_ts


@dataclass(frozen=True, slots=True)
class PayoutPanel:
    """The payout section of the campaign page and of a member's page."""

    stage: str  # open | proposed | settled
    proposal: str | None
    window_ends: str | None
    window_open: bool
    arriving: str | None  # "2 of 5 parts": a proposal in parts not all in the log yet
    objections: list[dict[str, Any]]
    answered: int
    settled: int
    paid: int
    owed: int
    payments: list[dict[str, Any]]
    amount: int | None = None  # the member's amount in the proposal (a member's page)
    mine: dict[str, Any] | None = None  # the member's objection, with its answer
    member_paid: int = 0
    claims: dict[str, Any] | None = None  # the published claim tree, and what was claimed
    owed_erased: int = 0  # owed to erased payees: no rail can pay them, it stays owed
    erased_payees: int = 0


def payout_panel(
    book: PayoutBook, member: str | None = None, erased: Collection[str] = ()
) -> PayoutPanel:
    """The panel for ``book``; with ``member``, their amount, objection and payments too.

    ``erased``: the erased members (public: ``MemberErased`` is in the log), whose money no
    rail can pay and stays owed to them; why other owed payees are unpaid needs their
    private profiles (the brand's signed status)."""
    proposal = book.proposal
    objections = [o.to_json() for o in proposal.objections] if proposal else []
    incomplete = proposal is not None and not proposal.complete
    ends = proposal.window_ends if proposal and not incomplete else None
    lines = dict(book.lines or {})
    return PayoutPanel(
        stage="settled" if book.settled else "proposed" if proposal is not None else "open",
        proposal=proposal.id if proposal else None,
        window_ends=format_ts(ends) if ends else None,
        window_open=ends is not None and not book.settled and datetime.now(UTC) < ends,
        arriving=(
            f"{proposal.received} of {proposal.parts} parts"
            if proposal is not None and not proposal.complete
            else None
        ),
        objections=objections,
        answered=sum(1 for o in objections if o["answer"] is not None),
        settled=sum(lines.values()),
        paid=sum(book.paid.values()),
        owed=sum(book.owed(m) for m in lines),
        payments=[
            {
                "rail": p.rail,
                "batch": p.batch,
                "tx": p.tx,
                "at": p.at,
                "payees": len(p.lines),
                "amount": sum(a for _, a, _ in p.lines),
            }
            for p in book.payments
        ],
        amount=proposal.payees.get(member) if proposal and member else None,
        mine=next((o for o in objections if o["member"] == member), None),
        member_paid=book.paid.get(member, 0) if member else 0,
        claims=None if book.claims is None else book.claims.to_json() | {"claimed": book.claimed},
        owed_erased=sum(book.owed(m) for m in lines if m in erased),
        erased_payees=sum(1 for m in lines if m in erased and book.owed(m) > 0),
    )
