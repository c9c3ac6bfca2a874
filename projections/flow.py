"""cocred-fair v2: the flow of credit from each voter to each member, computed from scratch.

Everything here is exact (``Fraction`` and integers) and order-free: the inputs are
sorted before any number is decided, so the same facts give the same values on any
machine. The rules are stated in ``projections/RULES.md`` (v2, rules V1-V9); this
module computes them, ``fair_v2`` feeds it from a campaign's events.

The steps, for the counted votes of one campaign:

1. *Stacking cap* (V2): a voter's kinds on one contribution weigh
   ``min(contribution_cap, sum of kind weights)`` together.
2. *Weight budget* (V3): a voter whose capped weights sum to ``R`` has each weighed
   ``min(1, weight_budget / R)``, rounded down to a multiple of 1/4096.
3. *Routes* (V4): a unit of score on contribution ``x`` ends, through the remix
   shares, with ``route(x)[m]`` for each member ``m``: what ``x`` keeps goes to its
   authors, what it passes goes to its sources' routes. The routes of a contribution
   sum to 1 (or less when a source is excluded: that part stays with ``x``).
4. *Self-flow* (V4): the part ``route(x)[u]`` of u's vote on ``x`` would come back to
   ``u``: it is not counted.
5. *Flows* (V5): ``F[u][a]`` is what u's counted votes send to member ``a``.
6. *Circulation* (V5): the part ``min(F[u][a], F[a][u])`` of ``F[u][a]`` that ``a`` sends
   back to ``u`` is *circulating* (flows are measured after remix propagation, so a
   return through a remix counts). Counting only the excess over what a popular member
   gets by chance was measured and dropped: it let a ring of invited, popular accounts
   gain 1.56-1.64x in the demo. Returns
   through a third member were measured and dropped: in lively honest cores they made a
   quarter of a member's payout move.
7. *Standing* (V6): seeds are members the brand vouched for (``MemberInvited``), members
   with tenure (work in an earlier, closed campaign of the brand) and authors of work
   the brand accepted or reused. A vote counts as *independent* support when its voter
   is a seed and the flow is not circulating; everything else is *dependent*. When the
   campaign has no vouched or tenured member at all, every voter is a seed (there is
   nothing to stand on: see the known limits).
8. *Bound* (V7): per recipient: the dependent flow that reaches member ``m`` (over all
   votes and routes) counts at most ``dependent_bound`` times the independent flow that
   reaches ``m``; a vote's counted dependent part is the sum of its flows times their
   recipients' bounds, and a contribution's support is the sum over its votes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from fractions import Fraction

ZERO = Fraction(0)
ONE = Fraction(1)
GRID = 4096


@dataclass(slots=True)
class Contribution2:
    """What the flow computation needs of one contribution."""

    id: str
    position: int
    authors: tuple[tuple[str, int], ...]
    parents: tuple[tuple[str, Fraction], ...]
    excluded: bool = False
    reuses: int = 0
    endorsed: bool = False  # accepted by the brand's moderation, or reused


@dataclass(slots=True)
class VoteFlow:
    """How one voter's votes on one contribution were weighed (for explanations)."""

    voter: str
    contribution: str
    raw: int  # sum of the kind weights
    capped: int  # after the stacking cap
    budget: Fraction  # the voter's budget factor
    value: Fraction  # capped x budget
    self_part: Fraction  # route fraction that would come back to the voter
    independent: Fraction  # weight counted as independent support
    dependent: Fraction  # weight in the dependent part (before the bound)
    circulating: Fraction  # of which: circulating flow of a seed
    unstanding: Fraction  # of which: the voter is no seed
    bounded: Fraction = ZERO  # the dependent part counted after the bound (rule V7)


@dataclass(slots=True)
class FlowResult:
    """Scores, routes and credits of one campaign under v2."""

    routes: dict[str, dict[str, Fraction]] = field(default_factory=dict)
    independent: dict[str, Fraction] = field(default_factory=dict)
    dependent: dict[str, Fraction] = field(default_factory=dict)
    bound: dict[str, Fraction] = field(default_factory=dict)  # counted share of dependent
    member_bound: dict[str, Fraction] = field(default_factory=dict)  # per recipient (V7)
    member_independent: dict[str, Fraction] = field(default_factory=dict)
    member_dependent: dict[str, Fraction] = field(default_factory=dict)
    support: dict[str, Fraction] = field(default_factory=dict)
    score: dict[str, Fraction] = field(default_factory=dict)
    credit: dict[str, Fraction] = field(default_factory=dict)  # per member
    credit_remix: dict[str, Fraction] = field(default_factory=dict)
    contribution_credit: dict[str, Fraction] = field(default_factory=dict)
    keep: dict[str, Fraction] = field(default_factory=dict)
    budget: dict[str, Fraction] = field(default_factory=dict)
    seeds: frozenset[str] = frozenset()
    seedless: bool = True
    votes: dict[tuple[str, str], VoteFlow] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Params:
    """The numbers of a v2 policy that the flow uses."""

    weights: Mapping[str, int]
    reuse_weight: int
    support_threshold: int
    weight_budget: int
    contribution_cap: int
    dependent_bound: Fraction


