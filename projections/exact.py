"""Exact numbers: fractions read from and written to text, minor units as decimals.

Every credit, share and weight is a ``fractions.Fraction``; money is an ``int`` of
minor units. Nothing here (or anywhere in the projections) touches ``float``.
A fraction is written ``"p/q"`` in lowest terms, always with the slash, so its
text is canonical: equal values give equal bytes.
"""

from __future__ import annotations

import re
from fractions import Fraction

_FRACTION = re.compile(r"^([0-9]{1,30})/([0-9]{1,30})$")

# ISO 4217 currencies whose minor unit is not 1/100 (the default).
_ZERO_DIGITS = ("BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX")
_ZERO_DIGITS_TOO = ("UYI", "VND", "VUV", "XAF", "XOF", "XPF")
_THREE_DIGITS = ("BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND")
_EXPONENTS = {
    **dict.fromkeys(_ZERO_DIGITS + _ZERO_DIGITS_TOO, 0),
    **dict.fromkeys(_THREE_DIGITS, 3),
}


def parse_fraction(text: object, what: str) -> Fraction:
    """Read ``"p/q"`` (non-negative integers, q > 0, reduced or not); ``ValueError`` otherwise.

    The domain validates event bodies before they are appended; a malformed
    fraction here means the contract was broken, so the caller lets the error
    stop the projection rather than guess.
    """
    match = _FRACTION.match(text) if isinstance(text, str) else None
    if match is None or int(match.group(2)) == 0:
        raise ValueError(f"{what} must be a fraction 'p/q' with q > 0, got {text!r}")
    return Fraction(int(match.group(1)), int(match.group(2)))


def fraction_text(value: Fraction) -> str:
    """The canonical text of a fraction: ``"p/q"`` in lowest terms (``"3/1"`` for 3)."""
    return f"{value.numerator}/{value.denominator}"


def from_text(text: str) -> Fraction:
    """Inverse of ``fraction_text`` (for values this package wrote itself)."""
    numerator, denominator = text.split("/")
    return Fraction(int(numerator), int(denominator))


def currency_exponent(currency: str) -> int:
    """Digits after the decimal point in the currency's major unit (2 unless listed)."""
    return _EXPONENTS.get(currency.upper(), 2)


def major_units(amount: int, currency: str) -> str:
    """Minor units as an exact decimal string in major units: 1234 EUR -> ``"12.34"``."""
    exponent = currency_exponent(currency)
    sign = "-" if amount < 0 else ""
    whole, part = divmod(abs(amount), 10**exponent)
    return f"{sign}{whole}.{part:0{exponent}d}" if exponent else f"{sign}{whole}"


def percent_text(value: Fraction, digits: int = 2) -> str:
    """A fraction as a percentage rounded half-up to ``digits`` places, for people to read."""
    scaled = value * 100 * 10**digits
    rounded = (scaled.numerator * 2 + scaled.denominator) // (2 * scaled.denominator)
    whole, part = divmod(rounded, 10**digits)
    return f"{whole}.{part:0{digits}d}%" if digits else f"{whole}%"
