"""Co-author consent in the read models: a piece some named co-author has not accepted, or
one declined, earns nothing under v1 and v2, and the explanations say why.

The scripts bypass the domain (``builders.Script``), so they can put in the log what the
domain refuses (a vote on a pending piece): the read models must not count it either.
A policy without ``coauthor_consent`` (campaigns opened before the field) keeps the old
behaviour: named co-authors earn at once.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import pytest

from domain.vocabulary import DEFAULT_POLICY_V2
from projections.explain import explain
from tests.projections.builders import Script, campaign_of, credit, replayed

V1_CONSENT: dict[str, Any] = {"coauthor_consent": True}
V2_CONSENT: dict[str, Any] = dict(DEFAULT_POLICY_V2)
POLICIES = pytest.mark.parametrize("policy", [V1_CONSENT, V2_CONSENT], ids=["v1", "v2"])


def _piece(policy: dict[str, Any] | None, *, accept: bool) -> tuple[Script, str]:
    """Ana submits a piece naming Cy (60/40); Cy accepts or not; Ben and Dee vote on it."""
    camp = Script(pool=1000, policy=policy)
    camp.join("ana", "ben", "cy", "dee")
    work = camp.submit("ana", "harbour", authors=[("ana", 60), ("cy", 40)])
    if accept:
        camp.accept("cy", work)
    camp.vote("ben", work, "share")
    camp.vote("dee", work, "support")
    camp.close()
    return camp, work


@POLICIES
def test_a_co_author_who_signed_nothing_earns_nothing(policy: dict[str, Any]) -> None:
    camp, work = _piece(policy, accept=False)
    state = campaign_of(camp)
    assert credit(camp, "cy") == credit(camp, "ana") == 0
    assert state.require_scorer().payable() == {}
    assert state.contributions[work].awaiting == (camp.id("cy"),)
    awaiting = f"awaiting co-author consent ({camp.id('cy')})"
    assert [i.reason for i in state.ignored] == [f"a vote on a contribution {awaiting}"] * 2


@POLICIES
def test_a_co_author_who_accepted_earns_their_share(policy: dict[str, Any]) -> None:
    camp, work = _piece(policy, accept=True)
    state = campaign_of(camp)
    assert state.ignored == [] and state.contributions[work].awaiting == ()
    ana, cy = credit(camp, "ana"), credit(camp, "cy")
    assert cy > 0 and ana / cy == Fraction(60, 40)


def test_a_campaign_opened_before_the_field_pays_named_co_authors_at_once() -> None:
    camp, _ = _piece(None, accept=False)
    assert campaign_of(camp).consent is False
    assert credit(camp, "ana") / credit(camp, "cy") == Fraction(60, 40)


@POLICIES
def test_a_declined_piece_earns_nothing_and_takes_no_remix_licence_or_reuse(
    policy: dict[str, Any],
) -> None:
    camp = Script(pool=1000, policy=policy)
    camp.join("ana", "ben", "cy", "dee")
    work = camp.submit("ana", "harbour", authors=[("ana", 60), ("cy", 40)])
    camp.decline("cy", work, "wrong-share")
    camp.vote("ben", work, "share")
    camp.submit("dee", "remix", derived_from=[(work, None)])
    licence = camp.grant(work, ["ana", "cy"])
    camp.reuse(work, licence)
    camp.accept("cy", work)
    camp.close()
    state = campaign_of(camp)
    declined = f"declined by co-author {camp.id('cy')}"
    assert [(i.type, i.reason) for i in state.ignored] == [
        ("VoteCast", f"a vote on a contribution {declined}"),
        ("ContributionSubmitted", f"derived from contribution {work}, {declined}"),
        ("LicenceGranted", f"a licence of a contribution {declined}"),
        ("LicenceGranted", f"a licence of a contribution {declined}"),
        ("ReuseRecorded", f"a reuse of a contribution {declined}"),
        ("CoAuthorshipAccepted", f"the contribution was declined by {camp.id('cy')}"),
    ]
    assert credit(camp, "ana") == credit(camp, "cy") == 0
    assert state.contributions[work].reuse_keys == {}


def test_answers_in_a_campaign_without_consent_are_ignored() -> None:
    camp = Script(pool=1000)
    camp.join("ana", "cy")
    work = camp.submit("ana", authors=[("ana", 50), ("cy", 50)])
    camp.decline("cy", work)
    state = campaign_of(camp)
    assert [i.reason for i in state.ignored] == ["the campaign's policy asks no co-author consent"]
    assert state.contributions[work].declined_by is None


@POLICIES
def test_the_explanation_says_a_pending_piece_earns_nothing(policy: dict[str, Any]) -> None:
    camp = Script(pool=1000, policy=policy)
    camp.join("ana", "ben", "cy")
    alone = camp.submit("ana", "alone")
    camp.vote("ben", alone)
    work = camp.submit("ana", "harbour", authors=[("ana", 60), ("cy", 40)])
    camp.close()
    state = replayed(camp.records())
    found = explain(state.campaign("summer-26"), camp.id("ana"), state.position)
    assert found.payout == 1000
    reason = (
        f"{work} is awaiting co-author consent ({camp.id('cy')}): it earns nothing until "
        f"each accepts"
    )
    assert reason in [note["reason"] for note in found.to_json()["ignored"]]
    if policy is V2_CONSENT:
        assert any(f"your contribution {work} awaits the consent" in s for s in found.discounts)


@POLICIES
def test_the_explanation_says_a_declined_piece_earns_nothing(policy: dict[str, Any]) -> None:
    camp = Script(pool=1000, policy=policy)
    camp.join("ana", "cy")
    work = camp.submit("ana", "harbour", authors=[("ana", 60), ("cy", 40)])
    camp.decline("cy", work)
    declined_at = len(camp.records()) - 1
    camp.close()
    state = replayed(camp.records())
    found = explain(state.campaign("summer-26"), camp.id("cy"), state.position)
    assert found.payout == 0
    assert {
        "position": declined_at,
        "event": "CoAuthorshipDeclined",
        "reason": f"{work} was declined by co-author {camp.id('cy')}: it earns nothing",
    } in found.to_json()["ignored"]
