"""Questions answered from the read models: leaderboard, a contributor's record, lineage."""

from __future__ import annotations

import pytest

from ledger.ledger import Ledger
from projections.errors import UnknownCampaignError, UnknownContributionError, UnknownMemberError
from projections.projector import Projector
from projections.queries import attribution, leaderboard, lineage
from tests.projections.builders import Script


@pytest.fixture
def story(ledger: Ledger) -> tuple[Script, Projector, dict[str, str]]:
    camp = Script(pool=900)
    camp.join("ana", "ben", "cy", "dee")
    works = {"sketch": camp.submit("ana", "harbour sketch")}
    works["poster"] = camp.submit(
        "ben", "poster", authors=[("ben", 80), ("cy", 20)], derived_from=[(works["sketch"], None)]
    )
    works["tee"] = camp.submit("dee", "tee", derived_from=[(works["poster"], "1/2")])
    camp.vote("cy", works["sketch"], "share")
    camp.vote("dee", works["poster"], "comment")
    camp.vote("ana", works["tee"], "save")
    licence = camp.grant(works["poster"], ["ben", "cy"])
    camp.reuse(works["poster"], licence, "web", "FR")
    camp.moderate(works["sketch"], "accepted", "fits-the-brief")
    camp.flush(ledger)
    projector = Projector(ledger.store)
    projector.catch_up()
    yield camp, projector, works
    projector.close()


def test_the_leaderboard_ranks_payees_and_their_payouts_sum_to_the_pool(story) -> None:
    camp, projector, _ = story
    row, board = leaderboard(projector, "summer-26")
    assert (row["pool"], row["currency"], row["members"]) == (900, "EUR", 4)
    assert [s.rank for s in board] == [1, 2, 3, 4]
    assert sum(s.amount for s in board) == 900
    assert board[0].member == camp.id("ben")  # the reused poster
    assert [s.amount for s in board] == sorted((s.amount for s in board), reverse=True)


def test_a_contributors_record_lists_work_coauthors_reuse_and_moderation(story) -> None:
    camp, projector, works = story
    found = attribution(projector, "summer-26", camp.id("cy"))
    record = found["record"]
    assert (record["contributions"], record["coauthored"], record["licences"]) == (1, 1, 1)
    assert (record["received_comment"], record["reuses"], record["votes_cast"]) == (1, 1, 1)
    assert [grant["licence"] for grant in found["licences"]] == [f"{works['poster']}/web"]
    [poster] = found["contributions"]
    assert poster["contribution"] == works["poster"] and poster["percent"] == 20
    assert poster["coauthors"] == [{"member": camp.id("ben"), "percent": 80}]
    assert [r["territory"] for r in poster["reused"]] == ["FR"]
    anas = attribution(projector, "summer-26", camp.id("ana"))
    assert anas["record"]["accepted"] == 1 and anas["record"]["remixed_by_others"] == 1
    assert anas["contributions"][0]["moderation"][0]["reason"] == "fits-the-brief"
    assert anas["record"]["credit_via_remixes"] != "0/1"


def test_lineage_shows_ancestors_and_descendants_with_their_path_shares(story) -> None:
    _, projector, works = story
    tee = lineage(projector, "summer-26", works["tee"])
    assert [(a["contribution"], a["path"]) for a in tee["ancestors"]] == [
        (works["sketch"], "3/20"),  # 1/2 x the default 3/10
        (works["poster"], "1/2"),
    ]
    sketch = lineage(projector, "summer-26", works["sketch"])
    assert [(d["contribution"], d["path"]) for d in sketch["descendants"]] == [
        (works["poster"], "3/10"),
        (works["tee"], "3/20"),
    ]
    assert sketch["descendants"][0]["derived_from"] == [
        {"parent": works["sketch"], "declared": None, "share": "3/10"}
    ]


def test_unknown_campaigns_and_members_are_refused(story) -> None:
    _, projector, _ = story
    with pytest.raises(UnknownCampaignError) as caught:
        leaderboard(projector, "winter-26")
    assert caught.value.detail == (
        f"no campaign 'winter-26' in the read models (as of position {projector.position()})"
    )
    with pytest.raises(UnknownMemberError) as missing:
        attribution(projector, "summer-26", "nobody")
    assert missing.value.detail == "member nobody has no part in campaign summer-26"
    with pytest.raises(UnknownContributionError) as nowhere:
        lineage(projector, "summer-26", "nothing:1")
    assert nowhere.value.detail == "no contribution nothing:1 in campaign summer-26"
