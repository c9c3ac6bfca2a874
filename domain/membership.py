"""The membership aggregate: who is invited to, joined, or blocked from a campaign.

The brand invites, blocks and unblocks; a member joins by accepting the
campaign's guidelines (invite-only campaigns need an invitation first). A
blocked member can do nothing in that campaign. ``require_member`` is the check
every member act (submit, vote, licence, co-author) starts with.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from domain.campaign import Campaign, campaign_of, require_owner
from domain.errors import (
    AlreadyBlockedError,
    AlreadyInvitedError,
    AlreadyJoinedError,
    GuidelinesMismatchError,
    MemberBlockedError,
    NotBlockedError,
    NotInvitedError,
    NotJoinedError,
)
from domain.state import Rule, State
from domain.values import Fact, actor_id, code, expect_keys, sha256_hex
from domain.vocabulary import (
    INVITE_ONLY,
    MEMBER_BLOCKED,
    MEMBER_INVITED,
    MEMBER_JOINED,
    MEMBER_UNBLOCKED,
)
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


def check_joined(state: State, ev: Fact) -> tuple[tuple[str, str], Membership]:
    guidelines = sha256_hex(ev, "guidelines", expect_keys(ev, {"guidelines"})["guidelines"])
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
    if campaign.membership == INVITE_ONLY and not standing.invited:
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
    return (campaign.id, member), replace(standing, joined=True)


def store_membership(state: State, ev: Fact, change: tuple[tuple[str, str], Membership]) -> None:
    state.put(state.memberships, change[0], change[1])


RULES = {
    MEMBER_INVITED: Rule(check_invited, store_membership),
    MEMBER_BLOCKED: Rule(check_blocked, store_membership),
    MEMBER_UNBLOCKED: Rule(check_unblocked, store_membership),
    MEMBER_JOINED: Rule(check_joined, store_membership),
}
