"""Re-verify a whole stored log: what ``cocred verify`` and the audit's step 1 run.

For every stored event, in log order: the positions are dense; the bytes parse as
an envelope and are exactly its canonical form (so any changed byte is caught
even where it would still parse); the row's actor/seq/type columns match the
envelope; the key was the actor's valid key at that seq; seqs run 1, 2, 3 … per
actor; the signature verifies. The first failure in log order is reported, with
its position (at one position, the checks count in that order).

The log is cut into aligned ranges of a power of two. On more than one core,
worker processes read their ranges from the database themselves and run every
check that needs no earlier event (parse, canonical form, row columns,
signatures, and for the audit the range's Merkle nodes); this process applies
the key states and seq chains in order and verifies what a worker could not
(an event whose key it had not met yet). See ``ledger._worker_checks``.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any

from ledger._worker_checks import RangeResult, check_records
from ledger._workers import Job, WorkerPool, row_reader
from ledger.actors import KEY_EVENT_TYPES, ActorState, resolve
from ledger.envelope import Envelope
from ledger.errors import LedgerError
from ledger.keys import verify_signature
from ledger.provenance.merkle import MemoryNodes
from ledger.recovery import Disowned, disowned
from ledger.store import PAGE, LogStore, StoredRecord

_DEPTH = 2  # ranges queued per worker, so none waits while this process applies one
_PARALLEL_RANGES = 4  # fewer ranges than this: starting workers costs more than it saves


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
    # Events their actors disowned (KeyCompromised): they verify, but are listed apart.
    disowned: tuple[Disowned, ...] = ()

    @property
    def ok(self) -> bool:
        return self.failure is None


def verify_log(
    store: LogStore,
    *,
    threads: int = 2,
    page: int = PAGE,
    progress: Callable[[int], None] | None = None,
) -> VerifyReport:
    """Verify every stored event; never raises for bad data, reports it instead.

    ``threads`` is the number of worker processes (1: all in this process);
    ``page`` the size of a range, rounded up to a power of two.
    """
    return check_log(store, threads=threads, page=page, progress=progress)[0]


def check_log(
    store: LogStore,
    *,
    threads: int = 2,
    page: int = PAGE,
    progress: Callable[[int], None] | None = None,
    tree: MemoryNodes | None = None,
    keep: frozenset[str] = frozenset(),
) -> tuple[VerifyReport, list[StoredRecord]]:
    """``verify_log``, also filling ``tree`` and returning the records of the ``keep`` types.

    With ``tree``, every perfect-subtree node over the verified log is stored in
    it (only when all holds). The kept records are those before the first
    failure, in log order.
    """
    chunk = 1 << max(0, (max(page, 1) - 1).bit_length())
    chain = _Chain(store)
    kept: list[StoredRecord] = []
    leaves = tree is not None
    url = getattr(store, "url", "")
    pool = None
    if threads > 1 and url and store.size() >= _PARALLEL_RANGES * chunk:
        pool = WorkerPool(threads)
    position = 0
    try:
        ranges = (
            _ranges_on(pool, url, chunk, chain, leaves, keep)
            if pool is not None
            else _ranges_here(store, chunk, leaves, keep)
        )
        for result in ranges:
            failure = chain.apply(result)
            if failure is not None:
                kept.extend(r for r in result.kept if r.position < failure.position)
                return VerifyReport(failure.position, chain.actors, failure), kept
            kept.extend(result.kept)
            if tree is not None and result.levels:
                tree.extend(result.start, result.levels)
            position += result.count
            if progress is not None and result.count:
                progress(result.count)
            if result.count < chunk:
                break
    finally:
        if pool is not None:
            pool.settle()
            pool.close()
    if tree is not None:
        tree.complete(position)
    return VerifyReport(position, chain.actors, None, chain.disowned()), kept


def _ranges_here(
    store: LogStore, chunk: int, leaves: bool, keep: frozenset[str]
) -> Iterator[RangeResult]:
    keys: dict[str, bytes] = {}
    read = row_reader(store)
    start = 0
    while True:
        rows = read(start, chunk)
        yield check_records(rows, start, keys, leaves=leaves, keep=keep)
        if len(rows) < chunk:
            return
        start += chunk


def _ranges_on(
    pool: WorkerPool, url: str, chunk: int, chain: _Chain, leaves: bool, keep: frozenset[str]
) -> Iterator[RangeResult]:
    """Range results in log order, each range read and checked by whichever worker is free."""

    def job(start: int) -> Job:
        def make(worker: int) -> tuple[str, tuple[object, ...], None]:
            keys = pool.keys_for(worker, chain.log)
            return "records", (url, start, chunk, leaves, keep, keys), None

        return make

    # Ranges run ahead of the end of the log (the caller stops at the first short
    # one); at most _DEPTH per worker are ever queued.
    return pool.ordered((job(start) for start in itertools.count(0, chunk)), _DEPTH)


class _Chain:
    """Key states and seq chains, applied in log order (this process's share)."""

    def __init__(self, store: LogStore) -> None:
        self.store = store
        # actor -> [state as of its last key change, seq now, current key id (None: none)]
        self.live: dict[str, list[Any]] = {}
        self.keys: dict[str, bytes] = {}
        self.log: list[tuple[str, bytes]] = []  # every key met, for the workers

    @property
    def actors(self) -> int:
        return len(self.live)

    def apply(self, result: RangeResult) -> Failure | None:
        """Apply a range's events; return the range's first failure, if any."""
        live = self.live
        failure: Failure | None = None
        position = result.start
        for actor, key, seq, type_, data in result.facts:
            entry = live.get(actor)
            if (
                entry is not None
                and seq == entry[1] + 1
                and key == entry[2]
                and type_ not in KEY_EVENT_TYPES
            ):
                entry[1] = seq  # the next seq, by the current key: what resolve would give
                position += 1
                continue
            try:
                self._resolve(position, actor, data)
            except LedgerError as exc:
                failure = Failure(position, "key state", exc.detail)
                break
            position += 1
        if failure is None and result.failure is not None:
            failure = Failure(*result.failure)
        bad = self._first_bad(result, failure.position if failure else None)
        if bad is not None:
            actor, key, seq, _, _ = result.facts[bad - result.start]
            return Failure(
                bad,
                "signature",
                f"actor {actor} seq {seq}: signature does not verify with key {key}",
            )
        return failure

    def _resolve(self, position: int, actor: str, data: bytes | None) -> None:
        entry = self.live.get(actor)
        state: ActorState | None = None
        if entry is not None:
            state, last = entry[0], entry[1]
            if state.seq != last:
                state = replace(state, seq=last)
        if data is None:  # not a key event: only its failure lands here, and it needs the text
            record = self.store.get(position)
            assert record is not None
            data = record.data
        env = Envelope.from_bytes(data)
        _, after = resolve(state, env)
        current = after.keys[-1]
        # While a recovery is pending every event goes through resolve (it reads ts).
        usable = current.until is None and after.pending is None
        self.live[actor] = [after, after.seq, current.key if usable else None]
        known = [(span.key, span.public) for span in after.keys]
        if after.recovery is not None:  # it signs RecoveryRequested: its signature is checked
            known.append(after.recovery)
        for key, public in known:
            if key not in self.keys:
                self.keys[key] = public
                self.log.append((key, public))

    def disowned(self) -> tuple[Disowned, ...]:
        """Every disowned event of the verified log, in log order."""
        found = [
            d
            for actor, (state, *_) in self.live.items()
            if state.compromised
            for d in disowned(state, self.store.read_actor(actor))
        ]
        return tuple(sorted(found, key=lambda d: d.position))

    def _first_bad(self, result: RangeResult, limit: int | None) -> int | None:
        """The first bad signature before ``limit``: the worker's, or one verified here."""
        bad = result.bad
        if bad is not None and limit is not None and bad >= limit:
            bad = None
        for position, message, signature in result.unknown:
            if (bad is not None and position >= bad) or (limit is not None and position >= limit):
                break
            key = result.facts[position - result.start][1]
            public = self.keys.get(key)
            if public is not None and not verify_signature(public, message, signature):
                return position
        return bad
