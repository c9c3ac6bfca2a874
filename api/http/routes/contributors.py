"""Contributors: register a key, upload content, read one's own record, ask for erasure.

Everything here is public (the log and the read models hold no personal data in
clear) except the data export and the private profile, which need a request
signed by the member's current key (``api.http.auth``), and the original bytes of
content, which need a request signed by its author or its campaign's brand (anyone
else reads the public copy: ``domain.content``). Events other than a key
registration or an erasure go through ``POST /events``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
from fastapi import APIRouter, Path, Query, Request, Response
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from api.http.auth import check_digest
from api.http.caching import IMMUTABLE, matches, not_modified
from api.http.deps import (
    Signer,
    errors,
    from_query,
    limit_query,
    on_state,
    page_limit,
    reads_of,
    require_signer,
    services_of,
)
from api.http.errors import ApiError
from api.http.schemas import (
    ENVELOPE_REQUEST_BODY,
    Attribution,
    AuthoredContribution,
    CommentThread,
    Erased,
    ErrorBody,
    Explanation,
    LicenceRow,
    Lineage,
    LoggedEvent,
    MemberHistory,
    MemberRecord,
    MyData,
    PrivateProfile,
    ProfileOut,
    Registered,
    StoredContent,
)
from domain.content import Served
from domain.errors import ContentQuotaExceededError, ContentTooLargeError, MemberErasedError
from domain.media import check_size
from domain.membership import require_uploader
from domain.profiles import MEMBER_ERASED
from domain.state import State
from domain.vocabulary import CONTRIBUTION_KINDS
from ledger.actors import KEY_REGISTERED
from ledger.envelope import MAX_ENVELOPE_BYTES, Envelope
from ledger.keys import ID_PATTERN
from projections.errors import UnknownMemberError
from projections.explain import explain
from projections.projector import Projector
from projections.queries import attribution, lineage

router = APIRouter(tags=["contributors"])

ACTOR = ID_PATTERN.pattern
SHA256 = r"^[0-9a-f]{64}$"


async def _envelope_of(request: Request, expected: str, refusal: Callable[[str], str]) -> Envelope:
    """The request body as one envelope of type ``expected``.

    Raises ``ApiError`` ``PayloadTooLarge`` over ``MAX_ENVELOPE_BYTES``, the envelope's
    ``LedgerError`` when it is malformed, and ``ApiError`` ``UnexpectedEventType`` (with
    the sentence ``refusal(type)``) when it is another type of event.
    """
    body = await request.body()
    if len(body) > MAX_ENVELOPE_BYTES:
        raise ApiError("PayloadTooLarge", f"an envelope is at most {MAX_ENVELOPE_BYTES} bytes")
    envelope = Envelope.from_bytes(body)
    if envelope.type != expected:
        raise ApiError("UnexpectedEventType", refusal(envelope.type), type=envelope.type)
    return envelope


# -- keys and content --------------------------------------------------------------------------


@router.post(
    "/keys",
    status_code=201,
    response_model=Registered,
    responses={
        200: {"model": Registered, "description": "already registered with these exact bytes"},
        **errors(401, 409, 413),
    },
    openapi_extra=ENVELOPE_REQUEST_BODY,
)
async def register_key(request: Request, response: Response) -> Registered:
    """Register a key: a self-signed ``KeyRegistered`` envelope (seq 1) starts an actor.

    201; 200 when these exact bytes are already stored (a retry), with their position.
    """
    envelope = await _envelope_of(
        request,
        KEY_REGISTERED,
        lambda got: (
            f"POST /keys takes a self-signed {KEY_REGISTERED} envelope, not a {got}; "
            f"send other events to POST /events"
        ),
    )
    gate = services_of(request).admitting
    positions = await run_in_threadpool(gate.append_batch, [envelope])
    if positions.stored_before:
        response.status_code = 200
    return Registered(position=positions[0], actor=envelope.actor, key=envelope.key)


@router.put(
    "/content/{sha256}",
    status_code=201,
    response_model=StoredContent,
    responses={
        200: {"model": StoredContent, "description": "already stored"},
        411: {"model": ErrorBody, "description": "no Content-Length (LengthRequired)"},
        **errors(401, 403, 404, 409, 413, 429),
        422: {
            "model": ErrorBody,
            "description": "the bytes are not what ``kind`` says (ContentKindMismatch, "
            "UndecodableContent, ImageTooLarge, UnknownContentKind) or do not match their hash",
        },
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
            },
        }
    },
)
async def upload_content(
    request: Request,
    response: Response,
    sha256: str = Path(pattern=SHA256),
    campaign: str = Query(description="the campaign the content is for (its quota pays)"),
    kind: str = Query(
        description="what the bytes are for: "
        + ", ".join(CONTRIBUTION_KINDS)
        + " (photo: a JPEG, PNG, WebP or GIF image; design: such an image or UTF-8 text; "
        "video: an MP4 or WebM container; idea, text: UTF-8 text; a comment, guidelines or "
        "terms are text)",
        json_schema_extra={"enum": list(CONTRIBUTION_KINDS)},
    ),
) -> StoredContent:
    """Store the raw body under its SHA-256, which must be ``sha256`` (201; 200 if stored).

    A request signed by a member of ``campaign`` (or its brand), with a
    ``Content-Length``. Everything is checked before the body is read: the length (411
    ``LengthRequired``, 413 ``ContentTooLarge`` over the store's or ``kind``'s limit), the
    signature, the uploader's standing, and the member's and the campaign's quotas (413
    ``ContentQuotaExceeded``); the body is then read up to its declared length, must match
    ``Content-Digest`` and ``sha256``, and must be what ``kind`` says (422
    ``ContentKindMismatch``, ``UndecodableContent``, ``ImageTooLarge``); nothing is stored
    otherwise. Bytes stored already are checked against ``kind`` as they are stored.
    """
    services = services_of(request)
    content = services.content
    declared = request.headers.get("content-length", "")
    if not declared.isdigit():
        raise ApiError(
            "LengthRequired", "an upload must declare its size in Content-Length", content=sha256
        )
    size = int(declared)
    if size > content.max_bytes:
        raise ContentTooLargeError(
            f"content of {size} bytes is over the limit of {content.max_bytes}", size=size
        )
    check_size(sha256, kind, size, content.limits)
    raw_path = request.scope.get("raw_path")
    path = raw_path.decode("latin-1") if raw_path else request.url.path
    headers = dict(request.headers)
    signer = await run_in_threadpool(
        request.app.state.verifier.verify, "PUT", path, request.url.query, None, headers
    )
    uploader = signer.actor
    gate = services.campaigns.gate
    await run_in_threadpool(gate.read, lambda state: require_uploader(state, campaign, uploader))
    if await run_in_threadpool(content.has, sha256):
        response.status_code = 200  # stored already: nothing to read, nothing to charge
        await run_in_threadpool(content.accept_stored, sha256, kind, uploader, campaign)
        return StoredContent(sha256=sha256, size=size)
    try:
        await run_in_threadpool(content.reserve, uploader, campaign, size)
    except ContentQuotaExceededError as exc:
        services.limiter.note_refusal("content-quota/" + next(iter(exc.ids)))
        raise
    try:
        data = bytearray()
        async for chunk in request.stream():
            data += chunk
            if len(data) > size:
                raise ApiError(
                    "PayloadTooLarge", f"the body is longer than its Content-Length of {size}"
                )
        check_digest(headers.get("content-digest", ""), bytes(data))
        await run_in_threadpool(
            lambda: content.put(
                bytes(data), sha256, kind=kind, uploader=uploader, campaign=campaign
            )
        )
    except BaseException:
        await run_in_threadpool(content.release, uploader, campaign, size)
        raise
    return StoredContent(sha256=sha256, size=len(data))


_BYTES = {"schema": {"type": "string", "format": "binary"}}
_PUBLIC = {
    "description": "the public copy",
    "content": {t: _BYTES for t in ("image/jpeg", "image/png", "image/webp", "text/plain")},
}


def _served(request: Request, served: Served, tag: str, cache_control: str) -> Response:
    if matches(request, tag):
        return not_modified(tag, cache_control)
    headers = {"ETag": tag, "Cache-Control": cache_control, "X-Content-Type-Options": "nosniff"}
    return Response(served.data, media_type=served.media_type, headers=headers)


@router.get(
    "/content/{sha256}",
    response_class=Response,
    responses={200: _PUBLIC, **errors(403, 404)},
)
def read_content(request: Request, sha256: str = Path(pattern=SHA256)) -> Response:
    """The public copy of the content stored under ``sha256`` (immutable).

    An image is its pixels re-encoded with no metadata (no EXIF, GPS, XMP, ICC profile or
    comment; upright), text is served as it is, unrecognised bytes stored without a kind
    as they are; a video has no public copy (403 ``NoPublicCopy``). The original, byte
    for byte what was signed, is ``GET /content/{sha256}/original``.
    """
    served = services_of(request).content.public(sha256)
    return _served(request, served, f'"{sha256}-public"', IMMUTABLE)


@router.get(
    "/content/{sha256}/thumbnail",
    response_class=Response,
    responses={200: {**_PUBLIC, "description": "the thumbnail"}, **errors(403, 404)},
)
def read_thumbnail(request: Request, sha256: str = Path(pattern=SHA256)) -> Response:
    """An image's thumbnail: its public copy, at most 512 pixels on its long side.

    404 ``NoThumbnail`` for content that is not an image.
    """
    served = services_of(request).content.thumbnail(sha256)
    return _served(request, served, f'"{sha256}-thumbnail"', IMMUTABLE)


def _original_readers(state: State, uploads: list[tuple[str, str]], digest: str) -> set[str]:
    """Who may read ``digest``'s original: its uploaders and authors, and their brands."""
    readers = {actor for actor, _ in uploads}
    campaigns = {campaign for _, campaign in uploads}
    for work in state.contributions.values():
        if work.content == digest:
            readers.update(work.authors)
            campaigns.add(work.campaign)
    readers.update(state.campaigns[c].brand for c in campaigns if c in state.campaigns)
    return readers


