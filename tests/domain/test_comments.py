"""Comment threads (issue 19): comments and replies on pieces, the brand's own comments and
its hiding, comment votes tied to a posted comment, and reports on comments.

The story first, then every refusal with its type, its exact sentence and nothing written.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any

import orjson
import pytest

from domain.comments import MAX_COMMENT_BYTES
from domain.errors import (
    BadCommentTextError,
    CampaignClosedError,
    CommentHiddenError,
    CommentNotInThreadError,
    CommentNotPostedError,
    DuplicateReportError,
    MalformedBodyError,
    MemberBlockedError,
    NotCampaignOwnerError,
    NotJoinedError,
    OutsideCampaignWindowError,
    PendingCoAuthorshipError,
    RemovedContributionError,
    SelfReportError,
    UnknownCommentError,
    UnknownContributionError,
    UnknownReportError,
)
from domain.policy import DEFAULT_POLICY
from tests.domain.conftest import CAMPAIGN, GUIDELINES, World, open_before_safeguards
from tests.domain.test_refusals import Case, _ts, assert_refused

THREADED = "threaded-26"


def _comment(w: World, who: Any, work: str, text: bytes = b"Lovely light.", **kw: Any) -> str:
    return str(w.c.post_comment(who, w.campaign, work, text, **kw).ids["comment"])


def _threaded(w: World) -> str:
    """A campaign whose policy has ``comment_threads``, Ben and Cy in it, and Ana's piece."""
    w.c.open_campaign(
        w.brand, THREADED, title="Threads", guidelines=GUIDELINES,
        policy={**DEFAULT_POLICY, "comment_threads": True},
        starts_at=w.now - timedelta(days=1), ends_at=w.now + timedelta(days=30),
    )  # fmt: skip
    for member in (w.ana, w.ben, w.cy):
        w.c.join(member, THREADED)
    receipt = w.c.submit(w.ana, THREADED, b"threaded piece", kind="idea", title="Piece")
    return str(receipt.ids["contribution"])


def test_a_thread_of_comments_replies_and_the_brands_answer(world: World) -> None:
    work = world.submit(world.ana)
    first = world.c.post_comment(world.ben, CAMPAIGN, work, b"Where was this taken?")
    comment = f"{world.ben.actor}:{first.seq}"
    assert first.type == "CommentPosted"
    assert first.ids == {"campaign": CAMPAIGN, "contribution": work, "comment": comment}
    own = _comment(world, world.ana, work, b"At the old harbour.", parent=comment)
    brand = _comment(world, world.brand, work, b"We love it.", parent=own, as_brand=True)
    thread = world.c.thread(CAMPAIGN, work)
    assert [(c.id, c.parent, c.as_brand) for c in thread] == [
        (comment, None, False),
        (own, comment, False),
        (brand, own, True),
    ]
    assert world.svc.content.get(thread[0].text) == b"Where was this taken?"


def test_the_brand_hides_a_comment_which_stays_in_the_log(world: World) -> None:
    work = world.submit(world.ana)
    comment = _comment(world, world.ben, work, b"Buy cheap followers here")
    size = world.size()
    world.c.hide_comment(world.brand, CAMPAIGN, comment, "spam")
    assert world.size() == size + 1
    (found,) = world.c.thread(CAMPAIGN, work)
    assert (found.id, found.hidden) == (comment, "spam")


def test_a_comment_vote_names_the_text_of_the_voters_comment(world: World) -> None:
    work = _threaded(world)
    text = b"The reflections are great."
    world.c.post_comment(world.ben, THREADED, work, text)
    world.c.cast_vote(world.ben, THREADED, work, "comment", comment=text)
    assert world.c.gate.read(lambda s: (work, world.ben.actor, "comment") in s.votes)


def test_a_legacy_campaign_takes_comment_votes_without_a_posted_comment(world: World) -> None:
    open_before_safeguards(world, "old-26")
    receipt = world.c.submit(world.ana, "old-26", b"old piece", kind="idea", title="Old")
    work = str(receipt.ids["contribution"])
    vote = world.c.cast_vote(world.ben, "old-26", work, "comment", comment=b"no thread here")
    assert vote.type == "VoteCast"


