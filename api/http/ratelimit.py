"""Rate limits shared by every server process, decided in memory: reservations from the database.

A ``Limit`` is a ``limits`` item (N per window, a fixed window per key) with a name and a
*lease*: how many units one process may admit ahead of what it holds. Each process keeps,
per key and window, what it admitted (``used``) and what it reserved from the shared
counter (``api.http.ratelimit_storage``, one atomic increment per reservation)
within the limit (``confirmed``). A hit is admitted when ``used + cost <= confirmed +
lease``, in memory; once ``used`` reaches ``confirmed`` the process reserves one lease
more in the background (one thread, every pending reservation of the process in one
transaction), so a request seldom waits for the database. When a reservation finds the
counter at the limit the key is *closed* for the rest of its window: no more credit,
and refusals are answered from memory until the window ends.

What that guarantees, per key and window, with P processes: at most ``limit + P x lease``
admitted (each process runs at most one lease ahead of its reservations, which sum to at
most the limit), and, when the demand exceeds the limit, at least ``limit - P x lease``
(a process holds at most one lease unused). ``lease = floor(share x limit)`` with the
``rate_limit_lease`` setting as ``share`` (2 % by default: +-4 % with two workers); a
limit under ``1 / share`` gets no lease, and every hit of it waits for its reservation
(exact). Refusals are counted per limit and added to the shared counters
(``refused/<name>`` rows) once a second: ``GET /metrics`` reads them.
"""

from __future__ import annotations

import asyncio
import logging
import math
import queue
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field

from limits import RateLimitItem, parse

from api.http.ratelimit_storage import SQLStorage, counters

log = logging.getLogger("cocred.api")
REFUSED = "refused/"  # the counter rows of refusals, per limit name
_FOREVER = 10 * 365 * 24 * 3600
_FLUSH_SECONDS = 1.0  # how often refusal counts and stale windows are written and dropped
_PURGE_SECONDS = 600.0  # how often counters whose window ended long ago are deleted


@dataclass(frozen=True)
class Limit:
    """A named limit: ``item`` (N per window) and the lease a process may run ahead by."""

    name: str  # "writes/address", …: the metric label
    item: RateLimitItem
    lease: int

    @classmethod
    def of(cls, name: str, notation: str, share: float) -> Limit:
        """``notation`` ("600/minute") with a lease of ``floor(share x N)``."""
        item = parse(notation)
        return cls(name, item, math.floor(share * item.amount))

    @property
    def amount(self) -> int:
        return int(self.item.amount)

    @property
    def expiry(self) -> int:
        return int(self.item.get_expiry())

    def describe(self) -> str:
        """``"600 per 1 minute"``."""
        return f"{self.item.amount} per {self.item.multiples} {self.item.GRANULARITY.name}"


@dataclass(frozen=True)
class Refusal:
    """A hit refused by ``limit`` for ``key``; the window ends in ``retry_after`` seconds."""

    limit: Limit
    key: str
    retry_after: int


@dataclass(slots=True)
class _Window:
    end: float = 0.0  # when the shared window ends (0: no reservation answered yet)
    used: int = 0
    confirmed: int = 0
    pending: int = 0
    closed: bool = False


@dataclass(slots=True)
class _Reservation:
    limit: Limit
    key: str
    window: _Window
    chunk: int
    done: Future[None] | None = field(default=None)


