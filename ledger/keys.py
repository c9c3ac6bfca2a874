"""Ed25519 keys: ids (RFC 7638 thumbprints), key files, signing and verification.

Signing uses ``cryptography``; verification uses PyNaCl (libsodium), measured
twice as fast (``bench/README.md``) — and it means every signature the ledger
accepts was made by one implementation and checked by another. Verification
calls libsodium's ``crypto_sign_open`` directly on the raw 32-byte key (no
``VerifyKey`` object per key).

A key file is a private JWK (RFC 8037 ``OKP``/``Ed25519`` with ``d``) plus the
``actor`` it acts for: an actor id is the thumbprint of the actor's *first* key
and stays the same across rotations, so the file must say which actor it signs as.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import nacl.bindings
import nacl.exceptions
import nacl.signing
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ledger.errors import MalformedError, SignatureError

ID_PATTERN = re.compile(r"^[A-Za-z0-9_-]{43}$")
_B64URL = re.compile(r"[A-Za-z0-9_-]*")


class KeyFileError(MalformedError):
    """A key file or public JWK is missing, unreadable or not an Ed25519 key."""

    code = "BadKeyFile"


def b64url(data: bytes) -> str:
    """Base64url without padding (RFC 7515 §2)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str, *, length: int | None = None, what: str = "value") -> bytes:
    """Decode unpadded base64url strictly; raise ``MalformedError`` naming ``what``."""
    if not isinstance(text, str) or not _B64URL.fullmatch(text):
        raise MalformedError(f"{what} must be unpadded base64url text")
    try:
        data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except ValueError as exc:
        raise MalformedError(f"{what} is not valid base64url") from exc
    if b64url(data) != text:
        raise MalformedError(f"{what} is not canonical base64url")
    if length is not None and len(data) != length:
        raise MalformedError(f"{what} must encode {length} bytes, got {len(data)}")
    return data


def public_jwk(public_key: bytes) -> dict[str, str]:
    """The public JWK of a raw 32-byte Ed25519 key."""
    return {"crv": "Ed25519", "kty": "OKP", "x": b64url(public_key)}


def key_id(public_key: bytes) -> str:
    """RFC 7638 JWK thumbprint (SHA-256, base64url) of an Ed25519 public key."""
    # RFC 7638 §3.2: required members only, lexicographic order, no whitespace.
    members = f'{{"crv":"Ed25519","kty":"OKP","x":"{b64url(public_key)}"}}'
    return b64url(hashlib.sha256(members.encode("ascii")).digest())


def parse_public_jwk(jwk: Any, *, what: str = "jwk") -> bytes:
    """Return the raw public key of an Ed25519 public JWK; raise ``KeyFileError`` otherwise."""
    if not isinstance(jwk, dict) or set(jwk) != {"crv", "kty", "x"}:
        raise KeyFileError(f"{what} must be an object with exactly crv, kty and x")
    if jwk["kty"] != "OKP" or jwk["crv"] != "Ed25519":
        raise KeyFileError(f"{what} must be an Ed25519 key (kty OKP, crv Ed25519)")
    try:
        return b64url_decode(jwk["x"], length=32, what=f"{what}.x")
    except MalformedError as exc:
        raise KeyFileError(exc.detail) from exc


@lru_cache(maxsize=65536)
def _verify_key(public_key: bytes) -> nacl.signing.VerifyKey:
    return nacl.signing.VerifyKey(public_key)


_open = nacl.bindings.crypto_sign_open
_BadSignature = nacl.exceptions.BadSignatureError


def verify_signature(public_key: bytes, message: bytes, signature: bytes) -> bool:
    """True when ``signature`` is a valid Ed25519 signature of ``message`` (PyNaCl).

    Raises ``ValueError`` (PyNaCl's) when the key is not 32 bytes or the
    signature not 64.
    """
    if len(public_key) != 32 or len(signature) != 64:
        try:  # let PyNaCl say what is wrong
            _verify_key(public_key).verify(message, signature)
        except nacl.exceptions.BadSignatureError:
            return False
        return True
    try:
        _open(signature + message, public_key)
    except _BadSignature:
        return False
    return True


