"""The membership aggregate: who is invited to, joined, or blocked from a campaign.

The brand invites, blocks and unblocks; a member joins by accepting the
campaign's guidelines (invite-only campaigns need an invitation first: by actor id, or an
invitation code the join presents, ``domain/invite_codes.py``). A
blocked member can do nothing in that campaign. ``require_member`` is the check
every member act (submit, vote, licence, co-author) starts with.

``check_admission`` is what a stranger may write at all (domain/EVENTS.md,
"Admission"): the gate runs it on the batches that reach it from the network.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from domain.campaign import Campaign, campaign_of, find_campaign, require_owner
from domain.errors import (
    AlreadyBlockedError,
    AlreadyInvitedError,
    AlreadyJoinedError,
    CampaignClosedError,
    FirstActRequiredError,
    GuidelinesMismatchError,
    MemberBlockedError,
    NotBlockedError,
    NotInvitedError,
    NotJoinedError,
    RegistrationClosedError,
    SubmissionCapReachedError,
)
from domain.invite_codes import CODE_EXAMPLE, CODE_FORMAT, check_code, use_code
from domain.state import Rule, State
from domain.values import Fact, actor_id, code, expect_keys, matching, sha256_hex
from domain.vocabulary import (
    INVITE_ONLY,
    MEMBER_BLOCKED,
    MEMBER_INVITED,
    MEMBER_JOINED,
    MEMBER_UNBLOCKED,
)
from ledger.actors import KEY_REGISTERED
from ledger.canonical import json_fields


@dataclass(frozen=True, slots=True)
class Membership:
    """One member's standing in one campaign."""

    invited: bool = False
    joined: bool = False
    blocked: bool = False
    reason: str | None = None  # why the member is blocked

    def to_json(self) -> dict[str, Any]:
        return json_fields(self)


NOBODY = Membership()


def membership(state: State, campaign: str, member: str) -> Membership:
    """The member's standing in the campaign (all false when never mentioned)."""
    return state.memberships.get((campaign, member), NOBODY)


def require_member(state: State, campaign: Campaign, member: str, *, role: str = "member") -> None:
    """Raise ``MemberBlockedError`` or ``NotJoinedError`` unless ``member`` may act.

    ``role`` names the member in the sentence (``"member"``, ``"co-author"``).
    """
    standing = state.memberships.get((campaign.id, member), NOBODY)
    if standing.blocked:
        raise MemberBlockedError(
            f"{role} {member} is blocked in campaign {campaign.id} ({standing.reason})",
            campaign=campaign.id,
            member=member,
        )
    if not standing.joined:
        raise NotJoinedError(
            f"{role} {member} has not joined campaign {campaign.id}",
            campaign=campaign.id,
            member=member,
        )


def require_uploader(state: State, campaign_id: str, actor: str) -> None:
    """Raise unless ``actor`` may upload content for the campaign: its brand, or a member.

    Raises ``UnknownCampaignError``, ``CampaignClosedError``, ``MemberBlockedError``,
    ``NotJoinedError`` (what ``require_member`` raises).
    """
    campaign = find_campaign(state, campaign_id)
    if campaign.closed:
        raise CampaignClosedError(
            f"campaign {campaign_id} is closed: no more uploads for it", campaign=campaign_id
        )
    if actor != campaign.brand:
        require_member(state, campaign, actor, role="uploader")


def _day_key(campaign: Campaign, ev: Fact) -> tuple[str, str, str] | None:
    if campaign.policy.submissions_per_day is None:
        return None
    return (campaign.id, ev.actor, ev.ts[:10])  # the UTC day of an RFC 3339 UTC ts


def check_submission_cap(state: State, campaign: Campaign, ev: Fact) -> None:
    """Raise ``SubmissionCapReachedError`` when the signer already made the policy's
    ``submissions_per_day`` submissions to ``campaign`` on the UTC day of ``ev.ts``."""
    key = _day_key(campaign, ev)
    cap = campaign.policy.submissions_per_day
    if key is not None and cap is not None and state.submissions.get(key, 0) >= cap:
        raise SubmissionCapReachedError(
            f"member {ev.actor} made {cap} submission(s) to campaign {campaign.id} on "
            f"{key[2]} already, the most its policy allows per day (submissions_per_day)",
            campaign=campaign.id,
            member=ev.actor,
            day=key[2],
        )


def count_submission(state: State, campaign: Campaign, ev: Fact) -> None:
    """Count ``ev`` against the signer's daily cap in ``campaign`` (when its policy has one)."""
    key = _day_key(campaign, ev)
    if key is not None:
        state.put(state.submissions, key, state.submissions.get(key, 0) + 1)


def _brand_act(state: State, ev: Fact, what: str) -> tuple[Campaign, str, Membership]:
    member = actor_id(ev, "member", ev.body["member"])
    campaign = campaign_of(state, ev)
    require_owner(campaign, ev, what)
    return campaign, state.name(member), membership(state, campaign.id, member)


def check_invited(state: State, ev: Fact) -> tuple[tuple[str, str], Membership]:
    expect_keys(ev, {"member"})
    campaign, member, standing = _brand_act(state, ev, "invite members")
    if standing.invited:
        raise AlreadyInvitedError(
            f"member {member} was invited to campaign {campaign.id} already",
            campaign=campaign.id,
            member=member,
        )
    return (campaign.id, member), replace(standing, invited=True)


