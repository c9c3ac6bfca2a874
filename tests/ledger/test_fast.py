"""The fast parser (``ledger._fast``) reads every envelope exactly as the strict one does.

Whatever ``fast_parse`` accepts, ``Envelope.from_bytes`` without it accepts with the
same values; whatever it declines, the strict parser decides (and says why).
"""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger._fast import fast_parse
from ledger.envelope import MAX_BODY_BYTES, Envelope, sign_envelope
from ledger.errors import MalformedEventError
from tests.ledger.test_envelope import KEY, good


def slow(raw: bytes) -> Envelope:
    """``from_bytes`` without ``fast_parse`` (which only ever sees ``bytes``)."""
    return Envelope.from_bytes(bytearray(raw))  # type: ignore[arg-type]


def test_the_fast_path_reads_a_canonical_envelope_exactly_as_the_strict_path() -> None:
    env = sign_envelope(KEY, "IdeaShared", {"text": "hi", "tags": ["a", 1]}, seq=2, campaign="c-1")
    raw = env.canonical_bytes()
    parts = fast_parse(raw)
    assert parts is not None
    obj, signature, message, moment = parts
    assert obj == env.to_json() and signature == env.signature
    assert message == env.signing_bytes() and moment == env.time
    fast = Envelope.from_bytes(raw)
    assert fast == slow(raw) and fast.canonical_bytes() == raw and fast.signature == env.signature


@pytest.mark.parametrize(
    "body, ts",
    [
        ({"price": 1.5}, "2026-11-22T10:00:00Z"),  # a float: refused
        ({"n": 2**53}, "2026-11-22T10:00:00Z"),  # an unsafe integer: refused
        ({"text": "caf\u00e9 \ue000"}, "2026-11-22T10:00:00Z"),  # a character from U+E000
        ({"text": "a\u0001b"}, "2026-11-22T10:00:00Z"),  # an escaped control character
        ({"text": "1.5e-3 and 2e+4 in words"}, "2026-11-22T10:00:00.25Z"),  # float-like text
        ({"text": "x" * (MAX_BODY_BYTES + 10)}, "2026-11-22T10:00:00Z"),  # over the body limit
        ({"text": "ok"}, "2026-13-22T10:00:00Z"),  # not a real time
    ],
)
def test_the_fast_path_declines_or_agrees_on_edge_cases(body: dict, ts: str) -> None:
    draft = {**good(), "body": body, "ts": ts}
    raw = json.dumps(draft, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    try:
        expected: object = slow(raw)
    except MalformedEventError as exc:
        expected = exc.detail
    parts = fast_parse(raw)
    if parts is not None:
        assert Envelope.from_parts(raw, parts[0], parts[1]) == expected
    try:
        got: object = Envelope.from_bytes(raw)
    except MalformedEventError as exc:
        got = exc.detail
    assert got == expected


@settings(max_examples=300)
@given(data=st.data())
def test_any_single_byte_change_is_read_the_same_by_both_paths(data) -> None:
    raw = sign_envelope(
        KEY, "IdeaShared", {"text": "hi", "n": 7}, seq=2, ts="2026-11-22T10:00:00Z"
    ).canonical_bytes()
    index = data.draw(st.integers(0, len(raw) - 1))
    byte = data.draw(st.integers(0, 255).filter(lambda b: b != raw[index]))
    changed = raw[:index] + bytes([byte]) + raw[index + 1 :]
    try:
        expected: object = slow(changed)
    except MalformedEventError as exc:
        expected = exc.detail
    try:
        got: object = Envelope.from_bytes(changed)
    except MalformedEventError as exc:
        got = exc.detail
    assert got == expected
    if not isinstance(got, str):
        assert got.canonical_bytes() == bytes(expected.canonical_bytes())  # type: ignore[union-attr]
        assert got.signature == expected.signature  # type: ignore[union-attr]