@router.get(
    "/content/{sha256}/original",
    response_class=Response,
    responses={
        200: {"description": "the bytes as uploaded", "content": {"*/*": _BYTES}},
        **errors(401, 403, 404),
    },
)
def read_original(request: Request, signer: Signer, sha256: str = Path(pattern=SHA256)) -> Response:
    """The original bytes, hashing to ``sha256``: signed by their author or the brand.

    The author is whoever uploaded the bytes or is named an author of a contribution
    carrying them; the brand is that campaign's. Anyone else: 403 ``Forbidden``.
    """
    content = services_of(request).content
    uploads = content.uploads(sha256)
    readers = services_of(request).campaigns.gate.read(
        lambda state: _original_readers(state, uploads, sha256)
    )
    if signer.actor not in readers:
        raise ApiError(
            "Forbidden",
            f"only its author or its campaign's brand may read the original of content "
            f"{sha256}; this request is signed by {signer.actor}",
            content=sha256,
            signer=signer.actor,
        )
    served = Served(content.media_type_of(sha256), content.get(sha256))
    return _served(request, served, f'"{sha256}"', "private, max-age=31536000, immutable")


# -- a member's public record ------------------------------------------------------------------


def _member_campaigns(projector: Projector, member: str) -> list[str]:
    members = projector.tables.members
    query = select(members.c.campaign).where(members.c.member == member)
    with projector.engine.connect() as conn:
        return sorted(conn.execute(query).scalars())


