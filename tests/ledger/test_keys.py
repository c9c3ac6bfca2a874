"""Keys: RFC 8037/7638 known answers, two Ed25519 implementations agree, key files."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import nacl.signing
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.keys import (
    KeyFileError,
    SigningKey,
    b64url,
    b64url_decode,
    key_id,
    parse_public_jwk,
    verify_signature,
)

# RFC 8037 Appendix A.1-A.4.
RFC8037_D = "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"
RFC8037_X = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
RFC8037_THUMBPRINT = "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
RFC8037_SIGNING_INPUT = b"eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc"
RFC8037_SIGNATURE = (
    "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg"
)


def test_key_id_is_the_rfc_7638_thumbprint_from_rfc_8037() -> None:
    assert key_id(b64url_decode(RFC8037_X)) == RFC8037_THUMBPRINT


def test_signing_reproduces_the_rfc_8037_signature() -> None:
    key = SigningKey.from_seed(b64url_decode(RFC8037_D))
    assert b64url(key.public_bytes) == RFC8037_X
    assert b64url(key.sign(RFC8037_SIGNING_INPUT)) == RFC8037_SIGNATURE


@settings(max_examples=50)
@given(st.binary(min_size=32, max_size=32), st.binary(max_size=600))
def test_a_cryptography_signature_verifies_with_libsodium_and_back(seed: bytes, msg: bytes) -> None:
    ours = SigningKey.from_seed(seed)
    signature = ours.sign(msg)  # cryptography (OpenSSL)
    assert verify_signature(ours.public_bytes, msg, signature)  # PyNaCl (libsodium)
    sodium = nacl.signing.SigningKey(seed)
    assert sodium.sign(msg).signature == signature  # Ed25519 is deterministic
    Ed25519PublicKey.from_public_bytes(ours.public_bytes).verify(signature, msg)


def test_a_signature_over_other_bytes_does_not_verify() -> None:
    key = SigningKey.from_seed(bytes(32))
    assert not verify_signature(key.public_bytes, b"other", key.sign(b"message"))


def test_key_file_round_trips_with_mode_0600(tmp_path: Path) -> None:
    key = SigningKey.generate()
    path = tmp_path / "ana.key"
    key.save(path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    loaded = SigningKey.load(path)
    assert (loaded.actor, loaded.key_id, loaded.public_bytes) == (
        key.actor,
        key.key_id,
        key.public_bytes,
    )
    assert b64url(key.private.private_bytes_raw()) not in repr(loaded)


def test_saving_over_an_existing_key_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "ana.key"
    SigningKey.generate().save(path)
    with pytest.raises(KeyFileError) as caught:
        SigningKey.generate().save(path)
    assert caught.value.detail == f"{path} already exists; refusing to overwrite a key"


@pytest.mark.parametrize(
    "content, message",
    [
        (None, "key file {p} does not exist"),
        (
            "not json",
            "key file {p} is not readable JSON: Expecting value: line 1 column 1 (char 0)",
        ),
        ('{"kty": "OKP"}', "key file {p} must hold a private Ed25519 JWK with 'actor'"),
        (
            '{"kty": "EC", "crv": "P-256", "x": "AA", "d": "AA", "actor": "a"}',
            "{p} must be an Ed25519 key (kty OKP, crv Ed25519)",
        ),
        (
            '{"kty": "OKP", "crv": "Ed25519", "x": "' + RFC8037_X + '", "d": "AA", "actor": "a"}',
            "{p}: d must encode 32 bytes, got 1",
        ),
        (
            '{"kty": "OKP", "crv": "Ed25519", "x": "'
            + RFC8037_X
            + '", "d": "'
            + RFC8037_D
            + '", "actor": "short"}',
            "key file {p}: actor must be a 43-character id",
        ),
        (
            '{"kty": "OKP", "crv": "Ed25519", "x": "'
            + RFC8037_X
            + '", "d": "'
            + b64url(bytes(32))
            + '", "actor": "'
            + RFC8037_THUMBPRINT
            + '"}',
            "key file {p}: x does not match the private key d",
        ),
    ],
)
def test_broken_key_files_are_refused_with_the_reason(
    tmp_path: Path, content: str | None, message: str
) -> None:
    path = tmp_path / "bad.key"
    if content is not None:
        path.write_text(content)
    with pytest.raises(KeyFileError) as caught:
        SigningKey.load(path)
    assert caught.value.detail == message.format(p=path)


@pytest.mark.parametrize(
    "jwk, message",
    [
        ({"kty": "OKP", "crv": "Ed25519"}, "jwk must be an object with exactly crv, kty and x"),
        (
            {"kty": "OKP", "crv": "X25519", "x": RFC8037_X},
            "jwk must be an Ed25519 key (kty OKP, crv Ed25519)",
        ),
        (
            {"kty": "OKP", "crv": "Ed25519", "x": RFC8037_X + "="},
            "jwk.x must be unpadded base64url text",
        ),
        ({"kty": "OKP", "crv": "Ed25519", "x": "AAAA"}, "jwk.x must encode 32 bytes, got 3"),
    ],
)
def test_public_jwks_are_parsed_strictly(jwk: dict, message: str) -> None:
    with pytest.raises(KeyFileError) as caught:
        parse_public_jwk(jwk)
    assert caught.value.detail == message


def test_the_key_file_is_a_standard_private_jwk(tmp_path: Path) -> None:
    key = SigningKey.from_seed(b64url_decode(RFC8037_D))
    key.save(tmp_path / "k")
    data = json.loads((tmp_path / "k").read_text())
    assert data == {
        "kty": "OKP",
        "crv": "Ed25519",
        "x": RFC8037_X,
        "d": RFC8037_D,
        "kid": RFC8037_THUMBPRINT,
        "actor": RFC8037_THUMBPRINT,
    }
