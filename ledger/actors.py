"""Per-actor key state and the key events: registration, rotation, revocation.

An actor's first event is ``KeyRegistered`` (seq 1, self-signed, actor id = key id
= RFC 7638 thumbprint of the key). ``KeyRotated`` is signed by the current key,
names the new key and carries the new key's signature over a fixed statement
(proof of possession, so nobody can rotate to a key they do not hold).
``KeyRevoked`` ends the current key: the actor can sign nothing more. Events
signed before a rotation stay valid forever, because each event is checked
against the key state *at its own seq*.

Recovery of a lost key (issue 20; ``domain/EVENTS.md`` "The ledger's key events"):
a *recovery key* is registered with the first key (``KeyRegistered`` body
``recovery``) or later (``RecoveryKeyRegistered``, signed by the current key).
``RecoveryRequested`` {jwk, proof}, signed by the recovery key, names a new key; it
takes effect ``RECOVERY_DELAY`` (72 h, as did:plc's recovery window) after its own
``ts``, and until then the current key may refuse it with ``RecoveryCancelled``.
The recovery is applied at the first event the new key signs dated at or after that
moment; from then the old key verifies nothing, and an old-key event dated at or
after the moment is refused even before it. ``KeyCompromised`` {key, since}, signed
by the current key, names one of the actor's retired keys: its events dated at or
after ``since`` stay in the log but are *disowned* (``ledger.recovery.disowned``).
Every rule is a function of the signed events alone, so ``ledger.verify`` re-checks
it; the one clock rule (a ``RecoveryRequested`` may not be backdated) is the
ledger's at append time, beside its clock-skew rule.
"""

from __future__ import annotations

from collections.abc import Set as AbstractSet
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from ledger.envelope import Envelope, format_ts, parse_ts
from ledger.errors import (
    CompromiseInFutureError,
    KeyEventError,
    MalformedError,
    NoPendingRecoveryError,
    NoRecoveryKeyError,
    RecoveredKeyError,
    RecoveryKeyMisuseError,
    RecoveryNotInEffectError,
    RecoveryPendingError,
    ReplayError,
    RevokedKeyError,
    SequenceGapError,
    UnknownKeyError,
    WrongRecoveryKeyError,
)
from ledger.key_events import (
    KEY_COMPROMISED,
    KEY_REGISTERED,
    KEY_REVOKED,
    KEY_ROTATED,
    RECOVERY_CANCELLED,
    RECOVERY_KEY_REGISTERED,
    RECOVERY_REQUESTED,
)
from ledger.key_events import KEY_EVENT_TYPES as KEY_EVENT_TYPES  # re-exported, as before
from ledger.key_events import (
    NAMING_KEY_TYPES as NAMING_KEY_TYPES,
)
from ledger.keys import KeyFileError, b64url_decode, check_signature, key_id, parse_public_jwk

MAX_REASON = 200
# How long a recovery waits before it takes effect: did:plc's 72 h recovery window
# (https://github.com/did-method-plc/did-method-plc, "Key Rotation & Account Recovery").
# Three days cover a weekend away: a member who looks at the campaign at least every
# other day sees a recovery that someone holding a stolen recovery code started, and
# cancels it with the key they still have. A member who has lost the key waits three
# days, once. A ledger constant, not a setting: ``cocred verify`` of the same log must
# give the same answer everywhere.
RECOVERY_DELAY = timedelta(hours=72)


def rotation_statement(actor: str, seq: int, new_key: str) -> bytes:
    """The bytes a new key signs to prove possession in a ``KeyRotated`` event."""
    return f"cocred key rotation\nactor {actor}\nseq {seq}\nnew key {new_key}\n".encode()


def recovery_statement(actor: str, seq: int, new_key: str) -> bytes:
    """The bytes a new key signs to prove possession in a ``RecoveryRequested`` event."""
    return f"cocred key recovery\nactor {actor}\nseq {seq}\nnew key {new_key}\n".encode()


@dataclass(frozen=True, slots=True)
class KeySpan:
    """One key of an actor: valid from seq ``since`` through ``until`` (the seq that retired it)."""

    key: str
    public: bytes
    since: int
    until: int | None = None
    revoked: bool = False
    recovered: bool = False  # retired by a recovery (not a rotation)


@dataclass(frozen=True, slots=True)
class PendingRecovery:
    """A ``RecoveryRequested`` (at ``seq``) for ``key``, in effect from ``effective``."""

    seq: int
    key: str
    public: bytes
    effective: datetime


