"""The web pages in Chromium, against ``cocred serve --demo`` on 127.0.0.1.

Each test loads a page as a person would, asserts what is visible (names,
amounts that add up to the pool, the SVG graphs), clicks through, downloads
what the buttons give, and saves a full-page screenshot.
"""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path
from typing import Any

import pytest

from ledger.provenance.bundles import ProofBundle, verify_bundle
from tests.browser.support import Server, screenshot

pytestmark = pytest.mark.browser

CAMPAIGN = "demo-1"
POOL = 750_000  # the demo's 5,000.00 EUR pool plus its 2,500.00 EUR funding


def cents(text: str) -> int:
    """``"1,685.64 EUR"`` → 168564 (exact, no float)."""
    match = re.fullmatch(r"\s*(-?)([\d,]+)\.(\d{2}) EUR\s*", text)
    assert match, f"not an amount in EUR: {text!r}"
    value = int(match[2].replace(",", "")) * 100 + int(match[3])
    return -value if match[1] else value


def test_the_home_page_leads_to_the_campaign(page: Any) -> None:
    page.goto("/")
    card = page.locator(f'a.campaign-card[href="/c/{CAMPAIGN}"]')
    assert card.is_visible()
    assert "design our summer collection" in card.inner_text()
    assert cents(card.locator("dd").first.inner_text()) == POOL
    screenshot(page, "home")
    card.click()
    page.wait_for_url(f"**/c/{CAMPAIGN}")
    assert page.locator("h1").inner_text() == "Cocred demo 1: design our summer collection"


def test_the_campaign_page_charts_shares_that_add_up_to_the_pool(page: Any) -> None:
    page.goto(f"/c/{CAMPAIGN}")
    assert cents(page.locator("#pool").inner_text()) == POOL
    amounts = [cents(t) for t in page.locator("#payouts tbody td.amount").all_inner_texts()]
    # The top 20 are shown; the total row sums every payee, and the list pages show the rest.
    assert 10 < len(amounts) <= 20 and sum(amounts) <= POOL
    assert amounts == sorted(amounts, reverse=True)
    assert cents(page.locator("#paid-total").inner_text()) == POOL
    assert page.locator("#sum-check").inner_text().startswith("✓ The payouts add up to the pool")
    names = page.locator("#payouts tbody td:nth-child(2) a").all_inner_texts()
    assert all(" " in n and len(n) < 43 for n in names), names  # display names, not actor ids
    bars = page.locator("svg.bars g.bar")
    assert bars.count() == 13  # the 12 largest, then everyone else
    assert bars.first.locator("text.bar-name").text_content() == names[0]
    assert page.locator("svg.bars").is_visible()
    assert int(page.locator("#count-removed").inner_text()) >= 1
    assert page.locator("#licences .badge.licence.revoked").count() == 1
    screenshot(page, "campaign")


def _export(page: Any, key: Path, fmt: str, tmp_path: Path) -> Path:
    page.set_input_files("#key-file", str(key))
    page.wait_for_selector("#export-status.ok")
    with page.expect_download() as download:
        page.click(f'button.export-button[data-format="{fmt}"]')
    path = tmp_path / download.value.suggested_filename
    download.value.save_as(path)
    return path


def test_an_export_button_signs_in_the_browser_and_saves_the_file(
    page: Any, server: Server, tmp_path: Path
) -> None:
    private_d = json.loads(server.brand_key.read_text())["d"]
    sent: list[str] = []
    page.on("request", lambda r: sent.append(f"{r.url} {r.headers} {r.post_data or ''}"))
    page.goto(f"/c/{CAMPAIGN}#exports")
    assert page.locator("button.export-button[data-format=csv]").is_disabled()
    saved = _export(page, server.brand_key, "csv", tmp_path)
    assert saved.name == f"{CAMPAIGN}-payouts.csv"
    rows = list(csv.DictReader(io.StringIO(saved.read_text())))
    assert sum(int(row["amount_minor"]) for row in rows) == POOL
    # the handles are for the brand; the demo's one erased payee (if it ran so far) has none
    assert sum(1 for row in rows if not row["payout_handle"]) <= 1
    assert "Saved" in page.locator("#export-status").inner_text()
    with page.expect_download() as download:
        page.click('button.export-button[data-format="json"]')
    document = json.loads(Path(download.value.path()).read_text())
    assert document["total"] == POOL and document["campaign"] == CAMPAIGN
    screenshot(page, "campaign-export")
    assert sent and not any(private_d in request for request in sent)  # the key stayed here


