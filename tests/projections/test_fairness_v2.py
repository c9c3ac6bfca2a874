"""cocred-fair v2 against the attacks of issue 16, in simulated campaigns (tests/projections/sim).

Gain = the attackers' pool share with the attack / their share without it (their entries
still earn honest votes). The figures are printed (``pytest -s``) and checked; the whole
table is ``bench/fairness.py``.
"""

from __future__ import annotations

import pytest

from projections.explain import explain
from tests.projections.sim.attacks import ATTACKS, Attack
from tests.projections.sim.measure import attack_gains, honest_outcome
from tests.projections.sim.world import SHAPES, honest


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
        assert attack_gains(shape, seed, Attack(kind, size, camouflage, seed))["v2"].gain <= 1.5


@pytest.mark.parametrize("shape", SHAPES)
def test_an_honest_community_is_paid_about_as_under_v1_and_ranked_as_well(shape: str) -> None:
    outcome = honest_outcome(shape, 1)
    print(shape, outcome)
    assert outcome.rank_v2 >= outcome.rank_v1 - 0.03
    assert outcome.mean_diff <= 0.10


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
