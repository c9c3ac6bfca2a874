"""The append-only log on the ``eventsourcing`` library (SQLite file or PostgreSQL).

How events are stored, and the contract every backend keeps, are in
``ledger.store.base`` (re-exported here, so callers import from ``ledger.store``);
this module only picks the backend a URL names.
"""

from __future__ import annotations

from urllib.parse import parse_qs, unquote, urlparse

from ledger.errors import StorageError
from ledger.store import base
from ledger.store.base import *  # noqa: F403  (the contract: ``base.__all__`` names it once)
from ledger.store.base import LogStore, sqlite_path

__all__ = ["open_store"]
__all__ += base.__all__


def open_store(url: str, *, create: bool = True) -> LogStore:
    """Open the log named by ``url``: ``sqlite:///path``, a bare path, or ``postgresql://…``.

    PostgreSQL URLs may carry ``?schema=NAME``. Raises ``StorageError`` when the
    URL is not understood or the database cannot be reached.
    """
    path = sqlite_path(url)
    if path is not None:
        from ledger.store.sqlite import SQLiteLogStore

        return SQLiteLogStore(path, create=create)
    parsed = urlparse(url)
    if parsed.scheme in ("postgresql", "postgres", "postgresql+psycopg"):
        from ledger.store.postgres import PostgresLogStore

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
