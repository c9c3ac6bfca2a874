"""SQLAlchemy engines for the domain's stores, in the ledger's own database.

The content and profile stores keep their tables next to the log: the same SQLite
file, or the same PostgreSQL database and ``?schema=`` (``ledger.store.sqlalchemy_url``
maps the ledger URL). Raises ``StorageError`` when the database cannot be reached.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, MetaData, create_engine, event, text
from sqlalchemy.exc import SQLAlchemyError

from ledger.errors import StorageError
from ledger.store import sqlalchemy_url

SQLITE_BUSY_SECONDS = 30


def open_engine(
    url: str, metadata: MetaData, *, create: bool = True, secure_delete: bool = False
) -> Engine:
    """An engine on the ledger database ``url``, with ``metadata``'s tables created.

    ``secure_delete`` makes SQLite overwrite deleted rows with zeros (for data
    that must not survive erasure in the file's free space).
    """
    sa_url, schema = sqlalchemy_url(url)
    sqlite = sa_url.startswith("sqlite:")
    if sqlite:
        engine = create_engine(sa_url, connect_args={"timeout": SQLITE_BUSY_SECONDS})
        if secure_delete:

            @event.listens_for(engine, "connect")
            def _secure(dbapi_connection: Any, _: Any) -> None:
                cursor = dbapi_connection.cursor()
                cursor.execute("PRAGMA secure_delete=ON")
                cursor.close()

    else:
        engine = create_engine(sa_url, pool_size=2, max_overflow=4)
        if schema:
            engine = engine.execution_options(schema_translate_map={None: schema})
    if create:
        try:
            with engine.begin() as conn:
                if schema:
                    conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
                metadata.create_all(conn)
        except SQLAlchemyError as exc:
            engine.dispose()
            raise StorageError(f"cannot create the tables of {url}: {exc}") from exc
    return engine


def storage_error(what: str, exc: SQLAlchemyError) -> StorageError:
    """The ledger's ``StorageError`` for a failed store operation."""
    return StorageError(f"{what} failed: {exc.__class__.__name__}: {exc}".splitlines()[0])
