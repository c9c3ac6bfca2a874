"""Canonical JSON: RFC 8785's published examples, our fast path equal to rfc8785, refusals."""

from __future__ import annotations

import json
import random

import orjson
import pytest
import rfc8785
from hypothesis import given
from hypothesis import strategies as st

from ledger.canonical import MAX_DEPTH, CanonicalizationError, canonical, json_depth, parse_json

# RFC 8785 §3.2.2 ("string" and "literals" members; numbers are refused here, see below).
RFC_STRING_INPUT = (
    r'{"string": "\u20ac$\u000F\u000aA' + "'" + r'\u0042\u0022\u005c\\\"\/",'
    r' "literals": [null, true, false]}'
)
RFC_STRING_OUTPUT = '{"literals":[null,true,false],"string":"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}'

# RFC 8785 §3.2.3, sorting of object properties: keys compare as UTF-16 code units.
RFC_SORT_INPUT = r"""{
  "\u20ac": "Euro Sign",
  "\r": "Carriage Return",
  "\ufb33": "Hebrew Letter Dalet With Dagesh",
  "1": "One",
  "\ud83d\ude00": "Emoji: Grinning Face",
  "\u0080": "Control",
  "\u00f6": "Latin Small Letter O With Diaeresis"
}"""
RFC_SORT_ORDER = [
    "Carriage Return",
    "One",
    "Control",
    "Latin Small Letter O With Diaeresis",
    "Euro Sign",
    "Emoji: Grinning Face",
    "Hebrew Letter Dalet With Dagesh",
]


def test_string_escaping_matches_rfc_8785_example() -> None:
    assert canonical(parse_json(RFC_STRING_INPUT)).decode() == RFC_STRING_OUTPUT


def test_property_order_matches_rfc_8785_example_including_astral_keys() -> None:
    out = canonical(parse_json(RFC_SORT_INPUT))
    assert list(json.loads(out).values()) == RFC_SORT_ORDER
    assert out == rfc8785.dumps(json.loads(RFC_SORT_INPUT))


@pytest.mark.parametrize(
    "text, message",
    [
        (
            '{"n": 4.50}',
            "numbers must be integers (money in minor units, shares as strings), got 4.50",
        ),
        (
            '{"n": 1E30}',
            "numbers must be integers (money in minor units, shares as strings), got 1E30",
        ),
        ('{"n": NaN}', "JSON constant NaN is not allowed"),
        (
            '{"n": 9007199254740992}',
            "integer 9007199254740992 is outside the safe range ±(2**53-1)",
        ),
        ('{"a": 1, "a": 2}', "duplicate object key 'a'"),
    ],
)
def test_parse_refuses_what_cannot_be_signed_unambiguously(text: str, message: str) -> None:
    with pytest.raises(CanonicalizationError) as caught:
        parse_json(text)
    assert caught.value.detail == message


def test_parse_refuses_invalid_json_with_the_parser_reason() -> None:
    with pytest.raises(
        CanonicalizationError,
        match=r"^not valid JSON: Expecting property name enclosed in double quotes: line 1 col",
    ):
        parse_json("{nope")


@pytest.mark.parametrize(
    "value, message",
    [
        ({"x": 0.5}, "numbers must be integers (money in minor units, shares as strings), got 0.5"),
        ({"x": 2**60}, f"integer {2**60} is outside the safe range ±(2**53-1)"),
        ({1: "x"}, "object keys must be strings, got 1"),
        ({"x": {1, 2}}, "set values cannot be encoded as JSON"),
        ({"x": "\ud800"}, "string is not valid Unicode: surrogates not allowed"),
    ],
)
def test_canonical_refuses_values_outside_i_json(value: object, message: str) -> None:
    with pytest.raises(CanonicalizationError) as caught:
        canonical(value)
    assert caught.value.detail == message


json_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1) | json_text,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(json_text, children, max_size=4)
    ),
    max_leaves=20,
)


@given(json_values)
def test_fast_path_equals_the_rfc8785_reference(value: object) -> None:
    assert canonical(value) == rfc8785.dumps(value)


@given(st.dictionaries(json_text, json_values, min_size=2, max_size=8), st.randoms())
def test_canonical_bytes_do_not_depend_on_key_insertion_order(
    value: dict, rnd: random.Random
) -> None:
    items = list(value.items())
    rnd.shuffle(items)
    assert canonical(dict(items)) == canonical(value)


