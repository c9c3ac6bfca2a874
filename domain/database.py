"""The tables of the domain's stores, in the ledger's own database.

The content and profile stores keep their tables next to the log: the same SQLite
file, or the same PostgreSQL database and ``?schema=``, on the process's one engine
(``ledger.store.engine``). Raises ``StorageError`` when the database cannot be reached.
"""

from __future__ import annotations

from sqlalchemy import Engine, MetaData, text
from sqlalchemy.exc import SQLAlchemyError

from ledger.errors import StorageError
from ledger.store import sqlalchemy_url
from ledger.store.engine import ddl, engine_for


def store_engine(
    url: str, metadata: MetaData, *, engine: Engine | None = None, create: bool = True
) -> Engine:
    """``engine`` (or a new one on the ledger database ``url``), ``metadata``'s tables created.

    A new engine is disposed again when the tables cannot be created. Raises
    ``StorageError`` when they cannot.
    """
    owned = engine is None
    engine = engine_for(url) if engine is None else engine
    if create:
        schema = sqlalchemy_url(url)[1]
        try:
            with ddl(engine) as conn:
                if schema:
                    conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
                metadata.create_all(conn)
        except SQLAlchemyError as exc:
            if owned:
                engine.dispose()
            raise StorageError(f"cannot create the tables of {url}: {exc}") from exc
    return engine


def storage_error(what: str, exc: SQLAlchemyError) -> StorageError:
    """The ledger's ``StorageError`` for a failed store operation."""
    return StorageError(f"{what} failed: {exc.__class__.__name__}: {exc}".splitlines()[0])
