"""A property of the payout rules: whatever payments a brand tries, what is accepted never
pays a payee more than the settlement owes, and the book's figures are the accepted sums."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from domain.errors import AlreadyPaidError, NotPayeeError, OverpaymentError
from domain.payouts import book_of
from domain.policy import DEFAULT_POLICY_V1
from domain.rules import handle
from domain.state import State
from domain.values import Recorded

BRAND = "b" * 43
PAYEES = {"p" * 43: 700, "q" * 43: 250, "r" * 43: 50}
STRANGER = "s" * 43
TS = "2026-06-01T00:00:00Z"
LATER = "2026-06-20T00:00:00Z"


def _settled_state() -> tuple[State, int]:
    state, seq = State(), 0

    def brand(type_: str, body: dict[str, Any], ts: str = TS) -> None:
        nonlocal seq
        seq += 1
        handle(state, Recorded(type_, BRAND, seq, ts, "c-1", body))

    brand(
        "CampaignOpened",
        {
            "title": "T", "guidelines": "0" * 64, "starts_at": "2026-01-01T00:00:00Z",
            "ends_at": "2026-05-01T00:00:00Z", "membership": "open", "currency": "EUR",
            "pool": 1000, "policy": dict(DEFAULT_POLICY_V1),
        },
    )  # fmt: skip
    brand("CampaignClosed", {})
    ref = {"name": "cocred-fair", "version": 1}
    common = {"policy": ref, "total": 1000, "currency": "EUR", "export": "e" * 64, "lines": 3}
    brand("PayoutsProposed", {**common, "payees": PAYEES})
    brand("PayoutsSettled", common, LATER)
    return state, seq


attempts = st.lists(
    st.lists(
        st.tuples(st.sampled_from([*PAYEES, STRANGER]), st.integers(1, 800)),
        min_size=1,
        max_size=3,
        unique_by=lambda line: line[0],
    ),
    max_size=12,
)


@settings(max_examples=150, deadline=None)
@given(attempts)
def test_accepted_payments_never_exceed_what_is_owed(batches: list[list[tuple[str, int]]]) -> None:
    state, seq = _settled_state()
    accepted: dict[str, int] = {}
    for lines in batches:
        seq += 1
        body = {
            "rail": "sepa", "batch": f"B{seq}", "tx": None, "token": None, "decimals": None,
            "payments": [{"member": m, "amount": a} for m, a in lines],
        }  # fmt: skip
        try:
            handle(state, Recorded("PaymentRecorded", BRAND, seq, LATER, "c-1", body))
        except (AlreadyPaidError, NotPayeeError, OverpaymentError):
            continue  # refused whole: nothing of the batch counts
        for member, amount in lines:
            accepted[member] = accepted.get(member, 0) + amount
    book = book_of(state, "c-1")
    assert dict(book.paid) == accepted
    assert all(accepted[m] <= PAYEES[m] for m in accepted)
    assert STRANGER not in accepted
    assert all(book.owed(m) == PAYEES[m] - accepted.get(m, 0) for m in PAYEES)
