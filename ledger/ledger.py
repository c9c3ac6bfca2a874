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

import itertools
import os
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from ledger._workers import Job, WorkerPool, clock_refusal, pack_tasks, verify_slice
from ledger.actors import KEY_EVENT_TYPES, ActorState, resolve
from ledger.envelope import Envelope, fast_parse
from ledger.errors import (
    LedgerError,
    MalformedError,
    ReplayError,
    SignatureError,
    StorageError,
)
from ledger.store import ConflictError, Insertion, LogStore, NewRecord, StoredRecord

MAX_BATCH = 10_000
# Events per transaction of an import (``cocred append``). Each commit costs a
# fsync'd write during which the verification workers have nothing to do, and a
# batch's first and last slices leave one of them idle for a moment: on 2 cores,
# batches of 1,000 ran at ~1.5x one process, batches of 5,000 at ~1.7x. A batch
# holds the write lock while it is checked (about a quarter of a second here).
IMPORT_BATCH = 5_000
_PARALLEL_MIN = 256  # below this, handing work to processes costs more than it saves
_SLICE_MIN = 64  # events per (full-size) slice handed to a worker


class LogMovedError(LedgerError):
    """A conditional append found the log longer than expected: re-check and retry."""

    code = "LogMoved"


class BatchTooLargeError(MalformedError):
    """A batch has more events than one transaction may hold."""

    code = "BatchTooLarge"


EnvelopeInput = Envelope | bytes | str | dict[str, Any]


class Appended(list[int]):
    """The positions of a batch's events, in order, and which of them were there already.

    ``stored_before`` holds the indices of the events that this append did not
    write because the log already held their exact bytes (from an earlier append,
    or earlier in the same batch): their positions are the stored ones. A plain
    ``list[int]`` to every caller that only wants positions.
    """

    stored_before: frozenset[int] = frozenset()

    @classmethod
    def of(cls, positions: Sequence[int], stored_before: Iterable[int]) -> Appended:
        """``positions`` with the indices of the events that were already stored."""
        out = cls(positions)
        out.stored_before = frozenset(stored_before)
        return out


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


def _current(state: ActorState | None) -> tuple[str | None, bytes | None]:
    """The id and public key of the actor's current key, or (None, None)."""
    if state is None or state.keys[-1].until is not None:
        return None, None
    return state.keys[-1].key, state.keys[-1].public


