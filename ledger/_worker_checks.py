"""The work the worker processes run (``ledger._workers`` runs it on them), chosen by measurement.

- Appending a batch (``ledger.ledger``): the caller parses and applies key
  states slice by slice, as it must in order, and each slice's signature checks
  go packed to a worker (``verify_packed``) while it parses the next. Parsing
  on the workers too was measured slower on 2 cores: the caller must still
  apply every event in order, so what the workers found has to travel back.
- Re-verifying a stored log (``ledger.verify``, the audit): each worker reads its
  range from the database itself and runs every check that needs no earlier
  event (``check_records``: parse, canonical form, row columns, signature,
  Merkle nodes); the caller applies key states and seq chains to the few facts
  that come back. Nothing but those facts crosses a pipe.

In the second, verifying needs the signer's public key before the caller has
applied the key events. A key id is the RFC 7638 thumbprint of its key, so a map
from key id to key is true whatever the event it was read from; each worker
keeps one, fed by the key events it reads and by the keys the caller learns
(sent with the next range). An event whose key a worker has not met yet comes
back unverified and the caller verifies it with the key its key state gives:
the same key, since a key state's key is always the one with that thumbprint.
"""

from __future__ import annotations

import hashlib
import sys
from array import array
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from ledger._fast import fast_parse
from ledger.actors import KEY_EVENT_TYPES, KEY_REGISTERED, NAMING_KEY_TYPES, RECOVERY_KEY_REGISTERED
from ledger.envelope import Envelope
from ledger.errors import LedgerError, MalformedEventError
from ledger.keys import key_id, parse_public_jwk, verify_signature
from ledger.provenance.merkle import subtree_levels
from ledger.store import Row, StoredRecord

Task = tuple[bytes, bytes, bytes]  # public key, signed bytes, signature
# What a worker gives the caller of each stored event that passed its checks: actor,
# key id, seq, type, and the stored bytes of key events (None for the others).
Fact = tuple[str, str, int, str, bytes | None]


def verify_slice(tasks: Sequence[Task]) -> int | None:
    """Index (within ``tasks``) of the first signature that does not verify, or None."""
    for index, (public, message, signature) in enumerate(tasks):
        if not verify_signature(public, message, signature):
            return index
    return None


def pack_tasks(tasks: Sequence[Task]) -> tuple[bytes, bytes]:
    """Signature checks as one blob (keys, signatures, then messages) and the messages' lengths.

    Raises ``ValueError`` for a key that is not 32 bytes or a signature not 64
    (the blob's layout counts on it). Pickling hundreds of small bytes objects
    one by one costs ten times more, in time the workers wait for.
    """
    keys = b"".join([public for public, _, _ in tasks])
    signatures = b"".join([sig for _, _, sig in tasks])
    if len(keys) != 32 * len(tasks) or len(signatures) != 64 * len(tasks):
        raise ValueError("pack_tasks: keys must be 32 bytes and signatures 64")
    lengths = array("I", [len(message) for _, message, _ in tasks])
    return b"".join([keys, signatures, *(message for _, message, _ in tasks)]), lengths.tobytes()


def verify_packed(blob: bytes, lengths: bytes) -> int | None:
    """``verify_slice`` of what ``pack_tasks`` packed."""
    sizes = array("I", lengths)
    count = len(sizes)
    at = 96 * count  # keys (32 bytes each), then signatures (64)
    for index, size in enumerate(sizes):
        public = blob[32 * index : 32 * index + 32]
        signature = blob[32 * count + 64 * index : 32 * count + 64 * index + 64]
        if not verify_signature(public, blob[at : at + size], signature):
            return index
        at += size
    return None


def clock_refusal(actor: str, seq: int, ts: str, skew: timedelta) -> MalformedEventError:
    """The refusal of an envelope dated more than ``skew`` ahead of the ledger's clock."""
    return MalformedEventError(
        f"envelope: field 'ts' {ts} is more than "
        f"{int(skew.total_seconds())} s ahead of the ledger's clock",
        actor=actor,
        seq=seq,
    )


def backdated_refusal(actor: str, seq: int, ts: str, skew: timedelta) -> LedgerError:
    """The refusal of a ``RecoveryRequested`` dated more than ``skew`` before the ledger's clock.

    Its delay runs from its own ``ts``: backdated, it would take effect early.
    """
    from ledger.errors import RecoveryBackdatedError

    return RecoveryBackdatedError(
        f"actor {actor}: RecoveryRequested seq {seq} is dated {ts}, more than "
        f"{int(skew.total_seconds())} s before the ledger's clock; its delay runs from its ts, "
        f"so it must be dated now",
        actor=actor,
        seq=seq,
    )


