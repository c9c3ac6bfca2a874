"""The recorded audits over HTTP: the latest verdict and the recent ones, newest first."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import fields
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.bootstrap import bootstrap
from api.http.app import create_app
from api.http.schemas import AuditFailure, AuditOut
from api.settings import Settings
from ledger.provenance.audit import AuditReport
from ledger.provenance.audit_reports import AuditRecord
from ledger.verify import Failure
from tests.api.http.routes.test_contributors import refused
from tests.support import registration, seeded_key


@pytest.fixture
def client(store_url: str, tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(
        registration="open", database_url=store_url, ledger_key_file=tmp_path / "ledger.key"
    )
    with bootstrap(settings) as services, TestClient(create_app(services)) as c:
        yield c


def record(client: TestClient, report: AuditReport, started_at: str) -> int:
    return client.app.state.reads.audits.record(report, started_at).id


def test_the_latest_audit_is_the_last_recorded(client: TestClient) -> None:
    first = record(client, AuditReport(events=10, steps=["10 signatures"]), "2026-01-01T00:00:00Z")
    failing = AuditReport(events=12, failure=Failure(11, "signature", "bad signature"))
    second = record(client, failing, "2026-01-02T00:00:00Z")
    latest = client.get("/audits/latest").json()
    assert (latest["id"], latest["ok"], latest["events"]) == (second, False, 12)
    assert latest["failure"] == {"position": 11, "step": "signature", "detail": "bad signature"}
    assert latest["started_at"] == "2026-01-02T00:00:00Z"
    recent = client.get("/audits", params={"limit": 5}).json()["audits"]
    assert [a["id"] for a in recent] == [second, first]
    assert recent[1]["steps"] == ["10 signatures"] and recent[1]["failure"] is None
    assert [a["id"] for a in client.get("/audits", params={"limit": 1}).json()["audits"]] == [
        second
    ]


def test_the_audit_schema_names_the_recorded_audits_fields_in_their_order() -> None:
    # The HTTP schema (the published contract) and the ledger's record are declared
    # apart on purpose: ledger/ imports nothing of api/. This keeps them in step.
    assert list(AuditOut.model_fields) == [f.name for f in fields(AuditRecord)]
    assert list(AuditFailure.model_fields) == [f.name for f in fields(Failure)]


def test_no_audit_yet_is_a_404_and_an_empty_list(tmp_path: Path) -> None:
    settings = Settings(
        registration="open",
        database_url=f"sqlite:///{tmp_path}/a.sqlite",
        ledger_key_file=tmp_path / "ledger.key",
    )
    with bootstrap(settings) as services, TestClient(create_app(services)) as c:
        refused(
            c.get("/audits/latest"),
            404,
            "NotFound",
            "no audit has been recorded yet: run cocred audit",
        )
        assert c.get("/audits").json() == {"audits": []}
        refused(
            c.get("/audits", params={"limit": 0}),
            422,
            "InvalidRequest",
            "limit must be from 1 to 1000, got 0",
        )


def test_the_latest_checkpoint_says_how_far_it_lags_the_log(tmp_path: Path) -> None:
    settings = Settings(
        registration="open",
        database_url=f"sqlite:///{tmp_path}/a.sqlite",
        ledger_key_file=tmp_path / "ledger.key",
    )
    with bootstrap(settings) as services:
        c = TestClient(create_app(services))  # no lifespan: no background cuts to race with
        refused(
            c.get("/checkpoints/latest"),
            404,
            "NotFound",
            "no checkpoint has been cut yet (the log holds 0 events)",
        )
        services.ledger.append(registration(seeded_key(1)))
        services.provenance.checkpoints.cut()
        for n in (2, 3):
            services.ledger.append(registration(seeded_key(n)))
        behind = c.get("/checkpoints/latest").json()
        assert (behind["size"], behind["log_size"], behind["lag_events"]) == (1, 3, 2)
        assert behind["lag_seconds"] == behind["age_seconds"] >= 0
        services.provenance.checkpoints.cut()
        caught_up = c.get("/checkpoints/latest").json()
        assert (caught_up["size"], caught_up["lag_events"], caught_up["lag_seconds"]) == (3, 0, 0)
