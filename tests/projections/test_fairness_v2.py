"""cocred-fair v2 against the attacks of issue 16, in simulated campaigns (tests/projections/sim).

Gain = the attackers' pool share with the attack / their share without it (their entries
still earn honest votes). The figures are printed (``pytest -s``) and checked; the whole
table is ``bench/fairness.py``.
"""

from __future__ import annotations

from fractions import Fraction

import pytest

from domain.policy import DEFAULT_POLICY_V2
from projections.explain import explain
from tests.projections.sim.attacks import ATTACKS, Attack
from tests.projections.sim.measure import attack_gains, honest_outcome
from tests.projections.sim.world import BRAND, CAMPAIGN, EARLIER, SHAPES, World, honest


@pytest.mark.parametrize(("kind", "size"), [("star", 50), ("stack", 20), ("circle", 20)])
def test_v1_gives_the_issue_attacks_more_than_one_and_a_half_times_their_honest_share(
    kind: str, size: int
) -> None:
    """Documents v1's limit (issue 16's finding); v2 exists because of it."""
    gains = attack_gains("lively", 1, Attack(kind, size))
    print(kind, size, {m: round(g.gain, 2) for m, g in gains.items()})
    assert gains["v1"].gain > 1.5
    assert gains["v2"].gain <= 1.5


@pytest.mark.parametrize("camouflage", [0, 3])
@pytest.mark.parametrize("size", [5, 50])
@pytest.mark.parametrize("kind", ATTACKS)
def test_no_attack_gains_more_than_one_and_a_half_times_under_v2(
    kind: str, size: int, camouflage: int
) -> None:
    gains = attack_gains("lively", 1, Attack(kind, size, camouflage))
    print(kind, size, camouflage, {m: round(g.gain, 2) for m, g in gains.items()})
    assert gains["v2"].gain <= 1.5


@pytest.mark.slow
@pytest.mark.parametrize("seed", [2, 3])
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("kind", ATTACKS)
def test_no_attack_gains_more_than_one_and_a_half_times_in_any_community(
    kind: str, shape: str, seed: int
) -> None:
    for size, camouflage in ((10, 1), (100, 0)):
        gains = attack_gains(shape, seed, Attack(kind, size, camouflage, seed))
        print(kind, size, camouflage, shape, seed, {m: round(g.gain, 2) for m, g in gains.items()})
        assert gains["v2"].gain <= 1.5


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("shape", SHAPES)
def test_an_honest_community_is_paid_about_as_under_v1_and_ranked_as_well(
    shape: str, seed: int
) -> None:
    """What holds of the issue's honest-community targets (RULES.md v2, Measured).

    Most members paid >= 1 % of the pool get within 10 % of their v1 payout; the few who
    do not (at most 2 of 20-35 per community) are members whose support from members
    without standing happened to exceed the dependent bound (V7), which is the bound that
    stops sybils. Rank correlation with the hidden quality stays within 0.02 of v1's.
    """
    outcome = honest_outcome(shape, seed)
    print(shape, seed, outcome)
    assert outcome.rank_v2 >= outcome.rank_v1 - 0.02
    assert outcome.mean_diff <= 0.04
    assert outcome.outside <= 2
    assert outcome.outside * 10 <= outcome.paid


@pytest.mark.parametrize(("shape", "seed"), [("lively", 1), ("friends", 2), ("stars", 3)])
def test_an_honest_community_without_a_bounded_member_is_paid_within_ten_percent_of_v1(
    shape: str, seed: int
) -> None:
    outcome = honest_outcome(shape, seed)
    assert outcome.outside == 0 and outcome.max_diff <= 0.10
    assert outcome.rank_v2 >= outcome.rank_v1


def test_a_laundering_voter_is_told_which_votes_came_back_through_which_remix() -> None:
    attack = Attack("launder", 5)
    world, voting = honest("lively", 1, prepare=attack.prepare)
    attack.strike(world, voting)
    state = world.state()
    found = explain(state, "x0", 0)
    came_back = [s for s in found.discounts if "came back to your own work through remix" in s]
    assert came_back and came_back[0].startswith("1 of your votes")
    assert "you have no standing in this campaign yet" in " ".join(found.discounts)
    assert sum(item.credit for item in found.items) == found.credit
    assert "discount: " in found.to_text()


def test_the_dependent_bound_is_per_recipient_over_all_their_work() -> None:
    """V7: a piece that only newcomers voted for still earns, within its author's bound."""
    world = World(dict(DEFAULT_POLICY_V2))
    world.open(EARLIER, world.policy)
    for name in ("s1", "s2", "s3"):
        world.join(name, EARLIER)
        world.submit(name, 1.0, campaign=EARLIER)
    world.emit("CampaignClosed", BRAND, {}, EARLIER)
    world.open(CAMPAIGN, world.policy)
    for name in ("s1", "s2", "s3", "n1", "ana"):
        world.join(name)
    liked, other = world.submit("ana", 1.0), world.submit("ana", 1.0)
    for seed in ("s1", "s2", "s3"):
        world.vote(seed, liked, "share")  # 12 of independent flow to ana
    world.vote("n1", other, "share")  # 4 of dependent flow, within 1/2 x 12
    scorer = world.state().require_scorer()
    assert scorer.nodes[other].score == 4 and scorer.nodes[liked].score == 12
    assert scorer.result.member_bound["ana"] == 1
    for newcomer in ("n2", "n3", "n4"):  # 16 of dependent flow: 6 of it counts
        world.join(newcomer)
        world.vote(newcomer, other, "share")
    state = world.state()
    scorer = state.require_scorer()
    assert scorer.result.member_bound["ana"] == Fraction(6, 16)
    assert scorer.nodes[other].score == 6 and scorer.nodes[liked].score == 12
    found = explain(state, "ana", 0)
    assert (
        "the dependent support your work received, 16/1, counted only up to 1/2 x its "
        "independent support 12/1 (x 3/8)"
    ) in found.discounts
