"""The content store: bytes of contributions, comments, guidelines and terms, by SHA-256.

Envelopes carry only the hash; the bytes live here, in a table of the ledger's
database. An upload may announce the hash it expects: bytes that hash to
something else are refused (``ContentMismatchError``). Storing the same bytes
twice is a no-op.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Column, Engine, Integer, LargeBinary, MetaData, String, Table, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError

from domain.database import storage_error, store_engine
from domain.errors import ContentMismatchError, ContentTooLargeError, UnknownContentError

metadata = MetaData()
content_table = Table(
    "cocred_content",
    metadata,
    Column("hash", String(64), primary_key=True),
    Column("size", Integer, nullable=False),
    Column("data", LargeBinary, nullable=False),
)
DEFAULT_MAX_BYTES = 16 * 1024 * 1024


def sha256_of(data: bytes) -> str:
    """The lowercase hex SHA-256 of ``data`` (the id of content)."""
    return hashlib.sha256(data).hexdigest()


class ContentStore:
    """Content-addressed bytes in the ledger's database."""

    def __init__(
        self,
        url: str,
        *,
        max_bytes: int = DEFAULT_MAX_BYTES,
        create: bool = True,
        engine: Engine | None = None,
    ):
        """The store in ``url``'s database, on ``engine`` (the process's) or on its own.

        Raises ``StorageError`` when its table cannot be created.
        """
        self.max_bytes = max_bytes
        self._owns_engine = engine is None
        self.engine = store_engine(url, metadata, engine=engine, create=create)
        dialect = postgresql if self.engine.dialect.name == "postgresql" else sqlite
        self._insert = dialect.insert(content_table).on_conflict_do_nothing()

    def put(self, data: bytes, expected: str | None = None) -> str:
        """Store ``data``; return its hash.

        Raises ``ContentMismatchError`` when ``expected`` is given and differs,
        ``ContentTooLargeError`` over ``max_bytes``, ``StorageError`` if the
        database fails.
        """
        return self.put_many([data], [expected])[0]

    def put_many(
        self, blobs: Iterable[bytes], expected: Iterable[str | None] | None = None
    ) -> list[str]:
        """Store many blobs in one transaction (see ``put``); return their hashes."""
        blobs = list(blobs)
        wanted = list(expected) if expected is not None else [None] * len(blobs)
        rows: list[dict[str, Any]] = []
        for data, announced in zip(blobs, wanted, strict=True):
            if len(data) > self.max_bytes:
                raise ContentTooLargeError(
                    f"content of {len(data)} bytes is over the limit of {self.max_bytes}",
                    size=len(data),
                )
            digest = sha256_of(data)
            if announced is not None and announced != digest:
                raise ContentMismatchError(
                    f"uploaded bytes hash to {digest}, not to the announced {announced}",
                    expected=announced,
                    got=digest,
                )
            rows.append({"hash": digest, "size": len(data), "data": data})
        if rows:
            try:
                with self.engine.begin() as conn:
                    conn.execute(self._insert, rows)
            except SQLAlchemyError as exc:
                raise storage_error("storing content", exc) from exc
        return [row["hash"] for row in rows]

    def get(self, digest: str) -> bytes:
        """The bytes with this hash; ``UnknownContentError`` if there are none."""
        try:
            with self.engine.connect() as conn:
                found = conn.execute(
                    select(content_table.c.data).where(content_table.c.hash == digest)
                ).scalar_one_or_none()
        except SQLAlchemyError as exc:
            raise storage_error("reading content", exc) from exc
        if found is None:
            raise UnknownContentError(f"no content with hash {digest}", content=digest)
        return bytes(found)

    def has(self, digest: str) -> bool:
        """True when the store holds content with this hash."""
        query = select(content_table.c.hash).where(content_table.c.hash == digest)
        try:
            with self.engine.connect() as conn:
                return conn.execute(query).first() is not None
        except SQLAlchemyError as exc:
            raise storage_error("reading content", exc) from exc

    def close(self) -> None:
        if self._owns_engine:  # a shared engine is its owner's to dispose
            self.engine.dispose()
