"""Envelopes: strict parsing (each malformed shape named), canonical bytes, signing."""

from __future__ import annotations

import json

import pytest

from ledger._fast import fast_parse
from ledger.canonical import MAX_DEPTH
from ledger.envelope import (
    MAX_BODY_BYTES,
    MAX_ENVELOPE_BYTES,
    Envelope,
    sign_envelope,
)
from ledger.errors import MalformedEventError
from ledger.keys import b64url
from tests.support import seeded_key

KEY = seeded_key(1)


def good() -> dict:
    return sign_envelope(
        KEY, "IdeaShared", {"text": "hi"}, seq=2, ts="2026-11-22T10:00:00Z"
    ).to_json()


def test_a_signed_envelope_parses_back_to_itself() -> None:
    env = sign_envelope(
        KEY,
        "IdeaShared",
        {"text": "hi", "n": 3},
        seq=2,
        ts="2026-11-22T10:00:00Z",
        campaign="summer-26",
    )
    assert Envelope.from_bytes(env.canonical_bytes()) == env
    assert env.canonical_bytes().startswith(b'{"actor":"')
    assert json.loads(env.signing_bytes()) == {k: v for k, v in env.to_json().items() if k != "sig"}


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda e: e.pop("sig"), "envelope: missing field(s): sig"),
        (lambda e: e.update(extra=1), "envelope: unexpected field(s): extra"),
        (lambda e: e.update(v=2), "envelope: field 'v' must be 1, got 2"),
        (lambda e: e.update(v=True), "envelope: field 'v' must be 1, got True"),
        (
            lambda e: e.update(type="idea shared"),
            "envelope: field 'type' must be a PascalCase name of 1-64 letters, got 'idea shared'",
        ),
        (
            lambda e: e.update(actor="ana"),
            "envelope: field 'actor' must be a 43-character base64url id, got 'ana'",
        ),
        (
            lambda e: e.update(key=None),
            "envelope: field 'key' must be a 43-character base64url id, got None",
        ),
        (lambda e: e.update(seq=0), "envelope: field 'seq' must be an integer from 1, got 0"),
        (lambda e: e.update(seq="2"), "envelope: field 'seq' must be an integer from 1, got '2'"),
        (lambda e: e.update(seq=True), "envelope: field 'seq' must be an integer from 1, got True"),
        (
            lambda e: e.update(ts="yesterday"),
            "envelope: field 'ts' must be an RFC 3339 UTC time like "
            "2026-11-22T10:00:00Z, got 'yesterday'",
        ),
        (
            lambda e: e.update(ts="2026-02-30T10:00:00Z"),
            "envelope: field 'ts' is not a real time: '2026-02-30T10:00:00Z'",
        ),
        (
            lambda e: e.update(campaign="has space"),
            "envelope: field 'campaign' must be null or an "
            "id of 1-64 characters [A-Za-z0-9_.:-], got "
            "'has space'",
        ),
        (lambda e: e.update(body=[1]), "envelope: field 'body' must be a JSON object, got list"),
        (lambda e: e.update(sig="AAAA"), "envelope: field 'sig' must encode 64 bytes, got 3"),
        (lambda e: e.update(sig=7), "envelope: field 'sig' must be a base64url string"),
        (
            lambda e: e.update(body={"x": "a" * (MAX_BODY_BYTES + 1)}),
            f"envelope: field 'body' is {MAX_BODY_BYTES + 9} bytes, "
            f"over the limit of {MAX_BODY_BYTES}",
        ),
    ],
)
def test_malformed_envelopes_are_refused_naming_the_field(change, message: str) -> None:
    obj = good()
    change(obj)
    with pytest.raises(MalformedEventError) as caught:
        Envelope.from_json(obj)
    assert caught.value.detail == message


@pytest.mark.parametrize(
    "raw, message",
    [
        (b"[1, 2]", "envelope: must be a JSON object"),
        (
            b"{not json",
            "envelope: not valid JSON: Expecting property name enclosed in double quotes: "
            "line 1 column 2 (char 1)",
        ),
        (
            b'{"body": {"price": 9.99}}',
            "envelope: numbers must be integers (money in minor units, "
            "shares as strings), got 9.99",
        ),
        (b'{"seq": 1, "seq": 2}', "envelope: duplicate object key 'seq'"),
        (
            b"\xff\xfe",
            "envelope: not valid UTF-8: 'utf-8' codec can't decode byte 0xff in position 0: "
            "invalid start byte",
        ),
    ],
)
def test_unparseable_input_is_malformed(raw: bytes, message: str) -> None:
    with pytest.raises(MalformedEventError) as caught:
        Envelope.from_bytes(raw)
    assert caught.value.detail == message


def test_oversized_input_is_refused_before_parsing() -> None:
    raw = b" " * (MAX_ENVELOPE_BYTES + 1)
    with pytest.raises(MalformedEventError) as caught:
        Envelope.from_bytes(raw)
    assert caught.value.detail == (
        f"envelope: {MAX_ENVELOPE_BYTES + 1} bytes is over the limit of {MAX_ENVELOPE_BYTES}"
    )


def test_sign_envelope_validates_what_it_builds() -> None:
    with pytest.raises(MalformedEventError) as caught:
        sign_envelope(KEY, "Bad Type", {}, seq=1)
    assert caught.value.detail == (
        "envelope: field 'type' must be a PascalCase name of 1-64 letters, got 'Bad Type'"
    )
    with pytest.raises(MalformedEventError) as caught:
        sign_envelope(KEY, "Priced", {"amount": 1.5}, seq=1)
    assert caught.value.detail == (
        "envelope: numbers must be integers (money in minor units, shares as strings), got 1.5"
    )


def test_non_canonical_input_is_accepted_and_re_encoded_canonically() -> None:
    obj = good()
    pretty = json.dumps(obj, indent=2, sort_keys=False).encode()
    env = Envelope.from_bytes(pretty)
    assert env.canonical_bytes() == Envelope.from_json(obj).canonical_bytes()
    assert env.signature == Envelope.from_json(obj).signature
    assert b64url(env.signature) == obj["sig"]


def _deep_body(depth: int) -> bytes:
    """A canonical envelope whose body holds arrays nested ``depth`` levels (not signed)."""
    raw = Envelope.from_json(good()).canonical_bytes()
    return raw.replace(b'"body":{', b'"body":{"deep":' + b"[" * depth + b"]" * depth + b",", 1)


def test_an_envelope_nested_thirty_thousand_levels_deep_is_malformed() -> None:
    raw = _deep_body(30_000)
    assert len(raw) < MAX_ENVELOPE_BYTES  # refused for its depth, not its size
    with pytest.raises(MalformedEventError) as caught:
        Envelope.from_bytes(raw)
    assert caught.value.code == "MalformedEvent"
    assert caught.value.detail == (
        f"envelope: JSON nested 30002 levels deep, over the limit of {MAX_DEPTH}"
    )


def test_the_fast_and_strict_parsers_agree_at_the_depth_cap() -> None:
    at_cap, over = _deep_body(MAX_DEPTH - 2), _deep_body(MAX_DEPTH - 1)  # envelope 1, body 2
    assert (
        Envelope.from_bytes(at_cap).body["deep"]
        == Envelope.from_json(json.loads(at_cap)).body["deep"]
    )
    assert fast_parse(over) is None
    with pytest.raises(MalformedEventError, match=f"JSON nested {MAX_DEPTH + 1} levels deep"):
        Envelope.from_bytes(over)
