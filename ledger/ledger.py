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
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from ledger.actors import ActorState, resolve
from ledger.envelope import Envelope
from ledger.errors import (
    LedgerError,
    MalformedError,
    MalformedEventError,
    ReplayError,
    SignatureError,
    StorageError,
)
from ledger.parallel import ParallelVerifier, verify_slice
from ledger.store import ConflictError, LogStore, NewRecord, StoredRecord

MAX_BATCH = 10_000
_PARALLEL_MIN = 256  # below this, handing work to processes costs more than it saves


class LogMovedError(LedgerError):
    """A conditional append found the log longer than expected: re-check and retry."""

    code = "LogMoved"


class BatchTooLargeError(MalformedError):
    """A batch has more events than one transaction may hold."""

    code = "BatchTooLarge"


EnvelopeInput = Envelope | bytes | str | dict[str, Any]


@dataclass(frozen=True, slots=True)
class Prepared:
    """An envelope that passed every check but the signature, ready to verify and insert."""

    envelope: Envelope
    public_key: bytes
    message: bytes
    signature: bytes
    record: NewRecord
    after: ActorState


def to_envelope(item: EnvelopeInput) -> Envelope:
    """Parse/validate any accepted input form; raise ``MalformedEventError``."""
    if isinstance(item, bytes | str):
        return Envelope.from_bytes(item)
    if isinstance(item, Envelope):
        item = item.to_json()
    return Envelope.from_json(item)


def _with_index(exc: LedgerError, index: int) -> LedgerError:
    """The same error type, its message prefixed with the event's index in the batch."""
    new = type(exc)(f"event {index} of the batch: {exc.detail}", **exc.ids, index=index)
    new.__cause__ = exc
    return new


