"""Canonical JSON (RFC 8785, JCS) for everything that is signed or hashed.

The reference is the ``rfc8785`` package. Canonicalising with it would dominate
ingestion (figures in ``bench/README.md``), so values that cannot differ
between JCS and ``json.dumps(sort_keys=True, separators=(",", ":"),
ensure_ascii=False)`` take that C-accelerated path. The two agree when
(a) there are no floats (we forbid them: money and shares are integers or exact
decimal strings), (b) integers are I-JSON safe (|n| < 2**53), and (c) no object
key holds a character at or above U+E000, where UTF-16 code-unit order (JCS) and
code-point order (Python) can disagree. Anything else goes through ``rfc8785``.
A hypothesis test holds the two paths equal.

Nesting is capped at ``MAX_DEPTH`` levels (an envelope is level 1, its body 2):
the decoders and encoders recurse, and a value nested thousands of levels deep
would otherwise end in a ``RecursionError`` rather than a typed refusal.
"""

from __future__ import annotations

import json
import re
from array import array
from dataclasses import fields
from itertools import accumulate
from typing import Any

import orjson
import rfc8785

from ledger.errors import MalformedError

MAX_SAFE_INTEGER = 2**53 - 1
MAX_DEPTH = 64  # levels of objects and arrays; cocred's deepest event body uses 4
_SORT_SAFE_LIMIT = "\ue000"


class CanonicalizationError(MalformedError):
    """A value cannot be put in canonical form (float, huge integer, bad string)."""

    code = "NotCanonicalizable"


def _reject_float(text: str) -> Any:
    raise CanonicalizationError(
        f"numbers must be integers (money in minor units, shares as strings), got {text}"
    )


def _reject_constant(text: str) -> Any:
    raise CanonicalizationError(f"JSON constant {text} is not allowed")


def _checked_int(text: str) -> int:
    value = int(text)
    if -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
        return value
    raise CanonicalizationError(f"integer {text} is outside the safe range ±(2**53-1)")


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise CanonicalizationError(f"duplicate object key {key!r}")
            seen.add(key)
    return obj


_STRICT_DECODER = json.JSONDecoder(
    parse_float=_reject_float,
    parse_int=_checked_int,
    parse_constant=_reject_constant,
    object_pairs_hook=_no_duplicate_keys,
)