def check_blocked(state: State, ev: Fact) -> tuple[tuple[str, str], Membership]:
    reason = code(ev, "reason", expect_keys(ev, {"member", "reason"})["reason"])
    campaign, member, standing = _brand_act(state, ev, "block members")
    if standing.blocked:
        raise AlreadyBlockedError(
            f"member {member} is blocked in campaign {campaign.id} already ({standing.reason})",
            campaign=campaign.id,
            member=member,
        )
    return (campaign.id, member), replace(standing, blocked=True, reason=reason)


def check_unblocked(state: State, ev: Fact) -> tuple[tuple[str, str], Membership]:
    expect_keys(ev, {"member"})
    campaign, member, standing = _brand_act(state, ev, "unblock members")
    if not standing.blocked:
        raise NotBlockedError(
            f"member {member} is not blocked in campaign {campaign.id}",
            campaign=campaign.id,
            member=member,
        )
    return (campaign.id, member), replace(standing, blocked=False, reason=None)


def check_joined(
    state: State, ev: Fact
) -> tuple[tuple[str, str], Membership, tuple[str, str] | None]:
    body = expect_keys(ev, {"guidelines"}, {"code"})
    guidelines = sha256_hex(ev, "guidelines", body["guidelines"])
    presented = None
    if "code" in body:
        presented = matching(
            ev, "code", body["code"], CODE_FORMAT, f"an invitation code like {CODE_EXAMPLE}"
        )
    campaign = campaign_of(state, ev)
    member = state.name(ev.actor)
    standing = membership(state, campaign.id, member)
    if standing.blocked:
        raise MemberBlockedError(
            f"member {member} is blocked in campaign {campaign.id} ({standing.reason})",
            campaign=campaign.id,
            member=member,
        )
    if standing.joined:
        raise AlreadyJoinedError(
            f"member {member} joined campaign {campaign.id} already",
            campaign=campaign.id,
            member=member,
        )
    used = None
    if presented is not None:  # a code admits its presenter, invited by id or not
        used = check_code(state, campaign, member, ev, presented)
    elif campaign.membership == INVITE_ONLY and not standing.invited:
        raise NotInvitedError(
            f"campaign {campaign.id} is invite-only and member {member} was not invited",
            campaign=campaign.id,
            member=member,
        )
    if guidelines != campaign.guidelines:
        raise GuidelinesMismatchError(
            f"member {member} accepted guidelines {guidelines}, but campaign {campaign.id}'s "
            f"are {campaign.guidelines}",
            campaign=campaign.id,
            member=member,
        )
    return (campaign.id, member), replace(standing, joined=True), used


def store_membership(state: State, ev: Fact, change: tuple[tuple[str, str], Membership]) -> None:
    state.put(state.memberships, change[0], change[1])


def store_join(
    state: State, ev: Fact, change: tuple[tuple[str, str], Membership, tuple[str, str] | None]
) -> None:
    state.put(state.memberships, change[0], change[1])
    if change[2] is not None:
        use_code(state, change[2])


# -- admission: what a stranger may write at all -----------------------------------------------


class Registration(StrEnum):
    """How a server admits new actors (``COCRED_REGISTRATION``)."""

    OPEN = "open"  # a bare self-signed KeyRegistered is enough (the ledger's own rule)
    WITH_FIRST_ACT = "with-first-act"  # only together with an admitted first act
    CLOSED = "closed"  # no new actor at all (the operator registers them, off the network)


# The acts that make a registration durable: joining a campaign whose rules admit the
# member (an open campaign, one that invited that actor id, or one whose unused, unexpired
# invitation code the join presents: still a MemberJoined, so nothing to add here).
FIRST_ACTS = frozenset({MEMBER_JOINED})


def check_admission(events: Sequence[Any], registration: Registration) -> None:
    """Raise unless every new actor in ``events`` (one batch) may be admitted.

    Runs after the campaign rules accepted the batch, so a first act found here was
    admitted by them (``check_joined``). Raises ``RegistrationClosedError`` (``closed``)
    or ``FirstActRequiredError`` (``with-first-act``: the batch holds a ``KeyRegistered``
    whose actor signs no ``FIRST_ACTS`` event in it); ``ids["index"]`` names the
    registration. Nothing to check in ``open`` mode or for a batch without registrations.
    """
    if registration is Registration.OPEN:
        return
    fresh = {ev.actor: i for i, ev in enumerate(events) if ev.type == KEY_REGISTERED}
    if not fresh:
        return
    actor, index = next(iter(fresh.items()))
    if registration is Registration.CLOSED:
        raise RegistrationClosedError(
            f"this server admits no new actors (registration is closed): {KEY_REGISTERED} "
            f"of {actor} is refused; the operator registers members",
            actor=actor,
            index=index,
        )
    acted = {ev.actor for ev in events if ev.type in FIRST_ACTS}
    for actor, index in fresh.items():
        if actor not in acted:
            raise FirstActRequiredError(
                f"{KEY_REGISTERED} of {actor} is accepted only together with its first act "
                f"({', '.join(sorted(FIRST_ACTS))} of a campaign that admits it) signed by "
                f"{actor} in the same batch",
                actor=actor,
                index=index,
            )


RULES = {
    MEMBER_INVITED: Rule(check_invited, store_membership),
    MEMBER_BLOCKED: Rule(check_blocked, store_membership),
    MEMBER_UNBLOCKED: Rule(check_unblocked, store_membership),
    MEMBER_JOINED: Rule(check_joined, store_join),
}
