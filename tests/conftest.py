"""Fixtures shared by every test: a log store on each backend, and a ledger over it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ledger.ledger import Ledger
from ledger.store import LogStore, open_store
from tests.support import drop_postgres_schema, fresh_postgres_url, unavailable

__all__ = ["unavailable"]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path) -> Iterator[str]:
    """A fresh, empty database URL: a SQLite file, then a new PostgreSQL schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/ledger.sqlite"
        return
    url = fresh_postgres_url()
    try:
        yield url
    finally:
        drop_postgres_schema(url)


@pytest.fixture
def store(store_url: str) -> Iterator[LogStore]:
    s = open_store(store_url)
    yield s
    s.close()


@pytest.fixture
def ledger(store: LogStore) -> Iterator[Ledger]:
    led = Ledger(store, verify_threads=2)
    yield led
    led.close()
