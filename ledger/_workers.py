"""Work on worker processes, so ingestion and audits use every core.

Threads are not enough: parsing and rule checks are Python and hold the GIL.
Each worker is a process of its own (forked from a fork server, or spawned: the
caller may run threads, which a plain ``fork`` would copy in an undefined state)
with one pipe, so the caller knows which worker holds what and sends each slice
as one message. ``WorkerPool.ordered`` hands slices to whichever worker has
room and gives the replies back in order.

The work they run, chosen by measurement, is in ``ledger._worker_checks``:
signature checks of a batch being appended, and every check of a range of a
stored log that needs no earlier event.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import socket
import sys
import threading
import types
import weakref
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from multiprocessing.connection import Connection, wait
from typing import Any

from ledger._worker_checks import check_records, verify_packed
from ledger.store import LogStore, Row, RowReader, open_store


def row_reader(store: LogStore) -> RowReader:
    """``read(start, limit)`` giving rows of ``store``, for ``check_records``.

    The store declares how it is read cheapest (``LogStore.row_reader``).
    """
    return store.row_reader()


# -- the workers ---------------------------------------------------------------------------

_keys: dict[str, bytes] = {}  # key id -> public key, in each worker process
_stores: dict[str, LogStore] = {}
_readers: dict[str, RowReader] = {}


def _read(url: str, start: int, limit: int) -> list[Row]:
    read = _readers.get(url)
    if read is None:
        store = _stores[url] = open_store(url, create=False)
        read = _readers[url] = row_reader(store)
    return read(start, limit)


WORKER_NICE = 10  # how much a worker process gives way to its caller (and to the rest)


class _Raised:
    """A worker's unexpected exception, sent back to be raised in the caller."""

    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


def _serve(conn: Connection) -> None:
    """A worker's loop: run each task, reply once; a ``None`` task ends it."""
    # A worker is CPU-bound batch work: as SCHED_BATCH, waking up (a slice has
    # arrived) does not preempt the caller, which is still sending the next
    # worker its slice, or applying key states, on the critical path. Niced, it
    # also gives way to the caller whenever the caller has work: with two workers
    # on two cores, the caller got only about half a core otherwise, and the
    # workers then waited for it (measured: 2-core appends 13.6k -> 16.4k/s).
    with contextlib.suppress(AttributeError, OSError):
        os.sched_setscheduler(0, os.SCHED_BATCH, os.sched_param(0))
    with contextlib.suppress(OSError):
        os.nice(WORKER_NICE)
    conn.send("ready")
    while (message := conn.recv()) is not None:
        kind, args = message
        reply: Any
        try:
            if kind == "verify":
                reply = verify_packed(conn.recv_bytes(), args[0])
            elif kind == "records":
                url, start, limit, leaves, keep, keys = args
                _keys.update(keys)
                rows = _read(url, start, limit)
                reply = check_records(rows, start, _keys, leaves=leaves, keep=keep)
            else:
                raise ValueError(f"unknown task {kind!r}")
        except Exception as exc:  # noqa: BLE001 - raised again in the caller
            reply = _Raised(exc)
        conn.send(reply)
    for store in _stores.values():
        store.close()


def _context() -> Any:
    """``forkserver`` where there is one, else ``spawn``.

    Both start workers from a clean single-threaded process (``fork`` would copy
    the caller's threads in an undefined state). The fork server imports this
    module once and forks each worker from it in milliseconds, where ``spawn``
    starts a new interpreter per worker.
    """
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([__name__, "ledger.store.sqlite"])
    return context


@contextlib.contextmanager
def _without_main() -> Iterator[None]:
    """Start processes without re-importing the caller's main module in them.

    Both start methods import the parent's ``__main__`` in each new process (so
    that functions defined there can be found). Workers only run this module,
    and for the ``cocred`` CLI that import is most of the application (about a
    second per worker). While the workers start, ``__main__`` is a bare module
    with neither a file nor a spec, so there is nothing to re-import.
    """
    main = sys.modules.get("__main__")
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        yield
    finally:
        if main is not None:
            sys.modules["__main__"] = main


class WorkerError(RuntimeError):
    """A worker process died or could not be started."""


# A task for whichever worker is free: given that worker, the task's kind, its
# arguments and a blob sent after them unpickled (or None).
Job = Callable[[int], tuple[str, tuple[Any, ...], bytes | None]]


