"""Splitting a pool of minor units by credit: cap, minimum payout, largest remainder.

The steps (RULES.md, rules 9-11), all exact:

1. *Shares.* Every payee (positive credit, not blocked) has share
   ``credit / total credit``; its *base* is ``pool x share``.
2. *Cap* (``per_person_cap``, a fraction of the pool). Water-filling: payees
   whose amount would exceed ``cap x pool`` get exactly that, and the excess is
   shared among the others in proportion to their credit, repeatedly, until
   nobody is above the cap. With ``n`` payees a cap below ``1/n`` cannot be met
   by anyone, so the effective cap is ``max(cap, 1/n)``.
3. *Minimum payout* (``min_payout``, minor units). While the smallest payees
   would get less than the minimum, they are removed, smallest credit first, and
   their amount goes to everyone left (through step 2 again). Payees with equal
   credit are always removed together (equal work, equal treatment). If even the
   largest payees fall below the minimum, they keep the whole pool between them
   (a pool smaller than the minimum is still paid out, never lost).
4. *Rounding.* Each remaining payee gets the floor of their exact amount; the
   minor units left over (fewer than the number of payees) go one each to the
   largest fractional remainders; ties go to the larger credit, then to the
   smaller member id (byte order of the actor id, which is a hash and so favours
   nobody in particular). The amounts add up to the pool exactly; a capped payee
   may end one minor unit above the exact cap.

Removing smallest-first and water-filling both only ever move money towards
payees who remain, so the amount of the smallest remaining payee grows with the
number removed; the number to remove is found by binary search over the groups
of equal credit, each probe O(n). The whole split is O(n log n).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction

ZERO = Fraction(0)


@dataclass(frozen=True, slots=True)
class PayoutLine:
    """One payee's figures, from credit to the amount paid."""

    member: str
    credit: Fraction
    share: Fraction  # credit / total credit
    base: Fraction  # pool x share, before cap and minimum
    exact: Fraction  # after cap and minimum (0 when removed by the minimum)
    amount: int  # after rounding: what is paid, in minor units
    capped: bool
    below_minimum: bool

    @property
    def adjustment(self) -> Fraction:
        """What the cap and the minimum moved: ``exact - base``."""
        return self.exact - self.base

    @property
    def rounding(self) -> Fraction:
        """What rounding added or took: ``amount - exact`` (between -1 and 1)."""
        return self.amount - self.exact


def _fill(
    group: list[tuple[str, Fraction]], pool: int, cap: Fraction | None
) -> tuple[dict[str, Fraction], set[str]]:
    """Exact amounts for ``group`` (sorted by credit, descending) under the cap."""
    total = sum((credit for _, credit in group), ZERO)
    if cap is None:
        return {member: pool * credit / total for member, credit in group}, set()
    limit = max(cap, Fraction(1, len(group))) * pool
    capped = 0
    rest = total
    while capped < len(group):
        credit = group[capped][1]
        if (pool - capped * limit) * credit / rest <= limit:
            break
        rest -= credit
        capped += 1
    amounts = {member: limit for member, _ in group[:capped]}
    if capped < len(group):
        remaining = pool - capped * limit
        amounts.update((member, remaining * credit / rest) for member, credit in group[capped:])
    return amounts, {member for member, _ in group[:capped]}


def split_pool(
    credits: Mapping[str, Fraction],
    pool: int,
    *,
    cap: Fraction | None = None,
    min_payout: int = 0,
) -> list[PayoutLine]:
    """Split ``pool`` among the members with positive credit; lines sorted by member.

    The amounts add up to ``pool`` whenever somebody has credit (see the module
    docstring for the exact rules). ``ValueError`` for a negative pool or credit.
    """
    if pool < 0 or min_payout < 0:
        raise ValueError("the pool and the minimum payout must not be negative")
    if any(credit < 0 for credit in credits.values()):
        raise ValueError("credit must not be negative")
    payees = sorted(
        ((m, c) for m, c in credits.items() if c > 0), key=lambda item: (-item[1], item[0])
    )
    if not payees:
        return []
    total = sum((credit for _, credit in payees), ZERO)
    # Group boundaries of equal credit, from the smallest: removing ``j`` groups keeps
    # payees[:keep[j]] (the list is sorted by credit, descending).
    keep = [len(payees)]
    for i in range(len(payees) - 1, 0, -1):
        if payees[i][1] != payees[i - 1][1]:
            keep.append(i)

    def smallest(j: int) -> Fraction:
        amounts, _ = _fill(payees[: keep[j]], pool, cap)
        return min(amounts.values())

    removed = 0
    if min_payout and pool:
        low, high = 0, len(keep) - 1
        if smallest(high) < min_payout:
            removed = high
        else:
            while low < high:
                middle = (low + high) // 2
                if smallest(middle) >= min_payout:
                    high = middle
                else:
                    low = middle + 1
            removed = low
    paid = payees[: keep[removed]]
    exact, capped = _fill(paid, pool, cap)
    amounts = {member: int(value) for member, value in exact.items()}  # floor: values >= 0
    leftover = pool - sum(amounts.values())
    order = sorted(paid, key=lambda item: (-(exact[item[0]] - amounts[item[0]]), -item[1], item[0]))
    for member, _ in order[:leftover]:
        amounts[member] += 1
    lines = [
        PayoutLine(
            member=member,
            credit=credit,
            share=credit / total,
            base=pool * credit / total,
            exact=exact.get(member, ZERO),
            amount=amounts.get(member, 0),
            capped=member in capped,
            below_minimum=member not in exact,
        )
        for member, credit in payees
    ]
    return sorted(lines, key=lambda line: line.member)
