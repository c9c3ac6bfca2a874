"""Reports: a member flags a piece for the brand's moderation (issue 19).

The story first (a member reports, the brand's decision cites the reports), then every
refusal with its type, its exact sentence and nothing written.
"""

from __future__ import annotations

from typing import Any

import pytest

from domain.errors import (
    CampaignClosedError,
    DuplicateReportError,
    MalformedBodyError,
    MemberBlockedError,
    MemberErasedError,
    NotJoinedError,
    RemovedContributionError,
    ReportNotAboutContributionError,
    SelfReportError,
    UnknownContributionError,
    UnknownReportError,
)
from tests.domain.conftest import CAMPAIGN, World
from tests.domain.test_refusals import Case, assert_refused


def test_a_member_reports_a_piece_with_a_reason_and_a_text(world: World) -> None:
    work = world.submit(world.ana)
    receipt = world.c.report(
        world.ben, CAMPAIGN, work, "plagiarism", text=b"This is my photo from 2019."
    )
    report = f"{world.ben.actor}:{receipt.seq}"
    assert receipt.type == "ContributionReported"
    assert receipt.ids == {"campaign": CAMPAIGN, "contribution": work, "report": report}
    stored = world.c.gate.read(lambda state: state.reports[report])
    assert (stored.contribution, stored.member, stored.reason) == (
        work,
        world.ben.actor,
        "plagiarism",
    )
    assert world.svc.content.has(stored.text)


def test_a_moderation_decision_cites_the_reports_it_answers(world: World) -> None:
    work = world.submit(world.ana)
    first = world.c.report(world.ben, CAMPAIGN, work, "spam")
    second = world.c.report(world.cy, CAMPAIGN, work, "off-guidelines")
    cited = [f"{r.actor}:{r.seq}" for r in (first, second)]
    world.c.moderate(world.brand, CAMPAIGN, work, "rejected", "spam", reports=cited)
    assert world.c.gate.read(lambda state: state.contributions[work].outcome) == "rejected"


def test_a_report_does_not_stop_further_votes_or_moderation(world: World) -> None:
    work = world.submit(world.ana)
    world.c.report(world.ben, CAMPAIGN, work, "other")
    world.c.cast_vote(world.ben, CAMPAIGN, work, "support")
    world.c.moderate(world.brand, CAMPAIGN, work, "accepted", "fine")


REFUSALS: dict[str, Any] = {}


def refusal(name: str) -> Any:
    def register(arrange: Any) -> Any:
        REFUSALS[name] = arrange
        return arrange

    return register


@refusal("a member reports their own piece")
def _(w: World) -> Case:
    work = w.submit(w.ana)
    return (
        lambda: w.c.report(w.ana, CAMPAIGN, work, "spam"),
        SelfReportError,
        f"member {w.ana.actor} is an author of contribution {work}: nobody reports their own work",
    )


@refusal("a co-author reports the piece")
def _(w: World) -> Case:
    work = w.submit(w.ana, authors=[(w.ana.actor, 60), (w.ben.actor, 40)])
    return (
        lambda: w.c.report(w.ben, CAMPAIGN, work, "spam"),
        SelfReportError,
        f"member {w.ben.actor} is an author of contribution {work}: nobody reports their own work",
    )


@refusal("a member reports the same piece twice")
def _(w: World) -> Case:
    work = w.submit(w.ana)
    first = w.c.report(w.ben, CAMPAIGN, work, "spam")
    return (
        lambda: w.c.report(w.ben, CAMPAIGN, work, "harassment"),
        DuplicateReportError,
        f"member {w.ben.actor} already reported contribution {work} "
        f"(report {w.ben.actor}:{first.seq}): one report per member per piece",
    )


@refusal("a report by someone who never joined")
def _(w: World) -> Case:
    work = w.submit(w.ana)
    return (
        lambda: w.c.report(w.dee, CAMPAIGN, work, "spam"),
        NotJoinedError,
        f"member {w.dee.actor} has not joined campaign {CAMPAIGN}",
    )


@refusal("a report by the brand, who is not a member")
def _(w: World) -> Case:
    work = w.submit(w.ana)
    return (
        lambda: w.c.report(w.brand, CAMPAIGN, work, "spam"),
        NotJoinedError,
        f"member {w.brand.actor} has not joined campaign {CAMPAIGN}",
    )


