"""cocred-fair v2: the policy body and the scorer that feeds ``flow.compute`` from a campaign.

``ScorerV2`` answers the same calls as ``scoring.Scorer`` (v1), so ``CampaignState``,
the rows, the export and the payouts use either. It keeps the counted votes, the
contributions and the standing facts (vouches, tenure, endorsements); at each
``refresh`` after a change it brings ``flow_live.LiveFlow`` up to date with what changed:
new contributions, exclusions and reinstatements, endorsements, reuses, vouches and the
voters whose votes changed (from scratch only at ``go_live`` and when tenure is set). Then
it reports which members and contributions changed. See RULES.md (v2) for the rules and the
cost.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from domain.vocabulary import ACCEPTED, POLICY_NAME
from projections.clusters import Reciprocity
from projections.errors import UnsupportedPolicyError
from projections.exact import parse_fraction
from projections.flow import ZERO, Contribution2, FlowResult, Params
from projections.flow_live import LiveFlow
from projections.graph import Authors, ContributionNode, Parents, link_node
from projections.policy_fields import SharedFields, parse_shared_fields, policy_int

NAME = POLICY_NAME
VERSION = 2
V2_FIELDS = ("weight_budget", "contribution_cap", "dependent_bound")


@dataclass(frozen=True, slots=True)
class PolicyV2(SharedFields):
    """cocred-fair v2 parameters, parsed exactly."""

    weight_budget: int
    contribution_cap: int
    dependent_bound: Fraction
    version: int = VERSION

    def weight(self, kind: str) -> int:
        """The weight of a vote kind (0 for a kind the policy does not list)."""
        return dict(self.weights).get(kind, 0)

    @property
    def ref(self) -> dict[str, Any]:
        """``{"name", "version"}`` as recorded in ``PayoutsSettled``."""
        return {"name": NAME, "version": VERSION}

    def params(self) -> Params:
        return Params(
            dict(self.weights),
            self.reuse_weight,
            self.support_threshold,
            self.weight_budget,
            self.contribution_cap,
            self.dependent_bound,
        )


def parse_policy_v2(body: Mapping[str, Any]) -> PolicyV2:
    """Parse a cocred-fair v2 body; ``ValueError``/``KeyError`` when it breaks the contract."""
    if body.get("name") != NAME or body.get("version") != VERSION:
        raise UnsupportedPolicyError(f"policy {body.get('name')} v{body.get('version')} is not v2")
    return PolicyV2(
        **parse_shared_fields(body),
        weight_budget=policy_int(body, "weight_budget"),
        contribution_cap=policy_int(body, "contribution_cap"),
        dependent_bound=parse_fraction(body["dependent_bound"], "dependent_bound"),
    )


@dataclass(slots=True, eq=False)
class NodeV2(ContributionNode):
    """A contribution's v2 figures, named as the v1 node's (rows and explanations read them)."""

    accepted: bool = False
    reuses: int = 0
    support: Fraction = ZERO
    score: Fraction = ZERO
    credit: Fraction = ZERO
    keep: Fraction = Fraction(1)
    kept: Fraction = ZERO
    independent: Fraction = ZERO
    dependent: Fraction = ZERO
    bound: Fraction = Fraction(1)


class ScorerV2:
    """Scores and credits of one campaign under cocred-fair v2 (see the module docstring)."""

    def __init__(self, policy: PolicyV2) -> None:
        self.policy = policy
        self.weights = dict(policy.weights)
        self.nodes: dict[str, NodeV2] = {}
        self.votes: dict[str, dict[tuple[str, str], int]] = {}
        self.counts: dict[str, int] = {}
        self.credit: dict[str, Fraction] = {}
        self.blocked: set[str] = set()
        self.vouched: set[str] = set()
        self._tenured: frozenset[str] = frozenset()
        self.total = ZERO
        self.live = False
        self.recip = Reciprocity()  # v1's clusters: always empty under v2 (rows read it)
        self.flow = LiveFlow(policy.params())
        self.changed_contributions: set[str] = set()
        self.changed_members: set[str] = set()
        self._whole = True  # rebuild at the next refresh (before go_live, after tenure)
        self._voters: set[str] = set()
        self._new: list[str] = []
        self._facts: set[str] = set()  # contributions excluded, endorsed or reused since
        self._grounded = False  # a vouch since the last refresh
        self._blocked_changed = False

    @property
    def result(self) -> FlowResult:
        return self.flow.result

    @property
    def credit_remix(self) -> dict[str, Fraction]:
        return self.flow.result.credit_remix

    @property
    def tenured(self) -> frozenset[str]:
        return self._tenured

    @tenured.setter
    def tenured(self, members: frozenset[str]) -> None:
        self._tenured = members
        self._whole = True

    # -- facts in (the same calls as scoring.Scorer) ---------------------------------------

    def add_contribution(self, cid: str, position: int, authors: Authors, parents: Parents) -> None:
        """A new contribution (its parents are earlier in the log)."""
        link_node(self.nodes, NodeV2(cid, position, authors, parents))
        self._new.append(cid)

    def count(self, voter: str, cid: str, kind: str) -> None:
        """A vote starts to count."""
        self.votes.setdefault(voter, {})[(cid, kind)] = self.weights[kind]
        self.counts[voter] = self.counts.get(voter, 0) + 1
        self._voters.add(voter)

    def uncount(self, voter: str, cid: str, kind: str) -> None:
        """A counted vote stops counting."""
        mine = self.votes[voter]
        del mine[(cid, kind)]
        self.counts[voter] -= 1
        if not mine:
            del self.votes[voter], self.counts[voter]
        self._voters.add(voter)

    def set_excluded(self, cid: str, excluded: bool) -> None:
        """Removed/rejected (or reinstated): the routes change."""
        if self.nodes[cid].excluded != excluded:
            self.nodes[cid].excluded = excluded
            self._facts.add(cid)

    def set_outcome(self, cid: str, outcome: str) -> None:
        """The latest moderation outcome: ``accepted`` is the brand's endorsement (rule V6)."""
        if self.nodes[cid].accepted != (outcome == ACCEPTED):
            self.nodes[cid].accepted = outcome == ACCEPTED
            self._facts.add(cid)

    def set_reuses(self, cid: str, distinct: int) -> None:
        """The number of distinct (channel, territory) reuses of a contribution."""
        if self.nodes[cid].reuses != distinct:
            self.nodes[cid].reuses = distinct
            self._facts.add(cid)

    def set_blocked(self, member: str, blocked: bool) -> None:
        """A blocked member's credit is not paid (their votes are uncounted by the caller)."""
        if blocked:
            self.blocked.add(member)
        else:
            self.blocked.discard(member)
        self.changed_members.add(member)
        self._blocked_changed = True

    def vouch(self, member: str) -> None:
        """The brand invited (vouched for) the member (rule V6)."""
        if member not in self.vouched:
            self.vouched.add(member)
            self._grounded = True

    # -- computing ---------------------------------------------------------------------------

    def go_live(self) -> None:
        """After a bulk replay: compute everything once."""
        self.live = True
        self._whole = True
        self.refresh()

    def _fact(self, cid: str) -> Contribution2:
        n = self.nodes[cid]
        return Contribution2(
            cid, n.position, n.authors, n.parents, n.excluded, n.reuses, n.accepted or n.reuses > 0
        )

    def refresh(self) -> None:
        """Bring the v2 numbers up to date with the facts changed since the last refresh."""
        if not self.live or not (
            self._whole
            or self._voters
            or self._new
            or self._facts
            or self._grounded
            or self._blocked_changed
        ):
            return
        self._blocked_changed = False
        flow = self.flow
        if self._whole:
            facts = {cid: self._fact(cid) for cid in self.nodes}
            flow.rebuild(facts, self.votes, self.vouched, self._tenured)
        else:
            flow.votes = self.votes
            for cid in self._new:
                flow.add_contribution(self._fact(cid))
            for cid in sorted(self._facts, key=lambda cid: self.nodes[cid].position):
                flow.contribution_changed(self._fact(cid))
            if self._grounded:
                flow.grounded_changed(self.vouched, self._tenured)
            if self._voters:
                flow.voters_changed(self._voters)
        whole, self._whole, self._grounded = self._whole, False, False
        self._voters, self._new, self._facts = set(), [], set()
        result = flow.result
        for cid in flow.changed_contributions:
            node = self.nodes[cid]
            new = (
                result.support.get(cid, ZERO),
                result.score.get(cid, ZERO),
                result.contribution_credit.get(cid, ZERO),
                result.keep.get(cid, ZERO),
            )
            if new != (node.support, node.score, node.credit, node.keep):
                self.changed_contributions.add(cid)
            node.support, node.score, node.credit, node.keep = new
            node.kept = node.keep * node.credit if not node.excluded else ZERO
            node.independent = result.independent.get(cid, ZERO)
            node.dependent = result.dependent.get(cid, ZERO)
            node.bound = result.bound.get(cid, Fraction(1))
        members = set(self.credit) | set(result.credit) if whole else flow.changed_members
        for member in members:
            credit = result.credit.get(member)
            if self.credit.get(member) != credit:
                self.changed_members.add(member)
                if credit is None:
                    self.credit.pop(member, None)
                else:
                    self.credit[member] = credit
        flow.changed_contributions, flow.changed_members = set(), set()
        self.total = sum(
            (c for m, c in self.credit.items() if m not in self.blocked and c > 0), ZERO
        )

    def payable(self) -> dict[str, Fraction]:
        """Credit of every member who is owed some (positive credit, not blocked)."""
        return {m: c for m, c in self.credit.items() if c > 0 and m not in self.blocked}
