"""The vote aggregate: engagement (support, comment, save, share) cast and withdrawn.

A member has at most one live vote of each kind on a contribution, never on one
they (co-)authored, never on a removed one, and only inside the campaign window.
A comment vote carries the hash of the comment's text (the text is in the
content store): the text of the voter's ``CommentPosted`` on the piece, which ties the vote
to that comment (``domain/comments.py``).
"""

from __future__ import annotations

from domain.campaign import campaign_of, require_window
from domain.comments import check_comment_vote
from domain.contributions import contribution_in, require_usable
from domain.errors import DomainError, DuplicateVoteError, NoSuchVoteError, SelfVoteError
from domain.membership import require_member
from domain.state import Rule, State
from domain.values import Fact, constants, contribution_ref, expect_keys, one_of, sha256_hex
from domain.vocabulary import COMMENT, ENGAGEMENT_KINDS, VOTE_CAST, VOTE_WITHDRAWN

VOTE_KINDS = constants(*ENGAGEMENT_KINDS)
_FIELDS = frozenset({"contribution", "kind"})
_COMMENT_FIELDS = frozenset({"contribution", "kind", "comment"})

VoteKey = tuple[str, str, str]  # (contribution, member, kind)


def _vote(state: State, ev: Fact) -> tuple[VoteKey, str]:
    """Shape, campaign, window and membership checks shared by cast and withdraw."""
    body = ev.body
    cast = ev.type == VOTE_CAST
    kind = body.get("kind")
    expect_keys(ev, _COMMENT_FIELDS if cast and kind == COMMENT else _FIELDS)
    kind = one_of(ev, "kind", kind, VOTE_KINDS)
    if cast and kind == COMMENT:
        sha256_hex(ev, "comment", body["comment"])
    cid = contribution_ref(ev, "contribution", body["contribution"])
    campaign = campaign_of(state, ev)
    require_window(campaign, ev)
    require_member(state, campaign, ev.actor)
    found = contribution_in(state, campaign.id, cid)
    return (found.id, state.name(ev.actor), kind), campaign.id


def _refusal(error: type[DomainError], sentence: str, key: VoteKey, campaign: str) -> DomainError:
    """``error`` carrying the ids of the vote ``key`` refers to (raised by the caller)."""
    cid, member, _ = key
    return error(sentence, campaign=campaign, member=member, contribution=cid)


def check_cast(state: State, ev: Fact) -> VoteKey:
    key, campaign = _vote(state, ev)
    cid, member, kind = key
    found = state.contributions[cid]
    require_usable(found, "votes")
    if member in found.authors:
        raise _refusal(
            SelfVoteError,
            f"member {member} is an author of contribution {cid}: nobody votes on their own work",
            key,
            campaign,
        )
    if key in state.votes:
        raise _refusal(
            DuplicateVoteError,
            f"member {member} already has a live {kind} vote on contribution {cid}",
            key,
            campaign,
        )
    if kind == COMMENT:
        required = state.campaigns[campaign].policy.comment_threads
        check_comment_vote(state, required, (cid, member, ev.body["comment"]))
    return key


def apply_cast(state: State, ev: Fact, key: VoteKey) -> None:
    state.add(state.votes, key)


def check_withdrawn(state: State, ev: Fact) -> VoteKey:
    key, campaign = _vote(state, ev)
    if key not in state.votes:
        cid, member, kind = key
        raise _refusal(
            NoSuchVoteError,
            f"member {member} has no live {kind} vote on contribution {cid} to withdraw",
            key,
            campaign,
        )
    return key


def apply_withdrawn(state: State, ev: Fact, key: VoteKey) -> None:
    state.discard(state.votes, key)


RULES = {
    VOTE_CAST: Rule(check_cast, apply_cast),
    VOTE_WITHDRAWN: Rule(check_withdrawn, apply_withdrawn),
}
