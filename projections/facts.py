"""What the log says about one campaign, as plain records (no scores: see ``scoring``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from domain.vocabulary import ENGAGEMENT_KINDS as KINDS
from domain.vocabulary import EXCLUDING_OUTCOMES, FILED, UNREVIEWED_REJECT
from domain.vocabulary import MODERATION_OUTCOMES as OUTCOMES

OPEN_STATUS = "open"  # a contribution's status while no moderation named it


@dataclass(slots=True, eq=False)
class Member:
    """A member as seen by one campaign, with the attribution counters kept per event."""

    id: str
    invited_at: int | None = None
    joined_at: int | None = None
    blocked_at: int | None = None
    block_reason: str | None = None
    votes: dict[tuple[str, str], int] = field(default_factory=dict)  # (contribution, kind) -> pos
    authored: list[str] = field(default_factory=list)
    coauthored: int = 0
    received: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    reuses: int = 0
    remixed_by_others: int = 0
    licences: int = 0
    moderated: dict[str, int] = field(default_factory=lambda: dict.fromkeys(OUTCOMES, 0))

    @property
    def blocked(self) -> bool:
        return self.blocked_at is not None


@dataclass(frozen=True, slots=True)
class Parent:
    """One ``derived_from`` entry: the declared share (None = policy default) and its value."""

    contribution: str
    declared: str | None
    share: Fraction


@dataclass(slots=True, eq=False)
class Contribution:
    """A submitted contribution and what happened to it."""

    id: str
    position: int
    signer: str
    kind: str
    title: str
    content: str
    authors: tuple[tuple[str, int], ...]  # (member, percent), sorted by member
    parents: tuple[Parent, ...]  # in declared order
    children: list[str] = field(default_factory=list)
    status: str = OPEN_STATUS  # or the latest moderation outcome
    votes: dict[tuple[str, str], int] = field(default_factory=dict)  # (voter, kind) -> pos
    received: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    reuse_events: int = 0
    reuse_keys: dict[tuple[str, str], int] = field(default_factory=dict)  # (channel, terr.) -> pos
    author_ids: frozenset[str] = frozenset()
    # Co-author consent (a policy with coauthor_consent): who has not accepted yet, in the
    # submission's order, and who declined. Pending or declined, it earns nothing.
    awaiting: tuple[str, ...] = ()
    declined_by: str | None = None
    declined_at: int | None = None  # the CoAuthorshipDeclined's position
    # Never moderated when the close named ``unreviewed`` (accept or reject): that choice.
    unreviewed: str | None = None
    appeal: str | None = None  # the id of its latest appeal (``Appeal``), if any

    def __post_init__(self) -> None:
        self.author_ids = frozenset(member for member, _ in self.authors)

    @property
    def unconsented(self) -> bool:
        """Pending (a co-author has not accepted) or declined (one refused)."""
        return bool(self.awaiting) or self.declined_by is not None

    @property
    def excluded(self) -> bool:
        """Earns nothing: rejected or removed by moderation, not consented to, or left
        unreviewed by a close with ``unreviewed: reject``."""
        return (
            self.status in EXCLUDING_OUTCOMES
            or self.unconsented
            or self.unreviewed == UNREVIEWED_REJECT
        )

    def percent_of(self, member: str) -> int:
        return next((percent for m, percent in self.authors if m == member), 0)


@dataclass(slots=True, eq=False)
class Grant:
    """One author's grant of a licence."""

    licence: str
    author: str
    contribution: str
    body: dict[str, Any]
    granted_at: int
    revoked_at: int | None = None


@dataclass(frozen=True, slots=True)
class Reuse:
    """A ``ReuseRecorded`` event; ``distinct`` when it is the first for its channel/territory."""

    position: int
    contribution: str
    licence: str
    channel: str
    territory: str
    distinct: bool


@dataclass(frozen=True, slots=True)
class Moderation:
    """A ``ContributionModerated`` event."""

    position: int
    contribution: str
    outcome: str
    reason: str
    note: str | None
    reports: tuple[str, ...] | None = None  # the reports it cites (None: the field is absent)


@dataclass(slots=True, eq=False)
class Appeal:
    """An ``AppealFiled`` event (its id is ``"<submitter>:<seq>"``) and the brand's decision."""

    position: int
    id: str
    contribution: str
    appellant: str
    against: str  # the moderation outcome appealed (rejected or removed)
    reason: str
    text: str | None
    decided_at: int | None = None  # the AppealDecided's position
    outcome: str | None = None  # upheld or reinstated, once decided
    decision_reason: str | None = None
    note: str | None = None

    @property
    def status(self) -> str:
        """``filed`` while the brand has not decided, then the decision's outcome."""
        return self.outcome or FILED


@dataclass(frozen=True, slots=True)
class Report:
    """A ``ContributionReported`` or ``CommentReported`` event (its id is
    ``"<reporter>:<seq>"``); ``comment`` names the reported comment, on ``contribution``."""

    position: int
    id: str
    contribution: str
    reporter: str
    reason: str
    text: str | None
    comment: str | None = None


@dataclass(frozen=True, slots=True)
class Ignored:
    """A campaign event the projection did not apply, and why (the domain should prevent it)."""

    position: int
    type: str
    actor: str
    reason: str


@dataclass(slots=True, eq=False)
class Comment:
    """A ``CommentPosted`` event; ``hidden`` is the brand's ``(position, reason)`` once hidden."""

    position: int
    id: str
    contribution: str
    parent: str | None
    author: str
    text: str
    as_brand: bool
    hidden: tuple[int, str] | None = None
