"""The record of audits: each run appended, the newest first, on every backend."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from ledger.provenance.audit import AuditReport
from ledger.provenance.audit_reports import AuditReports, audits_table
from ledger.store import LogStore
from ledger.store.engine import engine_for
from ledger.verify import Failure


@pytest.fixture
def reports(store: LogStore) -> Iterator[AuditReports]:
    """The audits table beside a log (whose store creates the PostgreSQL schema)."""
    engine = engine_for(store.url)
    yield AuditReports(engine)
    engine.dispose()


def passed(events: int) -> AuditReport:
    return AuditReport(
        events=events,
        actors=3,
        checkpoints=2,
        anchors=1,
        anchors_on_chain=1,
        settlements=1,
        steps=[f"{events} signatures: every event verifies", "2 checkpoints: roots match"],
    )


def test_no_audit_recorded_reads_as_nothing(reports: AuditReports) -> None:
    assert reports.latest() is None
    assert reports.recent() == []


def test_a_passed_audit_round_trips(reports: AuditReports) -> None:
    stored = reports.record(passed(42), "2026-01-02T03:04:05Z")
    assert (stored.ok, stored.events, stored.failure) == (True, 42, None)
    assert stored.started_at == "2026-01-02T03:04:05Z"
    assert stored.finished_at >= stored.started_at and stored.finished_at.endswith("Z")
    latest = reports.latest()
    assert latest == stored
    assert latest.to_json() == {
        "id": stored.id,
        "started_at": "2026-01-02T03:04:05Z",
        "finished_at": stored.finished_at,
        "ok": True,
        "events": 42,
        "actors": 3,
        "checkpoints": 2,
        "anchors": 1,
        "anchors_on_chain": 1,
        "settlements": 1,
        "steps": ["42 signatures: every event verifies", "2 checkpoints: roots match"],
        "failure": None,
    }


def test_a_failed_audit_keeps_its_first_failure(reports: AuditReports) -> None:
    failing = AuditReport(events=9, failure=Failure(7, "signature", "actor x: bad signature"))
    stored = reports.record(failing, "2026-01-02T03:04:05Z")
    assert stored.ok is False
    assert reports.latest() == stored
    assert stored.failure == {
        "position": 7,
        "step": "signature",
        "detail": "actor x: bad signature",
    }


def test_recent_lists_the_newest_first_and_latest_is_the_last_recorded(
    reports: AuditReports,
) -> None:
    ids = [reports.record(passed(n), f"2026-01-0{n}T00:00:00Z").id for n in (1, 2, 3, 4)]
    assert ids == sorted(ids)
    assert [r.events for r in reports.recent(3)] == [4, 3, 2]
    assert [r.id for r in reports.recent()] == ids[::-1]
    latest = reports.latest()
    assert latest is not None and latest.id == ids[-1]


def test_rows_are_shared_by_every_reader_of_the_database(store: LogStore) -> None:
    first, second = engine_for(store.url), engine_for(store.url)
    try:
        AuditReports(first).record(passed(5), "2026-01-01T00:00:00Z")
        found = AuditReports(second, create=False).latest()
        assert found is not None and found.events == 5
        with second.connect() as conn:
            assert conn.execute(sa.select(sa.func.count()).select_from(audits_table)).scalar() == 1
    finally:
        first.dispose()
        second.dispose()


def test_reading_before_any_table_exists_finds_nothing(store: LogStore) -> None:
    engine = engine_for(store.url)
    try:
        assert AuditReports(engine, create=False).recent() == []
    finally:
        engine.dispose()
