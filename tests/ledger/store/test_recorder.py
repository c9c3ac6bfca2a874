"""The eventsourcing hooks cocred overrides are still there, and still called where it needs.

``ledger.store._recorder`` overrides private hooks of the library's recorders
(its docstring says why each is needed). These tests fail when an upgrade of
``eventsourcing`` removes a hook, stops passing our keyword arguments to it, or
stops calling it inside the insert's transaction; then the store would write
events without their dense positions, or lose track of a lost commit.
"""

from __future__ import annotations

import inspect

import pytest
from eventsourcing.persistence import StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.sqlite import SQLiteApplicationRecorder

from ledger.store import NewRecord, open_store
from ledger.store._recorder import HOOKS, Attempt, PostgresRecorder
from ledger.store.postgres import PostgresLogStore
from tests.support import drop_postgres_schema, fresh_postgres_url

A, B = "a" * 43, "b" * 43


@pytest.mark.parametrize(("library", "name"), HOOKS, ids=[f"{c.__name__}.{n}" for c, n in HOOKS])
def test_every_hook_the_recorders_override_is_still_in_the_library(
    library: type, name: str
) -> None:
    hook = getattr(library, name, None)
    assert callable(hook), f"{library.__name__}.{name} is gone"
    if name.startswith("_"):  # our keyword arguments (expected_size, attempt) reach it
        kinds = [p.kind for p in inspect.signature(hook).parameters.values()]
        assert inspect.Parameter.VAR_KEYWORD in kinds, f"{library.__name__}.{name}: no **kwargs"


def test_the_library_inserts_still_call_the_hooks_inside_their_transaction() -> None:
    sqlite_insert = inspect.getsource(SQLiteApplicationRecorder.insert_events)
    assert "self._insert_events(c, stored_events, **kwargs)" in sqlite_insert
    # The retry decorator is bypassed: the undecorated method must still be reachable.
    undecorated = PostgresApplicationRecorder.insert_events.__wrapped__  # type: ignore[attr-defined]
    assert PostgresRecorder.insert_events is undecorated
    postgres_insert = inspect.getsource(undecorated)
    assert "self._insert_events(curs, stored_events, **kwargs)" in postgres_insert
    assert "self._fetch_ids_after_insert_events(" in postgres_insert
    assert postgres_insert.index("self._insert_events(") < postgres_insert.index(
        "self._fetch_ids_after_insert_events("
    )


def test_one_event_through_the_recorder_gets_its_dense_position(store_url: str) -> None:
    with open_store(store_url) as store:
        assert store.insert([NewRecord(A, 1, "Noted", b"a1")]) == [0]
        assert store.insert([NewRecord(B, 1, "Noted", b"b1")], expected_size=1) == [1]
        assert [(r.position, r.actor, r.data) for r in store.read(0)] == [
            (0, A, b"a1"),
            (1, B, b"b1"),
        ]


@pytest.mark.postgres
def test_a_postgres_insert_marks_its_attempt_started_and_writes_positions() -> None:
    url = fresh_postgres_url()
    try:
        store = open_store(url)
        assert isinstance(store, PostgresLogStore)
        with store:
            attempt = Attempt()
            positions = store.recorder.insert_events(
                [StoredEvent(A, 1, "Noted", b"a1")], expected_size=None, attempt=attempt
            )
            assert attempt.started
            assert list(positions or []) == [0]
            assert store.size() == 1
    finally:
        drop_postgres_schema(url)