@dataclass(frozen=True, slots=True)
class Compromise:
    """A ``KeyCompromised`` (at ``seq``): ``key``'s events dated from ``since`` are disowned."""

    seq: int
    key: str
    since: datetime


@dataclass(frozen=True, slots=True)
class ActorState:
    """What the ledger knows of an actor after its event ``seq``."""

    actor: str
    seq: int
    keys: tuple[KeySpan, ...]
    recovery: tuple[str, bytes] | None = None  # the recovery key's id and public key
    pending: PendingRecovery | None = None
    compromised: tuple[Compromise, ...] = ()

    @property
    def current(self) -> KeySpan | None:
        last = self.keys[-1]
        return None if last.until is not None else last

    def span_of(self, key: str) -> KeySpan | None:
        return next((span for span in self.keys if span.key == key), None)


def _body_keys(
    env: Envelope, required: AbstractSet[str], optional: AbstractSet[str] = frozenset()
) -> None:
    keys = set(env.body)
    if not required <= keys or not keys <= required | optional:
        names = ", ".join(sorted(required)) + (
            f" (optional: {', '.join(sorted(optional))})" if optional else ""
        )
        raise KeyEventError(
            f"actor {env.actor}: {env.type} body must have {names}", actor=env.actor, seq=env.seq
        )


def _jwk(env: Envelope) -> tuple[str, bytes]:
    try:
        public = parse_public_jwk(env.body.get("jwk"), what=f"{env.type} body.jwk")
    except KeyFileError as exc:
        raise KeyEventError(
            f"actor {env.actor}: {exc.detail}", actor=env.actor, seq=env.seq
        ) from exc
    return key_id(public), public


def resolve(state: ActorState | None, env: Envelope) -> tuple[bytes, ActorState]:
    """Check ``env`` against the actor's state before it.

    Returns the public key that must verify ``env.sig`` and the actor's state
    after ``env``. Does not verify the envelope signature itself (callers batch
    that across threads) but does verify a rotation's proof of possession.
    Raises ``UnknownKeyError``, ``RevokedKeyError``, ``ReplayError``,
    ``SequenceGapError`` or ``KeyEventError``.
    """
    if state is None:
        if env.type != KEY_REGISTERED:
            raise UnknownKeyError(
                f"actor {env.actor} is not registered (an actor's first event is {KEY_REGISTERED})",
                actor=env.actor,
                seq=env.seq,
            )
        if env.seq != 1:
            raise SequenceGapError(
                f"actor {env.actor}: {KEY_REGISTERED} must have seq 1, got {env.seq}",
                actor=env.actor,
                seq=env.seq,
            )
        _body_keys(env, {"jwk"}, {"recovery"})
        kid, public = _jwk(env)
        if env.key != kid or env.actor != kid:
            raise KeyEventError(
                f"actor {env.actor}: {KEY_REGISTERED} must name its own key as actor and "
                f"key (thumbprint {kid})",
                actor=env.actor,
                seq=env.seq,
            )
        first = ActorState(env.actor, 1, (KeySpan(kid, public, 1),))
        if "recovery" in env.body:
            first = replace(first, recovery=_recovery_key(first, env, "recovery"))
        return public, first

    if env.seq <= state.seq:
        raise ReplayError(
            f"actor {env.actor}: seq {env.seq} is already used (last seq is {state.seq})",
            actor=env.actor,
            seq=env.seq,
        )
    if env.seq != state.seq + 1:
        raise SequenceGapError(
            f"actor {env.actor}: seq {env.seq} skips ahead; the next seq must be {state.seq + 1}",
            actor=env.actor,
            seq=env.seq,
        )
    if state.pending is not None:
        state = _settle(state, state.pending, env)
    if env.type == RECOVERY_REQUESTED:
        return _request_recovery(state, env)
    if state.recovery is not None and env.key == state.recovery[0]:
        raise RecoveryKeyMisuseError(
            f"actor {env.actor}: the recovery key {env.key} signs only {RECOVERY_REQUESTED}, "
            f"not {env.type} (seq {env.seq})",
            actor=env.actor,
            seq=env.seq,
            key=env.key,
        )
    span = state.span_of(env.key)
    if span is None:
        raise UnknownKeyError(
            f"actor {env.actor}: key {env.key} is not a key of this actor",
            actor=env.actor,
            seq=env.seq,
            key=env.key,
        )
    if span.until is not None:
        how = "revoked" if span.revoked else "recovered away" if span.recovered else "rotated away"
        if span.recovered:
            raise RecoveredKeyError(
                f"actor {env.actor}: key {env.key} was {how} at seq {span.until}, "
                f"before seq {env.seq}",
                actor=env.actor,
                seq=env.seq,
                key=env.key,
            )
        raise RevokedKeyError(
            f"actor {env.actor}: key {env.key} was {how} at seq {span.until}, before seq {env.seq}",
            actor=env.actor,
            seq=env.seq,
            key=env.key,
        )
    return span.public, _apply_key_event(state, env, span)


