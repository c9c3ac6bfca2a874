"""The fast parser: one pattern and one orjson round trip for an envelope already canonical.

Every event is parsed once on the way in (``ledger.ledger``), and every stored
event again by each audit (``ledger._workers``); nearly all of them arrive in
canonical form, which the strict parser (``ledger.envelope.Envelope.from_bytes``)
would take apart field by field. ``fast_parse`` either gives the very values the
strict parser would, or declines (None) and leaves the input to it. The tests
that hold the two paths equal are in ``tests/ledger/test_fast.py``.
"""

from __future__ import annotations

import binascii
import re
from datetime import datetime
from typing import Any

import orjson

from ledger.canonical import MAX_DEPTH, SORTED_SAFE, only_exact_numbers
from ledger.limits import FIELDS, MAX_BODY_BYTES, MAX_ENVELOPE_BYTES

# In canonical bytes the members are sorted: actor, body, campaign, key, seq, sig, ts,
# type, v. The body therefore starts at a fixed offset, and the last ',"campaign":'
# and ',"sig":"' are the top-level ones (nothing after them can hold those strings:
# campaign, key, ts, type and v are validated by the patterns of ``ledger.envelope``).
BODY_START = len('{"actor":"') + 43 + len('","body":')
SIG_MARK = b',"sig":"'
SIG_LEN = 86
# A canonical envelope, field by field, with the patterns ``from_json`` checks (ASCII
# digits only). Only the body is free; ',"campaign":' is found from the end, and
# nothing after it can hold a quote that is not a delimiter, so the fields it
# anchors are the top-level ones. Group 1 marks the end of the body, group 2 the sig.
_CANONICAL_ENVELOPE = re.compile(
    rb'\{"actor":"[A-Za-z0-9_-]{43}","body":\{.*\}(,"campaign":)(?:null|"[A-Za-z0-9_.:-]{1,64}"),'
    rb'"key":"[A-Za-z0-9_-]{43}","seq":[1-9][0-9]{0,15},"sig":"([A-Za-z0-9_-]{85}[AQgw])",'
    rb'"ts":"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,6})?Z",'
    rb'"type":"[A-Z][A-Za-z0-9]{0,63}","v":1\}',
    re.DOTALL,
)
_TO_STANDARD_B64 = bytes.maketrans(b"-_", b"+/")
_HIGH = re.compile(rb"[\xee-\xf4]")  # as in ledger.canonical: key order could differ from JCS
_TIMES: dict[str, datetime] = {}  # recent valid timestamps, parsed
# fast_parse runs once per event everywhere: its globals, looked up once
_match_envelope = _CANONICAL_ENVELOPE.fullmatch
_loads, _dumps, _a2b = orjson.loads, orjson.dumps, binascii.a2b_base64
_FIELD_COUNT = len(FIELDS)
_SIG_MARK_LEN = len(SIG_MARK)


def fast_parse(raw: bytes) -> tuple[dict[str, Any], bytes, bytes, datetime] | None:
    """``(fields, signature, signed bytes, time)`` of a valid envelope already in canonical form.

    None when ``raw`` is anything else (not canonical, invalid, or outside the
    fast path): then ``Envelope.from_bytes`` decides, and says why. For an input
    this accepts, ``from_bytes`` accepts it too, with these very values: the
    pattern checks every field as ``from_json`` does, the orjson round trip proves
    the bytes are the canonical JSON of ``fields`` (as ``canonical_value`` does,
    with the float check narrowed to the body: the pattern leaves no room for one
    elsewhere), and nine keys mean no extras. Bytes with more than ``MAX_DEPTH``
    brackets are left to ``from_bytes`` too, which measures their nesting.
    """
    if (
        len(raw) > MAX_ENVELOPE_BYTES
        or (b"\\" in raw and b"\\u" in raw)
        or raw.count(b"{") + raw.count(b"[") > MAX_DEPTH
    ):
        return None
    match = _match_envelope(raw)
    if match is None:
        return None
    body_end = match.start(1)
    if body_end - BODY_START > MAX_BODY_BYTES or not (raw.isascii() or not _HIGH.search(raw)):
        return None
    try:
        obj = _loads(raw)
        if _dumps(obj, option=SORTED_SAFE) != raw:
            return None
    except (orjson.JSONDecodeError, orjson.JSONEncodeError):
        return None
    # may_hold_floats, inlined: one-byte finds are memchr; 'e-' only when there is a '-'
    if len(obj) != _FIELD_COUNT or (
        (
            raw.find(b".", BODY_START, body_end) >= 0
            or raw.find(b"+", BODY_START, body_end) >= 0
            or (
                raw.find(b"-", BODY_START, body_end) >= 0
                and raw.find(b"e-", BODY_START, body_end) >= 0
            )
        )
        and not only_exact_numbers(obj["body"])
    ):
        return None
    ts = obj["ts"]
    moment = _TIMES.get(ts)
    if moment is None:
        try:
            moment = datetime.fromisoformat(ts)
        except ValueError:
            return None
        if len(_TIMES) >= 4096:  # events arrive in time order: old times are not needed again
            _TIMES.clear()
        _TIMES[ts] = moment
    start, end = match.span(2)
    signature = _a2b(raw[start:end].translate(_TO_STANDARD_B64) + b"==")
    return obj, signature, raw[: start - _SIG_MARK_LEN] + raw[end + 1 :], moment
