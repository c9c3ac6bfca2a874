"""Reads for auditors: the log in pages, events, checkpoints, proofs, anchors, bundles.

Everything here is public: the log holds no personal data in clear.
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Path, Query, Request, Response

from api.http.caching import IMMUTABLE
from api.http.deps import MAX_POSITION, errors, limit_query, page_limit, reads_of, services_of
from api.http.errors import ApiError
from api.http.schemas import (
    AnchorOut,
    AnchorPage,
    AuditOut,
    AuditPage,
    CheckpointOut,
    CheckpointPage,
    LatestCheckpointOut,
    LedgerKeyOut,
    LoggedEvent,
    LogPage,
    ProofOut,
)
from ledger.errors import NotFoundError
from ledger.provenance.audit_reports import AuditRecord
from ledger.provenance.checkpoints import StoredCheckpoint
from ledger.store import StoredRecord

router = APIRouter(tags=["auditors"])


def _event(record: StoredRecord) -> LoggedEvent:
    return LoggedEvent(position=record.position, event=orjson.loads(record.data))


def _audit(record: AuditRecord) -> AuditOut:
    return AuditOut.model_validate(record.to_json())


def _checkpoint(stored: StoredCheckpoint) -> CheckpointOut:
    return CheckpointOut(
        size=stored.size,
        root=stored.root.hex(),
        note=stored.signed.to_text(),
        cut_at=stored.cut_at.isoformat(),
    )


@router.get("/log", response_model=LogPage, responses=errors())
def read_log(
    request: Request,
    start: int = Query(0, alias="from", ge=0, le=MAX_POSITION),
    limit: int = limit_query(),
) -> LogPage:
    """Events in log order from position ``from`` (at most ``limit``, ≤ 1000)."""
    store = services_of(request).ledger.store
    records = store.read(start, page_limit(limit))
    size = store.size()
    last = records[-1].position + 1 if records else start
    return LogPage(
        events=[_event(r) for r in records], next=last if last < size else None, size=size
    )


@router.get("/events/{position}", response_model=LoggedEvent, responses=errors(404))
def read_event(
    request: Request, response: Response, position: int = Path(ge=0, le=MAX_POSITION)
) -> LoggedEvent:
    """The event at ``position`` (immutable once stored: cached for a year)."""
    record = services_of(request).ledger.store.get(position)
    if record is None:
        raise NotFoundError(f"no event at position {position}", position=position)
    response.headers["Cache-Control"] = IMMUTABLE
    return _event(record)


@router.get("/checkpoints", response_model=CheckpointPage, responses=errors())
def read_checkpoints(
    request: Request, start: int = Query(0, alias="from", ge=0), limit: int = limit_query()
) -> CheckpointPage:
    """Signed checkpoints with tree size ≥ ``from``, smallest first."""
    limit = page_limit(limit)
    stored = [c for c in services_of(request).provenance.checkpoints.all() if c.size >= start]
    page = stored[:limit]
    more = stored[limit:]
    return CheckpointPage(
        checkpoints=[_checkpoint(c) for c in page], next=more[0].size if more else None
    )


@router.get("/checkpoints/latest", response_model=LatestCheckpointOut, responses=errors(404))
def latest_checkpoint(request: Request) -> LatestCheckpointOut:
    """The checkpoint of the largest tree; ``lag_events`` logged events it does not cover yet.

    ``lag_seconds`` is its age while it lags (0 when it covers the whole log).
    """
    lag = services_of(request).provenance.checkpoints.lag()
    if lag.checkpoint is None:
        raise NotFoundError(f"no checkpoint has been cut yet (the log holds {lag.head} events)")
    return LatestCheckpointOut(
        **_checkpoint(lag.checkpoint).model_dump(),
        log_size=lag.head,
        lag_events=lag.events,
        lag_seconds=round(lag.lag_seconds, 3),
        age_seconds=round(lag.age_seconds, 3),
    )


@router.get("/proofs/inclusion", response_model=ProofOut, responses=errors(404))
def inclusion_proof(
    request: Request, response: Response, position: int = Query(ge=0), size: int = Query(ge=1)
) -> ProofOut:
    """Proof that the event at ``position`` is leaf ``position`` of the tree of ``size``
    (a fixed tree size never changes: cached for a year)."""
    response.headers["Cache-Control"] = IMMUTABLE
    tree = services_of(request).provenance.tree
    tree.catch_up()
    if position >= size:
        raise ApiError("InvalidRequest", f"position {position} is not below size {size}")
    return ProofOut(proof=tree.inclusion(position, size).to_json(), root=tree.root(size).hex())


@router.get("/proofs/consistency", response_model=ProofOut, responses=errors(404))
def consistency_proof(
    request: Request, response: Response, old: int = Query(ge=0), new: int = Query(ge=1)
) -> ProofOut:
    """Proof that the tree of ``old`` leaves is a prefix of the tree of ``new`` (fixed sizes:
    cached for a year)."""
    response.headers["Cache-Control"] = IMMUTABLE
    tree = services_of(request).provenance.tree
    tree.catch_up()
    if old > new:
        raise ApiError("InvalidRequest", f"old size {old} is larger than new size {new}")
    return ProofOut(proof=tree.consistency(old, new).to_json(), root=tree.root(new).hex())


@router.get("/proofs/bundle/{position}", responses=errors(404))
def proof_bundle(request: Request, position: int = Path(ge=0, le=MAX_POSITION)) -> dict[str, Any]:
    """The offline proof bundle of one event (`cocred verify-proof` checks it)."""
    return services_of(request).provenance.bundle(position).to_json()


@router.get("/anchors", response_model=AnchorPage, responses=errors())
def anchors(request: Request) -> AnchorPage:
    """Every recorded anchor (chain id, contract, transaction, block, root, size)."""
    recorded = services_of(request).provenance.anchors()
    return AnchorPage(
        anchors=[AnchorOut(position=a.position, receipt=a.receipt.to_dict()) for a in recorded]
    )


@router.get("/ledger-key", response_model=LedgerKeyOut, responses=errors())
def ledger_key(request: Request) -> LedgerKeyOut:
    """The ledger's verifier key (pin it once; check every checkpoint and bundle with it)."""
    identity = services_of(request).provenance.identity
    return LedgerKeyOut(origin=identity.origin, vkey=identity.vkey, actor=identity.key.actor)


@router.get("/audits/latest", response_model=AuditOut, responses=errors(404))
def latest_audit(request: Request) -> AuditOut:
    """The newest recorded audit of this database (``cocred audit`` records one per run)."""
    record = reads_of(request).audits.latest()
    if record is None:
        raise NotFoundError("no audit has been recorded yet: run cocred audit")
    return _audit(record)


@router.get("/audits", response_model=AuditPage, responses=errors())
def recent_audits(request: Request, limit: int = limit_query(20)) -> AuditPage:
    """The newest ``limit`` recorded audits (≤ 1000), newest first."""
    records = reads_of(request).audits.recent(page_limit(limit))
    return AuditPage(audits=[_audit(r) for r in records])