def learn_key(keys: dict[str, bytes], body: Any, field: str = "jwk") -> bytes | None:
    """Add the key a key event's body names to ``keys``; return it (None if unreadable)."""
    try:
        public = parse_public_jwk(body.get(field) if isinstance(body, dict) else None)
    except LedgerError:
        return None
    keys[key_id(public)] = public
    return public


# -- stored records (verify_log and the audit) ---------------------------------------------


class RangeResult:
    """What a worker found in one range of stored records (see ``check_records``)."""

    __slots__ = ("start", "count", "facts", "failure", "bad", "unknown", "levels", "kept")

    def __init__(self, start: int) -> None:
        self.start = start
        self.count = 0  # records read
        self.facts: list[Fact] = []  # of the records that passed the structural checks
        self.failure: tuple[int, str, str] | None = None  # (position, step, detail)
        self.bad: int | None = None  # position of the first bad signature
        self.unknown: list[tuple[int, bytes, bytes]] = []  # (position, signed bytes, signature)
        self.levels: list[bytes] = []  # Merkle nodes of the range, level by level
        self.kept: list[StoredRecord] = []  # records of the kept types

    def __getstate__(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in self.__slots__)

    def __setstate__(self, state: tuple[Any, ...]) -> None:
        for name, value in zip(self.__slots__, state, strict=True):
            setattr(self, name, value)


def check_records(
    rows: Sequence[Row],
    start: int,
    keys: dict[str, bytes],
    *,
    leaves: bool = False,
    keep: frozenset[str] = frozenset(),
) -> RangeResult:
    """Check stored events that should sit at positions ``start``, ``start + 1`` …

    In order, up to the first failure: the position, the strict parse, the
    canonical form, the row's actor/seq/type against the envelope, then the
    signature (with ``keys``; an unknown key is left to the caller). Also the
    Merkle nodes of the range when ``leaves`` and all holds, and the records of
    the ``keep`` types. Key states and seq chains are the caller's: the facts
    run up to and including the event of a bad signature, which the caller's
    key-state failure at that same event would come before.
    """
    result = RangeResult(start)
    result.count = len(rows)
    facts, unknown = result.facts, result.unknown
    hashes: list[bytes] = []
    sha256 = hashlib.sha256
    expected = start
    for position, row_actor, row_seq, row_type, data in rows:
        if type(data) is not bytes:  # as the store reads it
            data = bytes(data)
        if position != expected:
            result.failure = (
                expected,
                "order",
                f"expected position {expected}, found {position} (an event is missing)",
            )
            break
        parts = fast_parse(data)
        if parts is not None:
            obj, signature, message, _ = parts
            actor, key, seq, type_ = obj["actor"], obj["key"], obj["seq"], obj["type"]
        else:
            try:
                env = Envelope.from_bytes(data)
            except LedgerError as exc:
                result.failure = (position, "parse", exc.detail)
                break
            if env.canonical_bytes() != data:
                result.failure = (
                    position,
                    "canonical",
                    "stored bytes are not the canonical form of the envelope they hold",
                )
                break
            obj = env.to_json()
            actor, key, seq, type_ = env.actor, env.key, env.seq, env.type
            signature, message = env.signature, env.signing_bytes()
        if row_actor != actor or row_seq != seq or row_type != type_:
            result.failure = (
                position,
                "index",
                f"row says actor {row_actor} seq {row_seq} type {row_type}, "
                f"envelope says actor {actor} seq {seq} type {type_}",
            )
            break
        # Equal strings as one object: pickle then sends them once (half the bytes).
        if key == actor:
            key = actor
        type_ = _intern(type_)
        if type_ in _KEY_TYPES:
            facts.append((actor, key, seq, type_, data))
            if type_ == KEY_REGISTERED:  # self-signed: verified with the key it registers
                public = learn_key(keys, obj["body"])
                if "recovery" in obj["body"]:  # the key a RecoveryRequested is signed by
                    learn_key(keys, obj["body"], "recovery")
            else:
                public = keys.get(key)
                if type_ in NAMING_KEY_TYPES or type_ == RECOVERY_KEY_REGISTERED:
                    learn_key(keys, obj["body"])
        else:
            facts.append((actor, key, seq, type_, None))
            public = keys.get(key)
        if type_ in keep:
            result.kept.append(StoredRecord(position, actor, seq, type_, data))
        if leaves:
            hashes.append(sha256(b"\x00" + data).digest())
        if public is None:
            unknown.append((position, message, signature))
        elif not verify_signature(public, message, signature):
            result.bad = position
            break
        expected += 1
    if leaves and result.failure is None and result.bad is None and rows:
        result.levels = subtree_levels(hashes)
    return result


_KEY_TYPES = KEY_EVENT_TYPES
_intern = sys.intern
