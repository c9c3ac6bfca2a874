"""Campaigns opened with cocred-fair v1 keep byte-identical payouts forever (issue 16).

New campaigns open with v2 (``domain.vocabulary.DEFAULT_POLICY``), but the policy is in
the log: a campaign whose ``CampaignOpened`` names version 1 is computed by v1, and its
export, the bytes a settlement's hash covers, must never change. The hash below was
computed before v2 became the default (on the code of v1 as it was then) and is pinned:
a change to any v1 rule, to the export format or to the order of anything fails here.
"""

from __future__ import annotations

from domain.vocabulary import DEFAULT_POLICY_V1
from projections.export import settlement_of
from tests.projections.builders import Script, campaign_of
from tests.projections.lively import demo

PINNED_V1_EXPORT_SHA256 = "9f06d1b0787dc9bfcd69a69f28206b280f0c9961f6cf09765def76ec35b6625b"


def test_a_v1_campaign_export_keeps_its_pinned_hash() -> None:
    script = Script("pinned-v1", policy=dict(DEFAULT_POLICY_V1))
    demo(script, members=60, contributions=90, votes=900, ring=6, seed=16)
    script.close()
    settlement = settlement_of(campaign_of(script))
    assert settlement.policy_version == 1
    assert settlement.sha256 == PINNED_V1_EXPORT_SHA256