def test_a_new_campaign_ties_comment_votes_to_comments_by_default(world: World) -> None:
    assert world.c.campaign(CAMPAIGN).policy.comment_threads
    work = world.submit(world.ana)
    with pytest.raises(CommentNotPostedError) as caught:
        world.c.cast_vote(world.ben, CAMPAIGN, work, "comment", comment=b"no thread here")
    text = hashlib.sha256(b"no thread here").hexdigest()
    assert caught.value.detail == (
        f"member {world.ben.actor} posted no comment with text {text} on contribution {work}: "
        "a comment vote names the text of the voter's own comment"
    )


def test_members_report_a_comment_once_each(world: World) -> None:
    work = world.submit(world.ana)
    comment = _comment(world, world.ben, work)
    receipt = world.c.report_comment(world.ana, CAMPAIGN, comment, "harassment", text=b"rude")
    assert receipt.type == "CommentReported"
    assert receipt.ids["report"] == f"{world.ana.actor}:{receipt.seq}"
    world.c.report_comment(world.cy, CAMPAIGN, comment, "spam")


def test_a_comments_text_over_the_limit_is_refused_before_it_is_stored(world: World) -> None:
    work = world.submit(world.ana)
    text = b"x" * (MAX_COMMENT_BYTES + 1)
    with pytest.raises(BadCommentTextError) as caught:
        world.c.post_comment(world.ben, CAMPAIGN, work, text)
    assert caught.value.detail == (
        f"comment text is {MAX_COMMENT_BYTES + 1} bytes; a comment holds at most "
        f"{MAX_COMMENT_BYTES} bytes of UTF-8"
    )
    assert not world.svc.content.has(hashlib.sha256(text).hexdigest())


def test_a_comments_text_that_is_not_utf8_is_refused(world: World) -> None:
    work = world.submit(world.ana)
    with pytest.raises(BadCommentTextError) as caught:
        world.c.post_comment(world.ben, CAMPAIGN, work, b"\xff\xfe")
    assert caught.value.detail == "comment text is not UTF-8 text: a comment is written text"


REFUSALS: dict[str, Any] = {}


def refusal(name: str) -> Any:
    def register(arrange: Any) -> Any:
        REFUSALS[name] = arrange
        return arrange

    return register


@refusal("a comment by someone who never joined")
def _(w: World) -> Case:
    work = w.submit(w.ana)
    return (
        lambda: w.c.post_comment(w.dee, CAMPAIGN, work, b"hi"),
        NotJoinedError,
        f"member {w.dee.actor} has not joined campaign {CAMPAIGN}",
    )


@refusal("a comment by a blocked member")
def _(w: World) -> Case:
    work = w.submit(w.ana)
    w.c.block(w.brand, CAMPAIGN, w.ben.actor, "spam-ring")
    return (
        lambda: w.c.post_comment(w.ben, CAMPAIGN, work, b"hi"),
        MemberBlockedError,
        f"member {w.ben.actor} is blocked in campaign {CAMPAIGN} (spam-ring)",
    )


@refusal("a member's comment marked as the brand's")
def _(w: World) -> Case:
    work = w.submit(w.ana)
    return (
        lambda: w.c.post_comment(w.ben, CAMPAIGN, work, b"official", as_brand=True),
        NotCampaignOwnerError,
        f"only the brand {w.brand.actor} of campaign {CAMPAIGN} may post comments marked as "
        f"the brand's; {w.ben.actor} may not",
    )


@refusal("the brand's comment not marked as the brand's (the brand is no member)")
def _(w: World) -> Case:
    work = w.submit(w.ana)
    return (
        lambda: w.c.post_comment(w.brand, CAMPAIGN, work, b"anonymous"),
        NotJoinedError,
        f"member {w.brand.actor} has not joined campaign {CAMPAIGN}",
    )


@refusal("a comment on a contribution the campaign does not have")
def _(w: World) -> Case:
    ghost = f"{w.ana.actor}:99"
    return (
        lambda: w.c.post_comment(w.ben, CAMPAIGN, ghost, b"hi"),
        UnknownContributionError,
        f"campaign {CAMPAIGN} has no contribution {ghost}",
    )


