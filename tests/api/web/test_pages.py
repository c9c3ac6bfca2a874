"""The web pages without a browser: a small demo campaign, read through the HTTP app.

The campaign, contributor and auditor pages are server-rendered HTML; these tests
read what they say (names, amounts, the lineage SVG, 404 sentences) and check it
against the projections it is built from. ``tests/browser`` drives the same pages
in Chromium.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from html import unescape
from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient

from api.bootstrap import Services, bootstrap
from api.http.app import create_app
from api.settings import Settings
from api.web.svg import BarInput, GraphEdge, GraphNode, bar_chart, lineage_layout
from domain.demo.generator import DemoSummary, build_demo
from domain.policy import DEFAULT_POLICY_V1, DEFAULT_POLICY_V2
from domain.profiles import Profile
from ledger.provenance.anchoring import AnchorableCheckpoint, AnchorReceipt
from ledger.provenance.audit import AuditReport, audit
from ledger.provenance.audit_reports import AuditReports
from ledger.provenance.bundles import ProofBundle, verify_bundle
from ledger.store.engine import engine_for
from ledger.verify import Failure
from projections.export import FORMATS
from projections.queries import leaderboard
from tests.support import registration, seeded_key

HOSTILE = '<script>alert("x")</script><svg onload=alert(1)>'


class Site:
    """A demo campaign behind the HTTP app."""

    def __init__(self, services: Services, client: TestClient, demo: DemoSummary) -> None:
        self.services = services
        self.client = client
        self.demo = demo

    def get(self, path: str) -> tuple[int, str, str]:
        response = self.client.get(path)
        return response.status_code, response.headers["content-type"], response.text

    def standings(self):  # the projections' own leaderboard, to compare the page with
        projector = self.client.app.state.reads.projector()
        return leaderboard(projector, self.demo.campaign)


def _open(tmp: Path, policy: Mapping[str, Any] | None = None) -> tuple[Services, DemoSummary]:
    settings = Settings(database_url=f"sqlite:///{tmp}/pages.sqlite", ledger_key_file=tmp / "l.key")
    services = bootstrap(settings)
    return services, build_demo(services, members=20, contributions=60, votes=300, policy=policy)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """Shared by the read-only tests of this module."""
    services, demo = _open(tmp_path_factory.mktemp("pages"))
    with services, TestClient(create_app(services)) as client:
        yield Site(services, client, demo)


@pytest.fixture
def own_site(tmp_path: Path) -> Iterator[Site]:
    """A site of its own, for tests that append."""
    services, demo = _open(tmp_path)
    with services, TestClient(create_app(services)) as client:
        yield Site(services, client, demo)


def section(html: str, marker: str, end: str = "</section>") -> str:
    start = html.index(marker)
    return html[start : html.index(end, start)]


def minor_amounts(html: str) -> list[int]:
    return [int(x) for x in re.findall(r'class="num amount" data-minor="(\d+)"', html)]


# -- home --------------------------------------------------------------------------------------


def test_the_home_page_lists_the_campaigns_and_links_to_the_other_pages(site: Site) -> None:
    status, kind, html = site.get("/")
    assert status == 200 and kind.startswith("text/html")
    assert f'href="/c/{site.demo.campaign}"' in html
    assert "Cocred demo 1: design our summer collection" in html
    assert 'href="/audit"' in html and "7,500.00 EUR" in html
    assert 'href="/static/style.css"' in html
    assert site.client.get("/static/style.css").status_code == 200


# -- campaign ----------------------------------------------------------------------------------


def test_the_campaign_leaderboard_names_the_payees_and_adds_up_to_the_pool(site: Site) -> None:
    row, standings = site.standings()
    pool = row["pool"] + row["funded"]
    status, kind, html = site.get(f"/c/{site.demo.campaign}")
    assert status == 200 and kind.startswith("text/html")
    table = section(html, 'id="payouts"', "</table>")
    paid = [s for s in standings if s.amount > 0]
    assert minor_amounts(table) == [s.amount for s in paid]
    assert sum(minor_amounts(table)) == pool == 750_000
    assert re.search(r'id="paid-total" data-minor="750000">7,500.00 EUR<', table)
    assert "✓ The payouts add up to the pool: 7,500.00 EUR = 7,500.00 EUR." in html
    names = site.services.campaigns.labels([s.member for s in paid])
    for standing in paid:
        assert unescape(names[standing.member]) in unescape(table)
    chart = section(html, '<svg class="bars"', "</svg>")
    assert chart.count('<g class="bar') == min(len(paid), 13)
    assert names[paid[0].member] in chart


def test_the_campaign_page_shows_moderation_licences_reuses_and_exports(site: Site) -> None:
    demo = site.demo
    html = site.get(f"/c/{demo.campaign}")[2]
    moderation = section(html, 'id="moderation"')
    assert re.search(rf'id="count-removed">{len(demo.removed)}<', moderation)
    assert re.search(rf'id="count-rejected">{len(demo.rejected)}<', moderation)
    assert moderation.count('class="badge outcome-removed"') == len(demo.removed)
    assert "Blocked members" in moderation and "spam" in moderation
    licences = section(html, 'id="licences"')
    assert licences.count('<tr class="licence-') == sum(len(v) for v in demo.licences.values())
    assert 'class="badge licence revoked"' in licences
    assert 'class="badge licence incomplete"' in licences
    assert section(licences, "Recorded reuses", "</table>").count("<tr>") == demo.reuses + 1
    exports = section(html, 'id="exports"')
    for fmt in FORMATS:
        assert f'data-format="{fmt}"' in exports
    assert 'src="/static/export.js"' in html
    assert site.client.get("/static/export.js").status_code == 200


def test_the_campaign_page_lists_the_reported_pieces_and_their_reasons_never_a_text(
    site: Site,
) -> None:
    from projections.reports import moderation_queue

    campaign = site.demo.campaign
    queue = moderation_queue(site.services.reads.projector(), campaign)
    assert queue.reports > 0, "the demo's spam is reported before it is removed"
    html = site.get(f"/c/{campaign}")[2]
    reported = section(section(html, 'id="moderation"'), 'id="reports"', "</table>")
    assert f"{queue.reports} report(s) by members on {queue.total} piece(s) and comment(s)" in (
        reported
    )
    assert reported.count("<tr>") == queue.total + 1
    first = queue.pieces[0]
    assert f"spam {first.reasons['spam']}" in reported and first.title in unescape(reported)
    assert 'class="badge status-removed"' in reported
    status, _, listed = site.get(f"/c/{campaign}/reports")
    assert status == 200 and "Reported pieces and comments" in listed
    assert listed.count("<tr>") == queue.total + 1


def test_the_public_preview_is_the_hashed_export_without_payout_handles(site: Site) -> None:
    campaign = site.demo.campaign
    html = site.get(f"/c/{campaign}")[2]
    shown = re.search(r'id="export-hash">([0-9a-f]{64})<', html)
    canonical = site.client.get(f"/c/{campaign}/preview.json")
    assert canonical.headers["content-disposition"].startswith("attachment;")
    assert shown and hashlib.sha256(canonical.content).hexdigest() == shown[1]
    document = orjson.loads(canonical.content)
    assert sum(line["amount"] for line in document["lines"]) == document["total"] == 750_000
    rows = site.client.get(f"/c/{campaign}/preview.csv").text.splitlines()
    assert rows[0].startswith("member,payout_handle,amount")
    assert all(row.split(",")[1] == "" for row in rows[1:])  # no payout handle leaves
    assert "DE00 DEMO" not in site.client.get(f"/c/{campaign}/preview.csv").text


# -- contributor -------------------------------------------------------------------------------


def test_a_contributor_page_explains_every_cent_and_draws_each_lineage(site: Site) -> None:
    _, standings = site.standings()
    top = standings[0]
    name = site.services.campaigns.labels([top.member])[top.member]
    status, kind, html = site.get(f"/people/{top.member}?campaign={site.demo.campaign}")
    assert status == 200 and kind.startswith("text/html")
    assert f'<h1 id="member-name">{name}</h1>' in html
    earnings = section(html, 'id="earnings"')
    money = f"{top.amount // 100:,}.{top.amount % 100:02d} EUR"
    assert f'id="payout">{money}<' in html
    assert re.search(rf'id="items-total" data-minor="{top.amount}">{money}<', earnings)
    assert sum(minor_amounts(earnings)) == top.amount
    assert "✓ The items add up to the payout, to the cent" in earnings
    works = section(html, 'id="works"')
    graphs = re.findall(r'<svg class="lineage".*?</svg>', works, re.S)
    assert graphs, "the top earner's work has been remixed: its lineage is drawn"
    for graph in graphs:
        assert graph.count('<g class="node focus') == 1
        assert graph.count('<g class="node') >= 2
        assert graph.count('<path class="edge') >= 1
        assert re.search(r'<text x="[\d.]+" y="[\d.]+" text-anchor="middle">\d+(\.\d+)?%', graph)
    timeline = section(html, 'id="timeline"')
    assert timeline.count('<li class="event') >= html.count('<article class="work"')
    assert "joined the campaign" in timeline
    shown = re.sub(r"<[^>]+>", " ", timeline)  # the text people read, without the links
    assert not re.search(r"[A-Za-z0-9_-]{43}", shown), "every actor is named by their label"


def test_a_proof_bundle_link_downloads_a_bundle_that_verifies_offline(site: Site) -> None:
    _, standings = site.standings()
    html = site.get(f"/people/{standings[0].member}")[2]
    link = re.search(r'href="(/proofs/bundle/(\d+))" download="cocred-proof-\2\.json"', html)
    assert link
    bundle = ProofBundle.from_json(site.client.get(link[1]).json())
    env = verify_bundle(bundle, site.services.provenance.identity.vkey)
    assert env.actor == standings[0].member and bundle.position == int(link[2])


def test_an_erased_member_is_shown_as_erased_member(own_site: Site) -> None:
    from domain.demo.story import demo_key

    key = demo_key(own_site.demo.seed, "member", 0)
    name = own_site.services.campaigns.labels([key.actor])[key.actor]
    own_site.services.campaigns.erase(key)
    html = own_site.get(f"/people/{key.actor}")[2]
    assert '<h1 id="member-name">erased member</h1>' in html
    assert name not in html and "@example.org" not in html
    assert name not in own_site.get(f"/c/{own_site.demo.campaign}")[2]


def test_a_registered_key_without_a_campaign_has_a_page_saying_so(own_site: Site) -> None:
    newcomer = seeded_key(711)
    own_site.services.campaigns.gate.append(registration(newcomer))
    status, _, html = own_site.get(f"/people/{newcomer.actor}")
    assert status == 200 and "no part in any campaign yet" in html
    brand = own_site.demo.brand
    assert f'href="/c/{own_site.demo.campaign}"' in own_site.get(f"/people/{brand}")[2]


# -- not found and escaping --------------------------------------------------------------------


@pytest.mark.parametrize(
    "path, sentence",
    [
        ("/c/no-such-campaign", "No campaign &#39;no-such-campaign&#39; in the log"),
        ("/c/no-such-campaign/preview.json", "No campaign &#39;no-such-campaign&#39; in the log"),
        ("/c/demo-1/preview.xml", "No preview in format &#39;xml&#39;: use json or csv"),
        ("/people/nobody", "No member &#39;nobody&#39; in this ledger"),
        ("/people/nobody?campaign=nope", "No campaign &#39;nope&#39; in this ledger"),
    ],
)
def test_unknown_things_get_an_html_404_page_with_the_sentence(
    site: Site, path: str, sentence: str
) -> None:
    status, kind, html = site.get(path)
    assert (status, kind.split(";")[0]) == (404, "text/html")
    assert "<h1>Not found</h1>" in html and sentence in html


def test_a_member_outside_the_campaign_asked_for_gets_a_404(own_site: Site) -> None:
    brand = seeded_key(712)
    services = own_site.services.campaigns
    services.gate.append(registration(brand))
    now = datetime.now(UTC).replace(microsecond=0)
    services.open_campaign(
        brand,
        "other-one",
        title="Other",
        guidelines=b"g",
        starts_at=now - timedelta(days=1),
        ends_at=now + timedelta(days=1),
    )
    member = own_site.standings()[1][0].member
    status, _, html = own_site.get(f"/people/{member}?campaign=other-one")
    assert status == 404 and f"Member {member} has no part in campaign other-one." in html


def test_hostile_names_and_titles_are_escaped_in_html_and_svg(own_site: Site) -> None:
    services = own_site.services.campaigns
    brand, ana, ben = seeded_key(721), seeded_key(722), seeded_key(723)
    for key in (brand, ana, ben):
        services.gate.append(registration(key))
    now = datetime.now(UTC).replace(microsecond=0)
    services.open_campaign(
        brand,
        "hostile",
        title=HOSTILE,
        guidelines=b"be kind",
        starts_at=now - timedelta(days=1),
        ends_at=now + timedelta(days=1),
        pool=10_000,
    )
    for key in (ana, ben):
        services.join(key, "hostile")
    services.set_profile(ana, Profile.create(HOSTILE, "ana@example.org", "ana"))
    work = services.submit(ana, "hostile", b"an idea", kind="idea", title=HOSTILE).ids
    services.remix(
        ben,
        "hostile",
        b"a remix",
        kind="design",
        title=HOSTILE + " remix",
        derived_from=[(work["contribution"], "1/5")],
    )
    services.cast_vote(ben, "hostile", work["contribution"], "support")
    pages = [
        own_site.get("/")[2],
        own_site.get("/c/hostile")[2],
        own_site.get(f"/people/{ana.actor}?campaign=hostile")[2],
        own_site.get(f"/people/{ben.actor}")[2],
    ]
    for html in pages:
        assert "<script>alert" not in html and "<svg onload" not in html
        assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html
    graph = re.search(r'<svg class="lineage".*?</svg>', pages[2], re.S)
    assert graph and "&lt;script&gt;" in graph[0] and "<script>" not in graph[0]
    bars = re.search(r'<svg class="bars".*?</svg>', pages[1], re.S)
    assert bars and "&lt;script&gt;" in bars[0]


# -- auditor -----------------------------------------------------------------------------------


class _Notary:
    """A stand-in for the chain adapter: it 'anchors' a root and hands out a receipt."""

    def anchor(self, checkpoint: AnchorableCheckpoint) -> AnchorReceipt:
        return AnchorReceipt(
            chain_id=31337,
            contract="0x" + "5f" * 20,
            tx_hash=hashlib.sha256(checkpoint.root_hash).digest(),
            block_number=42,
            root_hash=checkpoint.root_hash,
            tree_size=checkpoint.size,
            gas_used=51_000,
        )

    def lookup(self, root: bytes) -> None:
        return None


def test_the_auditor_page_shows_checkpoints_anchors_the_latest_audit_and_the_key(
    own_site: Site,
) -> None:
    services = own_site.services
    html = own_site.get("/audit")[2]
    assert "No audit recorded yet — run <code>cocred audit</code>." in html
    assert "No anchor recorded yet" in html
    provenance = services.provenance
    provenance.anchor_port = _Notary()
    recorded = provenance.anchor_now()
    checkpoints = provenance.checkpoints.all()
    report = audit(services.ledger.store, checkpoints, provenance.identity.vkey)
    assert report.ok, report.failure
    engine = engine_for(services.settings.database_url)
    try:
        AuditReports(engine).record(report, "2026-01-02T03:04:05Z")
        status, kind, html = own_site.get("/audit")
        assert status == 200 and kind.startswith("text/html")
        assert "✓ Passed" in html
        assert f"<dd>{report.events:,}</dd>" in html
        for step in report.steps:
            assert step in html
        anchors = section(html, 'id="anchors"')
        receipt = recorded.receipt
        assert f"0x{receipt.tx_hash.hex()}" in anchors and ">31337<" in anchors
        assert f">{receipt.tree_size:,}<" in anchors and ">42<" in anchors
        table = section(html, 'id="checkpoints"')
        assert all(c.root.hex() in table for c in checkpoints)
        assert provenance.identity.vkey in section(html, 'id="verify"')
        failed = AuditReport(events=9, failure=Failure(7, "roots", "root mismatch at size 8"))
        AuditReports(engine).record(failed, "2026-01-02T04:00:00Z")
        html = own_site.get("/audit")[2]
        assert "✗ Failed" in html
        assert "First failure at log position 7, step\n    <strong>roots</strong>" in html
    finally:
        engine.dispose()


# -- layouts -----------------------------------------------------------------------------------


def _node(name: str, position: int) -> GraphNode:
    return GraphNode(name, position, name, "someone", "open")


def test_the_lineage_layout_puts_ancestors_above_and_descendants_below() -> None:
    a, b, focus, c, d = (_node(n, i) for i, n in enumerate("ab*cd"))
    edges = [
        GraphEdge("a", "b", "20%"),
        GraphEdge("b", "*", "30%"),
        GraphEdge("a", "*", "10%"),
        GraphEdge("*", "c", "20%"),
        GraphEdge("c", "d", "20%"),
        GraphEdge("x", "d", "5%"),
    ]
    layout = lineage_layout(focus, [a, b], [c, d], edges)
    y = {n.node.id: n.y for n in layout.nodes}
    assert y["a"] < y["b"] < y["*"] < y["c"] < y["d"]  # a is two steps up, via b
    assert len(layout.edges) == 5 and layout.hidden == 0  # the edge from outside is dropped
    assert [n.role for n in layout.nodes if n.node.id == "*"] == ["focus"]


def test_the_lineage_layout_leaves_out_and_counts_what_does_not_fit() -> None:
    focus = _node("*", 0)
    children = [_node(f"k{i}", i + 1) for i in range(8)]
    grandchild = _node("g", 20)
    edges = [GraphEdge("*", k.id, "20%") for k in children] + [GraphEdge("k0", "g", "20%")]
    layout = lineage_layout(focus, [], [*children, grandchild], edges, max_depth=1, max_per_layer=5)
    # k0..k3 drawn, and "5 more" in the fifth slot: k4..k7, and g a generation too deep.
    assert len(layout.nodes) == 6 and layout.hidden == 5
    assert [n.node.title for n in layout.nodes if n.node.id == "more:1"] == ["5 more"]
    assert all(n.x >= 0 and n.x + n.w <= layout.width for n in layout.nodes)


def test_the_bar_chart_draws_the_largest_and_groups_the_others() -> None:
    items = [BarInput(f"m{i}", amount) for i, amount in enumerate([500, 300, 100, 60, 40])]
    chart = bar_chart(items, 1000, lambda cents: f"{cents // 100}.{cents % 100:02d} EUR", top=3)
    assert [b.label for b in chart.bars] == ["m0", "m1", "m2", "2 others"]
    assert [b.value_text for b in chart.bars][-1] == "1.00 EUR"
    assert [b.share_text for b in chart.bars] == ["50.00%", "30.00%", "10.00%", "10.00%"]
    assert chart.bars[0].w > chart.bars[1].w > chart.bars[2].w


def test_the_auditor_page_says_how_far_the_latest_checkpoint_lags_the_log(tmp_path: Path) -> None:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path}/lag.sqlite", ledger_key_file=tmp_path / "l.key"
    )
    with bootstrap(settings) as services:
        client = TestClient(create_app(services))  # no lifespan: no background cuts to race with
        for n in (1, 2):
            services.ledger.append(registration(seeded_key(n)))
        lag = section(client.get("/audit").text, 'id="checkpoint-lag"', "</p>")
        assert (
            "No checkpoint covers any of the log's\n    2 events yet: it lags by 2 event(s)." in lag
        )
        services.provenance.checkpoints.cut()
        services.ledger.append(registration(seeded_key(3)))
        lag = unescape(section(client.get("/audit").text, 'id="checkpoint-lag"', "</p>"))
        assert (
            "The latest checkpoint (tree size 2) lags the log\n"
            "    (3 events) by <strong>1 event(s)</strong>" in lag
        )
        assert re.search(r"and <strong>\d+\.\d s</strong>\.", lag)
        services.provenance.checkpoints.cut()
        lag = section(client.get("/audit").text, 'id="checkpoint-lag"', "</p>")
        assert "The latest checkpoint covers the whole log (3 events), cut" in lag
        assert "it lags by 0 events and 0 s." in lag


def test_a_ring_members_page_says_which_of_their_votes_circulate_under_v2(tmp_path: Path) -> None:
    services, demo = _open(tmp_path, policy=DEFAULT_POLICY_V2)
    with services, TestClient(create_app(services)) as client:
        site = Site(services, client, demo)
        puppet = site.demo.ring["members"][0]
        status, _, html = site.get(f"/people/{puppet}?campaign={site.demo.campaign}")
    assert status == 200
    earnings = section(html, 'id="earnings"')
    assert "discount(s) under cocred-fair v2, and why" in earnings
    assert "members whose votes come back to you" in earnings


def test_a_v1_demo_page_names_no_v2_discount(tmp_path: Path) -> None:
    services, demo = _open(tmp_path, policy=DEFAULT_POLICY_V1)
    with services, TestClient(create_app(services)) as client:
        site = Site(services, client, demo)
        puppet = site.demo.ring["members"][0]
        status, _, html = site.get(f"/people/{puppet}?campaign={site.demo.campaign}")
    assert status == 200
    assert "cocred-fair v2" not in section(html, 'id="earnings"')


def test_pending_and_declined_co_authorships_are_shown_on_both_pages(own_site: Site) -> None:
    brand, ana, cy = seeded_key(721), seeded_key(722), seeded_key(723)
    services = own_site.services.campaigns
    services.gate.append_batch([registration(k) for k in (brand, ana, cy)])
    now = datetime.now(UTC).replace(microsecond=0)
    services.open_campaign(
        brand, "duo-26", title="Duo", guidelines=b"g",
        starts_at=now - timedelta(days=1), ends_at=now + timedelta(days=1),
    )  # fmt: skip
    for member in (ana, cy):
        services.join(member, "duo-26")
    authors = [(ana.actor, 60), (cy.actor, 40)]
    pending, declined = (
        str(
            services.submit(
                ana, "duo-26", title.encode(), kind="idea", title=title, authors=authors
            ).ids["contribution"]
        )
        for title in ("Waiting piece", "Refused piece")
    )
    services.decline_coauthorship(cy, "duo-26", declined, "not-my-work")
    names = services.labels([cy.actor])
    status, _, html = own_site.get("/c/duo-26")
    assert status == 200
    listed = unescape(section(html, '<ul class="plain" id="coauthorships">', "</ul>"))
    assert "Waiting piece" in listed and "Refused piece" in listed
    assert "pending</span> waiting for" in listed and "declined</span> by" in listed
    assert names[cy.actor] in listed
    status, _, page = own_site.get(f"/people/{ana.actor}?campaign=duo-26")
    assert status == 200
    text = unescape(page)
    waiting = section(text, f'id="c-{pending}"', "</article>")
    assert "Pending co-authorship: waiting for" in waiting and names[cy.actor] in waiting
    refused = section(text, f'id="c-{declined}"', "</article>")
    assert "Declined by co-author" in refused and "earns nothing" in refused
    cys = unescape(own_site.get(f"/people/{cy.actor}?campaign=duo-26")[2])
    said = section(cys, 'id="timeline"')
    assert "declined the co-authorship of" in said and "reason: not-my-work" in said


def test_a_reported_comment_is_in_the_brands_queue_on_the_pages_and_the_api(
    own_site: Site,
) -> None:
    """Members report comments too (issue 19): the brand's queue lists the comment beside
    the reported pieces, linked to it in its thread, on the campaign page, on
    /c/{c}/reports and in GET /campaigns/{c}/reports."""
    brand, ana, ben, cy = (seeded_key(n) for n in (741, 742, 743, 744))
    services = own_site.services.campaigns
    services.gate.append_batch([registration(k) for k in (brand, ana, ben, cy)])
    now = datetime.now(UTC).replace(microsecond=0)
    services.open_campaign(
        brand, "rude-26", title="Rude", guidelines=b"g",
        starts_at=now - timedelta(days=1), ends_at=now + timedelta(days=1),
    )  # fmt: skip
    for member in (ana, ben, cy):
        services.join(member, "rude-26")
    work = str(services.submit(ana, "rude-26", b"k", kind="idea", title="Kite").ids["contribution"])
    rude = services.post_comment(ben, "rude-26", work, b"you are all idiots").ids["comment"]
    for member in (ana, cy):
        services.report_comment(member, "rude-26", rude, "harassment")
    names = services.labels([ben.actor])
    html = unescape(own_site.get("/c/rude-26")[2])
    reported = section(section(html, 'id="moderation"'), 'id="reports"', "</table>")
    assert "2 report(s) by members on 1 piece(s) and comment(s)" in reported
    assert f'<a href="/c/rude-26/comments/{work}#m-{rude}">A comment</a> on Kite' in reported
    assert names[ben.actor] in reported and "harassment 2" in reported
    assert '<span class="badge status-shown">shown</span>' in reported
    listed = unescape(own_site.get("/c/rude-26/reports")[2])
    assert f'href="/c/rude-26/comments/{work}#m-{rude}">A comment on Kite</a>' in listed
    answer = own_site.client.get("/campaigns/rude-26/reports").json()
    assert (answer["total"], answer["reports"]) == (1, 2)
    (item,) = answer["pieces"]
    assert (item["comment"], item["contribution"], item["kind"], item["signer"]) == (
        rude, work, "comment", ben.actor,
    )  # fmt: skip
    assert (item["status"], item["reasons"]["harassment"]) == ("shown", 2)


def test_a_pieces_thread_page_indents_replies_marks_the_brand_and_hides_text(
    own_site: Site,
) -> None:
    brand, ana, ben = seeded_key(731), seeded_key(732), seeded_key(733)
    services = own_site.services.campaigns
    services.gate.append_batch([registration(k) for k in (brand, ana, ben)])
    now = datetime.now(UTC).replace(microsecond=0)
    services.open_campaign(
        brand, "talk-26", title="Talk", guidelines=b"g",
        starts_at=now - timedelta(days=1), ends_at=now + timedelta(days=1),
    )  # fmt: skip
    for member in (ana, ben):
        services.join(member, "talk-26")
    work = str(services.submit(ana, "talk-26", b"k", kind="idea", title="Kite").ids["contribution"])
    question = services.post_comment(ben, "talk-26", work, b"Which <b>wind</b>?").ids["comment"]
    services.post_comment(brand, "talk-26", work, b"A breeze.", parent=question, as_brand=True)
    noise = services.post_comment(ben, "talk-26", work, b"secret spam").ids["comment"]
    services.hide_comment(brand, "talk-26", noise, "spam")
    status, _, html = own_site.get(f"/c/talk-26/comments/{work}")
    assert status == 200
    thread = section(html, '<section class="card" id="thread">')
    items = re.findall(r'<li class="comment depth-(\d)" id="m-([^"]+)">(.*?)</li>', thread, re.S)
    assert [(depth, cid) for depth, cid, _ in items] == [
        ("0", question),
        ("1", items[1][1]),
        ("0", noise),
    ]
    assert "Which &lt;b&gt;wind&lt;/b&gt;?" in items[0][2]
    assert '<span class="badge brand">brand</span>' in items[1][2] and "A breeze." in items[1][2]
    assert "hidden by the brand: spam" in items[2][2] and "secret spam" not in html
    person = own_site.get(f"/people/{ana.actor}?campaign=talk-26")[2]
    assert f'href="/c/talk-26/comments/{work}#thread">3 comment(s) on Kite</a>' in person
    missing = f"{ana.actor}:99"
    status, _, html = own_site.get(f"/c/talk-26/comments/{missing}")
    assert status == 404 and f"Campaign talk-26 has no contribution {missing}." in html
