"""Group commit: the concurrent ``POST /events`` of one process share one transaction.

Each durable transaction costs an fsync (SQLite, synchronous=FULL) or a round
trip under PostgreSQL's table lock, so one transaction per request caps a
process at ~2,000 (SQLite) or ~500 (PostgreSQL) events/s. Here requests put
their envelope bytes on a queue and wait; one committer thread takes everything
that is waiting (up to ``max_group`` events or ``max_bytes``; no delay when the
queue is short: it takes what is there) and appends it through the rules gate in
ONE transaction, then settles each request with its own position.

The outcome is the same as appending the requests one by one in queue order.
When the group is refused, the gate's error names the event that broke a rule
(``ids["index"] = i``). Events before ``i`` passed every check made so far but
maybe not all of them (the ledger checks seqs for the whole batch before any
signature, and signatures before the campaign rules), so they are appended
again as a batch (which may shrink again the same way); then event ``i`` is
appended *alone*, against the log as it now is, which gives it exactly the
result, or the error (type, code, detail, ids), it would have had on its own;
then the rest is grouped again. Two requests with one (actor, seq) in a group
thus give one success and one ``ReplayError``, as they would one after the
other. An error that names no event (the gate lost too many races with other
processes) sends each event of the group alone; a ``StorageError`` (the
database failed; nothing was written) is every event's answer.

A request is settled only after its transaction committed (or was refused).
``close`` stops taking requests (later ones get ``AppendsClosedError``, a 503),
appends everything already queued, and stops the thread.

Several server processes on one database take turns through a ``WriterLock``
(``ledger.store.writer_lock``: a ``flock`` beside the SQLite file, a PostgreSQL
advisory lock): without it,
a process whose group was checked while another committed must check it all
again, signatures included (most groups, with two busy workers). The committer
also replays the log into the gate before its first group, and, in a server,
freezes the replayed state out of the cyclic garbage collector (see
``_freeze``).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import queue
import threading
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, Protocol

from ledger.errors import CocredError, StorageError
from ledger.ledger import Appended, Ledger
from ledger.store.writer_lock import WriterLock, writer_lock_for

DEFAULT_MAX_GROUP = 500
# PostgreSQL refuses transactions over 5 MB (ledger.store.postgres.MAX_BATCH_BYTES).
DEFAULT_MAX_BYTES = 4 * 1024 * 1024
FREEZE_EVERY = 1_000  # events appended between two gc.freeze() (see _freeze)


class Placement(int):
    """An event's position, and whether the log held its exact bytes already.

    An ``int`` (what ``append`` and ``submit`` promise) that also says
    ``stored_before``: the request repeated an event that was stored (earlier, or
    earlier in its own group), and the HTTP layer answers 200 instead of 201.
    """

    stored_before: bool = False

    @classmethod
    def at(cls, position: int, stored_before: bool) -> Placement:
        """The placement of an event at ``position``."""
        out = cls(position)
        out.stored_before = stored_before
        return out


Outcome = Placement | BaseException


class AppendsClosedError(StorageError):
    """The server is shutting down: the event was not appended (send it again).

    Keeps ``StorageError``'s code (``StorageUnavailable``, HTTP 503): the service
    cannot take the write now, and nothing was written.
    """


@dataclass(slots=True)
class _Request:
    item: bytes
    future: asyncio.Future[int] | Future[int]
    loop: asyncio.AbstractEventLoop | None = None  # set for asyncio futures


@dataclass
class CommitStats:
    """What the committer did (for tests, benchmarks and metrics)."""

    groups: int = 0
    events: int = 0
    largest: int = 0
    transactions: int = 0  # batches and lone appends that were attempted
    alone: int = 0  # events appended alone to get their own answer


_STOP = object()


class Appender(Protocol):
    """What the committer appends through: the rules gate (``domain.gate.CampaignApp``).

    A protocol, so the write path needs nothing of ``domain/``: any object with a
    ``ledger``, an all-or-nothing ``append_batch`` that raises a ``CocredError``
    naming the refused event (``ids["index"]``), and ``catch_up`` will do.
    """

    @property
    def ledger(self) -> Ledger:
        """The ledger the appends land in (its store's URL names the writer lock)."""
        ...

    def append_batch(self, items: Sequence[bytes]) -> Appended:
        """Check and append ``items`` in one transaction, or raise and write nothing."""
        ...

    def catch_up(self) -> int:
        """Replay the log into the rules' state; return the log's size."""
        ...


class GroupCommitter:
    """One thread appending the queued envelopes of this process in groups."""

    def __init__(
        self,
        gate: Appender,
        *,
        max_group: int = DEFAULT_MAX_GROUP,
        max_bytes: int = DEFAULT_MAX_BYTES,
        freeze_gc: bool = False,
        freeze_every: int = FREEZE_EVERY,
        writer_lock: WriterLock | None = None,
    ) -> None:
        if max_group < 1 or max_bytes < 1:
            raise ValueError("max_group and max_bytes must be positive")
        self.gate = gate
        self.writer_lock = writer_lock or writer_lock_for(gate.ledger.store.url)
        self.freeze_gc = freeze_gc
        self.freeze_every = freeze_every
        self._unfrozen = 0
        self.max_group = min(max_group, gate.ledger.max_batch)
        self.max_bytes = max_bytes
        self.stats = CommitStats()
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="cocred-group-commit", daemon=True)
        self._thread.start()

    # -- submitting ------------------------------------------------------------------------

    async def append(self, item: bytes) -> int:
        """Append one envelope with the others waiting; return its position once durable.

        The position is a ``Placement``: ``stored_before`` is true when these
        exact bytes were already in the log (nothing new was written for them).

        Raises what ``gate.append_batch([item])`` would raise, or ``AppendsClosedError``.
        """
        loop = asyncio.get_running_loop()
        future: asyncio.Future[int] = loop.create_future()
        self._put(_Request(item, future, loop))
        return await future

    def submit(self, item: bytes) -> Future[int]:
        """Queue one envelope from any thread; the future gives its position or its error."""
        future: Future[int] = Future()
        self._put(_Request(item, future))
        return future

    def _put(self, request: _Request) -> None:
        with self._lock:
            if self._closed:
                raise AppendsClosedError(
                    "the server is shutting down: the event was not appended; send it again"
                )
            self._queue.put(request)

    def close(self, timeout: float | None = 30.0) -> None:
        """Refuse new requests, append the queued ones, stop the thread (idempotent)."""
        with self._lock:
            if not self._closed:
                self._closed = True
                self._queue.put(_STOP)
        self._thread.join(timeout)

    @property
    def closed(self) -> bool:
        return self._closed

    # -- the committer thread --------------------------------------------------------------

    def _run(self) -> None:
        try:
            self._warm_up()
            self._serve()
        except BaseException as exc:  # a bug: nobody may wait for ever on a dead thread
            self._refuse_queued(StorageError(f"the group committer stopped: {exc!r}"))
            raise
        finally:
            self.writer_lock.close()

    def _serve(self) -> None:
        carry: _Request | None = None
        while True:
            first = carry if carry is not None else self._queue.get()
            if first is _STOP:
                return
            # Take this process's turn first: what arrives meanwhile joins the group.
            with self.writer_lock:
                group, carry, stop = self._gather(first)
                outcomes = self._outcomes([r.item for r in group])
            self._settle(group, outcomes)
            if stop:
                return
            self._unfrozen += len(group)
            if self.freeze_gc and self._unfrozen >= self.freeze_every:
                self._freeze(full=False)

    def _refuse_queued(self, exc: StorageError) -> None:
        with self._lock:
            self._closed = True
        waiting = []
        with contextlib.suppress(queue.Empty):
            while True:
                request = self._queue.get_nowait()
                if request is not _STOP:
                    waiting.append(request)
        self._settle(waiting, [exc] * len(waiting))

    def _gather(self, first: _Request) -> tuple[list[_Request], _Request | None, bool]:
        """``first`` and what waits behind it, within the bounds: (group, carry, stop)."""
        group = [first]
        size = len(first.item)
        while len(group) < self.max_group:
            try:
                nxt = self._queue.get_nowait()
            except queue.Empty:
                break
            if nxt is _STOP:
                return group, None, True
            if size + len(nxt.item) > self.max_bytes:
                return group, nxt, False
            group.append(nxt)
            size += len(nxt.item)
        return group, None, False

    def _warm_up(self) -> None:
        """Replay the log into the gate before the first group (requests queue meanwhile)."""
        # A failure here (the database is down) surfaces again on the first append.
        with contextlib.suppress(Exception):
            self.gate.catch_up()
        if self.freeze_gc:
            self._freeze(full=True)

    def _freeze(self, *, full: bool) -> None:
        """Move the objects alive now out of the cyclic GC's sight (``gc.freeze``).

        The gate's state is millions of long-lived objects; every full collection
        walks them all (stopping every thread; see bench/README.md), and finds
        nothing to free. Frozen, they are still freed by reference counting. Young
        garbage is collected first so that it is not frozen with them.
        """
        if full:
            gc.collect()
        else:
            gc.collect(1)
        gc.freeze()
        self._unfrozen = 0

    def _outcomes(self, items: Sequence[bytes]) -> list[Outcome]:
        """Append ``items`` as if one by one, in as few transactions as the rules allow."""
        stats = self.stats
        stats.groups += 1
        stats.events += len(items)
        stats.largest = max(stats.largest, len(items))
        outcomes: list[Outcome] = []
        try:
            while len(outcomes) < len(items):
                outcomes += self._longest_batch(items, len(outcomes))
                if len(outcomes) < len(items):  # the event that broke the batch: alone
                    outcomes.append(self._alone(items[len(outcomes)]))
        except Exception as exc:  # a bug, not a refusal: the requests not yet answered learn it
            outcomes += [exc] * (len(items) - len(outcomes))
        return outcomes

    def _longest_batch(self, items: Sequence[bytes], start: int) -> list[Outcome]:
        """Append the longest ``items[start:k]`` the gate takes in one transaction.

        Returns the outcomes of ``items[start:k]``; when ``k < len(items)``,
        ``items[k]`` is the event that a longer batch was refused for.
        """
        end = len(items)
        while end - start > 1:
            self.stats.transactions += 1
            try:
                return _placements(self.gate.append_batch(items[start:end]))
            except CocredError as exc:
                index = exc.ids.get("index")
                if isinstance(index, int) and 0 <= index < end - start:
                    end = start + index  # the events before it, maybe (see the module doc)
                elif isinstance(exc, StorageError):  # nothing was written: the same for all
                    return [exc] * (end - start)
                else:  # names no event (e.g. contention): each gets its own answer
                    return [self._alone(item) for item in items[start:end]]
        return [self._alone(items[start])] if end - start == 1 else []

    def _alone(self, item: bytes) -> Outcome:
        self.stats.transactions += 1
        self.stats.alone += 1
        try:
            return _placements(self.gate.append_batch([item]))[0]
        except CocredError as exc:
            return exc

    @staticmethod
    def _settle(group: Sequence[_Request], outcomes: Sequence[Outcome]) -> None:
        """Give each request its outcome; asyncio futures are settled on their own loop."""
        by_loop: dict[asyncio.AbstractEventLoop, list[tuple[Any, Outcome]]] = {}
        for request, outcome in zip(group, outcomes, strict=True):
            if request.loop is None:
                future = request.future
                assert isinstance(future, Future)
                if future.set_running_or_notify_cancel():
                    if isinstance(outcome, BaseException):
                        future.set_exception(outcome)
                    else:
                        future.set_result(outcome)
            else:
                by_loop.setdefault(request.loop, []).append((request.future, outcome))
        for loop, pairs in by_loop.items():
            # A closed loop (RuntimeError) means nobody is waiting any more.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(_settle_on_loop, pairs)


def _placements(positions: Appended) -> list[Outcome]:
    stored = positions.stored_before
    return [Placement.at(p, i in stored) for i, p in enumerate(positions)]


def _settle_on_loop(pairs: list[tuple[asyncio.Future[int], Outcome]]) -> None:
    for future, outcome in pairs:
        if future.done():  # the request was cancelled (client gone)
            continue
        if isinstance(outcome, BaseException):
            future.set_exception(outcome)
        else:
            future.set_result(outcome)
