"""The licence aggregate: authors license a contribution, the licensee records reuses.

A licence id is ``"<contribution>/<name>"``. It is *live* for a channel and a
territory at time t when every author of the contribution has granted it with an
identical body, none has revoked it, and ``starts_at <= t < ends_at``. A revoked
licence id is final: it can be neither granted nor revoked again. A reuse must be
covered by a live licence naming its signer as licensee.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any

from domain.campaign import campaign_of
from domain.contributions import Contribution, contribution_in, require_usable
from domain.errors import (
    DuplicateLicenceError,
    LicenceRevokedError,
    NoLicenceError,
    NotAuthorError,
    UnknownLicenceError,
)
from domain.membership import require_member
from domain.state import Rule, State, no_change
from domain.values import (
    COUNTRY,
    LICENCE_NAME,
    Fact,
    actor_id,
    constants,
    contribution_ref,
    event_time,
    expect_keys,
    malformed,
    matching,
    one_of,
    sha256_hex,
    time,
)
from domain.vocabulary import LICENCE_GRANTED, LICENCE_REVOKED, REUSE_RECORDED
from ledger.envelope import format_ts

CHANNELS = constants("social", "ads", "packaging", "product", "print", "web")
WORLDWIDE = "worldwide"
_GRANT_FIELDS = frozenset(
    {"licence", "licensee", "channels", "territory", "starts_at", "ends_at", "terms"}
)
_REUSE_FIELDS = frozenset({"contribution", "licence", "channel", "territory"})


@dataclass(frozen=True, slots=True)
class Grant:
    """One author's grant: the parsed terms, and the body they were read from."""

    licensee: str
    channels: frozenset[str]
    territory: frozenset[str] | None  # None = worldwide
    starts_at: datetime
    ends_at: datetime | None
    body: Mapping[str, Any] = field(compare=False)


@dataclass(frozen=True, slots=True)
class Licence:
    """A licence id, the grants made for it so far (by author), and whether it was revoked."""

    id: str
    contribution: str
    grants: Mapping[str, Grant]
    revoked: bool = False

    def why_not_live(
        self, found: Contribution, licensee: str, channel: str, territory: str, at: datetime
    ) -> str | None:
        """None when the licence covers this reuse, else the reason it does not."""
        if self.revoked:
            return f"licence {self.id} was revoked"
        missing = [a for a in found.authors if a not in self.grants]
        if missing:
            return f"author {missing[0]} has not granted licence {self.id}"
        grants = [self.grants[a] for a in found.authors]
        first = grants[0]
        if any(g.body != first.body for g in grants[1:]):
            return f"the authors granted licence {self.id} on different terms"
        if first.licensee != licensee:
            return f"licence {self.id} names licensee {first.licensee}, not {licensee}"
        if channel not in first.channels:
            return f"licence {self.id} does not cover channel {channel}"
        if first.territory is not None and territory not in first.territory:
            return f"licence {self.id} does not cover territory {territory}"
        if at < first.starts_at or (first.ends_at is not None and at >= first.ends_at):
            until = "no end" if first.ends_at is None else format_ts(first.ends_at)
            return (
                f"licence {self.id} runs from {format_ts(first.starts_at)} until {until}, "
                f"not at {format_ts(at)}"
            )
        return None


def split_licence(ev: Fact, value: Any) -> tuple[str, str]:
    """``(contribution, name)`` of a licence id ``"<contribution>/<name>"``."""
    if type(value) is not str or "/" not in value:
        raise malformed(ev, f"field 'licence' must be '<contribution>/<name>', got {value!r}")
    cid, name = value.rsplit("/", 1)
    contribution_ref(ev, "licence", cid)
    matching(ev, "licence", name, LICENCE_NAME, "'<contribution>/<name>' with name [a-z0-9-]{1,32}")
    return cid, name


def _distinct(ev: Fact, name: str, value: Any, check: Callable[[Any], object]) -> list[str]:
    """A non-empty list of distinct values, each passing ``check``."""
    if not isinstance(value, list) or not value:
        raise malformed(ev, f"field '{name}' must be a non-empty list")
    for item in value:
        check(item)
    if len(set(value)) != len(value):
        raise malformed(ev, f"field '{name}' must not repeat a value")
    return value


