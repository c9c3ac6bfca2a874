"""Signed campaign events for tests and benchmarks, built per ``domain/EVENTS.md``.

``Script`` plays a campaign: actors (deterministic keys from a seed and a name)
register, join, submit, vote, remix, licence, get reused, moderated, blocked…
Every act becomes a signed envelope with the next ``seq`` of its actor and a
timestamp one second after the previous one. Scripts only produce rule-abiding
logs (the domain's rules are not in the append path here), so the tests feed
the projections what the real system would.

``flush(ledger)`` appends what is pending in batches; ``records()`` returns every
event as the store would (positions from 0), for tests of the pure model that
need no database. ``tests/projections/lively.py`` plays a whole random campaign.
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from typing import Any

from domain.vocabulary import DEFAULT_POLICY_V1, ENGAGEMENT_KINDS
from ledger.actors import KEY_COMPROMISED, KEY_ROTATED, rotation_statement
from ledger.envelope import Envelope, format_ts, sign_envelope
from ledger.keys import SigningKey, b64url, public_jwk
from ledger.ledger import Ledger
from ledger.store import StoredRecord
from projections.campaign import CampaignState
from projections.state import LogState
from tests.support import registration

START = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
KINDS = ENGAGEMENT_KINDS
GUIDELINES = hashlib.sha256(b"be kind, be original").hexdigest()


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass
class Actor:
    name: str
    key: SigningKey
    seq: int = 0

    @property
    def id(self) -> str:
        return self.key.actor


class Script:
    """One campaign's events, in order (see the module docstring)."""

    def __init__(
        self,
        campaign: str = "summer-26",
        *,
        seed: int = 0,
        pool: int = 100_000,
        currency: str = "EUR",
        membership: str = "open",
        policy: dict[str, Any] | None = None,
        brand: str = "brand",
        keep: bool = True,
        legacy: bool = False,
    ) -> None:
        """``legacy``: a policy without ``objection_window``, as campaigns opened before
        payout proposals had (they settle without one)."""
        self.campaign = campaign
        self.seed = seed
        self.keep = keep
        self.pending: list[Envelope] = []
        self.log: list[tuple[str, int, str, bytes]] = []
        self.actors: dict[str, Actor] = {}
        self.ticks = 0
        self.policy = {**copy.deepcopy(dict(DEFAULT_POLICY_V1)), **(policy or {})}
        if legacy:
            del self.policy["objection_window"]
        self.membership = membership
        self.brand = self.actor(brand)
        self._sign(
            self.brand,
            "CampaignOpened",
            {
                "title": f"Campaign {campaign}",
                "guidelines": GUIDELINES,
                "starts_at": "2026-05-01T00:00:00Z",
                "ends_at": "2026-12-31T00:00:00Z",
                "membership": membership,
                "currency": currency,
                "pool": pool,
                "policy": self.policy,
            },
        )

    # -- plumbing --------------------------------------------------------------------------

    def actor(self, name: str) -> Actor:
        """The actor called ``name``, registering its key on first use."""
        found = self.actors.get(name)
        if found is None:
            seed = hashlib.sha256(f"{self.seed}/{name}".encode()).digest()
            found = self.actors[name] = Actor(name, SigningKey.from_seed(seed), seq=1)
            self._push(registration(found.key))
        return found

    def id(self, name: str) -> str:
        return self.actor(name).id

    def _push(self, env: Envelope) -> None:
        self.pending.append(env)
        if self.keep:
            self.log.append((env.actor, env.seq, env.type, env.canonical_bytes()))

    def _sign(
        self, actor: Actor, type_: str, body: dict[str, Any], campaign: str | None = ""
    ) -> Envelope:
        actor.seq += 1
        self.ticks += 1
        env = sign_envelope(
            actor.key,
            type_,
            body,
            seq=actor.seq,
            ts=START + timedelta(seconds=self.ticks),
            campaign=self.campaign if campaign == "" else campaign,
        )
        self._push(env)
        return env

    def flush(self, ledger: Ledger, batch: int = 1000) -> list[int]:
        """Append every pending event (in batches); return their positions."""
        positions: list[int] = []
        for i in range(0, len(self.pending), batch):
            positions += ledger.append_batch(self.pending[i : i + batch])
        self.pending = []
        return positions

    def records(self, start: int = 0) -> list[StoredRecord]:
        """Every event so far as stored records (positions from ``start``)."""
        return [
            StoredRecord(start + i, actor, seq, type_, data)
            for i, (actor, seq, type_, data) in enumerate(self.log)
        ]

    # -- brand acts ------------------------------------------------------------------------

    def fund(self, amount: int) -> None:
        self._sign(self.brand, "PoolFunded", {"amount": amount})

    def invite(self, name: str) -> None:
        self._sign(self.brand, "MemberInvited", {"member": self.id(name)})

    def block(self, name: str, reason: str = "sock-puppet") -> None:
        self._sign(self.brand, "MemberBlocked", {"member": self.id(name), "reason": reason})

    def unblock(self, name: str) -> None:
        self._sign(self.brand, "MemberUnblocked", {"member": self.id(name)})

    def moderate(
        self,
        contribution: str,
        outcome: str,
        reason: str = "off-topic",
        *,
        reports: Sequence[str] | None = None,
    ) -> None:
        body: dict[str, Any] = {
            "contribution": contribution, "outcome": outcome, "reason": reason, "note": None,
        }  # fmt: skip
        if reports is not None:
            body["reports"] = list(reports)
        self._sign(self.brand, "ContributionModerated", body)

    def reuse(self, contribution: str, licence: str, channel: str = "web", territory: str = "FR"):
        body = {
            "contribution": contribution,
            "licence": licence,
            "channel": channel,
            "territory": territory,
        }
        self._sign(self.brand, "ReuseRecorded", body)

    def close(self, unreviewed: str | None = None) -> None:
        body = {} if unreviewed is None else {"unreviewed": unreviewed}
        self._sign(self.brand, "CampaignClosed", body)

    def appeal(self, name: str, contribution: str, reason: str = "misjudged") -> str:
        """The submitter ``name`` appeals the piece's moderation; return the appeal's id."""
        body = {"contribution": contribution, "reason": reason, "text": None}
        env = self._sign(self.actor(name), "AppealFiled", body)
        return f"{env.actor}:{env.seq}"

    def rotate(self, name: str) -> SigningKey:
        """``name`` rotates to a new key (with its proof of possession); return the old key."""
        actor = self.actor(name)
        old = actor.key
        seed = hashlib.sha256(f"{self.seed}/{name}/{actor.seq}".encode()).digest()
        new = SigningKey.from_seed(seed).for_actor(actor.id)
        proof = new.sign(rotation_statement(actor.id, actor.seq + 1, new.key_id))
        body = {"jwk": public_jwk(new.public_bytes), "proof": b64url(proof)}
        self._sign(actor, KEY_ROTATED, body, campaign=None)
        actor.key = new
        return old

    def compromised(self, name: str, key: SigningKey, since: datetime) -> Envelope:
        """``name`` states that ``key`` (retired) was stolen at ``since``."""
        body = {"key": key.key_id, "since": format_ts(since)}
        return self._sign(self.actor(name), KEY_COMPROMISED, body, campaign=None)

    def now(self) -> datetime:
        """The time the next event will be dated."""
        return START + timedelta(seconds=self.ticks + 1)

    def decide(self, contribution: str, outcome: str, reason: str = "fair-point") -> None:
        body = {"contribution": contribution, "outcome": outcome, "reason": reason, "note": None}
        self._sign(self.brand, "AppealDecided", body)

    def settle(self, export: str, total: int, lines: int, currency: str = "EUR") -> Envelope:
        body = {
            "policy": {"name": "cocred-fair", "version": 1},
            "total": total,
            "currency": currency,
            "export": export,
            "lines": lines,
        }
        return self._sign(self.brand, "PayoutsSettled", body)

    def propose(self, export: str, payees: dict[str, int], total: int) -> Envelope:
        """``PayoutsProposed`` (the next events come after its objection window)."""
        body = {
            "policy": {"name": "cocred-fair", "version": 1},
            "total": total,
            "currency": "EUR",
            "export": export,
            "lines": len(payees),
            "payees": payees,
        }
        env = self._sign(self.brand, "PayoutsProposed", body)
        self.ticks += int(self.policy.get("objection_window", 0))
        return env

    # -- member acts -----------------------------------------------------------------------

    def join(self, *names: str) -> None:
        """Each name joins (invited first when the campaign is invite-only)."""
        for name in names:
            if self.membership == "invite-only":
                self.invite(name)
            self._sign(self.actor(name), "MemberJoined", {"guidelines": GUIDELINES})

    def submit(
        self,
        name: str,
        title: str = "an idea",
        *,
        kind: str = "idea",
        authors: Sequence[tuple[str, int]] | None = None,
        derived_from: Sequence[tuple[str, str | None]] = (),
    ) -> str:
        """Submit a contribution; return its id. ``authors`` are (name, percent) pairs."""
        body: dict[str, Any] = {
            "content": digest(f"{name}/{title}/{self.ticks}"),
            "kind": kind,
            "title": title,
            "derived_from": [{"contribution": c, "share": s} for c, s in derived_from],
        }
        if authors is not None:
            body["authors"] = [{"member": self.id(n), "share": p} for n, p in authors]
        env = self._sign(self.actor(name), "ContributionSubmitted", body)
        return f"{env.actor}:{env.seq}"

    def vote(self, name: str, contribution: str, kind: str = "support") -> None:
        body: dict[str, Any] = {"contribution": contribution, "kind": kind}
        if kind == "comment":
            body["comment"] = digest(f"{name} on {contribution}")
        self._sign(self.actor(name), "VoteCast", body)

    def report(
        self, name: str, contribution: str, reason: str = "spam", text: str | None = None
    ) -> str:
        """Report a contribution; return the report's id."""
        body = {
            "contribution": contribution,
            "reason": reason,
            "text": None if text is None else digest(text),
        }
        env = self._sign(self.actor(name), "ContributionReported", body)
        return f"{env.actor}:{env.seq}"

    def comment(
        self,
        name: str,
        contribution: str,
        *,
        parent: str | None = None,
        text: str | None = None,
        as_brand: bool = False,
    ) -> str:
        """Comment (default text: the one ``vote(name, contribution, "comment")`` names, so
        that vote is tied to this comment); return the comment's id."""
        actor = self.brand if as_brand else self.actor(name)
        body = {
            "contribution": contribution,
            "parent": parent,
            "text": digest(f"{name} on {contribution}" if text is None else text),
            "as_brand": as_brand,
        }
        env = self._sign(actor, "CommentPosted", body)
        return f"{env.actor}:{env.seq}"

    def report_comment(self, name: str, comment: str, reason: str = "spam") -> str:
        """Report a comment; return the report's id."""
        body = {"comment": comment, "reason": reason, "text": None}
        env = self._sign(self.actor(name), "CommentReported", body)
        return f"{env.actor}:{env.seq}"

    def hide(self, comment: str, reason: str = "off-topic") -> None:
        self._sign(self.brand, "CommentHidden", {"comment": comment, "reason": reason})

    def profile(self, name: str) -> None:
        """A ``ProfileCommitted`` (no campaign): an event the campaign projections skip."""
        body = {"commitment": digest(f"{name}/{self.ticks}")}
        self._sign(self.actor(name), "ProfileCommitted", body, campaign=None)

    def withdraw(self, name: str, contribution: str, kind: str = "support") -> None:
        self._sign(self.actor(name), "VoteWithdrawn", {"contribution": contribution, "kind": kind})

    def grant(self, contribution: str, authors: Iterable[str], name: str = "web") -> str:
        """Every author grants the brand the same licence; return the licence id."""
        licence = f"{contribution}/{name}"
        body = {
            "licence": licence,
            "licensee": self.brand.id,
            "channels": ["web", "social"],
            "territory": "worldwide",
            "starts_at": "2026-05-01T00:00:00Z",
            "ends_at": None,
            "terms": digest("standard terms"),
        }
        for author in authors:
            self._sign(self.actor(author), "LicenceGranted", body)
        return licence

    def accept(self, name: str, contribution: str) -> None:
        """``name`` accepts the co-authorship of ``contribution`` (consent policies)."""
        self._sign(self.actor(name), "CoAuthorshipAccepted", {"contribution": contribution})

    def decline(self, name: str, contribution: str, reason: str = "not-my-work") -> None:
        body = {"contribution": contribution, "reason": reason}
        self._sign(self.actor(name), "CoAuthorshipDeclined", body)

    def revoke(self, licence: str, author: str) -> None:
        self._sign(self.actor(author), "LicenceRevoked", {"licence": licence})

    def ring(self, size: int, prefix: str = "puppet", kinds: Sequence[str] = KINDS) -> list[str]:
        """A sock-puppet ring: each joins, submits, and votes every kind on the others' work."""
        names = [f"{prefix}{i}" for i in range(size)]
        self.join(*names)
        works = {n: self.submit(n, f"{n}'s entry") for n in names}
        for voter in names:
            for author in names:
                if author != voter:
                    for kind in kinds:
                        self.vote(voter, works[author], kind)
        return names


def replayed(records: Sequence[StoredRecord]) -> LogState:
    """The live state after a bulk replay of ``records`` (a whole log, positions from 0)."""
    state = LogState()
    state.apply_log(records)
    state.go_live()
    return state


def campaign_of(script: Script) -> CampaignState:
    """The script's campaign, replayed from its records (no database)."""
    return replayed(script.records()).campaign(script.campaign)


def credit(script: Script, name: str) -> Fraction:
    """A member's credit in the script's campaign, by name."""
    scorer = campaign_of(script).require_scorer()
    return scorer.credit.get(script.id(name), Fraction(0))
