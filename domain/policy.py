"""The reward policy a campaign is opened with (``CampaignOpened.body.policy``, version 1 or 2).

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
from domain.vocabulary import DEFAULT_POLICY_V1 as DEFAULT_POLICY_V1
from domain.vocabulary import DEFAULT_POLICY_V2 as DEFAULT_POLICY_V2
from domain.vocabulary import ENGAGEMENT_KINDS, POLICY_NAME, POLICY_VERSION, POLICY_VERSION_2

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

# Optional in both versions: the payout objection window in seconds (domain/EVENTS.md, payouts).
# A policy without it is one written before the field existed: its campaign may settle
# without a proposal (the old logs replay unchanged).
MAX_OBJECTION_WINDOW = 90 * 24 * 3600

# cocred-fair v2 (projections/RULES.md, v2) replaces v1's pairwise_bound by three fields.
# Optional in both versions: a cap on one member's submissions to the campaign per UTC
# day (domain.membership.check_submission_cap; absent or null = no cap), and the payout
# objection window (above).
# Optional in both versions too: ``coauthor_consent``; ``comment_threads`` (true: a comment
# vote must name the text of a comment its voter posted on the piece; domain/EVENTS.md,
# comment threads); and (issue 19, review phase and appeals) ``review`` (true: a close while
# pieces await review must say what happens to them, ``CampaignClosed.unreviewed``) and
# ``appeal_window`` (seconds an author has to appeal a rejection or removal; absent: no
# appeals). Absent, each keeps the behaviour of the campaigns opened before it.
OPTIONAL = (
    "submissions_per_day",
    "objection_window",
    "coauthor_consent",
    "review",
    "appeal_window",
    "comment_threads",
)
MAX_APPEAL_WINDOW = 90 * 24 * 3600
_FIELDS_2 = (_FIELDS - {"pairwise_bound"}) | {
    "weight_budget",
    "contribution_cap",
    "dependent_bound",
}


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
    pairwise_bound: Fraction | None  # v1 only
    raw: Mapping[str, Any]
    weight_budget: int | None = None  # v2 only
    contribution_cap: int | None = None  # v2 only
    dependent_bound: Fraction | None = None  # v2 only
    submissions_per_day: int | None = None  # optional in both
    objection_window: int | None = None  # seconds; None: a policy from before the field
    coauthor_consent: bool = False  # absent (a policy from before the field): no consent asked
    review: bool = False  # absent: a close never asks what happens to unreviewed pieces
    appeal_window: int | None = None  # seconds; None (absent): no appeals
    comment_threads: bool = False  # absent (a policy from before the field): votes name any text

    @property
    def window_seconds(self) -> int:
        """The objection window a proposal gets (0 for a policy without the field)."""
        return self.objection_window or 0

    @classmethod
    def parse(cls, ev: Fact, value: Any) -> Policy:
        """Validate ``value`` as the policy of the ``CampaignOpened`` event ``ev``."""
        if not isinstance(value, dict):
            raise malformed(ev, "field 'policy' must be an object")
        version = value.get("version")
        if (
            value.get("name") == POLICY_NAME
            and version == POLICY_VERSION_2
            and type(version) is int
        ):
            return cls._parse_v2(ev, value)
        policy = expect_keys(ev, _FIELDS, OPTIONAL, obj=value, where=" in policy")
        if policy["name"] != POLICY_NAME or policy["version"] != POLICY_VERSION:
            raise malformed(
                ev,
                f"policy must be {{name: {POLICY_NAME!r}, version: {POLICY_VERSION} or "
                f"{POLICY_VERSION_2}}}, got {policy['name']!r} version {policy['version']!r}",
            )
        weights = policy["weights"]
        if not isinstance(weights, dict) or set(weights) != set(ENGAGEMENT_KINDS):
            raise malformed(ev, f"policy.weights must have exactly {', '.join(ENGAGEMENT_KINDS)}")
        for kind in ENGAGEMENT_KINDS:
            integer(ev, f"policy.weights.{kind}", weights[kind])
        cap = policy["per_person_cap"]
        daily = policy.get("submissions_per_day")
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
            submissions_per_day=None
            if daily is None
            else integer(ev, "policy.submissions_per_day", daily, 1),
            objection_window=_window(ev, policy),
            coauthor_consent=_flag(ev, policy, "coauthor_consent"),
            review=_flag(ev, policy, "review"),
            appeal_window=_seconds(ev, policy, "appeal_window", MAX_APPEAL_WINDOW),
            comment_threads=_flag(ev, policy, "comment_threads"),
        )

    @classmethod
    def _parse_v2(cls, ev: Fact, value: dict[str, Any]) -> Policy:
        """Validate a cocred-fair v2 body: v1's fields but ``pairwise_bound``, plus
        ``weight_budget`` and ``contribution_cap`` (integers >= 1) and ``dependent_bound``
        (a fraction in [0, 1])."""
        body = expect_keys(ev, _FIELDS_2, OPTIONAL, obj=value, where=" in policy")
        # v1's parse below reads the shared optional fields; the objection window is read here.
        extra = ("weight_budget", "contribution_cap", "dependent_bound", "objection_window")
        shared = {k: v for k, v in body.items() if k not in extra}
        v1 = cls.parse(ev, {**shared, "version": POLICY_VERSION, "pairwise_bound": "1/2"})
        return cls(
            name=POLICY_NAME,
            version=POLICY_VERSION_2,
            weights=v1.weights,
            reuse_weight=v1.reuse_weight,
            remix_default_share=v1.remix_default_share,
            support_threshold=v1.support_threshold,
            per_person_cap=v1.per_person_cap,
            min_payout=v1.min_payout,
            pairwise_bound=None,
            raw=MappingProxyType(value),
            submissions_per_day=v1.submissions_per_day,
            objection_window=_window(ev, body),
            coauthor_consent=v1.coauthor_consent,
            review=v1.review,
            appeal_window=v1.appeal_window,
            comment_threads=v1.comment_threads,
            weight_budget=integer(ev, "policy.weight_budget", body["weight_budget"], 1),
            contribution_cap=integer(ev, "policy.contribution_cap", body["contribution_cap"], 1),
            dependent_bound=fraction(
                ev,
                "policy.dependent_bound",
                body["dependent_bound"],
                Fraction(0),
                Fraction(1),
                open_low=False,
                open_high=False,
            ),
        )


def _window(ev: Fact, policy: Mapping[str, Any]) -> int | None:
    """``objection_window`` (0 to 90 days in seconds), or None when the policy has none."""
    return _seconds(ev, policy, "objection_window", MAX_OBJECTION_WINDOW)


def _seconds(ev: Fact, policy: Mapping[str, Any], field: str, most: int) -> int | None:
    """``policy[field]``: seconds from 0 to ``most``, or None when the policy has none."""
    if field not in policy:
        return None
    value = policy[field]
    if type(value) is not int or not 0 <= value <= most:
        raise malformed(
            ev,
            f"field 'policy.{field}' must be seconds from 0 to {most} "
            f"({most // 86400} days), got {value!r}",
        )
    return value


def _flag(ev: Fact, policy: Mapping[str, Any], field: str) -> bool:
    """``policy[field]`` (true or false); false when the policy has none."""
    value = policy.get(field, False)
    if type(value) is not bool:
        raise malformed(ev, f"field 'policy.{field}' must be true or false, got {value!r}")
    return value
