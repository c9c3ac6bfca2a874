"""Private profiles: the log carries only a salted commitment, and erasure.

A member's display name, email and payout methods live encrypted in the profile
store (``domain.profile_store``). The log carries ``ProfileCommitted`` with
``SHA-256(salt || canonical profile JSON)``: with the salt, anyone holding the
profile can prove it is the one committed; without it (after erasure) the hash
links to nobody. ``MemberErased`` is PII-free; after it the actor can sign no
further campaign or profile event, and its history shows as "erased member".
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from domain.errors import InvalidProfileError, MalformedBodyError
from domain.payout_methods import PayoutMethod, legacy_method, method_from_json
from domain.state import Rule, State, no_change
from domain.values import Fact, expect_keys, sha256_hex
from domain.vocabulary import MEMBER_ERASED, PROFILE_COMMITTED
from ledger.canonical import canonical

ERASED_LABEL = "erased member"
SALT_BYTES = 32
_EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s]{1,189}")
_LIMITS = {"display_name": 100, "email": 254, "payout_handle": 100}
_LEGACY_FIELDS = frozenset(_LIMITS)  # the one shape of a profile before payout methods
_FIELDS = frozenset({"display_name", "email", "payout_handle", "payout"})


@dataclass(frozen=True, slots=True)
class Profile:
    """A member's private data; build it with ``Profile.create`` to validate it.

    Every field may be absent (each is set on its own). ``payout`` holds at most one
    method per kind (``domain.payout_methods``). ``payout_handle`` is the single free-text
    handle of profiles written before payout methods: it is kept as it was (so the stored
    profile still opens its commitment) and read as the method of the kind it parses as.
    """

    display_name: str | None = None
    email: str | None = None
    payout_handle: str | None = None
    payout: Mapping[str, PayoutMethod] = field(default_factory=lambda: MappingProxyType({}))

    @classmethod
    def create(
        cls,
        display_name: Any = None,
        email: Any = None,
        payout_handle: Any = None,
        payout: Mapping[str, PayoutMethod] | None = None,
    ) -> Profile:
        """Validate and build; ``InvalidProfileError`` names the first bad field."""
        values = {"display_name": display_name, "email": email, "payout_handle": payout_handle}
        for name, value in values.items():
            limit = _LIMITS[name]
            if value is not None and (
                not isinstance(value, str) or not 1 <= len(value.strip()) <= limit
            ):
                raise InvalidProfileError(f"profile {name} must be text of 1-{limit} characters")
        if email is not None and not _EMAIL.fullmatch(email):
            raise InvalidProfileError(f"profile email {email!r} is not an email address")
        methods = dict(payout or {})
        for kind, method in methods.items():
            if kind != method.kind:
                raise InvalidProfileError(f"payout method {method.kind} filed as {kind}")
        return cls(
            display_name, email, payout_handle, MappingProxyType(dict(sorted(methods.items())))
        )

    @classmethod
    def from_json(cls, obj: Any) -> Profile:
        if not isinstance(obj, dict) or not set(obj) <= _FIELDS:
            raise InvalidProfileError(
                "a profile has only display_name, email, payout_handle and payout"
            )
        methods = obj.get("payout", {})
        if not isinstance(methods, dict):
            raise InvalidProfileError("profile payout must be an object of methods by kind")
        return cls.create(
            obj.get("display_name"),
            obj.get("email"),
            obj.get("payout_handle"),
            {kind: method_from_json(kind, value) for kind, value in methods.items()},
        )

    def to_json(self) -> dict[str, Any]:
        """The profile's JSON; a profile of the old shape keeps exactly its old keys."""
        out: dict[str, Any] = {
            k: v
            for k, v in (
                ("display_name", self.display_name),
                ("email", self.email),
                ("payout_handle", self.payout_handle),
            )
            if v is not None
        }
        if self.payout:
            out["payout"] = {kind: method.to_json() for kind, method in self.payout.items()}
        return out

    def canonical_bytes(self) -> bytes:
        return canonical(self.to_json())

    def methods(self) -> dict[str, PayoutMethod]:
        """Every payout method by kind: those set, and the old handle's if its kind is free."""
        found = dict(self.payout)
        legacy = None if self.payout_handle is None else legacy_method(self)
        if legacy is not None and legacy.kind not in found:
            found[legacy.kind] = legacy
        return found

    def changed(
        self,
        *,
        display_name: str | None = None,
        email: str | None = None,
        method: PayoutMethod | None = None,
        remove: str | None = None,
    ) -> Profile:
        """A copy with the given fields set (validated), a method set or one kind removed.

        Setting or removing a method moves an old handle into ``payout`` (as the method it
        parses as; one that parses as none is dropped). Raises ``InvalidProfileError``.
        """
        payout, handle = dict(self.payout), self.payout_handle
        if method is not None or remove is not None:
            payout, handle = self.methods(), None
            if method is not None:
                payout[method.kind] = method
            if remove is not None:
                if remove not in payout:
                    raise InvalidProfileError(f"the profile has no {remove} payout method")
                del payout[remove]
        return Profile.create(
            self.display_name if display_name is None else display_name,
            self.email if email is None else email,
            handle,
            payout,
        )


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
