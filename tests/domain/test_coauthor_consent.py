"""Co-author consent: a contribution naming other authors is pending until each accepts.

The world's campaign opens with the default policy (``coauthor_consent: true``). Ana
submits a piece naming Cy; until Cy signs ``CoAuthorshipAccepted`` nobody may vote on,
remix, license or reuse it; once Cy declines, never. A campaign whose policy has no
``coauthor_consent`` (opened before the field) asks nobody. Every refusal: its type, its
exact sentence, and nothing written (``assert_refused``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest

from domain.errors import (
    CampaignClosedError,
    CoAuthorshipAnsweredError,
    CoAuthorshipDeclinedError,
    ConsentNotAskedError,
    MalformedBodyError,
    NotCoAuthorError,
    NotJoinedError,
    PendingCoAuthorshipError,
    RemovedContributionError,
    UnknownContributionError,
)
from domain.policy import DEFAULT_POLICY
from ledger.envelope import sign_envelope
from tests.domain.conftest import CAMPAIGN, GUIDELINES, World, open_before_safeguards
from tests.domain.test_refusals import Case, assert_refused

LEGACY = "legacy-26"
CASES: dict[str, Callable[[World], Case]] = {}


def case(name: str) -> Callable[[Callable[[World], Case]], Callable[[World], Case]]:
    def register(build: Callable[[World], Case]) -> Callable[[World], Case]:
        CASES[name] = build
        return build

    return register


def _pending(w: World) -> str:
    """Ana's piece naming Cy (60/40), which Cy has not answered."""
    return w.submit(w.ana, authors=[(w.ana.actor, 60), (w.cy.actor, 40)])


def _declined(w: World) -> str:
    work = _pending(w)
    w.c.decline_coauthorship(w.cy, CAMPAIGN, work, "not-my-work")
    return work


def _legacy(w: World) -> str:
    """A campaign opened with a policy from before the field, and a piece naming Cy in it."""
    policy = {k: v for k, v in DEFAULT_POLICY.items() if k != "coauthor_consent"}
    open_before_safeguards(w, LEGACY, policy)
    receipt = w.c.submit(
        w.ana, LEGACY, b"old piece", kind="idea", title="Old",
        authors=[(w.ana.actor, 60), (w.cy.actor, 40)],
    )  # fmt: skip
    return str(receipt.ids["contribution"])


def _awaits(work: str, who: str, what: str) -> str:
    return (
        f"contribution {work} awaits the consent of co-author(s) {who}: no {what} "
        f"until each accepts"
    )


# -- the acts a pending or declined piece cannot get -------------------------------------------


@case("a vote on a piece a co-author has not accepted")
def _(w: World) -> Case:
    work = _pending(w)
    return (
        lambda: w.c.cast_vote(w.ben, CAMPAIGN, work, "support"),
        PendingCoAuthorshipError,
        _awaits(work, w.cy.actor, "votes"),
    )


@case("a remix of a piece a co-author has not accepted")
def _(w: World) -> Case:
    work = _pending(w)
    return (
        lambda: w.submit(w.ben, "Remix", derived_from=[(work, None)]),
        PendingCoAuthorshipError,
        _awaits(work, w.cy.actor, "remixes"),
    )


@case("a licence of a piece a co-author has not accepted")
def _(w: World) -> Case:
    work = _pending(w)
    return (
        lambda: w.grant(w.ana, work),
        PendingCoAuthorshipError,
        _awaits(work, w.cy.actor, "licences"),
    )


@case("a reuse of a piece one of two co-authors has not accepted")
def _(w: World) -> Case:
    work = w.submit(w.ana, authors=[(w.ana.actor, 50), (w.ben.actor, 25), (w.cy.actor, 25)])
    w.c.accept_coauthorship(w.ben, CAMPAIGN, work)
    lid = f"{work}/brand-2026"
    return (
        lambda: w.c.record_reuse(w.brand, CAMPAIGN, work, lid, channel="web", territory="FR"),
        PendingCoAuthorshipError,
        _awaits(work, w.cy.actor, "reuses"),
    )


@case("a vote on a declined piece")
def _(w: World) -> Case:
    work = _declined(w)
    return (
        lambda: w.c.cast_vote(w.ben, CAMPAIGN, work, "save"),
        CoAuthorshipDeclinedError,
        f"co-author {w.cy.actor} declined contribution {work}: no votes",
    )


@case("a remix of a declined piece")
def _(w: World) -> Case:
    work = _declined(w)
    return (
        lambda: w.submit(w.ben, "Remix", derived_from=[(work, "1/5")]),
        CoAuthorshipDeclinedError,
        f"co-author {w.cy.actor} declined contribution {work}: no remixes",
    )


