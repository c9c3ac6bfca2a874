"""Helpers shared by the tests: infrastructure checks, PostgreSQL schemas, actors.

Locally, a test that needs PostgreSQL, Node packages, an Ethereum node or Chromium
skips with a reason when that thing is absent. ``.ci/run`` sets ``COCRED_STRICT=1``,
and then the same absence fails the test instead: CI must run everything.
"""

from __future__ import annotations

import os
import uuid
from typing import NoReturn

import pytest

from ledger.actors import KEY_REGISTERED
from ledger.envelope import Envelope, sign_envelope
from ledger.keys import SigningKey, public_jwk

STRICT = os.environ.get("COCRED_STRICT") == "1"
PG_URL = os.environ.get("COCRED_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


def unavailable(reason: str) -> NoReturn:
    """Skip (locally) or fail (under COCRED_STRICT=1) because ``reason``."""
    if STRICT:
        pytest.fail(f"required in CI but unavailable: {reason}", pytrace=False)
    pytest.skip(reason)


def postgres_error() -> str | None:
    """None when the test PostgreSQL answers, else why not."""
    import psycopg

    try:
        with psycopg.connect(PG_URL, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        return f"PostgreSQL at {PG_URL} does not answer: {exc}".strip()
    return None


def fresh_postgres_url() -> str:
    """A URL naming a new, empty schema in the test database (skip/fail if unreachable)."""
    problem = postgres_error()
    if problem:
        unavailable(problem)
    return f"{PG_URL}?schema=t_{uuid.uuid4().hex[:16]}"


def drop_postgres_schema(url: str) -> None:
    import psycopg
    from psycopg.sql import SQL, Identifier

    schema = url.rsplit("schema=", 1)[1]
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(SQL("DROP SCHEMA IF EXISTS {0} CASCADE").format(Identifier(schema)))


def registration(key: SigningKey) -> Envelope:
    """The key's self-signed KeyRegistered envelope (seq 1)."""
    return sign_envelope(key, KEY_REGISTERED, {"jwk": public_jwk(key.public_bytes)}, seq=1)


def seeded_key(n: int) -> SigningKey:
    """A deterministic key for test number ``n``."""
    return SigningKey.from_seed(n.to_bytes(32, "big"))
