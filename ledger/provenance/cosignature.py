"""C2SP ``tlog-cosignature`` v1 (Ed25519): a witness's statement about a checkpoint, and the
"k of these n witnesses" policy a receipt is checked against.

https://c2sp.org/tlog-cosignature. A cosignature is a signed-note signature line
``— <witness name> base64(key id || timestamp || signature)`` where the key id is
``SHA-256(name || 0x0A || 0x04 || public key)[:4]``, the timestamp a big-endian u64 of
POSIX seconds, and the Ed25519 signature is over::

    cosignature/v1
    time <timestamp>
    <the checkpoint body: origin, size, root hash, extension lines>

It states that, as of that time, this is the largest consistent tree the witness has
seen for that origin. A witness verifier key is a vkey of type 0x04
(``<name>+<8 hex>+base64(0x04 || key)``).

As in ``ledger.provenance.note``, we sign with ``cryptography`` and verify with PyNaCl.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import nacl.exceptions
import nacl.signing
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from ledger.errors import MalformedError, SignatureError, VerificationError
from ledger.provenance.note import (
    COSIGNATURE_V1,
    MalformedKeyError,
    NoteSignature,
    SignedCheckpoint,
    VerifierKey,
    _check_key_name,
    key_id,
)

HEADER = b"cosignature/v1\n"
MAX_TIMESTAMP = 2**63 - 1
COSIGNATURE_BYTES = 8 + 64  # timestamp || Ed25519 signature


class WitnessPolicyError(MalformedError):
    """A witness policy that cannot be met or parsed (no witnesses, k out of range, a bad key)."""

    code = "InvalidWitnessPolicy"


class WitnessQuorumError(VerificationError):
    """A checkpoint without valid cosignatures from enough of the trusted witnesses."""

    code = "WitnessQuorumNotMet"


def cosigned_message(checkpoint_body: bytes, timestamp: int) -> bytes:
    """The bytes a ``cosignature/v1`` signs: header, ``time <t>``, the checkpoint body."""
    return HEADER + f"time {timestamp}\n".encode() + checkpoint_body


@dataclass(frozen=True, slots=True)
class Cosignature:
    """One verified cosignature: which witness, and the time it states."""

    witness: str  # <name>+<hex key id>
    timestamp: int


class Cosigner:
    """A witness's signing side: cosigns checkpoint bodies under a name with an Ed25519 key."""

    def __init__(self, name: str, private_key: Ed25519PrivateKey) -> None:
        _check_key_name(name, MalformedKeyError, "cosigner")
        self.name = name
        self._private_key = private_key
        self.public_key = private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        self.key_id = key_id(name, self.public_key, COSIGNATURE_V1)

    @property
    def vkey(self) -> str:
        """The witness's verifier key, type 0x04: what a log or a policy pins."""
        return str(VerifierKey(self.name, self.key_id, self.public_key, COSIGNATURE_V1))

    def cosign(self, checkpoint_body: bytes, timestamp: int) -> NoteSignature:
        """The cosignature line's contents over ``checkpoint_body`` at ``timestamp``."""
        if type(timestamp) is not int or not 0 <= timestamp <= MAX_TIMESTAMP:
            raise MalformedError(f"cosignature: timestamp {timestamp!r} is not 0 to 2**63-1")
        signature = self._private_key.sign(cosigned_message(checkpoint_body, timestamp))
        return NoteSignature(self.name, self.key_id, struct.pack(">Q", timestamp) + signature)


def parse_witness_key(vkey: str) -> VerifierKey:
    """A witness verifier key (type 0x04); ``MalformedKeyError`` names what is wrong."""
    return VerifierKey.parse(vkey, COSIGNATURE_V1)