@refusal("a report by a blocked member")
def _(w: World) -> Case:
    work = w.submit(w.ana)
    w.c.block(w.brand, CAMPAIGN, w.ben.actor, "spam-ring")
    return (
        lambda: w.c.report(w.ben, CAMPAIGN, work, "spam"),
        MemberBlockedError,
        f"member {w.ben.actor} is blocked in campaign {CAMPAIGN} (spam-ring)",
    )


@refusal("a report by an erased member")
def _(w: World) -> Case:
    work = w.submit(w.ana)
    w.c.erase(w.ben)
    return (
        lambda: w.c.report(w.ben, CAMPAIGN, work, "spam"),
        MemberErasedError,
        f"member {w.ben.actor} was erased and can sign no further ContributionReported",
    )


@refusal("a report with a reason outside the list")
def _(w: World) -> Case:
    work = w.submit(w.ana)
    return (
        lambda: w.c.report(w.ben, CAMPAIGN, work, "ugly"),
        MalformedBodyError,
        "ContributionReported body: field 'reason' must be one of spam, harassment, "
        "plagiarism, off-guidelines, personal-data, other, got 'ugly'",
    )


@refusal("a report on a piece that does not exist")
def _(w: World) -> Case:
    missing = f"{w.ana.actor}:99"
    return (
        lambda: w.c.report(w.ben, CAMPAIGN, missing, "spam"),
        UnknownContributionError,
        f"campaign {CAMPAIGN} has no contribution {missing}",
    )


@refusal("a report on a removed piece")
def _(w: World) -> Case:
    work = w.submit(w.ana)
    w.c.moderate(w.brand, CAMPAIGN, work, "removed", "spam")
    return (
        lambda: w.c.report(w.ben, CAMPAIGN, work, "spam"),
        RemovedContributionError,
        f"contribution {work} was removed by moderation: no reports",
    )


@refusal("a report after the close")
def _(w: World) -> Case:
    work = w.submit(w.ana)
    w.c.close_campaign(w.brand, CAMPAIGN, unreviewed="accept")
    return (
        lambda: w.c.report(w.ben, CAMPAIGN, work, "spam"),
        CampaignClosedError,
        f"campaign {CAMPAIGN} is closed: ContributionReported is refused",
    )


@refusal("a decision citing a report about another piece")
def _(w: World) -> Case:
    work, other = w.submit(w.ana), w.submit(w.cy, "Pier")
    about_other = w.c.report(w.ben, CAMPAIGN, other, "spam")
    cited = f"{w.ben.actor}:{about_other.seq}"
    return (
        lambda: w.c.moderate(w.brand, CAMPAIGN, work, "rejected", "spam", reports=[cited]),
        ReportNotAboutContributionError,
        f"report {cited} is about contribution {other}, not {work}: "
        f"a decision cites only the reports about its piece",
    )


@refusal("a decision citing a report that does not exist")
def _(w: World) -> Case:
    work = w.submit(w.ana)
    missing = f"{w.ben.actor}:99"
    return (
        lambda: w.c.moderate(w.brand, CAMPAIGN, work, "rejected", "spam", reports=[missing]),
        UnknownReportError,
        f"campaign {CAMPAIGN} has no report {missing}",
    )


@refusal("a decision citing the same report twice")
def _(w: World) -> Case:
    work = w.submit(w.ana)
    r = w.c.report(w.ben, CAMPAIGN, work, "spam")
    cited = f"{w.ben.actor}:{r.seq}"
    return (
        lambda: w.c.moderate(w.brand, CAMPAIGN, work, "rejected", "spam", reports=[cited, cited]),
        MalformedBodyError,
        f"ContributionModerated body: field 'reports' names report {cited} twice",
    )


@refusal("a decision citing an empty list of reports")
def _(w: World) -> Case:
    work = w.submit(w.ana)
    return (
        lambda: w.c.moderate(w.brand, CAMPAIGN, work, "rejected", "spam", reports=[]),
        MalformedBodyError,
        "ContributionModerated body: field 'reports' must be a list of 1-100 report ids "
        "(leave it out to cite none)",
    )


@pytest.mark.parametrize("name", list(REFUSALS))
def test_a_refused_report_names_its_reason_and_writes_nothing(world: World, name: str) -> None:
    assert_refused(world, REFUSALS[name])