def check_signature(public_key: bytes, message: bytes, signature: bytes, context: str) -> None:
    """Raise ``SignatureError`` with ``context`` unless the signature verifies."""
    if not verify_signature(public_key, message, signature):
        raise SignatureError(f"{context}: signature does not verify")


@dataclass(frozen=True)
class SigningKey:
    """A private Ed25519 key and the actor it signs for."""

    private: Ed25519PrivateKey
    actor: str

    @classmethod
    def generate(cls) -> SigningKey:
        """A fresh key for a new actor (its actor id is the key's own id)."""
        private = Ed25519PrivateKey.generate()
        return cls(private, key_id(private.public_key().public_bytes_raw()))

    @classmethod
    def from_seed(cls, seed: bytes, actor: str | None = None) -> SigningKey:
        """A key from a 32-byte seed (deterministic demos and tests)."""
        private = Ed25519PrivateKey.from_private_bytes(seed)
        return cls(private, actor or key_id(private.public_key().public_bytes_raw()))

    @property
    def public_bytes(self) -> bytes:
        return self.private.public_key().public_bytes_raw()

    @property
    def key_id(self) -> str:
        return key_id(self.public_bytes)

    def sign(self, message: bytes) -> bytes:
        """Ed25519 signature of ``message``."""
        return self.private.sign(message)

    def for_actor(self, actor: str) -> SigningKey:
        """The same key, acting for ``actor`` (after a rotation)."""
        return SigningKey(self.private, actor)

    def to_jwk(self) -> dict[str, str]:
        """The private JWK with the ``actor`` and ``kid`` members."""
        seed = self.private.private_bytes_raw()
        return {
            **public_jwk(self.public_bytes),
            "d": b64url(seed),
            "kid": self.key_id,
            "actor": self.actor,
        }

    def __repr__(self) -> str:  # never print the private part
        return f"SigningKey(actor={self.actor!r}, key_id={self.key_id!r})"

    def save(self, path: Path, *, overwrite: bool = False) -> None:
        """Write the key file with mode 0600; refuse to overwrite unless asked."""
        flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if overwrite else os.O_EXCL)
        try:
            fd = os.open(path, flags, 0o600)
        except FileExistsError as exc:
            raise KeyFileError(f"{path} already exists; refusing to overwrite a key") from exc
        with os.fdopen(fd, "w") as fh:
            json.dump(self.to_jwk(), fh, indent=2, sort_keys=True)
            fh.write("\n")
        os.chmod(path, 0o600)

    @classmethod
    def load(cls, path: Path) -> SigningKey:
        """Read a key file; raise ``KeyFileError`` naming what is wrong."""
        try:
            data = json.loads(Path(path).read_text())
        except FileNotFoundError as exc:
            raise KeyFileError(f"key file {path} does not exist") from exc
        except (OSError, ValueError) as exc:
            raise KeyFileError(f"key file {path} is not readable JSON: {exc}") from exc
        if not isinstance(data, dict) or not {"crv", "kty", "x", "d", "actor"} <= set(data):
            raise KeyFileError(f"key file {path} must hold a private Ed25519 JWK with 'actor'")
        public = parse_public_jwk({k: data[k] for k in ("crv", "kty", "x")}, what=str(path))
        try:
            seed = b64url_decode(data["d"], length=32, what=f"{path}: d")
        except MalformedError as exc:
            raise KeyFileError(exc.detail) from exc
        if not isinstance(data["actor"], str) or not ID_PATTERN.match(data["actor"]):
            raise KeyFileError(f"key file {path}: actor must be a 43-character id")
        key = cls.from_seed(seed, data["actor"])
        if key.public_bytes != public:
            raise KeyFileError(f"key file {path}: x does not match the private key d")
        return key
