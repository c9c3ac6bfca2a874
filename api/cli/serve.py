"""``cocred serve``: the HTTP API and the web pages under uvicorn, optionally on a demo.

uvicorn and the FastAPI app are imported when the verb runs, not when ``cocred`` starts.
"""

from __future__ import annotations

import os
from typing import Annotated

import typer

from api.bootstrap import Services
from api.cli.common import (
    DbOption,
    allowed_lag,
    err,
    guarded,
    record_audit,
    run_demo,
    services,
)
from ledger.provenance.audit import audit as run_audit
from ledger.provenance.audit_reports import utc_stamp


def serve(
    db: DbOption = None,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    workers: Annotated[int, typer.Option(help="uvicorn worker processes.", min=1)] = 1,
    demo: Annotated[
        bool,
        typer.Option(
            help="First build the demo campaign (unless it is there), cut a checkpoint and "
            "record an audit, so every page has something to show."
        ),
    ] = False,
) -> None:
    """Serve the HTTP API (OpenAPI at /docs) and the web pages with uvicorn."""
    import uvicorn

    from api.http.app import prepare_tables
    from api.http.protocol import CappedHttpToolsProtocol

    campaign = None
    with services(db) as svc:
        url = svc.settings.database_url
        if demo:
            campaign = _demo_for_serving(svc)
        guarded(lambda: prepare_tables(svc))
    os.environ["COCRED_DATABASE_URL"] = url
    # A long-lived server freezes its replayed state out of the cyclic GC
    # (ledger.store.group_commit).
    os.environ.setdefault("COCRED_GC_FREEZE", "true")
    base = f"http://{host}:{port}"
    err.print(f"serving {url} at {base}/ (API docs at {base}/docs)", markup=False)
    if campaign is not None:
        err.print(
            f"  the demo campaign: {base}/c/{campaign}\n  the auditor page:  {base}/audit",
            markup=False,
        )
    uvicorn.run(
        "api.asgi:app",
        host=host,
        port=port,
        workers=workers,
        # httptools with a cap on a request's head (uvicorn gives httptools none): a client
        # cannot make a worker buffer an endless header; HeaderLimit caps the count.
        http=CappedHttpToolsProtocol,
        log_level="warning",
        access_log=False,  # warnings only: do not even build the access-log arguments
    )


def _demo_for_serving(svc: Services) -> str:
    """Build the seed-1 demo unless it is there; checkpoint; record an audit. Its campaign id."""
    from domain.demo.generator import demo_campaign_id

    campaign = demo_campaign_id(1)
    if not guarded(lambda: svc.campaigns.gate.read(lambda state: campaign in state.campaigns)):
        guarded(lambda: run_demo(svc, err, seed=1, members=60, contributions=200, votes=1500))
    else:
        err.print(f"the demo campaign {campaign} is already in this database", markup=False)
    prov = svc.provenance
    guarded(prov.checkpoints.cut)
    started_at = utc_stamp()
    report = run_audit(
        svc.ledger.store,
        guarded(prov.checkpoints.all),
        prov.identity.vkey,
        settlements=svc.settlement_check,
        payments=svc.payment_check,
        threads=svc.settings.verify_threads,
        max_checkpoint_lag=allowed_lag(svc, None),
    )
    record_audit(svc, report, started_at)
    verdict = "passed" if report.ok else f"FAILED: {report.failure}"
    err.print(f"audit of {report.events} events {verdict}", markup=False)
    return campaign


def register(app: typer.Typer) -> None:
    """Add ``serve`` to ``app``."""
    app.command()(serve)
