"""The on-chain claims rail of the ``cocred`` CLI: ``cocred payouts claims build|deploy|
publish|proof|claim|record``.

The claim tree of a settled campaign's lines (``contracts/claim_payouts.py``), a Distributor
deployed and funded on ``--rpc`` (signed with COCRED_CLAIMS_PRIVATE_KEY) and put in the log
(``ClaimsPublished``: its root, address, token and total), a member's own proof fetched with
a signed read, a claim sent, and the Claimed events recorded as payments. Registered under
the ``payouts`` group (``register`` finds it, so ``COMMAND_TABLE`` lists this module after
``payouts``). Every refusal prints
``error[Code]: sentence`` on stderr and exits 1, having written nothing.
"""

from __future__ import annotations

import re
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from api.cli.common import (
    REFUSALS,
    CampaignOption,
    DbOption,
    KeyOption,
    RecordFormat,
    brand_plan,
    check_format,
    emit,
    err,
    fail,
    guarded,
    load_key,
    payout_book,
    refuse,
    require_brand,
    services,
    subgroup,
)
from domain.errors import DomainError

if TYPE_CHECKING:
    from api.bootstrap import Services
    from domain.services import Receipt

# -- the on-chain claims rail ------------------------------------------------------------------

claims_app = typer.Typer(
    no_args_is_help=True,
    help="The on-chain claims rail: build the claim tree, deploy and fund it, claim, record.",
)
RpcOption = Annotated[str, typer.Option("--rpc", help="Ethereum JSON-RPC URL (http or https).")]


def _publish(svc: Services, signer: Any, document: dict[str, Any]) -> Receipt:
    """``ClaimsPublished`` for a deployed ``document``: the root, Distributor, chain, token,
    how many claim and how much (minor units). Exit 1 with the rule's sentence if refused."""
    return guarded(
        lambda: svc.campaigns.publish_claims(
            signer,
            document["campaign"],
            root=document["root"],
            chain=document["chain_id"],
            distributor=document["distributor"],
            token=document["token"],
            decimals=document["decimals"],
            claimants=len(document["claims"]),
            amount=sum(c["amount"] for c in document["claims"]),
        )  # fmt: skip
    )


def _unpublished(svc: Services, campaign: str) -> None:
    """Exit 1 (``ClaimsAlreadyPublished``) when the log holds the campaign's claim tree."""
    published = payout_book(svc, campaign).claims
    if published is not None:
        fail(
            "ClaimsAlreadyPublished",
            f"campaign {campaign} published its claims in {published.id} (Distributor "
            f"{published.distributor}): one claim tree per campaign",
        )


def _chain(svc: Services, rpc: str) -> tuple[Any, str]:
    """A Web3 on ``rpc`` and COCRED_CLAIMS_PRIVATE_KEY (the gas payer; never printed)."""
    from contracts.chain import http_web3
    from contracts.claims import ERRORS

    key = svc.settings.claims_private_key
    if key is None:
        fail("ClaimsConfig", "set COCRED_CLAIMS_PRIVATE_KEY: the key that pays the gas")
    return guarded(lambda: http_web3(rpc, 10.0, ERRORS)), key.get_secret_value()


