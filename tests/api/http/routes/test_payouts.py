"""The payout lifecycle over HTTP: the public proposal with its window and objections, and
the brand's signed status of what is paid, owed and unpaid. The writes are signed
envelopes through ``POST /events`` (the demo's ending signs them the same way)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from projections.demo_payouts import pay_demo
from tests.api.http.routes.test_contributors import SEED, SIZES, World, demo_world, signed_get


@pytest.fixture
def paid(tmp_path: Path) -> Iterator[tuple[World, dict]]:
    with demo_world(f"sqlite:///{tmp_path}/api.sqlite", tmp_path) as w:
        ending = pay_demo(w.services.campaigns, w.demo.campaign, SEED, SIZES["members"])
        yield w, ending


def test_anyone_reads_the_proposal_its_window_and_the_answered_objection(
    paid: tuple[World, dict],
) -> None:
    w, ending = paid
    shown = w.client.get(f"/campaigns/{w.demo.campaign}/payouts/proposal").json()
    assert (shown["stage"], shown["proposal"]) == ("settled", ending["proposal"])
    assert shown["window_ends"] == "2025-07-08T12:00:00Z"
    [objection] = shown["objections"]
    assert objection["objection"] == ending["objection"] and objection["reason"] == "wrong-amount"
    assert objection["answer"]["outcome"] == "rejected"
    assert sum(shown["payees"].values()) == shown["total"]


def test_the_brand_reads_paid_owed_and_unpaid_and_nobody_else_does(
    paid: tuple[World, dict],
) -> None:
    w, ending = paid
    path = f"/campaigns/{w.demo.campaign}/payouts/status"
    status = signed_get(w.client, w.brand, path).json()
    [unpaid] = ending["unpaid"]
    assert (status["stage"], status["owed"], status["unpaid"]) == (
        "settled", unpaid["amount"], unpaid["amount"],
    )  # fmt: skip
    assert status["paid"] + status["owed"] == status["settled"]
    assert [r["unpaid"] for r in status["lines"] if r["member"] == unpaid["member"]] == ["erased"]
    assert {p["rail"] for p in status["payments"]} == {"sepa", "paypal"}
    refused = signed_get(w.client, w.ana, path)
    assert (refused.status_code, refused.json()["error"]) == (403, "Forbidden")


def test_a_campaign_without_a_proposal_shows_its_open_stage(tmp_path: Path) -> None:
    with demo_world(f"sqlite:///{tmp_path}/api.sqlite", tmp_path) as w:
        shown = w.client.get(f"/campaigns/{w.demo.campaign}/payouts/proposal").json()
        assert (shown["stage"], shown["proposal"], shown["objections"]) == ("open", None, [])
        missing = w.client.get("/campaigns/winter-27/payouts/proposal")
        assert (missing.status_code, missing.json()["error"]) == (404, "UnknownCampaign")


def test_the_pages_show_the_proposal_the_answer_and_what_is_paid_and_owed(
    paid: tuple[World, dict],
) -> None:
    w, ending = paid
    campaign = w.client.get(f"/c/{w.demo.campaign}").text
    assert "Payouts: proposal, settlement, payments" in campaign
    assert ending["proposal"] in campaign and "DEMO-1-SEPA-1" in campaign
    objector = ending["objection"].split(":")[0]
    person = w.client.get(f"/people/{objector}?campaign={w.demo.campaign}").text
    assert f"Objection <code>{ending['objection']}</code> (wrong-amount" in person
    assert "answered <strong>rejected</strong>" in person
    assert "closed at 2025-07-08T12:00:00Z" in person