class Ledger:
    """Checks and appends signed events to a ``LogStore``; safe to share between threads."""

    def __init__(
        self,
        store: LogStore,
        *,
        max_clock_skew: timedelta | None = timedelta(minutes=5),
        verify_threads: int | None = None,
        max_batch: int = MAX_BATCH,
    ) -> None:
        self.store = store
        self.max_clock_skew = max_clock_skew
        self.max_batch = max_batch
        self._states: dict[str, ActorState] = {}
        self._lock = threading.Lock()
        # Cores that verify signatures: above 1, batches of _PARALLEL_MIN or more are
        # verified on that many worker processes, started on first need (a CLI
        # call that appends one event never pays for them).
        self.verify_threads = (
            verify_threads if verify_threads is not None else (os.cpu_count() or 1)
        )
        self._verifier: ParallelVerifier | None = None

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
    ) -> list[int]:
        """Check and append many events in ONE transaction: all-or-nothing.

        Either every event is durable when this returns, or none was written and
        the error names the first offending event (``index`` in ``exc.ids``).
        Events of one actor must follow each other by seq within the batch.
        Signatures are verified in parallel threads. At most ``max_batch`` events
        (``BatchTooLargeError``).

        ``check`` runs after the ledger's own checks and before the insert (the
        campaign rules use it); whatever it raises propagates and nothing is
        written. ``expected_size`` makes the insert conditional on the log still
        having exactly that many events, so rules checked against state at that
        size cannot be invalidated by a concurrent append: if the log moved, the
        insert is refused with ``LogMovedError`` and the caller re-checks.
        """
        prepared, _, pending = self._prepare(items, {})
        self._verify(prepared, pending, prefix=len(prepared) > 1)
        if check is not None:
            check([p.envelope for p in prepared])
        records = [p.record for p in prepared]
        try:
            positions = self.store.insert(records, expected_size=expected_size)
        except ConflictError as exc:
            if expected_size is not None:
                size = self.store.size()
                if size != expected_size:
                    raise LogMovedError(
                        f"the log grew from {expected_size} to {size} events while this batch "
                        f"was checked; check again",
                        expected=expected_size,
                        size=size,
                    ) from exc
            raise self._diagnose_conflict(prepared) from exc
        with self._lock:
            for p in prepared:
                self._remember(p)
        return positions

    def check_batch(
        self, items: Sequence[EnvelopeInput], overlay: dict[str, ActorState] | None = None
    ) -> dict[str, ActorState]:
        """Run every check of ``append_batch`` but write nothing (a dry run).

        ``overlay`` carries actor states from earlier checked batches, so a large
        import can be checked whole before any part of it is written. Returns the
        updated overlay.
        """
        prepared, overlay, pending = self._prepare(items, dict(overlay or {}))
        self._verify(prepared, pending, prefix=True)
        return overlay

    def _prepare(
        self, items: Sequence[EnvelopeInput], overlay: dict[str, ActorState]
    ) -> tuple[list[Prepared], dict[str, ActorState], list[Future[int | None]]]:
        """Parse and check every envelope but the signature, in order.

        With verify threads, each slice of prepared envelopes is handed to them as
        soon as it is ready, so verification (which releases the GIL) overlaps the
        parsing of the next slice. Returns the futures of those verifications.
        """
        if len(items) > self.max_batch:
            raise BatchTooLargeError(
                f"a batch holds at most {self.max_batch} events, got {len(items)}"
            )
        now = datetime.now(UTC)
        prepared: list[Prepared] = []
        pending: list[Future[int | None]] = []
        single = len(items) == 1
        pool = self._parallel() if len(items) >= _PARALLEL_MIN else None
        step = max(32, len(items) // (self.verify_threads * 4))
        submitted = 0
        for index, item in enumerate(items):
            try:
                env = to_envelope(item)
                self._check_clock(env, now)
                state = overlay.get(env.actor)
                if state is None:
                    state = self.actor_state(env.actor, at_least=env.seq - 1)
                public, after = resolve(state, env)
                overlay[env.actor] = after
                record = NewRecord(env.actor, env.seq, env.type, env.canonical_bytes())
                prepared.append(
                    Prepared(env, public, env.signing_bytes(), env.signature, record, after)
                )
            except LedgerError as exc:
                for future in pending:
                    future.cancel()
                if single:
                    raise
                raise _with_index(exc, index) from exc
            if pool is not None and len(prepared) - submitted >= step:
                pending.append(_submit(pool, prepared, submitted, len(prepared)))
                submitted = len(prepared)
        if pool is not None and submitted < len(prepared):
            pending.append(_submit(pool, prepared, submitted, len(prepared)))
        return prepared, overlay, pending

    def _parallel(self) -> ParallelVerifier | None:
        if self.verify_threads <= 1:
            return None
        with self._lock:
            if self._verifier is None:
                self._verifier = ParallelVerifier(self.verify_threads)
        return self._verifier

    def _check_clock(self, env: Envelope, now: datetime) -> None:
        if self.max_clock_skew is not None and env.time > now + self.max_clock_skew:
            raise MalformedEventError(
                f"envelope: field 'ts' {env.ts} is more than "
                f"{int(self.max_clock_skew.total_seconds())} s ahead of the ledger's clock",
                actor=env.actor,
                seq=env.seq,
            )

    def _verify(
        self, prepared: list[Prepared], pending: list[Future[int | None]], *, prefix: bool
    ) -> None:
        """Wait for (or run) every signature check; raise for the first bad one."""
        if pending:
            bad = next((r for r in (f.result() for f in pending) if r is not None), None)
            bad = None if bad is None else int(bad)
        else:
            bad = verify_slice([(p.public_key, p.message, p.signature) for p in prepared])
        if bad is not None:
            env = prepared[bad].envelope
            exc = SignatureError(
                f"actor {env.actor} seq {env.seq}: signature does not verify with key {env.key}",
                actor=env.actor,
                seq=env.seq,
            )
            raise _with_index(exc, bad) if prefix else exc

    def _remember(self, p: Prepared) -> None:
        known = self._states.get(p.envelope.actor)
        if (known.seq if known else 0) == p.after.seq - 1:
            self._states[p.envelope.actor] = p.after

    def _diagnose_conflict(self, prepared: list[Prepared]) -> LedgerError:
        with self._lock:
            for p in prepared:
                self._states.pop(p.envelope.actor, None)
        for index, p in enumerate(prepared):
            env = p.envelope
            if self.store.exists(env.actor, env.seq):
                exc = ReplayError(
                    f"actor {env.actor}: seq {env.seq} is already used (taken by another writer)",
                    actor=env.actor,
                    seq=env.seq,
                )
                return _with_index(exc, index) if len(prepared) > 1 else exc
        return StorageError(
            "the store reported a conflict but no (actor, seq) of the batch "
            "exists; nothing was written"
        )

    def close(self) -> None:
        """Stop the verification threads and close the store."""
        if self._verifier is not None:
            self._verifier.close()
        self.store.close()


def _submit(
    pool: ParallelVerifier, prepared: list[Prepared], start: int, stop: int
) -> Future[int | None]:
    """Verify ``prepared[start:stop]`` on the pool; the future gives an absolute index."""
    inner = pool.submit([(p.public_key, p.message, p.signature) for p in prepared[start:stop]])
    outer: Future[int | None] = Future()

    def done(f: Future[int | None]) -> None:
        if f.cancelled():
            outer.cancel()
        elif f.exception() is not None:
            outer.set_exception(f.exception())
        else:
            r = f.result()
            outer.set_result(None if r is None else start + r)

    inner.add_done_callback(done)
    return outer
