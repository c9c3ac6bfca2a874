"""What ``cocred monitor --watch-actor/--watch-piece`` alerts on: the campaign words it reads.

The monitor's core (``ledger.provenance.monitor``) verifies a remote log and knows no
campaign event; this module is its ``Observer`` and the one place the monitor reads bodies
(``domain/EVENTS.md``):

- ``watched-actor``: any event signed by a watched actor id;
- ``submission``: a ``ContributionSubmitted`` whose ``content`` is a watched hash (the
  contribution it makes is watched from then on);
- ``remix``: a ``ContributionSubmitted`` whose ``derived_from`` names a watched contribution;
- ``reuse``: a ``ReuseRecorded`` of a watched contribution;
- ``licence-expiring``: a ``LicenceGranted`` of a watched contribution, not revoked
  (``LicenceRevoked``), whose ``ends_at`` is less than the warning period away; said once
  per licence, checked after every pass against the clock.

A watched piece is a content hash (64 lowercase hex) or a contribution id (``<actor>:<seq>``).
Watches apply to the entries a pass verifies: adding one later does not look back. A remix of
a watched piece is not itself watched (watch it by its id to follow it too).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from domain.vocabulary import (
    CONTRIBUTION_SUBMITTED,
    LICENCE_GRANTED,
    LICENCE_REVOKED,
    REUSE_RECORDED,
)
from ledger.envelope import Envelope
from ledger.provenance.monitor import Alert

WATCHED_ACTOR = "watched-actor"
SUBMISSION = "submission"
REMIX = "remix"
REUSE = "reuse"
LICENCE_EXPIRING = "licence-expiring"
WATCH_KINDS = (WATCHED_ACTOR, SUBMISSION, REMIX, REUSE, LICENCE_EXPIRING)
DEFAULT_WARNING = timedelta(days=14)

_HASH = re.compile(r"[0-9a-f]{64}")


def _contribution_of(licence: str) -> str:
    """The contribution of a licence id ``<contribution>/<name>``."""
    return licence.rpartition("/")[0]


def _time(text: Any) -> datetime | None:
    if not isinstance(text, str):
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


class Watch:
    """The watch rules over verified entries, with the state the monitor keeps for them.

    ``state()`` holds the contributions learnt from watched hashes and the licences of
    watched contributions (their end, whether revoked, whether the expiry was said).
    """

    def __init__(
        self,
        actors: Iterable[str] = (),
        pieces: Iterable[str] = (),
        *,
        warning: timedelta = DEFAULT_WARNING,
    ) -> None:
        self.actors = frozenset(actors)
        pieces = set(pieces)
        self.hashes = frozenset(p for p in pieces if _HASH.fullmatch(p))
        self.named = frozenset(pieces - self.hashes)
        self.warning = warning
        self.learnt: dict[str, str] = {}  # contribution id -> the watched hash it holds
        self.licences: dict[str, dict[str, Any]] = {}

    def watched(self, contribution: Any) -> bool:
        return isinstance(contribution, str) and (
            contribution in self.named or contribution in self.learnt
        )

    def observe(self, position: int, env: Envelope) -> list[Alert]:
        alerts: list[Alert] = []
        where = {"actor": env.actor, "seq": env.seq, "type": env.type}
        if env.actor in self.actors:
            alerts.append(
                Alert(
                    WATCHED_ACTOR,
                    f"watched actor {env.actor} signed {env.type} (seq {env.seq}) at position "
                    f"{position}",
                    position=position,
                    ids=where,
                )
            )
        body = env.body
        if env.type == CONTRIBUTION_SUBMITTED:
            made = f"{env.actor}:{env.seq}"
            content = body.get("content")
            if isinstance(content, str) and content in self.hashes:
                self.learnt[made] = content
                alerts.append(
                    Alert(
                        SUBMISSION,
                        f"watched content {content} was submitted as contribution {made} "
                        f"({body.get('title')!r}) by {env.actor} at position {position}",
                        position=position,
                        ids={**where, "contribution": made, "content": content},
                    )
                )
            sources = body.get("derived_from")
            for source in sources if isinstance(sources, list) else ():
                parent = source.get("contribution") if isinstance(source, dict) else None
                if self.watched(parent):
                    share = source.get("share")
                    alerts.append(
                        Alert(
                            REMIX,
                            f"contribution {made} ({body.get('title')!r}) by {env.actor} "
                            f"remixes watched piece {parent} (share "
                            f"{'the policy default' if share is None else share}) at "
                            f"position {position}",
                            position=position,
                            ids={**where, "contribution": made, "piece": parent},
                        )
                    )
        elif env.type == REUSE_RECORDED and self.watched(body.get("contribution")):
            piece = body["contribution"]
            alerts.append(
                Alert(
                    REUSE,
                    f"{env.actor} recorded a reuse of watched piece {piece} under licence "
                    f"{body.get('licence')} on channel {body.get('channel')} in "
                    f"{body.get('territory')} at position {position}",
                    position=position,
                    ids={**where, "piece": piece, "licence": body.get("licence")},
                )
            )
        elif env.type == LICENCE_GRANTED:
            licence = body.get("licence")
            if isinstance(licence, str) and self.watched(_contribution_of(licence)):
                known = self.licences.setdefault(
                    licence,
                    {"ends_at": body.get("ends_at"), "revoked": False, "warned": False},
                )
                known["position"] = position
        elif env.type == LICENCE_REVOKED:
            licence = body.get("licence")
            if isinstance(licence, str) and licence in self.licences:
                self.licences[licence]["revoked"] = True
        return alerts

    def due(self, now: datetime) -> list[Alert]:
        alerts = []
        for licence, known in sorted(self.licences.items()):
            ends = _time(known["ends_at"])
            if known["revoked"] or known["warned"] or ends is None:
                continue
            if now < ends <= now + self.warning:
                known["warned"] = True
                left = ends - now
                alerts.append(
                    Alert(
                        LICENCE_EXPIRING,
                        f"licence {licence} of watched piece {_contribution_of(licence)} ends "
                        f"at {known['ends_at']}, in {left.days} days and "
                        f"{left.seconds // 3600} hours",
                        position=known.get("position"),
                        ids={"licence": licence, "ends_at": known["ends_at"]},
                    )
                )
        return alerts

    def state(self) -> Any:
        return {
            "learnt": dict(self.learnt),
            "licences": {name: dict(known) for name, known in self.licences.items()},
        }

    def restore(self, state: Any) -> None:
        if not isinstance(state, dict):
            state = {}
        self.learnt = dict(state.get("learnt", {}))
        self.licences = {name: dict(known) for name, known in state.get("licences", {}).items()}
