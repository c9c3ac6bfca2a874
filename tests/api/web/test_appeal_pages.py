"""Appeals on the pages (issue 19): the campaign page shows the appeals awaiting the brand,
``/c/{campaign}/appeals`` lists every appeal, and a piece shows where its appeal stands."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from html import unescape
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.bootstrap import bootstrap
from api.http.app import create_app
from api.settings import Settings
from domain.vocabulary import DEFAULT_POLICY
from tests.support import registration, seeded_key

CAMPAIGN = "appeals-26"
POLICY = {**DEFAULT_POLICY, "coauthor_consent": False, "review": True, "appeal_window": 86400}


@pytest.fixture
def pages(tmp_path: Path) -> Iterator[tuple[TestClient, dict[str, str], str]]:
    """A campaign where Ana's rejected piece awaits a decision on appeal and Ben's was
    reinstated; yields the client, the two pieces and Ana's actor id."""
    settings = Settings(
        database_url=f"sqlite:///{tmp_path}/a.sqlite", ledger_key_file=tmp_path / "l.key"
    )
    with bootstrap(settings) as services, TestClient(create_app(services)) as client:
        brand, ana, ben = (seeded_key(n) for n in (301, 302, 303))
        c = services.campaigns
        c.gate.append_batch([registration(k) for k in (brand, ana, ben)])
        now = datetime.now(UTC)
        c.open_campaign(
            brand, CAMPAIGN, title="Appeals", guidelines=b"be kind",
            starts_at=now - timedelta(days=1), ends_at=now + timedelta(days=30), policy=POLICY,
        )  # fmt: skip
        pieces = {}
        for key, title in ((ana, "Kite"), (ben, "Boat")):
            c.join(key, CAMPAIGN)
            work = c.submit(key, CAMPAIGN, title.encode(), kind="idea", title=title).ids
            pieces[title] = str(work["contribution"])
            c.moderate(brand, CAMPAIGN, pieces[title], "rejected", "off-guidelines")
            c.appeal(key, CAMPAIGN, pieces[title], "misjudged")
        c.decide_appeal(brand, CAMPAIGN, pieces["Boat"], "reinstated", "fair-point")
        yield client, pieces, ana.actor


def test_the_campaign_page_shows_the_appeals_awaiting_the_brand(pages) -> None:
    client, pieces, ana = pages
    html = unescape(client.get(f"/c/{CAMPAIGN}").text)
    shown = html[html.index('<h3 id="appeals">') :]
    assert "1 of 2 appeal(s) against a rejection or removal await the brand's decision" in shown
    assert f'href="/people/{ana}?campaign={CAMPAIGN}#c-{pieces["Kite"]}">Kite</a>' in shown
    assert ">Boat<" not in shown[: shown.index("</table>")]


def test_the_appeals_list_shows_every_appeal_open_ones_first(pages) -> None:
    client, pieces, _ = pages
    html = unescape(client.get(f"/c/{CAMPAIGN}/appeals").text)
    assert "Appeals" in html
    kite, boat = html.index(">Kite<"), html.index(">Boat<")
    assert kite < boat
    assert "reinstated" in html[boat:] and "filed" in html[kite:boat]


def test_a_piece_shows_where_its_appeal_stands(pages) -> None:
    client, pieces, ana = pages
    html = unescape(client.get(f"/people/{ana}?campaign={CAMPAIGN}").text)
    work = html[html.index(f'id="c-{pieces["Kite"]}"') :]
    assert "Appealed (log position " in work
    assert "against its rejected decision: awaiting the brand's decision." in work
