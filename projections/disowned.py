"""What a ``KeyCompromised`` takes out of the campaigns (issue 20; the rule: RULES.md).

The ledger says which events a statement disowns (``ledger.recovery.disowned``: the
actor's own events signed with the named retired key, dated from ``since``, before the
statement). The projections then leave out of a campaign every such event, except

- in a campaign already closed at the statement's position: its scores were final at the
  close and its payouts are proposed, settled and paid from them, so the statement changes
  nothing there and is recorded against it (the explanation says so);
- a consent another party relied on (``LicenceGranted``, ``CoAuthorshipAccepted``): the
  brand reused a piece, a co-author's work was credited, on the strength of it; the
  member withdraws it from now on as any consent (``LicenceRevoked``), not back in time.

``statement`` reads the log up to the statement once (one pass: the cost of a rare event)
and returns what it takes out; ``LogState`` then recomputes the campaigns without them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

import orjson

from domain.vocabulary import CAMPAIGN_EVENT_TYPES, COAUTHORSHIP_ACCEPTED, LICENCE_GRANTED
from ledger.envelope import Envelope, parse_ts
from ledger.store import StoredRecord

# Consents another party relied on: a statement never takes them out (see above).
KEPT_CONSENTS = frozenset({LICENCE_GRANTED, COAUTHORSHIP_ACCEPTED})
CONSENT_KEPT = "a consent another party relied on is withdrawn, not undone"
Reader = Callable[[int, int], list[StoredRecord]]
PAGE = 5000


@dataclass(frozen=True, slots=True)
class Statement:
    """One ``KeyCompromised`` as the campaigns see it."""

    position: int
    actor: str
    key: str
    since: str
    # campaign -> the positions left out of it (disowned, and they do not count)
    left_out: Mapping[str, tuple[int, ...]] = field(default_factory=dict)
    # campaign -> the positions disowned but still counted, and why
    kept: Mapping[str, tuple[tuple[int, ...], str]] = field(default_factory=dict)

    def positions(self) -> set[int]:
        return {p for found in self.left_out.values() for p in found}

    def sentences(self, campaign: str) -> list[tuple[int, str]]:
        """(position, sentence) of what this statement did to ``campaign``."""

        def events(n: int) -> str:
            verb = "was" if n == 1 else "were"
            return (
                f"{n} event{'' if n == 1 else 's'} signed by {self.actor} with key {self.key} "
                f"from {self.since} {verb} disowned by the member (KeyCompromised at position "
                f"{self.position})"
            )

        out = []
        found = self.left_out.get(campaign, ())
        if found:
            out.append((self.position, f"{events(len(found))} and do not count"))
        if campaign in self.kept:
            positions, why = self.kept[campaign]
            out.append((self.position, f"{events(len(positions))} but still count: {why}"))
        return out


def statement(
    read: Reader,
    record: StoredRecord,
    closed: Mapping[str, int | None],
    excluded: set[int],
) -> Statement:
    """What the ``KeyCompromised`` ``record`` takes out of which campaign.

    ``closed`` gives each campaign's close position as of the statement (None: open);
    ``excluded`` the positions earlier statements already took out (not counted twice).
    """
    env = orjson.loads(record.data)
    key, since_text = env["body"]["key"], env["body"]["since"]
    since: datetime = parse_ts(since_text)
    left_out: dict[str, list[int]] = {}
    kept: dict[str, list[int]] = {}
    reasons: dict[str, str] = {}
    position = 0
    while position < record.position:
        records = read(position, min(PAGE, record.position - position))
        if not records:
            break
        for found in records:
            if (
                found.actor != record.actor
                or found.type not in CAMPAIGN_EVENT_TYPES
                or not 1 < found.seq < record.seq
                or found.position in excluded
            ):
                continue
            signed = Envelope.trusted(found.data)
            if signed.key != key or signed.time < since or signed.campaign is None:
                continue
            cid = signed.campaign
            if cid not in closed:
                continue  # no such campaign: it never counted anywhere
            close = closed[cid]
            if close is not None:
                kept.setdefault(cid, []).append(found.position)
                reasons[cid] = f"the campaign was closed at position {close}, before the statement"
            elif found.type in KEPT_CONSENTS:
                kept.setdefault(cid, []).append(found.position)
                reasons.setdefault(cid, CONSENT_KEPT)
            else:
                left_out.setdefault(cid, []).append(found.position)
        position = records[-1].position + 1
    return Statement(
        record.position,
        record.actor,
        key,
        since_text,
        {cid: tuple(found) for cid, found in left_out.items()},
        {cid: (tuple(found), reasons[cid]) for cid, found in kept.items()},
    )
