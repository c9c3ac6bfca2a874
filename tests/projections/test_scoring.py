"""cocred-fair v1, one rule at a time (RULES.md), told as small campaigns."""

from __future__ import annotations

from fractions import Fraction as F

import pytest

from projections.errors import (
    ProjectionFailedError,
    UnknownCampaignError,
    UnsupportedPolicyError,
)
from projections.state import LogState
from tests.projections.builders import Script, campaign_of, credit, replayed


@pytest.fixture
def camp() -> Script:
    script = Script()
    script.join("ana", "ben", "cy", "dee")
    return script


def test_a_vote_weighs_its_kind_times_the_budget(camp: Script) -> None:
    work = camp.submit("ana")
    camp.vote("ben", work, "support")  # weight 1
    camp.vote("ben", work, "comment")  # weight 3
    camp.vote("cy", work, "share")  # weight 4
    assert credit(camp, "ana") == 8
    state = campaign_of(camp)
    assert state.require_scorer().nodes[work].support == 8
    assert state.members[camp.id("ana")].received == {
        "support": 1,
        "comment": 1,
        "save": 0,
        "share": 1,
    }


def test_heavy_voters_share_a_budget_of_ten_votes(camp: Script) -> None:
    """Beyond ten votes, each of a member's n votes weighs 10/n on a grid of 1/4096."""
    authors = [f"author{i}" for i in range(12)]
    camp.join(*authors)
    works = [camp.submit(name) for name in authors]
    for work in works:
        camp.vote("ben", work)
    # twelve votes share a budget of ten: each weighs 10/12, rounded down to 1/4096ths
    assert credit(camp, "author0") == F(40960 // 12, 4096) == F(3413, 4096)
    camp.withdraw("ben", works[10])
    camp.withdraw("ben", works[11])
    # ten votes are within the budget: each weighs 1 again
    assert credit(camp, "author0") == 1
    assert credit(camp, "author11") == 0


def test_self_votes_and_duplicates_are_ignored(camp: Script) -> None:
    work = camp.submit("ana", authors=[("ana", 50), ("ben", 50)])
    camp.vote("ben", work)  # a co-author
    camp.vote("cy", work)
    camp.vote("cy", work)  # the same kind again
    state = campaign_of(camp)
    assert state.require_scorer().nodes[work].support == 1
    assert [(i.type, i.reason) for i in state.ignored] == [
        ("VoteCast", "a self-vote (the voter is an author)"),
        ("VoteCast", "a duplicate vote (same member, contribution and kind)"),
    ]


def test_a_block_silences_earlier_votes_until_unblocked(camp: Script) -> None:
    work = camp.submit("ana")
    bens = camp.submit("ben")
    camp.vote("ben", work, "share")
    camp.vote("cy", work)
    camp.vote("cy", bens)
    camp.block("ben")
    state = campaign_of(camp)
    scorer = state.require_scorer()
    assert scorer.credit[camp.id("ana")] == 1  # ben's share vote no longer counts
    assert scorer.credit[camp.id("ben")] == 1  # ben's credit stays on record…
    assert camp.id("ben") not in scorer.payable()  # …but a blocked member is not paid
    assert scorer.total == 1
    camp.unblock("ben")
    assert credit(camp, "ana") == 5
    assert campaign_of(camp).require_scorer().total == 6


def test_removed_and_rejected_work_scores_zero(camp: Script) -> None:
    authors = [f"author{i}" for i in range(11)]
    camp.join(*authors)
    works = [camp.submit(name) for name in authors]
    for work in works:
        camp.vote("ben", work)
    assert credit(camp, "author0") == F(40960 // 11, 4096)
    camp.moderate(works[10], "removed")
    # the removed work scores 0, and ben's remaining ten votes weigh 1 each again
    assert credit(camp, "author10") == 0
    assert credit(camp, "author0") == 1
    camp.moderate(works[0], "rejected")
    assert credit(camp, "author0") == 0
    camp.moderate(works[0], "accepted")
    assert credit(camp, "author0") == 1
    state = campaign_of(camp)
    assert state.members[camp.id("author0")].moderated == {
        "accepted": 1,
        "rejected": 0,
        "removed": 0,
    }


def test_work_below_the_support_threshold_earns_nothing() -> None:
    camp = Script(policy={"support_threshold": 3})
    camp.join("ana", "ben", "cy", "dee")
    work = camp.submit("ana")
    camp.vote("ben", work)
    camp.vote("cy", work)
    assert credit(camp, "ana") == 0
    assert campaign_of(camp).require_scorer().nodes[work].support == 2
    camp.vote("dee", work)
    assert credit(camp, "ana") == 3


def test_reuse_counts_once_per_channel_and_territory(camp: Script) -> None:
    work = camp.submit("ana")
    licence = camp.grant(work, ["ana"])
    camp.reuse(work, licence, "web", "FR")
    camp.reuse(work, licence, "web", "FR")  # recorded twice: counts once
    camp.reuse(work, licence, "web", "DE")
    assert credit(camp, "ana") == 40
    state = campaign_of(camp)
    assert [r.distinct for r in state.reuses] == [True, False, True]
    assert state.members[camp.id("ana")].reuses == 3


def test_credit_flows_up_remix_chains_by_declared_shares(camp: Script) -> None:
    original = camp.submit("ana", "original")
    remix = camp.submit("ben", "remix", derived_from=[(original, None)])  # default 3/10
    remix2 = camp.submit("cy", "remix of the remix", derived_from=[(remix, "1/5")])
    camp.vote("dee", remix2, "share")  # 4 points land on cy's work
    # cy keeps 4/5 of 4; ben's remix receives 4/5 and keeps 7/10 of it; ana gets 3/10 of 4/5
    assert credit(camp, "cy") == F(16, 5)
    assert credit(camp, "ben") == F(14, 25)
    assert credit(camp, "ana") == F(6, 25)
    scorer = campaign_of(camp).require_scorer()
    assert scorer.total == 4  # credit is conserved
    assert scorer.credit_remix[camp.id("ana")] == F(6, 25)
    state = campaign_of(camp)
    assert state.members[camp.id("ana")].remixed_by_others == 1


def test_coauthors_split_what_their_work_keeps_by_percent(camp: Script) -> None:
    work = camp.submit("ana", authors=[("ana", 70), ("ben", 30)])
    camp.vote("cy", work, "comment")
    assert (credit(camp, "ana"), credit(camp, "ben")) == (F(21, 10), F(9, 10))
    assert campaign_of(camp).members[camp.id("ben")].coauthored == 1


def test_shares_towards_removed_sources_stay_with_the_remix(camp: Script) -> None:
    original = camp.submit("ana")
    remix = camp.submit("ben", derived_from=[(original, "1/2")])
    camp.vote("cy", remix, "share")
    assert (credit(camp, "ana"), credit(camp, "ben")) == (2, 2)
    camp.moderate(original, "removed")
    assert (credit(camp, "ana"), credit(camp, "ben")) == (0, 4)


def test_events_after_the_close_are_ignored_but_the_settlement_is_kept(camp: Script) -> None:
    work = camp.submit("ana")
    camp.vote("ben", work)
    camp.close()
    camp.vote("cy", work)
    camp.settle("ab" * 32, 100_000, 1)
    state = campaign_of(camp)
    assert state.require_scorer().total == 1
    assert [(i.type, i.reason) for i in state.ignored] == [("VoteCast", "the campaign is closed")]
    assert state.settled is not None and state.settled[1]["export"] == "ab" * 32


def test_other_event_types_and_other_campaigns_are_skipped(camp: Script) -> None:
    work = camp.submit("ana")
    camp._sign(camp.actor("ana"), "NoteShared", {"text": "hello"})
    camp._sign(camp.actor("ben"), "VoteCast", {"contribution": work, "kind": "support"}, "other")
    state = replayed(camp.records())
    assert list(state.campaigns) == ["summer-26"]
    assert state.position == len(camp.records())
    with pytest.raises(UnknownCampaignError) as caught:
        state.campaign("other")
    assert (
        caught.value.detail == f"no campaign 'other' in the log (as of position {state.position})"
    )


def test_a_campaign_under_another_policy_is_projected_without_scores() -> None:
    camp = Script(policy={"name": "plain-votes", "version": 3})
    camp.join("ana", "ben")
    camp.vote("ben", camp.submit("ana"))
    state = campaign_of(camp)
    assert state.scorer is None and len(state.contributions) == 1
    with pytest.raises(UnsupportedPolicyError) as caught:
        state.require_scorer()
    assert caught.value.detail == (
        "campaign summer-26: policy plain-votes v3 is not implemented; these projections "
        "compute cocred-fair v1"
    )


def test_a_state_refuses_to_skip_a_position() -> None:
    records = Script().records()
    state = LogState()
    state.apply(records[0])
    with pytest.raises(ProjectionFailedError) as caught:
        state.apply(records[0])
    assert caught.value.detail == "expected the event at position 1, got position 0"
