"""The append-only log on the ``eventsourcing`` library (SQLite file or PostgreSQL).

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
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlparse

from ledger.errors import LedgerError, StorageError

EVENTS_TABLE = "cocred_events"
POSITIONS_TABLE = "cocred_positions"
PAGE = 1000


@dataclass(frozen=True, slots=True)
class NewRecord:
    """An event ready to insert: who, which seq, its type and its canonical bytes."""

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


class ConflictError(LedgerError):
    """An insert hit the (actor, seq) uniqueness: nothing of the batch was written."""

    code = "Conflict"


class LogStore(ABC):
    """Append-only storage of signed events, in one global order."""

    url: str

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


def open_store(url: str, *, create: bool = True) -> LogStore:
    """Open the log named by ``url``: ``sqlite:///path``, a bare path, or ``postgresql://…``.

    PostgreSQL URLs may carry ``?schema=NAME``. Raises ``StorageError`` when the
    URL is not understood or the database cannot be reached.
    """
    path = sqlite_path(url)
    if path is not None:
        from ledger.sqlite_store import SQLiteLogStore

        return SQLiteLogStore(path, create=create)
    parsed = urlparse(url)
    if parsed.scheme in ("postgresql", "postgres", "postgresql+psycopg"):
        from ledger.postgres_store import PostgresLogStore

        query = parse_qs(parsed.query)
        return PostgresLogStore(
            dbname=(parsed.path or "/").lstrip("/") or "postgres",
            host=parsed.hostname or "127.0.0.1",
            port=parsed.port or 5432,
            user=unquote(parsed.username or "postgres"),
            password=unquote(parsed.password or ""),
            schema=query.get("schema", [""])[0],
            url=url,
            create=create,
        )
    raise StorageError(f"database URL {url!r} is not sqlite:///PATH or postgresql://…")
