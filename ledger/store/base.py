"""The store contract: ``LogStore``, its records, and the helpers every backend shares.

The backends (``ledger.store.sqlite``, ``ledger.store.postgres``) import this
module and nothing of ``ledger.store`` itself, so the package that picks a
backend (``open_store``) and the backends never import each other.

Each event is one row of the library's stored-events table: ``originator_id`` is
the actor id, ``originator_version`` is the actor's ``seq`` and ``state`` holds the
canonical signed bytes verbatim. The table's primary key on (actor, seq) is what
makes a replay impossible, even between processes: of two concurrent inserts of
one seq, exactly one commits. The library's notification id gives the global
order; because PostgreSQL's ids have gaps (a failed insert burns one), the ledger
also writes, in the same transaction, a dense ``position`` (0, 1, 2 …) that is the
event's Merkle leaf index. Reads go through that position.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple
from urllib.parse import parse_qs, unquote, urlparse

from ledger.errors import LedgerError, StorageError

# The contract, as ``ledger.store`` re-exports it (callers import from there).
__all__ = [
    "EVENTS_TABLE",
    "PAGE",
    "POSITIONS_TABLE",
    "ConflictError",
    "Insertion",
    "LogStore",
    "NewRecord",
    "Row",
    "RowReader",
    "StoredRecord",
    "sqlalchemy_url",
    "sqlite_path",
    "stored_conflict",
]

EVENTS_TABLE = "cocred_events"
POSITIONS_TABLE = "cocred_positions"
PAGE = 1000


class NewRecord(NamedTuple):
    """An event ready to insert: who, which seq, its type and its canonical bytes.

    A named tuple: a batch makes one per event, three times faster than a frozen
    dataclass, and its fields are already the parameters of the insert.
    """

    actor: str
    seq: int
    type: str
    data: bytes


@dataclass(frozen=True, slots=True)
class StoredRecord:
    """An event as stored, with its dense global position (the Merkle leaf index)."""

    position: int
    actor: str
    seq: int
    type: str
    data: bytes


# A stored event as plain values, as the verification workers read it: position, actor,
# seq, type, data (``LogStore.row_reader``).
Row = tuple[int, str, int, str, bytes]
RowReader = Callable[[int, int], list[Row]]


class ConflictError(LedgerError):
    """An insert hit the (actor, seq) uniqueness: nothing of the batch was written."""

    code = "Conflict"


def stored_conflict(exc: BaseException) -> ConflictError:
    """The refusal of an insert that the database's unique keys turned down."""
    return ConflictError(f"an (actor, seq) of the batch is already stored: {exc}")


class Insertion(ABC):
    """One all-or-nothing insert, written while the rest of its batch is still checked.

    ``add`` takes records in order as they pass their checks; ``commit`` makes
    every added record durable in one transaction and returns their positions.
    Whatever the insert met on the way (``ConflictError``, ``StorageError``) is
    raised by ``commit``, not by ``add``, so a batch is still refused for its
    first invalid event before any storage conflict counts. ``abort`` drops
    everything added; it is safe to call at any time, and after ``commit`` it does
    nothing. Nothing added is visible to readers before ``commit`` returns.
    """

    @abstractmethod
    def add(self, records: Sequence[NewRecord]) -> None:
        """Write ``records`` (the next ones of the batch) into the open transaction."""

    @abstractmethod
    def commit(self) -> list[int]:
        """Commit every added record; return their positions (see ``LogStore.insert``)."""

    @abstractmethod
    def abort(self) -> None:
        """Roll back; nothing added is written."""


class _BufferedInsertion(Insertion):
    """An ``Insertion`` that holds the records and inserts them all at ``commit``."""

    def __init__(self, store: LogStore, expected_size: int | None) -> None:
        self._store = store
        self._expected_size = expected_size
        self._records: list[NewRecord] = []

    def add(self, records: Sequence[NewRecord]) -> None:
        self._records.extend(records)

    def commit(self) -> list[int]:
        records, self._records = self._records, []
        return self._store.insert(records, expected_size=self._expected_size)

    def abort(self) -> None:
        self._records = []


class AppendWaiter(ABC):
    """Wakes a follower when the log grows (``LogStore.append_waiter``)."""

    @abstractmethod
    def wait(self, timeout: float) -> bool:
        """Block until an append committed since the waiter was made or last woke, or
        ``timeout`` seconds passed; True when woken by an append. Never raises: a lost
        connection waits out the timeout (the caller then polls) and reconnects."""

    @abstractmethod
    def close(self) -> None:
        """Release its connection."""


