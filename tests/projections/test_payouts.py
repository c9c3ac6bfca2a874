"""Splitting the pool: largest remainder, cap, minimum payout — and the sum is always the pool."""

from __future__ import annotations

from fractions import Fraction as F

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from projections.payouts import split_pool


def amounts(credits: dict[str, F], pool: int, **kw) -> dict[str, int]:
    return {line.member: line.amount for line in split_pool(credits, pool, **kw)}


def test_three_equal_payees_share_a_pool_that_does_not_divide_evenly() -> None:
    # 100 / 3 = 33.33…: one cent is left over; equal remainders and equal credit,
    # so the smallest member id gets it.
    assert amounts({"b": F(1), "a": F(1), "c": F(1)}, 100) == {"a": 34, "b": 33, "c": 33}


def test_the_leftover_cents_go_to_the_largest_remainders() -> None:
    # exact amounts 6.5, 2.8, 0.7 of 10 -> floors 6, 2, 0 and two leftover cents,
    # which go to the largest remainders 0.7 and 0.8: 6, 3, 1
    lines = split_pool({"x": F(65), "y": F(28), "z": F(7)}, 10)
    assert [(line.member, line.amount) for line in lines] == [("x", 6), ("y", 3), ("z", 1)]
    assert [line.exact for line in lines] == [F(13, 2), F(14, 5), F(7, 10)]
    assert [line.rounding for line in lines] == [F(-1, 2), F(1, 5), F(3, 10)]


def test_members_without_credit_are_not_payees() -> None:
    assert amounts({"a": F(0), "b": F(2)}, 50) == {"b": 50}
    assert split_pool({}, 50) == []
    assert split_pool({"a": F(0)}, 50) == []


def test_the_cap_redistributes_the_excess_to_the_others() -> None:
    # a alone would get 80 of 100; the cap is 1/2, so a gets 50 and the 30
    # excess goes to b and c in proportion to their credit (15 + 5 -> 3:1)
    lines = {x.member: x for x in split_pool({"a": F(80), "b": F(15), "c": F(5)}, 100, cap=F(1, 2))}
    assert {m: x.amount for m, x in lines.items()} == {"a": 50, "b": 38, "c": 12}
    assert lines["a"].capped and not lines["b"].capped
    assert lines["b"].exact == F(75, 2) and lines["b"].adjustment == F(45, 2)


def test_a_cap_no_one_can_meet_becomes_an_equal_split() -> None:
    # two payees cannot each take at most 1/4 of the pool; the cap is read as 1/2
    assert amounts({"a": F(9), "b": F(1)}, 1000, cap=F(1, 4)) == {"a": 500, "b": 500}


def test_below_the_minimum_payees_are_removed_smallest_first_and_their_money_shared() -> None:
    # exact amounts 70, 20, 6, 4 of 100 with a minimum of 10: the 4 goes first,
    # after which the 6 becomes 6.25, still below 10, so it goes too; 20 stays (23.x)
    credits = {"a": F(70), "b": F(20), "c": F(6), "d": F(4)}
    lines = {x.member: x for x in split_pool(credits, 100, min_payout=10)}
    assert {m: x.amount for m, x in lines.items()} == {"a": 78, "b": 22, "c": 0, "d": 0}
    assert lines["c"].below_minimum and lines["d"].below_minimum
    assert lines["a"].exact == F(700, 9)


def test_equal_credits_are_removed_together_by_the_minimum() -> None:
    # 3 x 3.33… are below 5; removing one would lift the others to 5, but equal
    # work is treated alike: all three go, and the big payee takes everything
    credits = {"a": F(90), "b": F(1, 3), "c": F(1, 3), "d": F(1, 3)}
    assert amounts(credits, 100, min_payout=5) == {"a": 100, "b": 0, "c": 0, "d": 0}


def test_a_pool_below_the_minimum_still_goes_to_the_top_payees() -> None:
    assert amounts({"a": F(2), "b": F(2), "c": F(1)}, 7, min_payout=50) == {
        "a": 4,
        "b": 3,
        "c": 0,
    }


def test_negative_inputs_are_refused() -> None:
    with pytest.raises(ValueError) as caught:
        split_pool({"a": F(1)}, -1)
    assert str(caught.value) == "the pool and the minimum payout must not be negative"
    with pytest.raises(ValueError) as caught:
        split_pool({"a": F(-1)}, 10)
    assert str(caught.value) == "credit must not be negative"


credits_strategy = st.dictionaries(
    st.text("abcdefghij", min_size=1, max_size=3),
    st.fractions(min_value=0, max_value=1000, max_denominator=50),
    min_size=1,
    max_size=25,
)


@settings(max_examples=300, deadline=None)
@given(
    credits=credits_strategy,
    pool=st.integers(0, 10**9),
    cap=st.none() | st.fractions(min_value=F(1, 100), max_value=1, max_denominator=100),
    min_payout=st.integers(0, 5000),
)
def test_payouts_always_sum_exactly_to_the_pool(credits, pool, cap, min_payout) -> None:
    lines = split_pool(credits, pool, cap=cap, min_payout=min_payout)
    payees = [line for line in lines if line.credit > 0]
    assert len(lines) == len(payees) == sum(1 for c in credits.values() if c > 0)
    if not payees:
        return
    assert sum(line.amount for line in lines) == pool
    assert sum(line.exact for line in lines) == pool
    assert all(line.amount >= 0 and abs(line.rounding) < 1 for line in lines)
    paid = [line for line in lines if not line.below_minimum]
    limit = max(cap, F(1, len(paid))) * pool if cap is not None else None
    for line in paid:
        if limit is not None:
            assert line.exact <= limit and line.amount <= limit + 1
        if min_payout and len(paid) < len(payees):  # the minimum removed someone
            assert line.exact >= min_payout or all(x.credit == line.credit for x in paid)
    for a in paid:  # more credit never pays less (beyond one unit of rounding)
        for b in paid:
            if a.credit > b.credit:
                assert a.amount >= b.amount - 1
            if a.credit == b.credit:
                assert abs(a.amount - b.amount) <= 1


@settings(max_examples=100, deadline=None)
@given(credits=credits_strategy, pool=st.integers(0, 10**6))
def test_the_split_does_not_depend_on_the_order_of_the_input(credits, pool) -> None:
    forward = split_pool(credits, pool, min_payout=3)
    backward = split_pool(dict(reversed(list(credits.items()))), pool, min_payout=3)
    assert forward == backward
