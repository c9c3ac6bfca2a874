"""The one SQLAlchemy engine factory: every table beside the log goes through it.

The Merkle tree, the checkpoints, the audits, the request nonces, the content and
profile stores and the read models all live in the log's database (the same SQLite
file, or the same PostgreSQL database and ``?schema=``). The composition root
(``api.bootstrap``) opens one engine per database with ``engine_for`` and hands it
to each of them; a component built on its own opens its own.

- **Pool.** SQLAlchemy's default queue pool (5 connections, 10 more under load) on
  both backends, one pool for the whole process; PostgreSQL connections are pinged
  at checkout, so a restarted server costs no request.
- **Schema.** On PostgreSQL every table without a schema of its own lands in the
  URL's ``?schema=`` (a ``schema_translate_map``).
- **SQLite pragmas.** A 30 s busy timeout on every connection. Two pragmas belong
  to one user of the engine, not to the connection: ``tuned(engine, ...)`` gives that
  user a view of the engine whose transactions run with them, and every other
  transaction on the same pooled connection runs with the connection's defaults again
  (the read models write with ``synchronous=NORMAL``; the profile store deletes with
  ``secure_delete=ON``).
- **Fork safety.** A connection belongs to the process that opened it: a child that
  inherits the engine across ``fork`` never uses (nor closes) its parent's
  connections, it opens its own. (The worker pool, ``ledger._workers``, starts from a
  fork server or ``spawn`` and never inherits an engine; uvicorn's workers are spawned.)
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.exc import DisconnectionError

from ledger.store import sqlalchemy_url

SQLITE_BUSY_SECONDS = 30
_PRAGMAS = "cocred_sqlite_pragmas"  # the execution option ``tuned`` sets
_DEFAULTS = "cocred_pragma_defaults"  # per connection: its pragmas as opened
_CURRENT = "cocred_pragmas_now"  # per connection: its pragmas as last set
_SYNCHRONOUS = {"OFF": 0, "NORMAL": 1, "FULL": 2, "EXTRA": 3}


def engine_for(url: str) -> sa.Engine:
    """A new engine on the log's database ``url`` (``sqlite:///…`` or ``postgresql://…``).

    Opens no connection yet. Raises ``StorageError`` when the URL is of another scheme.
    """
    sa_url, schema = sqlalchemy_url(url)
    if sa_url.startswith("sqlite"):
        engine = sa.create_engine(sa_url, connect_args={"timeout": SQLITE_BUSY_SECONDS})
        event.listen(engine, "connect", _remember_pragmas)
        event.listen(engine, "begin", _apply_pragmas)
    else:
        engine = sa.create_engine(sa_url, pool_pre_ping=True)
    event.listen(engine, "connect", _remember_pid)
    event.listen(engine, "checkout", _refuse_other_process)
    if schema:
        engine = engine.execution_options(schema_translate_map={None: schema})
    return engine


def tuned(
    engine: sa.Engine, *, synchronous: str | None = None, secure_delete: bool | None = None
) -> sa.Engine:
    """``engine`` (same pool) whose SQLite transactions run with these pragmas.

    ``synchronous`` is ``"NORMAL"``, ``"FULL"``…; ``secure_delete`` overwrites deleted
    rows with zeros. On PostgreSQL the pragmas mean nothing and ``engine`` is returned.
    Raises ``ValueError`` for an unknown ``synchronous`` level.
    """
    if engine.dialect.name != "sqlite":
        return engine
    wanted = dict(engine.get_execution_options().get(_PRAGMAS, ()))
    if synchronous is not None:
        if synchronous.upper() not in _SYNCHRONOUS:
            raise ValueError(f"synchronous must be one of {', '.join(_SYNCHRONOUS)}")
        wanted["synchronous"] = _SYNCHRONOUS[synchronous.upper()]
    if secure_delete is not None:
        wanted["secure_delete"] = int(secure_delete)
    return engine.execution_options(**{_PRAGMAS: tuple(sorted(wanted.items()))})


def _remember_pragmas(dbapi_connection: Any, record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        defaults = {
            name: int(cursor.execute(f"PRAGMA {name}").fetchone()[0])
            for name in ("synchronous", "secure_delete")
        }
    finally:
        cursor.close()
    record.info[_DEFAULTS] = defaults
    record.info[_CURRENT] = dict(defaults)


def _apply_pragmas(conn: sa.Connection) -> None:
    # "begin" runs before the transaction's first statement, and pysqlite opens its
    # transaction only at the first write: a pragma set here is outside any transaction.
    info = conn.connection.info
    if _DEFAULTS not in info:  # a connection opened before these events (none so far)
        return
    wanted = {**info[_DEFAULTS], **dict(conn.get_execution_options().get(_PRAGMAS, ()))}
    current = info[_CURRENT]
    changes = {name: value for name, value in wanted.items() if current.get(name) != value}
    if not changes:
        return
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        for name, value in changes.items():
            cursor.execute(f"PRAGMA {name} = {int(value)}")
    finally:
        cursor.close()
    current.update(changes)


def _remember_pid(_: Any, record: Any) -> None:
    record.info["pid"] = os.getpid()


def _refuse_other_process(_: Any, record: Any, proxy: Any) -> None:
    # SQLAlchemy's recipe for pools that cross a fork: drop the inherited connection
    # without closing it (closing would end the parent's session) and let the pool
    # open a new one for this process.
    if record.info.get("pid") != os.getpid():
        record.dbapi_connection = proxy.dbapi_connection = None
        raise DisconnectionError(f"connection opened by process {record.info.get('pid')}")


# One advisory lock per database for every CREATE TABLE: PostgreSQL's catalogue refuses two
# concurrent ``CREATE TABLE IF NOT EXISTS`` of one table ("duplicate key value violates
# unique constraint pg_type_typname_nsp_index"), which two servers starting together on a
# fresh database ran into.
_DDL_LOCK = zlib.crc32(b"cocred:create-tables")


@contextmanager
def ddl(engine: sa.Engine) -> Iterator[sa.Connection]:
    """A transaction for creating tables (and whatever else it does): on PostgreSQL it holds
    the one advisory lock every table creation takes, until it commits; DDL is
    transactional there, so whoever waited sees the tables once it gets the lock."""
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _DDL_LOCK})
        yield conn


def create_all(
    metadata: sa.MetaData, engine: sa.Engine, tables: list[sa.Table] | None = None
) -> None:
    """``metadata.create_all`` for the missing tables, under the creation lock (``ddl``)."""
    with ddl(engine) as conn:
        metadata.create_all(conn, tables=tables, checkfirst=True)


def create_tables(metadata: sa.MetaData, engine: sa.Engine, what: str) -> None:
    """Create ``metadata``'s tables that are missing; ``StorageError`` naming ``what`` if the
    database refuses (the tables a component keeps beside the log)."""
    from ledger.errors import StorageError

    try:
        create_all(metadata, engine)
    except sa.exc.SQLAlchemyError as exc:
        raise StorageError(f"cannot create {what}: {exc}") from exc
