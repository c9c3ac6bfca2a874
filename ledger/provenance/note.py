"""C2SP ``tlog-checkpoint`` bodies in C2SP ``signed-note`` envelopes, with Ed25519 keys.

A checkpoint body is ``<origin>\\n<size>\\n<base64 root>\\n`` plus optional extension
lines. A signed note is the body, a blank line, then one line per signature:
``— <key name> <base64(4-byte key id || signature)>``. The key id is
``SHA-256(name || 0x0A || 0x01 || public key)[:4]``; a verifier key is written
``<name>+<8 hex key id>+<base64(0x01 || public key)>``.

We sign with ``cryptography`` and verify with PyNaCl on purpose: two independent
Ed25519 implementations have to agree before a checkpoint is accepted.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass
from typing import Any

import nacl.exceptions
import nacl.signing
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from ledger.errors import MalformedError, SignatureError, VerificationError

ED25519 = 0x01  # signed-note signature type byte for Ed25519
COSIGNATURE_V1 = 0x04  # C2SP tlog-cosignature: an Ed25519 cosigner's key type byte
EM_DASH = "\u2014"
MAX_SIGNATURES = 100  # the spec asks verifiers to accept at least 16
MAX_NOTE_CHARS = 1 << 20
MAX_SIZE = 2**64 - 1
HASH_SIZE = 32

_SIZE = re.compile(r"0|[1-9][0-9]{0,19}", re.ASCII)
_KEY_ID = re.compile(r"[0-9a-f]{8}", re.ASCII)
_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f]")  # ASCII controls (below U+0020) but newline


class MalformedNoteError(MalformedError):
    """A signed note could not be parsed (framing, signature lines, encoding)."""

    code = "MalformedNote"


class MalformedCheckpointError(MalformedNoteError):
    """A signed checkpoint could not be parsed: its note framing or its body."""

    code = "MalformedCheckpoint"


class MalformedKeyError(MalformedError):
    """A verifier key string or a key name is not of the C2SP form."""

    code = "MalformedKey"


def key_id(name: str, public_key: bytes, kind: int = ED25519) -> bytes:
    """Return the 4-byte signed-note key id of an Ed25519 ``public_key`` under ``name``.

    ``kind`` is the signature type byte: ``ED25519`` (0x01) for a note signer,
    ``COSIGNATURE_V1`` (0x04) for a witness's cosignatures."""
    return hashlib.sha256(name.encode() + b"\n" + bytes([kind]) + public_key).digest()[:4]


def _check_key_name(name: Any, error: type[MalformedError], where: str) -> None:
    if not isinstance(name, str) or not name:
        raise error(f"{where}: key name must be a non-empty string")
    if "+" in name or any(ch.isspace() for ch in name) or _CONTROL.search(name):
        raise error(f"{where}: key name {name!r} contains a space, '+' or control character")


def _b64decode(text: str) -> bytes | None:
    # Standard alphabet with padding, and canonical (re-encodes to the same text),
    # so that a parsed note renders back byte for byte.
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None
    return data if base64.b64encode(data).decode() == text else None


def _b64encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


