"""The body fields every cocred-fair version shares, parsed exactly.

v1 (``projections.policy``) and v2 (``projections.fair_v2``) read the same six
fields the same way and differ only in the fields they add; both parse those
six here, so a change to how a shared field is read reaches both versions. So is
the optional ``coauthor_consent`` (absent = false: a policy from before the field,
whose named co-authors earn at once).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from projections.exact import parse_fraction


@dataclass(frozen=True, slots=True)
class SharedFields:
    """The fields every cocred-fair version has; each version's policy adds its own."""

    weights: tuple[tuple[str, int], ...]
    reuse_weight: int
    remix_default_share: Fraction
    support_threshold: int
    per_person_cap: Fraction | None
    min_payout: int
    # True: a contribution naming other authors earns nothing until each accepted it, and
    # nothing ever once one declined (domain/EVENTS.md, co-author consent).
    coauthor_consent: bool


def policy_int(body: Mapping[str, Any], key: str) -> int:
    """``body[key]`` as an integer >= 0; ``KeyError`` if absent, ``ValueError`` otherwise."""
    value = body[key]
    if type(value) is not int or value < 0:
        raise ValueError(f"policy field {key!r} must be an integer >= 0, got {value!r}")
    return value


def parse_shared_fields(body: Mapping[str, Any]) -> dict[str, Any]:
    """The shared fields of a policy body, as keyword arguments of a ``SharedFields`` subclass.

    Raises ``ValueError``/``KeyError`` when one is broken.
    """
    weights = body["weights"]
    if not isinstance(weights, Mapping):
        raise ValueError("policy field 'weights' must be an object")
    cap = body["per_person_cap"]
    return {
        "weights": tuple(sorted((str(k), policy_int(weights, k)) for k in weights)),
        "reuse_weight": policy_int(body, "reuse_weight"),
        "remix_default_share": parse_fraction(body["remix_default_share"], "remix_default_share"),
        "support_threshold": policy_int(body, "support_threshold"),
        "per_person_cap": None if cap is None else parse_fraction(cap, "per_person_cap"),
        "min_payout": policy_int(body, "min_payout"),
        "coauthor_consent": _flag(body, "coauthor_consent"),
    }


def _flag(body: Mapping[str, Any], key: str) -> bool:
    """``body[key]`` as true or false, false when absent; ``ValueError`` otherwise."""
    value = body.get(key, False)
    if type(value) is not bool:
        raise ValueError(f"policy field {key!r} must be true or false, got {value!r}")
    return value
