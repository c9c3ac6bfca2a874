"""Every rule of domain/EVENTS.md, dispatched by event type.

``handle(state, event)`` checks one event against the state (pure: it reads the
state and raises the typed ``DomainError`` of the first rule the event breaks)
and, if it passes, applies it. Ledger key events pass through untouched; any
other type is refused. An erased member can sign no campaign or profile event.
"""

from __future__ import annotations

from domain import (
    appeals,
    campaign,
    coauthors,
    comments,
    contributions,
    invite_codes,
    licences,
    membership,
    moderation,
    payouts,
    profiles,
    reports,
    votes,
)
from domain.errors import MemberErasedError, UnknownEventTypeError
from domain.state import Rule, State
from domain.values import Fact
from ledger.actors import KEY_EVENT_TYPES

RULES: dict[str, Rule] = {
    **campaign.RULES,
    **membership.RULES,
    **invite_codes.RULES,
    **contributions.RULES,
    **coauthors.RULES,
    **votes.RULES,
    **licences.RULES,
    **moderation.RULES,
    **reports.RULES,
    **appeals.RULES,
    **comments.RULES,
    **profiles.RULES,
    **payouts.RULES,
}
EVENT_TYPES = frozenset(RULES)


def handle(state: State, ev: Fact) -> None:
    """Check ``ev`` against ``state`` and apply it; raise and change nothing if it is refused.

    Raises ``UnknownEventTypeError``, ``MemberErasedError`` or the error of the
    event's own rules (see each aggregate module).
    """
    rule = RULES.get(ev.type)
    if rule is None:
        if ev.type in KEY_EVENT_TYPES:
            return
        raise UnknownEventTypeError(
            f"event type {ev.type} is neither a campaign event (domain/EVENTS.md) nor a "
            f"ledger key event",
            actor=ev.actor,
            seq=ev.seq,
            type=ev.type,
        )
    require_not_erased(state, ev.actor, ev.type)
    rule.apply(state, ev, rule.check(state, ev))


def require_not_erased(state: State, actor: str, type_: str) -> None:
    """Raise ``MemberErasedError`` when ``actor`` was erased (it may sign no ``type_``)."""
    if actor in state.erased:
        raise MemberErasedError(
            f"member {actor} was erased and can sign no further {type_}", member=actor
        )
