"""The projector: keeps the read-model tables at the log's head, incrementally.

- **Position.** ``proj_tracking`` holds the number of log events the tables
  reflect. Rows and the new position are written in one transaction, and the
  position moves only if it still holds what this projector read
  (``UPDATE … WHERE position = old``): of two projectors racing, one wins and
  the other gets ``ReadModelMovedError`` and re-reads.
- **Incremental.** The projector keeps a live ``LogState`` in memory; each page
  of new events is applied, scores are refreshed, and only the changed rows are
  rewritten. A projector that starts cold (a new process) rebuilds that state by
  replaying the log up to its position in memory, writing nothing, then
  continues; the tables are never rewritten for events already applied.
- **Rebuild.** ``rebuild`` replays the whole log and replaces every row in one
  transaction (readers see the old tables until it commits). An incremental run
  and a rebuild give the same rows, byte for byte, so ``catch_up`` rebuilds
  instead when the tables are far behind (it is then much faster: a bulk replay
  computes every score once instead of after every page).
- **Failures.** A handler that fails stops the run before that event:
  ``ProjectionFailedError`` with the position; nothing of the failing page is
  written, the in-memory state is dropped, and the next run fails at the same
  place (the log is immutable) until the code is fixed. Nothing is skipped.
- **Follow.** ``follow`` polls ``LogStore.read`` in pages with a bounded,
  backing-off sleep and stops between transactions when its ``stop`` event is set.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable

from sqlalchemy import Engine, bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError

from ledger.store import LogStore, sqlalchemy_url
from ledger.store.engine import create_all, engine_for, tuned
from projections.errors import ReadModelMovedError
from projections.rows import Changes, collect
from projections.state import LogState, gc_paused
from projections.tables import SCHEMA_VERSION, TRACKING, Tables

PAGE = 1000
BULK_LAG = 10_000  # behind by more than this (and 1/40 of the log): rebuild in bulk


def _changes(state: LogState, names: Iterable[str], *, full: bool) -> Changes:
    """The row changes of the named campaigns, in that order (all rows when ``full``)."""
    changes = Changes()
    for name in names:
        part = collect(state.campaigns[name], full=full)
        for table, rows in part.replace.items():
            changes.add("replace", table, rows)
        for table, rows in part.append.items():
            changes.add("append", table, rows)
    return changes


class Projector:
    """Attribution, scores and credits as SQL tables, tracked by log position."""

    def __init__(
        self,
        store: LogStore,
        *,
        page: int = PAGE,
        bulk_lag: int = BULK_LAG,
        engine: Engine | None = None,
    ) -> None:
        """The read models of ``store``'s log, on ``engine`` (the process's) or on its own."""
        self.store = store
        self.page = page
        self.bulk_lag = bulk_lag
        self._owns_engine = engine is None
        # NORMAL: a power cut may lose the last read-model transactions, never corrupt
        # them; they are re-projected from the log (which keeps FULL) on the next run.
        self.engine = tuned(
            engine_for(store.url) if engine is None else engine, synchronous="NORMAL"
        )
        self.tables = Tables(sqlalchemy_url(store.url)[1])
        self.state: LogState | None = None
        self._lock = threading.Lock()
        self._prepare()

    # -- tables and tracking ----------------------------------------------------------------

    def _prepare(self) -> None:
        """Create the tables; drop and recreate them if they are of another version."""
        tracking = self.tables.tracking
        create_all(self.tables.metadata, self.engine, tables=[tracking])
        with self.engine.begin() as conn:
            version = conn.execute(
                select(tracking.c.version).where(tracking.c.name == TRACKING)
            ).scalar()
            if version is not None and version != SCHEMA_VERSION:
                self.tables.metadata.drop_all(conn, tables=self.tables.data_tables())
                conn.execute(tracking.delete().where(tracking.c.name == TRACKING))
        create_all(self.tables.metadata, self.engine)
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    insert(tracking).values(name=TRACKING, position=0, version=SCHEMA_VERSION)
                )
        except IntegrityError:
            pass  # already there (or another process created it just now)

    def position(self) -> int:
        """How many log events the tables reflect."""
        tracking = self.tables.tracking
        with self.engine.connect() as conn:
            value = conn.execute(
                select(tracking.c.position).where(tracking.c.name == TRACKING)
            ).scalar_one()
        return int(value)

    def _write(self, changes: Changes, old: int, new: int, *, clear: bool = False) -> None:
        """Rows and the new position in one transaction, only if the position is still ``old``."""
        tracking = self.tables.tracking
        by_name = {table.name: table for table in self.tables.data_tables()}
        with self.engine.begin() as conn:
            moved = conn.execute(  # a write first: SQLite takes its write lock here
                update(tracking)
                .where(tracking.c.name == TRACKING, tracking.c.position == old)
                .values(position=new)
            )
            if moved.rowcount != 1:
                raise ReadModelMovedError(
                    f"the read models moved past position {old} while this projector was "
                    f"working; nothing was written",
                    position=old,
                )
            if clear:
                for table in self.tables.data_tables():
                    conn.execute(table.delete())
            for name, rows in changes.replace.items():
                table = by_name[name]
                if not clear:
                    keys = [column.name for column in table.primary_key.columns]
                    match = (table.c[key] == bindparam(f"k_{key}") for key in keys)
                    conn.execute(
                        table.delete().where(*match),
                        [{f"k_{key}": row[key] for key in keys} for row in rows],
                    )
                conn.execute(insert(table), rows)
            for name, rows in changes.append.items():
                conn.execute(insert(by_name[name]), rows)

    # -- running ---------------------------------------------------------------------------

    def _hot(self, position: int, stop: threading.Event | None = None) -> LogState | None:
        """The live state at ``position``: the one in memory, or replayed from the log.

        None when ``stop`` was set during the replay.
        """
        if self.state is not None and self.state.position == position:
            return self.state
        self.state = None
        state = LogState()
        state.replay(self.store, stop=position, cancelled=stop.is_set if stop else None)
        if state.position != position:
            return None
        state.go_live()
        for campaign in state.campaigns.values():  # the tables already hold these rows
            campaign.mark_written()
        state.touched.clear()
        state.rebuilt = False
        self.state = state
        return state

    def catch_up(self, stop: threading.Event | None = None) -> int:
        """Apply every event appended since the tables' position; return how many.

        Commits once per page. When the tables are far behind (more than
        ``max(bulk_lag, log size / 40)`` events: a new database, a follower back
        after a long stop) it rebuilds them in bulk instead, which is then faster
        and gives the same rows. Raises ``ProjectionFailedError`` (a handler
        failed), ``ReadModelMovedError`` (another projector wrote first) or
        ``StorageError``.
        """
        with self._lock:
            start = self.position()
            size = self.store.size()
            if size - start > max(self.bulk_lag, size // 40):
                done = self._rebuild(None, stop)
                return 0 if done is None else done - start
            applied = 0
            while stop is None or not stop.is_set():
                old = self.position()
                records = self.store.read(old, self.page)
                if not records:
                    break
                try:
                    state = self._hot(old, stop)
                    if state is None:
                        break
                    state.apply_all(records)
                    state.refresh()
                    rebuilt = state.rebuilt  # a KeyCompromised recomputed the campaigns
                    names = sorted(state.campaigns if rebuilt else state.touched)
                    changes = _changes(state, names, full=rebuilt)
                    state.touched.clear()
                    state.rebuilt = False
                    self._write(changes, old, state.position, clear=rebuilt)
                except BaseException:
                    self.state = None  # may hold half an event, or rows that were not written
                    raise
                applied += len(records)
                if len(records) < self.page:
                    break  # the log's head: the next call (or poll) picks up what follows
            return applied

    def rebuild(self, progress: Callable[[int], None] | None = None) -> int:
        """Replay the whole log and replace every row in one transaction; return the events."""
        with self._lock:
            done = self._rebuild(progress, None)
            assert done is not None  # no stop event: the replay ran to the end
            return done

    def _rebuild(
        self, progress: Callable[[int], None] | None, stop: threading.Event | None
    ) -> int | None:
        """The rebuild; None (nothing written) when ``stop`` was set during the replay."""
        self.state = None
        old = self.position()
        state = LogState()
        cancelled = stop.is_set if stop else None
        while True:
            applied = state.replay(self.store, stop=state.position + 50_000, cancelled=cancelled)
            if progress:
                progress(applied)
            if stop is not None and stop.is_set():
                return None
            if not applied:
                break
        state.go_live()
        with gc_paused():
            changes = _changes(state, sorted(state.campaigns), full=True)
            state.touched.clear()
            state.rebuilt = False
            self._write(changes, old, state.position, clear=True)
        self.state = state
        return state.position

    def current(self) -> LogState:
        """Catch up, then the live in-memory state at the tables' position (for explanations)."""
        self.catch_up()
        with self._lock:
            state = self._hot(self.position())
            assert state is not None  # no stop event: the replay ran to the end
            return state

    def follow(
        self,
        stop: threading.Event,
        *,
        interval: float = 0.5,
        max_interval: float = 5.0,
        on_batch: Callable[[int, int], None] | None = None,
        listen: bool = True,
    ) -> int:
        """Catch up, then follow new events until ``stop`` is set; return events applied.

        On a store that can tell when it grows (PostgreSQL: ``LISTEN``/``NOTIFY``) it
        sleeps until an append commits (at most ``max_interval``, so a lost notification
        costs one poll); otherwise it sleeps ``interval`` after an empty poll, doubling up
        to ``max_interval``. A conflict with another projector is retried from the tables'
        position. ``listen=False`` polls on every backend.
        """
        total = 0
        delay = interval
        waiter = self.store.append_waiter() if listen else None  # before the first catch-up
        try:
            while not stop.is_set():
                try:
                    applied = self.catch_up(stop)
                except ReadModelMovedError:
                    applied = 0
                total += applied
                if applied:
                    delay = interval
                    if on_batch:
                        on_batch(applied, self.position())
                elif waiter is not None:
                    waited = 0.0
                    while not stop.is_set() and waited < max_interval:  # stop stays prompt
                        if waiter.wait(min(0.5, max_interval - waited)):
                            break
                        waited += 0.5
                else:
                    stop.wait(delay)
                    delay = min(delay * 2, max_interval)
        finally:
            if waiter is not None:
                waiter.close()
        return total

    def close(self) -> None:
        if self._owns_engine:  # a shared engine is its owner's to dispose
            self.engine.dispose()
