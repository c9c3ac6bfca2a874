"""Recovery of a lost key, the parts beside the key rules of ``ledger.actors``.

- ``disowned``: the events a ``KeyCompromised`` statement disowns. They stay in the
  log (it is append-only, and they verified when they were appended), ``cocred
  verify`` and the audit list them, and whatever reads the log consults this set
  (``Ledger.disowned``) to leave them out.
- The printable recovery code: a recovery key's 32-byte seed and a 2-byte checksum
  in RFC 4648 base32, in groups of four (``api/web/static/keys.js`` writes the same).
  The checksum catches a mistyped group before a request is signed with a wrong key.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

from ledger.actors import ActorState
from ledger.envelope import Envelope
from ledger.errors import BadRecoveryCodeError
from ledger.keys import SigningKey
from ledger.store import StoredRecord

_GROUP = 4


@dataclass(frozen=True, slots=True)
class Disowned:
    """An event its actor disowned: signed by ``key`` at or after the statement's ``since``."""

    position: int
    actor: str
    seq: int
    key: str
    statement: int  # the seq of the KeyCompromised that disowns it

    def __str__(self) -> str:
        return (
            f"position {self.position}: actor {self.actor} seq {self.seq} by key {self.key} "
            f"is disowned (KeyCompromised at seq {self.statement})"
        )


def disowned(state: ActorState | None, records: Iterable[StoredRecord]) -> list[Disowned]:
    """The actor's events (``records``, its stored events) that its KeyCompromised disown.

    An event is disowned when a statement names its key, it is dated at or after the
    statement's ``since``, and it comes between the registration (seq 1, the actor's
    identity, is never disowned) and the statement (after it the key is retired and
    verifies nothing).
    """
    if state is None or not state.compromised:
        return []
    out = []
    for record in records:
        env = Envelope.trusted(record.data)
        for c in state.compromised:
            if env.key == c.key and 1 < env.seq < c.seq and env.time >= c.since:
                out.append(Disowned(record.position, record.actor, record.seq, env.key, c.seq))
                break
    return out


def _checksum(seed: bytes) -> bytes:
    return hashlib.sha256(b"cocred recovery code\n" + seed).digest()[:2]


def recovery_code(key: SigningKey) -> str:
    """The printable code of a recovery key: its seed and a checksum, base32 in groups."""
    seed = key.private.private_bytes_raw()
    text = base64.b32encode(seed + _checksum(seed)).decode("ascii").rstrip("=")
    return "-".join(text[i : i + _GROUP] for i in range(0, len(text), _GROUP))


def read_recovery_code(code: str, actor: str) -> SigningKey:
    """The recovery key a printed code holds, signing for ``actor``.

    Spaces, dashes and case do not matter; raises ``BadRecoveryCodeError`` when the
    code is not one (wrong length, a letter outside base32, a checksum mismatch).
    """
    text = "".join(code.split()).replace("-", "").upper()
    if len(text) != 55:
        raise BadRecoveryCodeError(
            f"the recovery code must have 55 letters, got {len(text)}", letters=len(text)
        )
    try:
        raw = base64.b32decode(text + "=" * (-len(text) % 8))
    except ValueError as exc:
        raise BadRecoveryCodeError(
            "the recovery code holds a character that is not a base32 letter (A-Z, 2-7)"
        ) from exc
    seed, check = raw[:32], raw[32:]
    if _checksum(seed) != check:
        raise BadRecoveryCodeError(
            "the recovery code's checksum does not match: a group was mistyped"
        )
    return SigningKey.from_seed(seed, actor)
