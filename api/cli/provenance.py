"""CLI verbs for provenance: checkpoints, anchoring, the audit, offline proof bundles.

``cocred checkpoint`` · ``cocred ledger-key`` · ``cocred anchor deploy|now`` ·
``cocred audit`` · ``cocred proof POSITION --out FILE`` ·
``cocred verify-proof FILE --ledger-key VKEY [--rpc URL]``.
``import web3`` costs ~2 s, so only the verbs that talk to a chain import it.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from api.cli.common import (
    DbOption,
    QuorumOption,
    RecordFormat,
    ReportFormat,
    WitnessKeysOption,
    allowed_lag,
    check_format,
    emit,
    err,
    fail,
    guarded,
    out,
    progress_bar,
    record_audit,
    refuse,
    services,
    witness_policy,
)
from ledger.errors import LedgerError, MalformedError

# Every provenance module (notes, bundles, the audit, the checkpoint store) is imported by the
# verbs that run it: `cocred --help` loads none of them.
if TYPE_CHECKING:
    from api.bootstrap import Services
    from ledger.provenance.anchoring import AnchorReceipt
    from ledger.provenance.checkpoints import StoredCheckpoint

anchor_app = typer.Typer(no_args_is_help=True, help="Anchor checkpoints on an Ethereum network.")

RpcOption = Annotated[
    str | None,
    typer.Option("--rpc", help="Ethereum JSON-RPC URL (default: COCRED_ANCHOR_RPC_URL)."),
]
KeyOption = Annotated[
    str | None,
    typer.Option(
        "--ledger-key",
        help="The ledger's verifier key (cocred ledger-key prints it); default: "
        "this installation's own key.",
    ),
]


def _checkpoint_json(stored: StoredCheckpoint) -> dict[str, Any]:
    return {
        "size": stored.size,
        "root": stored.root.hex(),
        "cut_at": stored.cut_at.isoformat(),
        "note": stored.signed.to_text(),
    }


def checkpoint(db: DbOption = None, fmt: RecordFormat = "json") -> None:
    """Cut and sign a checkpoint of the whole log now (prints it; creates the ledger key on
    first use). Append the output to a file to keep checkpoints for ``audit --checkpoints``."""
    check_format(fmt)
    with services(db) as svc:
        stored = guarded(svc.provenance.checkpoints.cut)
    if stored is None:
        fail("NotFound", "the log is empty: there is nothing to checkpoint")
    emit(_checkpoint_json(stored), fmt)


def ledger_key(db: DbOption = None, fmt: RecordFormat = "json") -> None:
    """Print the ledger's verifier key, which auditors pin to check checkpoints and bundles
    (creates the ledger key on first use)."""
    check_format(fmt)
    with services(db) as svc:
        identity = svc.provenance.identity
    emit({"origin": identity.origin, "vkey": identity.vkey, "actor": identity.key.actor}, fmt)


@anchor_app.command("deploy")
def anchor_deploy(rpc: RpcOption = None, db: DbOption = None, fmt: RecordFormat = "json") -> None:
    """Deploy Anchor.sol with COCRED_ANCHOR_PRIVATE_KEY as owner; print its address."""
    check_format(fmt)
    from contracts.web3_anchor import Web3Anchor

    with services(db) as svc:
        settings = svc.settings
    url = rpc or settings.anchor_rpc_url
    if not url or settings.anchor_private_key is None:
        fail("AnchorConfig", "set --rpc (or COCRED_ANCHOR_RPC_URL) and COCRED_ANCHOR_PRIVATE_KEY")
    from web3 import HTTPProvider, Web3

    w3 = Web3(HTTPProvider(url, request_kwargs={"timeout": 10}))
    try:
        chain_id = settings.anchor_chain_id or int(w3.eth.chain_id)
    except Exception as exc:  # the node did not answer: say so without web3's noise
        fail("AnchorConnection", f"no Ethereum node answers at {url}: {type(exc).__name__}")
    key = settings.anchor_private_key.get_secret_value()
    address = guarded(lambda: Web3Anchor.deploy(w3, key, chain_id))
    emit(
        {
            "contract": address,
            "chain_id": chain_id,
            "next": f"export COCRED_ANCHOR_CONTRACT={address}",
        },
        fmt,
    )


@anchor_app.command("now")
def anchor_now(db: DbOption = None, fmt: RecordFormat = "json") -> None:
    """Cut a checkpoint if the log grew, anchor its root (one transaction), record the receipt."""
    check_format(fmt)
    with services(db) as svc:
        recorded = guarded(svc.provenance.anchor_now)
    emit({"position": recorded.position, **recorded.receipt.to_dict()}, fmt)


def _chain_check(rpc: str | None) -> Any:
    """A function checking a receipt on chain through ``rpc`` (None: no chain step)."""
    if rpc is None:
        return None
    from contracts.web3_anchor import Web3Anchor

    adapters: dict[tuple[str, int], Any] = {}

    def check(receipt: AnchorReceipt) -> None:
        key = (receipt.contract, receipt.chain_id)
        if key not in adapters:
            adapters[key] = Web3Anchor.read_only(rpc, receipt.contract, receipt.chain_id)
        adapters[key].verify_receipt(receipt)

    return check


def _payment_check(svc: Services, rpc: str | None) -> Any:
    """Step 6: payments against the settled lines and, with ``rpc``, chain payments on chain.

    The ERC-20 ``Transfer`` reader is ``contracts.claims.transfers_in_tx`` and the
    Distributor reader ``contracts.claims.distributor_of`` (the root and token a published
    claim tree's Distributor holds); without that module the chain payments are checked
    against the settlement only (said on stderr).
    """
    if rpc is None:
        return svc.payment_check
    try:
        from contracts.claims import distributor_of, transfers_in_tx
    except ImportError:
        err.print(
            "contracts.claims is not installed: chain payments are checked against the "
            "settlement, not on chain",
            markup=False,
        )
        return svc.payment_check
    from web3 import HTTPProvider, Web3

    from projections.errors import ChainReadError
    from projections.payments import check_payments

    w3 = Web3(HTTPProvider(rpc))

    def transfers(token: str, tx: str) -> list[tuple[str, int]]:
        try:
            return [(t.recipient, t.amount) for t in transfers_in_tx(w3, token, tx)]
        except Exception as exc:  # web3 raises many types; each becomes one typed failure
            raise ChainReadError(f"cannot read its transfers from {rpc}: {exc}") from exc

    def distributors(address: str) -> tuple[int, str, str]:
        try:
            return distributor_of(w3, address)
        except Exception as exc:  # as above: one typed failure, the audit goes on
            raise ChainReadError(f"cannot read it from {rpc}: {exc}") from exc

    return lambda store: check_payments(store, transfers, distributors)


def _extra_checkpoints(path: Path | None) -> list[StoredCheckpoint]:
    """Checkpoints an auditor kept elsewhere: the JSON documents ``cocred checkpoint`` prints,
    one after another (indented, or one per line as earlier versions printed them)."""
    from ledger.provenance.checkpoints import StoredCheckpoint
    from ledger.provenance.note import SignedCheckpoint

    if path is None:
        return []
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        fail("Malformed", f"cannot read {path}: {exc}")
    decoder = json.JSONDecoder()
    kept: list[StoredCheckpoint] = []
    at = 0
    while True:
        while at < len(text) and text[at].isspace():
            at += 1
        if at == len(text):
            return kept
        number = text.count("\n", 0, at) + 1
        try:
            item, at = decoder.raw_decode(text, at)
            signed = SignedCheckpoint.from_text(item["note"])
            cut_at = datetime.fromisoformat(item["cut_at"])
        except (ValueError, KeyError, TypeError) as exc:
            fail("Malformed", f"{path} line {number}: not a checkpoint ({exc})")
        except MalformedError as exc:
            fail(exc.code, f"{path} line {number}: {exc.detail}")
        kept.append(StoredCheckpoint(signed, cut_at))


def audit(
    db: DbOption = None,
    rpc: RpcOption = None,
    ledger_key: KeyOption = None,
    checkpoints: Annotated[
        Path | None,
        typer.Option(help="More checkpoints to hold the log to (kept by you or a witness)."),
    ] = None,
    record: Annotated[
        bool,
        typer.Option(help="Record the result in the database (the auditor page shows the latest)."),
    ] = True,
    max_checkpoint_lag: Annotated[
        int | None,
        typer.Option(
            "--max-checkpoint-lag",
            min=0,
            help="Fail when the latest checkpoint lags the log by more events than this "
            "(default: COCRED_CHECKPOINT_EVERY, the server's checkpoint interval).",
        ),
    ] = None,
    fmt: ReportFormat = "text",
) -> None:
    """Verify the ledger end to end; exit 1 naming the first failure (position, step, why).

    Also fails when the latest checkpoint lags the log's head by more than the
    configured checkpoint interval allows (``--max-checkpoint-lag``), or when a log
    with events has no checkpoint: run ``cocred checkpoint`` first on a copy.
    """
    check_format(fmt)
    extra = _extra_checkpoints(checkpoints)
    from ledger.provenance.audit import audit as run_audit
    from ledger.provenance.audit_reports import utc_stamp

    started_at = utc_stamp()
    with services(db, create=False) as svc:
        prov = svc.provenance
        vkey = ledger_key or prov.identity.vkey
        if ledger_key is None:
            err.print(
                f"using this installation's ledger key {prov.identity.vkey} "
                f"(pass --ledger-key to pin the one you trust)",
                markup=False,
            )
        stored = guarded(prov.checkpoints.all)
        chain = _chain_check(rpc or svc.settings.anchor_rpc_url)
        with progress_bar() as bar:
            task = bar.add_task("auditing", total=guarded(svc.ledger.size))
            report = run_audit(
                svc.ledger.store,
                [*stored, *extra],
                vkey,
                chain=chain,
                settlements=svc.settlement_check,
                payments=_payment_check(svc, rpc or svc.settings.anchor_rpc_url),
                threads=svc.settings.verify_threads,
                progress=lambda n: bar.advance(task, n),
                max_checkpoint_lag=allowed_lag(svc, max_checkpoint_lag),
            )
        if record:
            record_audit(svc, report, started_at)
    if fmt == "json":
        emit(
            {
                "passed": report.failure is None,
                "events": report.events,
                "steps": list(report.steps),
                "disowned": [d.position for d in report.disowned],
                "failure": None if report.failure is None else str(report.failure),
            },
            fmt,
        )
    else:
        for line in report.steps:
            out.print(f"ok  {line}", highlight=False)
    if report.failure is not None:
        fail("AuditFailed", str(report.failure))
    if fmt == "text":
        out.print("audit passed", highlight=False)


def proof(
    position: Annotated[int, typer.Argument(help="Log position of the event.", min=0)],
    out_file: Annotated[Path, typer.Option("--out", help="Where to write the bundle.")],
    db: DbOption = None,
    fmt: RecordFormat = "json",
) -> None:
    """Write the offline proof bundle of one event (a contributor's receipt)."""
    check_format(fmt)
    with services(db, create=False) as svc:
        bundle = guarded(lambda: svc.provenance.bundle(position))
    data = json.dumps(bundle.to_json(), indent=1, sort_keys=True)
    out_file.write_text(data + "\n", encoding="utf-8")
    emit(
        {
            "position": position,
            "file": str(out_file),
            "checkpoint_size": bundle.proof.size,
            "anchored": bundle.anchor is not None,
            "bytes": len(data),
        },
        fmt,
    )


def verify_proof(
    bundle_file: Annotated[Path, typer.Argument(help="A bundle from cocred proof.")],
    ledger_key: Annotated[str, typer.Option("--ledger-key", help="The ledger's verifier key.")],
    rpc: RpcOption = None,
    witness: WitnessKeysOption = None,
    quorum: QuorumOption = None,
    fmt: RecordFormat = "json",
) -> None:
    """Check a proof bundle with no database: signature, inclusion, checkpoint, witness
    cosignatures, anchor."""
    from ledger.provenance.anchoring import AnchorError
    from ledger.provenance.bundles import MalformedBundleError, ProofBundle, verify_bundle

    check_format(fmt)
    policy = witness_policy(witness, quorum)
    try:
        bundle = ProofBundle.from_json(json.loads(bundle_file.read_text(encoding="utf-8")))
    except OSError as exc:
        fail(MalformedBundleError.code, f"cannot read {bundle_file}: {exc}")
    except ValueError as exc:
        fail(MalformedBundleError.code, f"{bundle_file} is not JSON: {exc}")
    except MalformedError as exc:
        refuse(exc)
    env = guarded(lambda: verify_bundle(bundle, ledger_key, policy))
    cosigned = [] if policy is None else policy.check(bundle.checkpoint)
    chained = False
    if rpc is not None and bundle.anchor is not None:
        check = _chain_check(rpc)
        try:
            check(bundle.anchor)
        except (AnchorError, LedgerError) as exc:
            refuse(exc)
        chained = True
    emit(
        {
            "valid": True,
            "position": bundle.position,
            "actor": env.actor,
            "seq": env.seq,
            "type": env.type,
            "checkpoint_size": bundle.proof.size,
            "witnesses": [{"witness": c.witness, "time": c.timestamp} for c in cosigned],
            "anchor": None
            if bundle.anchor is None
            else {
                "chain_id": bundle.anchor.chain_id,
                "contract": bundle.anchor.contract,
                "tx_hash": "0x" + bundle.anchor.tx_hash.hex(),
                "block": bundle.anchor.block_number,
                "checked_on_chain": chained,
            },
        },
        fmt,
    )


def register(app: typer.Typer) -> None:
    """Add the provenance verbs to the ``cocred`` app."""
    app.command()(checkpoint)
    app.command("ledger-key")(ledger_key)
    app.add_typer(anchor_app, name="anchor")
    app.command()(audit)
    app.command()(proof)
    app.command("verify-proof")(verify_proof)
