"""The record of audits run against this database: when, how far, and the verdict.

``cocred audit`` appends one row per run, so the auditor page can show the latest
result. A row is a claim by whoever ran the audit, not a proof: an auditor who
does not trust the operator runs ``cocred audit`` on their own copy. Rows are
never updated; the newest (highest id) is the latest result.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import orjson
import sqlalchemy as sa

from ledger.canonical import json_fields
from ledger.errors import StorageError
from ledger.provenance.audit import AuditReport
from ledger.store.engine import create_tables, ddl

metadata = sa.MetaData()
audits_table = sa.Table(
    "cocred_audits",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("started_at", sa.String(40), nullable=False),
    sa.Column("finished_at", sa.String(40), nullable=False),
    sa.Column("events", sa.BigInteger, nullable=False),
    sa.Column("ok", sa.Boolean, nullable=False),
    sa.Column("report", sa.Text, nullable=False),
)


@dataclass(frozen=True)
class AuditRecord:
    """One recorded audit: its verdict, counts, the steps that held and the first failure."""

    id: int
    started_at: str
    finished_at: str
    ok: bool
    events: int
    actors: int
    checkpoints: int
    anchors: int
    anchors_on_chain: int
    settlements: int
    steps: list[str]
    failure: dict[str, object] | None

    def to_json(self) -> dict[str, object]:
        return json_fields(self, steps=list(self.steps))


def utc_stamp() -> str:
    """Now, in UTC, to the second: ``2026-11-23T22:20:35Z``."""
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


class AuditReports:
    """Append-only table of audit results beside the log."""

    def __init__(self, engine: sa.Engine, *, create: bool = True) -> None:
        self.engine = engine
        if create:
            create_tables(metadata, engine, "the audits table")

    def record(self, report: AuditReport, started_at: str) -> AuditRecord:
        """Store ``report`` (run from ``started_at`` until now); return the stored row."""
        failure = None
        if report.failure is not None:
            f = report.failure
            failure = {"position": f.position, "step": f.step, "detail": f.detail}
        body = {
            "actors": report.actors,
            "checkpoints": report.checkpoints,
            "anchors": report.anchors,
            "anchors_on_chain": report.anchors_on_chain,
            "settlements": report.settlements,
            "steps": report.steps,
            "failure": failure,
        }
        finished = utc_stamp()
        try:
            with ddl(self.engine) as conn:
                metadata.create_all(conn, checkfirst=True)
                new_id = conn.execute(
                    sa.insert(audits_table).values(
                        started_at=started_at,
                        finished_at=finished,
                        events=report.events,
                        ok=report.ok,
                        report=orjson.dumps(body).decode(),
                    )
                ).inserted_primary_key
        except sa.exc.SQLAlchemyError as exc:
            raise StorageError(f"cannot record the audit: {exc}") from exc
        assert new_id is not None
        return _record(int(new_id[0]), started_at, finished, report.events, report.ok, body)

    def latest(self) -> AuditRecord | None:
        """The newest recorded audit, or None if none was ever recorded."""
        return next(iter(self.recent(1)), None)

    def recent(self, limit: int = 20) -> list[AuditRecord]:
        """The newest ``limit`` audits, newest first."""
        query = sa.select(audits_table).order_by(audits_table.c.id.desc()).limit(limit)
        try:
            with self.engine.connect() as conn:
                schema = (conn.get_execution_options().get("schema_translate_map") or {}).get(None)
                if not sa.inspect(conn).has_table(audits_table.name, schema=schema):
                    return []
                rows = conn.execute(query).mappings().all()
        except sa.exc.SQLAlchemyError as exc:
            raise StorageError(f"cannot read the audits table: {exc}") from exc
        return [
            _record(
                int(r["id"]),
                r["started_at"],
                r["finished_at"],
                int(r["events"]),
                bool(r["ok"]),
                orjson.loads(r["report"]),
            )
            for r in rows
        ]


def _record(
    id_: int, started: str, finished: str, events: int, ok: bool, body: dict[str, object]
) -> AuditRecord:
    failure = body.get("failure")
    steps = body.get("steps")
    return AuditRecord(
        id=id_,
        started_at=started,
        finished_at=finished,
        ok=ok,
        events=events,
        actors=int(body.get("actors", 0)),  # type: ignore[call-overload]
        checkpoints=int(body.get("checkpoints", 0)),  # type: ignore[call-overload]
        anchors=int(body.get("anchors", 0)),  # type: ignore[call-overload]
        anchors_on_chain=int(body.get("anchors_on_chain", 0)),  # type: ignore[call-overload]
        settlements=int(body.get("settlements", 0)),  # type: ignore[call-overload]
        steps=[str(s) for s in steps] if isinstance(steps, list) else [],
        failure=failure if isinstance(failure, dict) else None,
    )
