"""The ledger: checks every envelope against the rules and appends it durably.

Rules, each refusal its own error and nothing written: malformed envelope
(``MalformedEventError``), unknown actor/key (``UnknownKeyError``), key revoked or
rotated away (``RevokedKeyError``), bad signature (``SignatureError``), seq reused
(``ReplayError``) or skipped (``SequenceGapError``), key-event rules
(``KeyEventError``). ``append`` returns only after the transaction committed.

Actor key state is cached per process. The cache can only lag (stored events are
immutable), so before checking seq ``s`` it is brought up to ``s - 1`` from the
store; and if another process takes the seq first, the store's (actor, seq)
primary key refuses the second insert, which surfaces as ``ReplayError``.

Longer than ~400 lines on purpose: ``append``, ``append_batch`` and ``check_batch`` run
one checking path (parse, cache catch-up, the rules in order, the worker pool for a
large batch, the retry when the insert meets the batch's own events stored meanwhile),
and that order is the ledger's contract; split, each half would have to re-state it.
The measured fast paths it calls already live apart (``_fast``, ``_batch``, ``_workers``).
"""

from __future__ import annotations

import itertools
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from ledger._batch import Appended, Batch, slices, with_index
from ledger._fast import fast_parse
from ledger._worker_checks import backdated_refusal, clock_refusal, pack_tasks, verify_slice
from ledger._workers import Job, WorkerPool
from ledger.actors import KEY_EVENT_TYPES, RECOVERY_REQUESTED, ActorState, resolve
from ledger.envelope import Envelope
from ledger.errors import LedgerError, MalformedError
from ledger.limits import IMPORT_BATCH as IMPORT_BATCH  # re-exported: it lives in ledger.limits
from ledger.limits import MAX_BATCH
from ledger.recovery import Disowned, disowned
from ledger.store import ConflictError, Insertion, LogStore, StoredRecord

_PARALLEL_MIN = 256  # below this, handing work to processes costs more than it saves


class LogMovedError(LedgerError):
    """A conditional append found the log longer than expected: re-check and retry."""

    code = "LogMoved"


class BatchTooLargeError(MalformedError):
    """A batch has more events than one transaction may hold."""

    code = "BatchTooLarge"


EnvelopeInput = Envelope | bytes | str | dict[str, Any]


def to_envelope(item: EnvelopeInput) -> Envelope:
    """Parse/validate any accepted input form; raise ``MalformedEventError``."""
    if isinstance(item, bytes | str):
        return Envelope.from_bytes(item)
    if isinstance(item, Envelope):
        item = item.to_json()
    return Envelope.from_json(item)


