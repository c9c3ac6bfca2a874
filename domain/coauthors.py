"""Co-author consent: a named co-author accepts or declines a contribution.

In a campaign whose policy has ``coauthor_consent`` (the default for new campaigns), a
``ContributionSubmitted`` naming other authors is pending until each of them signs
``CoAuthorshipAccepted``; one ``CoAuthorshipDeclined`` (with a reason code) makes it dead
for votes, remixes, licences and reuses forever (the submitter may submit again: a new
contribution). Campaigns whose policy has no such field (opened before it existed) ask
nobody: their co-authors count at once, and these events are refused there.
"""

from __future__ import annotations

from dataclasses import replace

from domain.campaign import campaign_of
from domain.contributions import Contribution, contribution_in
from domain.errors import (
    CoAuthorshipAnsweredError,
    CoAuthorshipDeclinedError,
    ConsentNotAskedError,
    NotCoAuthorError,
)
from domain.membership import require_member
from domain.state import Rule, State
from domain.values import Fact, code, contribution_ref, expect_keys
from domain.vocabulary import COAUTHORSHIP_ACCEPTED, COAUTHORSHIP_DECLINED

_ACCEPT_FIELDS = frozenset({"contribution"})
_DECLINE_FIELDS = frozenset({"contribution", "reason"})


def _answerable(state: State, ev: Fact, cid: str) -> Contribution:
    """The contribution ``cid`` if the signer is one of its co-authors who has not answered.

    Raises (after the campaign and membership checks) ``UnknownContributionError``,
    ``ConsentNotAskedError``, ``NotCoAuthorError``, ``CoAuthorshipDeclinedError``,
    ``CoAuthorshipAnsweredError``.
    """
    campaign = campaign_of(state, ev)
    require_member(state, campaign, ev.actor)
    found = contribution_in(state, campaign.id, cid)
    ids = {"campaign": campaign.id, "contribution": cid, "member": ev.actor}
    if not campaign.policy.coauthor_consent:
        raise ConsentNotAskedError(
            f"campaign {campaign.id}'s policy asks no co-author consent: {ev.type} is refused",
            **ids,
        )
    if ev.actor not in found.authors or ev.actor == found.submitter:
        raise NotCoAuthorError(
            f"member {ev.actor} is not a co-author named by the submitter of contribution {cid}",
            **ids,
        )
    if found.declined_by is not None:
        raise CoAuthorshipDeclinedError(
            f"co-author {found.declined_by} declined contribution {cid}: it takes no more answers",
            **ids,
        )
    if ev.actor not in found.awaiting:
        raise CoAuthorshipAnsweredError(
            f"co-author {ev.actor} already accepted contribution {cid}", **ids
        )
    return found


def check_accepted(state: State, ev: Fact) -> Contribution:
    body = expect_keys(ev, _ACCEPT_FIELDS)
    cid = contribution_ref(ev, "contribution", body["contribution"])
    found = _answerable(state, ev, cid)
    return replace(found, awaiting=tuple(a for a in found.awaiting if a != ev.actor))


def check_declined(state: State, ev: Fact) -> Contribution:
    body = expect_keys(ev, _DECLINE_FIELDS)
    cid = contribution_ref(ev, "contribution", body["contribution"])
    code(ev, "reason", body["reason"])
    found = _answerable(state, ev, cid)
    return replace(found, declined_by=state.name(ev.actor))


def store_answer(state: State, ev: Fact, found: Contribution) -> None:
    state.put(state.contributions, found.id, found)


RULES = {
    COAUTHORSHIP_ACCEPTED: Rule(check_accepted, store_answer),
    COAUTHORSHIP_DECLINED: Rule(check_declined, store_answer),
}
