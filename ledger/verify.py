"""Re-verify a whole stored log: what ``cocred verify`` and the audit's step 1 run.

For every stored event, in log order: the positions are dense; the bytes parse as
an envelope and are exactly its canonical form (so any changed byte is caught
even where it would still parse); the row's actor/seq/type columns match the
envelope; the key was the actor's valid key at that seq; seqs run 1, 2, 3 … per
actor; the signature verifies. Signatures are checked a page at a time across
threads (both cores). Stops at the first failure and names its position.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ledger.actors import ActorState, resolve
from ledger.envelope import Envelope
from ledger.errors import LedgerError
from ledger.keys import verify_signature
from ledger.parallel import ParallelVerifier
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


def _first_bad_signature(tasks: list[tuple[int, bytes, bytes, bytes]]) -> int | None:
    for position, public, message, signature in tasks:
        if not verify_signature(public, message, signature):
            return position
    return None


def verify_log(
    store: LogStore,
    *,
    threads: int = 2,
    page: int = PAGE,
    progress: Callable[[int], None] | None = None,
    observe: Callable[[StoredRecord], None] | None = None,
) -> VerifyReport:
    """Verify every stored event; never raises for bad data, reports it instead.

    ``observe`` sees every record that passed the structural checks, in log
    order (the audit feeds its Merkle tree from it, so the log is read once).
    """
    states: dict[str, ActorState] = {}
    count = 0
    pool = ParallelVerifier(threads) if threads > 1 else None
    try:
        position = 0
        while True:
            records = store.read(position, page)
            if not records:
                break
            tasks: list[tuple[int, bytes, bytes, bytes]] = []
            failure = None
            for record in records:
                failure, task = _check_record(record, position, states)
                if failure is not None:
                    break
                assert task is not None
                tasks.append((record.position, *task))
                if observe is not None:
                    observe(record)
                position += 1
            bad = _verify_tasks(tasks, pool, threads)
            # (pages are verified one after another; within a page, in parallel)
            if bad is not None:  # an earlier bad signature wins over a later failure
                env = Envelope.from_bytes(records[bad - records[0].position].data)
                return VerifyReport(
                    bad,
                    len(states),
                    Failure(
                        bad,
                        "signature",
                        f"actor {env.actor} seq {env.seq}: signature does not "
                        f"verify with key {env.key}",
                    ),
                )
            if failure is not None:
                return VerifyReport(failure.position, len(states), failure)
            count = position
            if progress is not None:
                progress(len(records))
    finally:
        if pool is not None:
            pool.close()
    return VerifyReport(count, len(states), None)


def _verify_tasks(
    tasks: list[tuple[int, bytes, bytes, bytes]], pool: ParallelVerifier | None, threads: int
) -> int | None:
    """Position of the first task whose signature fails, or None."""
    if pool is None or len(tasks) < 64:
        return _first_bad_signature(tasks)
    step = -(-len(tasks) // (threads * 2))
    slices = [tasks[i : i + step] for i in range(0, len(tasks), step)]
    futures = [pool.submit([t[1:] for t in chunk]) for chunk in slices]
    for chunk, future in zip(slices, futures, strict=True):
        bad = future.result()
        if bad is not None:
            return chunk[bad][0]
    return None
