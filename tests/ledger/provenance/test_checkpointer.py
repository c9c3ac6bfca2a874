"""The background checkpointer under real faults: it retries, says why once, and recovers.

Faults are real: the checkpoints table renamed away under it (SQLite and
PostgreSQL), and PostgreSQL going away behind a TCP proxy that drops every
connection. Tests wait on the status object's condition, never by sleeping.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa

from ledger.envelope import sign_envelope
from ledger.ledger import Ledger
from ledger.provenance.checkpointer import CheckpointerStatus, backoff, run_checkpointer
from ledger.provenance.checkpoints import CheckpointLog, LedgerIdentity
from ledger.provenance.tree import MerkleTree
from ledger.store import open_store, sqlalchemy_url
from ledger.store.engine import engine_for
from tests.ledger.provenance.test_bundles import ANA, BEN, fill, provenance_for
from tests.pgproxy import PgProxy
from tests.support import drop_postgres_schema, fresh_postgres_url

TIMEOUT = 60.0  # generous: the machine is shared; each wait ends as soon as its state holds


@contextmanager
def running(log: CheckpointLog) -> Iterator[CheckpointerStatus]:
    """The checkpointer in a thread, polling every 20 ms, backing off to at most 100 ms."""
    status = CheckpointerStatus()
    stop = threading.Event()
    worker = threading.Thread(
        target=run_checkpointer,
        args=(log, stop),
        kwargs={"poll": 0.02, "retry_max": 0.1, "status": status},
        daemon=True,
    )
    worker.start()
    try:
        assert status.wait_for(lambda h: h.alive, TIMEOUT)
        yield status
    finally:
        stop.set()
        worker.join(TIMEOUT)
    assert not worker.is_alive() and not status.current().alive


def rename_table(url: str, old: str, new: str) -> None:
    schema = sqlalchemy_url(url)[1]
    engine = engine_for(url)
    try:
        with engine.begin() as conn:
            name = f'"{schema}".{old}' if schema else old
            conn.execute(sa.text(f"ALTER TABLE {name} RENAME TO {new}"))
    finally:
        engine.dispose()


def more_notes(ledger: Ledger, first: int, count: int) -> None:
    ledger.append_batch(
        [
            sign_envelope(k, "NoteShared", {"n": s}, seq=s)
            for s in range(first, first + count)
            for k in (ANA, BEN)
        ]
    )


def messages(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "cocred.checkpointer"]


def test_the_checkpointer_outlives_a_missing_table_and_cuts_the_next_checkpoint_once_it_is_back(
    ledger: Ledger, store_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="cocred.checkpointer")
    prov = provenance_for(ledger, store_url, tmp_path, every=1, interval=3600)
    fill(ledger, 3)  # 8 events
    with running(prov.checkpoints) as status:
        assert status.wait_for(lambda h: h.checkpoint_size == 8, TIMEOUT)
        rename_table(store_url, "cocred_checkpoints", "cocred_checkpoints_away")
        more_notes(ledger, 5, 5)  # 18 events, none under a checkpoint
        failing = status.wait_for(lambda h: h.consecutive_failures >= 4, TIMEOUT)
        assert failing is not None and failing.alive and failing.checkpoint_size == 8
        assert failing.last_error_code == "StorageUnavailable"
        assert failing.last_error.startswith("the database failed: ")
        assert "cocred_checkpoints" in failing.last_error
        # Four failed passes, one warning: once per kind of failure, not once per retry.
        assert messages(caplog) == [
            f"checkpointer: StorageUnavailable: {failing.last_error} "
            "(retrying, backing off up to 0.1 s)"
        ]
        rename_table(store_url, "cocred_checkpoints_away", "cocred_checkpoints")
        healthy = status.wait_for(
            lambda h: h.consecutive_failures == 0 and h.checkpoint_size == 18, TIMEOUT
        )
        assert healthy is not None and healthy.last_success is not None
        assert healthy.last_error_code == "StorageUnavailable"  # the last error stays visible
    assert prov.checkpoints.latest().size == 18
    assert len(messages(caplog)) == 2
    assert messages(caplog)[1].startswith("checkpointer: recovered after ")
    assert messages(caplog)[1].endswith(" failed attempt(s); latest checkpoint 18")


@pytest.mark.postgres
def test_the_checkpointer_rides_out_postgresql_going_away_and_coming_back(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="cocred.checkpointer")
    url = fresh_postgres_url()
    proxy = PgProxy()
    direct = Ledger(open_store(url))  # writes keep going straight to the server
    proxied = open_store(proxy.url(url))  # the checkpointer reaches it only through the proxy
    engine = engine_for(proxy.url(url))
    try:
        identity = LedgerIdentity.load_or_create(tmp_path / "ledger.key")
        log = CheckpointLog(engine, MerkleTree(engine, proxied), identity, every=1, interval=3600)
        fill(direct, 3)
        with running(log) as status:
            assert status.wait_for(lambda h: h.checkpoint_size == 8, TIMEOUT)
            proxy.cut()  # every session of the checkpointer dies; new ones are hung up on
            more_notes(direct, 5, 5)
            failing = status.wait_for(lambda h: h.consecutive_failures >= 3, TIMEOUT)
            assert failing is not None and failing.alive
            assert failing.last_error_code == "StorageUnavailable", failing
            assert len(messages(caplog)) <= 2  # one per kind (the pool's and the store's)
            proxy.restore()
            healthy = status.wait_for(
                lambda h: h.consecutive_failures == 0 and h.checkpoint_size == 18, TIMEOUT
            )
            assert healthy is not None
        assert messages(caplog)[-1].endswith(" failed attempt(s); latest checkpoint 18")
    finally:
        proxy.close()
        engine.dispose()
        proxied.close()
        direct.close()
        drop_postgres_schema(url)


def test_retries_back_off_from_the_poll_interval_doubling_up_to_the_cap() -> None:
    assert [backoff(1.0, n, 30.0) for n in range(1, 8)] == [1, 2, 4, 8, 16, 30, 30]
    assert backoff(0.5, 10_000, 30.0) == 30.0  # no overflow after a very long outage


def test_the_status_wakes_a_waiter_and_times_out_on_a_state_that_never_comes() -> None:
    status = CheckpointerStatus()
    assert status.wait_for(lambda h: h.alive, 0.01) is None
    threading.Timer(0.01, status.started).start()
    woken = status.wait_for(lambda h: h.alive, TIMEOUT)
    assert woken is not None and woken.started_at is not None
