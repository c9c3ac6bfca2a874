"""The claims rail end to end, as a brand and its members use it: after settlement the brand
builds the claim tree from the settled lines and the current Ethereum payout methods (a payee
without one is unpaid, with the reason), deploys and funds a Distributor on anvil with a test
ERC-20, the API serves each member's proof, a member claims once (a second claim and a wrong
proof are refused with typed errors), and the brand records the Claimed events as payments
that `cocred audit --rpc` holds to the chain's Transfer logs.

The same pieces run in process on eth-tester (the CLI speaks JSON-RPC only, so there the
test drives the functions the CLI calls).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.bootstrap import bootstrap
from api.http.app import create_app
from contracts import claims
from contracts.claim_payouts import ClaimTrees, claim_document, claimed_payments, tree_of
from contracts.errors import AlreadyClaimedError, InvalidClaimProofError, NoClaimError
from ledger.keys import SigningKey
from projections.payments import settled_lines
from projections.rails import CLAIMABLE, CLAIMS, NO_METHOD, plan_rails
from tests.api.cli.test_campaign import People, cocred, refused
from tests.api.http.routes.test_contributors import signed_get

from .conftest import Chain

pytestmark = pytest.mark.chain

CAMPAIGN = "summer-26"


def settled(tmp: Path) -> People:
    """Ana (with an Ethereum payout method) and Ben (none) earn; the brand settles at once
    (an objection window of 0). Under cocred-fair v1: their votes for each other would
    circulate under v2, and these tests are about paying two payees, not about scores."""
    p = People(tmp, f"sqlite:///{tmp}/claims.sqlite")
    guidelines = tmp / "g.txt"
    guidelines.write_bytes(b"be kind")
    p.run("brand", "campaign", "open", "--campaign", CAMPAIGN, "--title", "Summer", "--guidelines",
          str(guidelines), "--pool", "100000", "--objection-window", "0",
          "--policy", p.v1_policy())  # fmt: skip
    for who in ("ana", "ben"):
        p.run(who, "join", "--campaign", CAMPAIGN)
    made = {}
    for who, text in (("ana", b"kite"), ("ben", b"boat")):
        (tmp / f"{who}.txt").write_bytes(text)
        shown = p.run(who, "submit", "--campaign", CAMPAIGN, "--content", str(tmp / f"{who}.txt"),
                      "--kind", "idea", "--title", who)  # fmt: skip
        made[who] = json.loads(shown.stdout)["contribution"]
    p.run("ben", "vote", "--campaign", CAMPAIGN, "--contribution", made["ana"], "--kind", "share")
    p.run("ana", "vote", "--campaign", CAMPAIGN, "--contribution", made["ben"], "--kind", "support")
    p.run("brand", "campaign", "close", "--campaign", CAMPAIGN)
    p.run("brand", "payouts", "propose", "--campaign", CAMPAIGN)
    p.run("brand", "payouts", "settle", "--campaign", CAMPAIGN)
    return p


def address_of(key: str) -> str:
    from eth_account import Account

    return str(Account.from_key(key).address)


def brand_json(p: People, *args: str) -> dict:
    return json.loads(p.run("brand", "payouts", "claims", *args, "--campaign", CAMPAIGN).stdout)


def claims_refused(p: People, verb: str, *args: str, who: str = "brand") -> str:
    """``cocred payouts claims VERB --campaign … ARGS`` run by ``who``: its one-line error."""
    return refused(
        "payouts", "claims", verb, "--campaign", CAMPAIGN, *args, "--key", p.key(who), "--db", p.db
    )


def test_the_claims_rail_runs_end_to_end_on_anvil(
    anvil_chain: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    chain = anvil_chain
    monkeypatch.setenv("COCRED_CLAIMS_PRIVATE_KEY", chain.keys[0])
    p = settled(tmp_path)
    ana, ben = p.ids["ana"], p.ids["ben"]
    ana_address = address_of(chain.keys[1])
    p.run("ana", "profile", "payout", "set", "--eth", ana_address)
    rpc = chain.url
    assert rpc is not None

    out = tmp_path / "claims.json"
    built = brand_json(p, "build", "--out", str(out), "--decimals", "18")
    document = json.loads(out.read_text())
    owed = {row["member"]: row["amount"] for row in document["claims"]}
    assert built["claims"] == 1 and list(owed) == [ana]
    assert built["root"] == document["root"] == tree_of(document).root_hex
    assert [(u["member"], u["reason"]) for u in built["unpaid"]] == [(ben, NO_METHOD)]
    assert built["total"] == str(owed[ana] * 10**16)  # EUR cents -> 18 decimals

    # Before deployment nobody has a proof to fetch; a claim cannot be sent.
    assert refused(
        "payouts",
        "claims",
        "claim",
        "--campaign",
        CAMPAIGN,
        "--member",
        ana,
        "--rpc",
        rpc,
        "--db",
        p.db,
    ) == (  # fmt: skip
        f"error[NoClaim]: member {ana} has no claim in campaign {CAMPAIGN}: no deployed claim "
        f"tree has a leaf for them"
    )
    deployed = brand_json(p, "deploy", "--rpc", rpc, "--test-token")
    assert deployed["funded"] == built["total"] and deployed["chain_id"] == chain.chain_id
    w3 = chain.w3
    # The tree is in the log now: its root, Distributor, chain, token, claimants and amount.
    with bootstrap(database_url=p.db) as svc:
        published = svc.campaigns.payout_book(CAMPAIGN).claims
        at = svc.ledger.store.read(deployed["published"], 1)[0]
    assert published is not None and at.type == "ClaimsPublished"
    assert (published.root, published.distributor, published.token, published.chain) == (
        built["root"], deployed["distributor"], deployed["token"], chain.chain_id,
    )  # fmt: skip
    assert (published.claimants, published.amount) == (1, owed[ana])
    assert claims.distributor_of(w3, deployed["distributor"]) == (
        chain.chain_id, built["root"], deployed["token"],
    )  # fmt: skip
    assert claims_refused(p, "publish", "--rpc", rpc) == (
        f"error[ClaimsAlreadyPublished]: campaign {CAMPAIGN} published its claims in "
        f"{published.id} (Distributor {deployed['distributor']}): one claim tree per campaign"
    )
    assert claims.balance_of(w3, deployed["token"], deployed["distributor"]) == int(built["total"])

    # One Distributor per campaign: it holds what is unclaimed and cannot give it back, so a
    # second tree (or a file paying its leaves) would pay them twice.
    again = (
        f"error[ClaimsAlreadyDeployed]: campaign {CAMPAIGN} is paid by Distributor "
        f"{deployed['distributor']} (tree {built['root']}): it holds what its leaves have not "
        f"claimed and cannot give it back, so no second tree is built"
    )
    brand = ("--key", p.key("brand"), "--db", p.db, "--campaign", CAMPAIGN)
    assert refused("payouts", "claims", "build", "--out", str(out), *brand) == again
    assert refused("payouts", "claims", "deploy", "--rpc", rpc, "--test-token", *brand) == again
    files = json.loads(p.run("brand", "payouts", "files", "--campaign", CAMPAIGN, "--out-dir",
                             str(tmp_path / "f"), "--rails", "safe", "--token",
                             deployed["token"]).stdout)  # fmt: skip
    assert sorted((u["member"], u["reason"]) for u in files["unpaid"]) == sorted(
        [(ana, CLAIMABLE), (ben, NO_METHOD)]
    )
    waiting = json.loads(cocred("payouts", "status", "--campaign", CAMPAIGN, "--format", "json",
                                "--db", p.db).stdout)  # fmt: skip
    reasons = {row["member"]: row["unpaid"] for row in waiting["lines"]}
    assert reasons == {ana: CLAIMABLE, ben: NO_METHOD}
    ben_owed = next(row["owed"] for row in waiting["lines"] if row["member"] == ben)
    assert waiting["unpaid"] == ben_owed  # what no rail can pay: Ana's claim can be

    with bootstrap(database_url=p.db) as svc, TestClient(create_app(svc)) as client:
        ana_key = SigningKey.load(Path(p.key("ana")))
        proof = signed_get(client, ana_key, f"/campaigns/{CAMPAIGN}/claims/{ana}")
        assert proof.status_code == 200
        served = proof.json()
        assert (served["distributor"], served["account"], served["tokens"]) == (
            deployed["distributor"], ana_address, built["total"],
        )  # fmt: skip
        missing = signed_get(
            client, SigningKey.load(Path(p.key("ben"))), f"/campaigns/{CAMPAIGN}/claims/{ben}"
        )
        assert (missing.status_code, missing.json()["error"]) == (404, "NoClaim")
        assert missing.json()["detail"] == (
            f"member {ben} has no claim in campaign {CAMPAIGN}: no deployed claim tree has a "
            f"leaf for them"
        )
        spec = client.get("/openapi.json").json()["paths"]["/campaigns/{campaign}/claims/{member}"]
        assert {"200", "401", "403", "404", "422", "429", "503"} <= set(spec["get"]["responses"])

    # A wrong proof is refused on chain with a typed error; it sends nothing.
    wrong = [bytes(32)] * len(served["proof"]) or [bytes(32)]
    with pytest.raises(InvalidClaimProofError) as bad:
        claims.claim(w3, served["distributor"], served["index"], ana_address, int(served["tokens"]),
                     wrong, private_key=chain.keys[2])  # fmt: skip
    assert "InvalidProof(index=0)" in bad.value.detail

    sent = json.loads(cocred("payouts", "claims", "claim", "--campaign", CAMPAIGN, "--member",
                             ana, "--rpc", rpc, "--db", p.db).stdout)  # fmt: skip
    assert (sent["account"], sent["tokens"]) == (ana_address, built["total"])
    assert claims.balance_of(w3, deployed["token"], ana_address) == int(built["total"])
    again = refused("payouts", "claims", "claim", "--campaign", CAMPAIGN, "--member", ana,
                    "--rpc", rpc, "--db", p.db)  # fmt: skip
    assert again.startswith("error[AlreadyClaimed]: claim 0 reverted: AlreadyClaimed(index=0)")

    recorded = brand_json(p, "record", "--rpc", rpc)
    assert recorded["recorded"] == [{"tx": sent["tx"], "payees": 1, "amount": owed[ana]}]
    assert brand_json(p, "record", "--rpc", rpc)["recorded"] == []  # nothing twice
    status = json.loads(cocred("payouts", "status", "--campaign", CAMPAIGN, "--format", "json",
                               "--db", p.db).stdout)  # fmt: skip
    rows = {row["member"]: row for row in status["lines"]}
    assert (rows[ana]["paid"], rows[ana]["owed"], rows[ben]["unpaid"]) == (owed[ana], 0, NO_METHOD)
    [payment] = status["payments"]
    assert (payment["rail"], payment["batch"], payment["tx"]) == (
        CLAIMS, deployed["distributor"], sent["tx"],
    )  # fmt: skip
    assert (status["claim_tree"]["distributor"], status["claim_tree"]["claimed"]) == (
        deployed["distributor"], owed[ana],
    )  # fmt: skip

    cocred("checkpoint", "--db", p.db)
    audited = json.loads(cocred("audit", "--db", p.db, "--rpc", rpc, "--format", "json").stdout)
    assert audited["passed"] is True, audited


def test_the_claims_rail_refuses_what_it_cannot_do(
    anvil_chain: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    p = settled(tmp_path)
    rpc = anvil_chain.url
    assert rpc is not None
    out = str(tmp_path / "c.json")
    assert claims_refused(p, "build", "--out", out) == (  # fmt: skip
        f"error[BadClaimEntry]: campaign {CAMPAIGN}: no payee is owed money and holds an "
        f"Ethereum payout method, so there is nothing to claim (2 unpaid)"
    )
    assert claims_refused(p, "build", "--out", out, who="ana") == (  # fmt: skip
        f"error[NotCampaignOwner]: only the brand {p.ids['brand']} of campaign {CAMPAIGN} may "
        f"make its payment files"
    )
    p.run("ana", "profile", "payout", "set", "--eth", address_of(anvil_chain.keys[1]))
    assert claims_refused(p, "build", "--out", out, "--decimals", "1") == (  # fmt: skip
        f"error[ClaimsConfig]: campaign {CAMPAIGN}: a token of 1 decimals cannot carry the "
        f"currency's 2 decimal places"
    )
    assert claims_refused(p, "deploy", "--rpc", rpc, "--test-token") == (  # fmt: skip
        f"error[NoClaim]: campaign {CAMPAIGN} has no claim tree: the brand runs cocred payouts "
        f"claims build first"
    )
    brand_json(p, "build", "--out", out)
    monkeypatch.delenv("COCRED_CLAIMS_PRIVATE_KEY", raising=False)
    assert claims_refused(p, "deploy", "--rpc", rpc, "--test-token") == (  # fmt: skip
        "error[ClaimsConfig]: set COCRED_CLAIMS_PRIVATE_KEY: the key that pays the gas"
    )
    assert claims_refused(p, "deploy", "--rpc", rpc) == (  # fmt: skip
        "error[BadOption]: give exactly one of --token ADDRESS and --test-token"
    )
    assert claims_refused(p, "record", "--rpc", rpc).startswith(  # fmt: skip
        f"error[ClaimsNotDeployed]: campaign {CAMPAIGN}: claim tree 0x"
    )
    monkeypatch.setenv("COCRED_CLAIMS_PRIVATE_KEY", anvil_chain.keys[0])
    token = claims.deploy_token(anvil_chain.w3, private_key=anvil_chain.keys[0], decimals=6)
    assert claims_refused(p, "deploy", "--rpc", rpc, "--token", token) == (  # fmt: skip
        f"error[ClaimsConfig]: token {token} has 6 decimals, the claim tree was built for 18: "
        f"build it again with --decimals 6"
    )
    poor = claims.deploy_token(anvil_chain.w3, private_key=anvil_chain.keys[0], decimals=18)
    total = json.loads(Path(out).read_text())["total"]
    assert claims_refused(p, "deploy", "--rpc", rpc, "--token", poor) == (  # fmt: skip
        f"error[ClaimsConfig]: {address_of(anvil_chain.keys[0])} holds 0 of token {poor}, less "
        f"than the tree's total {total}"
    )
    # Paid on another rail since the build: deploying the tree would pay Ana twice.
    ana = p.ids["ana"]
    owed = json.loads(Path(out).read_text())["claims"][0]["amount"]
    with bootstrap(database_url=p.db) as svc:
        brand = SigningKey.load(Path(p.key("brand")))
        svc.campaigns.record_payment(
            brand, CAMPAIGN, rail="paypal", batch="PP-1", payments=[(ana, 1, None)]
        )
    assert claims_refused(p, "deploy", "--rpc", rpc, "--test-token").startswith(  # fmt: skip
        f"error[StaleClaimTree]: campaign {CAMPAIGN}: claim tree 0x"
    )
    assert claims_refused(p, "deploy", "--rpc", rpc, "--test-token").endswith(  # fmt: skip
        f"pays {ana} {owed}, but {owed - 1} is owed now (paid since the build): build it again"
    )


def test_a_claim_the_rules_refuse_is_reported_and_the_claims_after_it_are_still_recorded(
    anvil_chain: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The brand paid Ana another way after deploying, and Ana claimed as well: her claim
    cannot be recorded (she would be paid twice). `claims record` stopped there, so Ben's
    later claim was never recorded, run after run."""
    chain = anvil_chain
    monkeypatch.setenv("COCRED_CLAIMS_PRIVATE_KEY", chain.keys[0])
    p = settled(tmp_path)
    ana, ben = p.ids["ana"], p.ids["ben"]
    p.run("ana", "profile", "payout", "set", "--eth", address_of(chain.keys[1]))
    p.run("ben", "profile", "payout", "set", "--eth", address_of(chain.keys[2]))
    rpc = chain.url
    assert rpc is not None
    brand_json(p, "build", "--out", str(tmp_path / "claims.json"), "--decimals", "18")
    brand_json(p, "deploy", "--rpc", rpc, "--test-token")
    with bootstrap(database_url=p.db) as svc:
        owed = settled_lines(svc.campaigns.payout_book(CAMPAIGN), svc.ledger.store, CAMPAIGN)
        assert owed is not None
        brand = SigningKey.load(Path(p.key("brand")))
        svc.campaigns.record_payment(brand, CAMPAIGN, rail="paypal", batch="PP-1",
                                     payments=[(ana, owed[ana], None)])  # fmt: skip
    sent = {}
    for who in (ana, ben):  # Ana's claim is mined first
        claimed = cocred("payouts", "claims", "claim", "--campaign", CAMPAIGN, "--member", who,
                         "--rpc", rpc, "--db", p.db)  # fmt: skip
        sent[who] = json.loads(claimed.stdout)["tx"]
    args = ("payouts", "claims", "record", "--campaign", CAMPAIGN, "--rpc", rpc)
    result = cocred(*args, "--key", p.key("brand"), "--db", p.db, code=1)
    shown = json.loads(result.stdout)
    assert shown["recorded"] == [{"tx": sent[ben], "payees": 1, "amount": owed[ben]}]
    [why] = shown["refused"]
    assert (why["tx"], why["error"]) == (sent[ana], "AlreadyPaid")
    assert ana in why["detail"]
    assert result.stderr.strip() == (
        f"error[AlreadyPaid]: claim {sent[ana]} was not recorded: {why['detail']}"
    )
    again = json.loads(cocred(*args, "--key", p.key("brand"), "--db", p.db, code=1).stdout)
    assert again["recorded"] == [] and [r["tx"] for r in again["refused"]] == [sent[ana]]
    status = json.loads(cocred("payouts", "status", "--campaign", CAMPAIGN, "--format", "json",
                               "--db", p.db).stdout)  # fmt: skip
    assert {row["member"]: row["owed"] for row in status["lines"]} == {ana: 0, ben: 0}


