"""Explanations: a contributor sees every cent of their payout and the events behind it."""

from __future__ import annotations

from fractions import Fraction as F

import pytest

from projections.errors import UnknownMemberError
from projections.explain import explain
from tests.projections.builders import Script, replayed


def test_an_explanation_traces_every_cent_to_log_positions() -> None:
    camp = Script(pool=1000)
    camp.join("ana", "ben", "cy", "dee")
    original = camp.submit("ana", "harbour sketch")
    remix = camp.submit("ben", "harbour poster", derived_from=[(original, "1/5")])
    camp.vote("cy", remix, "share")
    camp.vote("dee", original, "support")
    state = replayed(camp.records())
    found = explain(state.campaign("summer-26"), camp.id("ana"), state.position)
    # ana: 1 point on her sketch, and 1/5 of the 4 points of ben's poster
    assert (found.credit, found.total_credit, found.payout) == (F(9, 5), 5, 360)
    share_vote, support_vote = found.items
    assert (share_vote.position, share_vote.event, share_vote.actor) == (
        len(camp.records()) - 2,
        "VoteCast",
        camp.id("cy"),
    )
    assert (share_vote.landed_on, share_vote.credited, share_vote.detail) == (
        remix,
        original,
        "share",
    )
    assert (share_vote.weight, share_vote.path, share_vote.credit) == (4, F(1, 5), F(4, 5))
    assert share_vote.factors == {"kind": "4", "budget": "1/1"}
    assert (share_vote.exact, share_vote.cents) == (160, 160)
    assert (support_vote.credit, support_vote.cents) == (1, 200)
    document = found.to_json()
    assert document["share"] == "9/25" and document["base"] == "360/1"
    assert sum(item["cents"] for item in document["items"]) == document["payout"] == 360
    text = found.to_text()
    assert "payout               3.60 EUR" in text
    assert f"@{share_vote.position} VoteCast share by {camp.id('cy')[:12]}…" in text
    assert "x path 1/5 x keep 1 x 100% = 4/5 -> 160 cents" in text


def test_ignored_votes_and_blocked_members_are_explained() -> None:
    camp = Script(pool=100)
    camp.join("ana", "ben", "cy")
    work = camp.submit("ana")
    camp.submit("ben")
    camp.vote("ben", work, "share")
    camp.vote("cy", work)
    camp.block("ben")
    state = replayed(camp.records())
    campaign = state.campaign("summer-26")
    anas = explain(campaign, camp.id("ana"), state.position)
    assert anas.payout == 100 and len(anas.items) == 1
    assert anas.ignored == (
        {
            "position": len(camp.records()) - 3,
            "event": "VoteCast",
            "reason": f"share by {camp.id('ben')}: its voter is blocked",
        },
    )
    bens = explain(campaign, camp.id("ben"), state.position)
    assert bens.blocked and bens.payout == 0 and bens.line is None
    assert "the member is blocked in this campaign: nothing is paid" in bens.to_text()


def test_a_rounding_cent_is_dealt_to_the_largest_remainder_among_the_items() -> None:
    camp = Script(pool=10)
    camp.join("ana", "ben", "cy", "dee")
    work = camp.submit("ana")
    for voter in ("ben", "cy", "dee"):
        camp.vote(voter, work)
    camp.vote("ana", camp.submit("ben"), "share")
    camp.vote("ana", camp.submit("cy"), "share")
    state = replayed(camp.records())
    found = explain(state.campaign("summer-26"), camp.id("ana"), state.position)
    # ana earns 3 of 11 points: 30/11 = 2.72… cents -> 3 after largest remainder
    assert found.payout == 3 and found.line is not None and found.line.rounding == F(3, 11)
    assert [item.cents for item in found.items] == [1, 1, 1]


def test_a_member_who_never_took_part_is_refused() -> None:
    camp = Script()
    state = replayed(camp.records())
    with pytest.raises(UnknownMemberError) as caught:
        explain(state.campaign("summer-26"), "nobody", state.position)
    assert caught.value.detail == "member nobody has no part in campaign summer-26"
