"""One campaign's state, built by applying its events in log order.

Handlers trust the event contract (``domain/EVENTS.md``): the domain validated
every body at append time, so a missing key or a bad fraction raises and stops
the projection (``LogState`` wraps it as ``ProjectionFailedError``). Acts that
break a *rule* (a vote by a member who never joined, a self-vote, any campaign
event after ``CampaignClosed`` but ``PayoutsSettled``) should not be in the log
either; if one is, it is recorded as ``Ignored`` with the reason, never applied.

Which votes count (RULES.md, rules 1-2): a vote is *active* from ``VoteCast`` to
``VoteWithdrawn``; it is *counted* while active, its kind has a positive weight,
its voter is not blocked, and its contribution is not removed or rejected. A
block silences all of the member's votes, earlier ones included, while it
stands (a block usually follows the discovery of manipulation); an unblock
restores them.

Longer than ~400 lines on purpose: it is one class with one handler per campaign
event type, and the handlers keep the same counters (members, contributions,
votes, dirty sets) in step; split apart, a change to one counter would have to be
followed across files. The plain records live in ``facts``, the scores in ``scoring``.
"""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction
from typing import Any

from domain.invite_codes import invite_code_hash
from domain.vocabulary import (
    ACCEPTED,
    APPEAL_DECIDED,
    APPEAL_FILED,
    CAMPAIGN_CLOSED,
    COAUTHORSHIP_ACCEPTED,
    COAUTHORSHIP_DECLINED,
    COMMENT,
    COMMENT_FIELD,
    COMMENT_HIDDEN,
    COMMENT_POSTED,
    COMMENT_REPORTED,
    CONTRIBUTION_MODERATED,
    CONTRIBUTION_REPORTED,
    CONTRIBUTION_SUBMITTED,
    EXCLUDING_OUTCOMES,
    INVITATION_CODES_ISSUED,
    INVITE_ONLY,
    LICENCE_GRANTED,
    LICENCE_REVOKED,
    MEMBER_BLOCKED,
    MEMBER_INVITED,
    MEMBER_JOINED,
    MEMBER_UNBLOCKED,
    PAYOUTS_SETTLED,
    POOL_FUNDED,
    REINSTATED,
    REMOVED,
    REUSE_RECORDED,
    VOTE_CAST,
    VOTE_WITHDRAWN,
)
from projections.errors import UnsupportedPolicyError
from projections.exact import parse_fraction
from projections.facts import (
    OPEN_STATUS,
    Appeal,
    Comment,
    Contribution,
    Grant,
    Ignored,
    Member,
    Moderation,
    Parent,
    Report,
    Reuse,
)
from projections.fair_v2 import PolicyV2, ScorerV2
from projections.policy import Policy, parse_versioned
from projections.scoring import ZERO, Scorer

BRAND_ONLY = frozenset(
    {
        POOL_FUNDED,
        CAMPAIGN_CLOSED,
        MEMBER_INVITED,
        INVITATION_CODES_ISSUED,
        MEMBER_BLOCKED,
        MEMBER_UNBLOCKED,
        CONTRIBUTION_MODERATED,
        APPEAL_DECIDED,
        PAYOUTS_SETTLED,
        COMMENT_HIDDEN,
    }
)