@claims_app.command("build")
def claims_build(
    key: KeyOption,
    campaign: CampaignOption,
    out_file: Annotated[Path, typer.Option("--out", help="Where to write the claims JSON.")],
    decimals: Annotated[int, typer.Option(help="The ERC-20's decimals.", min=0, max=36)] = 18,
    db: DbOption = None,
    fmt: RecordFormat = "json",
) -> None:
    """Build the claim tree of a settled campaign: root, total and every payee's proof.

    Each payee still owed money gets a leaf for their current Ethereum payout method; the
    others are listed as unpaid with the reason, and stay owed. The document is kept in the
    database too, so the API serves each member's proof once it is deployed.
    """
    from contracts.claim_payouts import ClaimTrees, claim_document
    from projections.rails import CLAIMS, plan_json

    signer = load_key(key)
    with services(db) as svc:
        plan = brand_plan(svc, signer.actor, campaign, [CLAIMS], allowed=(CLAIMS,))
        trees = guarded(lambda: ClaimTrees(svc.engine))
        guarded(lambda: trees.require_undeployed(campaign))
        document = guarded(lambda: claim_document(plan, decimals))
        try:
            out_file.parent.mkdir(parents=True, exist_ok=True)
            out_file.write_bytes(plan_json(document))
        except OSError as exc:
            fail("ExportRefused", f"cannot write {out_file}: {exc.strerror}")
        guarded(lambda: trees.save(document))
    emit(
        {
            "campaign": campaign,
            "root": document["root"],
            "total": document["total"],
            "decimals": decimals,
            "claims": len(document["claims"]),
            "file": str(out_file),
            "unpaid": document["unpaid"],
        },
        fmt,
    )


@claims_app.command("deploy")
def claims_deploy(
    key: KeyOption,
    campaign: CampaignOption,
    rpc: RpcOption,
    token: Annotated[
        str | None, typer.Option(help="The ERC-20 paid (its decimals must be the tree's).")
    ] = None,
    test_token: Annotated[
        bool,
        typer.Option(
            "--test-token",
            help="Deploy contracts/TestToken.sol minting the tree's total (tests, demos).",
        ),
    ] = False,
    db: DbOption = None,
    fmt: RecordFormat = "json",
) -> None:
    """Deploy a Distributor for the campaign's newest claim tree, fund it with its total,
    and put it in the log (``ClaimsPublished``, signed by ``--key``).

    Signs the chain transactions with COCRED_CLAIMS_PRIVATE_KEY, which must hold the total of
    ``--token``. If the log cannot take the publication after the Distributor is deployed
    (the database went away), ``cocred payouts claims publish`` puts it there later.
    """
    from contracts import claims as chain
    from contracts.claim_payouts import ClaimTrees, check_still_owed, tree_of
    from projections.payments import settled_lines

    if (token is None) == (not test_token):
        fail("BadOption", "give exactly one of --token ADDRESS and --test-token")
    signer = load_key(key)
    with services(db) as svc:
        require_brand(svc, signer.actor, campaign, "deploy its claims")
        trees = guarded(lambda: ClaimTrees(svc.engine))
        document = guarded(lambda: trees.latest(campaign))
        guarded(lambda: trees.require_undeployed(campaign))
        _unpublished(svc, campaign)
        book = payout_book(svc, campaign)
        lines = guarded(lambda: settled_lines(book, svc.ledger.store, campaign)) or {}
        owed = {m: a - book.paid.get(m, 0) for m, a in lines.items()}
        guarded(lambda: check_still_owed(document, owed))
        tree = guarded(lambda: tree_of(document))
        w3, private_key = _chain(svc, rpc)
        if test_token:
            token = guarded(
                lambda: chain.deploy_token(
                    w3, private_key=private_key, decimals=document["decimals"], supply=tree.total
                )
            )
        assert token is not None
        paid_in = token
        held = guarded(lambda: chain.token_decimals(w3, paid_in))
        if held != document["decimals"]:
            fail(
                "ClaimsConfig",
                f"token {paid_in} has {held} decimals, the claim tree was built for "
                f"{document['decimals']}: build it again with --decimals {held}",
            )
        from eth_account import Account

        payer = Account.from_key(private_key).address
        balance = guarded(lambda: chain.balance_of(w3, paid_in, payer))
        if balance < tree.total:  # checked before anything is sent: no empty Distributor left
            fail(
                "ClaimsConfig",
                f"{payer} holds {balance} of token {paid_in}, less than the tree's total "
                f"{tree.total}",
            )
        distributor = guarded(
            lambda: chain.deploy_distributor(w3, paid_in, tree, private_key=private_key)
        )
        funded = guarded(
            lambda: chain.fund(w3, paid_in, distributor, tree.total, private_key=private_key)
        )
        chain_id = int(w3.eth.chain_id)
        guarded(lambda: trees.deployed(campaign, document["root"], distributor, chain_id, paid_in))
        published = _publish(svc, signer, guarded(lambda: trees.deployed_latest(campaign)))
    emit(
        {
            "campaign": campaign,
            "root": document["root"],
            "distributor": distributor,
            "token": paid_in,
            "chain_id": chain_id,
            "funded": str(tree.total),
            "fund_tx": "0x" + funded.hex(),
            "published": published.position,
        },
        fmt,
    )


