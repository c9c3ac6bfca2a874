"""Shares and gains in simulated worlds, under cocred-fair v1, v2, plain proportional and
PageRank (a reference point, in floating point: it decides nothing)."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from projections.baseline import plain_shares
from projections.campaign import CampaignState
from projections.payouts import split_pool
from tests.projections.sim.attacks import Attack
from tests.projections.sim.world import honest

METHODS = ("v1", "v2", "plain", "pagerank")


def fair_shares(state: CampaignState) -> dict[str, Fraction]:
    payable = state.require_scorer().payable()
    total = sum(payable.values(), Fraction(0))
    return {m: c / total for m, c in payable.items()} if total else {}


def pagerank_shares(state: CampaignState, damping: float = 0.85, rounds: int = 40) -> dict:
    """PageRank over members (voter -> author, by kind weight x percent)."""
    edges: dict[str, dict[str, float]] = {}
    nodes: set[str] = set()
    for c in state.contributions.values():
        for (voter, kind), _ in c.votes.items():
            w = state.weights.get(kind, 0)
            for author, percent in c.authors:
                out = edges.setdefault(voter, {})
                out[author] = out.get(author, 0.0) + w * percent / 100
                nodes.update((voter, author))
    if not nodes:
        return {}
    order = sorted(nodes)
    rank = dict.fromkeys(order, 1 / len(order))
    for _ in range(rounds):
        new = dict.fromkeys(order, (1 - damping) / len(order))
        dangling = sum(rank[n] for n in order if n not in edges)
        for n in order:
            new[n] += damping * dangling / len(order)
        for u, out in edges.items():
            total = sum(out.values())
            for v, w in out.items():
                new[v] += damping * rank[u] * w / total
        rank = new
    return rank


def shares(state: CampaignState, method: str) -> dict:
    if method in ("v1", "v2"):
        return fair_shares(state)
    if method == "plain":
        return plain_shares(state)
    return pagerank_shares(state)


@dataclass(frozen=True)
class Gain:
    with_attack: float
    without: float

    @property
    def gain(self) -> float:
        if not self.without:  # the entries earned nothing honestly: any share is a gain
            return 1.0 if not self.with_attack else float("inf")
        return self.with_attack / self.without


def attack_gains(shape: str, seed: int, attack: Attack) -> dict[str, Gain]:
    """The attackers' share with the attack and without it, for every method."""
    out: dict[str, Gain] = {}
    for version in (1, 2):
        world, voting = honest(shape, seed, version=version, prepare=attack.prepare)
        attack.strike(world, voting)
        group = attack.group()
        full = world.state()
        base = world.state(frozenset(range(attack.start, len(world.events))))
        methods = ("v1",) if version == 1 else ("v2", "plain", "pagerank")
        for method in methods:
            out[method] = Gain(_of(shares(full, method), group), _of(shares(base, method), group))
    return out


def _of(found: dict, group: set[str]) -> float:
    return float(sum(v for m, v in found.items() if m in group))


def payouts(state: CampaignState) -> dict[str, int]:
    scorer = state.require_scorer()
    lines = split_pool(scorer.payable(), state.total_pool)
    return {line.member: line.amount for line in lines}


def spearman(xs: list[float], ys: list[float]) -> float:
    def ranks(values: list[float]) -> list[float]:
        order = sorted(range(len(values)), key=lambda i: values[i])
        r = [0.0] * len(values)
        i = 0
        while i < len(order):
            j = i
            while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
                j += 1
            for k in range(i, j + 1):
                r[order[k]] = (i + j) / 2
            i = j + 1
        return r

    rx, ry = ranks(xs), ranks(ys)
    n = len(xs)
    mx, my = sum(rx) / n, sum(ry) / n
    cov = sum((a - mx) * (b - my) for a, b in zip(rx, ry, strict=True))
    vx = sum((a - mx) ** 2 for a in rx) ** 0.5
    vy = sum((b - my) ** 2 for b in ry) ** 0.5
    return cov / (vx * vy) if vx and vy else 0.0


@dataclass(frozen=True)
class Honest:
    rank_v1: float
    rank_v2: float
    max_diff: float  # largest |v2 - v1| / v1 among members paid >= 1 % of the pool under v1
    mean_diff: float  # pool-weighted mean relative difference
    paid: int  # members paid >= 1 % of the pool under v1
    outside: int  # of which: paid more than 10 % above or below their v1 payout under v2


def honest_outcome(shape: str, seed: int) -> Honest:
    """Rank correlation of piece credit with hidden quality, and v2 vs v1 payouts per member."""
    states = {}
    ranks = {}
    for version in (1, 2):
        world, _ = honest(shape, seed, version=version)
        state = world.state()
        states[version] = state
        scorer = state.require_scorer()
        pieces = sorted(world.quality)
        ranks[version] = spearman(
            [world.quality[c] for c in pieces], [float(scorer.nodes[c].credit) for c in pieces]
        )
    p1, p2 = payouts(states[1]), payouts(states[2])
    pool = states[1].total_pool
    big = [m for m, a in p1.items() if a >= pool // 100]
    diffs = [abs(p2.get(m, 0) - p1[m]) / p1[m] for m in big]
    weighted = sum(abs(p2.get(m, 0) - a) for m, a in p1.items()) / pool
    outside = sum(1 for d in diffs if d > 0.10)
    return Honest(ranks[1], ranks[2], max(diffs, default=0.0), weighted, len(big), outside)