@dataclass(frozen=True, slots=True)
class VerifierKey:
    """An Ed25519 signed-note verifier key: name, 4-byte key id, 32-byte public key, and the
    type byte (0x01 a note signer's, 0x04 a ``cosignature/v1`` witness's)."""

    name: str
    key_id: bytes
    public_key: bytes
    kind: int = ED25519

    @classmethod
    def parse(cls, vkey: str, kind: int = ED25519) -> VerifierKey:
        """Parse ``<name>+<8 hex>+<base64(kind || key)>``; raises ``MalformedKeyError``."""
        if not isinstance(vkey, str) or vkey.count("+") < 2:
            raise MalformedKeyError("verifier key: expected <name>+<key id>+<base64 key>")
        name, hex_id, encoded = vkey.split("+", 2)  # base64 may itself contain '+'
        _check_key_name(name, MalformedKeyError, "verifier key")
        if not _KEY_ID.fullmatch(hex_id):
            raise MalformedKeyError(
                f"verifier key: key id {hex_id!r} is not 8 lowercase hex digits"
            )
        raw = _b64decode(encoded)
        if raw is None or len(raw) != 33:
            raise MalformedKeyError("verifier key: key is not base64 of 33 bytes")
        if raw[0] != kind:
            wanted = "Ed25519" if kind == ED25519 else f"0x{kind:02x}"
            if kind == COSIGNATURE_V1:
                wanted = "0x04 (an Ed25519 cosignature/v1 witness key)"
            raise MalformedKeyError(f"verifier key: signature type 0x{raw[0]:02x} is not {wanted}")
        computed = key_id(name, raw[1:], kind)
        if computed.hex() != hex_id:
            raise MalformedKeyError(
                f"verifier key: key id {hex_id} does not match the key (expected {computed.hex()})"
            )
        return cls(name, computed, raw[1:], kind)

    def __str__(self) -> str:
        encoded = _b64encode(bytes([self.kind]) + self.public_key)
        return f"{self.name}+{self.key_id.hex()}+{encoded}"


@dataclass(frozen=True, slots=True)
class NoteSignature:
    """One signature line: key name, 4-byte key id, signature bytes."""

    name: str
    key_id: bytes
    signature: bytes

    def line(self) -> str:
        """Render ``— <name> <base64(key id || signature)>\\n``."""
        return f"{EM_DASH} {self.name} {_b64encode(self.key_id + self.signature)}\n"

    @property
    def key(self) -> str:
        """``<name>+<hex key id>``, the way messages name a key."""
        return f"{self.name}+{self.key_id.hex()}"


def _parse_note(
    text: str | bytes, error: type[MalformedNoteError]
) -> tuple[str, tuple[NoteSignature, ...]]:
    # signed-note: UTF-8, no control characters but newline, text ending in a
    # newline, then the LAST blank line, then one or more signature lines.
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            raise error("signed note: not valid UTF-8") from None
    if not isinstance(text, str):
        raise error(f"signed note: expected text, got {type(text).__name__}")
    if not text.isascii():
        try:
            text.encode("utf-8")  # lone surrogates cannot be signed or verified
        except UnicodeEncodeError:
            raise error("signed note: not valid UTF-8") from None
    if len(text) > MAX_NOTE_CHARS:
        raise error(f"signed note: longer than {MAX_NOTE_CHARS} characters")
    if _CONTROL.search(text):
        raise error("signed note: contains a control character other than newline")
    split = text.rfind("\n\n")
    if split < 0:
        raise error("signed note: no blank line between the text and the signatures")
    body, block = text[: split + 1], text[split + 2 :]
    if not block:
        raise error("signed note: no signature lines after the blank line")
    if not block.endswith("\n"):
        raise error("signed note: the last signature line does not end with a newline")
    lines = block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise error(f"signed note: {len(lines)} signatures, at most {MAX_SIGNATURES}")
    signatures = []
    for number, line in enumerate(lines, start=1):
        parts = line.split(" ")
        if len(parts) != 3 or parts[0] != EM_DASH:
            raise error(f"signed note: signature line {number} is not '— <name> <base64>'")
        _check_key_name(parts[1], error, f"signed note: signature line {number}")
        raw = _b64decode(parts[2])
        if raw is None or len(raw) < 5:
            raise error(f"signed note: signature line {number} is not base64 of key id + signature")
        signatures.append(NoteSignature(parts[1], raw[:4], raw[4:]))
    return body, tuple(signatures)


