"""The campaign aggregate: opened, funded, closed.

A brand opens a campaign with its window, membership mode, currency, pool and
policy; only that brand funds and closes it. Between ``ends_at`` and the close is the review
phase: submissions and votes are refused (``require_window``), moderation and appeals go
on. Once closed, every later event for the campaign is refused except the payout events
(``domain/payouts.py``, which also marks the campaign settled). The helpers at the bottom
(``campaign_of``, ``require_owner``, ``require_window``) are the checks every other campaign
event starts with.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from domain.errors import (
    AppealUndecidedError,
    CampaignClosedError,
    DuplicateCampaignError,
    MalformedBodyError,
    NotCampaignOwnerError,
    OutsideCampaignWindowError,
    UnknownCampaignError,
    UnreviewedPiecesError,
)
from domain.policy import Policy
from domain.state import Rule, State
from domain.values import (
    CAMPAIGN_ID,
    CURRENCY,
    MAX_AMOUNT,
    Fact,
    constants,
    event_time,
    expect_keys,
    integer,
    malformed,
    matching,
    one_of,
    sha256_hex,
    text,
    time,
)
from domain.vocabulary import (
    CAMPAIGN_CLOSED,
    CAMPAIGN_OPENED,
    FILED,
    INVITE_ONLY,
    OPEN,
    PAYOUT_EVENT_TYPES,
    POOL_FUNDED,
    UNREVIEWED_CHOICES,
)
from ledger.canonical import json_fields
from ledger.envelope import format_ts

MEMBERSHIP_MODES = constants(OPEN, INVITE_ONLY)
UNREVIEWED = constants(*UNREVIEWED_CHOICES)
_CLOSED_OPTIONAL = frozenset({"unreviewed"})
MAX_NAMED = 20  # ids an error lists at most
_OPENED_FIELDS = frozenset(
    {"title", "guidelines", "starts_at", "ends_at", "membership", "currency", "pool", "policy"}
)


@dataclass(frozen=True, slots=True)
class Campaign:
    """A campaign as the rules see it."""

    id: str
    brand: str
    title: str
    guidelines: str
    starts_at: datetime
    ends_at: datetime
    membership: str
    currency: str
    pool: int
    policy: Policy
    closed: bool = False
    settled: bool = False

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready summary (what ``cocred campaign show`` prints)."""
        out = json_fields(
            self,
            starts_at=format_ts(self.starts_at),
            ends_at=format_ts(self.ends_at),
            policy=dict(self.policy.raw),
        )
        return {"campaign": out.pop("id"), **out}


# -- checks every campaign event starts with ---------------------------------------------------


def find_campaign(state: State, cid: str) -> Campaign:
    """The campaign ``cid``; ``UnknownCampaignError`` if it was never opened."""
    campaign = state.campaigns.get(cid)
    if campaign is None:
        raise UnknownCampaignError(f"campaign {cid} was never opened", campaign=cid)
    return campaign


def campaign_of(state: State, ev: Fact) -> Campaign:
    """The campaign named in the envelope; refuses unknown and closed campaigns.

    Raises ``MalformedBodyError`` (no campaign named), ``UnknownCampaignError``,
    ``CampaignClosedError`` (unless ``ev`` is one of the payout events).
    """
    cid = ev.campaign
    if cid is None:
        raise MalformedBodyError(
            f"{ev.type} must name its campaign in the envelope's campaign field",
            actor=ev.actor,
            seq=ev.seq,
        )
    campaign = find_campaign(state, cid)
    if campaign.closed and ev.type not in PAYOUT_EVENT_TYPES:
        raise CampaignClosedError(
            f"campaign {cid} is closed: {ev.type} is refused", campaign=cid, actor=ev.actor
        )
    return campaign


def require_owner(campaign: Campaign, ev: Fact, what: str) -> None:
    """Raise ``NotCampaignOwnerError`` unless the signer is the campaign's brand."""
    if ev.actor != campaign.brand:
        raise NotCampaignOwnerError(
            f"only the brand {campaign.brand} of campaign {campaign.id} may {what}; "
            f"{ev.actor} may not",
            campaign=campaign.id,
            actor=ev.actor,
        )