@refusal("a comment on a removed piece")
def _(w: World) -> Case:
    work = w.submit(w.ana)
    w.c.moderate(w.brand, CAMPAIGN, work, "removed", "spam")
    return (
        lambda: w.c.post_comment(w.ben, CAMPAIGN, work, b"hi"),
        RemovedContributionError,
        f"contribution {work} was removed by moderation: no comments",
    )


@refusal("a comment on a piece awaiting its co-author's consent")
def _(w: World) -> Case:
    work = w.submit(w.ana, authors=[(w.ana.actor, 60), (w.cy.actor, 40)])
    return (
        lambda: w.c.post_comment(w.ben, CAMPAIGN, work, b"hi"),
        PendingCoAuthorshipError,
        f"contribution {work} awaits the consent of co-author(s) {w.cy.actor}: no comments "
        f"until each accepts",
    )


@refusal("a comment before the campaign's start")
def _(w: World) -> Case:
    work = w.submit(w.ana)
    late = w.now - timedelta(days=2)
    return (
        lambda: w.c.post_comment(w.ben, CAMPAIGN, work, b"early", at=late),
        OutsideCampaignWindowError,
        f"campaign {CAMPAIGN} takes submissions and votes from "
        f"{_ts(w.now - timedelta(days=1))} to {_ts(w.now + timedelta(days=30))}; "
        f"CommentPosted at {_ts(late)} is outside",
    )


@refusal("a comment after the close")
def _(w: World) -> Case:
    work = w.submit(w.ana)
    w.c.close_campaign(w.brand, CAMPAIGN, unreviewed="accept")
    return (
        lambda: w.c.post_comment(w.ben, CAMPAIGN, work, b"hi"),
        CampaignClosedError,
        f"campaign {CAMPAIGN} is closed: CommentPosted is refused",
    )


@refusal("a reply to a comment nobody posted")
def _(w: World) -> Case:
    work = w.submit(w.ana)
    ghost = f"{w.cy.actor}:77"
    return (
        lambda: w.c.post_comment(w.ben, CAMPAIGN, work, b"re", parent=ghost),
        UnknownCommentError,
        f"campaign {CAMPAIGN} has no comment {ghost}",
    )


@refusal("a reply naming a piece, not a comment, as its parent")
def _(w: World) -> Case:
    work = w.submit(w.ana)
    return (
        lambda: w.c.post_comment(w.ben, CAMPAIGN, work, b"re", parent=work),
        UnknownCommentError,
        f"campaign {CAMPAIGN} has no comment {work}",
    )


@refusal("a reply to a comment in another piece's thread")
def _(w: World) -> Case:
    work, other = w.submit(w.ana), w.submit(w.cy, "Other")
    there = _comment(w, w.ben, other)
    return (
        lambda: w.c.post_comment(w.ben, CAMPAIGN, work, b"re", parent=there),
        CommentNotInThreadError,
        f"comment {there} is on contribution {other}, not {work}: a reply stays in its "
        f"parent's thread",
    )


@refusal("a reply to a hidden comment")
def _(w: World) -> Case:
    work = w.submit(w.ana)
    comment = _comment(w, w.ben, work)
    w.c.hide_comment(w.brand, CAMPAIGN, comment, "off-topic")
    return (
        lambda: w.c.post_comment(w.cy, CAMPAIGN, work, b"re", parent=comment),
        CommentHiddenError,
        f"comment {comment} was hidden by the brand (off-topic): no replies",
    )


@refusal("a comment whose as_brand is not true or false")
def _(w: World) -> Case:
    from domain import commands

    work = w.submit(w.ana)
    seq = w.svc.ledger.next_seq(w.ben.actor)
    env = commands.comment_posted(
        w.ben, CAMPAIGN, work, text="a" * 64, as_brand="yes",  # type: ignore[arg-type]
        seq=seq, at=w.now,
    )  # fmt: skip
    return (
        lambda: w.c.gate.append(env),
        MalformedBodyError,
        f"CommentPosted {w.ben.actor}:{seq}: field 'as_brand' must be true or false, got 'yes'",
    )


