"""Moderation: the brand accepts, rejects or removes a contribution, with a reason code.

The latest outcome stands, except that removal is final: a removed contribution
gains no votes, remixes, licences, reuses, reports or further moderation (only an appeal the
brand reinstates brings it back, ``domain/appeals.py``). While an appeal against the latest
decision awaits the brand, the piece takes no new moderation (``AppealUndecidedError``):
the appeal is decided first. Moderation goes on after ``ends_at`` until the close (the
review phase). A decision may
cite the reports it answers (optional ``reports``: 1-100 report ids, each a report about
that same contribution); a decision without the field is as it always was.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from domain.campaign import campaign_of, require_owner
from domain.contributions import Contribution, contribution_in, require_not_removed
from domain.errors import (
    AppealUndecidedError,
    ReportNotAboutContributionError,
    UnknownReportError,
)
from domain.state import Rule, State
from domain.values import (
    CONTRIBUTION_ID,
    Fact,
    code,
    constants,
    contribution_ref,
    event_time,
    expect_keys,
    malformed,
    matching,
    one_of,
    sha256_hex,
)
from domain.vocabulary import CONTRIBUTION_MODERATED, FILED, MODERATION_OUTCOMES

OUTCOMES = constants(*MODERATION_OUTCOMES)
MAX_CITED_REPORTS = 100
_FIELDS = frozenset({"contribution", "outcome", "reason", "note"})
_OPTIONAL = frozenset({"reports"})


def cited_reports(ev: Fact, value: Any) -> list[str]:
    """The report ids ``value`` names: a list of 1-100, no id twice."""
    if not isinstance(value, list) or not 1 <= len(value) <= MAX_CITED_REPORTS:
        raise malformed(
            ev,
            f"field 'reports' must be a list of 1-{MAX_CITED_REPORTS} report ids "
            f"(leave it out to cite none)",
        )
    cited: list[str] = []
    for item in value:
        report = matching(ev, "reports", item, CONTRIBUTION_ID, "a report id '<actor>:<seq>'")
        if report in cited:
            raise malformed(ev, f"field 'reports' names report {report} twice")
        cited.append(report)
    return cited


def check_moderated(state: State, ev: Fact) -> Contribution:
    body = expect_keys(ev, _FIELDS, _OPTIONAL)
    cid = contribution_ref(ev, "contribution", body["contribution"])
    outcome = one_of(ev, "outcome", body["outcome"], OUTCOMES)
    code(ev, "reason", body["reason"])
    if body["note"] is not None:
        sha256_hex(ev, "note", body["note"])
    cited = cited_reports(ev, body["reports"]) if "reports" in body else []
    campaign = campaign_of(state, ev)
    require_owner(campaign, ev, "moderate contributions")
    found = contribution_in(state, campaign.id, cid)
    require_not_removed(found, "further moderation")
    require_no_open_appeal(found, "moderating it again")
    for rid in cited:
        report = state.reports.get(rid)
        if report is None or report.campaign != campaign.id:
            raise UnknownReportError(
                f"campaign {campaign.id} has no report {rid}",
                campaign=campaign.id,
                contribution=found.id,
                report=rid,
            )
        if report.contribution != found.id:
            raise ReportNotAboutContributionError(
                f"report {rid} is about contribution {report.contribution}, not {found.id}: "
                f"a decision cites only the reports about its piece",
                campaign=campaign.id,
                contribution=found.id,
                report=rid,
            )
    return replace(found, outcome=outcome, moderated_at=event_time(ev), appeal=None)


def require_no_open_appeal(found: Contribution, what: str) -> None:
    """Raise ``AppealUndecidedError`` while an appeal against ``found``'s moderation awaits."""
    if found.appeal == FILED:
        raise AppealUndecidedError(
            f"an appeal against the moderation of contribution {found.id} awaits the brand's "
            f"decision: decide it before {what}",
            campaign=found.campaign,
            contribution=found.id,
        )


def store_moderated(state: State, ev: Fact, found: Contribution) -> None:
    state.put(state.contributions, found.id, found)


RULES = {CONTRIBUTION_MODERATED: Rule(check_moderated, store_moderated)}