class LogStore(ABC):
    """Append-only storage of signed events, in one global order."""

    url: str

    def begin_insert(self, *, expected_size: int | None = None) -> Insertion:
        """An ``Insertion`` for one batch; ``commit`` is ``insert`` of every record added.

        Here it buffers and inserts at ``commit``. A store that can write into
        an open transaction while the caller still checks the rest of the batch
        (SQLite) does so: the caller's insert work then overlaps the signature
        checks of its worker processes instead of following them.
        """
        return _BufferedInsertion(self, expected_size)

    @abstractmethod
    def insert(
        self, records: Sequence[NewRecord], *, expected_size: int | None = None
    ) -> list[int]:
        """Insert all records in one durable transaction; return their positions.

        All-or-nothing: raises ``ConflictError`` if any (actor, seq) exists, or if
        ``expected_size`` is given and the log no longer has exactly that many
        events (the first record must land at position ``expected_size``); and
        ``StorageError`` if the database fails. In every case nothing is written.
        """

    @abstractmethod
    def read(
        self, start: int = 0, limit: int = PAGE, *, types: Sequence[str] = ()
    ) -> list[StoredRecord]:
        """Up to ``limit`` events from ``start`` in log order (optionally of some types)."""

    @abstractmethod
    def read_actor(
        self, actor: str, after_seq: int = 0, limit: int | None = None
    ) -> list[StoredRecord]:
        """One actor's events with seq > ``after_seq``, in seq order."""

    @abstractmethod
    def exists(self, actor: str, seq: int) -> bool:
        """True when the actor already has an event with this seq."""

    @abstractmethod
    def size(self) -> int:
        """Number of events in the log (the next position)."""

    @abstractmethod
    def close(self) -> None:
        """Release connections."""

    def append_waiter(self) -> AppendWaiter | None:
        """Something that blocks until the log grows, or None when the backend cannot tell
        (then a follower polls). PostgreSQL declares one (``LISTEN``/``NOTIFY``); the
        caller closes it."""
        return None

    def row_reader(self) -> RowReader:
        """``read(start, limit)`` giving the stored events as plain ``Row`` tuples.

        What the verification workers read (``ledger._workers.check_records``).
        Here it wraps ``read``; a backend that can hand rows over more cheaply
        (SQLite: straight from sqlite3) declares so by overriding this. Raises
        ``StorageError`` when the store cannot be read.
        """

        def read(start: int, limit: int) -> list[Row]:
            return [(r.position, r.actor, r.seq, r.type, r.data) for r in self.read(start, limit)]

        return read

    def stored(self, records: Sequence[NewRecord]) -> list[StoredRecord | None]:
        """What the log holds at each record's (actor, seq), None where nothing is stored.

        One read per actor (its seqs of ``records`` from the lowest one). Raises
        ``StorageError`` when the store cannot be read.
        """
        wanted: dict[str, list[int]] = {}
        for r in records:
            wanted.setdefault(r.actor, []).append(r.seq)
        found: dict[tuple[str, int], StoredRecord] = {}
        for actor, seqs in wanted.items():
            low, high = min(seqs), max(seqs)
            for record in self.read_actor(actor, after_seq=low - 1, limit=high - low + 1):
                found[(actor, record.seq)] = record
        return [found.get((r.actor, r.seq)) for r in records]

    def get(self, position: int) -> StoredRecord | None:
        """The event at ``position`` or None."""
        if position < 0:
            return None
        page = self.read(position, 1)
        return page[0] if page and page[0].position == position else None

    def iterate(
        self, start: int = 0, stop: int | None = None, page: int = PAGE
    ) -> Iterator[StoredRecord]:
        """Every event from ``start`` (to ``stop``, exclusive) in pages."""
        position = start
        while stop is None or position < stop:
            limit = page if stop is None else min(page, stop - position)
            records = self.read(position, limit)
            if not records:
                return
            yield from records
            position = records[-1].position + 1

    def __enter__(self) -> LogStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def sqlite_path(url: str) -> Path | None:
    """The file path of a ``sqlite:///…`` URL or bare path, None for other schemes."""
    if url.startswith("sqlite:///"):
        return Path(unquote(url[len("sqlite:///") :]))
    if "://" not in url:
        return Path(url)
    return None


def sqlalchemy_url(url: str) -> tuple[str, str | None]:
    """The SQLAlchemy URL and schema for a ledger URL, so read models share its database.

    ``sqlite:///path`` (or a bare path) -> (``sqlite:///path``, None);
    ``postgresql://u@h:p/db?schema=s`` -> (``postgresql+psycopg://u@h:p/db``, ``s``).
    Raises ``StorageError`` for other schemes.
    """
    path = sqlite_path(url)
    if path is not None:
        return f"sqlite:///{path}", None
    parsed = urlparse(url)
    if parsed.scheme in ("postgresql", "postgres", "postgresql+psycopg"):
        schema = parse_qs(parsed.query).get("schema", [None])[0]
        return parsed._replace(scheme="postgresql+psycopg", query="").geturl(), schema
    raise StorageError(f"database URL {url!r} is not sqlite:///PATH or postgresql://…")
