"""Per-actor key state and the key events: registration, rotation, revocation.

An actor's first event is ``KeyRegistered`` (seq 1, self-signed, actor id = key id
= RFC 7638 thumbprint of the key). ``KeyRotated`` is signed by the current key,
names the new key and carries the new key's signature over a fixed statement
(proof of possession, so nobody can rotate to a key they do not hold).
``KeyRevoked`` ends the current key: the actor can sign nothing more. Events
signed before a rotation stay valid forever, because each event is checked
against the key state *at its own seq*.
"""

from __future__ import annotations

from collections.abc import Set as AbstractSet
from dataclasses import dataclass, replace
from typing import Any

from ledger.envelope import Envelope
from ledger.errors import (
    KeyEventError,
    MalformedError,
    ReplayError,
    RevokedKeyError,
    SequenceGapError,
    UnknownKeyError,
)
from ledger.key_events import KEY_EVENT_TYPES as KEY_EVENT_TYPES  # re-exported, as before
from ledger.key_events import KEY_REGISTERED, KEY_REVOKED, KEY_ROTATED
from ledger.keys import KeyFileError, b64url_decode, check_signature, key_id, parse_public_jwk

MAX_REASON = 200


def rotation_statement(actor: str, seq: int, new_key: str) -> bytes:
    """The bytes a new key signs to prove possession in a ``KeyRotated`` event."""
    return f"cocred key rotation\nactor {actor}\nseq {seq}\nnew key {new_key}\n".encode()


@dataclass(frozen=True, slots=True)
class KeySpan:
    """One key of an actor: valid from seq ``since`` through ``until`` (the seq that retired it)."""

    key: str
    public: bytes
    since: int
    until: int | None = None
    revoked: bool = False


@dataclass(frozen=True, slots=True)
class ActorState:
    """What the ledger knows of an actor after its event ``seq``."""

    actor: str
    seq: int
    keys: tuple[KeySpan, ...]

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
        _body_keys(env, {"jwk"})
        kid, public = _jwk(env)
        if env.key != kid or env.actor != kid:
            raise KeyEventError(
                f"actor {env.actor}: {KEY_REGISTERED} must name its own key as actor and "
                f"key (thumbprint {kid})",
                actor=env.actor,
                seq=env.seq,
            )
        return public, ActorState(env.actor, 1, (KeySpan(kid, public, 1),))

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
    span = state.span_of(env.key)
    if span is None:
        raise UnknownKeyError(
            f"actor {env.actor}: key {env.key} is not a key of this actor",
            actor=env.actor,
            seq=env.seq,
            key=env.key,
        )
    if span.until is not None:
        how = "revoked" if span.revoked else "rotated away"
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
        _body_keys(env, {"jwk", "proof"})
        kid, public = _jwk(env)
        if state.span_of(kid) is not None:
            raise KeyEventError(
                f"actor {env.actor}: key {kid} was already used by this actor",
                actor=env.actor,
                seq=env.seq,
            )
        try:
            proof = b64url_decode(env.body["proof"], length=64, what="KeyRotated body.proof")
        except MalformedError as exc:
            raise KeyEventError(
                f"actor {env.actor}: {exc.detail}", actor=env.actor, seq=env.seq
            ) from exc
        check_signature(
            public,
            rotation_statement(env.actor, env.seq, kid),
            proof,
            f"actor {env.actor} seq {env.seq}: KeyRotated proof of possession",
        )
        keys = state.keys[:-1] + (replace(span, until=env.seq), KeySpan(kid, public, env.seq + 1))
        return ActorState(state.actor, env.seq, keys)
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
        return ActorState(state.actor, env.seq, keys)
    return ActorState(state.actor, env.seq, state.keys)
