"""Health for operators and load balancers: ``GET /healthz`` (up), ``GET /readyz`` (ready),
``GET /metrics`` (refusals by the rate limits and the content quotas, Prometheus text).

``/healthz`` answers 200 while the process serves requests. ``/readyz`` answers
200 only when this process can do its job: the database is reachable, its
checkpointer thread is alive and its last pass succeeded, and the latest signed
checkpoint is not overdue (events have waited no longer than twice the checkpoint
interval plus two polls). Otherwise it answers 503 ``NotReady`` naming each check
that failed, with the same figures.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from api.http.deps import errors, services_of
from api.http.errors import ApiError, error_body, status_for
from api.http.schemas import Alive, Check, Ready
from ledger.provenance.checkpointer import CheckpointerHealth, CheckpointerStatus, describe_failure
from ledger.provenance.checkpoints import CheckpointLag

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Alive, responses=errors(limited=False))
def healthz() -> Alive:
    """200 ``{"status": "ok"}`` while the process answers (it reads nothing)."""
    return Alive(status="ok")


@router.get("/readyz", response_model=Ready, responses=errors(limited=False))
def readyz(request: Request) -> Any:
    """Database reachable, checkpointer alive and well, latest checkpoint not overdue.

    When a check fails: 503 ``{"error": "NotReady", "detail": sentence, "failed":
    [names], "checks": {...}, "checkpointer": {...}, "lag": {...}}``.
    """
    settings = services_of(request).settings
    status: CheckpointerStatus = request.app.state.checkpointer
    health = status.current()
    now = datetime.now(UTC)
    allowed = 2 * settings.checkpoint_interval_seconds + 2 * settings.checkpoint_poll_seconds
    lag: CheckpointLag | None = None
    try:
        lag = services_of(request).provenance.checkpoints.lag(now)
        database = Check(ok=True, detail="database: the log and its checkpoints can be read")
    # A probe must answer whatever the fault is: that is what it is for.
    except Exception as exc:
        database = Check(ok=False, detail=f"database: unreachable: {describe_failure(exc)[1]}")
    checks = {
        "database": database,
        "checkpointer": _checkpointer(health, now, allowed),
        "checkpoint_lag": _lag(lag, health, now, allowed),
    }
    figures = None if lag is None else {**lag.to_json(), "allowed_seconds": allowed}
    failed = [name for name, check in checks.items() if not check.ok]
    witnessing = services_of(request).witnessing
    witnesses = None if witnessing is None else witnessing.snapshot()
    if not failed:
        return Ready(
            status="ready",
            checks=checks,
            checkpointer=health.to_json(),
            lag=figures,
            witnesses=witnesses,
        )
    refusal = ApiError("NotReady", "; ".join(checks[name].detail for name in failed))
    body = {
        **error_body(refusal),
        "failed": failed,
        "checks": {name: check.model_dump() for name, check in checks.items()},
        "checkpointer": health.to_json(),
        "lag": figures,
        "witnesses": witnesses,
    }
    return JSONResponse(body, status_code=status_for(refusal))


def _checkpointer(health: CheckpointerHealth, now: datetime, allowed: float) -> Check:
    if not health.alive:
        return Check(ok=False, detail="checkpointer: not running in this server process")
    if health.consecutive_failures:
        return Check(
            ok=False,
            detail=f"checkpointer: its last {health.consecutive_failures} pass(es) failed, "
            f"the last with {health.last_error_code}: {health.last_error} (it keeps retrying)",
        )
    since = health.last_success or health.started_at or now
    quiet = (now - since).total_seconds()
    if quiet > allowed:
        return Check(
            ok=False,
            detail=f"checkpointer: no pass completed for {quiet:.1f} s "
            f"(more than {allowed:g} s): it looks stuck",
        )
    return Check(ok=True, detail=f"checkpointer: alive, last pass {quiet:.1f} s ago")


def _lag(
    lag: CheckpointLag | None, health: CheckpointerHealth, now: datetime, allowed: float
) -> Check:
    if lag is None:
        return Check(ok=False, detail="checkpoint lag: unknown while the database is unreachable")
    if lag.events == 0:
        return Check(ok=True, detail=f"checkpoint lag: none, the latest covers all {lag.head}")
    # Events have waited at most since the later of the last cut and the first pass
    # that saw them pending (a log idle for hours, then one event, is not overdue).
    marks = [t for t in (lag.checkpoint and lag.checkpoint.cut_at, health.pending_since) if t]
    waited = (now - max(marks)).total_seconds() if marks else 0.0
    where = f"checkpoint {lag.size}" if lag.checkpoint else "no checkpoint yet"
    sentence = f"{lag.events} event(s) beyond the latest checkpoint ({where}; log {lag.head})"
    if waited > allowed:
        return Check(
            ok=False,
            detail=f"checkpoint lag: {sentence} for {waited:.1f} s, more than {allowed:g} s",
        )
    return Check(ok=True, detail=f"checkpoint lag: {sentence} for {waited:.1f} s")


@router.get(
    "/metrics",
    response_class=Response,
    responses={
        200: {
            "content": {"text/plain": {"schema": {"type": "string"}}},
            "description": "Prometheus text",
        },
        **errors(limited=False),
    },
)
def metrics(request: Request) -> Response:
    """Requests refused by each rate limit and content quota, summed over every server process.

    Prometheus text format, one ``cocred_refused_total{limit="<class>/<per>"}`` counter
    per limit (each process adds its refusals to the shared counters once a second).
    """
    totals = services_of(request).limiter.refused_totals()
    lines = [
        "# HELP cocred_refused_total Requests refused by a rate limit or a content quota, "
        "every server process.",
        "# TYPE cocred_refused_total counter",
        *(f'cocred_refused_total{{limit="{name}"}} {n}' for name, n in sorted(totals.items())),
    ]
    return Response("\n".join(lines) + "\n", media_type="text/plain; version=0.0.4")