@case("a licence of a declined piece")
def _(w: World) -> Case:
    work = _declined(w)
    return (
        lambda: w.grant(w.ana, work),
        CoAuthorshipDeclinedError,
        f"co-author {w.cy.actor} declined contribution {work}: no licences",
    )


@case("a reuse of a declined piece")
def _(w: World) -> Case:
    work = _declined(w)
    lid = f"{work}/brand-2026"
    return (
        lambda: w.c.record_reuse(w.brand, CAMPAIGN, work, lid, channel="web", territory="FR"),
        CoAuthorshipDeclinedError,
        f"co-author {w.cy.actor} declined contribution {work}: no reuses",
    )


@case("a vote on a removed pending piece names the removal first")
def _(w: World) -> Case:
    work = _pending(w)
    w.c.moderate(w.brand, CAMPAIGN, work, "removed", "spam")
    return (
        lambda: w.c.cast_vote(w.ben, CAMPAIGN, work, "support"),
        RemovedContributionError,
        f"contribution {work} was removed by moderation: no votes",
    )


# -- the answers themselves ---------------------------------------------------------------------


@case("an acceptance by a member the submitter did not name")
def _(w: World) -> Case:
    work = _pending(w)
    return (
        lambda: w.c.accept_coauthorship(w.ben, CAMPAIGN, work),
        NotCoAuthorError,
        f"member {w.ben.actor} is not a co-author named by the submitter of contribution {work}",
    )


@case("the submitter accepting their own piece")
def _(w: World) -> Case:
    work = _pending(w)
    return (
        lambda: w.c.accept_coauthorship(w.ana, CAMPAIGN, work),
        NotCoAuthorError,
        f"member {w.ana.actor} is not a co-author named by the submitter of contribution {work}",
    )


@case("a decline of a piece one authored alone")
def _(w: World) -> Case:
    work = w.submit(w.ana)
    return (
        lambda: w.c.decline_coauthorship(w.cy, CAMPAIGN, work, "not-my-work"),
        NotCoAuthorError,
        f"member {w.cy.actor} is not a co-author named by the submitter of contribution {work}",
    )


@case("a second acceptance")
def _(w: World) -> Case:
    work = _pending(w)
    w.c.accept_coauthorship(w.cy, CAMPAIGN, work)
    return (
        lambda: w.c.accept_coauthorship(w.cy, CAMPAIGN, work),
        CoAuthorshipAnsweredError,
        f"co-author {w.cy.actor} already accepted contribution {work}",
    )


@case("a decline after accepting")
def _(w: World) -> Case:
    work = _pending(w)
    w.c.accept_coauthorship(w.cy, CAMPAIGN, work)
    return (
        lambda: w.c.decline_coauthorship(w.cy, CAMPAIGN, work, "changed-my-mind"),
        CoAuthorshipAnsweredError,
        f"co-author {w.cy.actor} already accepted contribution {work}",
    )


@case("an acceptance of a piece another co-author declined")
def _(w: World) -> Case:
    work = w.submit(w.ana, authors=[(w.ana.actor, 50), (w.ben.actor, 25), (w.cy.actor, 25)])
    w.c.decline_coauthorship(w.cy, CAMPAIGN, work, "wrong-share")
    return (
        lambda: w.c.accept_coauthorship(w.ben, CAMPAIGN, work),
        CoAuthorshipDeclinedError,
        f"co-author {w.cy.actor} declined contribution {work}: it takes no more answers",
    )


@case("a second decline")
def _(w: World) -> Case:
    work = _declined(w)
    return (
        lambda: w.c.decline_coauthorship(w.cy, CAMPAIGN, work, "not-my-work"),
        CoAuthorshipDeclinedError,
        f"co-author {w.cy.actor} declined contribution {work}: it takes no more answers",
    )


@case("an acceptance in a campaign whose policy asks no consent")
def _(w: World) -> Case:
    work = _legacy(w)
    return (
        lambda: w.c.accept_coauthorship(w.cy, LEGACY, work),
        ConsentNotAskedError,
        f"campaign {LEGACY}'s policy asks no co-author consent: CoAuthorshipAccepted is refused",
    )


@case("an acceptance of a contribution that does not exist")
def _(w: World) -> Case:
    ghost = f"{w.ana.actor}:99"
    return (
        lambda: w.c.accept_coauthorship(w.cy, CAMPAIGN, ghost),
        UnknownContributionError,
        f"campaign {CAMPAIGN} has no contribution {ghost}",
    )


@case("an acceptance by a member who never joined")
def _(w: World) -> Case:
    work = _pending(w)
    return (
        lambda: w.c.accept_coauthorship(w.dee, CAMPAIGN, work),
        NotJoinedError,
        f"member {w.dee.actor} has not joined campaign {CAMPAIGN}",
    )


