"""The reward policy a campaign is opened with (``CampaignOpened.body.policy``, version 1).

The domain only validates its shape and bounds and keeps it with the campaign; the
projections define what each number does. ``Policy.parse`` raises
``MalformedBodyError`` naming the field.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from types import MappingProxyType
from typing import Any

from domain.values import Fact, expect_keys, fraction, integer, malformed
from domain.vocabulary import DEFAULT_POLICY as DEFAULT_POLICY  # re-exported: the CLI reads it here
from domain.vocabulary import ENGAGEMENT_KINDS, POLICY_NAME, POLICY_VERSION

_FIELDS = frozenset(
    {
        "name",
        "version",
        "weights",
        "reuse_weight",
        "remix_default_share",
        "support_threshold",
        "per_person_cap",
        "min_payout",
        "pairwise_bound",
    }
)


@dataclass(frozen=True, slots=True)
class Policy:
    """A validated policy: exact numbers, plus the JSON it was read from."""

    name: str
    version: int
    weights: Mapping[str, int]
    reuse_weight: int
    remix_default_share: Fraction
    support_threshold: int
    per_person_cap: Fraction | None
    min_payout: int
    pairwise_bound: Fraction
    raw: Mapping[str, Any]

    @classmethod
    def parse(cls, ev: Fact, value: Any) -> Policy:
        """Validate ``value`` as the policy of the ``CampaignOpened`` event ``ev``."""
        if not isinstance(value, dict):
            raise malformed(ev, "field 'policy' must be an object")
        policy = expect_keys(ev, _FIELDS, obj=value, where=" in policy")
        if policy["name"] != POLICY_NAME or policy["version"] != POLICY_VERSION:
            raise malformed(
                ev,
                f"policy must be {{name: {POLICY_NAME!r}, version: {POLICY_VERSION}}}, got "
                f"{policy['name']!r} version {policy['version']!r}",
            )
        weights = policy["weights"]
        if not isinstance(weights, dict) or set(weights) != set(ENGAGEMENT_KINDS):
            raise malformed(ev, f"policy.weights must have exactly {', '.join(ENGAGEMENT_KINDS)}")
        for kind in ENGAGEMENT_KINDS:
            integer(ev, f"policy.weights.{kind}", weights[kind])
        cap = policy["per_person_cap"]
        one = Fraction(1)
        return cls(
            name=POLICY_NAME,
            version=POLICY_VERSION,
            weights=MappingProxyType(dict(weights)),
            reuse_weight=integer(ev, "policy.reuse_weight", policy["reuse_weight"]),
            remix_default_share=fraction(
                ev,
                "policy.remix_default_share",
                policy["remix_default_share"],
                Fraction(0),
                one,
                open_low=False,
                open_high=True,
            ),
            support_threshold=integer(ev, "policy.support_threshold", policy["support_threshold"]),
            per_person_cap=None
            if cap is None
            else fraction(
                ev, "policy.per_person_cap", cap, Fraction(0), one, open_low=True, open_high=False
            ),
            min_payout=integer(ev, "policy.min_payout", policy["min_payout"]),
            pairwise_bound=fraction(
                ev,
                "policy.pairwise_bound",
                policy["pairwise_bound"],
                Fraction(0),
                one,
                open_low=True,
                open_high=False,
            ),
            raw=MappingProxyType(value),
        )