# A JSON string, possessive so that it runs to the end of the input when unterminated:
# every byte is looked at once, whatever the input.
_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*+(?:"|\\?\Z)', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_BRACKET_STEP = bytes.maketrans(b"[{]}", b"\x01\x01\xff\xff")  # +1, +1, -1, -1 as signed


def json_depth(raw: bytes) -> int:
    """How many levels of objects and arrays the JSON text ``raw`` nests (0 for a scalar).

    Brackets inside strings do not count. Linear in ``len(raw)``; for invalid
    JSON the figure is an upper bound of what a parser would reach.
    """
    if raw.count(b"[") + raw.count(b"{") <= 1:
        return raw.count(b"[") + raw.count(b"{")
    brackets = _JSON_STRING.sub(b"", raw).translate(None, _NOT_BRACKETS)
    steps = array("b", brackets.translate(_BRACKET_STEP))
    return max(accumulate(steps), default=0)


def check_depth(raw: bytes) -> None:
    """Raise ``CanonicalizationError`` when ``raw`` nests more than ``MAX_DEPTH`` levels."""
    if raw.count(b"[") + raw.count(b"{") <= MAX_DEPTH:  # cannot be deeper: no scan needed
        return
    depth = json_depth(raw)
    if depth > MAX_DEPTH:
        raise CanonicalizationError(
            f"JSON nested {depth} levels deep, over the limit of {MAX_DEPTH}"
        )


def parse_json(raw: bytes | str) -> Any:
    """Parse JSON strictly: no floats, no NaN/Infinity, safe integers, no duplicate keys.

    Raises ``CanonicalizationError`` (a ``MalformedError``) on anything else,
    including invalid UTF-8, syntax errors and nesting over ``MAX_DEPTH``. Bytes
    must be UTF-8: ``json.loads`` would otherwise guess UTF-16/32 from a byte-order mark.
    """
    check_depth(raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else bytes(raw))
    if isinstance(raw, bytes | bytearray):
        try:
            raw = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise CanonicalizationError(f"not valid UTF-8: {exc}") from exc
    try:
        return _STRICT_DECODER.decode(raw)
    except CanonicalizationError:
        raise
    except (ValueError, TypeError) as exc:  # JSONDecodeError, UnicodeDecodeError
        raise CanonicalizationError(f"not valid JSON: {exc}") from exc


def _dumps(value: Any) -> bytes:
    """``json.dumps`` in the JCS-compatible configuration (see the module docstring)."""
    try:
        return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode(
            "utf-8"
        )
    except UnicodeEncodeError as exc:
        raise CanonicalizationError(f"string is not valid Unicode: {exc.reason}") from exc


_HIGH_CHARS = re.compile(rb"[\xee-\xf4]")  # UTF-8 lead bytes of U+E000 and above
SORTED_SAFE = orjson.OPT_SORT_KEYS | orjson.OPT_STRICT_INTEGER
NOT_CANONICAL: Any = object()


def canonical_value(raw: bytes) -> Any:
    """The value of ``raw`` when ``raw`` is exactly its canonical form, else ``NOT_CANONICAL``.

    The fast path of ``parse_canonical``: orjson parses, re-encodes with sorted
    keys and 53-bit integers only (``OPT_STRICT_INTEGER`` raises beyond), and the
    bytes are compared; a re-encoding never has duplicate keys, so equality also
    proves the input had none. Inputs with backslash-u escapes or characters from
    U+E000 up (where key order could differ from JCS), with floats, with more
    than ``MAX_DEPTH`` brackets, or that are not canonical give ``NOT_CANONICAL``:
    the caller takes the strict path.
    """
    if (b"\\" in raw and b"\\u" in raw) or not (raw.isascii() or not _HIGH_CHARS.search(raw)):
        return NOT_CANONICAL
    if raw.count(b"[") + raw.count(b"{") > MAX_DEPTH:  # perhaps too deep: parse_json decides
        return NOT_CANONICAL
    try:
        value = orjson.loads(raw)
        if orjson.dumps(value, option=SORTED_SAFE) != raw:
            return NOT_CANONICAL
    except (orjson.JSONDecodeError, orjson.JSONEncodeError):
        return NOT_CANONICAL
    if may_hold_floats(raw) and not only_exact_numbers(value):
        return NOT_CANONICAL
    return value


def may_hold_floats(raw: bytes, start: int = 0, end: int | None = None) -> bool:
    """False when canonical bytes ``raw[start:end]`` cannot hold a float.

    orjson writes every float with a '.' or a signed exponent ('1.5', '1e+20',
    '1e-7'; a test holds it to that), so bytes without '.', '+' and 'e-' hold no
    float and need no walk of the value (most bodies have none of the three).
    """
    stop = len(raw) if end is None else end
    return (
        raw.find(b".", start, stop) >= 0
        or raw.find(b"+", start, stop) >= 0
        or raw.find(b"e-", start, stop) >= 0
    )


def parse_canonical(raw: bytes | str) -> tuple[Any, bytes | None]:
    """Parse JSON strictly and return ``(value, canonical bytes if raw IS canonical)``.

    The common input is already canonical (cocred clients and the store write
    it) and takes ``canonical_value``. Every other input goes through
    ``parse_json`` and gives ``(value, None)``. Raises ``CanonicalizationError``.
    """
    if isinstance(raw, str):
        raw = raw.encode("utf-8", "surrogatepass")
    value = canonical_value(raw)
    if value is not NOT_CANONICAL:
        return value, raw
    return parse_json(raw), None


def json_fields(value: Any, **converted: Any) -> dict[str, Any]:
    """A dataclass's fields by name, in declaration order: where most ``to_json`` start.

    ``converted`` gives the JSON form of the fields that need one; each keeps its field's place.
    Unlike ``dataclasses.asdict`` this neither recurses nor copies: the values are the fields'
    own, as a dict literal would hold them. Raises ``TypeError`` if ``value`` is no dataclass.
    """
    out = {field.name: getattr(value, field.name) for field in fields(value)}
    out.update(converted)  # an existing key keeps its place in the dict
    return out


def only_exact_numbers(value: Any) -> bool:
    """False if ``value`` holds a float or an integer beyond ±(2**53-1)."""
    stack = [value]
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind is dict:
            stack.extend(item.values())
        elif kind is list:
            stack.extend(item)
        elif kind is float or (kind is int and not -MAX_SAFE_INTEGER <= item <= MAX_SAFE_INTEGER):
            return False
    return True


def _fast_path_ok(value: Any) -> bool:
    """True when ``json.dumps`` gives JCS bytes for ``value``; raises on forbidden values."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    ok = True
    while stack:
        item, depth = stack.pop()
        kind = type(item)
        if (kind is dict or kind is list or kind is tuple) and depth > MAX_DEPTH:
            raise CanonicalizationError(f"JSON nested over the limit of {MAX_DEPTH} levels")
        if kind is dict:
            for key, sub in item.items():
                if type(key) is not str:
                    raise CanonicalizationError(f"object keys must be strings, got {key!r}")
                if key and max(key) >= _SORT_SAFE_LIMIT:
                    ok = False
                stack.append((sub, depth + 1))
        elif kind is list or kind is tuple:
            stack.extend([(sub, depth + 1) for sub in item])
        elif kind is int:
            if not -MAX_SAFE_INTEGER <= item <= MAX_SAFE_INTEGER:
                raise CanonicalizationError(f"integer {item} is outside the safe range ±(2**53-1)")
        elif kind is str or item is None or kind is bool:
            continue
        elif kind is float:
            _reject_float(repr(item))
        else:
            raise CanonicalizationError(f"{kind.__name__} values cannot be encoded as JSON")
    return ok


def canonical(value: Any) -> bytes:
    """Return the RFC 8785 canonical UTF-8 bytes of a JSON value.

    Raises ``CanonicalizationError`` for floats, integers beyond ±(2**53-1),
    non-string keys, unencodable strings (lone surrogates), non-JSON types and
    nesting over ``MAX_DEPTH`` levels.
    """
    if _fast_path_ok(value):
        return _dumps(value)
    try:
        return rfc8785.dumps(value)
    except rfc8785.CanonicalizationError as exc:
        raise CanonicalizationError(f"cannot canonicalise: {exc}") from exc
