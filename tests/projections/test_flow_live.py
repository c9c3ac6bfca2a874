"""cocred-fair v2 updated vote by vote (``projections/flow_live.py``) gives the numbers of the
rule as written (``flow.compute``), exactly, after every step of random campaigns."""

from __future__ import annotations

from dataclasses import asdict, fields, replace
from fractions import Fraction
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from projections.fair_v2 import ScorerV2
from projections.flow import Contribution2, FlowResult, Params, compute
from projections.flow_live import LiveFlow
from projections.state import LogState
from tests.projections.sim.attacks import Attack
from tests.projections.sim.world import BRAND, honest

PARAMS = Params(
    weights={"support": 1, "comment": 3, "save": 2, "share": 4},
    reuse_weight=5,
    support_threshold=2,
    weight_budget=12,
    contribution_cap=7,
    dependent_bound=Fraction(1, 2),
)
MEMBERS = [f"m{i}" for i in range(8)]
KINDS = list(PARAMS.weights)
_ZEROS_DROPPED = {"credit", "credit_remix"}  # compute keeps a member it adds 0 to


def normal(result: FlowResult) -> dict[str, Any]:
    """The result as plain values; members credited 0 are left out (they read as 0)."""
    out: dict[str, Any] = {}
    for f in fields(result):
        value = getattr(result, f.name)
        if f.name == "votes":
            value = {key: asdict(vote) for key, vote in value.items()}
        elif f.name in _ZEROS_DROPPED:
            value = {k: v for k, v in value.items() if v}
        out[f.name] = value
    return out


@st.composite
def campaigns(draw: st.DrawFn) -> tuple[list[tuple[str, Any]], set[str], set[str]]:
    """A sequence of steps: ("add", Contribution2), ("vote"/"unvote", (voter, cid, kind)),
    ("exclude"/"endorse"/"reuse", cid) (each toggles or adds one) or ("vouch", member)."""
    steps: list[tuple[str, Any]] = []
    cids: list[str] = []
    cast: list[tuple[str, str, str]] = []
    for position in range(draw(st.integers(3, 40))):
        step = draw(st.sampled_from(["add", "vote", "vote", "vote", "unvote", "brand"]))
        if step == "add" or not cids:
            cid = f"c{position}"
            first = draw(st.sampled_from(MEMBERS))
            authors: tuple[tuple[str, int], ...] = ((first, 100),)
            other = draw(st.sampled_from(MEMBERS))
            if other != first and draw(st.booleans()):
                percent = draw(st.integers(1, 99))
                authors = ((first, percent), (other, 100 - percent))
            sources = draw(st.lists(st.sampled_from(cids), max_size=2, unique=True)) if cids else []
            shares = [Fraction(draw(st.integers(1, 4)), 10) for _ in sources]
            excluded = draw(st.integers(0, 9)) == 0
            endorsed = draw(st.integers(0, 5)) == 0
            reuses = draw(st.integers(0, 1)) if endorsed else 0
            parents = tuple(zip(sources, shares, strict=True))
            steps.append(
                ("add", Contribution2(cid, position, authors, parents, excluded, reuses, endorsed))
            )
            cids.append(cid)
        elif step == "brand":  # the brand excludes, reinstates, endorses, reuses, vouches
            act = draw(st.sampled_from(["exclude", "endorse", "reuse", "vouch"]))
            if act == "vouch":
                steps.append(("vouch", draw(st.sampled_from(MEMBERS))))
            else:
                steps.append((act, draw(st.sampled_from(cids))))
        elif step == "vote":
            voter, kind = draw(st.sampled_from(MEMBERS)), draw(st.sampled_from(KINDS))
            vote = (voter, draw(st.sampled_from(cids)), kind)
            if vote not in cast:
                cast.append(vote)
                steps.append(("vote", vote))
        elif cast:
            steps.append(("unvote", cast.pop(draw(st.integers(0, len(cast) - 1)))))
    vouched = set(draw(st.lists(st.sampled_from(MEMBERS), max_size=3)))
    tenured = set(draw(st.lists(st.sampled_from(MEMBERS), max_size=2)))
    return steps, vouched, tenured


