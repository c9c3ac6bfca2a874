"""The review phase and appeals in the read models (issue 19), under v1 and v2.

A rejected piece reinstated on appeal earns again, exactly what it would have earned had it
never been rejected; an upheld appeal leaves it earning nothing. A close with
``unreviewed: reject`` pays the never-moderated pieces nothing, ``accept`` pays them as a
close without the field does. The explanations say each. The appeals' rows are the same
after an incremental run and a rebuild, and the paged read lists the open ones first.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from domain.vocabulary import DEFAULT_POLICY_V2
from ledger.ledger import Ledger
from ledger.store import open_store
from projections.appeals import campaign_appeals
from projections.explain import explain
from projections.export import settlement_of
from projections.projector import Projector
from tests.projections.builders import Script, campaign_of, credit
from tests.projections.test_projector import dump

APPEALS = {"review": True, "appeal_window": 3600}
V1: dict[str, Any] = dict(APPEALS)
V2: dict[str, Any] = {**DEFAULT_POLICY_V2, "coauthor_consent": False, **APPEALS}
POLICIES = pytest.mark.parametrize("policy", [V1, V2], ids=["v1", "v2"])


def _played(policy: dict[str, Any], story: str) -> tuple[Script, str]:
    """Ana's and Ben's pieces get votes; Ana's is ``story``: accepted, rejected, reinstated
    (rejected, appealed, reinstated) or upheld (rejected, appealed, upheld)."""
    camp = Script(pool=1000, policy=policy)
    camp.join("ana", "ben", "cy", "dee")
    work = camp.submit("ana", "harbour")
    other = camp.submit("ben", "pier")
    for voter in ("cy", "dee"):
        camp.vote(voter, work, "share")
        camp.vote(voter, other, "support")
    camp.moderate(other, "accepted")
    camp.moderate(work, "accepted" if story == "accepted" else "rejected")
    if story in ("reinstated", "upheld"):
        camp.appeal("ana", work)
        camp.decide(work, story)
    camp.close()
    return camp, work


@POLICIES
def test_a_piece_reinstated_on_appeal_earns_what_it_would_have_earned(policy: Any) -> None:
    accepted, _ = _played(policy, "accepted")
    reinstated, work = _played(policy, "reinstated")
    assert credit(reinstated, "ana") == credit(accepted, "ana") > 0
    state = campaign_of(reinstated)
    assert state.ignored == []
    assert state.contributions[work].status == "accepted"
    assert state.appeals[state.contributions[work].appeal].outcome == "reinstated"
    before, after = settlement_of(campaign_of(accepted)), settlement_of(state)
    assert [(x.member, x.amount) for x in after.lines] == [
        (x.member, x.amount) for x in before.lines
    ]
    why = explain(state, reinstated.id("ana"), len(reinstated.log))
    appeal = state.appeals[state.contributions[work].appeal]
    assert why.review == (
        f"your contribution {work} was rejected, appealed (@{appeal.position}) and reinstated "
        f"by the brand (@{appeal.decided_at}): it earns again",
    )
    assert why.to_json()["review"] == list(why.review)


@POLICIES
def test_an_upheld_appeal_leaves_the_piece_earning_nothing(policy: Any) -> None:
    rejected, _ = _played(policy, "rejected")
    upheld, work = _played(policy, "upheld")
    assert credit(upheld, "ana") == credit(rejected, "ana") == 0
    state = campaign_of(upheld)
    why = explain(state, upheld.id("ana"), len(upheld.log))
    appeal = state.appeals[state.contributions[work].appeal]
    assert why.review == (
        f"your contribution {work} was rejected, appealed (@{appeal.position}); the brand "
        f"upheld the decision (@{appeal.decided_at}): it earns nothing",
    )


def _unreviewed(policy: dict[str, Any], unreviewed: str | None) -> tuple[Script, str]:
    """Ana's piece is never moderated; Ben's is accepted; the close says ``unreviewed``."""
    camp = Script(pool=1000, policy=policy)
    camp.join("ana", "ben", "cy")
    work = camp.submit("ana", "harbour")
    other = camp.submit("ben", "pier")
    camp.vote("cy", work, "share")
    camp.vote("cy", other, "support")
    camp.moderate(other, "accepted")
    camp.close(unreviewed)
    return camp, work


@POLICIES
def test_a_close_with_unreviewed_reject_pays_unmoderated_pieces_nothing(policy: Any) -> None:
    camp, work = _unreviewed(policy, "reject")
    state = campaign_of(camp)
    assert credit(camp, "ana") == 0 and credit(camp, "ben") > 0
    assert [x.member for x in settlement_of(state).lines] == [camp.id("ben")]
    why = explain(state, camp.id("ana"), len(camp.log))
    sentence = "was not reviewed before the close; the brand closed with unreviewed: reject"
    assert why.payout == 0
    assert why.review == (f"your contribution {work} {sentence}: it earns nothing",)
    assert {"position": state.closed_at, "event": "CampaignClosed"} | {
        "reason": f"{work} {sentence}: it earns nothing"
    } in why.ignored


@POLICIES
def test_a_close_with_unreviewed_accept_pays_as_a_close_without_the_field(policy: Any) -> None:
    accept, work = _unreviewed(policy, "accept")
    plain, _ = _unreviewed(policy, None)
    assert credit(accept, "ana") == credit(plain, "ana") > 0
    assert [(x.member, x.amount) for x in settlement_of(campaign_of(accept)).lines] == [
        (x.member, x.amount) for x in settlement_of(campaign_of(plain)).lines
    ]
    state = campaign_of(accept)
    why = explain(state, accept.id("ana"), len(accept.log))
    assert why.review == (
        f"your contribution {work} was not reviewed before the close; the brand closed with "
        f"unreviewed: accept: it earns as accepted",
    )
    assert "review" not in explain(campaign_of(plain), plain.id("ana"), 0).to_json()


@pytest.fixture
def ledger(tmp_path: Any) -> Iterator[Ledger]:
    opened = Ledger(open_store(f"sqlite:///{tmp_path}/appeals.db"), verify_threads=1)
    yield opened
    opened.close()
    opened.store.close()


def test_the_appeal_rows_are_the_same_incrementally_and_rebuilt_and_paged(
    ledger: Ledger,
) -> None:
    camp = Script(pool=1000, policy=V2)
    camp.join("ana", "ben", "cy")
    works = [camp.submit(name, f"piece {i}") for i, name in enumerate(("ana", "ben", "cy"))]
    for work in works:
        camp.moderate(work, "rejected")
    ids = [camp.appeal(name, work) for name, work in zip(("ana", "ben", "cy"), works, strict=True)]
    projector = Projector(ledger.store, page=7)
    camp.flush(ledger)
    camp.pending = []
    projector.catch_up()
    camp.decide(works[0], "reinstated")
    camp.flush(ledger)
    camp.pending = []
    projector.catch_up()
    incremental = dump(projector)
    projector.rebuild()
    assert dump(projector) == incremental
    assert len(incremental["proj_appeals"]) == 3
    page = campaign_appeals(projector, "summer-26", limit=2)
    assert (page.total, page.open, page.start) == (3, 2, 0)
    assert [(a.appeal, a.status) for a in page.appeals] == [(ids[1], "filed"), (ids[2], "filed")]
    rest = campaign_appeals(projector, "summer-26", start=2, limit=2)
    assert [(a.appeal, a.status, a.piece_status) for a in rest.appeals] == [
        (ids[0], "reinstated", "accepted")
    ]
    only_open = campaign_appeals(projector, "summer-26", open_only=True)
    assert (only_open.total, [a.appeal for a in only_open.appeals]) == (2, ids[1:])
    mine = campaign_appeals(projector, "summer-26", contribution=works[0])
    assert [a.to_json()["status"] for a in mine.appeals] == ["reinstated"]
    projector.close()
