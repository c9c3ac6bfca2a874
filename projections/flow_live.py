"""cocred-fair v2, kept up to date: the numbers of ``flow.compute`` after each vote, in
time that depends on the voters and members the vote touches, not on the campaign's size.

``flow.compute`` is the rule as written (RULES.md, v2): it recomputes a campaign from its
facts. ``LiveFlow`` holds the same ``FlowResult`` and the sums it is made of, and updates
them when votes change or contributions arrive; every number is an exact ``Fraction``, so
taking a voter's old part out of a sum and putting the new part in gives the very value a
recompute gives (tests/projections/test_flow_live.py checks it against ``compute`` after
random sequences of facts). What one changed voter ``u`` costs:

- ``u``'s capped weights, budget and flows (rules V2-V5): O(u's votes x route size);
- the seeds whose flow to ``u`` circulates through ``u`` (V5: the circulating part of
  F[m][u] depends on F[u][m]): each of their parts again, O(their votes x route size);
- the bound (V7) of each member those parts reach, and the votes and contributions whose
  dependent flow reaches a member whose bound moved;
- the score of each contribution whose support moved, the credit its route gives, and the
  contribution credit of its remix ancestors.

Facts that are not local start again from scratch (``rebuild``): a contribution excluded
or reinstated (routes change), the brand's vouch, acceptance or reuse (standing changes
every vote of the new seed), tenure. They are the brand's acts, few beside the votes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from fractions import Fraction

from projections.flow import (
    ONE,
    ZERO,
    Contribution2,
    FlowResult,
    Params,
    VoteFlow,
    budget_factor,
    contribution_route,
    weigh_vote,
)


@dataclass(slots=True)
class _VoterPart:
    """What one voter's counted votes add to the campaign's sums."""

    votes: dict[str, tuple[VoteFlow, dict[str, Fraction]]] = field(default_factory=dict)
    to_independent: dict[str, Fraction] = field(default_factory=dict)
    to_dependent: dict[str, Fraction] = field(default_factory=dict)


def _add(sums: dict[str, Fraction], key: str, value: Fraction) -> None:
    total = sums.get(key, ZERO) + value
    if total:
        sums[key] = total
    else:
        sums.pop(key, None)


class LiveFlow:
    """The v2 numbers of one campaign, updated vote by vote (see the module docstring)."""

    def __init__(self, params: Params) -> None:
        self.params = params
        self.votes: Mapping[str, Mapping[tuple[str, str], int]] = {}
        self.changed_contributions: set[str] = set()
        self.changed_members: set[str] = set()
        self._reset()

    def _reset(self) -> None:
        self.result = FlowResult()
        self.contributions: dict[str, Contribution2] = {}
        self.children: dict[str, list[tuple[str, Fraction]]] = {}  # every remix link
        self.cast_on: dict[str, set[str]] = {}  # cid -> voters with votes on it, counted or not
        self.cast: dict[str, set[str]] = {}  # voter -> the cids of their votes
        self.endorsed: dict[str, int] = {}  # member -> endorsed, counted works they author
        self.grounded: frozenset[str] = frozenset()
        self.capped: dict[str, dict[str, tuple[int, int]]] = {}
        self.flows: dict[str, dict[str, Fraction]] = {}
        self.parts: dict[str, _VoterPart] = {}
        self.to_independent: dict[str, Fraction] = {}
        self.to_dependent: dict[str, Fraction] = {}
        self.dependent_to: dict[str, dict[str, Fraction]] = {}  # cid -> member -> flow
        self.voters_to: dict[str, set[tuple[str, str]]] = {}  # member -> (voter, cid) votes
        self.remix: dict[str, Fraction] = {}

    # -- from scratch ----------------------------------------------------------------------

    def rebuild(
        self,
        contributions: Mapping[str, Contribution2],
        votes: Mapping[str, Mapping[tuple[str, str], int]],
        vouched: Iterable[str],
        tenured: Iterable[str],
    ) -> None:
        """Every number again from the facts (the same values as ``flow.compute``)."""
        before = set(self.result.credit) | set(self.result.credit_remix)
        self._reset()
        self.votes = votes
        self.grounded = frozenset(vouched) | frozenset(tenured)
        result = self.result
        result.seedless = not self.grounded
        for c in sorted(contributions.values(), key=lambda c: c.position):
            self._place(c)
        for voter in sorted(votes):
            self._weigh(voter)
        result.seeds = self._seeds()
        fresh: set[tuple[str, str]] = set()
        for voter in sorted(self.capped):
            self._count(voter, set(), set(), fresh)
        self._settle(set(self.to_dependent), set(result.routes), fresh)
        self.changed_contributions |= set(contributions)
        self.changed_members |= before | set(result.credit) | set(result.credit_remix)

    def _place(self, c: Contribution2) -> None:
        """A contribution's route, keep, children link and zero sums (rule V4)."""
        result = self.result
        self.contributions[c.id] = c
        self.changed_contributions.add(c.id)
        result.support[c.id] = result.score[c.id] = ZERO
        result.bound[c.id] = ONE
        result.contribution_credit[c.id] = ZERO
        for parent, share in c.parents:
            self.children.setdefault(parent, []).append((c.id, share))
        self._endorse(c, 1)
        if c.excluded:
            return
        self._route(c)

    def _endorse(self, c: Contribution2, sign: int) -> None:
        if c.endorsed and not c.excluded:
            for author, _ in c.authors:
                self.endorsed[author] = self.endorsed.get(author, 0) + sign
                if not self.endorsed[author]:
                    del self.endorsed[author]

    def _route(self, c: Contribution2) -> None:
        result = self.result
        result.routes[c.id], result.keep[c.id] = contribution_route(c, result.routes)
        result.independent[c.id] = result.dependent[c.id] = ZERO
        self.dependent_to[c.id] = {}
        self.remix[c.id] = ZERO

    def _seeds(self) -> frozenset[str]:
        if self.result.seedless:
            return frozenset(self.capped)
        return self.grounded | frozenset(self.endorsed)

    # -- changes ---------------------------------------------------------------------------

    def add_contribution(self, c: Contribution2) -> None:
        """A new contribution (nobody has voted on it yet; its sources came before it)."""
        self._place(c)
        self.voters_changed((), cids={c.id})

    def contribution_changed(self, c: Contribution2) -> None:
        """A contribution was excluded or reinstated, endorsed or not, reused again."""
        old = self.contributions[c.id]
        if old.excluded == c.excluded:
            self._endorse(old, -1)
            self._endorse(c, 1)
            self.contributions[c.id] = c
            self.voters_changed((), cids={c.id})
            return
        self._reroute(old, c)

    def grounded_changed(self, vouched: Iterable[str], tenured: Iterable[str]) -> None:
        """The brand vouched for a member, or tenure changed (rule V6)."""
        grounded = frozenset(vouched) | frozenset(tenured)
        if bool(grounded) != bool(self.grounded):  # seedless or not: every voter may change
            self.rebuild(dict(self.contributions), self.votes, grounded, ())
        else:
            self.grounded = grounded
            self.voters_changed(())

    def voters_changed(
        self,
        voters: Iterable[str],
        members: set[str] | None = None,
        cids: set[str] | None = None,
        moved: set[str] | None = None,
    ) -> None:
        """These voters' counted votes changed (``votes`` already holds the new ones); then
        the seeds, and what the change moves. ``members`` and ``cids`` are bounds and
        contributions to settle too, ``moved`` contributions whose credit is due again."""
        changed = set(voters)
        result = self.result
        members = set() if members is None else members
        cids = set() if cids is None else cids
        touched: set[str] = set()
        for voter in changed:
            touched.update(self.flows.get(voter, ()))
            self._weigh(voter)
            touched.update(self.flows.get(voter, ()))
        seeds = self._seeds()
        changed |= (seeds ^ result.seeds) & set(self.capped)
        result.seeds = seeds
        # a seed's flow to a changed voter circulates by what that voter sends back (V5)
        again = set(changed)
        for member in touched - changed:
            flows = self.flows.get(member)
            if flows and member in seeds and not changed.isdisjoint(flows):
                again.add(member)
        fresh: set[tuple[str, str]] = set()
        for voter in sorted(again):
            old = self.parts.get(voter)
            if old is not None:
                self._uncount(voter, old, members, cids)
            self._count(voter, members, cids, fresh)
        self._settle(members, cids, fresh, moved or set())

    def _reroute(self, old: Contribution2, new: Contribution2) -> None:
        """Excluded or reinstated: the routes of the contribution and of every remix built
        on it change, and so does every vote on them."""
        result = self.result
        order = [new.id]
        for cid in order:
            order.extend(child for child, _ in self.children.get(cid, ()) if child not in order)
        order.sort(key=lambda cid: self.contributions[cid].position)
        voters = sorted({v for cid in order for v in self.cast_on.get(cid, ())})
        members: set[str] = set()
        cids: set[str] = set()
        for voter in voters:  # their parts were counted along the old routes
            if voter in self.parts:
                self._uncount(voter, self.parts[voter], members, cids)
        for cid in order:  # what the old routes credited
            self._unroute(cid)
        self._endorse(old, -1)
        self._endorse(new, 1)
        self.contributions[new.id] = new
        for cid in order:
            c = self.contributions[cid]
            if not c.excluded:
                self._route(c)
            cids.add(cid)
        moved = set(order)
        for cid in order:
            moved.update(p for p, _ in self.contributions[cid].parents if p in result.routes)
        self.voters_changed(voters, members, cids, moved)

    def _unroute(self, cid: str) -> None:
        """Take back what a contribution's score and remix credit gave along its route."""
        result = self.result
        route = result.routes.pop(cid, None)
        if route is None:
            return
        score = result.score[cid]
        for member, part in route.items():
            if score:
                _add(result.credit, member, -score * part)
            self.changed_members.add(member)
        remix, keep = self.remix.pop(cid), result.keep.pop(cid)
        if remix:
            for author, percent in self.contributions[cid].authors:
                _add(result.credit_remix, author, -keep * remix * percent / 100)
        for table in (result.independent, result.dependent, self.dependent_to):
            del table[cid]
        result.support[cid] = result.score[cid] = ZERO
        result.bound[cid] = ONE
        result.contribution_credit[cid] = ZERO
        self.changed_contributions.add(cid)

    # -- one voter ---------------------------------------------------------------------------

    def _weigh(self, voter: str) -> None:
        """The voter's capped weights, budget and flows (rules V2-V5)."""
        routes, params, result = self.result.routes, self.params, self.result
        mine: dict[str, tuple[int, int]] = {}
        votes = self.votes.get(voter, {})
        cast = {cid for cid, _ in votes}
        for cid in self.cast.get(voter, set()) - cast:
            self.cast_on[cid].discard(voter)
        for cid in cast:
            self.cast_on.setdefault(cid, set()).add(voter)
        if cast:
            self.cast[voter] = cast
        else:
            self.cast.pop(voter, None)
        for (cid, _kind), weight in votes.items():
            if cid not in routes:
                continue
            raw = mine.get(cid, (0, 0))[0] + weight
            mine[cid] = (raw, min(raw, params.contribution_cap))
        if not mine:
            self.capped.pop(voter, None)
            self.flows.pop(voter, None)
            result.budget.pop(voter, None)
            return
        self.capped[voter] = mine
        factor = budget_factor(sum(c for _, c in mine.values()), params.weight_budget)
        result.budget[voter] = factor
        out: dict[str, Fraction] = {}
        for cid, (_, weight) in mine.items():
            value = weight * factor
            for member, part in routes[cid].items():
                if member != voter:
                    out[member] = out.get(member, ZERO) + value * part
        self.flows[voter] = out

    def _circulating(self, voter: str, member: str) -> Fraction:
        amount = self.flows[voter].get(member, ZERO)
        back = self.flows.get(member, {}).get(voter, ZERO)
        if not back or not amount:
            return ZERO
        return min(ONE, back / amount)

    def _count(
        self, voter: str, members: set[str], cids: set[str], fresh: set[tuple[str, str]]
    ) -> None:
        """Add the voter's part (rules V6-V7's inputs) to the sums."""
        mine = self.capped.get(voter)
        if mine is None:
            self.parts.pop(voter, None)
            return
        result = self.result
        factor = result.budget[voter]
        seed = voter in result.seeds
        part = _VoterPart()
        for cid, (raw, weight) in mine.items():
            vote, dependent_to = weigh_vote(
                voter, cid, raw, weight, factor, result.routes[cid], seed,
                lambda member: self._circulating(voter, member),
                part.to_independent, part.to_dependent,
            )  # fmt: skip
            part.votes[cid] = (vote, dependent_to)
            result.votes[(voter, cid)] = vote
            result.independent[cid] += vote.independent
            result.dependent[cid] += vote.dependent
            flows_of = self.dependent_to[cid]
            for member, flow in dependent_to.items():
                _add(flows_of, member, flow)
                self.voters_to.setdefault(member, set()).add((voter, cid))
            cids.add(cid)
            fresh.add((voter, cid))
        for member, value in part.to_independent.items():
            self.to_independent[member] = self.to_independent.get(member, ZERO) + value
        for member, value in part.to_dependent.items():
            _add(self.to_dependent, member, value)
        members.update(part.to_independent, part.to_dependent)
        self.parts[voter] = part

    def _uncount(self, voter: str, part: _VoterPart, members: set[str], cids: set[str]) -> None:
        """Take the voter's part out of the sums."""
        result = self.result
        for cid, (vote, dependent_to) in part.votes.items():
            del result.votes[(voter, cid)]
            result.independent[cid] -= vote.independent
            result.dependent[cid] -= vote.dependent
            flows_of = self.dependent_to[cid]
            for member, flow in dependent_to.items():
                _add(flows_of, member, -flow)
                self.voters_to[member].discard((voter, cid))
            cids.add(cid)
        for member, value in part.to_independent.items():
            self.to_independent[member] -= value
        for member, value in part.to_dependent.items():
            _add(self.to_dependent, member, -value)
        members.update(part.to_independent, part.to_dependent)
        del self.parts[voter]

    # -- the bound, scores and credit --------------------------------------------------------

    def _settle(
        self,
        members: set[str],
        cids: set[str],
        fresh: set[tuple[str, str]],
        moved: set[str] | None = None,
    ) -> None:
        """Bounds of ``members``, then what depends on them: the counted dependent part of
        the votes that reach a member whose bound moved (and of the ``fresh`` votes), the
        support and score of ``cids`` and of the contributions those votes are on, the
        credit that a moved score sends along its route."""
        result, params = self.result, self.params
        stale = set(fresh)
        for member in members:
            old = result.member_bound.get(member)
            dependent = self.to_dependent.get(member)
            if dependent is None:
                result.member_bound.pop(member, None)
                result.member_independent.pop(member, None)
                result.member_dependent.pop(member, None)
                continue
            independent = self.to_independent.get(member, ZERO)
            limit = params.dependent_bound * independent
            bound = limit / dependent if dependent > limit else ONE
            result.member_bound[member] = bound
            result.member_independent[member] = independent
            result.member_dependent[member] = dependent
            if bound != old:
                stale.update(self.voters_to.get(member, ()))
        for voter, cid in stale:
            result.votes[(voter, cid)].bounded = self._bounded(voter, cid)
            cids.add(cid)
        scored: dict[str, Fraction] = {}
        for cid in cids:
            if cid not in result.routes:
                self.changed_contributions.add(cid)
                continue
            counted = sum(
                (flow * result.member_bound[m] for m, flow in self.dependent_to[cid].items()),
                ZERO,
            )
            dependent = result.dependent[cid]
            result.bound[cid] = counted / dependent if dependent else ONE
            support = result.independent[cid] + counted
            raw_score = support + params.reuse_weight * self.contributions[cid].reuses
            result.support[cid] = support
            score = ZERO if raw_score < params.support_threshold else raw_score
            if score != result.score[cid]:
                scored[cid] = score - result.score[cid]
                result.score[cid] = score
            self.changed_contributions.add(cid)
        for cid, delta in scored.items():
            for member, part in result.routes[cid].items():
                _add(result.credit, member, delta * part)
                self.changed_members.add(member)
        self._contribution_credit(set(scored) | (moved or set()))

    def _bounded(self, voter: str, cid: str) -> Fraction:
        _, dependent_to = self.parts[voter].votes[cid]
        bounds = self.result.member_bound
        return sum((flow * bounds[m] for m, flow in dependent_to.items()), ZERO)

    def _contribution_credit(self, start: set[str]) -> None:
        """credit(x) = score(x) + sum over remixes d of share(d -> x) x credit(d), for the
        contributions whose score moved (or that were rerouted) and their sources, latest
        first."""
        result = self.result
        due = {cid for cid in start if cid in result.routes}
        frontier = list(due)
        while frontier:
            c = self.contributions[frontier.pop()]
            for parent, _ in c.parents:
                if parent in result.routes and parent not in due:
                    due.add(parent)
                    frontier.append(parent)
        for cid in sorted(due, key=lambda cid: -self.contributions[cid].position):
            credit = result.score[cid]
            for child, share in self.children.get(cid, ()):
                if child in result.routes:
                    credit += share * result.contribution_credit[child]
            if credit != result.contribution_credit[cid]:
                result.contribution_credit[cid] = credit
                self.changed_contributions.add(cid)
            remix = credit - result.score[cid]
            delta = remix - self.remix[cid]
            self.remix[cid] = remix
            if delta:
                keep = result.keep[cid]
                for author, percent in self.contributions[cid].authors:
                    _add(result.credit_remix, author, keep * delta * percent / 100)
                    self.changed_members.add(author)
