"""The signed event envelope: strict parsing, canonical bytes, signing.

An envelope is ``{v, type, actor, key, seq, ts, campaign, body, sig}``. The
signature is Ed25519 over the RFC 8785 canonical bytes of the envelope without
``sig``; the ledger stores the canonical bytes *with* ``sig`` verbatim (they are
the Merkle leaf), so an event can be re-verified forever from what is stored.
Bytes already in canonical form are read by the fast parser (``ledger._fast``)
first; whatever it declines, this module parses and says why.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from ledger._fast import BODY_START, SIG_LEN, SIG_MARK, fast_parse
from ledger.canonical import CanonicalizationError, canonical, parse_canonical
from ledger.errors import MalformedError, MalformedEventError
from ledger.keys import ID_PATTERN, SigningKey, b64url, b64url_decode
from ledger.limits import FIELDS as FIELDS
from ledger.limits import MAX_BODY_BYTES as MAX_BODY_BYTES
from ledger.limits import MAX_ENVELOPE_BYTES as MAX_ENVELOPE_BYTES

VERSION = 1
MAX_SEQ = 2**53 - 1
TYPE_PATTERN = re.compile(r"^[A-Z][A-Za-z0-9]{0,63}$")
CAMPAIGN_PATTERN = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
TS_PATTERN = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$")
_FIELD_SET = frozenset(FIELDS)
_SIG_PATTERN = re.compile(r"[A-Za-z0-9_-]{85}[AQgw]")  # 64 bytes, zero padding bits


def decode_signature(sig: Any) -> bytes:
    """The bytes of an unpadded base64url Ed25519 signature; ``MalformedError`` otherwise."""
    if not isinstance(sig, str):
        raise MalformedError("field 'sig' must be a base64url string")
    if len(sig) != SIG_LEN or not _SIG_PATTERN.fullmatch(sig):
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
        at = data.rfind(SIG_MARK)
        return data[:at] + data[at + len(SIG_MARK) + SIG_LEN + 1 :]

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
        body_size = data.rfind(b',"campaign":') - BODY_START
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