def _grant(ev: Fact, body: Mapping[str, Any]) -> Grant:
    channels = _distinct(
        ev, "channels", body["channels"], lambda c: one_of(ev, "channels", c, CHANNELS)
    )
    territory = body["territory"]
    if territory != WORLDWIDE:
        _distinct(
            ev,
            "territory",
            territory,
            lambda c: matching(
                ev, "territory", c, COUNTRY, "'worldwide' or ISO 3166 alpha-2 codes"
            ),
        )
    starts = time(ev, "starts_at", body["starts_at"])
    ends = None if body["ends_at"] is None else time(ev, "ends_at", body["ends_at"])
    if ends is not None and ends <= starts:
        raise malformed(ev, "field 'ends_at' must be after 'starts_at' (or null)")
    sha256_hex(ev, "terms", body["terms"])
    return Grant(
        licensee=actor_id(ev, "licensee", body["licensee"]),
        channels=frozenset(channels),
        territory=None if territory == WORLDWIDE else frozenset(territory),
        starts_at=starts,
        ends_at=ends,
        body=body,
    )


def _require_author(found: Contribution, ev: Fact, licence: str) -> None:
    if ev.actor not in found.authors:
        raise NotAuthorError(
            f"{ev.actor} is not an author of contribution {found.id} and cannot grant or "
            f"revoke licence {licence}",
            campaign=found.campaign,
            contribution=found.id,
            licence=licence,
        )


def _revoked(licence: Licence, campaign: str) -> LicenceRevokedError:
    return LicenceRevokedError(
        f"licence {licence.id} was revoked; grant a licence with a new name instead",
        campaign=campaign,
        licence=licence.id,
    )


def check_granted(state: State, ev: Fact) -> Licence:
    body = expect_keys(ev, _GRANT_FIELDS)
    cid, _ = split_licence(ev, body["licence"])
    grant = _grant(ev, body)
    campaign = campaign_of(state, ev)
    require_member(state, campaign, ev.actor)
    found = contribution_in(state, campaign.id, cid)
    require_usable(found, "licences")
    lid = body["licence"]
    _require_author(found, ev, lid)
    licence = state.licences.get(lid) or Licence(lid, found.id, MappingProxyType({}))
    if licence.revoked:
        raise _revoked(licence, campaign.id)
    if ev.actor in licence.grants:
        raise DuplicateLicenceError(
            f"author {ev.actor} granted licence {lid} already",
            campaign=campaign.id,
            licence=lid,
        )
    grants = MappingProxyType({**licence.grants, state.name(ev.actor): grant})
    return Licence(lid, found.id, grants)


def check_revoked(state: State, ev: Fact) -> Licence:
    lid = expect_keys(ev, {"licence"})["licence"]
    cid, _ = split_licence(ev, lid)
    campaign = campaign_of(state, ev)
    require_member(state, campaign, ev.actor)
    found = contribution_in(state, campaign.id, cid)
    licence = state.licences.get(lid)
    if licence is None:
        raise UnknownLicenceError(
            f"licence {lid} was never granted", campaign=campaign.id, licence=lid
        )
    _require_author(found, ev, lid)
    if licence.revoked:
        raise _revoked(licence, campaign.id)
    return Licence(licence.id, licence.contribution, licence.grants, revoked=True)


def store_licence(state: State, ev: Fact, licence: Licence) -> None:
    state.put(state.licences, licence.id, licence)


def check_reuse(state: State, ev: Fact) -> None:
    body = expect_keys(ev, _REUSE_FIELDS)
    cid = contribution_ref(ev, "contribution", body["contribution"])
    of, _ = split_licence(ev, body["licence"])
    if of != cid:
        raise malformed(ev, f"licence {body['licence']} is not a licence of contribution {cid}")
    channel = one_of(ev, "channel", body["channel"], CHANNELS)
    territory = matching(ev, "territory", body["territory"], COUNTRY, "an ISO 3166 alpha-2 code")
    campaign = campaign_of(state, ev)
    found = contribution_in(state, campaign.id, cid)
    require_usable(found, "reuses")
    licence = state.licences.get(body["licence"])
    reason = (
        f"licence {body['licence']} was never granted"
        if licence is None
        else licence.why_not_live(found, ev.actor, channel, territory, event_time(ev))
    )
    if reason is not None:
        raise NoLicenceError(
            f"no live licence covers this reuse of {cid} by {ev.actor}: {reason}",
            campaign=campaign.id,
            contribution=cid,
            licence=body["licence"],
        )


RULES = {
    LICENCE_GRANTED: Rule(check_granted, store_licence),
    LICENCE_REVOKED: Rule(check_revoked, store_licence),
    REUSE_RECORDED: Rule(check_reuse, no_change),
}