class Ledger:
    """Checks and appends signed events to a ``LogStore``; safe to share between threads."""

    def __init__(
        self,
        store: LogStore,
        *,
        max_clock_skew: timedelta | None = timedelta(minutes=5),
        verify_threads: int | None = None,
        max_batch: int = MAX_BATCH,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.store = store
        self.max_clock_skew = max_clock_skew
        # The ledger's clock (tests pass a settable one to step over a recovery's delay).
        self.clock: Callable[[], datetime] = clock or (lambda: datetime.now(UTC))
        self.max_batch = max_batch
        self._states: dict[str, ActorState] = {}
        self._lock = threading.Lock()
        # Cores that check events: above 1, batches of _PARALLEL_MIN or more are
        # parsed and verified on that many worker processes, started on first need
        # (a CLI call that appends one event never pays for them).
        self.verify_threads = (
            verify_threads if verify_threads is not None else (os.cpu_count() or 1)
        )
        self._verifier: WorkerPool | None = None

    # -- reading ---------------------------------------------------------------------------

    def size(self) -> int:
        """Number of events in the log."""
        return self.store.size()

    def actor_state(self, actor: str, *, at_least: int | None = None) -> ActorState | None:
        """The actor's key state, refreshed from the store (up to ``at_least`` if given)."""
        cached = self._states.get(actor)
        if cached is not None and at_least is not None and cached.seq >= at_least:
            return cached
        state = cached
        for record in self.store.read_actor(actor, after_seq=state.seq if state else 0):
            # Stored events were verified on the way in; only replay their key effects.
            _, state = resolve(state, Envelope.from_bytes(record.data))
        if state is not None:
            with self._lock:
                known = self._states.get(actor)
                if known is None or known.seq < state.seq:
                    self._states[actor] = state
        return state

    def disowned(self, actor: str) -> list[Disowned]:
        """The actor's stored events its ``KeyCompromised`` statements disown, in seq order.

        They stay in the log and verify; projections and the domain consult this set.
        """
        return disowned(self.actor_state(actor), self.store.read_actor(actor))

    def next_seq(self, actor: str) -> int:
        """The seq the actor's next event must carry."""
        state = self.actor_state(actor)
        return 1 if state is None else state.seq + 1

    def event(self, position: int) -> StoredRecord | None:
        """The stored event at ``position`` or None."""
        return self.store.get(position)

    # -- appending -------------------------------------------------------------------------

    def append(self, item: EnvelopeInput) -> int:
        """Check and durably append one event; return its global position.

        Raises the typed ``LedgerError`` of the first rule it breaks.
        """
        return self.append_batch([item])[0]

    def append_batch(
        self,
        items: Sequence[EnvelopeInput],
        *,
        expected_size: int | None = None,
        check: Callable[[Sequence[Envelope]], None] | None = None,
    ) -> Appended:
        """Check and append many events in ONE transaction: all-or-nothing.

        Either every event is durable when this returns, or none was written and
        the error names the first offending event (``index`` in ``exc.ids``).
        Events of one actor must follow each other by seq within the batch.
        Batches of 256 events or more are parsed and verified on worker processes
        (``verify_threads`` of them; see ``ledger._workers``). At most
        ``max_batch`` events (``BatchTooLargeError``).

        ``check`` runs after the ledger's own checks and before the insert (the
        campaign rules use it); whatever it raises propagates and nothing is
        written. ``expected_size`` makes the insert conditional on the log still
        having exactly that many events, so rules checked against state at that
        size cannot be invalidated by a concurrent append: if the log moved, the
        insert is refused with ``LogMovedError`` and the caller re-checks.
        """
        for attempt in range(3):
            batch, positions = self._attempt(items, expected_size, check)
            if batch is not None:
                with self._lock:
                    batch.remember(self._states)
                return batch.positions(positions)
            if check is not None or attempt == 2:
                # ``check`` changed its caller's state: the caller must start again.
                raise LogMovedError(
                    "an event of this batch was stored meanwhile by another writer; check again",
                    expected=expected_size,
                )
        raise AssertionError("unreachable")  # the loop returns or raises

    def _attempt(
        self,
        items: Sequence[EnvelopeInput],
        expected_size: int | None,
        check: Callable[[Sequence[Envelope]], None] | None,
    ) -> tuple[Batch | None, list[int]]:
        """One try of ``append_batch``: (batch, positions), or (None, []) to try again.

        Trying again is needed when the insert met one of the batch's own events,
        with the same bytes, stored after this process last read its actor.
        """
        # A batch goes into an ``Insertion`` (``LogStore.begin_insert``). Checked on
        # the worker processes, each slice is written while the workers verify the
        # next ones; otherwise it is written whole after ``check``. It commits once
        # every event has passed.
        insertion = self.store.begin_insert(expected_size=expected_size) if len(items) > 1 else None
        try:
            batch = self._check(
                items,
                {},
                envelopes=check is not None,
                sig_prefix=len(items) > 1,
                insertion=insertion,
            )
            if check is not None:
                assert batch.envelopes is not None
                check(batch.envelopes)
            if insertion is None:
                positions = self.store.insert(batch.records, expected_size=expected_size)
            else:
                insertion.add(batch.records[batch.written :])  # what no worker slice wrote
                positions = insertion.commit()
        except ConflictError as exc:
            self._forget(batch)
            if expected_size is not None:
                size = self.store.size()
                if size != expected_size:
                    raise LogMovedError(
                        f"the log grew from {expected_size} to {size} events while this batch "
                        f"was checked; check again",
                        expected=expected_size,
                        size=size,
                    ) from exc
            stored = self.store.stored(batch.records)
            if any(
                s is not None and s.data == r.data
                for s, r in zip(stored, batch.records, strict=True)
            ):
                return None, []
            raise batch.conflict_error(stored) from exc
        finally:
            if insertion is not None:
                insertion.abort()  # after a commit: nothing to do
        return batch, positions

    def check_batch(
        self,
        items: Sequence[EnvelopeInput],
        overlay: dict[str, ActorState] | None = None,
        *,
        fresh: list[Envelope] | None = None,
    ) -> dict[str, ActorState]:
        """Run every check of ``append_batch`` but write nothing (a dry run).

        ``overlay`` carries actor states from earlier checked batches, so a large
        import can be checked whole before any part of it is written. Returns the
        updated overlay. ``fresh``, if given, receives the envelopes that would be
        written (not those already stored with the same bytes).
        """
        overlay = dict(overlay or {})
        batch = self._check(items, overlay, envelopes=fresh is not None, sig_prefix=True)
        if fresh is not None and batch.envelopes is not None:
            fresh.extend(batch.envelopes)
        for actor, (_, state) in batch.states().items():
            overlay[actor] = state
        return overlay

    def _check(
        self,
        items: Sequence[EnvelopeInput],
        overlay: dict[str, ActorState],
        *,
        envelopes: bool,
        sig_prefix: bool,
        insertion: Insertion | None = None,
    ) -> Batch:
        """Parse and check every envelope, in order, then every signature.

        The first event that is malformed or breaks a key/seq rule is refused
        before any signature counts; then the first bad signature. Errors name
        the event's index unless the batch holds one event (signature errors:
        unless ``sig_prefix`` is false). Big batches are parsed and verified on
        the worker processes while this one applies the key states and writes
        each checked slice into ``insertion`` (if given; ``batch.written``
        counts the records it holds).
        """
        if len(items) > self.max_batch:
            raise BatchTooLargeError(
                f"a batch holds at most {self.max_batch} events, got {len(items)}"
            )
        now = self.clock()
        batch = Batch(self, overlay, envelopes)
        pool = self._parallel() if len(items) >= _PARALLEL_MIN else None
        if pool is None:
            bad = self._check_here(items, now, batch)
        else:
            with pool.lock:
                try:
                    bad = self._check_on(pool, items, now, batch, insertion)
                finally:
                    pool.settle()
        if bad is not None:
            raise batch.signature_error(bad, sig_prefix)
        return batch

    def _check_here(
        self, items: Sequence[EnvelopeInput], now: datetime, batch: Batch
    ) -> int | None:
        """Check a batch in this process; return the index of the first bad signature."""
        return verify_slice(self._parse(items, 0, len(items), now, batch))

    def _parse(
        self,
        items: Sequence[EnvelopeInput],
        start: int,
        stop: int,
        now: datetime,
        batch: Batch,
    ) -> list[tuple[bytes, bytes, bytes]]:
        """Parse and check ``items[start:stop]`` in order; return their signature checks.

        Raises the first event's ``LedgerError``, naming its index unless the
        batch holds one event.
        """
        single = len(items) == 1
        skew = self.max_clock_skew
        limit = None if skew is None else now + skew
        tasks: list[tuple[bytes, bytes, bytes]] = []
        for index in range(start, stop):
            item = items[index]
            try:
                raw = cast(bytes, item) if type(item) is bytes else None
                parts = None if raw is None else fast_parse(raw)
                if parts is not None:
                    assert raw is not None
                    obj, signature, message, moment = parts
                    actor, seq, type_ = obj["actor"], obj["seq"], obj["type"]
                    if limit is not None and moment > limit:
                        assert skew is not None
                        raise clock_refusal(actor, seq, obj["ts"], skew)
                    if skew is not None and type_ == RECOVERY_REQUESTED and moment < now - skew:
                        raise backdated_refusal(actor, seq, obj["ts"], skew)
                    env = None
                    if batch.envelopes is not None or type_ in KEY_EVENT_TYPES:
                        env = Envelope.from_parts(raw, obj, signature)
                    public = batch.add(actor, obj["key"], seq, type_, raw, env)
                    if public is None:
                        continue
                else:
                    env = to_envelope(item)
                    self._check_clock(env, now)
                    public = batch.add(
                        env.actor, env.key, env.seq, env.type, env.canonical_bytes(), env
                    )
                    if public is None:
                        continue
                    signature, message = env.signature, env.signing_bytes()
            except LedgerError as exc:
                if single:
                    raise
                raise with_index(exc, index) from exc
            tasks.append((public, message, signature))
        return tasks

    def _check_on(
        self,
        pool: WorkerPool,
        items: Sequence[EnvelopeInput],
        now: datetime,
        batch: Batch,
        insertion: Insertion | None,
    ) -> int | None:
        """Check a batch here, slice by slice, while the workers verify the slices already done.

        Parsing and the key states stay in this process, in order (as in
        ``_check_here``); each slice's signature checks go, packed, to whichever
        worker has room, so verification overlaps the parsing of the next slice.
        Once a slice is on its way, its records go into ``insertion`` (if any)
        while the workers verify: the insert overlaps verification too.
        """
        bounds = slices(len(items), pool.workers)

        def job(blob: bytes, lengths: bytes) -> Job:
            return lambda _: ("verify", (lengths,), blob)

        firsts: list[int] = []  # each slice's first record (stored events are no records)

        def jobs() -> Iterator[Job]:  # parsed when a worker has room for the slice
            records = batch.records
            for start, stop in itertools.pairwise(bounds):
                firsts.append(len(records))
                yield job(*pack_tasks(self._parse(items, start, stop, now, batch)))
                if insertion is not None:  # the slice is with a worker: write it meanwhile
                    insertion.add(records[firsts[-1] :])
                    batch.written = len(records)

        # Every slice is parsed even after a bad signature: a malformed event or a
        # broken rule anywhere in the batch is refused before any signature counts.
        bad = None
        for number, first_bad in enumerate(pool.ordered(jobs())):
            if first_bad is not None and bad is None:
                bad = firsts[number] + first_bad
        return bad

    def warm_up(self) -> None:
        """Start the worker processes now rather than with the first big batch.

        A no-op with one verify thread. A long-lived appender (a server, an
        import) can call it at start so no batch pays for process start-up.
        """
        self._parallel()

    def _parallel(self) -> WorkerPool | None:
        if self.verify_threads <= 1:
            return None
        with self._lock:
            if self._verifier is None or not self._verifier.alive:
                self._verifier = WorkerPool(self.verify_threads)
        return self._verifier

    def _check_clock(self, env: Envelope, now: datetime) -> None:
        skew = self.max_clock_skew
        if skew is not None and env.time > now + skew:
            raise clock_refusal(env.actor, env.seq, env.ts, skew)
        if skew is not None and env.type == RECOVERY_REQUESTED and env.time < now - skew:
            raise backdated_refusal(env.actor, env.seq, env.ts, skew)

    def _forget(self, batch: Batch) -> None:
        # The cached key states of the batch's actors lag the store: read them again.
        with self._lock:
            for r in batch.records:
                self._states.pop(r.actor, None)

    def close(self) -> None:
        """Stop the worker processes and close the store."""
        if self._verifier is not None:
            self._verifier.close()
        self.store.close()