def _slices(count: int, workers: int) -> list[int]:
    """Bounds of the slices a batch of ``count`` is verified in, on ``workers`` workers.

    About four slices per worker: small enough that a worker slowed down by
    something else on its core holds the batch back little (the others take more
    slices), big enough to cost nothing to send. The first ones are a quarter as
    big, so every worker starts soon after the batch does; the last ones half as
    big, so the batch waits less for the last to come back.
    """
    size = max(_SLICE_MIN, -(-count // (4 * workers)))
    quarter, half = max(1, size // 4), max(1, size // 2)
    head = min(count, workers * quarter)
    tail = min(count - head, workers * half)
    middle = count - head - tail
    pieces = -(-middle // size)
    sizes = [quarter] * (head // quarter) + [head % quarter]
    sizes += [middle // pieces + (i < middle % pieces) for i in range(pieces)]
    sizes += [half] * (tail // half) + [tail % half]
    return [0, *itertools.accumulate(n for n in sizes if n)]


class _Batch:
    """A batch being checked: key states as of each event, and the rows to insert.

    ``add`` applies one parsed event in log order. The common event (not a key
    event, next seq, signed by the actor's current key) is checked right here
    without building an ``ActorState`` per event; anything else goes through
    ``resolve``, which names the rule it breaks.
    """

    __slots__ = (
        "ledger",
        "overlay",
        "live",
        "records",
        "envelopes",
        "written",
        "items",
        "item_of",
        "already",
        "repeats",
        "_mine",
    )

    def __init__(self, ledger: Ledger, overlay: dict[str, ActorState], envelopes: bool) -> None:
        self.ledger = ledger
        self.overlay = overlay
        # actor -> [state as of its last key change, seq now, its first seq in the batch,
        #           its current key's id and public key (None, None: it has none)]
        self.live: dict[str, list[Any]] = {}
        self.records: list[NewRecord] = []
        self.written = 0  # records already written into the batch's insertion
        self.envelopes: list[Envelope] | None = [] if envelopes else None
        # Events whose exact bytes are already in the log or earlier in the batch are
        # not records: item index -> stored position / index of the identical record.
        self.items = 0
        self.item_of: list[int] = []  # record index -> item index
        self.already: dict[int, int] = {}
        self.repeats: dict[int, int] = {}
        self._mine: dict[tuple[str, int], int] | None = None  # (actor, seq) -> record index

    def add(
        self, actor: str, key: str, seq: int, type_: str, data: bytes, env: Envelope | None
    ) -> bytes | None:
        """Check the next event against its actor's key state; return the key that signs it.

        None when the log (or the batch) already holds these exact bytes at this
        (actor, seq): it is not checked again, nor written. Raises the
        ``LedgerError`` of the rule it breaks (see ``resolve``).
        """
        entry = self.live.get(actor)
        if entry is None:
            state = self.overlay.get(actor)
            if state is None:
                state = self.ledger.actor_state(actor, at_least=seq - 1)
            entry = self.live[actor] = [
                state,
                0 if state is None else state.seq,
                seq,
                *_current(state),
            ]
        item = self.items
        self.items += 1
        if seq <= entry[1] and self._known(item, actor, seq, data):
            return None
        if seq == entry[1] + 1 and key == entry[3] and type_ not in KEY_EVENT_TYPES:
            public: bytes = entry[4]
            entry[1] = seq
        else:
            state = entry[0]
            if state is not None and state.seq != entry[1]:
                state = ActorState(actor, entry[1], state.keys)
            if env is None:
                env = Envelope.trusted(data)
            public, after = resolve(state, env)
            entry[0], entry[1], entry[3], entry[4] = after, after.seq, *_current(after)
        if self._mine is not None:
            self._mine[(actor, seq)] = len(self.records)
        self.item_of.append(item)
        self.records.append(NewRecord(actor, seq, type_, data))
        if self.envelopes is not None:
            self.envelopes.append(env if env is not None else Envelope.trusted(data))
        return public

    def _known(self, item: int, actor: str, seq: int, data: bytes) -> bool:
        """True (and noted) when these bytes are already at (actor, seq), in the batch or log.

        The check comes before every rule: an event that is stored was checked
        when it was appended, and its retry must get its position, not a refusal
        (``ReplayError``, or a campaign rule such as a duplicate vote).
        """
        if self._mine is None:
            self._mine = {(r.actor, r.seq): i for i, r in enumerate(self.records)}
        index = self._mine.get((actor, seq))
        if index is not None:
            if self.records[index].data != data:
                return False
            self.repeats[item] = index
            return True
        (stored,) = self.ledger.store.stored([NewRecord(actor, seq, "", data)])
        if stored is None or stored.data != data:
            return False
        self.already[item] = stored.position
        return True

    def positions(self, written: Sequence[int]) -> Appended:
        """Every item's position, given the positions of the records just written."""
        if not self.already and not self.repeats:
            return Appended.of(written, set())
        out = [0] * self.items
        for record, item in enumerate(self.item_of):
            out[item] = written[record]
        for item, position in self.already.items():
            out[item] = position
        for item, record in self.repeats.items():
            out[item] = written[record]
        return Appended.of(out, {*self.already, *self.repeats})

    def states(self) -> dict[str, tuple[int, ActorState]]:
        """Each actor's first seq in the batch and its state after the batch."""
        out = {}
        for actor, (state, seq, first, *_) in self.live.items():
            out[actor] = (first, state if state.seq == seq else ActorState(actor, seq, state.keys))
        return out

    def signature_error(self, index: int, prefix: bool) -> LedgerError:
        record = self.records[index]
        env_key = self._key_of(index)
        exc = SignatureError(
            f"actor {record.actor} seq {record.seq}: signature does not verify with key {env_key}",
            actor=record.actor,
            seq=record.seq,
        )
        return _with_index(exc, self.item_of[index]) if prefix else exc

    def _key_of(self, index: int) -> str:
        if self.envelopes is not None:
            return self.envelopes[index].key
        return Envelope.trusted(self.records[index].data).key


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
                    self._remember(batch)
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
    ) -> tuple[_Batch | None, list[int]]:
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
            raise self._diagnose_conflict(batch, stored) from exc
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
    ) -> _Batch:
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
        now = datetime.now(UTC)
        batch = _Batch(self, overlay, envelopes)
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
        self, items: Sequence[EnvelopeInput], now: datetime, batch: _Batch
    ) -> int | None:
        """Check a batch in this process; return the index of the first bad signature."""
        return verify_slice(self._parse(items, 0, len(items), now, batch))

    def _parse(
        self,
        items: Sequence[EnvelopeInput],
        start: int,
        stop: int,
        now: datetime,
        batch: _Batch,
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
                raise _with_index(exc, index) from exc
            tasks.append((public, message, signature))
        return tasks

    def _check_on(
        self,
        pool: WorkerPool,
        items: Sequence[EnvelopeInput],
        now: datetime,
        batch: _Batch,
        insertion: Insertion | None,
    ) -> int | None:
        """Check a batch here, slice by slice, while the workers verify the slices already done.

        Parsing and the key states stay in this process, in order (as in
        ``_check_here``); each slice's signature checks go, packed, to whichever
        worker has room, so verification overlaps the parsing of the next slice.
        Once a slice is on its way, its records go into ``insertion`` (if any)
        while the workers verify: the insert overlaps verification too.
        """
        bounds = _slices(len(items), pool.workers)

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
        if self.max_clock_skew is not None and env.time > now + self.max_clock_skew:
            raise clock_refusal(env.actor, env.seq, env.ts, self.max_clock_skew)

    def _remember(self, batch: _Batch) -> None:
        # As if each event were remembered in turn: an actor's cached state moves to
        # the batch's end if it stood just before one of the batch's events.
        states = self._states
        for actor, (state, seq, first, *_) in batch.live.items():
            known = states.get(actor)
            if first <= (known.seq if known else 0) + 1 <= seq:
                states[actor] = state if state.seq == seq else ActorState(actor, seq, state.keys)

    def _forget(self, batch: _Batch) -> None:
        # The cached key states of the batch's actors lag the store: read them again.
        with self._lock:
            for r in batch.records:
                self._states.pop(r.actor, None)

    def _diagnose_conflict(
        self, batch: _Batch, stored: Sequence[StoredRecord | None]
    ) -> LedgerError:
        records = batch.records
        for index, (r, s) in enumerate(zip(records, stored, strict=True)):
            if s is not None:
                exc = ReplayError(
                    f"actor {r.actor}: seq {r.seq} is already used (taken by another writer)",
                    actor=r.actor,
                    seq=r.seq,
                )
                return _with_index(exc, batch.item_of[index]) if batch.items > 1 else exc
        return StorageError(
            "the store reported a conflict but no (actor, seq) of the batch "
            "exists; nothing was written"
        )

    def close(self) -> None:
        """Stop the worker processes and close the store."""
        if self._verifier is not None:
            self._verifier.close()
        self.store.close()
