"""Appeals over HTTP: the submitter posts AppealFiled and the brand AppealDecided to POST
/events like any act; anyone reads the campaign's appeals, open ones first, a page at a time."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from domain.vocabulary import DEFAULT_POLICY
from ledger.envelope import sign_envelope
from ledger.keys import SigningKey
from tests.api.http.routes.test_contributors import OPEN_CAMPAIGN, World, demo_world, refused

POLICY = {**DEFAULT_POLICY, "coauthor_consent": False, "review": True, "appeal_window": 86400}


@pytest.fixture
def world(store_url: str, tmp_path: Path) -> Iterator[World]:
    """The demo world (SQLite, then PostgreSQL) and an open campaign with appeals that three
    members joined."""
    with demo_world(store_url, tmp_path) as w:
        c = w.services.campaigns
        c.open_campaign(
            w.brand, OPEN_CAMPAIGN, title="Open", guidelines=b"be kind",
            starts_at="2025-01-01T00:00:00Z", ends_at="2099-01-01T00:00:00Z", policy=POLICY,
        )  # fmt: skip
        for key in w.members[:3]:
            c.join(key, OPEN_CAMPAIGN)
        yield w


def _rejected(w: World, n: int) -> str:
    c = w.services.campaigns
    receipt = c.submit(
        w.members[n], OPEN_CAMPAIGN, f"piece {n}".encode(), kind="idea", title=f"Piece {n}"
    )
    work = str(receipt.ids["contribution"])
    c.moderate(w.brand, OPEN_CAMPAIGN, work, "rejected", "off-guidelines")
    return work


def _post(w: World, key: SigningKey, type_: str, body: dict[str, Any]) -> Any:
    seq = w.services.ledger.next_seq(key.actor)
    envelope = sign_envelope(key, type_, body, seq=seq, campaign=OPEN_CAMPAIGN)
    return w.client.post("/events", content=envelope.canonical_bytes())


def _appeal(w: World, n: int, work: str) -> Any:
    body = {"contribution": work, "reason": "misjudged", "text": None}
    return _post(w, w.members[n], "AppealFiled", body)


def test_appeals_are_posted_as_events_and_listed_open_first(world: World) -> None:
    w = world
    works = [_rejected(w, n) for n in range(3)]
    for n, work in enumerate(works):
        assert _appeal(w, n, work).status_code == 201
    decided = {"contribution": works[0], "outcome": "reinstated", "reason": "ok", "note": None}
    assert _post(w, w.brand, "AppealDecided", decided).status_code == 201
    path = f"/campaigns/{OPEN_CAMPAIGN}/appeals"
    page = w.client.get(path, params={"limit": 2}).json()
    assert (page["total"], page["open"], page["next"]) == (3, 2, 2)
    assert [(a["contribution"], a["status"]) for a in page["appeals"]] == [
        (works[1], "filed"),
        (works[2], "filed"),
    ]
    rest = w.client.get(path, params={"from": 2, "limit": 2}).json()
    assert [(a["contribution"], a["status"], a["piece_status"]) for a in rest["appeals"]] == [
        (works[0], "reinstated", "accepted")
    ]
    assert rest["next"] is None
    only_open = w.client.get(path, params={"open": "true"}).json()
    assert (only_open["total"], len(only_open["appeals"])) == (2, 2)


def test_a_refused_appeal_over_http_has_its_status_and_writes_nothing(world: World) -> None:
    w = world
    work = _rejected(w, 0)
    before = w.size()
    refused(
        _appeal(w, 1, work),
        403,
        "NotSubmitter",
        f"only the submitter {w.members[0].actor} of contribution {work} may appeal its "
        f"moderation; {w.members[1].actor} may not",
    )
    decided = {"contribution": work, "outcome": "upheld", "reason": "ok", "note": None}
    refused(
        _post(w, w.brand, "AppealDecided", decided),
        409,
        "NoAppeal",
        f"no appeal was filed against the latest moderation of contribution {work}",
    )
    assert w.size() == before


def test_the_appeals_of_an_unknown_campaign_are_a_404(world: World) -> None:
    refused(
        world.client.get("/campaigns/nope/appeals"),
        404,
        "UnknownCampaign",
        f"no campaign 'nope' in the read models (as of position {world.size()})",
    )