def _check_line(value: Any, what: str) -> None:
    if not isinstance(value, str) or not value:
        raise MalformedCheckpointError(f"checkpoint: {what} must be a non-empty string")
    if "\n" in value or _CONTROL.search(value):
        raise MalformedCheckpointError(
            f"checkpoint: {what} contains a newline or control character"
        )


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A C2SP checkpoint body: log origin, tree size, root hash, extension lines.

    Construction raises ``MalformedCheckpointError`` naming the bad field.
    """

    origin: str
    size: int
    root_hash: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check_line(self.origin, "origin")
        if type(self.size) is not int or not 0 <= self.size <= MAX_SIZE:
            raise MalformedCheckpointError(
                f"checkpoint: size must be an integer from 0 to 2**64-1, got {self.size!r}"
            )
        if type(self.root_hash) is not bytes or len(self.root_hash) != HASH_SIZE:
            raise MalformedCheckpointError(f"checkpoint: root hash must be {HASH_SIZE} bytes")
        if not isinstance(self.extensions, tuple | list):
            raise MalformedCheckpointError("checkpoint: extensions must be a sequence of lines")
        object.__setattr__(self, "extensions", tuple(self.extensions))
        for number, line in enumerate(self.extensions, start=1):
            _check_line(line, f"extension line {number}")

    def body(self) -> bytes:
        """Return the note text that gets signed: UTF-8, every line newline-terminated."""
        lines = [self.origin, str(self.size), _b64encode(self.root_hash), *self.extensions]
        return "".join(line + "\n" for line in lines).encode()

    @classmethod
    def from_body(cls, text: str | bytes) -> Checkpoint:
        """Parse a checkpoint body; raises ``MalformedCheckpointError`` naming the bad line."""
        if isinstance(text, bytes):
            try:
                text = text.decode("utf-8")
            except UnicodeDecodeError:
                raise MalformedCheckpointError("checkpoint: body is not valid UTF-8") from None
        if not isinstance(text, str) or not text.endswith("\n"):
            raise MalformedCheckpointError("checkpoint: body does not end with a newline")
        lines = text[:-1].split("\n")
        if len(lines) < 3:
            raise MalformedCheckpointError(
                f"checkpoint: body has {len(lines)} lines, expected origin, size and root hash"
            )
        origin, size, root, *extensions = lines
        if not _SIZE.fullmatch(size) or int(size) > MAX_SIZE:
            raise MalformedCheckpointError(
                f"checkpoint: size {size!r} is not a canonical decimal from 0 to 2**64-1"
            )
        root_hash = _b64decode(root)
        if root_hash is None or len(root_hash) != HASH_SIZE:
            raise MalformedCheckpointError(
                f"checkpoint: root hash {root!r} is not canonical base64 of 32 bytes"
            )
        return cls(origin, int(size), root_hash, tuple(extensions))


@dataclass(frozen=True, slots=True)
class SignedCheckpoint:
    """A checkpoint with its signature lines, as a C2SP signed note.

    Parsing is strict enough that ``from_text(t).to_text() == t``, so the body that
    is verified is exactly the one that was received.
    """

    checkpoint: Checkpoint
    signatures: tuple[NoteSignature, ...]

    def to_text(self) -> str:
        """Render the signed note: body, blank line, signature lines."""
        lines = "".join(signature.line() for signature in self.signatures)
        return self.checkpoint.body().decode() + "\n" + lines

    @classmethod
    def from_text(cls, text: str | bytes) -> SignedCheckpoint:
        """Parse a signed checkpoint note; raises ``MalformedCheckpointError``.

        Signatures are parsed but not checked; use ``verify_checkpoint``.
        """
        body, signatures = _parse_note(text, MalformedCheckpointError)
        return cls(Checkpoint.from_body(body), signatures)


class NoteSigner:
    """Signs notes and checkpoints with an Ed25519 key under a key name.

    Raises ``MalformedKeyError`` if the name has a space, '+' or control character.
    """

    def __init__(self, name: str, private_key: Ed25519PrivateKey) -> None:
        _check_key_name(name, MalformedKeyError, "signer")
        self._name = name
        self._private_key = private_key
        self._public_key = private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        self._key_id = key_id(name, self._public_key)

    @property
    def name(self) -> str:
        """The key name written on signature lines."""
        return self._name

    @property
    def key_id(self) -> bytes:
        """The 4-byte key id written before each signature."""
        return self._key_id

    @property
    def vkey(self) -> str:
        """The verifier key string ``<name>+<key id hex>+<base64(0x01 || public key)>``."""
        return str(VerifierKey(self._name, self._key_id, self._public_key))

    def signature(self, text: bytes) -> NoteSignature:
        """Sign ``text`` (note text bytes) and return the signature line's contents."""
        return NoteSignature(self._name, self._key_id, self._private_key.sign(text))

    def sign(self, checkpoint: Checkpoint | SignedCheckpoint) -> SignedCheckpoint:
        """Sign a checkpoint; an already signed one keeps its other signers' lines.

        A previous signature by this same key is replaced, not duplicated.
        """
        if isinstance(checkpoint, SignedCheckpoint):
            others = tuple(
                s for s in checkpoint.signatures if (s.name, s.key_id) != (self._name, self._key_id)
            )
            checkpoint = checkpoint.checkpoint
        else:
            others = ()
        return SignedCheckpoint(checkpoint, (*others, self.signature(checkpoint.body())))

    def sign_note(self, text: str) -> str:
        """Sign an arbitrary note text and return the signed note.

        Raises ``MalformedNoteError`` if the text is empty, does not end with a
        newline or contains control characters.
        """
        if not isinstance(text, str) or not text.endswith("\n") or _CONTROL.search(text):
            raise MalformedNoteError(
                "signed note: text must end with a newline and have no control characters"
            )
        return text + "\n" + self.signature(text.encode()).line()


