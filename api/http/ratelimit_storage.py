"""A ``limits`` storage in the ledger's database: rate counters every server process shares.

One row per key: ``count`` and ``expires_at`` (Unix seconds). ``incr`` is one
``INSERT … ON CONFLICT (key) DO UPDATE … RETURNING`` statement, atomic on SQLite and
PostgreSQL alike: a key whose window has expired starts again at ``amount`` with a new
window, else it grows by ``amount`` inside its window (the ``limits`` fixed window: it
starts at the first hit). ``limits.FixedWindowRateLimiter`` runs on it unchanged;
``api.http.ratelimit`` reserves from it in batches (``incr_many``) so that a request
seldom waits for it.

On SQLite the counters commit with ``synchronous=NORMAL`` (``ledger.store.engine.tuned``):
a counter needs no fsync of its own (WAL keeps it consistent; a power cut may forget the
last second of counts), and the log's writer is not kept waiting for one.

Times come from the server's clock (every process of one deployment must keep the same
time, as they must for signed requests). Rows whose window ended an hour ago are deleted
by ``purge``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import sqlalchemy as sa
from limits.storage import Storage
from sqlalchemy.dialects import postgresql, sqlite

from api.http.errors import STORAGE_FAULTS
from ledger.store.engine import create_all, tuned

KEY_LENGTH = 255
metadata = sa.MetaData()
counters = sa.Table(
    "cocred_rate_counters",
    metadata,
    sa.Column("key", sa.String(KEY_LENGTH), primary_key=True),
    sa.Column("count", sa.BigInteger, nullable=False),
    sa.Column("expires_at", sa.Float, nullable=False),
)


class SQLStorage(Storage):
    """Fixed-window counters in ``cocred_rate_counters`` on ``engine`` (SQLite or PostgreSQL)."""

    STORAGE_SCHEME = None  # built from an engine, never from a URI

    def __init__(self, engine: sa.Engine, *, clock: Callable[[], float] = time.time) -> None:
        """Creates the table if it is missing (``StorageError``-wrapped by the caller)."""
        super().__init__()
        self.engine = tuned(engine, synchronous="NORMAL")
        self.clock = clock
        create_all(metadata, engine)
        dialect = postgresql if engine.dialect.name == "postgresql" else sqlite
        fresh = dialect.insert(counters)
        expired = counters.c.expires_at <= fresh.excluded.expires_at - sa.bindparam("expiry")
        self._upsert = fresh.on_conflict_do_update(
            index_elements=[counters.c.key],
            set_={
                "count": sa.case(
                    (expired, fresh.excluded.count), else_=counters.c.count + fresh.excluded.count
                ),
                "expires_at": sa.case(
                    (expired, fresh.excluded.expires_at), else_=counters.c.expires_at
                ),
            },
        ).returning(counters.c.count, counters.c.expires_at)

    @property
    def base_exceptions(self) -> tuple[type[Exception], ...]:
        return STORAGE_FAULTS

    # -- the limits.storage.Storage contract -----------------------------------------------

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        """Add ``amount`` to ``key`` in its window (a new one of ``expiry`` s if it ended)."""
        return self.incr_many([(key, expiry, amount)])[0][0]

    def get(self, key: str) -> int:
        """The count of ``key`` in its current window (0 when it ended or never began)."""
        query = sa.select(counters.c.count).where(
            counters.c.key == key, counters.c.expires_at > self.clock()
        )
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar_one_or_none() or 0)

    def get_expiry(self, key: str) -> float:
        """When the current window of ``key`` ends (Unix seconds; now when there is none)."""
        now = self.clock()
        query = sa.select(counters.c.expires_at).where(
            counters.c.key == key, counters.c.expires_at > now
        )
        with self.engine.connect() as conn:
            return float(conn.execute(query).scalar_one_or_none() or now)

    def check(self) -> bool:
        """True when the database answers."""
        try:
            with self.engine.connect() as conn:
                conn.execute(sa.select(1))
            return True
        except STORAGE_FAULTS:
            return False

    def reset(self) -> int | None:
        """Forget every counter; return how many there were."""
        with self.engine.begin() as conn:
            return int(conn.execute(sa.delete(counters)).rowcount)

    def clear(self, key: str) -> None:
        """Forget ``key``'s counter."""
        with self.engine.begin() as conn:
            conn.execute(sa.delete(counters).where(counters.c.key == key))

    # -- what api.http.ratelimit adds ------------------------------------------------------

    def incr_many(self, hits: Sequence[tuple[str, int, int]]) -> list[tuple[int, float]]:
        """``incr`` each ``(key, expiry, amount)`` in one transaction, in order.

        Returns ``(count, window end)`` per hit. Raises the database's fault (one of
        ``api.http.errors.STORAGE_FAULTS``): then nothing was counted.
        """
        now = self.clock()
        out: list[tuple[int, float]] = []
        with self.engine.begin() as conn:
            for key, expiry, amount in hits:
                row = conn.execute(
                    self._upsert,
                    {"key": key, "count": amount, "expires_at": now + expiry, "expiry": expiry},
                ).one()
                out.append((int(row[0]), float(row[1])))
        return out

    def purge(self, older_than: float = 3600.0) -> int:
        """Delete the counters whose window ended ``older_than`` seconds ago; return how many."""
        cutoff = self.clock() - older_than
        with self.engine.begin() as conn:
            gone = conn.execute(sa.delete(counters).where(counters.c.expires_at < cutoff))
            return int(gone.rowcount)
