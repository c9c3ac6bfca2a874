"""The gate every append goes through: campaign rules checked against the whole log.

``CampaignApp`` holds the campaign state built by replaying the log and keeps it
caught up incrementally (``position`` = how many stored events it has applied).
An append catches up to the store's size N, then asks the ledger for a
*conditional* append at N whose ``check`` applies the batch's events in order to
the state, tentatively, each checked against the effects of those before it. If
another writer appended in between, the ledger refuses with ``LogMovedError``:
the gate undoes the tentative changes, catches up and tries again (bounded). A
refusal undoes them too and writes nothing; success keeps them.

With a ``SnapshotStore`` (``domain.snapshots``), the first catch-up loads the latest checked
snapshot of the state and replays only the tail; a catch-up that replayed at least
``snapshot_every`` events saves a fresh one (only where the process may write the database).

Appends from the network go through ``Admitting`` (``admitting(registration)``), which
adds the admission rule (``domain.membership.check_admission``) to every batch; the
operator's own tools (the CLI) append through the gate itself.

Events stored around the gate that the rules refuse (there should be none: every
writer goes through a gate) are not applied; their positions are kept in
``ignored`` so that nothing is skipped silently.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, TypeVar

import orjson

from domain.errors import AppendContentionError, DomainError, with_index
from domain.membership import Registration, check_admission
from domain.rules import handle
from domain.state import State
from domain.values import Fact, Recorded
from ledger.actors import ActorState
from ledger.envelope import Envelope
from ledger.errors import StorageError
from ledger.ledger import Appended, EnvelopeInput, Ledger, LogMovedError
from ledger.store import PAGE, StoredRecord

if TYPE_CHECKING:
    from domain.snapshots import SnapshotStore

T = TypeVar("T")
DEFAULT_RETRIES = 20
log = logging.getLogger(__name__)


class CampaignApp:
    """Checks campaign rules on every append and keeps the state they need; thread-safe."""

    def __init__(
        self,
        ledger: Ledger,
        *,
        retries: int = DEFAULT_RETRIES,
        snapshots: SnapshotStore | None = None,
        snapshot_every: int = 0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.ledger = ledger
        # The server's clock, which the rules see while an append is checked (an invitation
        # code is expired once it passes, whatever time the join is dated): state.append_time.
        self.clock = clock
        self.retries = retries
        self.snapshots = snapshots
        self.snapshot_every = snapshot_every  # 0: load snapshots, never save one
        self.loaded_snapshot: int | None = None  # the position a snapshot was loaded at
        self._snapshot_at = 0  # the position of the latest snapshot loaded or saved
        self.state = State()
        self.position = 0
        self.ignored: list[int] = []
        self.retried = 0  # how many conditional appends lost a race (for tests and metrics)
        self._lock = threading.RLock()

    # -- reading ---------------------------------------------------------------------------

    def catch_up(self) -> int:
        """Apply every stored event after ``position``; return the new position.

        Raises ``StorageError`` when the store cannot be read.
        """
        with self._lock:
            store = self.ledger.store
            if self.position == 0 and self.snapshots is not None and self.loaded_snapshot is None:
                self._load_snapshot()
            while records := store.read(self.position, PAGE):
                for record in records:
                    self._replay(record)
            every = self.snapshot_every
            if self.snapshots is not None and every and self.position - self._snapshot_at >= every:
                self._save_snapshot()
            return self.position

    def _load_snapshot(self) -> None:
        from domain.snapshots import GATE

        assert self.snapshots is not None
        loaded = self.snapshots.load(GATE, self.ledger.store)
        self.loaded_snapshot = 0 if loaded is None else loaded.position
        if loaded is not None:
            self.state, self.position, self.ignored = loaded.state, loaded.position, loaded.ignored
            self._snapshot_at = loaded.position

    def _save_snapshot(self) -> None:
        from domain.snapshots import GATE

        assert self.snapshots is not None
        try:
            self.snapshots.save(GATE, self.ledger.store, self.position, self.state, self.ignored)
        except StorageError as exc:  # a cache: failing to save one never fails the caller
            log.warning("could not save the gate's snapshot at %s: %s", self.position, exc)
            return
        self._snapshot_at = self.position

    def _replay(self, record: StoredRecord) -> None:
        try:
            handle(self.state, Recorded.from_json(orjson.loads(record.data)))
        except DomainError:
            self.ignored.append(record.position)
        self.position = record.position + 1

    def read(self, query: Callable[[State], T]) -> T:
        """``query(state)`` on the caught-up state, with no append running meanwhile."""
        with self._lock:
            self.catch_up()
            return query(self.state)

    # -- appending -------------------------------------------------------------------------

    def append(self, item: EnvelopeInput) -> int:
        """Append one event through the rules; return its position (see ``append_batch``)."""
        return self.append_batch([item])[0]

    def append_batch(
        self, items: Sequence[EnvelopeInput], *, registration: Registration = Registration.OPEN
    ) -> Appended:
        """Check and append ``items`` in one transaction; return their positions.

        All or nothing. Events whose exact bytes are already stored are not judged
        again: they get their stored positions (``stored_before`` names them).
        Raises the ledger's errors (``MalformedEventError``, ``SignatureError``,
        ``ReplayError`` …), the campaign rules' ``DomainError``
        of the first event that breaks one (``ids["index"]`` names it in a batch),
        or ``AppendContentionError`` after ``retries`` lost races. ``registration`` is the
        admission rule the batch is held to (``check_admission``); ``open`` adds none.
        """
        if not items:
            return Appended()
        check = self._check
        if registration is not Registration.OPEN:

            def check(events: Sequence[Fact]) -> None:
                self._check(events)
                check_admission(events, registration)

        with self._lock:
            for _ in range(self.retries):
                self.catch_up()
                base = self.position
                self.state.begin()
                self.state.append_time = self.clock()
                try:
                    positions = self.ledger.append_batch(items, expected_size=base, check=check)
                except LogMovedError:
                    self.state.rollback()
                    self.retried += 1
                    continue
                except BaseException:
                    self.state.rollback()
                    raise
                finally:
                    self.state.append_time = None
                self.state.commit()
                # Events already stored keep their (earlier) positions; only the new
                # ones, written at ``base`` on, move the state's position.
                fresh = len(positions) - len(positions.stored_before)
                self.position = base + fresh
                return positions
        raise AppendContentionError(
            f"the log moved under this append {self.retries} times in a row; try again",
            retries=self.retries,
        )

    def _check(self, events: Sequence[Fact]) -> None:
        """Apply ``events`` in order to the (journaled) state; raise for the first refused."""
        state = self.state
        if len(events) == 1:
            handle(state, events[0])
            return
        for index, event in enumerate(events):
            try:
                handle(state, event)
            except DomainError as exc:
                raise with_index(exc, index) from exc

    def admitting(self, registration: Registration) -> Admitting:
        """This gate, holding every batch to the admission rule ``registration``."""
        return Admitting(self, registration)

    @contextmanager
    def dry_run(self) -> Iterator[Callable[[Sequence[EnvelopeInput]], None]]:
        """Check batches one after another as if appended, then forget them all.

        Yields ``check(items)``, which raises what ``append_batch`` would (the
        ledger's errors, then the rules'), each batch seeing the ones checked
        before it. Nothing is written; the state is restored on exit.
        """
        with self._lock:
            self.catch_up()
            self.state.begin()
            self.state.append_time = self.clock()
            actors: dict[str, ActorState] = {}

            def check(items: Sequence[EnvelopeInput]) -> None:
                nonlocal actors
                fresh: list[Envelope] = []  # what is already stored is not judged again
                actors = self.ledger.check_batch(items, actors, fresh=fresh)
                self._check(fresh)

            try:
                yield check
            finally:
                self.state.append_time = None
                self.state.rollback()


class Admitting:
    """A gate's appends held to an admission rule: what the network writes through.

    The group committer (``ledger.store.group_commit.Appender``) and the HTTP write
    routes append through it; reads go to the gate itself.
    """

    def __init__(self, gate: CampaignApp, registration: Registration) -> None:
        self.gate = gate
        self.registration = registration

    @property
    def ledger(self) -> Ledger:
        return self.gate.ledger

    def catch_up(self) -> int:
        return self.gate.catch_up()

    def append_batch(self, items: Sequence[EnvelopeInput]) -> Appended:
        """``CampaignApp.append_batch`` with this admission rule (raises what it raises)."""
        return self.gate.append_batch(items, registration=self.registration)
