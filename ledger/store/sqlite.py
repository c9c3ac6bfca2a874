"""The log in one SQLite file (WAL, synchronous FULL): the zero-set-up default.

Built on ``eventsourcing.sqlite`` (its datastore, connection pool, table and
insert statement). Every insert is one write transaction: the events, then their
dense positions. One event goes through the library's recorder (its hooks are
in ``ledger.store._recorder``); a batch is
written by ``_SQLiteInsertion``, piece by piece if the ledger adds it while it is
still checking the rest (``LogStore.begin_insert``). SQLite gives new rows
``max(rowid) + 1`` and a rolled-back insert leaves no trace, so the rowids of one
batch are the last ``n`` below the new maximum.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from eventsourcing.persistence import IntegrityError, PersistenceError, StoredEvent
from eventsourcing.sqlite import SQLiteConnection, SQLiteCursor, SQLiteDatastore

from ledger.errors import LedgerError, StorageError
from ledger.store._recorder import SQLiteRecorder
from ledger.store.base import (
    EVENTS_TABLE,
    PAGE,
    POSITIONS_TABLE,
    Insertion,
    LogStore,
    NewRecord,
    Row,
    RowReader,
    StoredRecord,
    stored_conflict,
)


def _write_batch(
    c: SQLiteCursor, insert_events: str, rows: Sequence[tuple[Any, ...]], position: int | None
) -> int:
    """Write the events of ``rows`` (actor, seq, type, data) and their positions.

    They take positions from ``position`` on (``None``: the log's next one); a
    position already taken makes the primary key refuse them (sqlite3's
    ``IntegrityError``). Returns the first position. The events go first: the
    transaction then holds the write lock before it reads the next position.
    SQLite gives new rows ``max(rowid) + 1``, so the batch's rowids end at the max.
    """
    c.executemany(insert_events, rows)
    c.execute(_MAX_EVENT_ID)
    first_id = c.fetchone()[0] - len(rows) + 1
    if position is None:
        c.execute(_NEXT_POSITION)
        position = int(c.fetchone()[0])
    c.execute(_INSERT_POSITIONS, (first_id - position, first_id))
    return position


# The positions of the events just inserted (rowids from the given one), in one
# statement: a third of the cost of binding a row per event.
_INSERT_POSITIONS = (
    f"INSERT INTO {POSITIONS_TABLE} (position, notification_id) "
    f"SELECT rowid - ?, rowid FROM {EVENTS_TABLE} WHERE rowid >= ?"
)
_MAX_EVENT_ID = f"SELECT MAX(rowid) FROM {EVENTS_TABLE}"
_NEXT_POSITION = f"SELECT COALESCE(MAX(position), -1) + 1 FROM {POSITIONS_TABLE}"


class _SQLiteInsertion(Insertion):
    """An ``Insertion`` written as it goes, in one write transaction on the writer connection.

    Each ``add`` writes its records (``_write_batch``): the events, then their
    positions, which continue from the first ``add``'s (the transaction holds the
    write lock from its first statement, so no other writer can come between).
    The first failure rolls everything back at once and is kept for ``commit`` to
    raise.
    """

    def __init__(self, store: SQLiteLogStore, expected_size: int | None) -> None:
        self._pool = store.datastore.pool
        self._insert_sql = store.recorder.insert_events_statement
        self._next = expected_size  # the next position, once known
        self._conn: SQLiteConnection | None = None
        self._cursor: SQLiteCursor | None = None
        self._positions: list[int] = []
        self._failure: LedgerError | None = None

    def add(self, records: Sequence[NewRecord]) -> None:
        if not records or self._failure is not None:
            return
        try:
            c = self._cursor or self._begin()
            base = _write_batch(c, self._insert_sql, records, self._next)
            self._next = base + len(records)
            self._positions.extend(range(base, self._next))
        except sqlite3.IntegrityError as exc:
            self._fail(stored_conflict(exc))
        except (sqlite3.Error, PersistenceError) as exc:
            self._fail(StorageError(f"SQLite insert failed: {exc}"))

    def _begin(self) -> SQLiteCursor:
        self._conn = self._pool.get_connection(is_writer=True)
        self._cursor = self._conn.cursor()
        self._cursor.execute("BEGIN")
        return self._cursor

    def _fail(self, failure: LedgerError) -> None:
        self.abort()
        self._failure = failure

    def commit(self) -> list[int]:
        if self._failure is not None:
            raise self._failure
        if self._conn is None:
            return []
        try:
            self._conn.commit()
        except sqlite3.Error as exc:
            self.abort()
            raise StorageError(f"SQLite insert failed: {exc}") from exc
        self._release()
        return self._positions

    def abort(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(sqlite3.Error):
                self._conn.rollback()
            self._release()

    def _release(self) -> None:
        conn, cursor, self._conn, self._cursor = self._conn, self._cursor, None, None
        if cursor is not None:
            with contextlib.suppress(sqlite3.Error):
                cursor.sqlite_cursor.close()
        if conn is not None:
            self._pool.put_connection(conn)


_SELECT = (
    f"SELECT p.position, e.originator_id, e.originator_version, e.topic, e.state "
    f"FROM {POSITIONS_TABLE} p JOIN {EVENTS_TABLE} e ON e.rowid = p.notification_id "
)


class SQLiteLogStore(LogStore):
    """A ``LogStore`` in a SQLite file."""

    def __init__(self, path: Path, *, create: bool = True) -> None:
        path = Path(path)
        if not create and not path.exists():
            raise StorageError(f"no ledger database at {path}")
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.url = f"sqlite:///{path}"
        try:
            self.datastore = SQLiteDatastore(str(path), originator_id_type="text", lock_timeout=30)
            self.recorder = SQLiteRecorder(self.datastore, events_table_name=EVENTS_TABLE)
            self.recorder.create_table()
        except PersistenceError as exc:
            raise StorageError(f"cannot open SQLite ledger {path}: {exc}") from exc

    def insert(
        self, records: Sequence[NewRecord], *, expected_size: int | None = None
    ) -> list[int]:
        if not records:
            return []
        if len(records) > 1:
            insertion = self.begin_insert(expected_size=expected_size)
            try:
                insertion.add(records)
                return insertion.commit()
            finally:
                insertion.abort()
        events = [StoredEvent(r.actor, r.seq, r.type, r.data) for r in records]
        try:
            positions = self.recorder.insert_events(events, expected_size=expected_size)
        except IntegrityError as exc:
            raise stored_conflict(exc) from exc
        except PersistenceError as exc:
            raise StorageError(f"SQLite insert failed: {exc}") from exc
        return list(positions or [])

    def begin_insert(self, *, expected_size: int | None = None) -> Insertion:
        """An ``Insertion`` that writes each ``add`` at once into an open write transaction.

        It holds the database's write lock from its first ``add`` to ``commit``
        or ``abort``: other writers wait (up to the lock timeout), readers do not.
        """
        return _SQLiteInsertion(self, expected_size)

    def row_reader(self) -> RowReader:
        """Rows read by the store's own query on a read-only sqlite3 connection of their own.

        The rows come straight from sqlite3: half the cost of ``read``, which
        builds a record per row. Where the file cannot be opened read-only, it
        reads as ``read`` does.
        """
        fallback = super().row_reader()
        uri = self.path.resolve().as_uri() + "?mode=ro"
        db = sqlite3.connect(uri, uri=True, check_same_thread=False)
        sql = _SELECT + "WHERE p.position >= ? ORDER BY p.position LIMIT ?"

        def read(start: int, limit: int) -> list[Row]:
            try:
                return db.execute(sql, (start, limit)).fetchall()
            except sqlite3.Error:  # cannot open it read-only here: read as the store does
                return fallback(start, limit)

        return read

    def _query(self, sql: str, params: Sequence[Any]) -> list[Any]:
        try:
            with self.datastore.transaction(commit=False) as c:
                c.execute(sql, params)
                return list(c.fetchall())
        except PersistenceError as exc:
            raise StorageError(f"SQLite read failed: {exc}") from exc

    @staticmethod
    def _records(rows: list[Any]) -> list[StoredRecord]:
        return [StoredRecord(r[0], r[1], r[2], r[3], bytes(r[4])) for r in rows]

    def read(
        self, start: int = 0, limit: int = PAGE, *, types: Sequence[str] = ()
    ) -> list[StoredRecord]:
        sql = _SELECT + "WHERE p.position >= ? "
        params: list[Any] = [start]
        if types:
            sql += f"AND e.topic IN ({','.join('?' * len(types))}) "
            params += list(types)
        return self._records(self._query(sql + "ORDER BY p.position LIMIT ?", [*params, limit]))

    def read_actor(
        self, actor: str, after_seq: int = 0, limit: int | None = None
    ) -> list[StoredRecord]:
        sql = (
            _SELECT + "WHERE e.originator_id = ? AND e.originator_version > ? "
            "ORDER BY e.originator_version LIMIT ?"
        )
        return self._records(self._query(sql, [actor, after_seq, -1 if limit is None else limit]))

    def exists(self, actor: str, seq: int) -> bool:
        return bool(
            self._query(
                f"SELECT 1 FROM {EVENTS_TABLE} WHERE originator_id = ? AND originator_version = ?",
                [actor, seq],
            )
        )

    def size(self) -> int:
        return int(
            self._query(f"SELECT COALESCE(MAX(position), -1) + 1 FROM {POSITIONS_TABLE}", [])[0][0]
        )

    def close(self) -> None:
        self.datastore.close()