@claims_app.command("publish")
def claims_publish(
    key: KeyOption,
    campaign: CampaignOption,
    rpc: RpcOption,
    db: DbOption = None,
    fmt: RecordFormat = "json",
) -> None:
    """Put the campaign's deployed claim tree in the log (``ClaimsPublished``) when
    ``deploy`` could not: the Distributor on ``--rpc`` must hold the kept tree's root and
    token on its chain. ``deploy`` publishes by itself; this is for after a failure."""
    from contracts import claims as chain
    from contracts.chain import http_web3
    from contracts.claim_payouts import ClaimTrees

    signer = load_key(key)
    with services(db) as svc:
        require_brand(svc, signer.actor, campaign, "publish its claims")
        document = guarded(lambda: ClaimTrees(svc.engine).deployed_latest(campaign))
        _unpublished(svc, campaign)
        w3 = guarded(lambda: http_web3(rpc, 10.0, chain.ERRORS))
        on_chain = guarded(lambda: chain.distributor_of(w3, document["distributor"]))
        kept = (document["chain_id"], document["root"], document["token"])
        if on_chain != kept:
            fail(
                "ClaimsMismatch",
                f"Distributor {document['distributor']} holds root {on_chain[1]} of token "
                f"{on_chain[2]} on chain {on_chain[0]}; the kept tree is {kept[1]} of token "
                f"{kept[2]} on chain {kept[0]}",
            )
        published = _publish(svc, signer, document)
    emit(
        {
            "campaign": campaign,
            "root": document["root"],
            "distributor": document["distributor"],
            "published": published.position,
        },
        fmt,
    )


@claims_app.command("proof")
def claims_proof(
    key: KeyOption,
    campaign: CampaignOption,
    url: Annotated[
        str, typer.Option("--url", help="The cocred server, e.g. http://127.0.0.1:8000.")
    ],
    fmt: RecordFormat = "json",
) -> None:
    """Fetch your own claim proof from a cocred server with a signed read (the leaf ties
    you to your Ethereum address: nobody but you and the brand may read it)."""
    check_format(fmt)
    import json
    import urllib.error
    import urllib.parse
    import urllib.request

    from api.http.auth import sign_request

    signer = load_key(key)
    base = url.rstrip("/")
    if not re.match(r"^https?://[^/?#]+$", base):
        fail("InvalidURL", f"--url {url!r} is not an http:// or https:// server address")
    path = (
        f"/campaigns/{urllib.parse.quote(campaign, safe='')}/claims/"
        f"{urllib.parse.quote(signer.actor, safe='')}"
    )
    request = urllib.request.Request(base + path, headers=sign_request(signer, "GET", path))
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            document = json.load(response)
    except urllib.error.HTTPError as exc:
        try:
            answer = json.loads(exc.read())
            code, detail = str(answer["error"]), str(answer["detail"])
        except (ValueError, KeyError, TypeError):
            code, detail = "ServerError", f"{base} answered HTTP {exc.code}"
        fail(code, detail)
    except (OSError, ValueError) as exc:
        fail("ServerUnreachable", f"cannot reach {base}: {getattr(exc, 'reason', exc)}")
    emit(document, fmt)