def _apply_key_event(state: ActorState, env: Envelope, span: KeySpan) -> ActorState:
    if env.type == KEY_REGISTERED:
        raise KeyEventError(
            f"actor {env.actor} is already registered", actor=env.actor, seq=env.seq
        )
    if env.type == KEY_ROTATED:
        if state.pending is not None:
            raise _pending(state, state.pending, env, "cancel it before rotating the key")
        kid, public = _new_key(state, env, rotation_statement)
        keys = state.keys[:-1] + (replace(span, until=env.seq), KeySpan(kid, public, env.seq + 1))
        return replace(state, seq=env.seq, keys=keys)
    if env.type == KEY_REVOKED:
        _body_keys(env, {"key"}, {"reason"})
        reason: Any = env.body.get("reason", "")
        if env.body["key"] != env.key:
            raise KeyEventError(
                f"actor {env.actor}: {KEY_REVOKED} must name the key that signs it ({env.key})",
                actor=env.actor,
                seq=env.seq,
            )
        if not isinstance(reason, str) or len(reason) > MAX_REASON:
            raise KeyEventError(
                f"actor {env.actor}: {KEY_REVOKED} reason must be text of at "
                f"most {MAX_REASON} characters",
                actor=env.actor,
                seq=env.seq,
            )
        keys = state.keys[:-1] + (replace(span, until=env.seq, revoked=True),)
        # Revoked, the actor signs nothing more: a pending recovery cannot take effect.
        return replace(state, seq=env.seq, keys=keys, pending=None)
    if env.type == RECOVERY_KEY_REGISTERED:
        _body_keys(env, {"jwk"})
        return replace(state, seq=env.seq, recovery=_recovery_key(state, env, "jwk"))
    if env.type == RECOVERY_CANCELLED:
        _body_keys(env, set())
        if state.pending is None:
            raise NoPendingRecoveryError(
                f"actor {env.actor}: {RECOVERY_CANCELLED} at seq {env.seq} but no recovery "
                f"is pending",
                actor=env.actor,
                seq=env.seq,
            )
        return replace(state, seq=env.seq, pending=None)
    if env.type == KEY_COMPROMISED:
        return replace(
            state, seq=env.seq, compromised=(*state.compromised, _compromise(state, env))
        )
    return replace(state, seq=env.seq)


def _new_key(state: ActorState, env: Envelope, statement: Any) -> tuple[str, bytes]:
    """The key a ``KeyRotated``/``RecoveryRequested`` names, new to the actor and proven held."""
    _body_keys(env, {"jwk", "proof"})
    kid, public = _jwk(env)
    if state.span_of(kid) is not None or (state.recovery is not None and state.recovery[0] == kid):
        raise KeyEventError(
            f"actor {env.actor}: key {kid} was already used by this actor",
            actor=env.actor,
            seq=env.seq,
        )
    try:
        proof = b64url_decode(env.body["proof"], length=64, what=f"{env.type} body.proof")
    except MalformedError as exc:
        raise KeyEventError(
            f"actor {env.actor}: {exc.detail}", actor=env.actor, seq=env.seq
        ) from exc
    check_signature(
        public,
        statement(env.actor, env.seq, kid),
        proof,
        f"actor {env.actor} seq {env.seq}: {env.type} proof of possession",
    )
    return kid, public


def _recovery_key(state: ActorState, env: Envelope, field: str) -> tuple[str, bytes]:
    """The recovery key in ``env.body[field]``: readable, and none of the actor's keys."""
    try:
        public = parse_public_jwk(env.body.get(field), what=f"{env.type} body.{field}")
    except KeyFileError as exc:
        raise KeyEventError(
            f"actor {env.actor}: {exc.detail}", actor=env.actor, seq=env.seq
        ) from exc
    kid = key_id(public)
    if state.span_of(kid) is not None or (state.pending is not None and state.pending.key == kid):
        raise KeyEventError(
            f"actor {env.actor}: the recovery key {kid} must not be a key of this actor",
            actor=env.actor,
            seq=env.seq,
        )
    return kid, public