class SharedLimiter:
    """Admits or refuses hits per (limit, key); thread-safe; one per server process."""

    def __init__(self, storage: SQLStorage, *, clock: Callable[[], float] = time.time) -> None:
        self.storage = storage
        self.clock = clock
        self.refused: Counter[str] = Counter()  # this process's refusals, per limit name
        self._unflushed: Counter[str] = Counter()
        self._windows: dict[tuple[str, str], _Window] = {}
        self._lock = threading.Lock()
        self._queue: queue.SimpleQueue[_Reservation | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._closed = False

    # -- deciding --------------------------------------------------------------------------

    async def hit(self, limit: Limit, key: str, cost: int = 1) -> Refusal | None:
        """Count ``cost`` units for ``key``; ``None`` when admitted, else the ``Refusal``.

        Waits for the database only when the process holds too little (a limit with no
        lease, or a cost beyond the credit); raises the database's fault then.
        """
        # Each round waits for one answer of the database, which either grants units or
        # closes the window: concurrent waiters of one key may need several rounds.
        while True:
            outcome = self._try(limit, key, cost)
            if not isinstance(outcome, _Reservation):
                return outcome
            assert outcome.done is not None
            await asyncio.wrap_future(outcome.done)

    def refund(self, limit: Limit, key: str, cost: int = 1) -> None:
        """Give back ``cost`` units admitted for ``key`` in this window (if it is still open)."""
        with self._lock:
            window = self._windows.get((limit.name, key))
            if window is not None and window.used >= cost:
                window.used -= cost

    def _try(self, limit: Limit, key: str, cost: int) -> Refusal | _Reservation | None:
        now = self.clock()
        with self._lock:
            window = self._windows.get((limit.name, key))
            if window is None or (window.end and now >= window.end):
                window = self._windows[(limit.name, key)] = _Window()
            ahead = 0 if window.closed else limit.lease
            if window.used + cost <= window.confirmed + ahead:
                window.used += cost
                if not window.closed and not window.pending and window.used >= window.confirmed:
                    self._reserve(limit, key, window, max(limit.lease, cost), wait=False)
                return None
            if window.closed:
                return self._refuse(limit, key, window)
            if window.pending:  # a reservation is on its way: wait for it, then decide
                done: Future[None] = Future()
                self._queue.put(_Reservation(limit, key, window, 0, done))
                self._start()
                return _Reservation(limit, key, window, 0, done)
            need = window.used + cost - window.confirmed
            return self._reserve(limit, key, window, max(limit.lease, need), wait=True)

    def note_refusal(self, name: str) -> None:
        """Count a refusal by a limit kept elsewhere (the content quotas) under ``name``."""
        with self._lock:
            self.refused[name] += 1
            self._unflushed[name] += 1
        self._start()

    def _refuse(self, limit: Limit, key: str, window: _Window | None) -> Refusal:
        self.refused[limit.name] += 1
        self._unflushed[limit.name] += 1
        end = window.end if window is not None and window.end else self.clock() + limit.expiry
        return Refusal(limit, key, max(1, math.ceil(end - self.clock())))

    def _reserve(
        self, limit: Limit, key: str, window: _Window, chunk: int, *, wait: bool
    ) -> _Reservation:
        reservation = _Reservation(limit, key, window, chunk, Future() if wait else None)
        window.pending += chunk
        self._queue.put(reservation)
        self._start()
        return reservation

    # -- the reserving thread --------------------------------------------------------------

    def _start(self) -> None:
        if self._closed:  # nothing will answer: fail what waits instead of hanging
            while True:
                try:
                    waiting = self._queue.get_nowait()
                except queue.Empty:
                    return
                if waiting is not None and waiting.done is not None:
                    waiting.done.set_exception(RuntimeError("the rate limiter is closed"))
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._run, name="cocred-rate-limits", daemon=True
            )
            self._thread.start()

    def _run(self) -> None:
        last_flush = last_purge = self.clock()
        while True:
            try:
                first = self._queue.get(timeout=_FLUSH_SECONDS)
            except queue.Empty:
                first = None
                if self._closed:
                    return
            batch = [first] if first is not None else []
            while True:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is not None:
                    batch.append(more)
            flush = self.clock() - last_flush >= _FLUSH_SECONDS or self._closed
            if batch or (flush and self._unflushed):
                self._apply(batch, flush=flush)
            if flush:
                last_flush = self.clock()
                self._forget_ended()
            if self.clock() - last_purge >= _PURGE_SECONDS:
                last_purge = self.clock()
                try:
                    self.storage.purge()
                except Exception as exc:  # the next purge tries again
                    log.warning("rate limits: cannot purge (%s): %s", type(exc).__name__, exc)
            if self._closed and self._queue.empty():
                return

    def _apply(self, batch: list[_Reservation], *, flush: bool) -> None:
        reserving = [r for r in batch if r.chunk]
        hits = [(f"{r.limit.name}/{r.key}", r.limit.expiry, r.chunk) for r in reserving]
        refused: Counter[str] = Counter()
        if flush:
            with self._lock:
                refused, self._unflushed = self._unflushed, Counter()
            hits += [(REFUSED + name, _FOREVER, n) for name, n in sorted(refused.items())]
        try:
            answers = self.storage.incr_many(hits) if hits else []
        except Exception as exc:  # a database fault: nothing was reserved or counted
            log.warning("rate limits: cannot reserve (%s): %s", type(exc).__name__, exc)
            with self._lock:
                self._unflushed.update(refused)
                for r in reserving:
                    r.window.pending -= r.chunk
            for r in batch:
                if r.done is not None:
                    r.done.set_exception(exc)
            return
        with self._lock:
            for r, (count, end) in zip(reserving, answers, strict=False):
                self._grant(r, count, end)
        for r in batch:
            if r.done is not None:
                r.done.set_result(None)

    @staticmethod
    def _grant(r: _Reservation, count: int, end: float) -> None:
        window = r.window
        window.pending -= r.chunk
        if window.end and end < window.end:
            return  # an answer from a window that has ended: nothing of it is left
        if window.end and end > window.end:  # the shared window turned over: start again
            window.used = window.confirmed = 0
            window.closed = False
        window.end = end
        window.confirmed += max(0, min(r.chunk, r.limit.amount - (count - r.chunk)))
        if count >= r.limit.amount:
            window.closed = True

    def _forget_ended(self) -> None:
        now = self.clock()
        with self._lock:
            ended = [k for k, w in self._windows.items() if w.end and w.end <= now]
            for k in ended:
                del self._windows[k]

    # -- figures and shutdown --------------------------------------------------------------

    def refused_totals(self) -> dict[str, int]:
        """Refusals per limit name, every process's (as last flushed) — reads the database."""
        import sqlalchemy as sa

        query = sa.select(counters.c.key, counters.c.count).where(
            counters.c.key.startswith(REFUSED)
        )
        with self.storage.engine.connect() as conn:
            rows = conn.execute(query).all()
        return {key[len(REFUSED) :]: int(count) for key, count in rows}

    def close(self) -> None:
        """Write what is counted, stop the thread."""
        self._closed = True
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout=5)