def _verify_signatures(
    step: str, body: bytes, signatures: tuple[NoteSignature, ...], vkey: str
) -> None:
    key = VerifierKey.parse(vkey)
    wanted = f"{key.name}+{key.key_id.hex()}"
    # Lines from unknown keys (another name or another id) are ignored, as the spec
    # requires; every line from the known key must verify.
    mine = [s for s in signatures if s.name == key.name and s.key_id == key.key_id]
    if not mine:
        seen = ", ".join(s.key for s in signatures)
        raise VerificationError(f"{step}: no signature by key {wanted} (signed by: {seen})")
    try:
        verifier = nacl.signing.VerifyKey(key.public_key)
    except (nacl.exceptions.CryptoError, ValueError, TypeError) as exc:
        raise MalformedKeyError(f"verifier key: {wanted} is not an Ed25519 key") from exc
    for signature in mine:
        if len(signature.signature) != 64:
            raise SignatureError(
                f"{step}: signature by key {wanted} is {len(signature.signature)} bytes,"
                " expected 64"
            )
        try:
            verifier.verify(body, signature.signature)
        except nacl.exceptions.CryptoError:
            raise SignatureError(
                f"{step}: bad signature by key {wanted} over the {len(body)}-byte note text"
            ) from None


def verify_note(note: str | bytes, vkey: str) -> str:
    """Verify a signed note by the key ``vkey`` and return its text.

    Raises ``MalformedNoteError`` or ``MalformedKeyError`` for unparseable input,
    ``VerificationError`` if no line is by that key or one by it does not verify.
    """
    body, signatures = _parse_note(note, MalformedNoteError)
    _verify_signatures("signed note", body.encode(), signatures, vkey)
    return body


def verify_checkpoint(note: str | bytes | SignedCheckpoint, vkey: str) -> Checkpoint:
    """Verify a signed checkpoint by the key ``vkey`` and return the checkpoint.

    Raises ``MalformedCheckpointError`` or ``MalformedKeyError`` for unparseable
    input, ``VerificationError`` if no line is by that key or one by it does not
    verify (other signers' lines are ignored).
    """
    signed = note if isinstance(note, SignedCheckpoint) else SignedCheckpoint.from_text(note)
    _verify_signatures("checkpoint", signed.checkpoint.body(), signed.signatures, vkey)
    return signed.checkpoint
