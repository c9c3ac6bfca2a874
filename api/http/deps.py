"""Every shared route dependency: what the routers and the pages take from the request.

The services and the read side the app was built with, page sizes and positions, the
signer of a signed request, the live projection state, and the OpenAPI ``responses`` of a
route's refusals. The app factory (``api.http.app``) imports the routers and the pages;
they import this module, ``api.http.schemas``, ``api.http.errors`` and ``api.http.auth``,
never the app nor each other (``tests/api/test_layout.py`` holds that).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Header, Query, Request
from starlette.concurrency import run_in_threadpool

from api.bootstrap import Services
from api.http.auth import SignedBy
from api.http.errors import ApiError
from api.http.schemas import ErrorBody
from api.reads import Reads
from projections.state import LogState

T = TypeVar("T")
# Positions, seqs and offsets are signed 64-bit integers in both databases: a larger
# number in a request is refused (422) instead of overflowing the driver.
MAX_POSITION = 2**63 - 1


# -- what the app was built with ---------------------------------------------------------------


def services_of(request: Request) -> Services:
    """The services the app was built with."""
    services: Services = request.app.state.services
    return services


def reads_of(request: Request) -> Reads:
    """The read models of this process (caught up on demand)."""
    reads: Reads = request.app.state.reads
    return reads


def on_state(request: Request, query: Callable[[LogState], T]) -> T:
    """``query`` on the live projection state, caught up, with no catch-up running meanwhile.

    The state is one object that every catch-up mutates in place, so the query
    holds the read side's lock (the one ``Reads.state`` takes) while it runs.
    """
    with reads_of(request).reading() as state:
        return query(state)


# -- pages of results --------------------------------------------------------------------------


def from_query(description: str, first: int = 0) -> Any:
    """The ``from`` query parameter of a page: where it starts, from ``first`` on."""
    return Query(first, alias="from", ge=first, le=MAX_POSITION, description=description)


def limit_query(default: int = 100, most: int = 1000) -> Any:
    """The ``limit`` query parameter, its bounds in the OpenAPI description.

    The bounds are documented rather than validated by FastAPI: ``page_limit``
    checks them and says so in cocred's own sentence.
    """
    return Query(
        default,
        description=f"page size, from 1 to {most}",
        json_schema_extra={"minimum": 1, "maximum": most},
    )


def page_limit(limit: int, most: int = 1000) -> int:
    """Check a page size; raise ``ApiError`` (422) when it is out of range."""
    if not 1 <= limit <= most:
        raise ApiError("InvalidRequest", f"limit must be from 1 to {most}, got {limit}")
    return limit


# -- signed requests ---------------------------------------------------------------------------


async def request_signer(
    request: Request,
    signature_input: str | None = Header(
        None,
        alias="Signature-Input",
        description='sig1=("@method" "@path" "@query" "content-digest");created=…;'
        'nonce="…";keyid="<actor>/<key id>";alg="ed25519" (RFC 9421, see api/http/auth.py)',
    ),
    signature: str | None = Header(None, alias="Signature", description="sig1=:<base64>:"),
    digest: str | None = Header(
        None, alias="Content-Digest", description="sha-256=:<base64 of the body's SHA-256>:"
    ),
) -> SignedBy:
    """Who signed this request (a FastAPI dependency); raises the ``api.http.auth`` 401s.

    The three headers are declared for the OpenAPI description; the verifier
    reads them (and the raw path, query and body) from the request itself.
    """
    body = await request.body()
    raw_path = request.scope.get("raw_path")
    path = raw_path.decode("latin-1") if raw_path else request.url.path
    headers = dict(request.headers)
    verifier = request.app.state.verifier
    signer: SignedBy = await run_in_threadpool(
        verifier.verify, request.method, path, request.url.query, body, headers
    )
    return signer


Signer = Annotated[SignedBy, Depends(request_signer)]


def require_signer(signer: SignedBy, actor: str, what: str) -> None:
    """Raise ``Forbidden`` (403) unless ``actor`` signed the request; ``what`` names the read."""
    if signer.actor != actor:
        raise ApiError(
            "Forbidden",
            f"only {actor} may read {what}; this request is signed by {signer.actor}",
            actor=actor,
            signer=signer.actor,
        )


# -- the refusals a route documents ------------------------------------------------------------

_MEANING = {
    401: "the envelope's key or the request's signature does not verify",
    403: "the signer may not do this",
    404: "no such thing",
    409: "conflicts with the ledger's state (replay, closed campaign, …)",
    410: "the member was erased",
    413: "the body is too large",
    422: "the input is malformed",
    429: "over a rate limit (RateLimited; Retry-After says when to try again)",
    503: "the database (or the chain) is unavailable",
}


def errors(*statuses: int, limited: bool = True) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for the statuses a route can refuse with (plus 422 and 503).

    Every route but the probes is counted by the rate limiter (``api.http.throttle``), so
    each documents 429 unless ``limited`` is false.
    """
    always = {422, 503, 429} if limited else {422, 503}
    return {
        s: {"model": ErrorBody, "description": _MEANING[s]} for s in sorted({*statuses, *always})
    }