class CampaignState:
    """Facts, attribution counters and (for cocred-fair v1) the scorer of one campaign."""

    def __init__(self, campaign: str, position: int, brand: str, body: dict[str, Any]) -> None:
        self.id = campaign
        self.brand = brand
        self.opened_at = position
        self.title: str = body["title"]
        self.currency: str = body["currency"]
        self.membership: str = body["membership"]
        self.starts_at: str = body["starts_at"]
        self.ends_at: str = body["ends_at"]
        self.pool: int = body["pool"]
        self.policy_body: Any = body["policy"]
        # Co-author consent asked (domain/EVENTS.md): absent from the policies of campaigns
        # opened before the field, whose co-authors count at once.
        self.consent = isinstance(self.policy_body, dict) and (
            self.policy_body.get("coauthor_consent") is True
        )
        self.funded = 0
        self.closed_at: int | None = None
        self.settled: tuple[int, dict[str, Any]] | None = None
        self.policy: Policy | PolicyV2 | None = None
        self.policy_problem: UnsupportedPolicyError | None = None
        try:
            self.policy = parse_versioned(self.policy_body)
        except UnsupportedPolicyError as exc:
            self.policy_problem = exc
        self.scorer: Scorer | ScorerV2 | None = None
        if isinstance(self.policy, PolicyV2):
            self.scorer = ScorerV2(self.policy)
        elif self.policy is not None:
            self.scorer = Scorer(self.policy)
        self.weights = dict(self.policy.weights) if self.policy else {}
        self.members: dict[str, Member] = {}
        # Invitation code hashes the brand issued -> whether a join used the code. A join
        # with a code is no vouching (v2 standing): the brand did not know who would use it.
        self.invite_codes: dict[str, bool] = {}
        self.contributions: dict[str, Contribution] = {}
        self.grants: dict[tuple[str, str], Grant] = {}
        self.reuses: list[Reuse] = []
        self.moderation: list[Moderation] = []
        # Reports feed the moderation queue only: no handler here passes them to the scorer.
        self.reports: list[Report] = []
        self.reported: set[tuple[str, str]] = set()  # (contribution, reporter)
        # Appeals by id (their rows are replaced as the brand decides), and the close's
        # ``unreviewed`` (None: the close named none, or the campaign is open).
        self.appeals: dict[str, Appeal] = {}
        self.dirty_appeals: set[str] = set()
        self.dirty_comments: set[str] = set()
        self.unreviewed: str | None = None
        # What each KeyCompromised did here, as (its position, a sentence): LogState fills it.
        self.disowned: list[tuple[int, str]] = []
        # Comment threads: every comment by id; the text hash each live comment vote names,
        # by (contribution, voter); and the (contribution, author, text) of each hidden
        # comment, whose tied vote no longer counts (domain/comments.py).
        self.comments: dict[str, Comment] = {}
        self.comment_votes: dict[tuple[str, str], str] = {}
        self.hidden_texts: dict[tuple[str, str, str], Comment] = {}
        self.ignored: list[Ignored] = []
        self.active_votes = 0
        self.joined = 0
        # What changed since the projector last wrote rows.
        self.dirty_members: set[str] = set()
        self.dirty_contributions: set[str] = set()
        self.dirty_grants: set[tuple[str, str]] = set()
        self.new_contributions: list[str] = []
        self.written = {"reuses": 0, "moderation": 0, "reports": 0, "ignored": 0}
        self._handlers: dict[str, Callable[[int, str, int, dict[str, Any]], str | None]] = {
            POOL_FUNDED: self._funded,
            CAMPAIGN_CLOSED: self._closed,
            MEMBER_INVITED: self._invited,
            INVITATION_CODES_ISSUED: self._codes_issued,
            MEMBER_BLOCKED: self._blocked,
            MEMBER_UNBLOCKED: self._unblocked,
            MEMBER_JOINED: self._joined,
            CONTRIBUTION_SUBMITTED: self._submitted,
            VOTE_CAST: self._voted,
            VOTE_WITHDRAWN: self._withdrawn,
            LICENCE_GRANTED: self._granted,
            LICENCE_REVOKED: self._revoked,
            REUSE_RECORDED: self._reused,
            CONTRIBUTION_MODERATED: self._moderated,
            CONTRIBUTION_REPORTED: self._reported,
            PAYOUTS_SETTLED: self._settled,
            COAUTHORSHIP_ACCEPTED: self._coauthor_accepted,
            COAUTHORSHIP_DECLINED: self._coauthor_declined,
            APPEAL_FILED: self._appeal_filed,
            APPEAL_DECIDED: self._appeal_decided,
            COMMENT_POSTED: self._commented,
            COMMENT_HIDDEN: self._comment_hidden,
            COMMENT_REPORTED: self._comment_reported,
        }

    @property
    def total_pool(self) -> int:
        """The pool the brand opened with plus every ``PoolFunded``."""
        return self.pool + self.funded

    def member(self, member: str) -> Member:
        found = self.members.get(member)
        if found is None:
            found = self.members[member] = Member(member)
        return found

    def apply(self, type_: str, position: int, actor: str, seq: int, body: dict[str, Any]) -> None:
        """Apply one event of this campaign (unknown types are not passed in)."""
        if self.closed_at is not None and type_ != PAYOUTS_SETTLED:
            reason: str | None = "the campaign is closed"
        elif type_ in BRAND_ONLY and actor != self.brand:
            reason = "only the campaign's brand may do this"
        else:
            reason = self._handlers[type_](position, actor, seq, body)
        if reason is not None:
            self.ignored.append(Ignored(position, type_, actor, reason))

    # -- brand acts ------------------------------------------------------------------------

    def _funded(self, position: int, actor: str, seq: int, body: dict[str, Any]) -> str | None:
        amount = body["amount"]
        if type(amount) is not int or amount <= 0:
            raise ValueError(f"PoolFunded amount must be a positive integer, got {amount!r}")
        self.funded += amount
        return None

    def _closed(self, position: int, actor: str, seq: int, body: dict[str, Any]) -> str | None:
        unreviewed = body.get("unreviewed")  # absent: the close of every campaign before it
        if unreviewed is not None:
            self.unreviewed = unreviewed
            for contribution in self.contributions.values():
                if contribution.status == OPEN_STATUS:

                    def change(piece: Contribution = contribution) -> None:
                        piece.unreviewed = unreviewed

                    self._rescore(contribution, change)
        self.closed_at = position
        return None

    def _invited(self, position: int, actor: str, seq: int, body: dict[str, Any]) -> str | None:
        member = self.member(body["member"])
        if member.invited_at is None:
            member.invited_at = position
            self.dirty_members.add(member.id)
            if isinstance(self.scorer, ScorerV2):
                self.scorer.vouch(member.id)
        return None

    def _codes_issued(
        self, position: int, actor: str, seq: int, body: dict[str, Any]
    ) -> str | None:
        for digest in body["codes"]:
            self.invite_codes.setdefault(digest, False)
        return None

    def _blocked(self, position: int, actor: str, seq: int, body: dict[str, Any]) -> str | None:
        member = self.member(body["member"])
        if member.blocked:
            return "the member is already blocked"
        for cid, kind in sorted(member.votes):
            if self._counted(member, self.contributions[cid], kind):
                assert self.scorer is not None
                self.scorer.uncount(member.id, cid, kind)
        member.blocked_at, member.block_reason = position, body["reason"]
        if self.scorer:
            self.scorer.set_blocked(member.id, True)
        self.dirty_members.add(member.id)
        return None

    def _unblocked(self, position: int, actor: str, seq: int, body: dict[str, Any]) -> str | None:
        member = self.member(body["member"])
        if not member.blocked:
            return "the member is not blocked"
        member.blocked_at = member.block_reason = None
        for cid, kind in sorted(member.votes):
            if self._counted(member, self.contributions[cid], kind):
                assert self.scorer is not None
                self.scorer.count(member.id, cid, kind)
        if self.scorer:
            self.scorer.set_blocked(member.id, False)
        self.dirty_members.add(member.id)
        return None

    def _moderated(self, position: int, actor: str, seq: int, body: dict[str, Any]) -> str | None:
        contribution = self.contributions.get(body["contribution"])
        if contribution is None:
            return "unknown contribution"
        self._set_status(contribution, body["outcome"])
        contribution.appeal = None  # a new decision: an earlier appeal no longer applies
        self.moderation.append(
            Moderation(
                position,
                contribution.id,
                body["outcome"],
                body["reason"],
                body["note"],
                None if "reports" not in body else tuple(body["reports"]),
            )
        )
        return None

    def _set_status(self, contribution: Contribution, outcome: str) -> None:
        """Moderation (or a reinstating appeal) sets the piece's outcome: counters, scores."""

        def change() -> None:
            for author, _ in contribution.authors:
                counters = self.members[author].moderated
                if contribution.status in counters:
                    counters[contribution.status] -= 1
                counters[outcome] += 1
                self.dirty_members.add(author)
            contribution.status = outcome

        self._rescore(contribution, change)
        if isinstance(self.scorer, ScorerV2):
            self.scorer.set_outcome(contribution.id, outcome)

    def _rescore(self, contribution: Contribution, change: Callable[[], None]) -> None:
        """Apply ``change`` to the piece; if that excludes or includes it, recount its votes."""
        before = {vote: self._counted_vote(contribution, *vote) for vote in contribution.votes}
        was_excluded = contribution.excluded
        change()
        if self.scorer and was_excluded != contribution.excluded:
            for voter, kind in sorted(contribution.votes):
                now = self._counted_vote(contribution, voter, kind)
                if before[(voter, kind)] and not now:
                    self.scorer.uncount(voter, contribution.id, kind)
                elif now and not before[(voter, kind)]:
                    self.scorer.count(voter, contribution.id, kind)
                self.dirty_members.add(voter)
            self.scorer.set_excluded(contribution.id, contribution.excluded)
        self.dirty_contributions.add(contribution.id)

    def _appeal_filed(
        self, position: int, actor: str, seq: int, body: dict[str, Any]
    ) -> str | None:
        contribution = self.contributions.get(body["contribution"])
        if contribution is None:
            return "unknown contribution"
        if actor != contribution.signer:
            return "only the submitter may appeal"
        if contribution.status not in EXCLUDING_OUTCOMES:
            return "only a rejection or a removal can be appealed"
        appeal = Appeal(
            position,
            f"{actor}:{seq}",
            contribution.id,
            actor,
            contribution.status,
            body["reason"],
            body["text"],
        )
        self.appeals[appeal.id] = appeal
        contribution.appeal = appeal.id
        self.dirty_appeals.add(appeal.id)
        self.dirty_contributions.add(contribution.id)
        return None

    def _appeal_decided(
        self, position: int, actor: str, seq: int, body: dict[str, Any]
    ) -> str | None:
        contribution = self.contributions.get(body["contribution"])
        if contribution is None:
            return "unknown contribution"
        appeal = None if contribution.appeal is None else self.appeals[contribution.appeal]
        if appeal is None or appeal.outcome is not None:
            return "no undecided appeal of the contribution"
        appeal.decided_at, appeal.outcome = position, body["outcome"]
        appeal.decision_reason, appeal.note = body["reason"], body["note"]
        if appeal.outcome == REINSTATED:
            self._set_status(contribution, ACCEPTED)
        self.dirty_appeals.add(appeal.id)
        self.dirty_contributions.add(contribution.id)
        return None

    def _settled(self, position: int, actor: str, seq: int, body: dict[str, Any]) -> str | None:
        if self.closed_at is None:
            return "payouts are settled only after the campaign is closed"
        if self.settled is not None:
            return "the campaign's payouts are already settled"
        self.settled = (position, body)
        return None

    # -- member acts -----------------------------------------------------------------------

    def _joined(self, position: int, actor: str, seq: int, body: dict[str, Any]) -> str | None:
        member = self.member(actor)
        code = body.get("code")
        digest = None if code is None else invite_code_hash(self.id, code)
        if digest is not None:
            if self.invite_codes.get(digest, True):
                return "the invitation code is not an unused code of the campaign"
        elif self.membership == INVITE_ONLY and member.invited_at is None:
            return "the campaign is invite-only and the member was not invited"
        if member.blocked:
            return "the member is blocked"
        if member.joined_at is not None:
            return "the member already joined"
        if digest is not None:
            self.invite_codes[digest] = True
        member.joined_at = position
        self.joined += 1
        self.dirty_members.add(actor)
        return None

    def _acting(self, actor: str) -> str | None:
        member = self.members.get(actor)
        if member is None or member.joined_at is None:
            return "the actor has not joined the campaign"
        if member.blocked:
            return "the actor is blocked in the campaign"
        return None

    def _submitted(self, position: int, actor: str, seq: int, body: dict[str, Any]) -> str | None:
        problem = self._acting(actor)
        if problem:
            return problem
        cid = f"{actor}:{seq}"
        percents: dict[str, int] = {}
        for entry in body.get("authors") or [{"member": actor, "share": 100}]:
            percents[entry["member"]] = percents.get(entry["member"], 0) + entry["share"]
        if sum(percents.values()) != 100 or actor not in percents:
            raise ValueError(f"authors of {cid} must include the signer and sum to 100")
        parents = []
        for entry in body["derived_from"]:
            parent = self.contributions.get(entry["contribution"])
            if parent is None:
                return f"derived from unknown contribution {entry['contribution']}"
            if parent.status == REMOVED:
                return f"derived from removed contribution {parent.id}"
            if parent.unconsented:
                return f"derived from contribution {parent.id}, {consent_state(parent)}"
            declared = entry["share"]
            if declared is None:
                share = self.policy.remix_default_share if self.policy else ZERO
            else:
                share = parse_fraction(declared, "derived_from share")
            parents.append(Parent(parent.id, declared, share))
        authors = tuple(sorted(percents.items()))
        contribution = Contribution(
            cid,
            position,
            actor,
            body["kind"],
            body["title"],
            body["content"],
            authors,
            tuple(parents),
        )
        if self.consent:
            contribution.awaiting = tuple(m for m in percents if m != actor)
        self.contributions[cid] = contribution
        for member_id, _ in authors:
            member = self.member(member_id)
            member.authored.append(cid)
            member.coauthored += len(authors) > 1
            self.dirty_members.add(member_id)
        for parent_id in dict.fromkeys(p.contribution for p in parents):
            parent = self.contributions[parent_id]
            parent.children.append(cid)
            for author, _ in parent.authors:
                if author not in percents:
                    self.members[author].remixed_by_others += 1
                    self.dirty_members.add(author)
        if self.scorer:
            shares: dict[str, Fraction] = {}
            for p in parents:
                shares[p.contribution] = shares.get(p.contribution, ZERO) + p.share
            self.scorer.add_contribution(cid, position, authors, tuple(sorted(shares.items())))
            if contribution.excluded:
                self.scorer.set_excluded(cid, True)
        self.dirty_contributions.add(cid)
        self.new_contributions.append(cid)
        return None

    def _counted(self, member: Member, contribution: Contribution, kind: str) -> bool:
        return (
            self.weights.get(kind, 0) > 0
            and not member.blocked
            and not contribution.excluded
            and not (kind == COMMENT and self.silenced(contribution.id, member.id) is not None)
        )

    def silenced(self, contribution: str, voter: str) -> Comment | None:
        """The hidden comment the voter's live comment vote on ``contribution`` is tied to."""
        text = self.comment_votes.get((contribution, voter))
        return None if text is None else self.hidden_texts.get((contribution, voter, text))

    def _counted_vote(self, contribution: Contribution, voter: str, kind: str) -> bool:
        return self._counted(self.members[voter], contribution, kind)

    def _voted(self, position: int, actor: str, seq: int, body: dict[str, Any]) -> str | None:
        problem = self._acting(actor)
        contribution = self.contributions.get(body["contribution"])
        kind = body["kind"]
        if problem:
            return problem
        if contribution is None:
            return "unknown contribution"
        if contribution.status == REMOVED:
            return "the contribution was removed"
        if contribution.unconsented:
            return f"a vote on a contribution {consent_state(contribution)}"
        if actor in contribution.author_ids:
            return "a self-vote (the voter is an author)"
        member = self.members[actor]
        if (contribution.id, kind) in member.votes:
            return "a duplicate vote (same member, contribution and kind)"
        member.votes[(contribution.id, kind)] = position
        contribution.votes[(actor, kind)] = position
        if kind == COMMENT:
            self.comment_votes[(contribution.id, actor)] = body[COMMENT_FIELD]
        self._tally(contribution, kind, +1)
        if self._counted(member, contribution, kind):
            assert self.scorer is not None
            self.scorer.count(actor, contribution.id, kind)
        self.dirty_members.add(actor)
        return None

    def _withdrawn(self, position: int, actor: str, seq: int, body: dict[str, Any]) -> str | None:
        contribution = self.contributions.get(body["contribution"])
        member = self.members.get(actor)
        kind = body["kind"]
        if contribution is None or member is None or (contribution.id, kind) not in member.votes:
            return "no such vote to withdraw"
        counted = self._counted(member, contribution, kind)
        del member.votes[(contribution.id, kind)], contribution.votes[(actor, kind)]
        if kind == COMMENT:
            del self.comment_votes[(contribution.id, actor)]
        self._tally(contribution, kind, -1)
        if counted:
            assert self.scorer is not None
            self.scorer.uncount(actor, contribution.id, kind)
        self.dirty_members.add(actor)
        return None

    def _tally(self, contribution: Contribution, kind: str, step: int) -> None:
        if kind in contribution.received:
            contribution.received[kind] += step
            for author, _ in contribution.authors:
                self.members[author].received[kind] += step
                self.dirty_members.add(author)
        self.active_votes += step
        self.dirty_contributions.add(contribution.id)

    def _granted(self, position: int, actor: str, seq: int, body: dict[str, Any]) -> str | None:
        licence = body["licence"]
        contribution = self.contributions.get(licence.rsplit("/", 1)[0])
        if contribution is None:
            return "licence of an unknown contribution"
        if actor not in contribution.author_ids:
            return "only an author may grant a licence"
        if contribution.unconsented:
            return f"a licence of a contribution {consent_state(contribution)}"
        key = (licence, actor)
        if key not in self.grants:
            self.member(actor).licences += 1
            self.dirty_members.add(actor)
        self.grants[key] = Grant(licence, actor, contribution.id, dict(body), position)
        self.dirty_grants.add(key)
        return None

    def _revoked(self, position: int, actor: str, seq: int, body: dict[str, Any]) -> str | None:
        grant = self.grants.get((body["licence"], actor))
        if grant is None or grant.revoked_at is not None:
            return "no live grant of this licence by this author"
        grant.revoked_at = position
        self.dirty_grants.add((grant.licence, actor))
        return None

    def _reused(self, position: int, actor: str, seq: int, body: dict[str, Any]) -> str | None:
        contribution = self.contributions.get(body["contribution"])
        if contribution is None:
            return "unknown contribution"
        if contribution.unconsented:
            return f"a reuse of a contribution {consent_state(contribution)}"
        key = (body["channel"], body["territory"])
        distinct = key not in contribution.reuse_keys
        if distinct:
            contribution.reuse_keys[key] = position
            if self.scorer:
                self.scorer.set_reuses(contribution.id, len(contribution.reuse_keys))
        contribution.reuse_events += 1
        self.reuses.append(Reuse(position, contribution.id, body["licence"], *key, distinct))
        for author, _ in contribution.authors:
            self.members[author].reuses += 1
            self.dirty_members.add(author)
        self.dirty_contributions.add(contribution.id)
        return None

    def _answerable(self, actor: str, body: dict[str, Any]) -> Contribution | str:
        """The contribution a co-author answers for, or why the answer does not apply."""
        contribution = self.contributions.get(body["contribution"])
        if contribution is None:
            return "unknown contribution"
        if not self.consent:
            return "the campaign's policy asks no co-author consent"
        if contribution.declined_by is not None:
            return f"the contribution was declined by {contribution.declined_by}"
        if actor not in contribution.awaiting:
            return "the actor is not a co-author awaited by the contribution"
        return contribution

    def _coauthor_accepted(
        self, position: int, actor: str, seq: int, body: dict[str, Any]
    ) -> str | None:
        contribution = self._answerable(actor, body)
        if isinstance(contribution, str):
            return contribution
        contribution.awaiting = tuple(m for m in contribution.awaiting if m != actor)
        if self.scorer and not contribution.excluded:
            # It had no votes (they are refused while it is pending): nothing to recount.
            self.scorer.set_excluded(contribution.id, False)
        self.dirty_contributions.add(contribution.id)
        self.dirty_members.update(contribution.author_ids)
        return None

    def _coauthor_declined(
        self, position: int, actor: str, seq: int, body: dict[str, Any]
    ) -> str | None:
        contribution = self._answerable(actor, body)
        if isinstance(contribution, str):
            return contribution
        # It was pending, hence excluded already.
        contribution.declined_by, contribution.declined_at = actor, position
        self.dirty_contributions.add(contribution.id)
        self.dirty_members.update(contribution.author_ids)
        return None

    def _reported(self, position: int, actor: str, seq: int, body: dict[str, Any]) -> str | None:
        problem = self._acting(actor)
        if problem:
            return problem
        contribution = self.contributions.get(body["contribution"])
        if contribution is None:
            return "unknown contribution"
        if contribution.status == REMOVED:
            return "the contribution was removed"
        if actor in contribution.author_ids:
            return "the reporter is an author of the contribution"
        key = (contribution.id, actor)
        if key in self.reported:
            return "the member already reported the contribution"
        self.reported.add(key)
        self.reports.append(
            Report(position, f"{actor}:{seq}", contribution.id, actor, body["reason"], body["text"])
        )
        return None

    def _commented(self, position: int, actor: str, seq: int, body: dict[str, Any]) -> str | None:
        contribution = self.contributions.get(body["contribution"])
        if body["as_brand"]:
            if actor != self.brand:
                return "only the campaign's brand may comment as the brand"
        else:
            problem = self._acting(actor)
            if problem:
                return problem
        if contribution is None:
            return "unknown contribution"
        if contribution.status == REMOVED:
            return "the contribution was removed"
        if contribution.unconsented:
            return f"a comment on a contribution {consent_state(contribution)}"
        parent = None if body["parent"] is None else self.comments.get(body["parent"])
        if body["parent"] is not None and (
            parent is None or parent.contribution != contribution.id or parent.hidden
        ):
            return "the parent is not a shown comment of the same thread"
        cid = f"{actor}:{seq}"
        self.comments[cid] = Comment(
            position, cid, contribution.id, body["parent"], actor, body["text"], body["as_brand"]
        )
        self.dirty_comments.add(cid)
        return None

    def _comment_hidden(
        self, position: int, actor: str, seq: int, body: dict[str, Any]
    ) -> str | None:
        comment = self.comments.get(body[COMMENT_FIELD])
        if comment is None:
            return "unknown comment"
        if comment.hidden is not None:
            return "the comment is already hidden"
        cid, author = comment.contribution, comment.author
        key = (cid, author, comment.text)
        contribution, member = self.contributions[cid], self.members.get(author)
        tied = member is not None and self.comment_votes.get((cid, author)) == comment.text
        was = tied and member is not None and self._counted(member, contribution, COMMENT)
        comment.hidden = (position, body["reason"])
        self.dirty_comments.add(comment.id)
        self.hidden_texts.setdefault(key, comment)
        if was:
            assert self.scorer is not None
            self.scorer.uncount(author, cid, COMMENT)
        if tied:
            self.dirty_members.add(author)
            self.dirty_contributions.add(cid)
        return None

    def _comment_reported(
        self, position: int, actor: str, seq: int, body: dict[str, Any]
    ) -> str | None:
        # A comment report feeds the moderation queue only (like a piece's): no score.
        problem = self._acting(actor)
        if problem:
            return problem
        comment = self.comments.get(body[COMMENT_FIELD])
        if comment is None:
            return "unknown comment"
        if comment.hidden is not None:
            return "the comment is hidden"
        if actor == comment.author:
            return "the reporter wrote the comment"
        key = (comment.id, actor)
        if key in self.reported:
            return "the member already reported the comment"
        self.reported.add(key)
        self.reports.append(
            Report(
                position, f"{actor}:{seq}", comment.contribution, actor, body["reason"],
                body["text"], comment.id,
            )
        )  # fmt: skip
        return None

    # -- after a batch ---------------------------------------------------------------------

    def refresh(self) -> None:
        """Bring the scores up to date and collect the rows they changed."""
        if self.scorer is None:
            return
        self.scorer.refresh()
        self.dirty_contributions |= self.scorer.changed_contributions
        self.dirty_members |= self.scorer.changed_members
        self.scorer.changed_contributions = set()
        self.scorer.changed_members = set()

    def mark_written(self) -> None:
        """Forget what changed: the tables now hold every row of this state."""
        self.dirty_members, self.dirty_contributions, self.dirty_grants = set(), set(), set()
        self.dirty_appeals = set()
        self.dirty_comments = set()
        self.new_contributions = []
        self.written = {
            "reuses": len(self.reuses),
            "moderation": len(self.moderation),
            "reports": len(self.reports),
            "ignored": len(self.ignored),
        }

    def require_scorer(self) -> Scorer | ScorerV2:
        """The scorer, or ``UnsupportedPolicyError`` when the policy is not cocred-fair v1."""
        if self.scorer is None:
            assert self.policy_problem is not None
            raise UnsupportedPolicyError(
                f"campaign {self.id}: {self.policy_problem.detail}", campaign=self.id
            )
        return self.scorer


def consent_state(contribution: Contribution) -> str:
    """``"declined by X"`` or ``"awaiting co-author consent (X, Y)"``, for the ignored list."""
    if contribution.declined_by is not None:
        return f"declined by co-author {contribution.declined_by}"
    return f"awaiting co-author consent ({', '.join(contribution.awaiting)})"
