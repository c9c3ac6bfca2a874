"""``cocred serve``: the HTTP API and the web pages under uvicorn, optionally on a demo.

uvicorn and the FastAPI app are imported when the verb runs, not when ``cocred`` starts.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from api.cli.common import (
    DbOption,
    allowed_lag,
    err,
    guarded,
    record_audit,
    run_demo,
    services,
)

if TYPE_CHECKING:
    from api.bootstrap import Services


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

    shown: DemoShown | None = None
    with services(db) as svc:
        url = svc.settings.database_url
        if demo:
            shown = _demo_for_serving(svc)
        guarded(lambda: prepare_tables(svc))
    os.environ["COCRED_DATABASE_URL"] = url
    # A long-lived server freezes its replayed state out of the cyclic GC
    # (ledger.store.group_commit).
    os.environ.setdefault("COCRED_GC_FREEZE", "true")
    base = f"http://{host}:{port}"
    err.print(f"serving {url} at {base}/ (API docs at {base}/docs)", markup=False)
    if shown is not None:
        err.print(f"  the demo campaign: {base}/c/{shown.campaign}", markup=False)
        for rank, member in enumerate(shown.top_earners, 1):
            err.print(f"  top earner {rank}:     {base}/people/{member}", markup=False)
        err.print(f"  the auditor page:  {base}/audit", markup=False)
        err.print(
            f"  the demo brand's key: {shown.brand_key} (sign the brand's exports on the "
            f"campaign page with it)",
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


@dataclass(frozen=True)
class DemoShown:
    """What ``serve --demo`` points at: the campaign, its top earners, the brand's key file."""

    campaign: str
    top_earners: list[str]
    brand_key: Path


def _demo_brand_key(svc: Services, seed: int) -> Path:
    """Write the demo brand's (deterministic, public) key beside the database, or in var/."""
    from domain.demo.story import demo_key
    from ledger.store import sqlite_path

    where = sqlite_path(svc.settings.database_url)
    path = (where.parent if where is not None else Path("var")) / f"demo-{seed}-brand.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        guarded(lambda: demo_key(seed, "brand", 0).save(path))
    return path


def _top_earners(svc: Services, campaign: str, count: int = 3) -> list[str]:
    """The ``count`` members the campaign's settlement pays most, best first."""
    from projections.export import settlement_of
    from projections.state import load_state

    state = guarded(lambda: load_state(svc.ledger.store)).campaign(campaign)
    lines = guarded(lambda: settlement_of(state)).lines
    return [line.member for line in sorted(lines, key=lambda x: (-x.amount, x.member))[:count]]


def _demo_for_serving(svc: Services) -> DemoShown:
    """Build the seed-1 demo unless it is there; checkpoint; record an audit; what to show."""
    from domain.demo.generator import demo_campaign_id
    from ledger.provenance.audit import audit as run_audit
    from ledger.provenance.audit_reports import utc_stamp

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
    return DemoShown(campaign, _top_earners(svc, campaign), _demo_brand_key(svc, 1))


def register(app: typer.Typer) -> None:
    """Add ``serve`` to ``app``."""
    app.command()(serve)
