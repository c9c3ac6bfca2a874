"""Payout methods a member keeps in their (encrypted) profile, each validated.

- ``sepa``: the account holder's name and an IBAN (checked by ``schwifty``: length,
  country format and check digits), plus a BIC where the payment needs one: the IBAN's
  country is in the SEPA zone but outside the EEA (Switzerland, the United Kingdom,
  Monaco …). An IBAN outside the SEPA zone is refused.
- ``paypal``: an email address, or a phone number in international form (checked by
  ``phonenumbers``, kept as E.164).
- ``eth``: an Ethereum address with its EIP-55 checksum (``eth_utils``); an address without
  one (all lower or upper case) is refused, because the checksum is what catches a typo.

Each ``*.parse`` raises ``InvalidPayoutMethodError`` naming the field and the problem.
``legacy_method`` reads the single free-text handle of old profiles as the method it
parses as (holder: the display name), or None.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import phonenumbers
from eth_utils import is_checksum_address, is_hex_address, to_checksum_address
from schwifty import BIC, IBAN
from schwifty.exceptions import SchwiftyException

from domain.errors import InvalidPayoutMethodError
from domain.vocabulary import ETH, PAYPAL, SEPA

if TYPE_CHECKING:
    from domain.profiles import Profile

KINDS = (SEPA, PAYPAL, ETH)  # a method's kind is the rail word it pays through (``safe``: eth)
MAX_HOLDER = 70  # the longest creditor name (Nm) a pain.001 carries
_EMAIL = re.compile(r"[^@\s,\"]{1,64}@[^@\s,\"]{1,189}\.[^@\s,\".]{2,63}")
# The EEA: inside it a SEPA transfer needs only the IBAN; the rest of the SEPA zone needs a BIC.
EEA = frozenset(
    (
        "AT",
        "BE",
        "BG",
        "CY",
        "CZ",
        "DE",
        "DK",
        "EE",
        "ES",
        "FI",
        "FR",
        "GR",
        "HR",
        "HU",
        "IE",
        "IS",
        "IT",
        "LI",
        "LT",
        "LU",
        "LV",
        "MT",
        "NL",
        "NO",
        "PL",
        "PT",
        "RO",
        "SE",
        "SI",
        "SK",
    )
)


def _refuse(kind: str, detail: str) -> InvalidPayoutMethodError:
    return InvalidPayoutMethodError(f"{kind} payout method: {detail}", kind=kind)


@dataclass(frozen=True, slots=True)
class SepaMethod:
    """A bank account for SEPA credit transfers (IBAN in its compact form)."""

    holder: str
    iban: str
    bic: str | None = None
    kind = SEPA

    @classmethod
    def parse(cls, holder: Any, iban: Any, bic: Any = None) -> SepaMethod:
        if not isinstance(holder, str) or not 1 <= len(holder.strip()) <= MAX_HOLDER:
            raise _refuse(SEPA, f"the account holder must be a name of 1-{MAX_HOLDER} characters")
        try:
            account = IBAN(str(iban))
        except SchwiftyException as exc:
            raise _refuse(SEPA, f"{iban!r} is not a valid IBAN ({exc})") from None
        if not account.in_sepa_zone:
            raise _refuse(SEPA, f"IBAN {account.formatted} is outside the SEPA zone")
        code = None
        if bic is not None:
            try:
                code = BIC(str(bic)).compact
            except SchwiftyException as exc:
                raise _refuse(SEPA, f"{bic!r} is not a valid BIC ({exc})") from None
        elif account.country_code not in EEA:
            raise _refuse(
                SEPA,
                f"IBAN {account.formatted} is outside the EEA: a transfer to it needs the "
                f"bank's BIC",
            )
        return cls(holder.strip(), account.compact, code)

    @property
    def handle(self) -> str:
        return IBAN(self.iban).formatted

    def to_json(self) -> dict[str, str]:
        out = {"holder": self.holder, "iban": self.iban}
        if self.bic is not None:
            out["bic"] = self.bic
        return out


@dataclass(frozen=True, slots=True)
class PaypalMethod:
    """A PayPal recipient: an email address or an E.164 phone number."""

    recipient: str
    kind = PAYPAL

    @classmethod
    def parse(cls, value: Any) -> PaypalMethod:
        if not isinstance(value, str) or not value.strip():
            raise _refuse(PAYPAL, "give an email address or a phone number")
        text = value.strip()
        if "@" in text:
            if not _EMAIL.fullmatch(text) or len(text) > 254:
                raise _refuse(PAYPAL, f"{text!r} is not an email address")
            return cls(text)
        try:
            number = phonenumbers.parse(text, None)
        except phonenumbers.NumberParseException:
            raise _refuse(
                PAYPAL, f"{text!r} is neither an email address nor a phone number in "
                f"international form (+country code)",
            ) from None  # fmt: skip
        if not phonenumbers.is_valid_number(number):
            raise _refuse(PAYPAL, f"{text!r} is not a valid phone number")
        return cls(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))

    @property
    def is_phone(self) -> bool:
        return "@" not in self.recipient

    @property
    def handle(self) -> str:
        return self.recipient

    def to_json(self) -> dict[str, str]:
        return {"phone" if self.is_phone else "email": self.recipient}


@dataclass(frozen=True, slots=True)
class EthMethod:
    """An Ethereum address, EIP-55 checksummed."""

    address: str
    kind = ETH

    @classmethod
    def parse(cls, value: Any) -> EthMethod:
        if not isinstance(value, str) or not is_hex_address(value):
            raise _refuse(ETH, f"{value!r} is not an Ethereum address (0x + 40 hex digits)")
        if not is_checksum_address(value):
            raise _refuse(
                ETH,
                f"{value} does not carry a valid EIP-55 checksum (mixed case); copy the "
                f"address from your wallet as it shows it",
            )
        return cls(value)

    @property
    def handle(self) -> str:
        return self.address

    def to_json(self) -> dict[str, str]:
        return {"address": self.address}


PayoutMethod = SepaMethod | PaypalMethod | EthMethod


def method_from_json(kind: str, value: Any) -> PayoutMethod:
    """A stored method (``to_json``'s shape); ``InvalidPayoutMethodError`` if it is not one."""
    if not isinstance(value, dict):
        raise _refuse(str(kind), "a stored method is an object")
    if kind == SEPA and set(value) in ({"holder", "iban"}, {"holder", "iban", "bic"}):
        return SepaMethod.parse(value["holder"], value["iban"], value.get("bic"))
    if kind == PAYPAL and set(value) in ({"email"}, {"phone"}):
        return PaypalMethod.parse(next(iter(value.values())))
    if kind == ETH and set(value) == {"address"}:
        return EthMethod.parse(value["address"])
    raise _refuse(str(kind), f"unknown kind or fields {sorted(value)} (kinds: {', '.join(KINDS)})")


def legacy_method(profile: Profile) -> PayoutMethod | None:
    """The old free-text handle read as a method: an IBAN, a PayPal id, an address; else None.

    An address without a checksum is taken as the address it spells (old profiles were never
    asked for one); a holder-less IBAN takes the display name as the account holder.
    """
    handle = (profile.payout_handle or "").strip()
    if is_hex_address(handle):
        return EthMethod(to_checksum_address(handle) if not is_checksum_address(handle) else handle)
    for attempt in (
        lambda: SepaMethod.parse(profile.display_name, handle),
        lambda: PaypalMethod.parse(handle),
    ):
        try:
            return attempt()
        except InvalidPayoutMethodError:
            continue
    return None
