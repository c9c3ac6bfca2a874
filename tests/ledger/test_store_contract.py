"""One contract for the log store, run against a SQLite file and a real PostgreSQL."""

from __future__ import annotations

import sqlite3
from contextlib import closing

import pytest

from ledger.errors import StorageError
from ledger.store import ConflictError, LogStore, NewRecord, open_store

A, B, C = "a" * 43, "b" * 43, "c" * 43


def rec(actor: str, seq: int, data: bytes = b"{}") -> NewRecord:
    return NewRecord(actor, seq, "Noted", data)


def test_positions_are_dense_and_start_at_zero(store: LogStore) -> None:
    assert store.size() == 0
    assert store.insert([rec(A, 1, b"a1"), rec(A, 2, b"a2")]) == [0, 1]
    assert store.insert([rec(B, 1, b"b1")]) == [2]
    assert store.size() == 3
    assert [(r.position, r.actor, r.seq, r.data) for r in store.read(0)] == [
        (0, A, 1, b"a1"),
        (1, A, 2, b"a2"),
        (2, B, 1, b"b1"),
    ]


def test_a_conflicting_batch_writes_nothing_and_positions_stay_dense(store: LogStore) -> None:
    store.insert([rec(A, 1)])
    with pytest.raises(ConflictError, match=r"^an \(actor, seq\) of the batch is already stored"):
        store.insert([rec(C, 1), rec(A, 1)])
    assert store.size() == 1
    assert not store.exists(C, 1)
    # On PostgreSQL the failed insert burned notification ids; positions must not show it.
    assert store.insert([rec(C, 1)]) == [1]
    assert [r.position for r in store.iterate()] == [0, 1]


def test_an_insertion_written_in_pieces_commits_them_as_one_batch(store: LogStore) -> None:
    store.insert([rec(A, 1)])
    insertion = store.begin_insert()
    insertion.add([rec(B, 1, b"b1"), rec(B, 2, b"b2")])
    insertion.add([])
    insertion.add([rec(C, 1, b"c1")])
    # Nothing is visible before the commit, to this store's readers or another's.
    assert store.size() == 1 and not store.exists(B, 1)
    with open_store(store.url) as other:
        assert other.size() == 1
    assert insertion.commit() == [1, 2, 3]
    insertion.abort()  # after a commit: nothing to undo
    assert [(r.position, r.data) for r in store.iterate(1)] == [(1, b"b1"), (2, b"b2"), (3, b"c1")]


def test_an_aborted_insertion_writes_nothing_and_frees_the_store(store: LogStore) -> None:
    insertion = store.begin_insert()
    insertion.add([rec(A, 1), rec(A, 2)])
    insertion.abort()
    assert store.size() == 0 and not store.exists(A, 1)
    assert store.insert([rec(A, 1)]) == [0]  # the write lock was given back


def test_an_insertion_keeps_a_conflict_for_its_commit(store: LogStore) -> None:
    store.insert([rec(A, 1)])
    insertion = store.begin_insert()
    insertion.add([rec(B, 1)])
    insertion.add([rec(A, 1)])  # taken: not raised here, the batch may hold worse
    insertion.add([rec(C, 1)])
    with pytest.raises(ConflictError, match=r"^an \(actor, seq\) of the batch is already stored"):
        insertion.commit()
    insertion.abort()
    assert store.size() == 1 and not store.exists(B, 1) and not store.exists(C, 1)
    assert store.insert([rec(B, 1)]) == [1]


def test_an_insertion_at_a_size_the_log_has_left_is_refused(store: LogStore) -> None:
    store.insert([rec(A, 1), rec(A, 2)])
    insertion = store.begin_insert(expected_size=1)
    insertion.add([rec(B, 1)])
    with pytest.raises(ConflictError, match=r"^an \(actor, seq\) of the batch is already stored"):
        insertion.commit()
    assert store.size() == 2
    insertion = store.begin_insert(expected_size=2)
    insertion.add([rec(B, 1)])
    assert insertion.commit() == [2]


