"""A key backup: a private key file sealed under a passphrase, the same in the browser and here.

The browser generates a member's Ed25519 key with WebCrypto and keeps it non-extractable;
before that, the person downloads this backup (``api/web/static/keys.js`` writes it, and
``cocred keys restore`` reads it; ``cocred keys backup`` writes one a browser can import).
Everything is a WebCrypto primitive, so neither side hand-writes any cryptography:

- the plaintext is the key file ``SigningKey.save`` writes: the private JWK with ``kid``
  and ``actor``, as RFC 8785 canonical JSON;
- the key that encrypts it is PBKDF2-HMAC-SHA-256 of the UTF-8 passphrase (NFC-normalised,
  so one passphrase typed on two keyboards is one key) with a random 16-byte salt and
  ``iterations`` (600,000 by default: OWASP's 2023 figure for PBKDF2-HMAC-SHA256);
- the cipher is AES-256-GCM with a random 12-byte IV, and the associated data is the RFC
  8785 canonical JSON of the document without ``ciphertext``: a change to any field (the
  actor, the iterations, the salt) fails to decrypt, as a wrong passphrase does.

The document (``format`` first in every file; base64url without padding)::

    {"format": "cocred-key-backup/v1", "actor": "<43-char id>", "kid": "<43-char key id>",
     "kdf": {"name": "PBKDF2", "hash": "SHA-256", "iterations": 600000, "salt": "<16 B>"},
     "cipher": {"name": "AES-GCM", "iv": "<12 B>"}, "ciphertext": "<ciphertext and tag>"}

A reader refuses iterations outside 100,000-10,000,000 (a weaker file is not opened, and a
larger count would make opening one a denial of service) and anything else out of shape
(``KeyBackupError``); a wrong passphrase or an altered file is ``WrongPassphraseError``.
"""

from __future__ import annotations

import json
import os
import unicodedata
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

from ledger.canonical import canonical
from ledger.errors import LedgerError, MalformedError
from ledger.keys import ID_PATTERN, SigningKey, b64url, b64url_decode

FORMAT = "cocred-key-backup/v1"
ITERATIONS = 600_000
MIN_ITERATIONS, MAX_ITERATIONS = 100_000, 10_000_000
SALT_BYTES, IV_BYTES = 16, 12
MAX_BACKUP_BYTES = 16 * 1024  # a key file is ~250 bytes; anything far larger is not a backup
_FIELDS = {"format", "actor", "kid", "kdf", "cipher", "ciphertext"}


class KeyBackupError(MalformedError):
    """A key backup that is not one: not JSON, another format, a field out of shape."""

    code = "BadKeyBackup"


class WrongPassphraseError(LedgerError):
    """The passphrase does not open the backup, or the backup was altered."""

    code = "WrongPassphrase"


def _key(passphrase: str, salt: bytes, iterations: int) -> bytes:
    if not passphrase:
        raise KeyBackupError("the passphrase is empty")
    secret = unicodedata.normalize("NFC", passphrase).encode("utf-8")
    kdf = PBKDF2HMAC(algorithm=hashes.SHA256(), length=32, salt=salt, iterations=iterations)
    return kdf.derive(secret)


def seal(
    key: SigningKey,
    passphrase: str,
    *,
    iterations: int = ITERATIONS,
    salt: bytes | None = None,
    iv: bytes | None = None,
) -> bytes:
    """The backup of ``key`` under ``passphrase`` (JSON bytes, ending in a newline).

    ``salt`` and ``iv`` are random unless given (tests pin them to compare two sealers).
    """
    if not MIN_ITERATIONS <= iterations <= MAX_ITERATIONS:
        raise KeyBackupError(
            f"iterations must be {MIN_ITERATIONS:,}-{MAX_ITERATIONS:,}, got {iterations:,}"
        )
    salt = os.urandom(SALT_BYTES) if salt is None else salt
    iv = os.urandom(IV_BYTES) if iv is None else iv
    header: dict[str, Any] = {
        "format": FORMAT,
        "actor": key.actor,
        "kid": key.key_id,
        "kdf": {
            "name": "PBKDF2",
            "hash": "SHA-256",
            "iterations": iterations,
            "salt": b64url(salt),
        },
        "cipher": {"name": "AES-GCM", "iv": b64url(iv)},
    }
    plaintext = canonical(key.to_jwk())
    sealed = AESGCM(_key(passphrase, salt, iterations)).encrypt(iv, plaintext, canonical(header))
    return (json.dumps({**header, "ciphertext": b64url(sealed)}, indent=2) + "\n").encode()


