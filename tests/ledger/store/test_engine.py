"""The one engine factory: per-user SQLite pragmas on a shared pool, and fork safety."""

from __future__ import annotations

import os

import pytest
from sqlalchemy import text

from ledger.store.engine import engine_for, tuned


def _pragmas(engine) -> tuple[int, int]:
    with engine.connect() as conn:
        return (
            int(conn.execute(text("PRAGMA synchronous")).scalar_one()),
            int(conn.execute(text("PRAGMA secure_delete")).scalar_one()),
        )


def test_a_tuned_view_sets_its_pragmas_only_for_its_own_transactions(tmp_path) -> None:
    engine = engine_for(f"sqlite:///{tmp_path}/db.sqlite")
    try:
        defaults = _pragmas(engine)
        assert defaults[0] == 2, "a plain connection is synchronous=FULL"
        read_models = tuned(engine, synchronous="NORMAL")
        profiles = tuned(engine, secure_delete=True)
        flipped = tuned(engine, secure_delete=not defaults[1])  # whatever the build's default
        assert _pragmas(read_models) == (1, defaults[1])
        assert _pragmas(engine) == defaults, "the pooled connection is back to its defaults"
        assert _pragmas(profiles) == (2, 1)
        assert _pragmas(flipped) == (2, 1 - defaults[1])
        assert _pragmas(engine) == defaults
        assert _pragmas(read_models) == (1, defaults[1])
        assert read_models.pool is engine.pool is profiles.pool is flipped.pool, "one pool"
    finally:
        engine.dispose()


def test_an_unknown_synchronous_level_is_refused(tmp_path) -> None:
    engine = engine_for(f"sqlite:///{tmp_path}/db.sqlite")
    with pytest.raises(ValueError, match="synchronous must be one of OFF, NORMAL, FULL, EXTRA"):
        tuned(engine, synchronous="SOMETIMES")


def test_a_forked_child_opens_its_own_connection_instead_of_its_parents(store_url) -> None:
    engine = engine_for(store_url)
    ask = (
        "SELECT pg_backend_pid()"
        if engine.dialect.name == "postgresql"
        else "SELECT count(*) FROM pragma_database_list"  # any query; the id tells apart
    )
    try:
        with engine.connect() as conn:
            conn.execute(text(ask))
            parent = id(conn.connection.dbapi_connection)
            backend = conn.execute(text(ask)).scalar_one()
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: report which connection it got, and leave at once
            try:
                with engine.connect() as conn:
                    mine = id(conn.connection.dbapi_connection)
                    answer = conn.execute(text(ask)).scalar_one()
                os.write(write, f"{mine == parent} {answer}".encode())
            finally:
                os._exit(0)
        os.close(write)
        reply = os.read(read, 200).decode().split()
        os.waitpid(pid, 0)
        os.close(read)
        assert reply[0] == "False", "the child used the connection it inherited"
        if engine.dialect.name == "postgresql":
            assert int(reply[1]) != backend, "the child spoke to its parent's backend"
        with engine.connect() as conn:  # and the parent's connection still works
            assert conn.execute(text(ask)).scalar_one() == backend
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_processes_creating_the_same_tables_at_once_on_a_fresh_database_do_not_collide() -> None:
    """Two servers starting together on a fresh PostgreSQL both create every table beside
    the log; unserialised, PostgreSQL refused one of them ("duplicate key value violates
    unique constraint pg_type_typname_nsp_index"). Eight engines (eight connections, as
    eight processes would have) create twelve tables at the same instant, five times."""
    import threading

    import sqlalchemy as sa

    from ledger.store.engine import create_tables
    from tests.support import drop_postgres_schema, fresh_postgres_url

    for _ in range(5):
        url = fresh_postgres_url()
        try:
            with engine_for(url).begin() as conn:  # the schema, as the log store makes it
                conn.execute(text(f'CREATE SCHEMA "{url.rsplit("schema=", 1)[1]}"'))
            metadata = sa.MetaData()
            for n in range(12):
                sa.Table(f"t{n}", metadata, sa.Column("id", sa.Integer, primary_key=True))
            barrier = threading.Barrier(8)
            errors: list[BaseException] = []

            def create(
                url: str = url,
                barrier: threading.Barrier = barrier,
                metadata: sa.MetaData = metadata,
                errors: list[BaseException] = errors,
            ) -> None:
                engine = engine_for(url)
                barrier.wait()
                try:
                    create_tables(metadata, engine, "the test tables")
                except BaseException as exc:
                    errors.append(exc)
                finally:
                    engine.dispose()

            threads = [threading.Thread(target=create) for _ in range(8)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(60)
            assert errors == []
        finally:
            drop_postgres_schema(url)