def _deployed_around_the_cli(p: People, chain: Chain, *, right: bool) -> tuple[dict, str, str]:
    """Build with the CLI, then deploy and record the Distributor as ``deploy`` does but
    without its ``ClaimsPublished`` (as when the database went away after the chain
    transactions): the right tree's Distributor, or one of another tree. (kept document,
    Distributor, the root it holds)."""
    from contracts.claim_tree import ClaimTree

    brand_json(p, "build", "--out", str(p.tmp / "claims.json"), "--decimals", "18")
    with bootstrap(database_url=p.db) as svc:
        trees = ClaimTrees(svc.engine)
        document = trees.latest(CAMPAIGN)
        tree = tree_of(document) if right else ClaimTree.build([(0, address_of(chain.keys[2]), 5)])
        key = chain.keys[0]
        token = claims.deploy_token(chain.w3, private_key=key, decimals=18, supply=tree.total)
        distributor = claims.deploy_distributor(chain.w3, token, tree, private_key=key)
        trees.deployed(CAMPAIGN, document["root"], distributor, chain.chain_id, token)
        return trees.deployed_latest(CAMPAIGN), distributor, tree.root_hex


def test_publish_puts_a_deployed_tree_in_the_log_once_its_distributor_holds_it(
    anvil_chain: Chain, tmp_path: Path
) -> None:
    chain = anvil_chain
    rpc = chain.url
    assert rpc is not None
    for name, right in (("wrong", False), ("right", True)):
        (tmp_path / name).mkdir()
        p = settled(tmp_path / name)
        p.run("ana", "profile", "payout", "set", "--eth", address_of(chain.keys[1]))
        document, distributor, held = _deployed_around_the_cli(p, chain, right=right)
        token = document["token"]
        if not right:
            assert claims_refused(p, "publish", "--rpc", rpc) == (
                f"error[ClaimsMismatch]: Distributor {distributor} holds root {held} of token "
                f"{token} on chain {chain.chain_id}; the kept tree is {document['root']} of "
                f"token {token} on chain {chain.chain_id}"
            )
            with bootstrap(database_url=p.db) as svc:
                assert svc.campaigns.payout_book(CAMPAIGN).claims is None  # nothing written
            assert claims_refused(p, "publish", "--rpc", rpc, who="ana") == (
                f"error[NotCampaignOwner]: only the brand {p.ids['brand']} of campaign "
                f"{CAMPAIGN} may publish its claims"
            )
            continue
        shown = brand_json(p, "publish", "--rpc", rpc)
        assert (shown["root"], shown["distributor"]) == (document["root"], distributor)
        with bootstrap(database_url=p.db) as svc:
            published = svc.campaigns.payout_book(CAMPAIGN).claims
        assert published is not None and published.root == held == document["root"]
        cocred("checkpoint", "--db", p.db)
        audited = json.loads(cocred("audit", "--db", p.db, "--rpc", rpc, "--format", "json").stdout)
        assert audited["passed"] is True, audited