def verify_cosignature(
    checkpoint_body: bytes, signature: NoteSignature, witness: VerifierKey
) -> Cosignature:
    """Check one cosignature line by ``witness`` over ``checkpoint_body``; return its time.

    Raises ``SignatureError`` naming the witness for a line of the wrong length, a
    timestamp above 2**63-1, or a signature that does not verify.
    """
    name = f"{witness.name}+{witness.key_id.hex()}"
    if len(signature.signature) != COSIGNATURE_BYTES:
        raise SignatureError(
            f"cosignature by witness {name} is {len(signature.signature)} bytes, expected "
            f"{COSIGNATURE_BYTES} (timestamp and Ed25519 signature)"
        )
    (timestamp,) = struct.unpack(">Q", signature.signature[:8])
    if timestamp > MAX_TIMESTAMP:
        raise SignatureError(f"cosignature by witness {name}: timestamp above 2**63-1")
    try:
        nacl.signing.VerifyKey(witness.public_key).verify(
            cosigned_message(checkpoint_body, timestamp), signature.signature[8:]
        )
    except nacl.exceptions.CryptoError:
        raise SignatureError(
            f"cosignature by witness {name} (time {timestamp}) does not verify over the "
            f"checkpoint of size {_size(checkpoint_body)}"
        ) from None
    return Cosignature(name, timestamp)


def _size(body: bytes) -> str:
    lines = body.split(b"\n")
    return lines[1].decode() if len(lines) > 1 else "?"


def cosignatures_by(signed: SignedCheckpoint, witness: VerifierKey) -> list[NoteSignature]:
    """The lines of ``signed`` whose name and key id are ``witness``'s (others are ignored)."""
    return [s for s in signed.signatures if s.name == witness.name and s.key_id == witness.key_id]


@dataclass(frozen=True)
class WitnessPolicy:
    """Trust a checkpoint once ``quorum`` of these ``witnesses`` cosigned it."""

    witnesses: tuple[VerifierKey, ...]
    quorum: int

    def __post_init__(self) -> None:
        if not self.witnesses:
            raise WitnessPolicyError("witness policy: name at least one witness key")
        names = [(w.name, w.key_id) for w in self.witnesses]
        if len(set(names)) != len(names):
            raise WitnessPolicyError("witness policy: a witness key is named twice")
        if type(self.quorum) is not int or not 1 <= self.quorum <= len(self.witnesses):
            raise WitnessPolicyError(
                f"witness policy: quorum must be from 1 to {len(self.witnesses)} "
                f"(the number of witnesses), got {self.quorum!r}"
            )

    @classmethod
    def parse(cls, vkeys: Iterable[str], quorum: int | None = None) -> WitnessPolicy:
        """A policy from witness vkeys; ``quorum`` defaults to all of them."""
        try:
            witnesses = tuple(parse_witness_key(v) for v in vkeys)
        except MalformedKeyError as exc:
            raise WitnessPolicyError(f"witness policy: {exc.detail}") from exc
        return cls(witnesses, len(witnesses) if quorum is None else quorum)

    def check(self, signed: SignedCheckpoint) -> list[Cosignature]:
        """The valid cosignatures of trusted witnesses on ``signed``, once there are enough.

        A line by a trusted witness that does not verify fails the check (a witness key
        signing garbage is news); lines by anyone else are ignored, as the spec says.
        Raises ``WitnessQuorumError`` when fewer than ``quorum`` witnesses cosigned.
        """
        body = signed.checkpoint.body()
        good: list[Cosignature] = []
        for witness in self.witnesses:
            lines = cosignatures_by(signed, witness)
            verified = [verify_cosignature(body, line, witness) for line in lines]
            if verified:
                good.append(max(verified, key=lambda c: c.timestamp))
        if len(good) < self.quorum:
            missing = [
                f"{w.name}+{w.key_id.hex()}"
                for w in self.witnesses
                if f"{w.name}+{w.key_id.hex()}" not in {c.witness for c in good}
            ]
            raise WitnessQuorumError(
                f"checkpoint of size {signed.checkpoint.size}: {len(good)} of the "
                f"{len(self.witnesses)} trusted witnesses cosigned it, the policy needs "
                f"{self.quorum} (missing: {', '.join(missing)})"
            )
        return good


def merge_cosignatures(
    signed: SignedCheckpoint, lines: Sequence[NoteSignature]
) -> SignedCheckpoint:
    """``signed`` with ``lines`` added after its signatures; a witness's earlier line (same
    name and key id) is replaced, so a checkpoint carries one cosignature per witness."""
    replaced = {(line.name, line.key_id) for line in lines}
    kept = tuple(s for s in signed.signatures if (s.name, s.key_id) not in replaced)
    return SignedCheckpoint(signed.checkpoint, (*kept, *lines))
