"""Reports: a member flags a piece for the brand's moderation, with a reason code.

``ContributionReported`` names the contribution, a reason from ``REPORT_REASONS`` and the
hash of an optional text in the content store. Any member who may act in the campaign may
report a piece they did not (co-)author, once; a removed piece takes no more reports. A
report is a campaign event like a vote: refused after the close, when moderation can no
longer act on it. It changes no score (the reward projections never read it); the brand's
``ContributionModerated`` may cite the reports it answers (``domain/moderation.py``).
The id of a report is ``"<actor>:<seq>"`` of its envelope.
"""

from __future__ import annotations

from dataclasses import dataclass

from domain.campaign import campaign_of
from domain.contributions import contribution_in, require_not_removed
from domain.errors import DuplicateReportError, SelfReportError
from domain.membership import require_member
from domain.state import Rule, State
from domain.values import (
    Fact,
    constants,
    contribution_id,
    contribution_ref,
    expect_keys,
    one_of,
    sha256_hex,
)
from domain.vocabulary import CONTRIBUTION_REPORTED, REPORT_REASONS

REASONS = constants(*REPORT_REASONS)
_FIELDS = frozenset({"contribution", "reason", "text"})


@dataclass(frozen=True, slots=True)
class Report:
    """A report as the rules see it."""

    id: str
    campaign: str
    contribution: str
    member: str
    reason: str
    text: str | None


def check_reported(state: State, ev: Fact) -> Report:
    body = expect_keys(ev, _FIELDS)
    cid = contribution_ref(ev, "contribution", body["contribution"])
    reason = one_of(ev, "reason", body["reason"], REASONS)
    text = None if body["text"] is None else sha256_hex(ev, "text", body["text"])
    campaign = campaign_of(state, ev)
    member = state.name(ev.actor)
    require_member(state, campaign, member)
    found = contribution_in(state, campaign.id, cid)
    require_not_removed(found, "reports")
    ids = {"campaign": campaign.id, "member": member, "contribution": found.id}
    if member in found.authors:
        raise SelfReportError(
            f"member {member} is an author of contribution {found.id}: "
            f"nobody reports their own work",
            **ids,
        )
    earlier = state.reported.get((found.id, member))
    if earlier is not None:
        raise DuplicateReportError(
            f"member {member} already reported contribution {found.id} (report {earlier}): "
            f"one report per member per piece",
            report=earlier,
            **ids,
        )
    return Report(contribution_id(member, ev.seq), campaign.id, found.id, member, reason, text)


def store_reported(state: State, ev: Fact, report: Report) -> None:
    state.put(state.reports, report.id, report)
    state.put(state.reported, (report.contribution, report.member), report.id)


RULES = {CONTRIBUTION_REPORTED: Rule(check_reported, store_reported)}
