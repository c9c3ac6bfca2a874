"""The projections read the log in the domain's words: one vocabulary, nothing typed twice."""

from __future__ import annotations

import ast
from pathlib import Path

from domain import vocabulary
from domain.demo.story import WORK_KINDS
from domain.policy import Policy
from domain.rules import EVENT_TYPES
from domain.values import Recorded
from domain.vocabulary import (
    CAMPAIGN_EVENT_TYPES,
    CAMPAIGN_OPENED,
    CONTRIBUTION_KINDS,
    DEFAULT_POLICY,
    DEFAULT_POLICY_V1,
    DEFAULT_POLICY_V2,
    ENGAGEMENT_KINDS,
    MEMBER_ERASED,
    MODERATION_OUTCOMES,
    PAYOUT_EVENT_TYPES,
    PROFILE_COMMITTED,
)
from projections.campaign import CampaignState
from projections.fair_v2 import parse_policy_v2
from projections.policy import parse_policy
from projections.state import CAMPAIGN_TYPES
from projections.tables import Tables

ROOT = Path(__file__).resolve().parents[2]
WORDS = {
    value
    for name, value in vars(vocabulary).items()
    if name.isupper() and isinstance(value, str) and name not in ("OPEN",)
}


def _literals(path: Path) -> list[tuple[int, str]]:
    """The string constants of a module that are not docstrings (line, text)."""
    tree = ast.parse(path.read_text())
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in docstrings
    ]


# The SQL schema spells its column names out on purpose (it is a stored format that
# must not move when a word is added); the test below ties those columns to the words.
SCHEMA = "tables.py"


def test_no_projection_module_types_out_a_word_of_the_event_contract() -> None:
    found = {
        f"{path.name}:{line}": text
        for path in sorted((ROOT / "projections").glob("*.py"))
        if path.name != SCHEMA
        for line, text in _literals(path)
        if text in WORDS
    }
    assert found == {}, "import these from domain.vocabulary"


def test_the_read_model_columns_name_every_vote_kind_and_moderation_outcome() -> None:
    tables = Tables()
    members = set(tables.members.columns.keys())
    contributions = set(tables.contributions.columns.keys())
    assert {f"received_{kind}" for kind in ENGAGEMENT_KINDS} <= members
    assert set(MODERATION_OUTCOMES) <= members
    assert {f"votes_{kind}" for kind in ENGAGEMENT_KINDS} <= contributions


def test_the_campaign_event_types_are_every_rule_but_the_profile_events() -> None:
    # The payout lifecycle after the close is not read by the reward projections (only its
    # settlement is); projections/payments.py reads it.
    assert EVENT_TYPES - {PROFILE_COMMITTED, MEMBER_ERASED} == (
        CAMPAIGN_EVENT_TYPES | PAYOUT_EVENT_TYPES
    )
    assert CAMPAIGN_TYPES is CAMPAIGN_EVENT_TYPES


def test_a_campaign_state_handles_every_campaign_event_after_the_opening() -> None:
    opened = {
        "title": "t",
        "currency": "EUR",
        "membership": "open",
        "starts_at": "2026-01-01T00:00:00Z",
        "ends_at": "2026-02-01T00:00:00Z",
        "pool": 0,
        "policy": dict(DEFAULT_POLICY),
    }
    state = CampaignState("c-1", 0, "brand", opened)
    assert set(state._handlers) == CAMPAIGN_EVENT_TYPES - {CAMPAIGN_OPENED}


def test_new_campaigns_default_to_v2() -> None:
    assert DEFAULT_POLICY is DEFAULT_POLICY_V2 and DEFAULT_POLICY["version"] == 2


def test_the_v2_default_policy_parses_the_same_in_the_domain_and_the_projections() -> None:
    opened = Recorded(CAMPAIGN_OPENED, "brand", 1, "2026-01-01T00:00:00Z", "c-1", {})
    checked = Policy.parse(opened, dict(DEFAULT_POLICY_V2))
    computed = parse_policy_v2(DEFAULT_POLICY_V2)
    assert dict(computed.weights) == dict(checked.weights)
    assert computed.ref == {"name": checked.name, "version": checked.version}
    assert (computed.weight_budget, computed.contribution_cap, computed.dependent_bound) == (
        checked.weight_budget,
        checked.contribution_cap,
        checked.dependent_bound,
    )


def test_the_v1_default_policy_parses_the_same_in_the_domain_and_the_projections() -> None:
    opened = Recorded(CAMPAIGN_OPENED, "brand", 1, "2026-01-01T00:00:00Z", "c-1", {})
    checked = Policy.parse(opened, dict(DEFAULT_POLICY_V1))
    computed = parse_policy(DEFAULT_POLICY_V1)
    assert tuple(checked.weights) == ENGAGEMENT_KINDS
    assert dict(computed.weights) == dict(checked.weights)
    assert computed.ref == {"name": checked.name, "version": checked.version}
    assert (computed.reuse_weight, computed.remix_default_share, computed.pairwise_bound) == (
        checked.reuse_weight,
        checked.remix_default_share,
        checked.pairwise_bound,
    )


def test_the_demo_draws_from_exactly_the_contribution_kinds() -> None:
    assert sorted(WORK_KINDS) == sorted(CONTRIBUTION_KINDS)
