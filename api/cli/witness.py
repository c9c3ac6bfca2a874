"""CLI verbs for C2SP tlog-witness: run a witness, and get this ledger's checkpoints cosigned.

``cocred witness serve`` runs an independent witness (its own key, its own state, no access
to the log's database): anyone can run one and point it at a cocred log's verifier key.
``cocred witness key`` prints (creating on first use) a witness's key; ``cocred witness
submit`` submits this ledger's latest checkpoint to the witnesses now (the server does
it after every checkpoint it cuts).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from api.cli.common import DbOption, RecordFormat, check_format, emit, err, fail, guarded, services

if TYPE_CHECKING:
    from ledger.provenance.cosignature import Cosigner

witness_app = typer.Typer(
    no_args_is_help=True,
    help="C2SP tlog-witness: run a witness, or get this ledger's checkpoints cosigned.",
)

WitnessKeyOption = Annotated[
    Path,
    typer.Option(
        "--key", help="The witness's Ed25519 key file (created, mode 0600, if it is missing)."
    ),
]
NameOption = Annotated[
    str,
    typer.Option(
        "--name",
        help="The witness's name, a schema-less URL such as witness.example.org/w1 "
        "(it is part of the key id).",
    ),
]


def _cosigner(key: Path, name: str) -> Cosigner:
    from ledger.keys import SigningKey
    from ledger.provenance.cosignature import Cosigner

    if not key.exists():
        key.parent.mkdir(parents=True, exist_ok=True)
        guarded(lambda: SigningKey.generate().save(key))
    signing = guarded(lambda: SigningKey.load(key))
    return guarded(lambda: Cosigner(name, signing.private))


@witness_app.command("key")
def key_command(key: WitnessKeyOption, name: NameOption, fmt: RecordFormat = "json") -> None:
    """Print the witness's verifier key (type 0x04), creating its key file on first use."""
    check_format(fmt)
    cosigner = _cosigner(key, name)
    emit({"witness": cosigner.name, "vkey": cosigner.vkey, "key_file": str(key)}, fmt)


@witness_app.command("serve")
def serve(
    key: WitnessKeyOption,
    name: NameOption,
    log: Annotated[
        list[str],
        typer.Option(
            "--log",
            help="A log to follow: its checkpoint verifier key (cocred ledger-key prints it; "
            "the key's name is the log's origin). Repeat for more logs.",
        ),
    ],
    state: Annotated[
        str,
        typer.Option(
            "--state",
            help="Where the witness keeps the latest checkpoint it cosigned per log: a SQLite "
            "file or a database URL (its own, never the log's).",
        ),
    ] = "var/witness.sqlite",
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8090,
) -> None:
    """Run a witness: cosign each checkpoint of the followed logs that is consistent with the
    last one it cosigned (POST /add-checkpoint), refuse and keep as evidence any other."""
    import uvicorn

    from api.http.witness_app import create_witness_app
    from ledger.provenance.witness import Witness
    from ledger.store.engine import engine_for

    cosigner = _cosigner(key, name)
    url = state if "://" in state else f"sqlite:///{state}"
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    engine = engine_for(url)
    try:
        witness = guarded(lambda: Witness(engine, cosigner, log))
        app = create_witness_app(witness)
        err.print(
            f"witness {cosigner.name} at http://{host}:{port}/ following "
            f"{', '.join(sorted(witness.logs))}",
            markup=False,
        )
        err.print(f"  its verifier key: {cosigner.vkey}", markup=False)
        err.print(
            f"  a log submits to it with COCRED_WITNESSES='http://{host}:{port} {cosigner.vkey}'",
            markup=False,
        )
        uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)
    finally:
        engine.dispose()


@witness_app.command("submit")
def submit(
    witness: Annotated[
        list[str] | None,
        typer.Option(
            "--witness",
            help="'<URL> <witness vkey>' to submit to (repeatable); default: COCRED_WITNESSES.",
        ),
    ] = None,
    db: DbOption = None,
    fmt: RecordFormat = "json",
) -> None:
    """Submit this ledger's latest checkpoint to the witnesses now and keep their cosignatures.

    Exits 1 when a witness refused or could not be reached (each one's sentence is printed);
    the cosignatures of the others are kept all the same."""
    check_format(fmt)
    from ledger.provenance.witness_client import WitnessEndpoint, Witnessing

    with services(db, create=False) as svc:
        endpoints = (
            guarded(lambda: [WitnessEndpoint.parse(spec) for spec in witness])
            if witness
            else svc.settings.witness_endpoints()
        )
        if not endpoints:
            fail(
                "InvalidWitness",
                "no witness to submit to: pass --witness '<URL> <vkey>' or set COCRED_WITNESSES",
            )
        witnessing = Witnessing(
            svc.provenance.checkpoints, endpoints, timeout=svc.settings.witness_timeout_seconds
        )
        try:
            result = guarded(lambda: witnessing.cosign(wait=True))
        finally:
            witnessing.close()
        if result is None:
            fail("NotFound", "no checkpoint has been cut yet: run `cocred checkpoint` first")
        stored = guarded(lambda: svc.provenance.checkpoints.get(result.size))
    assert stored is not None
    emit(
        {
            "size": result.size,
            "cosigned": result.cosigned,
            "failed": result.failed,
            "note": stored.signed.to_text(),
        },
        fmt,
    )
    if result.failed:
        for why in result.failed.values():
            err.print(f"error[{why['code']}]: {why['detail']}", markup=False)
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add the ``witness`` group to the ``cocred`` app."""
    app.add_typer(witness_app, name="witness")
