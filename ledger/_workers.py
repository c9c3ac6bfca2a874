"""Work on worker processes, so ingestion and audits use every core.

Threads are not enough: parsing and rule checks are Python and hold the GIL.
Each worker is a process of its own (forked from a fork server, or spawned: the
caller may run threads, which a plain ``fork`` would copy in an undefined state)
with one pipe, so the caller knows which worker holds what and sends each slice
as one message. ``WorkerPool.ordered`` hands slices to whichever worker has
room and gives the replies back in order.

Two kinds of work, chosen by measurement:

- Appending a batch (``ledger.ledger``): the caller parses and applies key
  states slice by slice, as it must in order, and each slice's signature checks
  go packed to a worker (``verify_packed``) while it parses the next. Parsing
  on the workers too was measured slower on 2 cores: the caller must still
  apply every event in order, so what the workers found has to travel back.
- Re-verifying a stored log (``ledger.verify``, the audit): each worker reads its
  range from the database itself and runs every check that needs no earlier
  event (``check_records``: parse, canonical form, row columns, signature,
  Merkle nodes); the caller applies key states and seq chains to the few facts
  that come back. Nothing but those facts crosses a pipe.

In the second, verifying needs the signer's public key before the caller has
applied the key events. A key id is the RFC 7638 thumbprint of its key, so a map
from key id to key is true whatever the event it was read from; each worker
keeps one, fed by the key events it reads and by the keys the caller learns
(sent with the next range). An event whose key a worker has not met yet comes
back unverified and the caller verifies it with the key its key state gives:
the same key, since a key state's key is always the one with that thumbprint.
"""

from __future__ import annotations

import contextlib
import hashlib
import multiprocessing
import os
import socket
import sys
import threading
import types
import weakref
from array import array
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import timedelta
from multiprocessing.connection import Connection, wait
from typing import Any

from ledger._fast import fast_parse
from ledger.actors import KEY_REGISTERED, KEY_REVOKED, KEY_ROTATED
from ledger.envelope import Envelope
from ledger.errors import LedgerError, MalformedEventError
from ledger.keys import key_id, parse_public_jwk, verify_signature
from ledger.provenance.merkle import subtree_levels
from ledger.store import LogStore, Row, RowReader, StoredRecord, open_store

Task = tuple[bytes, bytes, bytes]  # public key, signed bytes, signature
# What a worker gives the caller of each stored event that passed its checks: actor,
# key id, seq, type, and the stored bytes of key events (None for the others).
Fact = tuple[str, str, int, str, bytes | None]


def verify_slice(tasks: Sequence[Task]) -> int | None:
    """Index (within ``tasks``) of the first signature that does not verify, or None."""
    for index, (public, message, signature) in enumerate(tasks):
        if not verify_signature(public, message, signature):
            return index
    return None


def pack_tasks(tasks: Sequence[Task]) -> tuple[bytes, bytes]:
    """Signature checks as one blob (keys, signatures, then messages) and the messages' lengths.

    Raises ``ValueError`` for a key that is not 32 bytes or a signature not 64
    (the blob's layout counts on it). Pickling hundreds of small bytes objects
    one by one costs ten times more, in time the workers wait for.
    """
    keys = b"".join([public for public, _, _ in tasks])
    signatures = b"".join([sig for _, _, sig in tasks])
    if len(keys) != 32 * len(tasks) or len(signatures) != 64 * len(tasks):
        raise ValueError("pack_tasks: keys must be 32 bytes and signatures 64")
    lengths = array("I", [len(message) for _, message, _ in tasks])
    return b"".join([keys, signatures, *(message for _, message, _ in tasks)]), lengths.tobytes()


def verify_packed(blob: bytes, lengths: bytes) -> int | None:
    """``verify_slice`` of what ``pack_tasks`` packed."""
    sizes = array("I", lengths)
    count = len(sizes)
    at = 96 * count  # keys (32 bytes each), then signatures (64)
    for index, size in enumerate(sizes):
        public = blob[32 * index : 32 * index + 32]
        signature = blob[32 * count + 64 * index : 32 * count + 64 * index + 64]
        if not verify_signature(public, blob[at : at + size], signature):
            return index
        at += size
    return None


def clock_refusal(actor: str, seq: int, ts: str, skew: timedelta) -> MalformedEventError:
    """The refusal of an envelope dated more than ``skew`` ahead of the ledger's clock."""
    return MalformedEventError(
        f"envelope: field 'ts' {ts} is more than "
        f"{int(skew.total_seconds())} s ahead of the ledger's clock",
        actor=actor,
        seq=seq,
    )


