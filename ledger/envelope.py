"""The signed event envelope: strict parsing, canonical bytes, signing.

An envelope is ``{v, type, actor, key, seq, ts, campaign, body, sig}``. The
signature is Ed25519 over the RFC 8785 canonical bytes of the envelope without
``sig``; the ledger stores the canonical bytes *with* ``sig`` verbatim (they are
the Merkle leaf), so an event can be re-verified forever from what is stored.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from ledger.canonical import (
    MAX_DEPTH,
    SORTED_SAFE,
    CanonicalizationError,
    canonical,
    only_exact_numbers,
    parse_canonical,
)
from ledger.errors import MalformedError, MalformedEventError
from ledger.keys import ID_PATTERN, SigningKey, b64url, b64url_decode

VERSION = 1
FIELDS = ("v", "type", "actor", "key", "seq", "ts", "campaign", "body", "sig")
MAX_BODY_BYTES = 64 * 1024
MAX_ENVELOPE_BYTES = MAX_BODY_BYTES + 4 * 1024
MAX_SEQ = 2**53 - 1
TYPE_PATTERN = re.compile(r"^[A-Z][A-Za-z0-9]{0,63}$")
CAMPAIGN_PATTERN = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
TS_PATTERN = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$")
# In canonical bytes the members are sorted: actor, body, campaign, key, seq, sig, ts,
# type, v. The body therefore starts at a fixed offset, and the last ',"campaign":'
# and ',"sig":"' are the top-level ones (nothing after them can hold those strings:
# campaign, key, ts, type and v are validated by the patterns above).
_BODY_START = len('{"actor":"') + 43 + len('","body":')
_SIG_MARK = b',"sig":"'
_SIG_LEN = 86
_FIELD_SET = frozenset(FIELDS)
_SIG_PATTERN = re.compile(r"[A-Za-z0-9_-]{85}[AQgw]")  # 64 bytes, zero padding bits
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
_SIG_MARK_LEN = len(_SIG_MARK)


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
    if body_end - _BODY_START > MAX_BODY_BYTES or not (raw.isascii() or not _HIGH.search(raw)):
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
            raw.find(b".", _BODY_START, body_end) >= 0
            or raw.find(b"+", _BODY_START, body_end) >= 0
            or (
                raw.find(b"-", _BODY_START, body_end) >= 0
                and raw.find(b"e-", _BODY_START, body_end) >= 0
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


def decode_signature(sig: Any) -> bytes:
    """The bytes of an unpadded base64url Ed25519 signature; ``MalformedError`` otherwise."""
    if not isinstance(sig, str):
        raise MalformedError("field 'sig' must be a base64url string")
    if len(sig) != _SIG_LEN or not _SIG_PATTERN.fullmatch(sig):
        return b64url_decode(sig, length=64, what="field 'sig'")  # raises, saying why
    return base64.urlsafe_b64decode(sig + "==")


def _fail(detail: str) -> MalformedEventError:
    return MalformedEventError(f"envelope: {detail}")


def format_ts(moment: datetime) -> str:
    """RFC 3339 UTC with a ``Z`` and whole seconds (microseconds kept if present)."""
    moment = moment.astimezone(UTC)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    if moment.microsecond:
        text += f".{moment.microsecond:06d}".rstrip("0")
    return text + "Z"


def parse_ts(text: str) -> datetime:
    """Parse an envelope timestamp; raise ``MalformedEventError`` when it is not one."""
    if not isinstance(text, str) or not TS_PATTERN.match(text):
        raise _fail(
            f"field 'ts' must be an RFC 3339 UTC time like 2026-11-22T10:00:00Z, got {text!r}"
        )
    try:
        return datetime.fromisoformat(text)  # 3.11+ reads the Z as UTC
    except ValueError as exc:
        raise _fail(f"field 'ts' is not a real time: {text!r}") from exc


@dataclass(frozen=True, slots=True)
class Envelope:
    """One signed event. Build with ``sign_envelope`` or parse with ``from_bytes``."""

    v: int
    type: str
    actor: str
    key: str
    seq: int
    ts: str
    campaign: str | None
    body: Mapping[str, Any]
    sig: str
    _data: bytes = field(default=b"", compare=False, repr=False)
    _signature: bytes = field(default=b"", compare=False, repr=False)

    def __post_init__(self) -> None:
        if not self._data:  # built directly rather than parsed: encode once now
            try:
                object.__setattr__(self, "_data", canonical(self.to_json()))
                object.__setattr__(self, "_signature", decode_signature(self.sig))
            except MalformedError as exc:
                raise _fail(exc.detail) from exc

    def unsigned(self) -> dict[str, Any]:
        """The envelope as a dict without ``sig`` (what is signed)."""
        return {
            "v": self.v,
            "type": self.type,
            "actor": self.actor,
            "key": self.key,
            "seq": self.seq,
            "ts": self.ts,
            "campaign": self.campaign,
            "body": self.body,
        }

    def to_json(self) -> dict[str, Any]:
        """The full envelope as a JSON-ready dict."""
        return {**self.unsigned(), "sig": self.sig}

    def signing_bytes(self) -> bytes:
        """Canonical bytes that the signature covers: the stored bytes without ``sig``."""
        data = self._data
        at = data.rfind(_SIG_MARK)
        return data[:at] + data[at + len(_SIG_MARK) + _SIG_LEN + 1 :]

    def canonical_bytes(self) -> bytes:
        """Canonical bytes of the whole envelope: what the ledger stores and hashes."""
        return self._data

    @property
    def signature(self) -> bytes:
        """The 64 signature bytes."""
        return self._signature

    @property
    def time(self) -> datetime:
        return parse_ts(self.ts)

    @classmethod
    def from_bytes(cls, raw: bytes | str) -> Envelope:
        """Parse one JSON envelope strictly; raise ``MalformedEventError`` naming the problem."""
        if type(raw) is bytes:
            parts = fast_parse(raw)
            if parts is not None:
                return cls.from_parts(raw, parts[0], parts[1])
        size = len(raw.encode("utf-8") if isinstance(raw, str) else raw)
        if size > MAX_ENVELOPE_BYTES:
            raise _fail(f"{size} bytes is over the limit of {MAX_ENVELOPE_BYTES}")
        try:
            obj, data = parse_canonical(raw)
        except MalformedError as exc:
            raise _fail(exc.detail) from exc
        return cls.from_json(obj, _data=data)

    @classmethod
    def from_parts(cls, data: bytes, obj: dict[str, Any], signature: bytes) -> Envelope:
        """The envelope of ``fast_parse`` output (no checks: that did them all)."""
        return cls(
            VERSION,
            obj["type"],
            obj["actor"],
            obj["key"],
            obj["seq"],
            obj["ts"],
            obj["campaign"],
            obj["body"],
            obj["sig"],
            data,
            signature,
        )

    @classmethod
    def trusted(cls, data: bytes) -> Envelope:
        """The envelope of canonical bytes already checked by ``fast_parse`` or ``from_bytes``.

        Skips the checks (a worker process ran them); only for bytes that passed.
        """
        obj = orjson.loads(data)
        return cls.from_parts(data, obj, decode_signature(obj["sig"]))

    @classmethod
    def from_json(cls, obj: Any, *, _data: bytes | None = None) -> Envelope:
        """Validate a parsed JSON object as an envelope (see ``from_bytes``).

        ``_data`` is the object's canonical encoding when the caller already has it.
        """
        if not isinstance(obj, dict):
            raise _fail("must be a JSON object")
        if obj.keys() != _FIELD_SET:
            missing = [f for f in FIELDS if f not in obj]
            if missing:
                raise _fail(f"missing field(s): {', '.join(missing)}")
            raise _fail(f"unexpected field(s): {', '.join(sorted(set(obj) - _FIELD_SET))}")
        v, type_, actor, key = obj["v"], obj["type"], obj["actor"], obj["key"]
        seq, ts, campaign, body, sig = (
            obj["seq"],
            obj["ts"],
            obj["campaign"],
            obj["body"],
            obj["sig"],
        )
        if type(v) is not int or v != VERSION:
            raise _fail(f"field 'v' must be {VERSION}, got {v!r}")
        if not isinstance(type_, str) or not TYPE_PATTERN.match(type_):
            raise _fail(f"field 'type' must be a PascalCase name of 1-64 letters, got {type_!r}")
        for name, value in (("actor", actor), ("key", key)):
            if not isinstance(value, str) or not ID_PATTERN.match(value):
                raise _fail(f"field '{name}' must be a 43-character base64url id, got {value!r}")
        if type(seq) is not int or not 1 <= seq <= MAX_SEQ:
            raise _fail(f"field 'seq' must be an integer from 1, got {seq!r}")
        parse_ts(ts)
        if campaign is not None and (
            not isinstance(campaign, str) or not CAMPAIGN_PATTERN.match(campaign)
        ):
            raise _fail(
                f"field 'campaign' must be null or an id of 1-64 characters "
                f"[A-Za-z0-9_.:-], got {campaign!r}"
            )
        if not isinstance(body, dict):
            raise _fail(f"field 'body' must be a JSON object, got {type(body).__name__}")
        try:
            signature = decode_signature(sig)
            data = _data or canonical(obj)
        except MalformedError as exc:
            raise _fail(exc.detail) from exc
        body_size = data.rfind(b',"campaign":') - _BODY_START
        if body_size > MAX_BODY_BYTES:
            raise _fail(f"field 'body' is {body_size} bytes, over the limit of {MAX_BODY_BYTES}")
        return cls(v, type_, actor, key, seq, ts, campaign, body, sig, data, signature)


def sign_envelope(
    key: SigningKey,
    type_: str,
    body: Mapping[str, Any],
    *,
    seq: int,
    ts: str | datetime | None = None,
    campaign: str | None = None,
) -> Envelope:
    """Build and sign an envelope as ``key.actor``; validates it like any input.

    Raises ``MalformedEventError`` when the result would not be a valid envelope.
    """
    if ts is None:
        ts = datetime.now(UTC).replace(microsecond=0)
    if isinstance(ts, datetime):
        ts = format_ts(ts)
    draft = {
        "v": VERSION,
        "type": type_,
        "actor": key.actor,
        "key": key.key_id,
        "seq": seq,
        "ts": ts,
        "campaign": campaign,
        "body": dict(body),
    }
    try:
        message = canonical(draft)
    except CanonicalizationError as exc:
        raise _fail(exc.detail) from exc
    return Envelope.from_json({**draft, "sig": b64url(key.sign(message))})
