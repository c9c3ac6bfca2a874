"""The bookkeeping of a batch being appended: key states as of each event, rows, positions.

Private to ``ledger.ledger`` (which checks and appends; this only keeps count):
``Batch`` applies each parsed event to its actor's key state, collects the rows
to insert, notes the events whose exact bytes are already stored, and turns the
positions the store gave into every item's position (``Appended``, which
``ledger.ledger`` re-exports: callers import it from there). ``slices`` cuts a batch
into the pieces the verification workers take.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import Any, Protocol

from ledger.actors import KEY_EVENT_TYPES, ActorState, resolve
from ledger.envelope import Envelope
from ledger.errors import LedgerError, ReplayError, SignatureError, StorageError
from ledger.store import LogStore, NewRecord, StoredRecord

_SLICE_MIN = 64  # events per (full-size) slice handed to a worker


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


class KeyStates(Protocol):
    """Where a batch reads the key states of its actors and the stored events (the ledger)."""

    store: LogStore

    def actor_state(self, actor: str, *, at_least: int | None = None) -> ActorState | None:
        """The actor's key state, brought up to at least ``at_least``."""
        ...


def with_index(exc: LedgerError, index: int) -> LedgerError:
    """The same error type, its message prefixed with the event's index in the batch."""
    new = type(exc)(f"event {index} of the batch: {exc.detail}", **exc.ids, index=index)
    new.__cause__ = exc
    return new


def _current(state: ActorState | None) -> tuple[str | None, bytes | None]:
    """The id and public key of the actor's current key, or (None, None).

    (None, None) too while a recovery is pending: whether the current key may still
    sign depends on each event's ``ts``, so every event goes through ``resolve``.
    """
    if state is None or state.keys[-1].until is not None or state.pending is not None:
        return None, None
    return state.keys[-1].key, state.keys[-1].public


def slices(count: int, workers: int) -> list[int]:
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


class Batch:
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

    def __init__(self, ledger: KeyStates, overlay: dict[str, ActorState], envelopes: bool) -> None:
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
                state = replace(state, seq=entry[1])
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
            out[actor] = (first, state if state.seq == seq else replace(state, seq=seq))
        return out

    def signature_error(self, index: int, prefix: bool) -> LedgerError:
        """The ``SignatureError`` of record ``index`` (naming its item if ``prefix``)."""
        record = self.records[index]
        env_key = self._key_of(index)
        exc = SignatureError(
            f"actor {record.actor} seq {record.seq}: signature does not verify with key {env_key}",
            actor=record.actor,
            seq=record.seq,
        )
        return with_index(exc, self.item_of[index]) if prefix else exc

    def _key_of(self, index: int) -> str:
        if self.envelopes is not None:
            return self.envelopes[index].key
        return Envelope.trusted(self.records[index].data).key

    def remember(self, states: dict[str, ActorState]) -> None:
        """Move the cached key states in ``states`` to where this batch leaves them."""
        # As if each event were remembered in turn: an actor's cached state moves to
        # the batch's end if it stood just before one of the batch's events.
        for actor, (state, seq, first, *_) in self.live.items():
            known = states.get(actor)
            if first <= (known.seq if known else 0) + 1 <= seq:
                states[actor] = state if state.seq == seq else replace(state, seq=seq)

    def conflict_error(self, stored: Sequence[StoredRecord | None]) -> LedgerError:
        """The error of an insert the store refused, given what it holds at each record.

        A ``ReplayError`` naming the first record whose (actor, seq) is taken; a
        ``StorageError`` if none is (the store's report does not add up).
        """
        records = self.records
        for index, (r, s) in enumerate(zip(records, stored, strict=True)):
            if s is not None:
                exc = ReplayError(
                    f"actor {r.actor}: seq {r.seq} is already used (taken by another writer)",
                    actor=r.actor,
                    seq=r.seq,
                )
                return with_index(exc, self.item_of[index]) if self.items > 1 else exc
        return StorageError(
            "the store reported a conflict but no (actor, seq) of the batch "
            "exists; nothing was written"
        )
