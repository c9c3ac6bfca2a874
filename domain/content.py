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

from sqlalchemy import (
    BigInteger,
    Column,
    Engine,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError

from domain.database import storage_error, store_engine
from domain.errors import (
    ContentMismatchError,
    ContentQuotaExceededError,
    ContentTooLargeError,
    UnknownContentError,
)

metadata = MetaData()
content_table = Table(
    "cocred_content",
    metadata,
    Column("hash", String(64), primary_key=True),
    Column("size", Integer, nullable=False),
    Column("data", LargeBinary, nullable=False),
)
quota_table = Table(
    "cocred_content_quota",
    metadata,
    Column("key", String(80), primary_key=True),  # "member/<actor>" or "campaign/<id>"
    Column("used", BigInteger, nullable=False),
)
DEFAULT_MAX_BYTES = 16 * 1024 * 1024
UNLIMITED = 2**62


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
        member_quota: int = UNLIMITED,
        campaign_quota: int = UNLIMITED,
    ):
        """The store in ``url``'s database, on ``engine`` (the process's) or on its own.

        ``member_quota`` and ``campaign_quota`` are the bytes ``reserve`` lets one
        uploader and one campaign take in all. Raises ``StorageError`` when its tables
        cannot be created.
        """
        self.max_bytes = max_bytes
        self.member_quota = member_quota
        self.campaign_quota = campaign_quota
        self._owns_engine = engine is None
        self.engine = store_engine(url, metadata, engine=engine, create=create)
        dialect = postgresql if self.engine.dialect.name == "postgresql" else sqlite
        self._insert = dialect.insert(content_table).on_conflict_do_nothing()
        self._new_counter = dialect.insert(quota_table).on_conflict_do_nothing()

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

    # -- quotas ----------------------------------------------------------------------------

    def reserve(self, member: str, campaign: str, size: int) -> None:
        """Charge ``size`` bytes to ``member`` and to ``campaign``, or raise and charge nothing.

        Raises ``ContentQuotaExceededError`` naming the quota that ``size`` would pass
        (the member's first), ``StorageError`` if the database fails.
        """
        charges = (
            ("member", member, self.member_quota),
            ("campaign", campaign, self.campaign_quota),
        )
        try:
            with self.engine.begin() as conn:
                for what, name, quota in charges:
                    key = f"{what}/{name}"
                    conn.execute(self._new_counter, {"key": key, "used": 0})
                    charged = conn.execute(
                        update(quota_table)
                        .where(quota_table.c.key == key, quota_table.c.used + size <= quota)
                        .values(used=quota_table.c.used + size)
                    )
                    if charged.rowcount != 1:
                        used = conn.execute(
                            select(quota_table.c.used).where(quota_table.c.key == key)
                        ).scalar_one()
                        raise ContentQuotaExceededError(
                            f"an upload of {size} bytes would take {what} {name} over its "
                            f"content quota of {quota} bytes ({used} used)",
                            **{what: name},
                            size=size,
                            used=int(used),
                            quota=quota,
                        )
        except SQLAlchemyError as exc:
            raise storage_error("reserving content quota", exc) from exc

    def release(self, member: str, campaign: str, size: int) -> None:
        """Give back ``size`` bytes charged by ``reserve`` (an upload that failed)."""
        keys = [f"member/{member}", f"campaign/{campaign}"]
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    update(quota_table)
                    .where(quota_table.c.key.in_(keys))
                    .values(used=quota_table.c.used - size)
                )
        except SQLAlchemyError as exc:
            raise storage_error("releasing content quota", exc) from exc

    def used(self, what: str, name: str) -> int:
        """The bytes charged to ``member``/``campaign`` ``name`` (``what``) so far."""
        query = select(quota_table.c.used).where(quota_table.c.key == f"{what}/{name}")
        try:
            with self.engine.connect() as conn:
                return int(conn.execute(query).scalar_one_or_none() or 0)
        except SQLAlchemyError as exc:
            raise storage_error("reading content quota", exc) from exc

    def close(self) -> None:
        if self._owns_engine:  # a shared engine is its owner's to dispose
            self.engine.dispose()