def require_window(campaign: Campaign, ev: Fact) -> None:
    """Raise ``OutsideCampaignWindowError`` when ``ev.ts`` is outside [starts_at, ends_at]."""
    moment = event_time(ev)
    if moment < campaign.starts_at or moment > campaign.ends_at:
        raise OutsideCampaignWindowError(
            f"campaign {campaign.id} takes submissions and votes from "
            f"{format_ts(campaign.starts_at)} to {format_ts(campaign.ends_at)}; "
            f"{ev.type} at {ev.ts} is outside",
            campaign=campaign.id,
            actor=ev.actor,
        )


# -- the events --------------------------------------------------------------------------------


def check_opened(state: State, ev: Fact) -> Campaign:
    body = expect_keys(ev, _OPENED_FIELDS)
    cid = ev.campaign
    if cid is None or not CAMPAIGN_ID.fullmatch(cid):
        raise malformed(
            ev,
            f"the envelope's campaign field must be the new campaign's id "
            f"([a-z0-9][a-z0-9-]{{2,47}}), got {cid!r}",
        )
    starts = time(ev, "starts_at", body["starts_at"])
    ends = time(ev, "ends_at", body["ends_at"])
    if ends <= starts:
        raise malformed(ev, "field 'ends_at' must be after 'starts_at'")
    campaign = Campaign(
        id=cid,
        brand=state.name(ev.actor),
        title=text(ev, "title", body["title"]),
        guidelines=sha256_hex(ev, "guidelines", body["guidelines"]),
        starts_at=starts,
        ends_at=ends,
        membership=one_of(ev, "membership", body["membership"], MEMBERSHIP_MODES),
        currency=matching(ev, "currency", body["currency"], CURRENCY, "an ISO 4217 code"),
        pool=integer(ev, "pool", body["pool"]),
        policy=Policy.parse(ev, body["policy"]),
    )
    taken = state.campaigns.get(cid)
    if taken is not None:
        raise DuplicateCampaignError(
            f"campaign id {cid} is already taken (opened by {taken.brand})", campaign=cid
        )
    return campaign


def check_funded(state: State, ev: Fact) -> Campaign:
    amount = integer(ev, "amount", expect_keys(ev, {"amount"})["amount"], minimum=1)
    campaign = campaign_of(state, ev)
    require_owner(campaign, ev, "fund its pool")
    if campaign.pool + amount > MAX_AMOUNT:
        raise malformed(ev, f"the pool would exceed {MAX_AMOUNT} minor units")
    return replace(campaign, pool=campaign.pool + amount)


def check_closed(state: State, ev: Fact) -> Campaign:
    """The close; ``unreviewed`` (optional) says what becomes of the pieces never moderated.

    Refused while an appeal awaits the brand (``AppealUndecidedError``) and, under a policy
    with ``review``, while pieces await review and ``unreviewed`` is absent
    (``UnreviewedPiecesError``). Without ``review`` a close may leave it out, as before.
    """
    body = expect_keys(ev, (), _CLOSED_OPTIONAL)
    if "unreviewed" in body:
        one_of(ev, "unreviewed", body["unreviewed"], UNREVIEWED)
    campaign = campaign_of(state, ev)
    require_owner(campaign, ev, "close it")
    pieces = [c for c in state.contributions.values() if c.campaign == campaign.id]
    appealed = sorted(c.id for c in pieces if c.appeal == FILED)
    if appealed:
        raise AppealUndecidedError(
            f"campaign {campaign.id} has {len(appealed)} appeal(s) awaiting the brand's "
            f"decision (first: contribution {appealed[0]}): decide them before the close",
            campaign=campaign.id,
            contributions=appealed[:MAX_NAMED],
        )
    if campaign.policy.review and "unreviewed" not in body:
        waiting = sum(1 for c in pieces if c.outcome is None)
        if waiting:
            raise UnreviewedPiecesError(
                f"campaign {campaign.id} has {waiting} piece(s) awaiting review: moderate them "
                f"or close with unreviewed accept or reject",
                campaign=campaign.id,
                unreviewed=waiting,
            )
    return replace(campaign, closed=True)


def store_campaign(state: State, ev: Fact, campaign: Campaign) -> None:
    state.put(state.campaigns, campaign.id, campaign)
    state.add(state.brands, campaign.brand)


RULES = {
    CAMPAIGN_OPENED: Rule(check_opened, store_campaign),
    POOL_FUNDED: Rule(check_funded, store_campaign),
    CAMPAIGN_CLOSED: Rule(check_closed, store_campaign),
}