def test_an_export_refusal_is_shown_with_its_sentence(page: Any, server: Server) -> None:
    page.goto(f"/c/{CAMPAIGN}#exports")
    page.set_input_files("#key-file", str(server.brand_key))
    page.wait_for_selector("#export-status.ok")
    page.click('button.export-button[data-format="safe-csv"]')
    page.wait_for_selector("#export-status.bad")
    # the demo's payees hold SEPA or PayPal methods, none an Ethereum address
    assert page.locator("#export-status").inner_text().startswith("error[MissingPayoutHandle]: ")
    page.set_input_files("#key-file", str(server.member_key))  # a member, not the brand
    page.wait_for_selector("#export-status.ok")
    page.click('button.export-button[data-format="csv"]')
    page.wait_for_selector("#export-status.bad")
    assert page.locator("#export-status").inner_text().startswith("error[Forbidden]: only ")


def test_the_contributor_page_draws_lineage_and_explains_every_cent(
    page: Any, server: Server
) -> None:
    page.goto(f"/c/{CAMPAIGN}")
    top = page.locator("#payouts tbody tr").first
    name = top.locator("td:nth-child(2) a").inner_text()
    amount = cents(top.locator("td.amount").inner_text())
    top.locator("td:nth-child(2) a").click()
    page.wait_for_url("**/people/**")
    assert page.locator("#member-name").inner_text() == name
    assert cents(page.locator("#payout").inner_text()) == amount
    assert cents(page.locator("#items-total").inner_text()) == amount
    groups = [cents(t) for t in page.locator("#breakdown tbody td.amount").all_inner_texts()]
    assert sum(groups) == amount
    assert page.locator("#cents-check").inner_text().startswith("✓ The items add up")
    graph = page.locator("svg.lineage").first
    graph.scroll_into_view_if_needed()
    assert graph.is_visible()
    assert graph.locator("g.node").count() >= 2 and graph.locator("path.edge").count() >= 1
    assert graph.locator("g.node.focus").count() == 1
    assert re.fullmatch(
        r"\d+(\.\d+)?%( default)?", graph.locator("g.edge-label text").first.text_content()
    )
    assert page.locator("ol.timeline li").count() > 10
    assert page.locator("#items + p, #items ~ nav.pager").first.is_visible()
    assert page.locator("#items ~ div.scroll tbody tr").count() >= 1
    screenshot(page, "contributor")
    with page.expect_download() as download:
        page.locator("article.work a.button", has_text="Proof bundle").first.click()
    bundle = ProofBundle.from_json(json.loads(Path(download.value.path()).read_text()))
    vkey = page.request.get(server.url + "/ledger-key").json()["vkey"]
    assert verify_bundle(bundle, vkey).type == "ContributionSubmitted"


def test_the_auditor_page_shows_the_recorded_audit_and_checkpoints(page: Any) -> None:
    page.goto("/audit")
    assert page.locator("#audit-verdict").inner_text().startswith("✓ Passed")
    assert page.locator("ul.audit-steps li").count() == 7  # 6: payments, 7: checkpoint lag
    assert page.locator("#checkpoint-table tbody tr").count() >= 1
    assert re.fullmatch(
        r"[0-9a-f]{64}", page.locator("#checkpoint-table code.hash").first.inner_text()
    )
    vkey = page.locator("#vkey").inner_text()
    assert vkey in page.locator("pre.commands").inner_text()
    assert "No anchor recorded yet" in page.locator("#anchors").inner_text()
    screenshot(page, "auditor")


def test_an_unknown_campaign_gets_the_not_found_page(page: Any) -> None:
    response = page.goto("/c/no-such-campaign")
    assert response.status == 404
    assert page.locator("h1").inner_text() == "Not found"
    assert "No campaign 'no-such-campaign'" in page.locator("p.sentence").inner_text()
    screenshot(page, "not-found")
    page.click("text=list of campaigns")
    page.wait_for_url("**/")
    assert page.locator(f'a.campaign-card[href="/c/{CAMPAIGN}"]').is_visible()