def learn_key(keys: dict[str, bytes], body: Any) -> bytes | None:
    """Add the key a key event's body names to ``keys``; return it (None if unreadable)."""
    try:
        public = parse_public_jwk(body.get("jwk") if isinstance(body, dict) else None)
    except LedgerError:
        return None
    keys[key_id(public)] = public
    return public


# -- stored records (verify_log and the audit) ---------------------------------------------


class RangeResult:
    """What a worker found in one range of stored records (see ``check_records``)."""

    __slots__ = ("start", "count", "facts", "failure", "bad", "unknown", "levels", "kept")

    def __init__(self, start: int) -> None:
        self.start = start
        self.count = 0  # records read
        self.facts: list[Fact] = []  # of the records that passed the structural checks
        self.failure: tuple[int, str, str] | None = None  # (position, step, detail)
        self.bad: int | None = None  # position of the first bad signature
        self.unknown: list[tuple[int, bytes, bytes]] = []  # (position, signed bytes, signature)
        self.levels: list[bytes] = []  # Merkle nodes of the range, level by level
        self.kept: list[StoredRecord] = []  # records of the kept types

    def __getstate__(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in self.__slots__)

    def __setstate__(self, state: tuple[Any, ...]) -> None:
        for name, value in zip(self.__slots__, state, strict=True):
            setattr(self, name, value)


def check_records(
    rows: Sequence[Row],
    start: int,
    keys: dict[str, bytes],
    *,
    leaves: bool = False,
    keep: frozenset[str] = frozenset(),
) -> RangeResult:
    """Check stored events that should sit at positions ``start``, ``start + 1`` …

    In order, up to the first failure: the position, the strict parse, the
    canonical form, the row's actor/seq/type against the envelope, then the
    signature (with ``keys``; an unknown key is left to the caller). Also the
    Merkle nodes of the range when ``leaves`` and all holds, and the records of
    the ``keep`` types. Key states and seq chains are the caller's: the facts
    run up to and including the event of a bad signature, which the caller's
    key-state failure at that same event would come before.
    """
    result = RangeResult(start)
    result.count = len(rows)
    facts, unknown = result.facts, result.unknown
    hashes: list[bytes] = []
    sha256 = hashlib.sha256
    expected = start
    for position, row_actor, row_seq, row_type, data in rows:
        if type(data) is not bytes:  # as the store reads it
            data = bytes(data)
        if position != expected:
            result.failure = (
                expected,
                "order",
                f"expected position {expected}, found {position} (an event is missing)",
            )
            break
        parts = fast_parse(data)
        if parts is not None:
            obj, signature, message, _ = parts
            actor, key, seq, type_ = obj["actor"], obj["key"], obj["seq"], obj["type"]
        else:
            try:
                env = Envelope.from_bytes(data)
            except LedgerError as exc:
                result.failure = (position, "parse", exc.detail)
                break
            if env.canonical_bytes() != data:
                result.failure = (
                    position,
                    "canonical",
                    "stored bytes are not the canonical form of the envelope they hold",
                )
                break
            obj = env.to_json()
            actor, key, seq, type_ = env.actor, env.key, env.seq, env.type
            signature, message = env.signature, env.signing_bytes()
        if row_actor != actor or row_seq != seq or row_type != type_:
            result.failure = (
                position,
                "index",
                f"row says actor {row_actor} seq {row_seq} type {row_type}, "
                f"envelope says actor {actor} seq {seq} type {type_}",
            )
            break
        # Equal strings as one object: pickle then sends them once (half the bytes).
        if key == actor:
            key = actor
        type_ = _intern(type_)
        if type_ in _KEY_TYPES:
            facts.append((actor, key, seq, type_, data))
            if type_ == KEY_REGISTERED:  # self-signed: verified with the key it registers
                public = learn_key(keys, obj["body"])
            else:
                public = keys.get(key)
                if type_ == KEY_ROTATED:
                    learn_key(keys, obj["body"])
        else:
            facts.append((actor, key, seq, type_, None))
            public = keys.get(key)
        if type_ in keep:
            result.kept.append(StoredRecord(position, actor, seq, type_, data))
        if leaves:
            hashes.append(sha256(b"\x00" + data).digest())
        if public is None:
            unknown.append((position, message, signature))
        elif not verify_signature(public, message, signature):
            result.bad = position
            break
        expected += 1
    if leaves and result.failure is None and result.bad is None and rows:
        result.levels = subtree_levels(hashes)
    return result


_KEY_TYPES = frozenset({KEY_REGISTERED, KEY_ROTATED, KEY_REVOKED})
_intern = sys.intern


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
