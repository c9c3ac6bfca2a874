"""Reciprocal-voting clusters: the groups of accounts that vote mostly for each other.

Kept incrementally from the counted votes (RULES.md, rule 5):

- the *flow* ``W[u][a]`` from voter ``u`` to member ``a`` is the sum, over u's
  counted votes on contributions a (co-)authored, of ``kind weight x a's author
  percent`` (an integer: the voter's budget factor is the same on all of u's
  votes, so it cannot change any ratio below and is left out);
- the *reciprocated* flow of a pair is ``m(u, a) = min(W[u][a], W[a][u])`` (the
  part of their votes for each other that is matched by votes back); ``u`` and
  ``a`` are *mutual* when it is positive;
- ``u`` is a *colluder* when more than half of u's flow is reciprocated:
  ``2 * M[u] > T[u]`` with ``T[u] = sum_a W[u][a]`` and ``M[u] = sum_a m(u, a)``;
- a *cluster* is a connected component, of size >= 2, of the graph whose vertices
  are colluders and whose edges are mutual pairs.

Why the reciprocated *amount* and not just "a votes back": in a small, lively
community most members vote for most authors, so nearly every pair is mutual
by chance; but chance reciprocity is a small part of each member's votes,
whereas accounts that exist to vote for each other send nearly all of their
weight to each other, and get as much back. (The active core of a community,
prolific authors who also vote a lot, may form a cluster too: they make most of
the work worth voting for. That costs them little, because most of their
support comes from everybody else: see the bound in ``scoring``.)

Everything is integers and sets, so the clusters never depend on the order in
which votes arrived: recomputing from scratch gives the same partition. An
update touches only the clusters around the members whose flows changed (a
breadth-first search over colluders), so one vote costs O(size of the clusters
involved), and a full computation is O(members + mutual pairs).
"""

from __future__ import annotations

from collections.abc import Iterable


class Reciprocity:
    """Flows between members, their mutual pairs, colluders and clusters."""

    def __init__(self) -> None:
        self.flows: dict[str, dict[str, int]] = {}
        self.total: dict[str, int] = {}
        self.mutual: dict[str, int] = {}
        self.partners: dict[str, set[str]] = {}
        self.colluders: set[str] = set()
        self.cluster: dict[str, frozenset[str]] = {}

    def cluster_of(self, member: str) -> frozenset[str] | None:
        """The member's cluster (size >= 2), or None."""
        return self.cluster.get(member)

    def add(self, voter: str, authors: Iterable[tuple[str, int]], weight: int) -> set[str]:
        """Add ``weight`` (negative to remove) of votes from ``voter`` to ``authors``.

        ``authors`` are ``(member, percent)`` pairs. Returns the members whose total
        or reciprocated flow changed (whose colluder status may have changed).
        """
        touched = {voter}
        out = self.flows.setdefault(voter, {})
        for author, percent in authors:
            if author == voter:
                continue
            delta = weight * percent
            old = out.get(author, 0)
            new = old + delta
            if new:
                out[author] = new
            else:
                out.pop(author, None)
            self.total[voter] = self.total.get(voter, 0) + delta
            back = self.flows.get(author, {}).get(voter, 0)
            if not back:
                continue
            change = min(new, back) - min(old, back)  # the pair's reciprocated flow moved
            if change:
                self.mutual[voter] = self.mutual.get(voter, 0) + change
                self.mutual[author] = self.mutual.get(author, 0) + change
                touched.add(author)
            if old == 0 and new > 0:  # the pair becomes mutual
                self.partners.setdefault(voter, set()).add(author)
                self.partners.setdefault(author, set()).add(voter)
            elif old > 0 and new == 0:  # the pair stops being mutual
                self.partners[voter].discard(author)
                self.partners[author].discard(voter)
        if not out:
            del self.flows[voter]
        return touched

    def _is_colluder(self, member: str) -> bool:
        return 2 * self.mutual.get(member, 0) > self.total.get(member, 0)

    def _component(self, start: str, seen: set[str]) -> frozenset[str]:
        component = {start}
        frontier = [start]
        while frontier:
            member = frontier.pop()
            for other in self.partners.get(member, ()):
                if other in self.colluders and other not in component:
                    component.add(other)
                    frontier.append(other)
        seen |= component
        return frozenset(component)

    def recluster(self, touched: Iterable[str]) -> set[str]:
        """Update colluders and clusters near ``touched``; return members whose cluster changed."""
        touched = set(touched)
        for member in touched:
            if self._is_colluder(member):
                self.colluders.add(member)
            else:
                self.colluders.discard(member)
        seeds = set(touched)
        for member in touched:
            seeds |= self.cluster.get(member, frozenset())
        affected = set(seeds)
        components: dict[str, frozenset[str]] = {}
        seen: set[str] = set()
        for seed in seeds:
            if seed in self.colluders and seed not in seen:
                component = self._component(seed, seen)
                affected |= component
                for member in component:
                    components[member] = component
        changed = set()
        for member in affected:
            new = components.get(member)
            if new is not None and len(new) < 2:
                new = None
            if self.cluster.get(member) != new:
                changed.add(member)
                if new is None:
                    del self.cluster[member]
                else:
                    self.cluster[member] = new
        return changed

    @classmethod
    def from_flows(cls, flows: dict[str, dict[str, int]]) -> Reciprocity:
        """Everything computed at once from complete flows (after a bulk replay)."""
        built = cls()
        for voter, out in flows.items():
            kept = {author: weight for author, weight in out.items() if weight and author != voter}
            if kept:
                built.flows[voter] = kept
        for voter, out in built.flows.items():
            built.total[voter] = sum(out.values())
            for author, weight in out.items():
                back = built.flows.get(author, {}).get(voter, 0)
                if back:
                    built.mutual[voter] = built.mutual.get(voter, 0) + min(weight, back)
                    built.partners.setdefault(voter, set()).add(author)
        built.recluster_all()
        return built

    def recluster_all(self) -> None:
        """Compute colluders and clusters from scratch (after a bulk replay)."""
        self.colluders = {m for m in self.total if self._is_colluder(m)}
        self.cluster = {}
        seen: set[str] = set()
        for member in self.colluders:
            if member not in seen:
                component = self._component(member, seen)
                if len(component) >= 2:
                    for other in component:
                        self.cluster[other] = component