def contribution_route(
    c: Contribution2, routes: Mapping[str, Mapping[str, Fraction]]
) -> tuple[dict[str, Fraction], Fraction]:
    """``route(c)`` and ``keep(c)``, given the routes of its sources (rule V4)."""
    live = [(p, s) for p, s in c.parents if p in routes]
    keep = ONE - sum((s for _, s in live), ZERO)
    route: dict[str, Fraction] = {}
    for author, percent in c.authors:
        route[author] = route.get(author, ZERO) + keep * percent / 100
    for parent, share in live:
        for member, part in routes[parent].items():
            route[member] = route.get(member, ZERO) + share * part
    return route, keep


def routes_of(contributions: Mapping[str, Contribution2]) -> tuple[dict, dict]:
    """``route(x)`` and ``keep(x)`` of every non-excluded contribution, in log order."""
    routes: dict[str, dict[str, Fraction]] = {}
    keeps: dict[str, Fraction] = {}
    for c in sorted(contributions.values(), key=lambda c: c.position):
        if not c.excluded:
            routes[c.id], keeps[c.id] = contribution_route(c, routes)
    return routes, keeps


def budget_factor(total: int, budget: int) -> Fraction:
    """A voter's budget factor (rule V3): ``min(1, budget / total)``, down to 1/4096."""
    if total <= budget:
        return ONE
    return Fraction(budget * GRID // total, GRID)


def weigh_vote(
    voter: str,
    cid: str,
    raw: int,
    weight: int,
    factor: Fraction,
    route: Mapping[str, Fraction],
    seed: bool,
    circulating: Callable[[str], Fraction],
    to_independent: dict[str, Fraction],
    to_dependent: dict[str, Fraction],
) -> tuple[VoteFlow, dict[str, Fraction]]:
    """One voter's capped weight on one contribution, split along its route (rules V4-V7):
    the vote's figures and its dependent flow to each recipient; what it sends each
    recipient is added to ``to_independent`` and ``to_dependent``. ``circulating(m)`` is the
    circulating fraction of the voter's flow to ``m`` (used for a seed only)."""
    value = weight * factor
    self_part = route.get(voter, ZERO)
    independent = circ = ZERO
    dependent_to: dict[str, Fraction] = {}
    for member, part in route.items():
        if member == voter:
            continue
        flow = value * part
        if seed:
            share = circulating(member)
            circ += flow * share
            independent += flow * (1 - share)
            to_independent[member] = to_independent.get(member, ZERO) + flow * (1 - share)
            flow *= share
        if flow:
            dependent_to[member] = flow
            to_dependent[member] = to_dependent.get(member, ZERO) + flow
    counted = value * (1 - self_part)
    unstanding = ZERO if seed else counted
    dependent = counted - independent
    vote = VoteFlow(
        voter, cid, raw, weight, factor, value, self_part, independent, dependent, circ, unstanding
    )
    return vote, dependent_to


def compute(
    params: Params,
    contributions: Mapping[str, Contribution2],
    votes: Mapping[str, Mapping[tuple[str, str], int]],
    vouched: Iterable[str],
    tenured: Iterable[str],
) -> FlowResult:
    """Every v2 number of one campaign (see the module docstring for the steps)."""
    result = FlowResult()
    routes, keeps = routes_of(contributions)
    result.routes, result.keep = routes, keeps
    # 1-2: stacking cap and weight budget
    capped: dict[str, dict[str, tuple[int, int]]] = {}
    for voter in sorted(votes):
        mine: dict[str, tuple[int, int]] = {}
        for (cid, _kind), weight in votes[voter].items():
            if cid not in routes:
                continue
            raw = mine.get(cid, (0, 0))[0] + weight
            mine[cid] = (raw, min(raw, params.contribution_cap))
        if mine:
            capped[voter] = mine
            total = sum(c for _, c in mine.values())
            result.budget[voter] = budget_factor(total, params.weight_budget)
    # 5: flows after remix propagation, without the self part
    flows: dict[str, dict[str, Fraction]] = {}
    for voter, mine in capped.items():
        out = flows.setdefault(voter, {})
        factor = result.budget[voter]
        for cid, (_, weight) in mine.items():
            value = weight * factor
            for member, part in routes[cid].items():
                if member != voter:
                    out[member] = out.get(member, ZERO) + value * part
    # 7: standing
    grounded = set(vouched) | set(tenured)
    result.seedless = not grounded
    if result.seedless:
        seeds = set(capped)
    else:
        seeds = set(grounded)
        for c in contributions.values():
            if c.endorsed and not c.excluded:
                seeds.update(author for author, _ in c.authors)
    result.seeds = frozenset(seeds)
    # 6: circulating fraction of each flow
    circulating: dict[tuple[str, str], Fraction] = {}
    for voter in sorted(flows):
        for member, amount in flows[voter].items():
            back = flows.get(member, {}).get(voter, ZERO)
            if back and amount:
                circulating[(voter, member)] = min(ONE, back / amount)
    # 7-8: independent and dependent flow of each vote to each recipient, then the bound
    for cid in routes:
        result.independent[cid] = ZERO
        result.dependent[cid] = ZERO
    parts: list[tuple[VoteFlow, dict[str, Fraction]]] = []
    to_independent: dict[str, Fraction] = {}
    to_dependent: dict[str, Fraction] = {}
    for voter, mine in capped.items():
        factor = result.budget[voter]
        seed = voter in seeds
        for cid, (raw, weight) in mine.items():
            vote, dependent_to = weigh_vote(
                voter, cid, raw, weight, factor, routes[cid], seed,
                lambda member: circulating.get((voter, member), ZERO),  # noqa: B023
                to_independent, to_dependent,
            )  # fmt: skip
            result.independent[cid] += vote.independent
            result.dependent[cid] += vote.dependent
            result.votes[(voter, cid)] = vote
            parts.append((vote, dependent_to))
    # the bound, per recipient: the dependent flow to a member counts at most rho x the
    # independent flow to that member (summed over all their work and remix routes)
    for member in sorted(to_dependent):
        limit = params.dependent_bound * to_independent.get(member, ZERO)
        dependent = to_dependent[member]
        result.member_bound[member] = limit / dependent if dependent > limit else ONE
        result.member_independent[member] = to_independent.get(member, ZERO)
        result.member_dependent[member] = dependent
    counted_dependent = dict.fromkeys(routes, ZERO)
    for vote, dependent_to in parts:
        vote.bounded = sum(
            (flow * result.member_bound[m] for m, flow in dependent_to.items()), ZERO
        )
        counted_dependent[vote.contribution] += vote.bounded
    for cid, c in contributions.items():
        if cid not in routes:
            result.support[cid] = result.score[cid] = ZERO
            result.bound[cid] = ONE
            continue
        dependent = result.dependent[cid]
        result.bound[cid] = counted_dependent[cid] / dependent if dependent else ONE
        support = result.independent[cid] + counted_dependent[cid]
        raw_score = support + params.reuse_weight * c.reuses
        result.support[cid] = support
        result.score[cid] = ZERO if raw_score < params.support_threshold else raw_score
    # credit: each score goes along its route
    for cid, score in result.score.items():
        if not score:
            continue
        for member, part in routes[cid].items():
            result.credit[member] = result.credit.get(member, ZERO) + score * part
    _contribution_credit(result, contributions, routes)
    return result


def _contribution_credit(
    result: FlowResult, contributions: Mapping[str, Contribution2], routes: dict
) -> None:
    """credit(x) = score(x) + sum over remixes d of share(d -> x) x credit(d) (as v1)."""
    children: dict[str, list[tuple[str, Fraction]]] = {}
    for c in contributions.values():
        if c.id in routes:
            for parent, share in c.parents:
                if parent in routes:
                    children.setdefault(parent, []).append((c.id, share))
    for c in sorted(contributions.values(), key=lambda c: -c.position):
        if c.id not in routes:
            result.contribution_credit[c.id] = ZERO
            continue
        credit = result.score[c.id]
        for child, share in children.get(c.id, ()):
            credit += share * result.contribution_credit[child]
        result.contribution_credit[c.id] = credit
        remix = credit - result.score[c.id]
        if remix:
            for author, percent in c.authors:
                result.credit_remix[author] = (
                    result.credit_remix.get(author, ZERO)
                    + result.keep[c.id] * remix * percent / 100
                )