def test_a_sqlite_insertion_that_fails_midway_is_a_storage_error_and_writes_nothing(
    tmp_path,
) -> None:
    path = tmp_path / "log.sqlite"
    with open_store(f"sqlite:///{path}") as store:
        insertion = store.begin_insert()
        insertion.add([rec(A, 1)])
        # The insertion holds the write lock: another writer cannot get in meanwhile.
        with (
            closing(sqlite3.connect(path, timeout=0)) as other,
            pytest.raises(sqlite3.OperationalError, match="database is locked"),
        ):
            other.execute("DELETE FROM cocred_positions")
        insertion.abort()
        with closing(sqlite3.connect(path)) as other:
            other.execute("DROP TABLE cocred_positions")  # what the next piece writes into
        insertion = store.begin_insert()
        insertion.add([rec(B, 1)])  # kept for the commit, like a conflict
        insertion.add([rec(C, 1)])
        with pytest.raises(
            StorageError, match=r"^SQLite insert failed: no such table: cocred_positions$"
        ):
            insertion.commit()
        insertion.abort()
    with closing(sqlite3.connect(path)) as other:
        assert other.execute("SELECT COUNT(*) FROM cocred_events").fetchone() == (0,)


def test_reads_by_position_actor_type_and_pages(store: LogStore) -> None:
    store.insert([rec(A, 1), rec(B, 1), NewRecord(A, 2, "Other", b"x"), rec(A, 3)])
    assert store.get(2).type == "Other"
    assert store.get(4) is None and store.get(-1) is None
    assert [r.seq for r in store.read_actor(A)] == [1, 2, 3]
    assert [r.seq for r in store.read_actor(A, after_seq=1, limit=1)] == [2]
    assert [r.position for r in store.read(1, 2)] == [1, 2]
    assert [r.position for r in store.read(0, types=["Other"])] == [2]
    assert [r.position for r in store.iterate(1, 3, page=1)] == [1, 2]
    assert store.exists(B, 1) and not store.exists(B, 2)


def test_stored_bytes_come_back_verbatim(store: LogStore) -> None:
    data = bytes(range(256))
    store.insert([rec(A, 1, data)])
    assert store.get(0).data == data


def test_a_reopened_store_keeps_everything(store_url: str) -> None:
    with open_store(store_url) as first:
        first.insert([rec(A, 1), rec(A, 2)])
    with open_store(store_url) as again:
        assert again.size() == 2
        assert again.insert([rec(A, 3)]) == [2]


def test_an_unknown_url_scheme_is_refused() -> None:
    with pytest.raises(StorageError) as caught:
        open_store("mysql://localhost/x")
    assert caught.value.detail == (
        "database URL 'mysql://localhost/x' is not sqlite:///PATH or postgresql://…"
    )


def test_opening_a_missing_sqlite_file_without_create_is_refused(tmp_path) -> None:
    with pytest.raises(StorageError) as caught:
        open_store(f"sqlite:///{tmp_path}/none.sqlite", create=False)
    assert caught.value.detail == f"no ledger database at {tmp_path}/none.sqlite"


@pytest.mark.postgres
def test_an_unreachable_postgres_is_a_storage_error() -> None:
    with pytest.raises(StorageError, match=r"^cannot open PostgreSQL ledger at 127.0.0.1:1/test"):
        open_store("postgresql://postgres@127.0.0.1:1/test")


def test_the_row_reader_a_store_declares_reads_what_read_reads(store: LogStore) -> None:
    store.insert([rec(A, 1, b"a1"), rec(B, 1, b"b1"), rec(A, 2, b"a2")])
    rows = store.row_reader()(1, 5)
    assert [(p, a, s, t, bytes(d)) for p, a, s, t, d in rows] == [
        (r.position, r.actor, r.seq, r.type, r.data) for r in store.read(1, 5)
    ]
    assert [row[0] for row in rows] == [1, 2]
