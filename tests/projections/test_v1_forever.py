"""Campaigns opened with cocred-fair v1 (and v2 before its safeguard defaults) keep
byte-identical payouts forever (issues 16, 19).

New campaigns open with v2 (``domain.vocabulary.DEFAULT_POLICY``), but the policy is in
the log: a campaign whose ``CampaignOpened`` names version 1 is computed by v1, and its
export, the bytes a settlement's hash covers, must never change. The hash below was
computed before v2 became the default (on the code of v1 as it was then) and is pinned:
a change to any v1 rule, to the export format or to the order of anything fails here.
"""

from __future__ import annotations

from typing import Any

import pytest

from domain.vocabulary import DEFAULT_POLICY_V1
from projections.export import settlement_of
from tests.projections.builders import Script, campaign_of
from tests.projections.lively import demo

PINNED_V1_EXPORT_SHA256 = "9f06d1b0787dc9bfcd69a69f28206b280f0c9961f6cf09765def76ec35b6625b"


# The default v2 policy as it was before review, appeal_window and comment_threads became
# defaults (issue 19), written out so that it never moves with DEFAULT_POLICY_V2; the hash was
# computed on the code before that change. A v2 campaign opened then keeps its payouts.
V2_BEFORE_SAFEGUARDS = {
    "name": "cocred-fair",
    "version": 2,
    "weights": {"support": 1, "comment": 3, "save": 2, "share": 4},
    "reuse_weight": 20,
    "remix_default_share": "3/10",
    "support_threshold": 0,
    "per_person_cap": None,
    "min_payout": 0,
    "objection_window": 604800,
    "weight_budget": 20,
    "contribution_cap": 7,
    "dependent_bound": "1/2",
    "coauthor_consent": True,
}
PINNED_V2_EXPORT_SHA256 = "0b015ef4c3a66b340edc20fc1d53a4ca56e36cbf749309615571855d58491e21"


@pytest.mark.parametrize(
    ("policy", "version", "pinned"),
    [
        (dict(DEFAULT_POLICY_V1), 1, PINNED_V1_EXPORT_SHA256),
        (V2_BEFORE_SAFEGUARDS, 2, PINNED_V2_EXPORT_SHA256),
    ],
    ids=["v1", "v2-before-safeguards"],
)
def test_a_campaign_export_keeps_its_pinned_hash(
    policy: dict[str, Any], version: int, pinned: str
) -> None:
    script = Script(f"pinned-v{version}", policy=dict(policy))
    demo(script, members=60, contributions=90, votes=900, ring=6, seed=16)
    script.close()
    settlement = settlement_of(campaign_of(script))
    assert settlement.policy_version == version
    assert settlement.sha256 == pinned
