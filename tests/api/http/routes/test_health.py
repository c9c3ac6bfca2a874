"""Health over HTTP: /healthz says the process is up, /readyz whether it can do its job.

Faults are real: the checkpoints table renamed away under a serving app (SQLite
and PostgreSQL), PostgreSQL cut off behind a TCP proxy, a checkpointer that is not
running, a checkpoint left behind by the log. Waits poll a condition with a
generous timeout; nothing asserts on elapsed time.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.bootstrap import Services, bootstrap
from api.http.app import create_app
from api.settings import Settings
from ledger.provenance.checkpointer import CheckpointerStatus
from tests.ledger.provenance.test_checkpointer import rename_table
from tests.pgproxy import PgProxy
from tests.support import drop_postgres_schema, fresh_postgres_url, registration, seeded_key

TIMEOUT = 60.0


def settings_for(url: str, tmp_path: Path, **kw: Any) -> Settings:
    return Settings(
        database_url=url,
        ledger_key_file=tmp_path / "ledger.key",
        checkpoint_poll_seconds=0.02,
        checkpoint_retry_max_seconds=0.1,
        **kw,
    )


def eventually(probe: Callable[[], Any], timeout: float = TIMEOUT) -> Any:
    """``probe()`` once it returns something truthy (polled every 20 ms), or fail."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := probe():
            return result
        time.sleep(0.02)
    pytest.fail(f"never held within {timeout} s: {probe}")


def ready(client: TestClient, expected: int) -> Callable[[], Any]:
    def probe() -> Any:
        response = client.get("/readyz")
        return response.json() if response.status_code == expected else None

    return probe


def ready_with_checkpoint(client: TestClient, size: int) -> Callable[[], Any]:
    """Ready, and the latest checkpoint covers ``size`` events (ready alone may come first:
    a young event is within the allowed lag before its checkpoint is cut)."""
    probe = ready(client, 200)

    def both() -> Any:
        body = probe()
        return body if body and body["lag"]["checkpoint_size"] == size else None

    return both


def checkpointer(client: TestClient) -> CheckpointerStatus:
    status: CheckpointerStatus = client.app.state.checkpointer
    return status


@pytest.fixture
def serving(store_url: str, tmp_path: Path) -> Iterator[tuple[Services, TestClient]]:
    with (
        bootstrap(settings_for(store_url, tmp_path)) as services,
        TestClient(create_app(services)) as client,
    ):
        yield services, client


def test_healthz_says_the_process_is_up(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/h.sqlite"
    with bootstrap(settings_for(url, tmp_path)) as services:
        response = TestClient(create_app(services)).get("/healthz")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


def test_a_serving_app_with_a_caught_up_checkpointer_is_ready(
    serving: tuple[Services, TestClient],
) -> None:
    services, client = serving
    services.ledger.append(registration(seeded_key(1)))
    assert checkpointer(client).wait_for(lambda h: h.checkpoint_size == 1, TIMEOUT)
    body = eventually(ready(client, 200))
    assert body["status"] == "ready"
    assert {name: check["ok"] for name, check in body["checks"].items()} == {
        "database": True,
        "checkpointer": True,
        "checkpoint_lag": True,
    }
    assert body["lag"]["checkpoint_size"] == 1 and body["checkpointer"]["alive"] is True
    assert body["checks"]["checkpoint_lag"]["detail"] == (
        "checkpoint lag: none, the latest covers all 1"
    )


def test_readiness_names_the_database_and_the_checkpointer_while_a_table_is_gone_then_recovers(
    serving: tuple[Services, TestClient], store_url: str
) -> None:
    services, client = serving
    services.ledger.append(registration(seeded_key(1)))
    status = checkpointer(client)
    assert status.wait_for(lambda h: h.checkpoint_size == 1, TIMEOUT)
    rename_table(store_url, "cocred_checkpoints", "cocred_checkpoints_away")
    services.ledger.append(registration(seeded_key(2)))
    assert status.wait_for(lambda h: h.consecutive_failures >= 2, TIMEOUT)
    response = client.get("/readyz")
    body = response.json()
    assert (response.status_code, body["error"]) == (503, "NotReady")
    assert body["failed"] == ["database", "checkpointer", "checkpoint_lag"]
    database, failing, lag = (body["checks"][n]["detail"] for n in body["failed"])
    assert body["detail"] == f"{database}; {failing}; {lag}"
    assert database.startswith("database: unreachable: the database failed: ")
    assert "cocred_checkpoints" in database
    assert failing.startswith("checkpointer: its last ")
    assert " pass(es) failed, the last with StorageUnavailable: the database failed: " in failing
    assert failing.endswith(" (it keeps retrying)")
    assert lag == "checkpoint lag: unknown while the database is unreachable"
    assert body["checkpointer"]["last_error_code"] == "StorageUnavailable"
    rename_table(store_url, "cocred_checkpoints_away", "cocred_checkpoints")
    assert status.wait_for(
        lambda h: h.consecutive_failures == 0 and h.checkpoint_size == 2, TIMEOUT
    )
    assert eventually(ready(client, 200))["lag"]["lag_events"] == 0


def test_an_app_whose_checkpointer_is_not_running_is_not_ready_and_then_overdue(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path}/h.sqlite"
    settings = settings_for(url, tmp_path, checkpoint_interval_seconds=0.05)
    with bootstrap(settings) as services:
        client = TestClient(create_app(services))  # no lifespan: no checkpointer thread
        services.ledger.append(registration(seeded_key(1)))
        services.provenance.checkpoints.cut()
        services.ledger.append(registration(seeded_key(2)))
        body = client.get("/readyz").json()
        assert body["error"] == "NotReady" and "checkpointer" in body["failed"]
        assert body["checks"]["checkpointer"]["detail"] == (
            "checkpointer: not running in this server process"
        )
        # Allowed: 2 x 0.05 s interval + 2 x 0.02 s poll = 0.14 s; then the lag is overdue too.
        body = eventually(
            lambda: (
                (b := client.get("/readyz").json())["checks"]["checkpoint_lag"]["ok"] is False and b
            )
        )
        detail = body["checks"]["checkpoint_lag"]["detail"]
        assert detail.startswith(
            "checkpoint lag: 1 event(s) beyond the latest checkpoint (checkpoint 1; log 2) for "
        )
        assert detail.endswith(" s, more than 0.14 s")
        assert body["lag"]["lag_events"] == 1 and body["lag"]["allowed_seconds"] == 0.14


@pytest.mark.postgres
def test_readiness_says_the_database_is_unreachable_while_postgresql_is_cut_off(
    tmp_path: Path,
) -> None:
    url = fresh_postgres_url()
    proxy = PgProxy()
    try:
        with (
            bootstrap(settings_for(proxy.url(url), tmp_path)) as services,
            TestClient(create_app(services)) as client,
        ):
            services.ledger.append(registration(seeded_key(1)))
            eventually(ready_with_checkpoint(client, 1))
            proxy.cut()
            body = eventually(ready(client, 503))
            assert "database" in body["failed"]
            assert body["checks"]["database"]["detail"].startswith("database: unreachable: ")
            proxy.restore()
            assert eventually(ready_with_checkpoint(client, 1))["lag"]["lag_events"] == 0
    finally:
        proxy.close()
        drop_postgres_schema(url)