@settings(max_examples=60, deadline=None)
@given(campaigns())
def test_every_step_of_a_live_flow_equals_a_recompute_from_the_facts(
    campaign: tuple[list[tuple[str, Any]], set[str], set[str]],
) -> None:
    steps, vouched, tenured = campaign
    contributions: dict[str, Contribution2] = {}
    votes: dict[str, dict[tuple[str, str], int]] = {}
    live = LiveFlow(PARAMS)
    live.rebuild(contributions, votes, vouched, tenured)
    vouched = set(vouched)
    for step, value in steps:
        if step == "add":
            contributions[value.id] = value
            live.add_contribution(value)
        elif step == "vouch":
            vouched.add(value)
            live.grounded_changed(vouched, tenured)
        elif step in ("exclude", "endorse", "reuse"):
            c = contributions[value]
            c = replace(
                c,
                excluded=c.excluded != (step == "exclude"),
                endorsed=c.endorsed != (step == "endorse"),
                reuses=c.reuses + (step == "reuse"),
            )
            contributions[value] = c
            live.contribution_changed(c)
        else:
            voter, cid, kind = value
            if step == "vote":
                votes.setdefault(voter, {})[(cid, kind)] = PARAMS.weights[kind]
            else:
                del votes[voter][(cid, kind)]
                if not votes[voter]:
                    del votes[voter]
            live.voters_changed([voter])
        expected = compute(PARAMS, contributions, votes, vouched, tenured)
        assert normal(live.result) == normal(expected), (step, value)
    again = LiveFlow(PARAMS)
    again.rebuild(contributions, votes, vouched, tenured)
    assert normal(again.result) == normal(live.result)


def _replay_one_by_one(records: list[Any]) -> LogState:
    log = LogState()
    log.apply_all(records[: len(records) // 2])
    log.go_live()
    for record in records[len(records) // 2 :]:
        log.apply(record)
        log.refresh()
    return log


def test_a_campaign_replayed_live_event_by_event_ends_as_one_built_at_once() -> None:
    """A simulated lively community with a laundering ring (remixes, circulation, seeds and
    the bound all at work) and, in the live half, the brand's acts that start the numbers
    again (a vouch, an acceptance, a removal, a reuse): the second half applied one event
    at a time ends with the numbers of the whole log replayed at once."""
    attack = Attack("launder", 8, 1)
    world, voting = honest("lively", 1, version=2, members=40, prepare=attack.prepare)
    attack.strike(world, voting)
    pieces = sorted(world.authors)
    world.emit("MemberInvited", BRAND, {"member": "x1"})
    world.emit(
        "ContributionModerated",
        BRAND,
        {"contribution": pieces[3], "outcome": "accepted", "reason": "on-brief", "note": None},
    )
    world.emit(
        "ContributionModerated",
        BRAND,
        {"contribution": pieces[5], "outcome": "removed", "reason": "off-topic", "note": None},
    )
    for i in range(20):
        voting.vote(world.members[i % len(world.members)])
    records = world.records()
    live = _replay_one_by_one(records)
    whole = LogState()
    whole.apply_all(records)
    whole.go_live()
    for cid, state in whole.campaigns.items():
        a, b = state.scorer, live.campaigns[cid].scorer
        assert isinstance(a, ScorerV2) and isinstance(b, ScorerV2)
        assert normal(b.result) == normal(a.result)
        facts = {c: a._fact(c) for c in a.nodes}
        recomputed = compute(a.policy.params(), facts, a.votes, a.vouched, a.tenured)
        assert normal(a.result) == normal(recomputed)
        assert b.credit == a.credit and b.total == a.total
        figures = [
            "support",
            "score",
            "credit",
            "kept",
            "keep",
            "independent",
            "dependent",
            "bound",
        ]
        assert {c: [getattr(n, f) for f in figures] for c, n in b.nodes.items()} == {
            c: [getattr(n, f) for f in figures] for c, n in a.nodes.items()
        }
