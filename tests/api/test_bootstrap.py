"""The composition root: a served app built by ``bootstrap`` opens one engine per database."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection, Engine, Pool, event

from api.bootstrap import bootstrap
from api.http.app import create_app
from api.settings import Settings
from tests.support import registration, seeded_key

ANA = seeded_key(61)


@pytest.fixture
def pools() -> Iterator[dict[tuple[str, str | None], set[Pool]]]:
    """Every engine's pool that connects during the test, by database URL and schema.

    Engines derived with ``execution_options`` share their parent's pool, so one pool
    is one engine: one set of connections.
    """
    seen: dict[tuple[str, str | None], set[Pool]] = {}

    def connected(conn: Connection) -> None:
        schema = (conn.get_execution_options().get("schema_translate_map") or {}).get(None)
        url = conn.engine.url.render_as_string(hide_password=True)
        seen.setdefault((url, schema), set()).add(conn.engine.pool)

    event.listen(Engine, "engine_connect", connected)
    try:
        yield seen
    finally:
        event.remove(Engine, "engine_connect", connected)


def _ours(pools: dict[tuple[str, str | None], set[Pool]], url: str) -> set[Pool]:
    """The pools on ``url``'s database and schema (an engine without a schema map counts)."""
    from ledger.store import sqlalchemy_url

    sa_url, schema = sqlalchemy_url(url)
    found: set[Pool] = set()
    for (where, on), group in pools.items():
        if where.split("?")[0] == sa_url.split("?")[0] and on in (schema, None):
            found |= group
    return found


def test_a_served_app_opens_one_engine_for_its_database(
    store_url: str, tmp_path: Path, pools: dict[Any, set[Pool]]
) -> None:
    settings = Settings(
        database_url=store_url, ledger_key_file=tmp_path / "ledger.key", registration="open"
    )
    with bootstrap(settings) as services, TestClient(create_app(services)) as client:
        written = client.post(
            "/events",
            content=registration(ANA).canonical_bytes(),
            headers={"Content-Type": "application/json"},
        )
        assert (written.status_code, written.json()) == (201, {"position": 0})
        assert client.get("/campaigns").status_code == 200  # the read models catch up
        services.provenance.checkpoints.cut()  # (or the server's own checkpointer did)
        assert client.get("/checkpoints/latest").json()["size"] == 1
        assert client.get("/audit").status_code == 200  # a page: checkpoints and audits
        assert client.get("/log").json()["size"] == 1
        engines = _ours(pools, store_url)
        assert len(engines) == 1, f"{len(engines)} engines on {store_url}"
        assert engines == {services.engine.pool}