@given(json_values)
def test_canonical_bytes_round_trip_through_the_strict_parser(value: object) -> None:
    encoded = canonical(value)
    assert parse_json(encoded) == value
    assert canonical(parse_json(encoded)) == encoded


@given(json_values)
def test_canonical_input_is_recognised_and_parsed_like_the_strict_parser(value: object) -> None:
    from ledger.canonical import parse_canonical

    encoded = rfc8785.dumps(value)
    parsed, canonical_bytes = parse_canonical(encoded)
    assert parsed == value and canonical_bytes in (encoded, None)
    assert parse_canonical(b" " + encoded) == (value, None)  # not canonical: strict path


@pytest.mark.parametrize(
    "text, message",
    [
        (
            '{"n":4.5}',
            "numbers must be integers (money in minor units, shares as strings), got 4.5",
        ),
        ('{"n":9007199254740993}', "integer 9007199254740993 is outside the safe range ±(2**53-1)"),
        ('{"a":1,"a":1}', "duplicate object key 'a'"),
        ('{"a":NaN}', "JSON constant NaN is not allowed"),
    ],
)
def test_the_canonical_fast_path_refuses_like_the_strict_parser(text: str, message: str) -> None:
    from ledger.canonical import parse_canonical

    with pytest.raises(CanonicalizationError) as caught:
        parse_canonical(text)
    assert caught.value.detail == message


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_orjson_writes_every_float_with_a_point_or_a_signed_exponent(value: float) -> None:
    # canonical_value skips its walk for floats when none of these marks occurs.
    text = orjson.dumps([value])
    assert b"." in text or b"e+" in text or b"e-" in text


@given(json_values)
def test_the_fast_canonical_check_agrees_with_the_strict_parser(value: object) -> None:
    from ledger.canonical import NOT_CANONICAL, canonical_value

    encoded = rfc8785.dumps(value)
    found = canonical_value(encoded)
    assert found is NOT_CANONICAL or found == parse_json(encoded)
    assert canonical_value(b" " + encoded) is NOT_CANONICAL


@pytest.mark.parametrize(
    "text",
    ['{"n":4.5}', '{"n":1e+20}', '{"n":1e-7}', "[-0.0]", "1.5", '{"n":9007199254740992}'],
)
def test_floats_and_unsafe_integers_never_pass_as_canonical(text: str) -> None:
    from ledger.canonical import NOT_CANONICAL, canonical_value

    assert canonical_value(text.encode()) is NOT_CANONICAL


# -- nesting depth -----------------------------------------------------------------------------


def _nested(depth: int) -> bytes:
    return b'{"a":' * (depth - 1) + b"[]" + b"}" * (depth - 1)


def test_json_depth_counts_objects_and_arrays_but_not_brackets_in_strings() -> None:
    assert json_depth(b"1") == 0 and json_depth(b"[]") == 1 and json_depth(_nested(5)) == 5
    assert json_depth(b'{"a":"[[[{{{","b":[{}]}') == 3
    assert json_depth(b'["\\"[[[", ["x\\\\"], "\\\\\\"{{"]') == 2  # escaped quotes and backslashes
    assert json_depth(b'["unterminated \\" [[[[[[') == 1


def test_json_nested_deeper_than_the_cap_is_refused_not_a_recursion_error() -> None:
    assert parse_json(_nested(MAX_DEPTH)) is not None  # the cap itself is accepted
    for raw in (_nested(MAX_DEPTH + 1), b"[" * 30_000 + b"]" * 30_000, b"[" * 30_000):
        with pytest.raises(CanonicalizationError) as caught:
            parse_json(raw)
        assert caught.value.code == "NotCanonicalizable"
        assert f"levels deep, over the limit of {MAX_DEPTH}" in caught.value.detail


def test_canonical_refuses_a_value_nested_deeper_than_the_cap() -> None:
    deep: list = []
    for _ in range(30_000):
        deep = [deep]
    assert canonical(json.loads(_nested(MAX_DEPTH))) == _nested(MAX_DEPTH)
    with pytest.raises(CanonicalizationError, match=f"nested over the limit of {MAX_DEPTH} levels"):
        canonical(deep)
