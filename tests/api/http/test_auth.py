"""Signed requests (cocred's RFC 9421 profile): accepted once, refused with the reason."""

from __future__ import annotations

import re
import time

import pytest

from api.http.auth import RequestVerifier, content_digest, sign_request, signature_base
from api.http.errors import ApiError
from ledger.actors import KEY_ROTATED, rotation_statement
from ledger.envelope import sign_envelope
from ledger.keys import SigningKey, b64url, public_jwk
from ledger.ledger import Ledger
from ledger.store.engine import engine_for
from tests.support import registration, seeded_key

ANA = seeded_key(41)


@pytest.fixture
def verifier(ledger: Ledger, store_url: str) -> RequestVerifier:
    ledger.append(registration(ANA))
    return RequestVerifier(ledger, engine_for(store_url), window=60)


def lower(headers: dict[str, str]) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items()}


def check(
    verifier: RequestVerifier,
    headers: dict[str, str],
    *,
    method: str = "GET",
    path: str = "/members/x/export",
    query: str = "",
    body: bytes = b"",
):
    return verifier.verify(method, path, query, body, lower(headers))


def refused(
    verifier: RequestVerifier, headers: dict[str, str], code: str, detail: str, **request
) -> None:
    with pytest.raises(ApiError) as caught:
        check(verifier, headers, **request)
    assert (caught.value.code, caught.value.detail) == (code, f"signed request: {detail}")


def test_the_signature_base_follows_rfc_9421() -> None:
    base = signature_base("get", "/x", "a=1", "sha-256=:abc=:", '("@method");created=1')
    assert base == (
        b'"@method": GET\n"@path": /x\n"@query": ?a=1\n'
        b'"content-digest": sha-256=:abc=:\n"@signature-params": ("@method");created=1'
    )
    assert content_digest(b"") == "sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:"


def test_a_signed_request_is_accepted_once(verifier: RequestVerifier) -> None:
    headers = sign_request(ANA, "POST", "/exports", query="format=csv", body=b'{"a":1}')
    signer = check(
        verifier, headers, method="POST", path="/exports", query="format=csv", body=b'{"a":1}'
    )
    assert (signer.actor, signer.key) == (ANA.actor, ANA.key_id)
    refused(
        verifier,
        headers,
        "ReplayedRequest",
        "this nonce was already used: a replay",
        method="POST",
        path="/exports",
        query="format=csv",
        body=b'{"a":1}',
    )


def test_a_request_without_signature_headers_is_unauthenticated(verifier) -> None:
    refused(
        verifier, {}, "Unauthenticated", "this resource needs Signature-Input and Signature headers"
    )


def test_a_stale_request_is_refused(verifier: RequestVerifier) -> None:
    created = int(time.time()) - 600
    headers = sign_request(ANA, "GET", "/members/x/export", created=created)
    with pytest.raises(ApiError) as caught:
        check(verifier, headers)
    assert caught.value.code == "StaleRequest"
    assert caught.value.detail.startswith(f"signed request: created {created} is more than 60 s")


@pytest.mark.parametrize(
    "tamper, detail",
    [
        (dict(method="DELETE"), "the signature does not verify"),
        (dict(path="/members/y/export"), "the signature does not verify"),
        (dict(query="all=1"), "the signature does not verify"),
        (dict(body=b"x"), "Content-Digest does not match the body"),
    ],
)
def test_a_request_changed_after_signing_is_refused(verifier, tamper, detail) -> None:
    headers = sign_request(ANA, "GET", "/members/x/export")
    refused(verifier, headers, "BadRequestSignature", detail, **tamper)


def test_a_request_signed_by_an_unregistered_key_is_refused(verifier) -> None:
    stranger = SigningKey.generate()
    refused(
        verifier,
        sign_request(stranger, "GET", "/members/x/export"),
        "BadRequestSignature",
        f"keyid {stranger.actor}/{stranger.key_id} is not the current key of a registered actor",
    )


def test_a_rotated_key_can_no_longer_sign_requests(verifier, ledger: Ledger) -> None:
    new = SigningKey.generate().for_actor(ANA.actor)
    proof = new.sign(rotation_statement(ANA.actor, 2, new.key_id))
    ledger.append(
        sign_envelope(
            ANA, KEY_ROTATED, {"jwk": public_jwk(new.public_bytes), "proof": b64url(proof)}, seq=2
        )
    )
    refused(
        verifier,
        sign_request(ANA, "GET", "/members/x/export"),
        "BadRequestSignature",
        f"keyid {ANA.actor}/{ANA.key_id} is not the current key of a registered actor",
    )
    assert check(verifier, sign_request(new, "GET", "/members/x/export")).actor == ANA.actor


def test_other_covered_components_are_refused(verifier) -> None:
    headers = sign_request(ANA, "GET", "/members/x/export")
    headers["Signature-Input"] = headers["Signature-Input"].replace(' "@query"', "")
    refused(
        verifier,
        headers,
        "BadRequestSignature",
        'the covered components must be exactly ("@method" "@path" "@query" "content-digest")',
    )


@pytest.mark.parametrize(
    "edit, detail",
    [
        (lambda h: h.replace(';alg="ed25519"', ';alg="rsa"'), "alg 'rsa' is not ed25519"),
        (lambda h: h.replace(";created=", ";made="), "the 'created' parameter is missing"),
        (
            lambda h: re.sub(r'nonce="[^"]*"', 'nonce="short"', h),
            "the nonce must be 16 to 128 printable ASCII characters",
        ),
        (
            lambda h: re.sub(r'nonce="[^"]*"', 'nonce="' + "n" * 200 + '"', h),
            "the nonce must be 16 to 128 printable ASCII characters",
        ),
        (
            lambda h: re.sub(r"created=[0-9]+", 'created="abc"', h),
            "'created' must be a Unix time in seconds (at most 15 digits, unquoted)",
        ),
        (
            lambda h: re.sub(r"created=[0-9]+", "created=" + "9" * 5000, h),
            "'created' must be a Unix time in seconds (at most 15 digits, unquoted)",
        ),
        (
            lambda h: re.sub(r"created=([0-9]+)", r'created="\1"', h),
            "'created' must be a Unix time in seconds (at most 15 digits, unquoted)",
        ),
        (
            lambda h: re.sub(r'keyid="[^"]*"', 'keyid="' + "k" * 5000 + '"', h),
            "keyid must be <actor>/<key id> (two 43-character ids)",
        ),
    ],
)
def test_signature_parameters_are_checked_before_the_database_is_asked(
    verifier, edit, detail
) -> None:
    headers = sign_request(ANA, "GET", "/members/x/export")
    headers["Signature-Input"] = edit(headers["Signature-Input"])
    refused(verifier, headers, "BadRequestSignature", detail)


def test_a_validly_signed_request_with_a_nonce_longer_than_its_column_is_refused(
    verifier: RequestVerifier,
) -> None:
    # Signed correctly: only the nonce's length is wrong, and it never reaches the
    # varchar(128) column (on PostgreSQL that insert raised a DataError: a 500).
    headers = sign_request(ANA, "GET", "/members/x/export", nonce="n" * 200)
    refused(
        verifier,
        headers,
        "BadRequestSignature",
        "the nonce must be 16 to 128 printable ASCII characters",
    )
    assert check(verifier, sign_request(ANA, "GET", "/members/x/export", nonce="n" * 128))
