"""cocred-fair v1: contribution scores and the credit that flows along remix chains.

The rules are stated in ``projections/RULES.md``; in short, a counted vote adds
``kind weight x budget factor`` to its contribution's support; the part of it
that goes to authors in the voter's own collusion cluster is discounted (by the
cluster's size) and bounded (by the support from everyone else); each distinct
brand reuse adds ``reuse_weight``; a contribution's score is its support plus
reuses (0 when removed or rejected, or below ``support_threshold``); and credit
flows from each contribution to the works it derives from by the declared
shares, transitively; what a contribution keeps is split among its authors by
their percentages.

Why a vote *budget* for the diminishing influence of heavy voters: a member who
casts ``n`` counted votes has each weighted by ``min(1, B/n)`` (B = 10), rounded
down to a multiple of 1/4096, so their total influence is at most ``min(n, B)``
(and above ``B - n/4096``): a concave budget. It is exact (a square root, as in
quadratic voting, is irrational and cannot be), it does not depend on the order
of the votes (all of one member's votes weigh the same, so voting early or late
buys nothing and a withdrawal gives the weight back to the member's other votes:
an order-based rule such as "the k-th vote weighs 1/k" would favour work
submitted early), it leaves the typical member who casts a handful of votes
untouched, and it caps what one account spraying a thousand votes can move at
what a member with ten considered votes moves.

Why rounded to 1/4096: with exact ``B/n`` the denominators of every score and
credit become the least common multiple of all vote counts (thousands of digits
in a campaign of a million events, and every operation slows down with them),
and each new vote by a heavy voter would change the weight of all their votes.
On the 1/4096 grid all budget factors are dyadic, and a voter's factor changes
only when ``floor(40960 / n)`` does, about every ``n**2 / 40960`` votes.

How the numbers stay exact *and* incremental: each contribution keeps an
accumulator ``acc[(budget, inside, discount)] -> sum of kind weights`` over its
counted votes, where ``budget`` is the voter's budget factor in 1/4096ths,
``inside`` the author percent of the contribution that lies in the voter's
cluster and ``discount`` that cluster's size discount (0 and None outside any
cluster, so that the common key is a tuple of small integers).
A vote, a withdrawal or a change of a voter's budget or cluster moves integers
between accumulator keys; a contribution's support is then recomputed from its
accumulator alone (O(distinct keys), not O(votes)). Credit is recomputed for the
contributions whose score or structure changed and for their ancestors, in
descending log position (children before parents), and authors' credit moves by
exact deltas. All arithmetic is ``Fraction``, so the result does not depend on
the order of updates: an incremental run equals a rebuild, value for value.

During a bulk replay (``live`` false) only the counted votes are kept;
``go_live`` builds the flows, clusters, accumulators and every credit once, in
linear time.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from fractions import Fraction

from projections.clusters import Reciprocity
from projections.graph import Authors, ContributionNode, Parents, link_node
from projections.policy import Policy

ZERO = Fraction(0)
ONE = Fraction(1)
OUTSIDE: tuple[int, Fraction | None] = (0, None)  # (inside percent, discount)

Signature = tuple[int, frozenset[str] | None]


@dataclass(slots=True, eq=False)
class Node(ContributionNode):
    """A contribution as the v1 scorer sees it."""

    reuses: int = 0
    acc: dict[tuple[int, int, Fraction | None], int] = field(default_factory=dict)
    external: Fraction = ZERO  # support from votes outside the authors' clusters
    internal: Fraction = ZERO  # support from inside them, after the size discount
    bound: Fraction = ONE  # what fraction of ``internal`` counts (rule 5b)
    support: Fraction = ZERO
    score: Fraction = ZERO
    credit: Fraction = ZERO
    keep: Fraction = ONE
    kept: Fraction = ZERO
    kept_remix: Fraction = ZERO


class Scorer:
    """Scores and credits of one campaign under cocred-fair v1."""

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self.weights = dict(policy.weights)
        self.budget = policy.vote_budget
        self.grid = policy.budget_grid
        self.nodes: dict[str, Node] = {}
        self.votes: dict[str, dict[tuple[str, str], int]] = {}  # counted, voter -> weight
        self.counts: dict[str, int] = {}
        self.posted: dict[str, Signature] = {}
        self.recip = Reciprocity()
        self.credit: dict[str, Fraction] = {}
        self.credit_remix: dict[str, Fraction] = {}
        self.blocked: set[str] = set()
        self.total = ZERO
        self.live = False
        self._dirty_scores: set[str] = set()
        self._dirty_structure: set[str] = set()
        self.changed_contributions: set[str] = set()
        self.changed_members: set[str] = set()
        self._discounts: dict[int, Fraction] = {}

    # -- facts in --------------------------------------------------------------------------

    def add_contribution(self, cid: str, position: int, authors: Authors, parents: Parents) -> None:
        """A new contribution (its parents exist already: they are earlier in the log)."""
        link_node(self.nodes, Node(cid, position, authors, parents))
        self._dirty_structure.add(cid)

    def count(self, voter: str, cid: str, kind: str) -> None:
        """A vote starts to count (cast, or its voter/contribution became eligible again)."""
        node = self.nodes[cid]
        weight = self.weights[kind]
        self.counts[voter] = self.counts.get(voter, 0) + 1
        mine = self.votes.setdefault(voter, {})
        if not self.live:
            mine[(cid, kind)] = weight
            return
        touched = self.recip.add(voter, node.authors, weight)
        self._resync(self.recip.recluster(touched) | {voter})
        mine[(cid, kind)] = weight
        self._post(voter, node, weight)

    def uncount(self, voter: str, cid: str, kind: str) -> None:
        """A counted vote stops counting (withdrawn, voter blocked, contribution excluded)."""
        node = self.nodes[cid]
        mine = self.votes[voter]
        weight = mine.pop((cid, kind))
        if self.live:
            self._post(voter, node, -weight)
        self.counts[voter] -= 1
        if not mine:
            del self.votes[voter], self.counts[voter]
        if self.live:
            touched = self.recip.add(voter, node.authors, -weight)
            self._resync(self.recip.recluster(touched) | {voter})

    def set_excluded(self, cid: str, excluded: bool) -> None:
        """Removed/rejected (or reinstated): the node, its parents and children re-flow."""
        node = self.nodes[cid]
        node.excluded = excluded
        self._dirty_scores.add(cid)
        self._dirty_structure.add(cid)
        self._dirty_structure.update(child for child, _ in node.children)
        self._dirty_structure.update(parent for parent, _ in node.parents)

    def set_reuses(self, cid: str, distinct: int) -> None:
        """The number of distinct (channel, territory) reuses of a contribution."""
        self.nodes[cid].reuses = distinct
        self._dirty_scores.add(cid)

    def set_blocked(self, member: str, blocked: bool) -> None:
        """A blocked member's credit is not paid (their votes are uncounted by the caller)."""
        if blocked == (member in self.blocked):
            return
        credit = self.credit.get(member, ZERO)
        if blocked:
            self.blocked.add(member)
            self.total -= credit
        else:
            self.blocked.discard(member)
            self.total += credit
        self.changed_members.add(member)

    # -- voter signatures and accumulators -------------------------------------------------

    def _signature(self, member: str) -> Signature:
        n = self.counts.get(member, 0)
        budget = self.grid if n <= self.budget else self.budget * self.grid // n
        return (budget, self.recip.cluster.get(member))

    def discount(self, size: int) -> Fraction:
        """Weight of a vote inside a cluster of ``size`` accounts: 1 / (1 + s (size - 1))."""
        if size not in self._discounts:
            self._discounts[size] = 1 / (1 + self.policy.pairwise_bound * (size - 1))
        return self._discounts[size]

    def cluster_key(
        self, cluster: frozenset[str] | None, node: Node
    ) -> tuple[int, Fraction | None]:
        """(inside, discount): the author percent of ``node`` inside the voter's cluster, and
        the cluster's size discount; (0, None) when the voter is in no cluster or no author
        is in it.
        """
        if cluster is None:
            return OUTSIDE
        inside = sum(percent for author, percent in node.authors if author in cluster)
        if not inside:
            return OUTSIDE
        return inside, self.discount(len(cluster))

    def budget_factor(self, budget: int) -> Fraction:
        """The budget factor ``min(1, B/n)`` on the grid, from its numerator in 1/4096ths."""
        return Fraction(budget, self.grid)

    def _add(self, node: Node, key: tuple[int, int, Fraction | None], weight: int) -> None:
        value = node.acc.get(key, 0) + weight
        if value:
            node.acc[key] = value
        else:
            del node.acc[key]
        self._dirty_scores.add(node.id)

    def _post(self, voter: str, node: Node, weight: int) -> None:
        budget, cluster = self.posted[voter]
        self._add(node, (budget, *self.cluster_key(cluster, node)), weight)

    def _resync(self, members: set[str]) -> None:
        """Move the accumulated votes of members whose signature changed to their new keys."""
        for member in members:
            new = self._signature(member)
            old = self.posted.get(member)
            if new == old:
                continue
            for (cid, _), weight in self.votes.get(member, {}).items():
                node = self.nodes[cid]
                if old is not None:
                    self._add(node, (old[0], *self.cluster_key(old[1], node)), -weight)
                self._add(node, (new[0], *self.cluster_key(new[1], node)), weight)
            self.posted[member] = new
            self.changed_members.add(member)

    def vote_factors(self, voter: str, cid: str) -> tuple[Fraction, Fraction, Fraction, int]:
        """(budget factor, inside share, cluster discount, cluster size or 0) of a counted vote.

        The vote's weight is ``kind weight x budget x ((1 - inside) + inside x discount x
        bound)`` where ``bound`` is the contribution's (``Node.bound``). Live state only.
        """
        budget, cluster = self.posted[voter]
        inside, discount = self.cluster_key(cluster, self.nodes[cid])
        size = len(cluster) if cluster and inside else 0
        return self.budget_factor(budget), Fraction(inside, 100), discount or ONE, size

    # -- going live and refreshing ----------------------------------------------------------

    def go_live(self) -> None:
        """After a bulk replay: build flows, clusters, accumulators and every credit at once."""
        flows: dict[str, dict[str, int]] = {}
        for voter, mine in self.votes.items():
            out = flows.setdefault(voter, {})
            for (cid, _), weight in mine.items():
                for author, percent in self.nodes[cid].authors:
                    if author != voter:
                        out[author] = out.get(author, 0) + weight * percent
        self.recip = Reciprocity.from_flows(flows)
        self.posted = {}
        for node in self.nodes.values():
            node.acc = {}
        for voter, mine in self.votes.items():
            signature = self._signature(voter)
            self.posted[voter] = signature
            budget, cluster = signature
            for (cid, _), weight in mine.items():
                node = self.nodes[cid]
                key = (budget, *(self.cluster_key(cluster, node) if cluster else OUTSIDE))
                node.acc[key] = node.acc.get(key, 0) + weight
        self.live = True
        self._dirty_scores = set(self.nodes)
        self._dirty_structure = set(self.nodes)
        self.refresh()

    def _rescore(self, node: Node) -> bool:
        """Recompute support and score from the accumulator; True when the score changed."""
        plain = 0  # votes outside any cluster: an integer number of 1/4096ths
        external = internal = ZERO
        for (budget, inside, discount), weight in node.acc.items():
            if discount is None:
                plain += budget * weight
                continue
            budgeted = Fraction(budget * weight, self.grid)
            external += budgeted * Fraction(100 - inside, 100)
            internal += budgeted * Fraction(inside, 100) * discount
        external += Fraction(plain, self.grid)
        limit = (1 - self.policy.pairwise_bound) * external
        node.external, node.internal = external, internal
        node.bound = limit / internal if internal > limit else ONE
        support = external + min(internal, limit)
        raw = support + self.policy.reuse_weight * node.reuses
        score = ZERO if node.excluded or raw < self.policy.support_threshold else raw
        node.support = support
        changed = score != node.score
        node.score = score
        return changed

    def refresh(self) -> None:
        """Bring scores and credits up to date with every fact given since the last refresh."""
        if not self.live:
            return
        queue: list[tuple[int, str]] = []
        queued: set[str] = set()

        def push(cid: str) -> None:
            if cid not in queued:
                queued.add(cid)
                heapq.heappush(queue, (-self.nodes[cid].position, cid))

        for cid in self._dirty_scores:
            self.changed_contributions.add(cid)
            if self._rescore(self.nodes[cid]):
                push(cid)
        structure, self._dirty_structure, self._dirty_scores = self._dirty_structure, set(), set()
        for cid in structure:
            push(cid)
        nodes = self.nodes
        while queue:
            _, cid = heapq.heappop(queue)
            node = nodes[cid]
            if cid in structure:
                node.keep = 1 - sum(
                    (share for parent, share in node.parents if not nodes[parent].excluded), ZERO
                )
            credit = ZERO
            if not node.excluded:
                credit = node.score
                for child, share in node.children:
                    if not nodes[child].excluded:
                        credit += share * nodes[child].credit
            if credit != node.credit:
                for parent, _ in node.parents:
                    push(parent)
            node.credit = credit
            self._keep(node)
            self.changed_contributions.add(cid)

    def _keep(self, node: Node) -> None:
        kept = ZERO if node.excluded else node.keep * node.credit
        kept_remix = ZERO if node.excluded else node.keep * (node.credit - node.score)
        delta, delta_remix = kept - node.kept, kept_remix - node.kept_remix
        node.kept, node.kept_remix = kept, kept_remix
        if not delta and not delta_remix:
            return
        for author, percent in node.authors:
            self.changed_members.add(author)
            if delta:
                share = delta * percent / 100
                self.credit[author] = self.credit.get(author, ZERO) + share
                if author not in self.blocked:
                    self.total += share
            if delta_remix:
                self.credit_remix[author] = (
                    self.credit_remix.get(author, ZERO) + delta_remix * percent / 100
                )

    def payable(self) -> dict[str, Fraction]:
        """Credit of every member who is owed some (positive credit, not blocked)."""
        return {
            member: credit
            for member, credit in self.credit.items()
            if credit > 0 and member not in self.blocked
        }
