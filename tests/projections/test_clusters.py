"""Groups that vote mostly for each other: who is in one, and what it costs them (rule 5)."""

from __future__ import annotations

from fractions import Fraction as F

from hypothesis import given, settings
from hypothesis import strategies as st

from projections.clusters import Reciprocity
from tests.projections.builders import Script, campaign_of


def test_a_ring_that_votes_only_for_itself_is_one_cluster() -> None:
    camp = Script()
    camp.join("ana", "ben")
    ring = camp.ring(4)
    camp.vote("ana", camp.submit("ben"))
    recip = campaign_of(camp).require_scorer().recip
    ids = frozenset(camp.id(name) for name in ring)
    assert {recip.cluster_of(member) for member in ids} == {ids}
    assert recip.cluster_of(camp.id("ana")) is None


def test_reciprocity_that_is_a_small_part_of_a_members_votes_is_no_cluster() -> None:
    camp = Script()
    names = ["ana", "ben", "cy", "dee", "eve"]
    camp.join(*names)
    works = {name: camp.submit(name) for name in names}
    for author in ("ben", "cy", "dee", "eve"):
        camp.vote("ana", works[author])
    camp.vote("ben", works["ana"])  # ben only votes for ana, who voted back
    recip = campaign_of(camp).require_scorer().recip
    assert recip.colluders == {camp.id("ben")}  # all of ben's votes are reciprocated…
    assert recip.cluster == {}  # …but only a quarter of ana's: no group


def test_a_group_voting_for_itself_is_a_cluster_until_it_looks_outward() -> None:
    camp = Script()
    names = ["ana", "ben", "cy", "dee", "eve"]
    camp.join(*names)
    works = {name: camp.submit(name) for name in names}
    for voter in names:
        for author in names:
            if author != voter:
                camp.vote(voter, works[author])
    recip = campaign_of(camp).require_scorer().recip
    group = frozenset(camp.id(name) for name in names)
    assert set(recip.cluster.values()) == {group}
    newcomers = [f"new{i}" for i in range(5)]
    camp.join(*newcomers)
    for author in newcomers:
        work = camp.submit(author)
        for voter in names:
            camp.vote(
                voter, work
            )  # now 5 of each member's 9 votes go to people who do not vote back
    assert campaign_of(camp).require_scorer().recip.cluster == {}


def test_inside_votes_are_discounted_by_size_and_bounded_by_outside_support() -> None:
    camp = Script()  # pairwise_bound s = 1/2
    camp.join("fan")
    ring = camp.ring(3, kinds=["support"])
    works = campaign_of(camp).members[camp.id("puppet0")].authored
    camp.vote("fan", works[0], "support")
    scorer = campaign_of(camp).require_scorer()
    node = scorer.nodes[works[0]]
    # two inside votes, each discounted to 1/(1 + 1/2 x 2) = 1/2 -> 1; one outside vote -> 1;
    # the inside part is bounded by (1 - 1/2) x 1: support 1 + 1/2
    assert (node.internal, node.external, node.bound, node.support) == (1, 1, F(1, 2), F(3, 2))
    other = scorer.nodes[campaign_of(camp).members[camp.id("puppet1")].authored[0]]
    assert (other.internal, other.external, other.support) == (1, 0, 0)
    budget, inside, discount, size = scorer.vote_factors(camp.id("puppet1"), works[0])
    assert (budget, inside, discount, size) == (1, 1, F(1, 2), 3)
    assert len(ring) == 3


def test_at_full_strength_a_ring_adds_nothing_to_its_own_work() -> None:
    camp = Script(policy={"pairwise_bound": "1/1"})
    camp.join("fan")
    camp.ring(5)
    work = campaign_of(camp).members[camp.id("puppet0")].authored[0]
    camp.vote("fan", work, "comment")
    assert campaign_of(camp).require_scorer().nodes[work].support == 3


def test_a_coauthor_outside_the_cluster_keeps_the_outside_part_of_a_vote() -> None:
    camp = Script()
    camp.join("ana")
    camp.ring(2)  # every kind: 10 points each way
    shared = camp.submit("puppet0", "joint", authors=[("puppet0", 40), ("ana", 60)])
    camp.vote("puppet1", shared, "support")
    node = campaign_of(camp).require_scorer().nodes[shared]
    # 1 point: 60% goes outside the pair (3/5); 40% inside, discounted to 2/3 (4/15),
    # under the bound of 1/2 x 3/5
    assert (node.external, node.internal, node.bound) == (F(3, 5), F(4, 15), 1)
    assert node.support == F(13, 15)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 5), st.integers(0, 5), st.integers(1, 4), st.booleans()),
        max_size=60,
    )
)
def test_incremental_clusters_equal_clusters_computed_from_scratch(moves) -> None:
    live, flows = Reciprocity(), {}
    for voter, author, weight, remove in moves:
        key = (voter, author)
        if remove and flows.get(key, 0) >= weight:
            weight = -weight
        elif remove:
            continue
        flows[key] = flows.get(key, 0) + weight
        touched = live.add(str(voter), [(str(author), 100)], weight)
        live.recluster(touched)
        fresh = Reciprocity()
        for (v, a), w in flows.items():
            if w:
                fresh.add(str(v), [(str(a), 100)], w)
        fresh.recluster_all()
        bulk = Reciprocity.from_flows(
            {
                str(v): {str(a): w * 100 for (v2, a), w in flows.items() if v2 == v and w}
                for v in {v for v, _ in flows}
            }
        )
        for other in (fresh, bulk):
            assert live.cluster == other.cluster
            assert live.colluders == other.colluders
            assert {m: x for m, x in live.mutual.items() if x} == {
                m: x for m, x in other.mutual.items() if x
            }
            assert {m: x for m, x in live.total.items() if x} == {
                m: x for m, x in other.total.items() if x
            }