@case("a decline whose reason is not a code")
def _(w: World) -> Case:
    work = _pending(w)
    return (
        lambda: w.c.decline_coauthorship(w.cy, CAMPAIGN, work, "Not Mine!"),
        MalformedBodyError,
        "CoAuthorshipDeclined body: field 'reason' must be a code of 1-48 characters "
        "[a-z0-9-], got 'Not Mine!'",
    )


@case("an acceptance with an extra field")
def _(w: World) -> Case:
    work = _pending(w)

    def attempt() -> object:
        seq = w.c.ledger.next_seq(w.cy.actor)
        env = sign_envelope(
            w.cy, "CoAuthorshipAccepted", {"contribution": work, "share": 40},
            seq=seq, ts=w.now, campaign=CAMPAIGN,
        )  # fmt: skip
        return w.c.gate.append(env)

    return (
        attempt,
        MalformedBodyError,
        "CoAuthorshipAccepted body: unexpected field(s): share",
    )


@case("a policy whose coauthor_consent is not true or false")
def _(w: World) -> Case:
    policy = {**DEFAULT_POLICY, "coauthor_consent": "yes"}
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
        "CampaignOpened body: field 'policy.coauthor_consent' must be true or false, got 'yes'",
    )


@pytest.mark.parametrize("name", list(CASES))
def test_a_refused_consent_command_names_its_reason_and_writes_nothing(
    world: World, name: str
) -> None:
    assert_refused(world, CASES[name])


# -- the stories --------------------------------------------------------------------------------


def test_a_piece_is_open_to_votes_remixes_and_licences_once_every_co_author_accepted(
    world: World,
) -> None:
    w = world
    w.c.invite(w.brand, CAMPAIGN, w.dee.actor)
    w.c.join(w.dee, CAMPAIGN)
    work = w.submit(w.ana, authors=[(w.ana.actor, 50), (w.ben.actor, 25), (w.cy.actor, 25)])
    assert w.c.campaign(CAMPAIGN).policy.coauthor_consent
    assert w.c.gate.read(lambda s: s.contributions[work].awaiting) == (w.ben.actor, w.cy.actor)
    w.c.accept_coauthorship(w.cy, CAMPAIGN, work)
    with pytest.raises(PendingCoAuthorshipError):
        w.c.cast_vote(w.dee, CAMPAIGN, work, "support")  # Ben has not answered yet
    receipt = w.c.accept_coauthorship(w.ben, CAMPAIGN, work)
    assert receipt.type == "CoAuthorshipAccepted"
    shown = w.c.show(CAMPAIGN, contributions=True)["works"]
    assert "awaiting" not in next(x for x in shown if x["contribution"] == work)
    assert w.c.cast_vote(w.dee, CAMPAIGN, work, "support").type == "VoteCast"
    assert w.submit(w.dee, "Remix", derived_from=[(work, None)])
    for author in (w.ana, w.ben, w.cy):
        w.grant(author, work)
    lid = f"{work}/brand-2026"
    assert w.c.record_reuse(w.brand, CAMPAIGN, work, lid, channel="web", territory="FR").type == (
        "ReuseRecorded"
    )


def test_a_declined_piece_stays_visible_and_its_submitter_may_submit_again(world: World) -> None:
    w = world
    work = _declined(w)
    shown = next(
        x for x in w.c.show(CAMPAIGN, contributions=True)["works"] if x["contribution"] == work
    )
    assert shown["declined_by"] == w.cy.actor and shown["awaiting"] == [w.cy.actor]
    again = w.submit(w.ana, "Harbour at dusk, alone")
    w.c.cast_vote(w.ben, CAMPAIGN, again, "support")
    assert again != work


def test_a_pending_piece_may_still_be_moderated_and_its_co_author_may_still_answer(
    world: World,
) -> None:
    w = world
    work = _pending(w)
    w.c.moderate(w.brand, CAMPAIGN, work, "rejected", "off-brief")
    assert w.c.accept_coauthorship(w.cy, CAMPAIGN, work).type == "CoAuthorshipAccepted"


def test_a_campaign_opened_before_the_field_lets_named_co_authors_count_at_once(
    world: World,
) -> None:
    w = world
    work = _legacy(w)
    assert not w.c.campaign(LEGACY).policy.coauthor_consent
    assert w.c.cast_vote(w.ben, LEGACY, work, "support").type == "VoteCast"
    assert w.c.gate.read(lambda s: s.contributions[work].awaiting) == ()


def test_a_closed_campaign_takes_no_more_answers(world: World) -> None:
    w = world
    work = _pending(w)
    w.c.close_campaign(w.brand, CAMPAIGN, unreviewed="accept")
    assert_refused(
        w,
        lambda _: (
            lambda: w.c.accept_coauthorship(w.cy, CAMPAIGN, work),
            CampaignClosedError,
            f"campaign {CAMPAIGN} is closed: CoAuthorshipAccepted is refused",
        ),
    )