@claims_app.command("claim")
def claims_claim(
    campaign: CampaignOption,
    member: Annotated[str, typer.Option(help="The member whose claim to send.")],
    rpc: RpcOption,
    db: DbOption = None,
    fmt: RecordFormat = "json",
) -> None:
    """Send a member's claim (anyone may: COCRED_CLAIMS_PRIVATE_KEY pays the gas, the tokens
    go to the member's account in the tree)."""
    from contracts import claims as chain
    from contracts.claim_payouts import ClaimTrees

    with services(db, create=False) as svc:
        document, entry = guarded(lambda: ClaimTrees(svc.engine).claim_of(campaign, member))
        w3, private_key = _chain(svc, rpc)
        proof = [bytes.fromhex(p[2:]) for p in entry["proof"]]
        done = guarded(
            lambda: chain.claim(
                w3,
                document["distributor"],
                entry["index"],
                entry["account"],
                int(entry["tokens"]),
                proof,
                private_key=private_key,
            )  # fmt: skip
        )
    emit(
        {
            "campaign": campaign,
            "member": member,
            "index": done.index,
            "account": done.account,
            "tokens": str(done.amount),
            "tx": "0x" + done.tx_hash.hex(),
        },
        fmt,
    )


@claims_app.command("record")
def claims_record(
    key: KeyOption,
    campaign: CampaignOption,
    rpc: RpcOption,
    db: DbOption = None,
    fmt: RecordFormat = "json",
) -> None:
    """Read the Distributor's Claimed events and record each new claim as a payment.

    One PaymentRecorded per claim transaction (rail ``claims``, batch = the Distributor,
    ``tx`` = the claim's); claims recorded before are left out, so run it any time. A claim
    the rules refuse (a payee the brand paid another way meanwhile: paid twice) is listed
    under ``refused`` with its reason and the others are still recorded; the command then
    exits 1 with each refusal's sentence, as the money went out and someone must act.
    """
    from contracts import claims as chain
    from contracts.chain import http_web3
    from contracts.claim_payouts import ClaimTrees, claimed_payments
    from domain.vocabulary import CLAIMS

    signer = load_key(key)
    receipts: list[Receipt] = []
    refused: list[dict[str, Any]] = []
    done: list[tuple[str, Any]] = []
    with services(db) as svc:
        document = guarded(lambda: ClaimTrees(svc.engine).deployed_latest(campaign))
        w3 = guarded(lambda: http_web3(rpc, 10.0, chain.ERRORS))
        seen = guarded(lambda: chain.read_claims(w3, document["distributor"]))
        recorded = [p.tx for p in payout_book(svc, campaign).payments if p.rail == CLAIMS and p.tx]
        found = guarded(lambda: claimed_payments(document, seen, recorded))
        for tx, lines in found:
            record = partial(
                svc.campaigns.record_payment, signer, campaign, rail=CLAIMS,
                batch=document["distributor"], payments=lines, tx=tx, token=document["token"],
                decimals=document["decimals"],
            )  # fmt: skip
            try:
                receipts.append(record())
            except DomainError as exc:  # this claim only: the next ones are still recorded
                refused.append({"tx": tx, "error": exc.code, "detail": exc.detail})
            except REFUSALS as exc:  # the database or the ledger: nothing more can be recorded
                refuse(exc)
            else:
                done.append((tx, lines))
    emit(
        {
            "campaign": campaign,
            "distributor": document["distributor"],
            "claimed": len(seen),
            "recorded": [
                {"tx": tx, "payees": len(lines), "amount": sum(a for _, a, _ in lines)}
                for tx, lines in done
            ],
            "positions": [r.position for r in receipts],
            "refused": refused,
        },
        fmt,
    )
    for claim in refused:
        err.print(
            f"error[{claim['error']}]: claim {claim['tx']} was not recorded: {claim['detail']}",
            markup=False, highlight=False, soft_wrap=True,
        )  # fmt: skip
    if refused:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add the ``claims`` group under the ``payouts`` group of ``app``."""
    subgroup(app, "payouts").add_typer(claims_app, name="claims")
