"""New campaigns are opened with cocred-fair v2; v1 bodies stay valid; a bad v2 body is refused."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import pytest

from domain.errors import MalformedBodyError
from domain.policy import DEFAULT_POLICY_V1, DEFAULT_POLICY_V2, Policy


@dataclass(frozen=True)
class Opened:
    type: str = "CampaignOpened"
    actor: str = "brand"
    seq: int = 2
    campaign: str | None = None
    body: Any = None


def test_new_campaigns_default_to_cocred_fair_v2_and_v1_stays_valid() -> None:
    v2 = Policy.parse(Opened(), dict(DEFAULT_POLICY_V2))
    assert (v2.version, v2.weight_budget, v2.contribution_cap) == (2, 20, 7)
    assert v2.dependent_bound == Fraction(1, 2) and v2.pairwise_bound is None
    v1 = Policy.parse(Opened(), dict(DEFAULT_POLICY_V1))
    assert (v1.version, v1.pairwise_bound, v1.weight_budget) == (1, Fraction(1, 2), None)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"weight_budget": 0}, "field 'policy.weight_budget' must be an integer of at least 1"),
        (
            {"dependent_bound": "3/2"},
            "field 'policy.dependent_bound' must be a fraction \"p/q\" in [0, 1]",
        ),
        ({"pairwise_bound": "1/2"}, "pairwise_bound"),
    ],
)
def test_a_malformed_v2_policy_is_refused_with_the_field_named(
    change: dict[str, Any], message: str
) -> None:
    with pytest.raises(MalformedBodyError) as refused:
        Policy.parse(Opened(), {**DEFAULT_POLICY_V2, **change})
    assert refused.value.code == "MalformedBody"
    assert message in str(refused.value.detail)
