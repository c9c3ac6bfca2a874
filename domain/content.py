"""The content store: bytes of contributions, comments, guidelines and terms, by SHA-256.

Envelopes carry only the hash; the bytes live here, in a table of the ledger's
database. An upload may announce the hash it expects: bytes that hash to
something else are refused (``ContentMismatchError``). Storing the same bytes
twice is a no-op.

Safe media (issue 19). An upload may also declare the contribution ``kind`` its bytes are
for: they are then checked before anything is stored (``domain.media``: an image by its
magic bytes and a full decode, a video container by its signature, text as strict UTF-8;
each form with its own size limit, ``MediaLimits``), and what they are is kept in
``cocred_content_media`` with, for an image, its public copy: the pixels re-encoded with no
metadata at all, and a thumbnail. The copy is made at upload, while the image is decoded for
the check anyway, and stored, so that what ``public`` serves under one name never changes
(it is cached as immutable) whatever later Pillow release re-encodes differently.

``get`` is the original, byte for byte what was signed; ``public`` and ``thumbnail`` are
what anyone may read: an image's copy, text as it is, no video (``NoPublicCopyError``: its
container metadata is not stripped, cocred decodes no video). Content stored without a
kind (before this rule, the operator's documents, the demo) is classified on its first
public read from its bytes alone, and the copy of an image made then and stored: a
decodable JPEG, PNG, WebP or GIF gets a copy, UTF-8 text and unrecognised bytes are served
as they are, every other recognised format (an image that does not decode, TIFF, HEIF, PDF,
video …) has no public copy. ``uploads`` names who uploaded the bytes for which campaign:
with the contributions that name them, it says who may read the original.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
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

from domain.comments import check_comment_text
from domain.database import storage_error, store_engine
from domain.errors import (
    ContentKindMismatchError,
    ContentMismatchError,
    ContentQuotaExceededError,
    ContentTooLargeError,
    DomainError,
    NoPublicCopyError,
    NoThumbnailError,
    UnknownContentError,
    with_index,
)
from domain.gate import Admitting, CampaignApp
from domain.media import (
    FORMAT_NAMES,
    FORMS,
    IMAGE,
    TEXT,
    VIDEO,
    Media,
    MediaLimits,
    PublicCopy,
    check_size,
    describe,
    expected_of,
    inspect,
    public_copy,
    sniff,
)
from domain.membership import Registration
from domain.vocabulary import COMMENT_POSTED, CONTRIBUTION_SUBMITTED
from ledger.envelope import Envelope
from ledger.ledger import Appended, EnvelopeInput

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
media_table = Table(
    "cocred_content_media",
    metadata,
    Column("hash", String(64), primary_key=True),
    Column("declared", String(16)),  # the kind declared at upload; None: classified on a read
    Column("form", String(8), nullable=False),  # image, video, text; bytes: none of them
    Column("format", String(16), nullable=False),  # JPEG, PNG, WEBP, GIF, MP4, WebM, UTF-8…
    Column("public_type", String(40)),  # the media type of ``public`` and ``thumbnail``
    Column("public", LargeBinary),  # an image's bare re-encode (None: text, video, no copy)
    Column("thumbnail", LargeBinary),
)
uploads_table = Table(
    "cocred_content_uploads",
    metadata,
    Column("hash", String(64), primary_key=True),
    Column("actor", String(64), primary_key=True),
    Column("campaign", String(200), primary_key=True),
)
BYTES = "bytes"  # the form of content that is no image, video or text
DEFAULT_MAX_BYTES = 16 * 1024 * 1024
UNLIMITED = 2**62


@dataclass(frozen=True, slots=True)
class Served:
    """What a public read sends: the bytes and their media type."""

    media_type: str
    data: bytes


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
        limits: MediaLimits | None = None,
    ):
        """The store in ``url``'s database, on ``engine`` (the process's) or on its own.

        ``member_quota`` and ``campaign_quota`` are the bytes ``reserve`` lets one
        uploader and one campaign take in all; ``limits`` those of each form of content
        declared with a kind. Raises ``StorageError`` when its tables cannot be created.
        """
        self.max_bytes = max_bytes
        self.limits = limits or MediaLimits()
        self.member_quota = member_quota
        self.campaign_quota = campaign_quota
        self._owns_engine = engine is None
        self.engine = store_engine(url, metadata, engine=engine, create=create)
        dialect = postgresql if self.engine.dialect.name == "postgresql" else sqlite
        self._insert = dialect.insert(content_table).on_conflict_do_nothing()
        self._new_counter = dialect.insert(quota_table).on_conflict_do_nothing()
        self._new_media = dialect.insert(media_table).on_conflict_do_nothing()
        self._new_upload = dialect.insert(uploads_table).on_conflict_do_nothing()

    def put(
        self,
        data: bytes,
        expected: str | None = None,
        *,
        kind: str | None = None,
        uploader: str | None = None,
        campaign: str | None = None,
    ) -> str:
        """Store ``data``; return its hash.

        With ``kind``, the bytes must be what that contribution kind allows (see the
        module's docstring) and an image's public copy is stored with them; ``uploader``
        and ``campaign`` are recorded (``uploads``). Raises ``ContentMismatchError`` when
        ``expected`` is given and differs, ``ContentTooLargeError`` over ``max_bytes`` or
        the kind's limit, ``UnknownContentKindError``, ``ContentKindMismatchError``,
        ``UndecodableContentError``, ``ImageTooLargeError``, and ``StorageError`` if the
        database fails; a refusal stores nothing.
        """
        return self.put_many(
            [data], [expected], kinds=[kind], uploader=uploader, campaign=campaign
        )[0]

    def put_many(
        self,
        blobs: Iterable[bytes],
        expected: Iterable[str | None] | None = None,
        *,
        kinds: Iterable[str | None] | None = None,
        uploader: str | None = None,
        campaign: str | None = None,
    ) -> list[str]:
        """Store many blobs in one transaction (see ``put``); return their hashes."""
        blobs = list(blobs)
        wanted = list(expected) if expected is not None else [None] * len(blobs)
        declared = list(kinds) if kinds is not None else [None] * len(blobs)
        rows: list[dict[str, Any]] = []
        media: list[dict[str, Any]] = []
        for data, announced, kind in zip(blobs, wanted, declared, strict=True):
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
            if kind is not None:
                media.append(self._media_row(data, digest, kind))
            rows.append({"hash": digest, "size": len(data), "data": data})
        if rows:
            uploads = [
                {"hash": digest, "actor": uploader, "campaign": campaign}
                for digest in dict.fromkeys(row["hash"] for row in rows)
                if uploader is not None and campaign is not None
            ]
            try:
                with self.engine.begin() as conn:
                    conn.execute(self._insert, rows)
                    if media:
                        conn.execute(self._new_media, media)
                    if uploads:
                        conn.execute(self._new_upload, uploads)
            except SQLAlchemyError as exc:
                raise storage_error("storing content", exc) from exc
        return [row["hash"] for row in rows]

    def _media_row(self, data: bytes, digest: str, kind: str) -> dict[str, Any]:
        """The checked ``cocred_content_media`` row of ``data`` declared as ``kind``."""
        check_size(digest, kind, len(data), self.limits)
        found = inspect(data, digest, kind, self.limits)
        copy = None
        if found.form == IMAGE:
            copy = public_copy(data, digest, found.format, self.limits.image_pixels)
        return {**_row(found, copy), "hash": digest, "declared": kind}

    def accept_stored(self, digest: str, kind: str, uploader: str, campaign: str) -> None:
        """An upload of bytes already stored: check them against ``kind``, record the upload.

        The bytes are read back from the store (the request's body is not read at all);
        raises what ``put`` raises for them, ``UnknownContentError`` if there are none.
        """
        check_size(digest, kind, self.size_of(digest), self.limits)
        row = self._media_row(self.get(digest), digest, kind)
        upload = {"hash": digest, "actor": uploader, "campaign": campaign}
        try:
            with self.engine.begin() as conn:
                conn.execute(self._new_media, [row])
                conn.execute(self._new_upload, [upload])
        except SQLAlchemyError as exc:
            raise storage_error("storing content", exc) from exc

    def size_of(self, digest: str) -> int:
        """The stored size of ``digest``'s bytes; ``UnknownContentError`` if there are none."""
        query = select(content_table.c.size).where(content_table.c.hash == digest)
        try:
            with self.engine.connect() as conn:
                found = conn.execute(query).scalar_one_or_none()
        except SQLAlchemyError as exc:
            raise storage_error("reading content", exc) from exc
        if found is None:
            raise UnknownContentError(f"no content with hash {digest}", content=digest)
        return int(found)

    # -- what may be read, and by whom ---------------------------------------------------------

    def _media(self, digest: str) -> Any:
        query = select(media_table).where(media_table.c.hash == digest)
        try:
            with self.engine.connect() as conn:
                return conn.execute(query).mappings().one_or_none()
        except SQLAlchemyError as exc:
            raise storage_error("reading content", exc) from exc

    def _classified(self, digest: str) -> Any:
        """The media row of ``digest``, classified from its bytes (and stored) if it has none."""
        row = self._media(digest)
        if row is not None:
            return row
        data = self.get(digest)
        found = sniff(data)
        new: dict[str, Any]
        if found is None:  # unrecognised bytes, or a format never served (TIFF, PDF, HEIF…)
            unknown = describe(data) == "of no recognised format"
            new = _row(Media(BYTES, "bytes" if unknown else "other"), None)
        elif found.form == IMAGE:
            try:
                copy = public_copy(data, digest, found.format, self.limits.image_pixels)
            except DomainError:
                copy = None  # stored before the checks, and does not decode: no public copy
            new = _row(found, copy)
        else:
            new = _row(found, None)
        new.update(hash=digest, declared=None)
        try:
            with self.engine.begin() as conn:
                conn.execute(self._new_media, [new])
        except SQLAlchemyError as exc:
            raise storage_error("storing content", exc) from exc
        return self._media(digest)

    def public(self, digest: str) -> Served:
        """What anyone may read of ``digest``: an image's bare copy, text as it is.

        Raises ``UnknownContentError``, and ``NoPublicCopyError`` for a video or for
        bytes of a format with no public copy.
        """
        row = self._classified(digest)
        if row["public"] is not None:
            return Served(row["public_type"], bytes(row["public"]))
        if row["form"] == TEXT:
            return Served("text/plain; charset=utf-8", self.get(digest))
        if row["form"] == BYTES and row["format"] == "bytes":
            return Served("application/octet-stream", self.get(digest))
        raise _no_public_copy(digest, row)

    def thumbnail(self, digest: str) -> Served:
        """An image's thumbnail (at most ``THUMBNAIL_SIDE`` pixels on its long side).

        Raises ``UnknownContentError``, ``NoPublicCopyError`` for an image or video with
        no public copy and ``NoThumbnailError`` for anything else.
        """
        row = self._classified(digest)
        if row["thumbnail"] is not None:
            return Served(row["public_type"], bytes(row["thumbnail"]))
        if row["form"] in (IMAGE, VIDEO) or row["format"] == "other":
            raise _no_public_copy(digest, row)
        raise NoThumbnailError(
            f"content {digest} is {_name(row)}: only an image has a thumbnail", content=digest
        )

    def media_type_of(self, digest: str) -> str:
        """The media type of the original bytes (application/octet-stream when unknown)."""
        row = self._classified(digest)
        if row["form"] in (IMAGE, VIDEO, TEXT):
            return Media(row["form"], row["format"]).media_type
        return "application/octet-stream"

    def uploads(self, digest: str) -> list[tuple[str, str]]:
        """Who uploaded ``digest``'s bytes, for which campaign: ``(actor, campaign)`` pairs."""
        query = select(uploads_table.c.actor, uploads_table.c.campaign).where(
            uploads_table.c.hash == digest
        )
        try:
            with self.engine.connect() as conn:
                return [(actor, campaign) for actor, campaign in conn.execute(query)]
        except SQLAlchemyError as exc:
            raise storage_error("reading content", exc) from exc

    def check_submission(self, digest: str, kind: str) -> None:
        """``ContentKindMismatchError`` when ``digest`` was uploaded as bytes ``kind`` forbids.

        Only content uploaded with a declared kind is judged: content stored without one
        (or not stored at all) says nothing checked about what it is.
        """
        row = self._media(digest)
        forms = FORMS.get(kind)
        if row is None or row["declared"] is None or forms is None or row["form"] in forms:
            return
        raise ContentKindMismatchError(
            f"content {digest}: the bytes are {_name(row)} (uploaded as a {row['declared']}), "
            f"not the declared {kind} ({expected_of(kind)})",
            content=digest,
            kind=kind,
        )

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


def _row(found: Media, copy: PublicCopy | None) -> dict[str, Any]:
    return {
        "form": found.form,
        "format": found.format,
        "public_type": None if copy is None else copy.media_type,
        "public": None if copy is None else copy.data,
        "thumbnail": None if copy is None else copy.thumbnail,
    }


def _name(row: Any) -> str:
    if row["format"] == "other":
        return "of a format cocred serves to nobody but its author and brand"
    return FORMAT_NAMES.get(row["format"], "of no recognised format")


def _no_public_copy(digest: str, row: Any) -> NoPublicCopyError:
    if row["form"] == VIDEO:
        why = (
            f"is {_name(row)}: cocred keeps no public copy of a video (it does not strip "
            "container metadata)"
        )
    elif row["form"] == IMAGE:
        why = f"is {_name(row)} that does not decode: it has no public copy"
    else:
        why = f"is {_name(row)}: it has no public copy"
    return NoPublicCopyError(
        f"content {digest} {why}; only its author and its campaign's brand may read the "
        f"original (GET /content/{digest}/original, signed)",
        content=digest,
    )


class KindCheckedAdmitting(Admitting):
    """``Admitting`` that holds a ``ContributionSubmitted`` to what its content was uploaded as.

    Over HTTP every upload declares a kind (``PUT /content/…?kind=``); a submission of that
    content as a kind that forbids its bytes (text uploaded as an idea, submitted as a photo)
    is ``ContentKindMismatchError`` before the batch reaches the gate, and writes nothing.
    A ``CommentPosted`` is held to its text: in the store (``UnknownContentError``), UTF-8
    and at most ``MAX_COMMENT_BYTES`` (``BadCommentTextError``).
    """

    def __init__(self, gate: CampaignApp, registration: Registration, content: ContentStore):
        super().__init__(gate, registration)
        self.content = content

    def append_batch(self, items: Sequence[EnvelopeInput]) -> Appended:
        for index, item in enumerate(items):
            try:
                self._check(item)
            except DomainError as exc:
                raise with_index(exc, index) if len(items) > 1 else exc from None
        return super().append_batch(items)

    def _check(self, item: EnvelopeInput) -> None:
        """A submission's bytes against its kind; a comment's text in the store, in the limit."""
        typed = _typed(item)
        if typed is None:
            return
        kind, body = typed
        if kind == CONTRIBUTION_SUBMITTED:
            content, declared = body.get("content"), body.get("kind")
            if isinstance(content, str) and isinstance(declared, str):
                self.content.check_submission(content, declared)
        elif kind == COMMENT_POSTED:
            digest = body.get("text")
            if isinstance(digest, str):
                check_comment_text(self.content.get(digest), digest)


def _typed(item: EnvelopeInput) -> tuple[str, dict[str, Any]] | None:
    """The ``(type, body)`` of a ``ContributionSubmitted`` or a ``CommentPosted``; None for
    any other input. Malformed input is None too: the gate refuses it with the ledger's own
    error.
    """
    if isinstance(item, bytes | str):
        raw = item.encode() if isinstance(item, str) else item
        if CONTRIBUTION_SUBMITTED.encode() not in raw and COMMENT_POSTED.encode() not in raw:
            return None
        try:
            item = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return None
    kind: Any
    body: Any
    if isinstance(item, Envelope):
        kind, body = item.type, item.body
    elif isinstance(item, dict):
        kind, body = item.get("type"), item.get("body")
    else:
        return None
    if kind not in (CONTRIBUTION_SUBMITTED, COMMENT_POSTED) or not isinstance(body, dict):
        return None
    return kind, body
