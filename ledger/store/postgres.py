"""The log in PostgreSQL, for many API workers and follower processes.

Built on ``eventsourcing.postgres`` (its recorder's hooks are in
``ledger.store._recorder``). The library serialises inserts with
``LOCK TABLE … IN EXCLUSIVE MODE`` so commit order is notification-id order; but
ids have gaps (a failed insert burns a sequence value), so while that lock is
held we also write each event's dense position. Never enable the library's
``POSTGRES_ENABLE_DB_FUNCTIONS``: its insert function takes no table lock.
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Sequence
from typing import Any

import psycopg
from eventsourcing.persistence import (
    IntegrityError,
    InterfaceError,
    OperationalError,
    PersistenceError,
    StoredEvent,
)
from eventsourcing.postgres import PostgresDatastore
from psycopg.conninfo import make_conninfo
from psycopg.sql import SQL, Identifier

from ledger.errors import OutcomeUnknownError, StorageError
from ledger.store._recorder import Attempt, PostgresRecorder, notify_channel
from ledger.store.base import (
    EVENTS_TABLE,
    PAGE,
    POSITIONS_TABLE,
    AppendWaiter,
    LogStore,
    NewRecord,
    StoredRecord,
    stored_conflict,
)

# Attempts of a read, or of an insert whose connection failed before it could
# commit (the library's own retry, which also re-ran inserts that had committed,
# is bypassed).
INSERT_ATTEMPTS = 3
RETRY_WAIT = 0.2
# How long to wait for the backend of a lost connection to end its transaction.
SETTLE_MS = 10_000

# Keep one transaction well under the ~16 MB statement where psycopg's pipeline
# mode was seen to hang (NOTES-eventsourcing.md).
MAX_BATCH_BYTES = 5 * 1024 * 1024


class PostgresLogStore(LogStore):
    """A ``LogStore`` in PostgreSQL (optionally in its own schema)."""

    def __init__(
        self,
        *,
        dbname: str,
        host: str,
        port: int,
        user: str,
        password: str,
        schema: str = "",
        url: str = "",
        create: bool = True,
    ) -> None:
        self.url = url
        self.schema = schema or "public"
        self._conninfo = make_conninfo(
            dbname=dbname, host=host, port=port, user=user, password=password, connect_timeout=5
        )
        try:
            self.datastore = PostgresDatastore(
                dbname,
                host,
                port,
                user,
                password,
                schema=self.schema,
                originator_id_type="text",
                pool_size=2,
                max_overflow=8,
                lock_timeout=30,
                connect_timeout=5,
                pool_open_timeout=None,  # waiting here races between threads
            )
            self.recorder = PostgresRecorder(self.datastore)
            if create:
                self._create()
        except (PersistenceError, psycopg.Error) as exc:
            raise StorageError(
                f"cannot open PostgreSQL ledger at {host}:{port}/{dbname}: {exc}"
            ) from exc
        t = (Identifier(self.schema), Identifier(POSITIONS_TABLE), Identifier(EVENTS_TABLE))
        self._select = SQL(
            "SELECT p.position, e.originator_id, e.originator_version, e.topic, e.state "
            "FROM {0}.{1} p JOIN {0}.{2} e ON e.notification_id = p.notification_id "
        ).format(*t)
        self._size = SQL("SELECT COALESCE(MAX(position), -1) + 1 AS n FROM {0}.{1}").format(*t)
        self._end_backend = SQL(
            "SELECT pg_terminate_backend(pid, %s) AS ended FROM pg_stat_activity "
            "WHERE application_name = %s"
        )
        self._exists = SQL(
            "SELECT 1 FROM {0}.{2} WHERE originator_id = %s AND originator_version = %s"
        ).format(*t)

    def _create(self) -> None:
        """Create the schema and tables once, even when many processes start together.

        Concurrent ``CREATE … IF NOT EXISTS`` / ``CREATE OR REPLACE FUNCTION`` race
        in PostgreSQL's catalogue ("tuple concurrently updated"), so creation runs
        under a session advisory lock named after the schema.
        """
        lock = zlib.crc32(f"cocred:{self.schema}".encode())
        # Its own connection: a pooled one held here would keep the pool from
        # finishing its initialisation when create_table asks it for another.
        with psycopg.connect(self._conninfo, autocommit=True) as conn:
            conn.execute("SELECT pg_advisory_lock(%s)", (lock,))
            try:
                with self.datastore.transaction(commit=True) as curs:
                    curs.execute(
                        SQL("CREATE SCHEMA IF NOT EXISTS {0}").format(Identifier(self.schema))
                    )
                self.recorder.create_table()
            finally:
                conn.execute("SELECT pg_advisory_unlock(%s)", (lock,))

    def insert(
        self, records: Sequence[NewRecord], *, expected_size: int | None = None
    ) -> list[int]:
        if not records:
            return []
        total = sum(len(r.data) for r in records)
        if total > MAX_BATCH_BYTES:
            raise StorageError(
                f"a batch of {total} bytes is over the PostgreSQL limit of "
                f"{MAX_BATCH_BYTES} bytes per transaction; split it"
            )
        events = [StoredEvent(r.actor, r.seq, r.type, r.data) for r in records]
        for attempt_no in range(1, INSERT_ATTEMPTS + 1):
            attempt = Attempt()
            try:
                positions = self.recorder.insert_events(
                    events, expected_size=expected_size, attempt=attempt
                )
            except IntegrityError as exc:
                raise stored_conflict(exc) from exc
            except (InterfaceError, OperationalError) as exc:
                # The connection failed; if it had begun, its COMMIT may have reached
                # the server: what is stored now decides, never a blind re-insert.
                if attempt.started:
                    known = self._outcome(records, attempt, exc)
                    if known is not None:
                        return known
                if attempt_no == INSERT_ATTEMPTS:
                    raise StorageError(
                        f"PostgreSQL insert failed: {exc}; nothing was written"
                    ) from exc
                time.sleep(RETRY_WAIT * attempt_no)
            except PersistenceError as exc:
                raise StorageError(f"PostgreSQL insert failed: {exc}") from exc
            else:
                return list(positions or [])
        raise AssertionError("unreachable")  # the loop returns or raises

    def _outcome(
        self, records: Sequence[NewRecord], attempt: Attempt, lost: Exception
    ) -> list[int] | None:
        """After a lost connection: the positions if the insert committed, None if it did not.

        The attempt's backend is ended first (if it is still in its transaction),
        so that what is read is final. Raises ``OutcomeUnknownError`` when that
        cannot be done or read, and ``ConflictError`` when the insert did not
        commit but other events took some of its (actor, seq) meanwhile.
        """
        try:
            ended = self._query(self._end_backend, [SETTLE_MS, attempt.token])
            if not all(row["ended"] for row in ended):
                raise StorageError(
                    f"the backend of the lost connection did not end within {SETTLE_MS} ms"
                )
            stored = self.stored(records)
        except StorageError as exc:
            raise OutcomeUnknownError(
                "the connection to the database was lost while the append was committing, "
                f"and whether it was stored cannot be read back: {lost}; {exc.detail}; "
                "send the same bytes again to learn its position"
            ) from exc
        if all(s is not None and s.data == r.data for s, r in zip(stored, records, strict=True)):
            return [s.position for s in stored if s is not None]
        if any(s is not None for s in stored):
            raise stored_conflict(lost)
        return None

    def _query(self, sql: Any, params: Sequence[Any]) -> list[Any]:
        # A read may simply run again: after a dropped connection the pool hands
        # out its dead sibling once, and that should not fail the next request.
        for attempt_no in range(1, INSERT_ATTEMPTS + 1):
            try:
                with self.datastore.get_connection() as conn, conn.cursor() as curs:
                    curs.execute(sql, params, prepare=True)
                    return list(curs.fetchall())
            except (InterfaceError, OperationalError) as exc:
                if attempt_no == INSERT_ATTEMPTS:
                    raise StorageError(f"PostgreSQL read failed: {exc}") from exc
                time.sleep(RETRY_WAIT * attempt_no)
            except PersistenceError as exc:
                raise StorageError(f"PostgreSQL read failed: {exc}") from exc
        raise AssertionError("unreachable")  # the loop returns or raises

    @staticmethod
    def _records(rows: list[Any]) -> list[StoredRecord]:
        return [
            StoredRecord(
                r["position"],
                r["originator_id"],
                r["originator_version"],
                r["topic"],
                bytes(r["state"]),
            )
            for r in rows
        ]

    def read(
        self, start: int = 0, limit: int = PAGE, *, types: Sequence[str] = ()
    ) -> list[StoredRecord]:
        sql = self._select + SQL("WHERE p.position >= %s ")
        params: list[Any] = [start]
        if types:
            sql += SQL("AND e.topic = ANY(%s) ")
            params.append(list(types))
        sql += SQL("ORDER BY p.position LIMIT %s")
        return self._records(self._query(sql, [*params, limit]))

    def read_actor(
        self, actor: str, after_seq: int = 0, limit: int | None = None
    ) -> list[StoredRecord]:
        sql = self._select + SQL(
            "WHERE e.originator_id = %s AND e.originator_version > %s "
            "ORDER BY e.originator_version LIMIT %s"
        )
        return self._records(self._query(sql, [actor, after_seq, limit]))

    def exists(self, actor: str, seq: int) -> bool:
        return bool(self._query(self._exists, [actor, seq]))

    def size(self) -> int:
        return int(self._query(self._size, [])[0]["n"])

    def append_waiter(self) -> AppendWaiter:
        """A ``LISTEN`` on the channel every append notifies at commit (its own connection)."""
        return _Listener(self._conninfo, notify_channel(self.schema))

    def close(self) -> None:
        self.datastore.close()

    def drop(self) -> None:
        """Drop this store's schema (tests only): everything in it is gone."""
        with self.datastore.transaction(commit=True) as curs:
            curs.execute(SQL("DROP SCHEMA IF EXISTS {0} CASCADE").format(Identifier(self.schema)))


class _Listener(AppendWaiter):
    """``LISTEN <channel>`` on a dedicated autocommit connection, opened at once so that
    an append committed while its owner catches up is not missed (it waits queued)."""

    def __init__(self, conninfo: str, channel: str) -> None:
        self._conninfo = conninfo
        self._listen = SQL("LISTEN {0}").format(Identifier(channel))
        self._conn: psycopg.Connection[Any] | None = None
        self._connect()

    def _connect(self) -> None:
        try:
            self._conn = psycopg.connect(self._conninfo, autocommit=True)
            self._conn.execute(self._listen)
        except psycopg.Error:
            self._conn = None

    def wait(self, timeout: float) -> bool:
        if self._conn is None:
            time.sleep(timeout)
            self._connect()  # an append missed meanwhile is found by the caller's poll
            return False
        woke = False
        try:
            # The generator holds the connection's lock until it ends: drain after it.
            for _ in self._conn.notifies(timeout=timeout, stop_after=1):
                woke = True
            if woke:
                for _ in self._conn.notifies(timeout=0):  # one wake-up per wait
                    pass
        except psycopg.Error:
            self.close()
        return woke

    def close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            finally:
                self._conn = None