def _header(data: bytes) -> tuple[dict[str, Any], bytes, bytes, int, bytes]:
    """(header, salt, iv, iterations, ciphertext) of a backup; ``KeyBackupError`` if it is
    out of shape."""
    if len(data) > MAX_BACKUP_BYTES:
        raise KeyBackupError(
            f"a key backup is at most {MAX_BACKUP_BYTES:,} bytes, not {len(data):,}"
        )
    try:
        doc = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise KeyBackupError(f"a key backup is JSON: {exc}") from exc
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise KeyBackupError(f"not a key backup: its format must be {FORMAT!r}")
    if set(doc) != _FIELDS:
        raise KeyBackupError(f"a key backup has exactly the fields {', '.join(sorted(_FIELDS))}")
    kdf, cipher = doc["kdf"], doc["cipher"]
    if (
        not isinstance(kdf, dict)
        or set(kdf) != {"name", "hash", "iterations", "salt"}
        or (kdf["name"], kdf["hash"]) != ("PBKDF2", "SHA-256")
    ):
        raise KeyBackupError("kdf must be {name: PBKDF2, hash: SHA-256, iterations, salt}")
    if not isinstance(cipher, dict) or set(cipher) != {"name", "iv"} or cipher["name"] != "AES-GCM":
        raise KeyBackupError("cipher must be {name: AES-GCM, iv}")
    iterations = kdf["iterations"]
    if type(iterations) is not int or not MIN_ITERATIONS <= iterations <= MAX_ITERATIONS:
        raise KeyBackupError(
            f"kdf iterations must be an integer {MIN_ITERATIONS:,}-{MAX_ITERATIONS:,}, got "
            f"{iterations!r}"
        )
    for name in ("actor", "kid"):
        if not isinstance(doc[name], str) or not ID_PATTERN.match(doc[name]):
            raise KeyBackupError(f"{name} must be a 43-character id")
    salt = b64url_decode(_text(kdf["salt"]), length=SALT_BYTES, what="kdf salt")
    iv = b64url_decode(_text(cipher["iv"]), length=IV_BYTES, what="cipher iv")
    sealed = b64url_decode(_text(doc["ciphertext"]), what="ciphertext")
    header = {k: v for k, v in doc.items() if k != "ciphertext"}
    return header, salt, iv, iterations, sealed


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise KeyBackupError("salt, iv and ciphertext are base64url strings")
    return value


def open_backup(data: bytes, passphrase: str) -> SigningKey:
    """The key ``data`` seals, once ``passphrase`` opens it and it is the key it names."""
    try:
        header, salt, iv, iterations, sealed = _header(data)
    except KeyBackupError:
        raise
    except MalformedError as exc:  # a base64url field out of shape
        raise KeyBackupError(exc.detail) from exc
    try:
        plaintext = AESGCM(_key(passphrase, salt, iterations)).decrypt(
            iv, sealed, canonical(header)
        )
    except InvalidTag:
        raise WrongPassphraseError(
            f"this passphrase does not open the key backup of {header['actor']} (or the file "
            f"was altered)",
            actor=header["actor"],
        ) from None
    jwk = json.loads(plaintext)
    key = SigningKey.from_seed(b64url_decode(jwk["d"], length=32, what="d"), jwk["actor"])
    if (key.actor, key.key_id) != (header["actor"], header["kid"]) or jwk["x"] != b64url(
        key.public_bytes
    ):
        raise KeyBackupError(
            f"the sealed key is {key.key_id} of {key.actor}, not the {header['kid']} of "
            f"{header['actor']} the backup names"
        )
    return key
