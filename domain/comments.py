"""Comment threads: comments and replies on a piece, the brand's hiding, reports on comments.

``CommentPosted`` names the contribution whose thread it joins, the parent comment it
answers (``null``: a comment on the piece itself), the hash of its text (the text is in
the content store) and ``as_brand`` (true only when the campaign's brand signs it: the
page marks it as the brand's). ``CommentHidden`` is the brand's: the comment stays in the
log, its text is no longer shown, and the comment vote that named it no longer counts.
``CommentReported`` is a member's report of a comment, one per member per comment.
The id of a comment (and of a comment report) is ``"<actor>:<seq>"`` of its envelope.

How the ``comment`` engagement is tied to a real comment: a ``VoteCast`` of kind
``comment`` carries the hash of a text; it is *tied* to the voter's comment on that piece
with the same text. In a campaign whose policy has ``comment_threads`` the vote must name
one (``CommentNotPostedError``), never a hidden one (``CommentHiddenError``); in every
campaign, a hidden comment silences the vote tied to it (``projections/campaign.py``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

from domain.campaign import campaign_of, require_owner, require_window
from domain.contributions import contribution_in, require_usable
from domain.errors import (
    BadCommentTextError,
    CommentHiddenError,
    CommentNotInThreadError,
    CommentNotPostedError,
    DuplicateReportError,
    MalformedBodyError,
    SelfReportError,
    UnknownCommentError,
    UnknownReportError,
)
from domain.membership import require_member
from domain.moderation import cited_reports
from domain.state import Rule, State
from domain.values import (
    CONTRIBUTION_ID,
    Fact,
    code,
    constants,
    contribution_id,
    contribution_ref,
    expect_keys,
    matching,
    one_of,
    sha256_hex,
)
from domain.vocabulary import COMMENT_HIDDEN, COMMENT_POSTED, COMMENT_REPORTED, REPORT_REASONS

REASONS = constants(*REPORT_REASONS)
MAX_COMMENT_BYTES = 4000  # a comment's text, UTF-8
_POSTED = frozenset({"contribution", "parent", "text", "as_brand"})
_HIDDEN = frozenset({"comment", "reason"})
_HIDDEN_OPTIONAL = frozenset({"reports"})
_REPORTED = frozenset({"comment", "reason", "text"})


@dataclass(frozen=True, slots=True)
class Comment:
    """A comment as the rules see it; ``hidden`` is the brand's reason once it hid it."""

    id: str
    campaign: str
    contribution: str
    parent: str | None
    author: str
    text: str
    as_brand: bool
    hidden: str | None = None


@dataclass(frozen=True, slots=True)
class ThreadEntry:
    """One comment of a thread as a reader sees it: ``text`` is None once it is hidden."""

    comment: Comment
    depth: int  # 0: on the piece; 1: a reply to such a comment; …
    text: str | None

    def to_json(self) -> dict[str, Any]:
        c = self.comment
        return {
            "comment": c.id,
            "parent": c.parent,
            "author": c.author,
            "as_brand": c.as_brand,
            "depth": self.depth,
            "hidden": c.hidden,
            "text": self.text,
        }


@dataclass(frozen=True, slots=True)
class ThreadPage:
    """Comments ``start`` to ``start + len(entries)`` of a piece's thread, of ``total``."""

    campaign: str
    contribution: str
    total: int
    start: int
    entries: tuple[ThreadEntry, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "campaign": self.campaign,
            "contribution": self.contribution,
            "total": self.total,
            "start": self.start,
            "comments": [entry.to_json() for entry in self.entries],
        }


def threaded(comments: Iterable[Comment]) -> list[tuple[Comment, int]]:
    """Comments (in log order) in reading order: each followed by its replies, with depth."""
    replies: dict[str | None, list[Comment]] = {}
    for comment in comments:
        replies.setdefault(comment.parent, []).append(comment)
    ordered: list[tuple[Comment, int]] = []
    stack = [(comment, 0) for comment in reversed(replies.get(None, []))]
    while stack:
        comment, depth = stack.pop()
        ordered.append((comment, depth))
        stack.extend((reply, depth + 1) for reply in reversed(replies.get(comment.id, [])))
    return ordered


def comment_in(state: State, campaign: str, comment: str) -> Comment:
    """The campaign's comment ``comment``; ``UnknownCommentError`` if there is none."""
    found = state.comments.get(comment)
    if found is None or found.campaign != campaign:
        raise UnknownCommentError(
            f"campaign {campaign} has no comment {comment}", campaign=campaign, comment=comment
        )
    return found


def require_shown(found: Comment, what: str) -> None:
    """Raise ``CommentHiddenError`` when the brand hid ``found``."""
    if found.hidden is not None:
        raise CommentHiddenError(
            f"comment {found.id} was hidden by the brand ({found.hidden}): no {what}",
            campaign=found.campaign,
            comment=found.id,
        )


def check_comment_text(data: bytes, digest: str | None = None) -> None:
    """Raise ``BadCommentTextError`` unless ``data`` is UTF-8 text of at most the limit."""
    named = "" if digest is None else f" {digest}"
    if len(data) > MAX_COMMENT_BYTES:
        raise BadCommentTextError(
            f"comment text{named} is {len(data)} bytes; a comment holds at most "
            f"{MAX_COMMENT_BYTES} bytes of UTF-8",
            size=len(data),
        )
    try:
        data.decode("utf-8", errors="strict")
    except UnicodeDecodeError:
        raise BadCommentTextError(
            f"comment text{named} is not UTF-8 text: a comment is written text",
            size=len(data),
        ) from None


