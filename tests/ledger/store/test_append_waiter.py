"""A follower wakes on PostgreSQL ``LISTEN``/``NOTIFY`` when the log grows, not by polling;
SQLite has no such signal and its follower polls."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from ledger.store import open_store
from ledger.store.base import ConflictError, NewRecord
from ledger.store.postgres import PostgresLogStore
from tests.support import drop_postgres_schema, fresh_postgres_url

A = "a" * 43


@pytest.fixture
def pg_url() -> Iterator[str]:
    url = fresh_postgres_url()
    try:
        yield url
    finally:
        drop_postgres_schema(url)


@pytest.mark.postgres
def test_an_append_in_another_process_wakes_the_waiter_and_a_refused_one_does_not(
    pg_url: str,
) -> None:
    listening, writer = open_store(pg_url), open_store(pg_url)  # two connections' worth
    assert isinstance(listening, PostgresLogStore)
    waiter = listening.append_waiter()
    try:
        assert waiter.wait(0.2) is False  # nothing appended: it times out
        writer.insert([NewRecord(A, 1, "Noted", b"one")])
        assert waiter.wait(10) is True
        assert waiter.wait(0.2) is False  # one wake-up per append, drained
        writer.insert([NewRecord(A, 2, "Noted", b"two"), NewRecord(A, 3, "Noted", b"three")])
        writer.insert([NewRecord(A, 4, "Noted", b"four")])
        assert waiter.wait(10) is True  # two appends while it was not waiting: it wakes
        # Their two notifications may reach it in one packet or in two: a second wake-up may
        # come, but no third.
        waiter.wait(0.2)
        assert waiter.wait(0.2) is False
        with pytest.raises(ConflictError):
            writer.insert([NewRecord(A, 4, "Noted", b"four again")])  # (actor, seq) taken
        assert waiter.wait(0.5) is False  # a rolled-back insert notifies nobody
    finally:
        waiter.close()
        listening.close()
        writer.close()


@pytest.mark.postgres
def test_the_waiter_made_before_a_catch_up_keeps_an_append_committed_during_it(
    pg_url: str,
) -> None:
    store = open_store(pg_url)
    waiter = store.append_waiter()
    try:
        store.insert([NewRecord(A, 1, "Noted", b"during")])  # before anyone waits
        assert waiter.wait(5) is True
    finally:
        waiter.close()
        store.close()


def test_sqlite_has_no_waiter_so_its_follower_polls(tmp_path) -> None:
    with open_store(f"sqlite:///{tmp_path}/l.sqlite") as store:
        assert store.append_waiter() is None


@pytest.mark.postgres
def test_a_projection_follower_on_postgresql_applies_an_append_without_waiting_out_a_poll(
    pg_url: str,
) -> None:
    """The follower sleeps on the channel with an hour's fallback poll here: it can only see
    the event within the minute if the notification woke it."""
    from projections.projector import Projector
    from tests.support import registration, seeded_key

    store = open_store(pg_url)
    projector = Projector(store)
    stop = threading.Event()
    applied: list[tuple[int, int]] = []
    follower = threading.Thread(
        target=projector.follow,
        args=(stop,),
        kwargs={"max_interval": 3600.0, "on_batch": lambda n, at: applied.append((n, at))},
    )
    follower.start()
    try:
        time.sleep(1.0)  # it caught up on the empty log and sleeps on the channel
        writer = open_store(pg_url)
        env = registration(seeded_key(3))
        writer.insert([NewRecord(env.actor, env.seq, env.type, env.canonical_bytes())])
        writer.close()
        deadline = time.monotonic() + 60
        while not applied and time.monotonic() < deadline:
            time.sleep(0.05)
        assert applied and applied[-1][1] == 1
    finally:
        stop.set()
        follower.join(10)
        projector.close()
        store.close()
    assert not follower.is_alive()  # the stop is prompt though the fallback poll is an hour
