"""Appeals: the submitter of a rejected or removed piece asks the brand to look again, once.

``AppealFiled`` (the submitter) names the contribution, a reason code and the hash of an
optional text in the content store; ``AppealDecided`` (the brand) names it, an outcome
(``upheld``: the moderation stands; ``reinstated``: the piece is accepted and earns again), a
reason code and an optional note hash. Only a campaign whose policy has ``appeal_window``
takes appeals, each within that many seconds of the decision it appeals (by the events'
``ts``), one per moderation decision; the brand decides each once, before the close (a close,
or a new moderation of the piece, is refused while one is undecided). A removal stays final
for everything else (votes, remixes, licences, reuses, reports, moderation) and becomes so for
good once its window passes without an appeal or the appeal is upheld. Both are campaign
events: refused after the close; the campaign window does not apply (the review phase).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from domain.campaign import Campaign, campaign_of, require_owner
from domain.contributions import Contribution, contribution_in
from domain.errors import (
    AlreadyAppealedError,
    AppealAlreadyDecidedError,
    AppealsNotOfferedError,
    AppealWindowClosedError,
    NoAppealError,
    NothingToAppealError,
    NotSubmitterError,
)
from domain.state import Rule, State
from domain.values import (
    Fact,
    code,
    constants,
    contribution_ref,
    event_time,
    expect_keys,
    one_of,
    sha256_hex,
)
from domain.vocabulary import (
    ACCEPTED,
    APPEAL_DECIDED,
    APPEAL_FILED,
    APPEAL_OUTCOMES,
    APPEALABLE_OUTCOMES,
    FILED,
    REINSTATED,
)
from ledger.envelope import format_ts

OUTCOMES = constants(*APPEAL_OUTCOMES)
_FILED_FIELDS = frozenset({"contribution", "reason", "text"})
_DECIDED_FIELDS = frozenset({"contribution", "outcome", "reason", "note"})


def _appealed(state: State, ev: Fact, note_field: str) -> tuple[Campaign, Contribution]:
    """The campaign and the piece an appeal event names, its body's shape checked."""
    body = ev.body
    contribution_ref(ev, "contribution", body["contribution"])
    code(ev, "reason", body["reason"])
    if body[note_field] is not None:
        sha256_hex(ev, note_field, body[note_field])
    campaign = campaign_of(state, ev)
    return campaign, contribution_in(state, campaign.id, body["contribution"])


def check_filed(state: State, ev: Fact) -> Contribution:
    expect_keys(ev, _FILED_FIELDS)
    campaign, found = _appealed(state, ev, "text")
    ids = {"campaign": campaign.id, "contribution": found.id, "member": ev.actor}
    window = campaign.policy.appeal_window
    if window is None:
        raise AppealsNotOfferedError(
            f"campaign {campaign.id}'s policy has no appeal_window: it takes no appeals", **ids
        )
    if ev.actor != found.submitter:
        raise NotSubmitterError(
            f"only the submitter {found.submitter} of contribution {found.id} may appeal its "
            f"moderation; {ev.actor} may not",
            **ids,
        )
    if found.outcome not in APPEALABLE_OUTCOMES:
        raise NothingToAppealError(
            f"contribution {found.id} is {found.outcome or 'not moderated'}: only a rejection "
            f"or a removal can be appealed",
            **ids,
        )
    if found.appeal is not None:
        raise AlreadyAppealedError(
            f"the {found.outcome} decision on contribution {found.id} was already appealed "
            f"({found.appeal}): one appeal per decision",
            **ids,
        )
    assert found.moderated_at is not None  # an outcome is set by a moderation
    deadline = found.moderated_at + timedelta(seconds=window)
    if event_time(ev) > deadline:
        raise AppealWindowClosedError(
            f"the appeal window of the {found.outcome} decision on contribution {found.id} "
            f"ended at {format_ts(deadline)}; the appeal at {ev.ts} is too late",
            **ids,
        )
    return replace(found, appeal=FILED)


def check_decided(state: State, ev: Fact) -> Contribution:
    body = expect_keys(ev, _DECIDED_FIELDS)
    outcome = one_of(ev, "outcome", body["outcome"], OUTCOMES)
    campaign, found = _appealed(state, ev, "note")
    require_owner(campaign, ev, "decide appeals")
    ids = {"campaign": campaign.id, "contribution": found.id}
    if found.appeal is None:
        raise NoAppealError(
            f"no appeal was filed against the latest moderation of contribution {found.id}",
            **ids,
        )
    if found.appeal != FILED:
        raise AppealAlreadyDecidedError(
            f"the appeal on contribution {found.id} was already decided ({found.appeal})", **ids
        )
    if outcome == REINSTATED:
        return replace(found, outcome=ACCEPTED, appeal=outcome)
    return replace(found, appeal=outcome)


def store_appeal(state: State, ev: Fact, found: Contribution) -> None:
    state.put(state.contributions, found.id, found)


RULES = {
    APPEAL_FILED: Rule(check_filed, store_appeal),
    APPEAL_DECIDED: Rule(check_decided, store_appeal),
}
