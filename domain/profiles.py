"""Private profiles: the log carries only a salted commitment, and erasure.

A member's display name, email and payout handle live encrypted in the profile
store (``domain.profile_store``). The log carries ``ProfileCommitted`` with
``SHA-256(salt || canonical profile JSON)``: with the salt, anyone holding the
profile can prove it is the one committed; without it (after erasure) the hash
links to nobody. ``MemberErased`` is PII-free; after it the actor can sign no
further campaign or profile event, and its history shows as "erased member".
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any

from domain.errors import InvalidProfileError, MalformedBodyError
from domain.state import Rule, State, no_change
from domain.values import Fact, expect_keys, sha256_hex
from domain.vocabulary import MEMBER_ERASED, PROFILE_COMMITTED
from ledger.canonical import canonical

ERASED_LABEL = "erased member"
SALT_BYTES = 32
_EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s]{1,189}")
_LIMITS = {"display_name": 100, "email": 254, "payout_handle": 100}


@dataclass(frozen=True, slots=True)
class Profile:
    """A member's private data; build it with ``Profile.create`` to validate it."""

    display_name: str
    email: str
    payout_handle: str

    @classmethod
    def create(cls, display_name: Any, email: Any, payout_handle: Any) -> Profile:
        """Validate and build; ``InvalidProfileError`` names the first bad field."""
        values = {"display_name": display_name, "email": email, "payout_handle": payout_handle}
        for name, value in values.items():
            limit = _LIMITS[name]
            if not isinstance(value, str) or not 1 <= len(value.strip()) <= limit:
                raise InvalidProfileError(f"profile {name} must be text of 1-{limit} characters")
        if not _EMAIL.fullmatch(email):
            raise InvalidProfileError(f"profile email {email!r} is not an email address")
        return cls(display_name, email, payout_handle)

    @classmethod
    def from_json(cls, obj: Any) -> Profile:
        if not isinstance(obj, dict) or set(obj) != set(_LIMITS):
            raise InvalidProfileError("a profile has exactly display_name, email, payout_handle")
        return cls.create(obj["display_name"], obj["email"], obj["payout_handle"])

    def to_json(self) -> dict[str, str]:
        return {
            "display_name": self.display_name,
            "email": self.email,
            "payout_handle": self.payout_handle,
        }

    def canonical_bytes(self) -> bytes:
        return canonical(self.to_json())


def commitment(salt: bytes, profile: Profile) -> str:
    """The hex SHA-256 of ``salt || canonical profile JSON`` (what ``ProfileCommitted`` holds)."""
    return hashlib.sha256(salt + profile.canonical_bytes()).hexdigest()


def _no_campaign(ev: Fact) -> None:
    if ev.campaign is not None:
        raise MalformedBodyError(
            f"{ev.type} belongs to no campaign: the envelope's campaign field must be null",
            actor=ev.actor,
            seq=ev.seq,
        )


def check_committed(state: State, ev: Fact) -> None:
    sha256_hex(ev, "commitment", expect_keys(ev, {"commitment"})["commitment"])
    _no_campaign(ev)


def check_erased(state: State, ev: Fact) -> None:
    expect_keys(ev, ())
    _no_campaign(ev)


def apply_erased(state: State, ev: Fact, _: None) -> None:
    state.add(state.erased, state.name(ev.actor))


RULES = {
    PROFILE_COMMITTED: Rule(check_committed, no_change),
    MEMBER_ERASED: Rule(check_erased, apply_erased),
}