@refusal("hiding a comment twice")
def _(w: World) -> Case:
    work = w.submit(w.ana)
    comment = _comment(w, w.ben, work)
    w.c.hide_comment(w.brand, CAMPAIGN, comment, "spam")
    return (
        lambda: w.c.hide_comment(w.brand, CAMPAIGN, comment, "spam"),
        CommentHiddenError,
        f"comment {comment} was hidden by the brand (spam): no second hiding",
    )


@refusal("hiding a comment nobody posted")
def _(w: World) -> Case:
    ghost = f"{w.ben.actor}:40"
    return (
        lambda: w.c.hide_comment(w.brand, CAMPAIGN, ghost, "spam"),
        UnknownCommentError,
        f"campaign {CAMPAIGN} has no comment {ghost}",
    )


@refusal("a member hiding a comment")
def _(w: World) -> Case:
    work = w.submit(w.ana)
    comment = _comment(w, w.ben, work)
    return (
        lambda: w.c.hide_comment(w.ana, CAMPAIGN, comment, "spam"),
        NotCampaignOwnerError,
        f"only the brand {w.brand.actor} of campaign {CAMPAIGN} may hide comments; "
        f"{w.ana.actor} may not",
    )


@refusal("a comment vote naming no comment, where the policy ties them")
def _(w: World) -> Case:
    work = _threaded(w)
    text = b"never posted"
    digest = w.svc.content.put(text)
    return (
        lambda: w.c.cast_vote(w.ben, THREADED, work, "comment", comment=text),
        CommentNotPostedError,
        f"member {w.ben.actor} posted no comment with text {digest} on contribution {work}: "
        f"a comment vote names the text of the voter's own comment",
    )


@refusal("a comment vote naming another member's comment, where the policy ties them")
def _(w: World) -> Case:
    work = _threaded(w)
    text = b"Cy's words"
    w.c.post_comment(w.cy, THREADED, work, text)
    digest = w.svc.content.put(text)
    return (
        lambda: w.c.cast_vote(w.ben, THREADED, work, "comment", comment=text),
        CommentNotPostedError,
        f"member {w.ben.actor} posted no comment with text {digest} on contribution {work}: "
        f"a comment vote names the text of the voter's own comment",
    )


@refusal("a comment vote naming a hidden comment")
def _(w: World) -> Case:
    work = w.submit(w.ana)
    text = b"spammy"
    comment = _comment(w, w.ben, work, text)
    w.c.hide_comment(w.brand, CAMPAIGN, comment, "spam")
    return (
        lambda: w.c.cast_vote(w.ben, CAMPAIGN, work, "comment", comment=text),
        CommentHiddenError,
        f"comment {comment} was hidden by the brand (spam): no comment vote",
    )


@refusal("a member reports their own comment")
def _(w: World) -> Case:
    work = w.submit(w.ana)
    comment = _comment(w, w.ben, work)
    return (
        lambda: w.c.report_comment(w.ben, CAMPAIGN, comment, "spam"),
        SelfReportError,
        f"member {w.ben.actor} wrote comment {comment}: nobody reports their own comment",
    )


@refusal("a member reports the same comment twice")
def _(w: World) -> Case:
    work = w.submit(w.ana)
    comment = _comment(w, w.ben, work)
    first = w.c.report_comment(w.cy, CAMPAIGN, comment, "spam")
    return (
        lambda: w.c.report_comment(w.cy, CAMPAIGN, comment, "harassment"),
        DuplicateReportError,
        f"member {w.cy.actor} already reported comment {comment} "
        f"(report {w.cy.actor}:{first.seq}): one report per member per comment",
    )


@refusal("a report of a comment nobody posted")
def _(w: World) -> Case:
    ghost = f"{w.ben.actor}:41"
    return (
        lambda: w.c.report_comment(w.cy, CAMPAIGN, ghost, "spam"),
        UnknownCommentError,
        f"campaign {CAMPAIGN} has no comment {ghost}",
    )


@refusal("a report of a hidden comment")
def _(w: World) -> Case:
    work = w.submit(w.ana)
    comment = _comment(w, w.ben, work)
    w.c.hide_comment(w.brand, CAMPAIGN, comment, "spam")
    return (
        lambda: w.c.report_comment(w.cy, CAMPAIGN, comment, "spam"),
        CommentHiddenError,
        f"comment {comment} was hidden by the brand (spam): no reports",
    )


