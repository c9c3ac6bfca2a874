"""The payout lifecycle over HTTP: the public proposal with its window and objections, and
the brand's signed status of what is paid, owed and unpaid. The writes are signed
envelopes through ``POST /events`` (the demo's ending signs them the same way)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.cli import app as cli
from projections.demo_payouts import pay_demo
from tests.api.http.routes.test_contributors import SEED, SIZES, World, demo_world, signed_get
from tests.ledger.provenance.test_monitor import serving

runner = CliRunner()


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


def test_a_member_reads_their_own_claim_proof_and_a_member_without_one_gets_no_claim(
    tmp_path: Path,
) -> None:
    """The proof of the deployed claim tree (no chain needed to serve it: the tree is kept
    in the database; tests/contracts/test_claims_rail.py claims with it on chain). The leaf
    ties a member to an Ethereum address, so only the member (or the brand) may read it."""
    from contracts.claim_payouts import ClaimTrees
    from contracts.claim_tree import ClaimTree

    with demo_world(f"sqlite:///{tmp_path}/api.sqlite", tmp_path) as w:
        campaign, ana, ben = w.demo.campaign, w.ana.actor, w.ben.actor
        account = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
        tree = ClaimTree.build([(0, account, 1234 * 10**16)])
        document = {
            "campaign": campaign, "currency": "EUR", "exponent": 2, "decimals": 18,
            "root": tree.root_hex, "total": str(tree.total), "unpaid": [],
            "claims": [{"index": 0, "member": ana, "account": account, "amount": 1234,
                        "tokens": str(1234 * 10**16), "proof": []}],
        }  # fmt: skip
        trees = ClaimTrees(w.services.engine)
        trees.save(document)
        path = f"/campaigns/{campaign}/claims/{ana}"
        before = signed_get(w.client, w.ana, path)  # built, not deployed: nothing to claim yet
        assert (before.status_code, before.json()["error"]) == (404, "NoClaim")
        distributor = "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359"
        trees.deployed(campaign, tree.root_hex, distributor, 31337, account)
        shown = signed_get(w.client, w.ana, path)
        assert shown.status_code == 200
        assert signed_get(w.client, w.brand, path).json() == shown.json()
        anyone = w.client.get(path)
        assert (anyone.status_code, anyone.json()["error"]) == (401, "Unauthenticated")
        other = signed_get(w.client, w.ben, path)
        assert (other.status_code, other.json()["detail"]) == (
            403,
            f"only {ana} may read the claim proof of {ana} in campaign {campaign}; this "
            f"request is signed by {ben}",
        )
        assert shown.json() == {
            "campaign": campaign, "member": ana, "root": tree.root_hex,
            "distributor": distributor, "chain_id": 31337, "token": account, "decimals": 18,
            "index": 0, "account": account, "amount": 1234, "tokens": str(1234 * 10**16),
            "proof": [],
        }  # fmt: skip
        missing = signed_get(w.client, w.ben, f"/campaigns/{campaign}/claims/{ben}")
        assert (missing.status_code, missing.json()) == (
            404,
            {
                "error": "NoClaim",
                "detail": f"member {ben} has no claim in campaign {campaign}: no deployed "
                "claim tree has a leaf for them",
                "ids": {"campaign": campaign, "member": ben},
            },
        )
        # the member's own CLI fetches it the same way, signed, from a real server
        for who in ("ana", "ben"):
            getattr(w, who).save(tmp_path / f"{who}.key")
        with serving(w.client.app) as url:
            fetched = runner.invoke(cli, ["payouts", "claims", "proof", "--key",
                                          str(tmp_path / "ana.key"), "--campaign", campaign,
                                          "--url", url])  # fmt: skip
            assert fetched.exit_code == 0, fetched.stderr
            assert json.loads(fetched.stdout) == shown.json()
            none = runner.invoke(cli, ["payouts", "claims", "proof", "--key",
                                       str(tmp_path / "ben.key"), "--campaign", campaign,
                                       "--url", url])  # fmt: skip
            assert none.exit_code == 1
            assert none.stderr.strip() == (
                f"error[NoClaim]: member {ben} has no claim in campaign {campaign}: no "
                f"deployed claim tree has a leaf for them"
            )
        bad_url = runner.invoke(cli, ["payouts", "claims", "proof", "--key",
                                      str(tmp_path / "ana.key"), "--campaign", campaign,
                                      "--url", "ftp://example.org"])  # fmt: skip
        assert bad_url.exit_code == 1 and bad_url.stderr.strip() == (
            "error[InvalidURL]: --url 'ftp://example.org' is not an http:// or https:// server "
            "address"
        )
        down = runner.invoke(cli, ["payouts", "claims", "proof", "--key", str(tmp_path / "ana.key"),
                                   "--campaign", campaign, "--url", url])  # fmt: skip
        assert down.exit_code == 1 and down.stderr.startswith(
            f"error[ServerUnreachable]: cannot reach {url}: "
        )
        unknown = signed_get(w.client, w.ana, f"/campaigns/winter-27/claims/{ana}")
        assert (unknown.status_code, unknown.json()["error"]) == (404, "UnknownCampaign")


def test_erasure_deletes_a_claimants_address_and_proof_but_a_claim_still_records(
    tmp_path: Path,
) -> None:
    """The claim trees keep each claimant's address in clear beside the log; erasing the
    member deletes it (and the proof) there too, keeping the leaf's hash: a claim sent with
    a proof kept elsewhere is still recognised, and an undeployed tree must be built again."""
    import sqlalchemy as sa

    from contracts.claim_payouts import ClaimTrees, claimed_payments, tree_of
    from contracts.claim_tree import ClaimTree
    from contracts.claims import Claimed
    from contracts.errors import ClaimsConfigError, NoClaimError, StaleClaimTreeError

    with demo_world(f"sqlite:///{tmp_path}/api.sqlite", tmp_path) as w:
        campaign, ana = w.demo.campaign, w.ana.actor
        account = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
        tree = ClaimTree.build([(0, account, 1234 * 10**16)])
        document = {
            "campaign": campaign, "currency": "EUR", "exponent": 2, "decimals": 18,
            "root": tree.root_hex, "total": str(tree.total), "unpaid": [],
            "claims": [{"index": 0, "member": ana, "account": account, "amount": 1234,
                        "tokens": str(1234 * 10**16), "proof": []}],
        }  # fmt: skip
        trees = ClaimTrees(w.services.engine)
        trees.save(document)
        trees.save(document | {"campaign": "other-campaign"})  # a second, undeployed tree
        trees.deployed(campaign, tree.root_hex, "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
                       31337, account)  # fmt: skip
        w.services.campaigns.erase(w.ana)
        with w.services.engine.connect() as conn:
            kept = conn.execute(sa.text("SELECT document FROM cocred_claim_trees")).scalars()
            stored = list(kept)
        assert len(stored) == 2 and all(account.lower() not in d.lower() for d in stored)
        with pytest.raises(NoClaimError) as gone:
            trees.claim_of(campaign, ana)
        assert gone.value.detail == (
            f"member {ana} was erased: their claim's address and proof in campaign {campaign} "
            f"were deleted with them"
        )
        path = f"/campaigns/{campaign}/claims/{ana}"
        brand_view = signed_get(w.client, w.brand, path)
        assert (brand_view.status_code, brand_view.json()["error"]) == (404, "NoClaim")
        assert trees.claimable(campaign) == {ana}  # their money is in the Distributor
        with pytest.raises(StaleClaimTreeError) as stale:
            tree_of(trees.latest("other-campaign"))
        assert stale.value.detail == (
            f"campaign other-campaign: claim tree {tree.root_hex} holds {ana}, erased since the "
            f"build: build it again"
        )
        forgotten = trees.latest(campaign)
        claim = Claimed(index=0, account=account, amount=1234 * 10**16, tx_hash=b"\x01" * 32)
        [(tx, lines)] = claimed_payments(forgotten, [claim], [])
        assert (tx, lines) == ("0x" + "01" * 32, [(ana, 1234, account)])
        other = Claimed(index=0, account="0x" + "11" * 20, amount=1234 * 10**16,
                        tx_hash=b"\x02" * 32)  # fmt: skip
        with pytest.raises(ClaimsConfigError, match="is no leaf of tree"):
            claimed_payments(forgotten, [other], [])
        assert trees.forget(ana) == 0  # again: nothing is left to forget