@router.get("/members/{actor}/history", response_model=MemberHistory, responses=errors(404))
def member_history(
    request: Request,
    actor: str = Path(pattern=ACTOR),
    start: int = from_query("the first seq of the page", first=1),
    limit: int = limit_query(),
) -> MemberHistory:
    """The member's own signed events in seq order (at most ``limit``, ≤ 1000)."""
    limit = page_limit(limit)
    services = services_of(request)
    state = services.ledger.actor_state(actor)
    if state is None:
        raise UnknownMemberError(f"no actor {actor} is registered in the log", member=actor)
    records = services.ledger.store.read_actor(actor, after_seq=start - 1, limit=limit)
    last = records[-1].seq if records else start - 1
    label = services.campaigns.labels([actor])[actor]
    erased = services.campaigns.gate.read(lambda domain: actor in domain.erased)
    return MemberHistory(
        member=actor,
        label=label,
        erased=erased,
        seq=state.seq,
        campaigns=_member_campaigns(reads_of(request).projector(), actor),
        events=[LoggedEvent(position=r.position, event=orjson.loads(r.data)) for r in records],
        next=last + 1 if last < state.seq else None,
    )


def _licence(row: dict[str, Any]) -> LicenceRow:
    return LicenceRow(
        licence=row["licence"],
        contribution=row["contribution"],
        grant=orjson.loads(row["grant_body"]),
        granted_at=row["granted_at"],
        revoked_at=row["revoked_at"],
    )


@router.get(
    "/campaigns/{campaign}/members/{actor}/attribution",
    response_model=Attribution,
    responses=errors(404),
)
def member_attribution(
    request: Request,
    campaign: str,
    actor: str = Path(pattern=ACTOR),
    start: int = from_query("index of the first contribution"),
    limit: int = limit_query(),
) -> Attribution:
    """The member's attribution record in a campaign; its contributions in pages."""
    limit = page_limit(limit)
    found = attribution(reads_of(request).projector(), campaign, actor)
    works = found["contributions"]
    page = works[start : start + limit]
    return Attribution(
        campaign=campaign,
        member=actor,
        label=services_of(request).campaigns.labels([actor])[actor],
        as_of=found["as_of"],
        record=MemberRecord.model_validate(found["record"]),
        licences=[_licence(row) for row in found["licences"]],
        total=len(works),
        contributions=[AuthoredContribution.model_validate(row) for row in page],
        next=start + limit if start + limit < len(works) else None,
    )