@refusal("a report of a comment by someone who never joined")
def _(w: World) -> Case:
    work = w.submit(w.ana)
    comment = _comment(w, w.ben, work)
    return (
        lambda: w.c.report_comment(w.dee, CAMPAIGN, comment, "spam"),
        NotJoinedError,
        f"member {w.dee.actor} has not joined campaign {CAMPAIGN}",
    )


@refusal("a policy whose comment_threads is not true or false")
def _(w: World) -> Case:
    policy = {**DEFAULT_POLICY, "comment_threads": "yes"}
    return (
        lambda: w.c.open_campaign(
            w.brand,
            "fuzzy-26",
            title="Fuzzy",
            guidelines=GUIDELINES,
            policy=policy,
            starts_at=w.now,
            ends_at=w.now + timedelta(days=1),
        ),  # fmt: skip
        MalformedBodyError,
        "CampaignOpened body: field 'policy.comment_threads' must be true or false, got 'yes'",
    )


def test_the_brand_hides_a_comment_citing_its_reports(world: World) -> None:
    w = world
    work = w.submit(w.ana)
    comment = _comment(w, w.ben, work)
    first = w.c.report_comment(w.ana, CAMPAIGN, comment, "harassment").ids["report"]
    second = w.c.report_comment(w.cy, CAMPAIGN, comment, "spam").ids["report"]
    receipt = w.c.hide_comment(w.brand, CAMPAIGN, comment, "abuse", reports=[first, second])
    assert receipt.type == "CommentHidden"
    [hidden] = [e for e in w.svc.ledger.store.iterate() if e.type == "CommentHidden"]
    assert orjson.loads(hidden.data)["body"] == {
        "comment": comment, "reason": "abuse", "reports": [first, second],
    }  # fmt: skip


@refusal("a hiding citing a report about another comment")
def _(w: World) -> Case:
    work = w.submit(w.ana)
    comment, other = _comment(w, w.ben, work), _comment(w, w.cy, work, b"Nice.")
    report = w.c.report_comment(w.ana, CAMPAIGN, other, "spam").ids["report"]
    return (
        lambda: w.c.hide_comment(w.brand, CAMPAIGN, comment, "abuse", reports=[report]),
        UnknownReportError,
        f"campaign {CAMPAIGN} has no report {report} about comment {comment}: a hiding cites "
        f"only the reports about its comment",
    )


@refusal("a hiding citing a report about a piece")
def _(w: World) -> Case:
    work = w.submit(w.ana)
    comment = _comment(w, w.ben, work)
    report = w.c.report(w.cy, CAMPAIGN, work, "spam").ids["report"]
    return (
        lambda: w.c.hide_comment(w.brand, CAMPAIGN, comment, "abuse", reports=[report]),
        UnknownReportError,
        f"campaign {CAMPAIGN} has no report {report} about comment {comment}: a hiding cites "
        f"only the reports about its comment",
    )


@refusal("a hiding citing one report twice")
def _(w: World) -> Case:
    work = w.submit(w.ana)
    comment = _comment(w, w.ben, work)
    report = w.c.report_comment(w.ana, CAMPAIGN, comment, "spam").ids["report"]
    return (
        lambda: w.c.hide_comment(w.brand, CAMPAIGN, comment, "abuse", reports=[report, report]),
        MalformedBodyError,
        f"CommentHidden body: field 'reports' names report {report} twice",
    )


@refusal("a hiding citing an empty list of reports")
def _(w: World) -> Case:
    work = w.submit(w.ana)
    comment = _comment(w, w.ben, work)
    return (
        lambda: w.c.hide_comment(w.brand, CAMPAIGN, comment, "abuse", reports=[]),
        MalformedBodyError,
        "CommentHidden body: field 'reports' must be a list of 1-100 report ids (leave it out "
        "to cite none)",
    )


@pytest.mark.parametrize("name", list(REFUSALS))
def test_a_refused_comment_names_its_reason_and_writes_nothing(world: World, name: str) -> None:
    assert_refused(world, REFUSALS[name])