def test_the_claims_rail_on_eth_tester(eth_tester_chain: Chain, tmp_path: Path) -> None:
    """The functions the CLI runs, on the in-process chain: plan, document, deploy, claim,
    read back, record; a second claim is refused."""
    chain = eth_tester_chain
    p = settled(tmp_path)
    ana, ben = p.ids["ana"], p.ids["ben"]
    ana_address, ben_address = address_of(chain.keys[1]), address_of(chain.keys[2])
    p.run("ana", "profile", "payout", "set", "--eth", ana_address)
    p.run("ben", "profile", "payout", "set", "--eth", ben_address)
    with bootstrap(database_url=p.db) as svc:
        book = svc.campaigns.payout_book(CAMPAIGN)
        lines = settled_lines(book, svc.ledger.store, CAMPAIGN)
        assert lines is not None
        plan = plan_rails(CAMPAIGN, "EUR", lines, book.paid, [CLAIMS], svc.profiles, set(),
                          (CLAIMS,))  # fmt: skip
        document = claim_document(plan, 6)
        trees = ClaimTrees(svc.engine)
        trees.save(document)
        tree = tree_of(document)
        key = chain.keys[0]
        token = claims.deploy_token(chain.w3, private_key=key, decimals=6, supply=tree.total)
        distributor = claims.deploy_distributor(chain.w3, token, tree, private_key=key)
        claims.fund(chain.w3, token, distributor, tree.total, private_key=key)
        trees.deployed(CAMPAIGN, document["root"], distributor, chain.chain_id, token)
        held = claims.distributor_of(chain.w3, distributor)
        assert held == (chain.chain_id, document["root"], token)
        brand = SigningKey.load(Path(p.key("brand")))
        svc.campaigns.publish_claims(
            brand, CAMPAIGN, root=held[1], chain=held[0], distributor=distributor, token=token,
            decimals=6, claimants=2, amount=lines[ana] + lines[ben],
        )  # fmt: skip
        for who in (ana, ben):
            _, entry = trees.claim_of(CAMPAIGN, who)
            proof = [bytes.fromhex(h[2:]) for h in entry["proof"]]
            claims.claim(chain.w3, distributor, entry["index"], entry["account"],
                         int(entry["tokens"]), proof, private_key=key)  # fmt: skip
        with pytest.raises(AlreadyClaimedError):
            claims.claim(chain.w3, distributor, entry["index"], entry["account"],
                         int(entry["tokens"]), proof, private_key=key)  # fmt: skip
        with pytest.raises(NoClaimError):
            trees.claim_of(CAMPAIGN, p.ids["brand"])
        found = claimed_payments(trees.deployed_latest(CAMPAIGN),
                                 claims.read_claims(chain.w3, distributor), [])  # fmt: skip
        assert [[(m, a) for m, a, _ in part] for _, part in found] == [
            [(ana, lines[ana])], [(ben, lines[ben])],
        ]  # fmt: skip
        for tx, part in found:
            svc.campaigns.record_payment(brand, CAMPAIGN, rail=CLAIMS, batch=distributor,
                                         payments=part, tx=tx, token=token, decimals=6)  # fmt: skip
        done = [x.tx for x in svc.campaigns.payout_book(CAMPAIGN).payments]
        assert claimed_payments(document, claims.read_claims(chain.w3, distributor), done) == []