def _comment_ref(ev: Fact, name: str, value: object) -> str:
    return matching(ev, name, value, CONTRIBUTION_ID, "a comment id '<actor>:<seq>'")


def check_posted(state: State, ev: Fact) -> Comment:
    body = expect_keys(ev, _POSTED)
    cid = contribution_ref(ev, "contribution", body["contribution"])
    parent = None if body["parent"] is None else _comment_ref(ev, "parent", body["parent"])
    text = sha256_hex(ev, "text", body["text"])
    as_brand = body["as_brand"]
    if type(as_brand) is not bool:
        raise MalformedBodyError(
            f"{ev.type} {ev.actor}:{ev.seq}: field 'as_brand' must be true or false, "
            f"got {as_brand!r}",
            actor=ev.actor,
        )
    campaign = campaign_of(state, ev)
    require_window(campaign, ev)
    if as_brand:
        require_owner(campaign, ev, "post comments marked as the brand's")
    else:
        require_member(state, campaign, ev.actor)
    found = contribution_in(state, campaign.id, cid)
    require_usable(found, "comments")
    if parent is not None:
        answered = comment_in(state, campaign.id, parent)
        if answered.contribution != found.id:
            raise CommentNotInThreadError(
                f"comment {parent} is on contribution {answered.contribution}, not {found.id}: "
                f"a reply stays in its parent's thread",
                campaign=campaign.id,
                contribution=found.id,
                comment=parent,
            )
        require_shown(answered, "replies")
    author = state.name(ev.actor)
    return Comment(
        contribution_id(author, ev.seq), campaign.id, found.id, parent, author, text, as_brand
    )


def store_posted(state: State, ev: Fact, comment: Comment) -> None:
    state.put(state.comments, comment.id, comment)
    key = (comment.contribution, comment.author, comment.text)
    if key not in state.commented:
        state.put(state.commented, key, comment.id)


def check_hidden(state: State, ev: Fact) -> Comment:
    body = expect_keys(ev, _HIDDEN, _HIDDEN_OPTIONAL)
    cid = _comment_ref(ev, "comment", body["comment"])
    reason = code(ev, "reason", body["reason"])
    cited = cited_reports(ev, body["reports"]) if "reports" in body else []
    campaign = campaign_of(state, ev)
    require_owner(campaign, ev, "hide comments")
    found = comment_in(state, campaign.id, cid)
    require_shown(found, "second hiding")
    for rid in cited:
        # A comment report's id is "<reporter>:<seq>", kept under (comment, reporter).
        reporter = rid.rsplit(":", 1)[0]
        if state.reported.get((found.id, reporter)) != rid:
            raise UnknownReportError(
                f"campaign {campaign.id} has no report {rid} about comment {found.id}: "
                f"a hiding cites only the reports about its comment",
                campaign=campaign.id,
                comment=found.id,
                report=rid,
            )
    return replace(found, hidden=reason)


def store_hidden(state: State, ev: Fact, comment: Comment) -> None:
    state.put(state.comments, comment.id, comment)


def check_comment_vote(state: State, required: bool, key: tuple[str, str, str]) -> None:
    """A comment vote ``key`` = (contribution, voter, text hash) names a comment it may.

    Raises ``CommentHiddenError`` when the voter's comment with that text was hidden, and,
    where ``required`` (the policy's ``comment_threads``), ``CommentNotPostedError``
    when the voter posted no comment with that text on the piece.
    """
    posted = state.commented.get(key)
    contribution, voter, text = key
    if posted is None:
        if required:
            found = state.contributions[contribution]
            raise CommentNotPostedError(
                f"member {voter} posted no comment with text {text} on contribution "
                f"{contribution}: a comment vote names the text of the voter's own comment",
                campaign=found.campaign,
                member=voter,
                contribution=contribution,
            )
        return
    require_shown(state.comments[posted], "comment vote")


def check_reported(state: State, ev: Fact) -> Comment:
    body = expect_keys(ev, _REPORTED)
    cid = _comment_ref(ev, "comment", body["comment"])
    one_of(ev, "reason", body["reason"], REASONS)
    if body["text"] is not None:
        sha256_hex(ev, "text", body["text"])
    campaign = campaign_of(state, ev)
    member = state.name(ev.actor)
    require_member(state, campaign, member)
    found = comment_in(state, campaign.id, cid)
    require_shown(found, "reports")
    ids = {"campaign": campaign.id, "member": member, "comment": found.id}
    if found.author == member:
        raise SelfReportError(
            f"member {member} wrote comment {found.id}: nobody reports their own comment", **ids
        )
    earlier = state.reported.get((found.id, member))
    if earlier is not None:
        raise DuplicateReportError(
            f"member {member} already reported comment {found.id} (report {earlier}): "
            f"one report per member per comment",
            report=earlier,
            **ids,
        )
    return found


def store_reported(state: State, ev: Fact, comment: Comment) -> None:
    # Comment and contribution ids never collide ("<actor>:<seq>", a seq is used once), so
    # the one-report-per-member map holds both.
    state.put(state.reported, (comment.id, state.name(ev.actor)), contribution_id(ev.actor, ev.seq))


RULES = {
    COMMENT_POSTED: Rule(check_posted, store_posted),
    COMMENT_HIDDEN: Rule(check_hidden, store_hidden),
    COMMENT_REPORTED: Rule(check_reported, store_reported),
}
