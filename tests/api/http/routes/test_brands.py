"""The brands' HTTP routes as the demo's brand uses them after closing its campaign.

The brand looks at its campaigns, works through the moderation queue, lists its
members, previews the payouts (which add up to the pool) and exports them in
every format with requests signed by its key; nobody else may export, and an
export never settles anything.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from eth_utils import to_checksum_address

from domain.demo.generator import build_demo
from domain.demo.story import NEWCOMERS, demo_key
from domain.payout_methods import EthMethod, PaypalMethod
from domain.profiles import Profile
from projections.export import CSV_HEADER, FORMATS
from tests.api.http.routes.test_contributors import SIZES, World, demo_world, refused, signed_get

# Besides the pieces asked for, the demo writes three for co-author consent (one pending at
# the close, one declined and its resubmission: domain.demo.story.Story.co_authorship).
CONSENT_PIECES = 3


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    """The demo world on SQLite."""
    with demo_world(f"sqlite:///{tmp_path}/api.sqlite", tmp_path) as w:
        yield w


@pytest.fixture
def each_backend(store_url: str, tmp_path: Path) -> Iterator[World]:
    """The demo world on SQLite, then on PostgreSQL."""
    with demo_world(store_url, tmp_path) as w:
        yield w


def page_through(w: World, path: str, key: str, limit: int, **params: object) -> list[dict]:
    """Every item of a paginated list, following ``next``."""
    items: list[dict] = []
    start: object = params.pop("start", 0)
    while start is not None:
        page = w.client.get(path, params={**params, "from": start, "limit": limit}).json()
        assert len(page[key]) <= limit
        items += page[key]
        start = page["next"]
    return items


def wallet(n: int) -> str:
    return to_checksum_address("0x" + hashlib.sha256(str(n).encode()).hexdigest()[:40])


def give_every_member_a_wallet(w: World) -> dict[str, str]:
    """An Ethereum and a PayPal method each; the csv shows the first kind (eth)."""
    handles = {}
    for n, key in enumerate(w.members):
        methods = {"eth": EthMethod(wallet(n)), "paypal": PaypalMethod(f"member{n}@example.org")}
        profile = Profile.create(f"Member {n}", f"member{n}@example.org", payout=methods)
        w.services.campaigns.set_profile(key, profile)
        handles[key.actor] = wallet(n)
    return handles


def export(w: World, fmt: str, key=None, **params: str):
    path = f"/campaigns/{w.demo.campaign}/payouts/export"
    return signed_get(w.client, key or w.brand, path, {"format": fmt, **params})


# -- campaigns ---------------------------------------------------------------------------------


def test_campaigns_are_listed_in_the_order_they_were_opened(each_backend: World) -> None:
    w = each_backend
    second = build_demo(w.services, seed=2, **SIZES)
    listed = page_through(w, "/campaigns", "campaigns", 1)
    assert [c["campaign"] for c in listed] == [w.demo.campaign, second.campaign]
    assert listed[0]["brand"] == w.brand.actor and listed[0]["closed_at"] is not None
    assert listed[0]["members"] == SIZES["members"] + NEWCOMERS
    assert listed[0]["contributions"] == SIZES["contributions"] + CONSENT_PIECES
    page = w.client.get("/campaigns", params={"limit": 1}).json()
    assert (page["total"], page["next"]) == (2, 1)


def test_a_campaign_shows_its_rules_and_counts(world: World) -> None:
    shown = world.client.get(f"/campaigns/{world.demo.campaign}").json()
    assert shown["brand"] == world.brand.actor and shown["membership"] == "invite-only"
    assert (shown["closed"], shown["settled"]) == (True, False)
    joined = SIZES["members"] + NEWCOMERS  # and the newcomers who joined with a code
    assert shown["members"] == {"joined": joined, "blocked": len(world.demo.trolls)}
    assert shown["contributions"] == SIZES["contributions"] + CONSENT_PIECES
    assert shown["removed"] == len(world.demo.removed)
    assert shown["policy"]["name"] == "cocred-fair"


def test_unknown_campaigns_are_404s_everywhere(world: World) -> None:
    read_models = f"no campaign 'nope' in the read models (as of position {world.size()})"
    for path, detail in (
        ("/campaigns/nope", "campaign nope was never opened"),
        ("/campaigns/nope/moderation", "campaign nope was never opened"),
        ("/campaigns/nope/members", "campaign nope was never opened"),
        ("/campaigns/nope/payouts", read_models),
        ("/campaigns/nope/reports", read_models),
    ):
        refused(world.client.get(path), 404, "UnknownCampaign", detail)


@pytest.mark.parametrize(
    "path",
    [
        "/campaigns",
        "/campaigns/{c}/moderation",
        "/campaigns/{c}/reports",
        "/campaigns/{c}/appeals",
        "/campaigns/{c}/members",
        "/campaigns/{c}/payouts",
    ],
)
def test_page_sizes_and_starts_are_checked(world: World, path: str) -> None:
    path = path.format(c=world.demo.campaign)
    for limit in (0, 1001):
        refused(
            world.client.get(path, params={"limit": limit}),
            422,
            "InvalidRequest",
            f"limit must be from 1 to 1000, got {limit}",
        )
    refused(
        world.client.get(path, params={"from": -1}),
        422,
        "InvalidRequest",
        "query.from: Input should be greater than or equal to 0",
    )


# -- moderation --------------------------------------------------------------------------------


def test_the_moderation_queue_lists_each_status_with_its_history(each_backend: World) -> None:
    w = each_backend
    path = f"/campaigns/{w.demo.campaign}/moderation"
    removed = page_through(w, path, "contributions", 2, status="removed")
    assert sorted(c["contribution"] for c in removed) == sorted(w.demo.removed)
    assert all(c["moderation"][-1]["outcome"] == "removed" for c in removed)
    rejected = page_through(w, path, "contributions", 2, status="rejected")
    assert sorted(c["contribution"] for c in rejected) == sorted(w.demo.rejected)
    waiting = page_through(w, path, "contributions", 5, status="open")
    assert waiting and all(c["moderation"] == [] for c in waiting)
    everything = page_through(w, path, "contributions", 5)
    assert len(everything) == SIZES["contributions"] + CONSENT_PIECES
    positions = [c["position"] for c in everything]
    assert positions == sorted(positions)
    statuses = {c["status"] for c in everything}
    assert statuses <= {"open", "accepted", "rejected", "removed"} and "removed" in statuses


def test_the_moderation_queue_takes_known_statuses_only(world: World) -> None:
    refused(
        world.client.get(
            f"/campaigns/{world.demo.campaign}/moderation", params={"status": "flagged"}
        ),
        422,
        "InvalidRequest",
        "query.status: Input should be 'open', 'accepted', 'rejected' or 'removed'",
    )


# -- members -----------------------------------------------------------------------------------


def test_members_are_listed_with_public_standing_and_no_personal_data(each_backend: World) -> None:
    w = each_backend
    path = f"/campaigns/{w.demo.campaign}/members"
    members = page_through(w, path, "members", 5)
    newcomers = [demo_key(w.demo.seed, "newcomer", n).actor for n in range(NEWCOMERS)]
    assert [m["member"] for m in members] == sorted([k.actor for k in w.members] + newcomers)
    by_id = {m["member"]: m for m in members}
    assert by_id[w.ana.actor]["label"] == "Ana Silva"
    assert all(m["joined_at"] is not None for m in members)
    assert {m["member"] for m in members if m["blocked"]} == set(w.demo.trolls)
    assert all(m["block_reason"] for m in members if m["blocked"])
    text = json.dumps(w.client.get(path, params={"limit": 100}).json())
    assert "@example.org" not in text and "DE00 DEMO" not in text


# -- payouts -----------------------------------------------------------------------------------


def test_the_payout_preview_adds_up_to_the_pool(each_backend: World) -> None:
    w = each_backend
    path = f"/campaigns/{w.demo.campaign}/payouts"
    lines = page_through(w, path, "lines", 3)
    head = w.client.get(path, params={"limit": 1}).json()
    assert head["pool"] == 750_000 and head["currency"] == "EUR" and head["closed"] is True
    assert sum(line["amount"] for line in lines) == head["paid"] == head["pool"]
    assert [line["rank"] for line in lines] == list(range(1, head["payees"] + 1))
    amounts = [line["amount"] for line in lines]
    assert amounts == sorted(amounts, reverse=True)
    assert not {line["member"] for line in lines} & set(w.demo.trolls)
    assert lines[0]["label"] and "/" in lines[0]["share"]


def test_every_export_format_is_a_file_for_the_brand(each_backend: World) -> None:
    w = each_backend
    handles = give_every_member_a_wallet(w)
    size = w.size()
    pool = w.client.get(f"/campaigns/{w.demo.campaign}/payouts").json()["pool"]
    files = {}
    for fmt in FORMATS:
        response = export(w, fmt)
        assert response.status_code == 200, response.text
        files[fmt] = response
        name = {"csv": "payouts.csv", "json": "payouts.json", "safe-csv": "payouts.safe.csv"}
        name |= {"paypal-csv": "payouts.paypal.csv", "canonical": "payouts.canonical.json"}
        assert response.headers["content-disposition"] == (
            f'attachment; filename="{w.demo.campaign}-{name[fmt]}"'
        )
        expected = "application/json" if fmt in ("json", "canonical") else "text/csv"
        assert response.headers["content-type"].split(";")[0] == expected
    rows = list(csv.reader(io.StringIO(files["csv"].text)))
    assert tuple(rows[0]) == CSV_HEADER
    assert sum(int(row[3]) for row in rows[1:]) == pool
    assert all(row[1] == handles[row[0]] for row in rows[1:])
    document = files["json"].json()
    assert sum(line["amount_minor"] for line in document["lines"]) == document["total"] == pool
    canonical = files["canonical"]
    digest = hashlib.sha256(canonical.content).hexdigest()
    assert digest == canonical.headers["x-cocred-export-sha256"] == document["export_sha256"]
    safe = list(csv.reader(io.StringIO(files["safe-csv"].text)))
    assert safe[0] == ["token_type", "token_address", "receiver", "amount", "id"]
    assert {row[2] for row in safe[1:]} <= set(handles.values()) and len(safe) == len(rows)
    paypal = list(csv.reader(io.StringIO(files["paypal-csv"].text)))
    assert len(paypal) == len(rows) - 1 and all(row[-1] == "PAYPAL" for row in paypal)
    token = wallet(99)
    erc20 = export(w, "safe-csv", token_address=token)
    assert {row.split(",")[1] for row in erc20.text.splitlines()[1:]} == {token}
    # A preview settles nothing.
    assert w.size() == size
    assert w.client.get(f"/campaigns/{w.demo.campaign}").json()["settled"] is False


def test_only_the_brand_may_export(world: World) -> None:
    refused(
        export(world, "csv", world.ana),
        403,
        "Forbidden",
        f"only {world.brand.actor} may read the payout export of campaign "
        f"{world.demo.campaign}; this request is signed by {world.ana.actor}",
    )
    refused(
        world.client.get(f"/campaigns/{world.demo.campaign}/payouts/export"),
        401,
        "Unauthenticated",
        "signed request: this resource needs Signature-Input and Signature headers",
    )
    path = "/campaigns/nope/payouts/export"
    refused(
        signed_get(world.client, world.brand, path, {"format": "csv"}),
        404,
        "UnknownCampaign",
        "campaign nope was never opened",
    )


def test_export_formats_and_handles_are_checked(world: World) -> None:
    refused(
        export(world, "xlsx"),
        422,
        "InvalidRequest",
        "query.format: Input should be 'csv', 'json', 'safe-csv', 'paypal-csv' or 'canonical'",
    )
    response = export(world, "safe-csv", token_address="0x123")
    assert response.status_code == 422 and response.json()["error"] == "InvalidRequest"
    # The demo's payees hold SEPA accounts or PayPal ids, not all the kind a whole-campaign
    # file needs: the export is refused (``cocred payouts files`` splits them over rails).
    for fmt in ("safe-csv", "paypal-csv"):
        response = export(world, fmt)
        body = response.json()
        assert (response.status_code, body["error"]) == (409, "MissingPayoutHandle")
        assert body["detail"].startswith(f"{fmt}: ")
        assert "payee(s) have no payout handle in the profile store" in body["detail"]


def test_a_payee_without_a_handle_blocks_the_payment_files(world: World) -> None:
    give_every_member_a_wallet(world)
    top = world.client.get(f"/campaigns/{world.demo.campaign}/payouts").json()["lines"][0]
    payee = next(k for k in world.members if k.actor == top["member"])
    world.services.campaigns.erase(payee)
    response = export(world, "paypal-csv")
    assert (response.status_code, response.json()["error"]) == (409, "MissingPayoutHandle")
    assert response.json()["detail"] == (
        f"paypal-csv: 1 payee(s) have no payout handle in the profile store (never given, or "
        f"erased): {payee.actor}"
    )
    rows = list(csv.reader(io.StringIO(export(world, "csv").text)))
    assert [row[1] for row in rows[1:] if row[0] == payee.actor] == [""]