@router.get(
    "/campaigns/{campaign}/contributions/{contribution}/lineage",
    response_model=Lineage,
    responses=errors(404),
)
def contribution_lineage(request: Request, campaign: str, contribution: str) -> Lineage:
    """The contribution's ancestors and descendants, with the share flowing along each chain."""
    return Lineage.model_validate(lineage(reads_of(request).projector(), campaign, contribution))


@router.get(
    "/campaigns/{campaign}/contributions/{contribution}/comments",
    response_model=CommentThread,
    responses=errors(404),
)
def contribution_comments(
    request: Request,
    campaign: str,
    contribution: str,
    start: int = from_query("index of the first comment, in reading order"),
    limit: int = limit_query(),
) -> CommentThread:
    """The piece's thread, each comment followed by its replies (public: comments are in the
    log; a hidden comment shows the brand's reason, not its text). Comments are posted as
    signed ``CommentPosted`` envelopes to ``POST /events``, their text uploaded first with
    ``PUT /content/{sha256}``."""
    limit = page_limit(limit)
    page = services_of(request).campaigns.thread_page(
        campaign, contribution, start=start, limit=limit
    )
    data = page.to_json()
    return CommentThread(
        campaign=campaign,
        contribution=contribution,
        total=page.total,
        comments=data["comments"],
        next=start + limit if start + limit < page.total else None,
    )


@router.get(
    "/campaigns/{campaign}/members/{actor}/explanation",
    response_model=Explanation,
    responses=errors(404, 409),
)
def member_explanation(
    request: Request, campaign: str, actor: str = Path(pattern=ACTOR)
) -> Explanation:
    """Every cent of the member's payout traced to the events that earned it."""
    found = on_state(
        request, lambda state: explain(state.campaign(campaign), actor, state.position).to_json()
    )
    return Explanation.model_validate(found)


# -- a member's private data (signed requests) -------------------------------------------------


@router.get(
    "/members/{actor}/export",
    response_model=MyData,
    response_model_exclude_unset=True,  # a profile shows the fields it has, as committed
    responses=errors(401, 403),
)
def export_my_data(
    request: Request,
    signer: Signer,
    actor: str = Path(pattern=ACTOR),
) -> MyData:
    """Everything cocred holds about the member; signed by the member's current key."""
    require_signer(signer, actor, "their data export")
    return MyData.model_validate(services_of(request).campaigns.export_my_data(actor))


@router.get(
    "/members/{actor}/profile",
    response_model=PrivateProfile,
    response_model_exclude_unset=True,  # the profile's JSON as committed (its salt opens it)
    responses=errors(401, 403, 404, 410),
)
def private_profile(
    request: Request,
    signer: Signer,
    actor: str = Path(pattern=ACTOR),
) -> PrivateProfile:
    """The member's private profile (member only: brands get payout handles in exports)."""
    require_signer(signer, actor, "their private profile")
    services = services_of(request)
    stored = services.profiles.stored(actor)
    if stored is None:
        if services.campaigns.gate.read(lambda domain: actor in domain.erased):
            raise MemberErasedError(
                f"member {actor} was erased: their profile is gone for good", member=actor
            )
        raise ApiError("NoProfile", f"member {actor} has not set a profile", member=actor)
    return PrivateProfile(
        member=actor,
        profile=ProfileOut.model_validate(stored.profile.to_json()),
        salt=stored.salt.hex(),
        commitment=stored.commitment,
    )


@router.post(
    "/members/{actor}/erasure",
    status_code=201,
    response_model=Erased,
    responses=errors(401, 403, 409, 410, 413),
    openapi_extra=ENVELOPE_REQUEST_BODY,
)
async def request_erasure(request: Request, actor: str = Path(pattern=ACTOR)) -> Erased:
    """Erase the member: a ``MemberErased`` envelope signed by them (crypto-shredding)."""
    envelope = await _envelope_of(
        request,
        MEMBER_ERASED,
        lambda got: f"an erasure request is a signed {MEMBER_ERASED} envelope, not a {got}",
    )
    if envelope.actor != actor:
        raise ApiError(
            "Forbidden",
            f"only {actor} may ask for their own erasure; the envelope is signed by "
            f"{envelope.actor}",
            actor=actor,
            signer=envelope.actor,
        )
    receipt = await run_in_threadpool(services_of(request).campaigns.erase_signed, envelope)
    return Erased(
        position=receipt.position, actor=receipt.actor, seq=receipt.seq, type=receipt.type
    )
