"""Shared shapes of event bodies: ids, hashes, codes, times, fractions, and their checks.

Every check raises ``MalformedBodyError`` naming the event type, the field and what
was found. They are written for speed (a regex ``fullmatch`` or a type test each),
because every event passes through them when it is appended and when the log is
replayed.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from datetime import datetime
from fractions import Fraction
from typing import Any, NamedTuple, Protocol

from domain.errors import MalformedBodyError
from ledger.envelope import TS_PATTERN
from ledger.keys import ID_PATTERN

HASH = re.compile(r"[0-9a-f]{64}")
CODE = re.compile(r"[a-z0-9-]{1,48}")
CAMPAIGN_ID = re.compile(r"[a-z0-9][a-z0-9-]{2,47}")
CONTRIBUTION_ID = re.compile(r"[A-Za-z0-9_-]{43}:[1-9][0-9]{0,15}")
LICENCE_NAME = re.compile(r"[a-z0-9-]{1,32}")
COUNTRY = re.compile(r"[A-Z]{2}")
CURRENCY = re.compile(r"[A-Z]{3}")
FRACTION = re.compile(r"([0-9]{1,15})/([0-9]{1,15})")
MAX_TITLE = 200
MAX_AMOUNT = 2**53 - 1


class Fact(Protocol):
    """What the rules read of an event: an ``Envelope`` or a replayed ``Recorded``."""

    @property
    def type(self) -> str: ...
    @property
    def actor(self) -> str: ...
    @property
    def seq(self) -> int: ...
    @property
    def ts(self) -> str: ...
    @property
    def campaign(self) -> str | None: ...
    @property
    def body(self) -> Mapping[str, Any]: ...


class Recorded(NamedTuple):
    """An event read back from the log (already verified on the way in)."""

    type: str
    actor: str
    seq: int
    ts: str
    campaign: str | None
    body: Mapping[str, Any]

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> Recorded:
        return cls(obj["type"], obj["actor"], obj["seq"], obj["ts"], obj["campaign"], obj["body"])


def contribution_id(actor: str, seq: int) -> str:
    """The id of the contribution submitted by ``actor`` at ``seq``."""
    return f"{actor}:{seq}"


def event_time(ev: Fact) -> datetime:
    """The envelope's ``ts`` as an aware datetime (the ledger validated its format)."""
    return datetime.fromisoformat(ev.ts)


def malformed(ev: Fact, detail: str) -> MalformedBodyError:
    return MalformedBodyError(f"{ev.type} body: {detail}", actor=ev.actor, seq=ev.seq)


def expect_keys(
    ev: Fact,
    required: Collection[str],
    optional: Collection[str] = (),
    *,
    obj: Mapping[str, Any] | None = None,
    where: str = "",
) -> Mapping[str, Any]:
    """The body (or ``obj`` inside it, named by ``where``) once it has every required key
    and nothing but the optional ones."""
    body = ev.body if obj is None else obj
    keys = body.keys()
    if len(keys) == len(required) and keys == required:
        return body
    missing = [k for k in sorted(required) if k not in keys]
    if missing:
        raise malformed(ev, f"missing field(s){where}: {', '.join(missing)}")
    extra = sorted(set(keys) - set(required) - set(optional))
    if extra:
        raise malformed(ev, f"unexpected field(s){where}: {', '.join(extra)}")
    return body


def text(ev: Fact, name: str, value: Any, maximum: int = MAX_TITLE) -> str:
    if type(value) is not str or not 1 <= len(value) <= maximum:
        raise malformed(ev, f"field '{name}' must be text of 1-{maximum} characters")
    return value


def matching(ev: Fact, name: str, value: Any, pattern: re.Pattern[str], what: str) -> str:
    if type(value) is not str or not pattern.fullmatch(value):
        raise malformed(ev, f"field '{name}' must be {what}, got {value!r}")
    return value


def sha256_hex(ev: Fact, name: str, value: Any) -> str:
    return matching(ev, name, value, HASH, "a lowercase hex SHA-256 (64 characters)")


def code(ev: Fact, name: str, value: Any) -> str:
    return matching(ev, name, value, CODE, "a code of 1-48 characters [a-z0-9-]")


def actor_id(ev: Fact, name: str, value: Any) -> str:
    return matching(ev, name, value, ID_PATTERN, "a 43-character actor id")


def contribution_ref(ev: Fact, name: str, value: Any) -> str:
    return matching(ev, name, value, CONTRIBUTION_ID, "a contribution id '<actor>:<seq>'")


def one_of(ev: Fact, name: str, value: Any, allowed: Mapping[str, str]) -> str:
    """``value`` when it is one of ``allowed`` (returned as the shared constant)."""
    found = allowed.get(value) if type(value) is str else None
    if found is None:
        raise malformed(ev, f"field '{name}' must be one of {', '.join(allowed)}, got {value!r}")
    return found


def integer(ev: Fact, name: str, value: Any, minimum: int = 0) -> int:
    if type(value) is not int or not minimum <= value <= MAX_AMOUNT:
        raise malformed(ev, f"field '{name}' must be an integer of at least {minimum}")
    return value


def time(ev: Fact, name: str, value: Any) -> datetime:
    if type(value) is not str or not TS_PATTERN.match(value):
        raise malformed(ev, f"field '{name}' must be an RFC 3339 UTC time, got {value!r}")
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise malformed(ev, f"field '{name}' is not a real time: {value!r}") from None


def parse_fraction(value: Any) -> Fraction | None:
    """The ``Fraction`` of a ``"p/q"`` string with q > 0, or None when it is not one."""
    if type(value) is not str:
        return None
    found = FRACTION.fullmatch(value)
    if found is None or int(found[2]) == 0:
        return None
    return Fraction(int(found[1]), int(found[2]))


def fraction(
    ev: Fact,
    name: str,
    value: Any,
    low: Fraction,
    high: Fraction,
    *,
    open_low: bool,
    open_high: bool,
) -> Fraction:
    """A ``"p/q"`` fraction within the bounds (open or closed at each end)."""
    found = parse_fraction(value)
    low_ok = found is not None and (found > low if open_low else found >= low)
    high_ok = found is not None and (found < high if open_high else found <= high)
    if not (low_ok and high_ok):
        interval = f"{'(' if open_low else '['}{low}, {high}{')' if open_high else ']'}"
        raise malformed(
            ev, f"field '{name}' must be a fraction \"p/q\" in {interval}, got {value!r}"
        )
    assert found is not None
    return found


def constants(*names: str) -> dict[str, str]:
    """A lookup of allowed values that also returns the shared string object."""
    return {name: name for name in names}
