"""Properties over random campaigns: incremental equals rebuild, cents add up, credit is kept.

Each example plays a random campaign (members submit, remix, co-author, vote,
withdraw, get blocked and unblocked, moderated, licensed and reused, plus a
small ring) under a random cocred-fair policy, then checks:

- a live state refreshed at random points equals a bulk replay, row for row;
- every member's explanation: the items' credit adds up to the member's credit,
  their exact amounts to the base amount, their cents to the payout;
- the payouts add up to the pool, and credit is conserved (members' credit,
  blocked ones included, equals the sum of the contributions' scores).
"""

from __future__ import annotations

import random
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from projections.explain import explain
from projections.export import settlement_of
from projections.payouts import split_pool
from projections.rows import collect
from projections.state import LogState
from tests.projections.builders import KINDS, Script, replayed

policies = st.fixed_dictionaries(
    {
        "remix_default_share": st.sampled_from(["3/10", "0/1", "1/2", "2/7"]),
        "support_threshold": st.sampled_from([0, 0, 2, 5]),
        "per_person_cap": st.sampled_from([None, None, "1/4", "1/10"]),
        "min_payout": st.sampled_from([0, 0, 50, 2000]),
        "pairwise_bound": st.sampled_from(["1/2", "1/1", "1/5"]),
        "weights": st.sampled_from(
            [
                {"support": 1, "comment": 3, "save": 2, "share": 4},
                {"support": 1, "comment": 0, "save": 2, "share": 5},
            ]
        ),
    }
)


def play(seed: int, steps: int, policy: dict) -> Script:
    """A random campaign that keeps to the domain's rules."""
    rnd = random.Random(seed)
    script = Script(seed=seed, pool=rnd.choice([0, 1, 999, 100_000]), policy=policy)
    names = [f"m{i}" for i in range(rnd.randint(3, 9))]
    script.join(*names)
    blocked: set[str] = set()
    works: list[tuple[str, set[str]]] = []
    removed: set[str] = set()
    votes: dict[tuple[str, str, str], None] = {}
    if rnd.random() < 0.5:
        script.ring(rnd.randint(2, 4), kinds=rnd.sample(KINDS, rnd.randint(1, 4)))
    for _ in range(steps):
        roll = rnd.random()
        active = [n for n in names if n not in blocked]
        live_works = [w for w in works if w[0] not in removed]
        if roll < 0.25 or not live_works:
            if not active:
                continue
            author = rnd.choice(active)
            authors = None
            if rnd.random() < 0.2 and len(active) > 1:
                other = rnd.choice([n for n in active if n != author])
                authors = [(author, 55), (other, 45)]
            sources = rnd.sample(live_works, min(len(live_works), rnd.choice([0, 0, 1, 2])))
            derived = [(w, rnd.choice([None, "1/10", "1/3"])) for w, _ in sources]
            if len(derived) == 2:
                derived = [(derived[0][0], "1/5"), (derived[1][0], "1/4")]
            work = script.submit(author, derived_from=derived, authors=authors)
            works.append((work, {a for a, _ in authors} if authors else {author}))
        elif roll < 0.7:
            voter = rnd.choice(active) if active else None
            work, authors = rnd.choice(live_works)
            kind = rnd.choice(KINDS)
            if voter and voter not in authors and (voter, work, kind) not in votes:
                votes[(voter, work, kind)] = None
                script.vote(voter, work, kind)
        elif roll < 0.78 and votes:
            voter, work, kind = rnd.choice(list(votes))
            if voter not in blocked and work not in removed:
                del votes[(voter, work, kind)]
                script.withdraw(voter, work, kind)
        elif roll < 0.84:
            name = rnd.choice(names)
            if name in blocked:
                blocked.discard(name)
                script.unblock(name)
            else:
                blocked.add(name)
                script.block(name)
        elif roll < 0.92:
            work, _ = rnd.choice(live_works)
            outcome = rnd.choice(["removed", "rejected", "accepted"])
            script.moderate(work, outcome)
            if outcome == "removed":
                removed.add(work)
        else:
            work, authors = rnd.choice(live_works)
            if not authors & blocked:
                licence = script.grant(work, sorted(authors), name=f"l{script.ticks}")
                script.reuse(work, licence, territory=rnd.choice(["FR", "DE"]))
    if rnd.random() < 0.5:
        script.fund(rnd.randint(1, 5000))
    return script


def rows(state: LogState) -> dict:
    return {name: collect(campaign, full=True) for name, campaign in state.campaigns.items()}


@settings(max_examples=150, deadline=None)
@given(seed=st.integers(0, 2**32), steps=st.integers(5, 70), policy=policies, data=st.data())
def test_an_incremental_state_equals_a_rebuild(seed, steps, policy, data) -> None:
    records = play(seed, steps, policy).records()
    live = LogState()
    live.go_live()
    for record in records:
        live.apply(record)
        if data.draw(st.booleans(), label="refresh here"):
            live.refresh()
    live.refresh()
    rebuilt = replayed(records)
    incremental, fresh = rows(live), rows(rebuilt)
    assert incremental.keys() == fresh.keys()
    for name in fresh:
        assert incremental[name].replace == fresh[name].replace
        assert incremental[name].append == fresh[name].append


@settings(max_examples=150, deadline=None)
@given(seed=st.integers(0, 2**32), steps=st.integers(5, 70), policy=policies)
def test_explanations_add_up_to_the_payout_to_the_cent(seed, steps, policy) -> None:
    script = play(seed, steps, policy)
    state = replayed(script.records())
    campaign = state.campaign(script.campaign)
    scorer = campaign.require_scorer()
    pool = campaign.total_pool
    lines = split_pool(
        scorer.payable(),
        pool,
        cap=scorer.policy.per_person_cap,
        min_payout=scorer.policy.min_payout,
    )
    payouts = {line.member: line.amount for line in lines}
    if lines:
        assert sum(payouts.values()) == pool
    settlement = settlement_of(campaign)
    assert sum(line.amount for line in settlement.lines) == (pool if lines else 0)
    for member in campaign.members:
        found = explain(campaign, member, state.position)
        assert found.payout == payouts.get(member, 0)
        assert sum((item.credit for item in found.items), Fraction(0)) == scorer.credit.get(
            member, 0
        )
        if found.items and member not in scorer.blocked:
            assert sum(item.cents for item in found.items) == found.payout
        if found.line is not None:
            assert sum((item.exact for item in found.items), Fraction(0)) == found.line.base
            assert found.line.base + found.line.adjustment + found.line.rounding == found.payout
    scores = sum((node.score for node in scorer.nodes.values()), Fraction(0))
    assert sum(scorer.credit.values(), Fraction(0)) == scores
