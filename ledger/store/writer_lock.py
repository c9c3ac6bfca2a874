"""Writer locks: the group committers of several server processes on one database take turns.

Not needed for correctness (an append through the rules gate is conditional on
the log's size, and a loser re-checks), but it saves the loser re-checking its
whole group (``ledger.store.group_commit``). A ``flock`` beside the SQLite file,
a PostgreSQL advisory lock named after the log's schema.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import zlib
from pathlib import Path
from typing import Any

from ledger.errors import StorageError
from ledger.store.base import sqlalchemy_url, sqlite_path


class WriterLock:
    """Turns between the committers of several server processes on one database.

    Not needed for correctness (the gate's append is conditional on the log's
    size, and a loser re-checks), but a loser re-checks its whole group, Ed25519
    signatures included: with two busy workers most groups lost. Taking turns
    costs a lock instead. Any failure of the lock itself (the database went away)
    is ignored: the group is appended without it, as safely.
    """

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None

    def close(self) -> None:
        return None


class FileWriterLock(WriterLock):
    """An exclusive ``flock`` on a file beside the SQLite database (never the database itself:
    closing another descriptor of it would drop SQLite's own POSIX locks)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def __enter__(self) -> None:
        try:
            if self._fd is None:
                self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            fcntl.flock(self._fd, fcntl.LOCK_EX)
        except OSError:
            self.close()

    def __exit__(self, *exc: object) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = None


class PostgresWriterLock(WriterLock):
    """A session advisory lock named after the log's schema, on a connection of its own."""

    def __init__(self, url: str) -> None:
        self.conninfo, schema = sqlalchemy_url(url)
        self.conninfo = self.conninfo.replace("postgresql+psycopg://", "postgresql://", 1)
        self.key = zlib.crc32(f"cocred:append:{schema or 'public'}".encode())
        self._conn: Any = None
        self._held = False

    def __enter__(self) -> None:
        import psycopg

        try:
            if self._conn is None:
                self._conn = psycopg.connect(self.conninfo, autocommit=True, connect_timeout=5)
            self._conn.execute("SELECT pg_advisory_lock(%s)", (self.key,))
            self._held = True
        except psycopg.Error:
            self.close()

    def __exit__(self, *exc: object) -> None:
        import psycopg

        if self._held:
            self._held = False
            try:
                self._conn.execute("SELECT pg_advisory_unlock(%s)", (self.key,))
            except psycopg.Error:
                self.close()

    def close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.close()
            self._conn = None
            self._held = False


def writer_lock_for(url: str) -> WriterLock:
    """The lock that makes this database's committers take turns (none for unknown URLs)."""
    path = sqlite_path(url)
    if path is not None:
        return FileWriterLock(path.with_name(path.name + "-append.lock"))
    try:
        sqlalchemy_url(url)
    except StorageError:
        return WriterLock()
    return PostgresWriterLock(url)
