"""The log in one SQLite file (WAL, synchronous FULL): the zero-set-up default.

Built on ``eventsourcing.sqlite``. Inserts run in one write transaction: the
events through the library's recorder, then their dense positions. SQLite gives
new rows ``max(rowid) + 1`` and a rolled-back insert leaves no trace, so the
rowids of one batch are the last ``n`` below the new maximum.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from eventsourcing.persistence import IntegrityError, PersistenceError, StoredEvent
from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteCursor, SQLiteDatastore

from ledger.errors import StorageError
from ledger.store import (
    EVENTS_TABLE,
    PAGE,
    POSITIONS_TABLE,
    ConflictError,
    LogStore,
    NewRecord,
    StoredRecord,
)


class _Recorder(SQLiteApplicationRecorder):
    """The library's recorder plus the dense position table, in the same transaction."""

    def construct_create_table_statements(self) -> list[str]:
        return [
            *super().construct_create_table_statements(),
            f"CREATE TABLE IF NOT EXISTS {POSITIONS_TABLE} ("
            "position INTEGER PRIMARY KEY, notification_id INTEGER NOT NULL UNIQUE)",
        ]

    def _insert_events(
        self,
        c: SQLiteCursor,
        stored_events: Sequence[StoredEvent],
        expected_size: int | None = None,
        **_: Any,
    ) -> Sequence[int] | None:
        # Write first: a deferred transaction that reads first cannot always
        # upgrade to a write lock under WAL, but one that writes first waits for it.
        count = len(stored_events)
        if count == 1:  # the one-event-per-request path: two statements, no reads
            s = stored_events[0]
            c.execute(
                self.insert_events_statement,
                (s.originator_id, s.originator_version, s.topic, s.state),
            )
            c.execute(
                f"INSERT INTO {POSITIONS_TABLE} (position, notification_id) VALUES "
                f"(COALESCE(?, (SELECT MAX(position) + 1 FROM {POSITIONS_TABLE}), 0), ?)",
                (expected_size, c.lastrowid),
            )
            return [c.lastrowid]  # position is the INTEGER PRIMARY KEY, i.e. the rowid
        c.executemany(
            self.insert_events_statement,
            [(s.originator_id, s.originator_version, s.topic, s.state) for s in stored_events],
        )
        c.execute(f"SELECT MAX(rowid) FROM {self.events_table_name}")
        last_id = c.fetchone()[0]
        if expected_size is None:
            c.execute(f"SELECT COALESCE(MAX(position), -1) FROM {POSITIONS_TABLE}")
            base = c.fetchone()[0] + 1
        else:  # a position already taken makes the primary key refuse the whole batch
            base = expected_size
        first_id = last_id - count + 1
        rows = [(base + i, first_id + i) for i in range(count)]
        c.executemany(f"INSERT INTO {POSITIONS_TABLE} VALUES (?, ?)", rows)
        return [base + i for i in range(count)]


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
            self.recorder = _Recorder(self.datastore, events_table_name=EVENTS_TABLE)
            self.recorder.create_table()
        except PersistenceError as exc:
            raise StorageError(f"cannot open SQLite ledger {path}: {exc}") from exc

    def insert(
        self, records: Sequence[NewRecord], *, expected_size: int | None = None
    ) -> list[int]:
        if not records:
            return []
        events = [StoredEvent(r.actor, r.seq, r.type, r.data) for r in records]
        try:
            positions = self.recorder.insert_events(events, expected_size=expected_size)
        except IntegrityError as exc:
            raise ConflictError(f"an (actor, seq) of the batch is already stored: {exc}") from exc
        except PersistenceError as exc:
            raise StorageError(f"SQLite insert failed: {exc}") from exc
        return list(positions or [])

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
