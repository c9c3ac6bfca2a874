"""Reports over HTTP: a member posts ContributionReported to POST /events like any act, and
anyone reads the campaign's reported pieces, most reported first, a page at a time."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from ledger.envelope import sign_envelope
from tests.api.http.routes.test_contributors import OPEN_CAMPAIGN, World, demo_world, refused


@pytest.fixture
def world(store_url: str, tmp_path: Path) -> Iterator[World]:
    """The demo world (SQLite, then PostgreSQL) and an open campaign that four members joined,
    each with a piece."""
    with demo_world(store_url, tmp_path) as w:
        c = w.services.campaigns
        c.open_campaign(
            w.brand, OPEN_CAMPAIGN, title="Open", guidelines=b"be kind",
            starts_at="2025-01-01T00:00:00Z", ends_at="2099-01-01T00:00:00Z",
        )  # fmt: skip
        for key in w.members[:4]:
            c.join(key, OPEN_CAMPAIGN)
        yield w


def _piece(w: World, n: int) -> str:
    receipt = w.services.campaigns.submit(
        w.members[n], OPEN_CAMPAIGN, f"piece {n}".encode(), kind="idea", title=f"Piece {n}"
    )
    return str(receipt.ids["contribution"])


def _report(w: World, n: int, contribution: str, reason: str, text: str | None = None):
    key = w.members[n]
    body = {
        "contribution": contribution,
        "reason": reason,
        "text": None if text is None else hashlib.sha256(text.encode()).hexdigest(),
    }
    seq = w.services.ledger.next_seq(key.actor)
    envelope = sign_envelope(key, "ContributionReported", body, seq=seq, campaign=OPEN_CAMPAIGN)
    return w.client.post("/events", content=envelope.canonical_bytes())


def test_a_report_is_posted_as_an_event_and_the_queue_pages_by_reports_then_age(
    world: World,
) -> None:
    w = world
    first, second, third = _piece(w, 0), _piece(w, 1), _piece(w, 2)
    assert _report(w, 1, first, "spam").status_code == 201
    for n, reason in ((0, "plagiarism"), (2, "plagiarism"), (3, "other")):
        assert _report(w, n, second, reason, f"why {n}").status_code == 201
    assert _report(w, 3, third, "harassment").status_code == 201
    path = f"/campaigns/{OPEN_CAMPAIGN}/reports"
    page = w.client.get(path, params={"limit": 2}).json()
    assert (page["total"], page["reports"], page["next"]) == (3, 5, 2)
    assert [(p["contribution"], p["reports"]) for p in page["pieces"]] == [(second, 3), (first, 1)]
    assert page["pieces"][0]["reasons"] == {
        "spam": 0, "harassment": 0, "plagiarism": 2, "off-guidelines": 0, "personal-data": 0,
        "other": 1,
    }  # fmt: skip
    assert page["pieces"][0]["status"] == "open"
    rest = w.client.get(path, params={"from": 2, "limit": 2}).json()
    assert [p["contribution"] for p in rest["pieces"]] == [third] and rest["next"] is None
    cited = f"{w.members[3].actor}:{w.services.ledger.next_seq(w.members[3].actor) - 1}"
    w.services.campaigns.moderate(
        w.brand, OPEN_CAMPAIGN, third, "removed", "abuse", reports=[cited]
    )
    moderation = w.client.get(f"/campaigns/{OPEN_CAMPAIGN}/moderation").json()
    history = {c["contribution"]: c["moderation"] for c in moderation["contributions"]}
    assert [m["reports"] for m in history[third]] == [[cited]] and history[first] == []


def test_a_refused_report_over_http_has_its_status_and_writes_nothing(world: World) -> None:
    w = world
    mine = _piece(w, 0)
    before = w.size()
    refused(
        _report(w, 0, mine, "spam"),
        403,
        "SelfReport",
        f"member {w.members[0].actor} is an author of contribution {mine}: "
        f"nobody reports their own work",
    )
    assert _report(w, 1, mine, "spam").status_code == 201
    refused(
        _report(w, 1, mine, "other"),
        409,
        "DuplicateReport",
        f"member {w.members[1].actor} already reported contribution {mine} "
        f"(report {w.members[1].actor}:{w.services.ledger.next_seq(w.members[1].actor) - 1}): "
        f"one report per member per piece",
    )
    assert w.size() == before + 1


def test_the_reports_of_an_unknown_campaign_are_a_404(world: World) -> None:
    refused(
        world.client.get("/campaigns/nope/reports"),
        404,
        "UnknownCampaign",
        f"no campaign 'nope' in the read models (as of position {world.size()})",
    )