def _pending(
    state: ActorState, pending: PendingRecovery, env: Envelope, what: str
) -> RecoveryPendingError:
    return RecoveryPendingError(
        f"actor {env.actor}: the recovery requested at seq {pending.seq} (in effect from "
        f"{format_ts(pending.effective)}) is pending; {what}",
        actor=env.actor,
        seq=env.seq,
        pending=pending.seq,
    )


def _request_recovery(state: ActorState, env: Envelope) -> tuple[bytes, ActorState]:
    """Check a ``RecoveryRequested``; return the recovery key and the state with it pending."""
    if state.recovery is None:
        raise NoRecoveryKeyError(
            f"actor {env.actor}: {RECOVERY_REQUESTED} at seq {env.seq} but the actor "
            f"registered no recovery key",
            actor=env.actor,
            seq=env.seq,
        )
    recovery, public = state.recovery
    if env.key != recovery:
        raise WrongRecoveryKeyError(
            f"actor {env.actor}: {RECOVERY_REQUESTED} must be signed by the recovery key "
            f"{recovery}, not {env.key}",
            actor=env.actor,
            seq=env.seq,
            key=env.key,
        )
    if state.current is None:
        raise RevokedKeyError(
            f"actor {env.actor}: the actor's key was revoked at seq {state.keys[-1].until}; "
            f"there is nothing to recover",
            actor=env.actor,
            seq=env.seq,
            key=env.key,
        )
    if state.pending is not None:
        raise _pending(state, state.pending, env, "a second request waits until it is cancelled")
    kid, new_public = _new_key(state, env, recovery_statement)
    pending = PendingRecovery(env.seq, kid, new_public, env.time + RECOVERY_DELAY)
    return public, replace(state, seq=env.seq, pending=pending)


def _settle(state: ActorState, pending: PendingRecovery, env: Envelope) -> ActorState:
    """Apply a pending recovery if ``env`` is the new key's first event in effect.

    Refuses a new-key event dated before the recovery takes effect, and an old-key
    event dated at or after it.
    """
    if env.key == pending.key:
        if env.time < pending.effective:
            raise RecoveryNotInEffectError(
                f"actor {env.actor}: the recovery requested at seq {pending.seq} takes effect "
                f"at {format_ts(pending.effective)}; seq {env.seq} by its key {env.key} is dated "
                f"{env.ts}",
                actor=env.actor,
                seq=env.seq,
                key=env.key,
            )
        old = state.keys[-1]
        keys = state.keys[:-1] + (
            replace(old, until=env.seq, recovered=True),
            KeySpan(pending.key, pending.public, env.seq),
        )
        return replace(state, keys=keys, pending=None)
    current = state.current
    if current is not None and env.key == current.key and env.time >= pending.effective:
        raise RecoveredKeyError(
            f"actor {env.actor}: key {env.key} was replaced by the recovery requested at seq "
            f"{pending.seq}, in effect from {format_ts(pending.effective)}; seq {env.seq} is dated "
            f"{env.ts}",
            actor=env.actor,
            seq=env.seq,
            key=env.key,
        )
    return state


def _compromise(state: ActorState, env: Envelope) -> Compromise:
    """Check a ``KeyCompromised`` {key, since}: a retired key of the actor, since not ahead."""
    _body_keys(env, {"key", "since"})
    named = env.body["key"]
    span = state.span_of(named) if isinstance(named, str) else None
    if span is None:
        raise KeyEventError(
            f"actor {env.actor}: {KEY_COMPROMISED} names {named!r}, which is not a key of "
            f"this actor",
            actor=env.actor,
            seq=env.seq,
        )
    if span.until is None:
        raise KeyEventError(
            f"actor {env.actor}: {KEY_COMPROMISED} names the current key {named}; rotate or "
            f"recover away from it first",
            actor=env.actor,
            seq=env.seq,
        )
    try:
        since = parse_ts(env.body["since"])
    except MalformedError as exc:
        raise KeyEventError(
            f"actor {env.actor}: {KEY_COMPROMISED} since must be an RFC 3339 UTC time like "
            f"2026-11-22T10:00:00Z, got {env.body['since']!r}",
            actor=env.actor,
            seq=env.seq,
        ) from exc
    if since > env.time:
        raise CompromiseInFutureError(
            f"actor {env.actor}: {KEY_COMPROMISED} since {env.body['since']} is later than "
            f"the statement itself ({env.ts})",
            actor=env.actor,
            seq=env.seq,
        )
    return Compromise(env.seq, named, since)
