"""Comment threads in the read models: a hidden comment's vote stops counting (v1 and v2), the
explanation says why, and a log with threads but no hiding pays as it did without them.

The scripts bypass the domain (``builders.Script``): ``comment`` posts the text a
``vote(..., "comment")`` by the same member names, so the two are tied.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import pytest

from domain.vocabulary import DEFAULT_POLICY_V1, DEFAULT_POLICY_V2
from projections.explain import explain
from projections.export import settlement_of
from projections.state import LogState
from tests.projections.builders import Script, campaign_of, credit, replayed
from tests.projections.lively import demo

V2_WITHOUT_CONSENT = {**DEFAULT_POLICY_V2, "coauthor_consent": False}
POLICIES = pytest.mark.parametrize(
    "policy", [dict(DEFAULT_POLICY_V1), V2_WITHOUT_CONSENT], ids=["v1", "v2"]
)


def _thread(policy: dict[str, Any], ending: str) -> tuple[Script, str, str]:
    """Ana's piece; Ben comments and casts the comment vote naming it; Dee supports it;
    Cy supports another piece of Ana's. ``ending``: ``shown`` (nothing more), ``hidden``
    (the brand hides Ben's comment) or ``withdrawn`` (Ben withdraws his comment vote)."""
    camp = Script(pool=1000, policy=policy)
    camp.join("ana", "ben", "cy", "dee")
    work = camp.submit("ana", "harbour")
    other = camp.submit("ana", "pier")
    comment = camp.comment("ben", work)
    camp.vote("ben", work, "comment")
    camp.comment("ana", work, parent=comment, text="Thank you!")
    camp.comment("brand", work, parent=comment, text="Lovely.", as_brand=True)
    camp.vote("dee", work, "support")
    camp.vote("cy", other, "support")
    if ending == "hidden":
        camp.hide(comment, "off-topic")
    elif ending == "withdrawn":
        camp.withdraw("ben", work, "comment")
    camp.close()
    return camp, work, comment


@POLICIES
def test_a_hidden_comment_loses_its_engagement_weight(policy: dict[str, Any]) -> None:
    shown, _, _ = _thread(dict(policy), "shown")
    hidden, _, _ = _thread(dict(policy), "hidden")
    withdrawn, _, _ = _thread(dict(policy), "withdrawn")
    assert credit(hidden, "ana") == credit(withdrawn, "ana") < credit(shown, "ana")
    state = campaign_of(hidden)
    assert not state.ignored
    assert state.require_scorer().votes.get(hidden.id("ben"), {}) == {}


@POLICIES
def test_the_authors_explanation_says_the_comment_was_hidden(policy: dict[str, Any]) -> None:
    camp, work, comment = _thread(dict(policy), "hidden")
    state = replayed(camp.records())
    found = explain(state.campaign(camp.campaign), camp.id("ana"), state.position)
    reasons = [entry["reason"] for entry in found.to_json()["ignored"]]
    assert reasons == [
        f"the comment {comment} by {camp.id('ben')} on {work} was hidden by the brand "
        f"(off-topic) and no longer counts"
    ]


@POLICIES
def test_hiding_a_comment_nobody_voted_with_changes_no_score(policy: dict[str, Any]) -> None:
    def played(hide: bool) -> Fraction:
        camp = Script(pool=1000, policy=policy)
        camp.join("ana", "ben", "dee")
        work = camp.submit("ana", "harbour")
        chatter = camp.comment("dee", work, text="first!")
        camp.vote("ben", work, "comment")
        camp.vote("dee", work, "support")
        if hide:
            camp.hide(chatter, "spam")
        else:
            camp.profile("dee")  # the same number of events, skipped by the campaign
        camp.close()
        return credit(camp, "ana")

    assert played(hide=True) == played(hide=False) > 0


def _lively(policy: dict[str, Any], *, threads: bool) -> Script:
    """The pinned v1 demo (or its v2 twin), then a thread on five pieces with brand replies,
    or as many ``ProfileCommitted`` in their place; then the close."""
    script = Script("pinned-v1", policy=policy)
    played = demo(script, members=60, contributions=90, votes=900, ring=6, seed=16)
    script.join("talker")
    pieces = sorted({cid for works in played.works.values() for cid in works})[:5]
    for cid in pieces:
        if threads:
            first = script.comment("talker", cid, text=f"about {cid}")
            script.comment("brand", cid, parent=first, text="thanks", as_brand=True)
        else:
            script.profile("talker")
            script.profile("talker")
    script.close()
    return script


@POLICIES
def test_threads_without_hiding_leave_the_export_hash_as_it_was(policy: dict[str, Any]) -> None:
    quiet, talking = (campaign_of(_lively(dict(policy), threads=t)) for t in (False, True))
    assert len(talking.comments) == 10 and not talking.ignored
    assert settlement_of(talking).sha256 == settlement_of(quiet).sha256


@POLICIES
def test_a_live_follow_and_a_bulk_replay_agree_on_a_hidden_comment(policy: dict[str, Any]) -> None:
    camp, _, _ = _thread(dict(policy), "hidden")
    live = LogState()
    live.go_live()
    for record in camp.records():
        live.apply(record)
        live.refresh()
    bulk = replayed(camp.records())
    ana = camp.id("ana")
    assert live.campaign(camp.campaign).require_scorer().credit.get(ana) == (
        bulk.campaign(camp.campaign).require_scorer().credit.get(ana)
    )
    assert live.campaign(camp.campaign).require_scorer().credit.get(ana) == credit(camp, "ana")