@pytest.mark.parametrize("backend", ["eth-tester", "anvil"])
def test_erc20_payments_are_held_to_the_transfer_logs_on_chain(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """Two payees paid by ERC-20 transfers of a test token, recorded on the ``eth`` rail: the
    audit's step 6 reads each transaction's Transfer logs (``cocred audit --rpc`` on anvil;
    the same reader in process on eth-tester) and finds a record its transfers do not back."""
    from projections.payments import check_payments

    chain: Chain = request.getfixturevalue(f"{backend.replace('-', '_')}_chain")
    p = settled(tmp_path)
    ana, ben = p.ids["ana"], p.ids["ben"]
    to = {ana: address_of(chain.keys[1]), ben: address_of(chain.keys[2])}
    key, w3 = chain.keys[0], chain.w3
    scale = 10**4  # 6 decimals, EUR cents
    with bootstrap(database_url=p.db) as svc:
        book = svc.campaigns.payout_book(CAMPAIGN)
        owed = settled_lines(book, svc.ledger.store, CAMPAIGN)
        assert owed is not None and set(owed) == {ana, ben}
        supply = sum(owed.values()) * scale
        token = claims.deploy_token(w3, private_key=key, decimals=6, supply=supply)
        half = owed[ben] // 2
        paid = {ana: owed[ana], ben: half}  # Ben gets half now
        txs = {
            m: claims.transfer(w3, token, to[m], a * scale, private_key=key)
            for m, a in paid.items()
        }
        brand = SigningKey.load(Path(p.key("brand")))
        for member, amount in paid.items():
            svc.campaigns.record_payment(
                brand, CAMPAIGN, rail="eth", batch=f"eth-{member[:8]}",
                payments=[(member, amount, to[member])], tx="0x" + txs[member].hex(),
                token=token, decimals=6,
            )  # fmt: skip

        def reader(token: str, tx: str) -> list[tuple[str, int]]:
            return [(t.recipient, t.amount) for t in claims.transfers_in_tx(w3, token, tx)]

        assert check_payments(svc.ledger.store, reader) == (2, [])
        if chain.url is not None:
            cocred("checkpoint", "--db", p.db)
            audited = cocred("audit", "--db", p.db, "--rpc", chain.url, "--format", "json")
            assert json.loads(audited.stdout)["passed"] is True
        # The rest of Ben's money, recorded against the transfer that paid his first half.
        ben_tx = "0x" + txs[ben].hex()
        svc.campaigns.record_payment(
            brand, CAMPAIGN, rail="eth", batch="eth-again", payments=[(ben, owed[ben] - half,
            to[ben])], tx=ben_tx, token=token, decimals=6,
        )  # fmt: skip
        expected = (
            f"campaign {CAMPAIGN}: tx {ben_tx} transfers 0 of token {token} to {to[ben]} (after "
            f"{half * scale} counted for earlier payments), the payment records "
            f"{(owed[ben] - half) * scale}"
        )
        _, failures = check_payments(svc.ledger.store, reader)
        assert [f.detail for f in failures] == [expected]
    if chain.url is not None:
        cocred("checkpoint", "--db", p.db)
        failed = cocred("audit", "--db", p.db, "--rpc", chain.url, "--format", "json", code=1)
        assert expected in json.loads(failed.stdout)["failure"]
