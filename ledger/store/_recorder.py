"""Every use of the ``eventsourcing`` recorders' private hooks, in one place.

cocred writes a dense ``position`` beside each stored event, in the same
transaction, and decides itself what a lost PostgreSQL connection means. The
library has no public way to add a statement to the transaction of its
``insert_events``, so the two recorders below override its hooks. Each one, and
why no public call does the job:

- ``SQLiteApplicationRecorder._insert_events`` (called by ``insert_events``
  inside its write transaction): writes the event, then its position, in that
  one transaction, writing first (a deferred transaction that reads first
  cannot always upgrade to the write lock under WAL). Batches do not use it
  (``ledger.store.sqlite._SQLiteInsertion`` writes on the library's writer
  connection, with its public ``insert_events_statement``).
- ``PostgresApplicationRecorder._insert_events`` (a no-op hook the library runs
  first in its pipelined transaction): tags the transaction's backend with the
  attempt's token, so that after a lost connection it can be found and ended
  before what was stored is read back.
- ``PostgresApplicationRecorder._fetch_ids_after_insert_events`` (run while the
  library's ``LOCK TABLE … EXCLUSIVE`` is held): writes the positions there,
  where ``MAX(position)`` cannot move, and queues ``pg_notify`` of the log's new
  size on ``notify_channel(schema)`` (delivered at commit, so a follower that
  ``LISTEN``s wakes only for what is durable).
- ``PostgresApplicationRecorder.insert_events.__wrapped__``: the method without
  the library's retry decorator, which re-ran inserts that had committed.

Also leaned on, public but unversioned: ``construct_create_table_statements``
(SQLite), ``sql_create_statements`` (PostgreSQL; it was ``create_table_statements``
before 9.5) and ``insert_events_statement``. ``HOOKS`` lists what the library must
still provide; ``tests/ledger/store/test_recorder.py`` fails when an upgrade
removes or bypasses one of them, so a version bump is a test run.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from eventsourcing.persistence import StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore
from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteCursor
from psycopg.sql import SQL, Identifier

from ledger.store.base import EVENTS_TABLE, POSITIONS_TABLE

# (library class, attribute): what the recorders below override or use.
HOOKS: tuple[tuple[type, str], ...] = (
    (SQLiteApplicationRecorder, "_insert_events"),
    (SQLiteApplicationRecorder, "construct_create_table_statements"),
    (PostgresApplicationRecorder, "_insert_events"),
    (PostgresApplicationRecorder, "_fetch_ids_after_insert_events"),
)


class SQLiteRecorder(SQLiteApplicationRecorder):
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
        # One event (``SQLiteLogStore.insert`` writes batches through
        # ``_SQLiteInsertion``): two statements, no reads. Write first: a deferred
        # transaction that reads first cannot always upgrade to a write lock under
        # WAL, but one that writes first waits for it.
        (s,) = stored_events
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


class PostgresRecorder(PostgresApplicationRecorder):
    """The library's recorder plus the dense position table, under its table lock."""

    def __init__(self, datastore: PostgresDatastore) -> None:
        super().__init__(datastore, events_table_name=EVENTS_TABLE)
        self.channel = notify_channel(self.datastore.schema)
        schema = Identifier(self.datastore.schema)
        self.positions = SQL("{0}.{1}").format(schema, Identifier(POSITIONS_TABLE))
        self.sql_create_statements.append(
            SQL(
                "CREATE TABLE IF NOT EXISTS {0} (position bigint PRIMARY KEY, "
                "notification_id bigint NOT NULL UNIQUE)"
            ).format(self.positions)
        )
        self.insert_positions = SQL(
            "INSERT INTO {0} (position, notification_id) "
            "SELECT COALESCE(%s::bigint, (SELECT MAX(position) + 1 FROM {0}), 0) + t.ord - 1, "
            "t.nid "
            "FROM unnest(%s::bigint[]) WITH ORDINALITY AS t(nid, ord) "
            "RETURNING position"
        ).format(self.positions)

    # The library retries ``insert_events`` on any connection error, even one
    # raised by COMMIT: an insert that committed but whose acknowledgement was
    # lost ran again and hit its own (actor, seq). ``PostgresLogStore.insert``
    # decides instead, after reading back what was stored.
    insert_events = PostgresApplicationRecorder.insert_events.__wrapped__

    def _insert_events(
        self, curs: Any, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> None:
        # First statement of the transaction (pipelined, no extra round trip): its
        # backend carries the attempt's token as application_name until the
        # transaction ends, so after a lost connection it can be found and ended.
        attempt: Attempt = kwargs["attempt"]
        attempt.started = True
        curs.execute("SELECT set_config('application_name', %s, true)", (attempt.token,))

    def _fetch_ids_after_insert_events(
        self,
        curs: Any,
        stored_events: Sequence[StoredEvent],
        expected_size: int | None = None,
        **kwargs: Any,
    ) -> Sequence[int] | None:
        ids = super()._fetch_ids_after_insert_events(curs, stored_events, **kwargs) or []
        # Still inside the transaction that holds the EXCLUSIVE lock on the events
        # table, so MAX(position) cannot move under us. With expected_size, a
        # position already taken violates the primary key: a database error, which
        # aborts the transaction (a Python exception raised here would not: the
        # library commits before re-raising it).
        curs.execute(self.insert_positions, (expected_size, list(ids)))
        positions = sorted(row["position"] for row in curs.fetchall())
        if positions:  # delivered at COMMIT, never for a rolled-back insert
            curs.execute("SELECT pg_notify(%s, %s)", (self.channel, str(positions[-1] + 1)))
        return positions


def notify_channel(schema: str) -> str:
    """The ``LISTEN``/``NOTIFY`` channel on which every append to ``schema``'s log says the
    log's new size (a follower wakes on it instead of polling)."""
    return f"cocred_log_{schema}"


class Attempt:
    """One try of an insert: its token, and whether it reached the database at all."""

    __slots__ = ("token", "started")

    def __init__(self) -> None:
        self.token = f"cocred-insert-{uuid.uuid4().hex}"
        self.started = False