class WorkerPool:
    """``workers`` processes, each with its own pipe; use under ``lock``.

    ``ordered`` hands tasks to whichever worker has room and gives the replies
    back in task order, so a worker slowed down (by another process on its core,
    say) simply takes fewer tasks. ``settle`` reads replies still owed after a
    caller stopped early, so the next user starts clean.
    """

    def __init__(self, workers: int) -> None:
        context = _context()
        self.workers = workers
        self.lock = threading.Lock()
        self._conns: list[Connection] = []
        self._procs: list[Any] = []
        self._owed = [0] * workers
        self._keys_sent = [0] * workers
        try:
            for _ in range(workers):
                parent, child = context.Pipe()
                for conn in (parent, child):
                    _widen(conn)
                proc = context.Process(target=_serve, args=(child,), daemon=True)
                with _without_main():
                    proc.start()
                child.close()
                self._conns.append(parent)
                self._procs.append(proc)
            for conn in self._conns:
                conn.recv()
        except (OSError, EOFError) as exc:
            _stop(self._conns, self._procs)
            raise WorkerError(f"cannot start verification workers: {exc}") from exc
        self._finalizer = weakref.finalize(self, _stop, self._conns, self._procs)

    @property
    def alive(self) -> bool:
        return self._finalizer.alive and all(p.is_alive() for p in self._procs)

    def keys_for(self, worker: int, log: list[tuple[str, bytes]]) -> list[tuple[str, bytes]]:
        """The keys of ``log`` not yet sent to ``worker`` (it keeps them)."""
        sent = self._keys_sent[worker]
        self._keys_sent[worker] = len(log)
        return log[sent:]

    def ordered(self, jobs: Iterable[Job], depth: int = 2) -> Iterator[Any]:
        """Run ``jobs`` with at most ``depth`` queued per worker; yield replies in order.

        Raises what a task raised (``WorkerError`` if a worker died). Stop
        iterating at any time, then call ``settle``.
        """
        source = iter(jobs)
        queues: list[deque[int]] = [deque() for _ in range(self.workers)]
        replies: dict[int, Any] = {}
        sent = done = 0
        exhausted = False
        while True:
            while not exhausted:
                worker = min(range(self.workers), key=lambda w: len(queues[w]))
                if len(queues[worker]) >= depth:
                    break
                make = next(source, None)
                if make is None:
                    exhausted = True
                    break
                self.submit(worker, *make(worker))
                queues[worker].append(sent)
                sent += 1
            if done in replies:
                yield replies.pop(done)
                done += 1
                continue
            if done == sent:
                return
            busy = [self._conns[w] for w in range(self.workers) if queues[w]]
            for conn in wait(busy):
                worker = self._conns.index(conn)  # type: ignore[arg-type]
                replies[queues[worker].popleft()] = self.result(worker)

    def submit(self, worker: int, kind: str, args: tuple[Any, ...], blob: bytes | None) -> None:
        """Queue a task on ``worker`` (``blob``, if any, is sent after it unpickled)."""
        conn = self._conns[worker]
        conn.send((kind, args))
        if blob is not None:
            conn.send_bytes(blob)
        self._owed[worker] += 1

    def result(self, worker: int) -> Any:
        """The reply to ``worker``'s oldest task (raising what the task raised)."""
        try:
            reply = self._conns[worker].recv()
        except (EOFError, OSError) as exc:
            self._owed[worker] = 0
            raise WorkerError(f"verification worker {worker} died") from exc
        self._owed[worker] -= 1
        if isinstance(reply, _Raised):
            raise reply.exc
        return reply

    def settle(self) -> None:
        """Read every reply still owed (the tasks run to their end)."""
        for worker in range(self.workers):
            while self._owed[worker]:
                with contextlib.suppress(Exception):
                    self.result(worker)

    def close(self) -> None:
        """Stop the workers."""
        self._finalizer()


_BUFFER = 4 << 20  # a whole slice fits: the sender never waits for the worker to drain it


def _widen(conn: Connection) -> None:
    """Give a pipe's socket large buffers (the OS may cap them; that only costs speed).

    With the default ~200 kB, sending a 270 kB slice to a worker that is not yet
    running blocks the caller until the scheduler gets round to that worker,
    which on a busy 2-core machine took milliseconds per batch.
    """
    with contextlib.suppress(OSError, ValueError):
        sock = socket.socket(fileno=conn.fileno())
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, _BUFFER)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, _BUFFER)
        finally:
            sock.detach()


def _stop(conns: list[Connection], procs: list[Any]) -> None:
    for conn in conns:
        with contextlib.suppress(OSError):
            conn.send(None)
    for proc in procs:
        proc.join(timeout=5)
        if proc.is_alive():
            proc.terminate()
            proc.join(timeout=5)
    for conn in conns:
        conn.close()
