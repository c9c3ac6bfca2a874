"""The review phase and appeals (issue 19).

A campaign whose policy has ``review`` and ``appeal_window``: moderation and appeals go on
between ``ends_at`` and the close; the close says what becomes of unreviewed pieces; the
submitter of a rejected or removed piece appeals once, the brand upholds or reinstates.
The stories first, then every refusal with its type, its exact sentence and nothing written.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from domain.errors import (
    AlreadyAppealedError,
    AppealAlreadyDecidedError,
    AppealsNotOfferedError,
    AppealUndecidedError,
    AppealWindowClosedError,
    CampaignClosedError,
    MalformedBodyError,
    NoAppealError,
    NotCampaignOwnerError,
    NothingToAppealError,
    NotSubmitterError,
    OutsideCampaignWindowError,
    RemovedContributionError,
    UnreviewedPiecesError,
)
from domain.vocabulary import DEFAULT_POLICY
from tests.domain.conftest import CAMPAIGN, GUIDELINES, World, open_before_safeguards
from tests.domain.test_refusals import Case, assert_refused

REVIEWED = "review-26"
HOUR = 3600
POLICY = {**DEFAULT_POLICY, "coauthor_consent": False, "review": True, "appeal_window": HOUR}


def reviewed(w: World, *, ended: bool = False) -> World:
    """Open ``REVIEWED`` (review and a one-hour appeal window; ``ended``: its ``ends_at`` has
    passed) with Ana, Ben and Cy in it, and point the world at it."""
    w.c.open_campaign(
        w.brand,
        REVIEWED,
        title="Reviewed campaign",
        guidelines=GUIDELINES,
        starts_at=w.now - timedelta(days=2),
        ends_at=w.now - timedelta(hours=2) if ended else w.now + timedelta(days=30),
        membership="open",
        pool=10_000,
        policy=POLICY,
        at=w.now - timedelta(days=2),
    )
    for member in (w.ana, w.ben, w.cy):
        w.c.join(member, REVIEWED, at=w.now - timedelta(days=2))
    w.campaign = REVIEWED
    return w


def submitted(w: World, who: Any, title: str = "Harbour at dusk", **kw: Any) -> str:
    """A piece submitted a day ago (inside either window)."""
    return w.submit(who, title, at=w.now - timedelta(days=1), **kw)


def rejected(w: World, who: Any, outcome: str = "rejected", **kw: Any) -> str:
    work = submitted(w, who, **kw)
    w.c.moderate(w.brand, REVIEWED, work, outcome, "off-guidelines", at=w.now)
    return work


def piece(w: World, work: str) -> Any:
    return w.c.gate.read(lambda state: state.contributions[work])


# -- the stories -------------------------------------------------------------------------------


def test_moderation_goes_on_after_ends_at_while_submissions_and_votes_stop(world: World) -> None:
    w = reviewed(world, ended=True)
    work = submitted(w, w.ana)
    w.c.moderate(w.brand, REVIEWED, work, "accepted", "fine", at=w.now)
    assert piece(w, work).outcome == "accepted"
    with pytest.raises(OutsideCampaignWindowError):
        w.c.cast_vote(w.ben, REVIEWED, work, "support", at=w.now)
    with pytest.raises(OutsideCampaignWindowError):
        w.submit(w.ben, "Late", at=w.now)


def test_a_rejection_appealed_and_reinstated_counts_again(world: World) -> None:
    w = reviewed(world, ended=True)
    work = rejected(w, w.ana)
    receipt = w.c.appeal(w.ana, REVIEWED, work, "misjudged", text=b"It follows the brief.")
    assert receipt.type == "AppealFiled"
    assert piece(w, work).appeal == "filed"
    w.c.decide_appeal(w.brand, REVIEWED, work, "reinstated", "fair-point")
    found = piece(w, work)
    assert (found.outcome, found.appeal) == ("accepted", "reinstated")
    assert found.to_json()["appeal"] == "reinstated"
    w.c.close_campaign(w.brand, REVIEWED)


def test_a_removal_appealed_and_reinstated_takes_votes_again(world: World) -> None:
    w = reviewed(world)
    work = rejected(w, w.ana, "removed")
    w.c.appeal(w.ana, REVIEWED, work, "misjudged")
    with pytest.raises(RemovedContributionError):  # removed until the brand decides
        w.c.cast_vote(w.ben, REVIEWED, work, "support")
    w.c.decide_appeal(w.brand, REVIEWED, work, "reinstated", "fair-point")
    w.c.cast_vote(w.ben, REVIEWED, work, "support")


def test_an_upheld_removal_is_final(world: World) -> None:
    w = reviewed(world)
    work = rejected(w, w.ana, "removed")
    w.c.appeal(w.ana, REVIEWED, work, "misjudged")
    w.c.decide_appeal(w.brand, REVIEWED, work, "upheld", "plagiarism")
    assert (piece(w, work).outcome, piece(w, work).appeal) == ("removed", "upheld")
    with pytest.raises(RemovedContributionError):
        w.c.moderate(w.brand, REVIEWED, work, "accepted", "fine")


def test_a_new_decision_may_be_appealed_again(world: World) -> None:
    w = reviewed(world)
    work = rejected(w, w.ana)
    w.c.appeal(w.ana, REVIEWED, work, "misjudged")
    w.c.decide_appeal(w.brand, REVIEWED, work, "reinstated", "fair-point")
    w.c.moderate(w.brand, REVIEWED, work, "rejected", "spam", at=w.now)
    assert piece(w, work).appeal is None
    w.c.appeal(w.ana, REVIEWED, work, "misjudged")


@pytest.mark.parametrize("unreviewed", ["accept", "reject"])
def test_a_close_with_unreviewed_pieces_says_what_becomes_of_them(
    world: World, unreviewed: str
) -> None:
    w = reviewed(world)
    submitted(w, w.ana)
    receipt = w.c.close_campaign(w.brand, REVIEWED, unreviewed=unreviewed)
    assert receipt.type == "CampaignClosed"
    assert w.c.campaign(REVIEWED).closed


def test_a_close_with_every_piece_reviewed_needs_no_unreviewed(world: World) -> None:
    w = reviewed(world)
    work = submitted(w, w.ana)
    w.c.moderate(w.brand, REVIEWED, work, "accepted", "fine")
    w.c.close_campaign(w.brand, REVIEWED)


def test_a_campaign_without_review_closes_as_before(world: World) -> None:
    open_before_safeguards(world, "old-26")
    world.c.submit(world.ana, "old-26", b"old piece", kind="idea", title="Old")
    assert world.c.close_campaign(world.brand, "old-26").type == "CampaignClosed"


def test_a_new_campaign_reviews_and_takes_appeals_by_default(world: World) -> None:
    policy = world.c.campaign(CAMPAIGN).policy
    assert (policy.review, policy.appeal_window) == (True, 7 * 24 * 3600)
    world.submit(world.ana)
    with pytest.raises(UnreviewedPiecesError) as caught:
        world.c.close_campaign(world.brand, CAMPAIGN)
    assert caught.value.detail == (
        f"campaign {CAMPAIGN} has 1 piece(s) awaiting review: moderate them or close with "
        "unreviewed accept or reject"
    )


def test_the_policy_fields_are_checked(world: World) -> None:
    for field, value, sentence in (
        ("review", "yes", "field 'policy.review' must be true or false, got 'yes'"),
        (
            "appeal_window",
            -1,
            "field 'policy.appeal_window' must be seconds from 0 to 7776000 (90 days), got -1",
        ),
    ):
        with pytest.raises(MalformedBodyError) as caught:
            world.c.open_campaign(
                world.brand,
                f"bad-{field.replace('_', '-')}",
                title="Bad",
                guidelines=GUIDELINES,
                starts_at=world.now,
                ends_at=world.now + timedelta(days=1),
                policy={**DEFAULT_POLICY, field: value},
            )
        assert caught.value.detail == f"CampaignOpened body: {sentence}"


# -- the refusals ------------------------------------------------------------------------------

REFUSALS: dict[str, Any] = {}


def refusal(name: str) -> Any:
    def register(arrange: Any) -> Any:
        REFUSALS[name] = arrange
        return arrange

    return register


@refusal("a close while pieces await review and the close does not say unreviewed")
def _(w: World) -> Case:
    reviewed(w)
    submitted(w, w.ana)
    submitted(w, w.ben, "Pier")
    return (
        lambda: w.c.close_campaign(w.brand, REVIEWED),
        UnreviewedPiecesError,
        f"campaign {REVIEWED} has 2 piece(s) awaiting review: moderate them or close with "
        f"unreviewed accept or reject",
    )


@refusal("a close with an unreviewed value outside the list")
def _(w: World) -> Case:
    reviewed(w)
    return (
        lambda: w.c.close_campaign(w.brand, REVIEWED, unreviewed="pay"),
        MalformedBodyError,
        "CampaignClosed body: field 'unreviewed' must be one of accept, reject, got 'pay'",
    )


@refusal("a close while an appeal awaits the brand")
def _(w: World) -> Case:
    reviewed(w)
    work = rejected(w, w.ana)
    w.c.appeal(w.ana, REVIEWED, work, "misjudged")
    return (
        lambda: w.c.close_campaign(w.brand, REVIEWED, unreviewed="accept"),
        AppealUndecidedError,
        f"campaign {REVIEWED} has 1 appeal(s) awaiting the brand's decision "
        f"(first: contribution {work}): decide them before the close",
    )


@refusal("a new moderation while an appeal awaits the brand")
def _(w: World) -> Case:
    reviewed(w)
    work = rejected(w, w.ana)
    w.c.appeal(w.ana, REVIEWED, work, "misjudged")
    return (
        lambda: w.c.moderate(w.brand, REVIEWED, work, "accepted", "fine"),
        AppealUndecidedError,
        f"an appeal against the moderation of contribution {work} awaits the brand's "
        f"decision: decide it before moderating it again",
    )


@refusal("an appeal in a campaign whose policy has no appeal window")
def _(w: World) -> Case:
    open_before_safeguards(w, "old-26")
    receipt = w.c.submit(w.ana, "old-26", b"old piece", kind="idea", title="Old")
    work = str(receipt.ids["contribution"])
    w.c.moderate(w.brand, "old-26", work, "rejected", "spam")
    return (
        lambda: w.c.appeal(w.ana, "old-26", work, "misjudged"),
        AppealsNotOfferedError,
        "campaign old-26's policy has no appeal_window: it takes no appeals",
    )


@refusal("an appeal by someone who did not submit the piece")
def _(w: World) -> Case:
    reviewed(w)
    work = rejected(w, w.ana, authors=[(w.ana.actor, 60), (w.ben.actor, 40)])
    return (
        lambda: w.c.appeal(w.ben, REVIEWED, work, "misjudged"),
        NotSubmitterError,
        f"only the submitter {w.ana.actor} of contribution {work} may appeal its "
        f"moderation; {w.ben.actor} may not",
    )


@refusal("a second appeal against the same decision")
def _(w: World) -> Case:
    reviewed(w)
    work = rejected(w, w.ana)
    w.c.appeal(w.ana, REVIEWED, work, "misjudged")
    w.c.decide_appeal(w.brand, REVIEWED, work, "upheld", "spam")
    return (
        lambda: w.c.appeal(w.ana, REVIEWED, work, "misjudged"),
        AlreadyAppealedError,
        f"the rejected decision on contribution {work} was already appealed (upheld): "
        f"one appeal per decision",
    )


@refusal("an appeal after the appeal window")
def _(w: World) -> Case:
    reviewed(w)
    work = submitted(w, w.ana)
    decided = w.now - timedelta(hours=1, seconds=1)
    w.c.moderate(w.brand, REVIEWED, work, "rejected", "spam", at=decided)
    deadline = (decided + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return (
        lambda: w.c.appeal(w.ana, REVIEWED, work, "misjudged", at=w.now),
        AppealWindowClosedError,
        f"the appeal window of the rejected decision on contribution {work} ended at "
        f"{deadline}; the appeal at {w.now.strftime('%Y-%m-%dT%H:%M:%SZ')} is too late",
    )


@refusal("an appeal of an accepted piece")
def _(w: World) -> Case:
    reviewed(w)
    work = rejected(w, w.ana, "accepted")
    return (
        lambda: w.c.appeal(w.ana, REVIEWED, work, "misjudged"),
        NothingToAppealError,
        f"contribution {work} is accepted: only a rejection or a removal can be appealed",
    )


@refusal("an appeal of a piece nobody moderated")
def _(w: World) -> Case:
    reviewed(w)
    work = submitted(w, w.ana)
    return (
        lambda: w.c.appeal(w.ana, REVIEWED, work, "misjudged"),
        NothingToAppealError,
        f"contribution {work} is not moderated: only a rejection or a removal can be appealed",
    )


@refusal("an appeal after the close")
def _(w: World) -> Case:
    reviewed(w)
    work = rejected(w, w.ana)
    w.c.close_campaign(w.brand, REVIEWED)
    return (
        lambda: w.c.appeal(w.ana, REVIEWED, work, "misjudged"),
        CampaignClosedError,
        f"campaign {REVIEWED} is closed: AppealFiled is refused",
    )


@refusal("a decision by someone other than the brand")
def _(w: World) -> Case:
    reviewed(w)
    work = rejected(w, w.ana)
    w.c.appeal(w.ana, REVIEWED, work, "misjudged")
    return (
        lambda: w.c.decide_appeal(w.ana, REVIEWED, work, "reinstated", "mine"),
        NotCampaignOwnerError,
        f"only the brand {w.brand.actor} of campaign {REVIEWED} may decide appeals; "
        f"{w.ana.actor} may not",
    )


@refusal("a second decision on the same appeal")
def _(w: World) -> Case:
    reviewed(w)
    work = rejected(w, w.ana)
    w.c.appeal(w.ana, REVIEWED, work, "misjudged")
    w.c.decide_appeal(w.brand, REVIEWED, work, "upheld", "spam")
    return (
        lambda: w.c.decide_appeal(w.brand, REVIEWED, work, "reinstated", "changed-mind"),
        AppealAlreadyDecidedError,
        f"the appeal on contribution {work} was already decided (upheld)",
    )


@refusal("a decision without an appeal")
def _(w: World) -> Case:
    reviewed(w)
    work = rejected(w, w.ana)
    return (
        lambda: w.c.decide_appeal(w.brand, REVIEWED, work, "reinstated", "fine"),
        NoAppealError,
        f"no appeal was filed against the latest moderation of contribution {work}",
    )


@refusal("a decision with an outcome outside the list")
def _(w: World) -> Case:
    reviewed(w)
    work = rejected(w, w.ana)
    w.c.appeal(w.ana, REVIEWED, work, "misjudged")
    return (
        lambda: w.c.decide_appeal(w.brand, REVIEWED, work, "accepted", "fine"),
        MalformedBodyError,
        "AppealDecided body: field 'outcome' must be one of upheld, reinstated, got 'accepted'",
    )


@refusal("a decision after the close")
def _(w: World) -> Case:
    reviewed(w)
    work = rejected(w, w.ana)
    w.c.close_campaign(w.brand, REVIEWED)
    return (
        lambda: w.c.decide_appeal(w.brand, REVIEWED, work, "reinstated", "fine"),
        CampaignClosedError,
        f"campaign {REVIEWED} is closed: AppealDecided is refused",
    )


@pytest.mark.parametrize("name", list(REFUSALS))
def test_a_refused_review_or_appeal_names_its_reason_and_writes_nothing(
    world: World, name: str
) -> None:
    assert_refused(world, REFUSALS[name])
