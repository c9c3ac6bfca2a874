"""Re-verify a whole stored log: what ``cocred verify`` and the audit's step 1 run.

For every stored event, in log order: the positions are dense; the bytes parse as
an envelope and are exactly its canonical form (so any changed byte is caught
even where it would still parse); the row's actor/seq/type columns match the
envelope; the key was the actor's valid key at that seq; seqs run 1, 2, 3 … per
actor; the signature verifies. Signatures are checked a page at a time across
threads (both cores). Stops at the first failure and names its position.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass

from ledger.actors import ActorState, resolve
from ledger.envelope import Envelope
from ledger.errors import LedgerError
from ledger.parallel import ParallelVerifier, verify_slice
from ledger.store import PAGE, LogStore, StoredRecord


@dataclass(frozen=True)
class Failure:
    """The first thing that did not hold: where, which step, and why."""

    position: int
    step: str
    detail: str

    def __str__(self) -> str:
        return f"position {self.position}: {self.step}: {self.detail}"


@dataclass(frozen=True)
class VerifyReport:
    """How many events and actors were checked, and the first failure if any."""

    events: int
    actors: int
    failure: Failure | None

    @property
    def ok(self) -> bool:
        return self.failure is None


def _check_record(
    record: StoredRecord, expected: int, states: dict[str, ActorState]
) -> tuple[Failure | None, tuple[bytes, bytes, bytes] | None]:
    if record.position != expected:
        return Failure(
            expected,
            "order",
            f"expected position {expected}, found {record.position} (an event is missing)",
        ), None
    try:
        env = Envelope.from_bytes(record.data)
    except LedgerError as exc:
        return Failure(record.position, "parse", exc.detail), None
    canonical = env.canonical_bytes()
    if canonical != record.data:
        return Failure(
            record.position,
            "canonical",
            "stored bytes are not the canonical form of the envelope they hold",
        ), None
    if (record.actor, record.seq, record.type) != (env.actor, env.seq, env.type):
        return Failure(
            record.position,
            "index",
            f"row says actor {record.actor} seq {record.seq} type {record.type}, "
            f"envelope says actor {env.actor} seq {env.seq} type {env.type}",
        ), None
    try:
        public, after = resolve(states.get(env.actor), env)
    except LedgerError as exc:
        return Failure(record.position, "key state", exc.detail), None
    states[env.actor] = after
    return None, (public, env.signing_bytes(), env.signature)


def verify_log(
    store: LogStore,
    *,
    threads: int = 2,
    page: int = PAGE,
    progress: Callable[[int], None] | None = None,
    observe: Callable[[StoredRecord], None] | None = None,
) -> VerifyReport:
    """Verify every stored event; never raises for bad data, reports it instead.

    Pages are pipelined: while worker processes verify the signatures of one
    page, this process reads and checks the next. ``observe`` sees every record
    that passed the structural checks, in log order (the audit feeds its Merkle
    tree from it, so the log is read once).
    """
    states: dict[str, ActorState] = {}
    pool = ParallelVerifier(threads) if threads > 1 else None
    pending: deque[_Page] = deque()
    position = 0
    failure: Failure | None = None
    try:
        while failure is None:
            records = store.read(position, page)
            if not records:
                break
            tasks: list[tuple[int, bytes, bytes, bytes]] = []
            for record in records:
                failure, task = _check_record(record, position, states)
                if failure is not None:
                    break
                assert task is not None
                tasks.append((record.position, *task))
                if observe is not None:
                    observe(record)
                position += 1
            pending.append(_Page(records, tasks, _start(tasks, pool, threads)))
            while len(pending) > (2 if failure is None else 0):
                done = pending.popleft()
                bad = done.first_bad()
                if bad is not None:  # an earlier bad signature wins over a later failure
                    return VerifyReport(bad.position, len(states), bad)
                if progress is not None:
                    progress(len(done.tasks))
        while pending:
            done = pending.popleft()
            bad = done.first_bad()
            if bad is not None:
                return VerifyReport(bad.position, len(states), bad)
            if progress is not None:
                progress(len(done.tasks))
    finally:
        if pool is not None:
            pool.close()
    if failure is not None:
        return VerifyReport(failure.position, len(states), failure)
    return VerifyReport(position, len(states), None)


@dataclass
class _Page:
    records: list[StoredRecord]
    tasks: list[tuple[int, bytes, bytes, bytes]]
    futures: list[tuple[list[tuple[int, bytes, bytes, bytes]], Future[int | None]]]

    def first_bad(self) -> Failure | None:
        """The first bad signature of this page (waiting for its workers), or None."""
        position = None
        if self.futures:
            for chunk, future in self.futures:
                index = future.result()
                if index is not None:
                    position = chunk[index][0]
                    break
        else:
            index = verify_slice([t[1:] for t in self.tasks])
            position = None if index is None else self.tasks[index][0]
        if position is None:
            return None
        env = Envelope.from_bytes(self.records[position - self.records[0].position].data)
        return Failure(
            position,
            "signature",
            f"actor {env.actor} seq {env.seq}: signature does not verify with key {env.key}",
        )


def _start(
    tasks: list[tuple[int, bytes, bytes, bytes]], pool: ParallelVerifier | None, threads: int
) -> list[tuple[list[tuple[int, bytes, bytes, bytes]], Future[int | None]]]:
    """Hand the page's signatures to the workers (nothing when verifying in-process)."""
    if pool is None or len(tasks) < 64:
        return []
    step = -(-len(tasks) // threads)
    chunks = [tasks[i : i + step] for i in range(0, len(tasks), step)]
    return [(chunk, pool.submit([t[1:] for t in chunk])) for chunk in chunks]
