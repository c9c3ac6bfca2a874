"""HTTP caching: ETags from the log position, ``If-None-Match`` answered with 304, and the
``Cache-Control`` of immutable things.

A read that depends on the log is the same bytes as long as the log has not moved, so its
ETag is the log position plus what else chose the bytes (the page, the search, the day for
pages that say "expired"). A client that sends it back in ``If-None-Match`` gets a 304 and no
body, and the server builds nothing (RFC 9110 §13.1.2, §15.4.5). Things that never change once
they exist (a stored event by position, a proof for a fixed tree size, a settled campaign's
export) are ``immutable`` for a year (RFC 8246); the rest may be reused for a few seconds.
"""

from __future__ import annotations

import hashlib

from fastapi import Request, Response

IMMUTABLE = "public, max-age=31536000, immutable"
SHORT = "public, max-age=5"  # a few seconds behind the log at most, then revalidate


def etag(position: int, *parts: object) -> str:
    """A strong ETag for the bytes built at log ``position`` from ``parts`` (page, query…)."""
    chosen = "\x1f".join(str(p) for p in parts)
    digest = hashlib.sha256(chosen.encode()).hexdigest()[:16]
    return f'"{position}-{digest}"'


def request_etag(request: Request, position: int, *parts: object) -> str:
    """The ETag of ``request``'s path and query at log ``position`` (and ``parts``)."""
    return etag(position, request.url.path, sorted(request.query_params.multi_items()), *parts)


def matches(request: Request, tag: str) -> bool:
    """True when ``If-None-Match`` names ``tag`` (weak comparison) or is ``*``."""
    header = request.headers.get("if-none-match")
    if not header:
        return False
    offered = {t.strip().removeprefix("W/") for t in header.split(",")}
    return "*" in offered or tag.removeprefix("W/") in offered


def not_modified(tag: str, cache_control: str = SHORT) -> Response:
    """The 304 answer: no body, the validator and the caching rule repeated."""
    return Response(status_code=304, headers={"ETag": tag, "Cache-Control": cache_control})


def stamp(response: Response, tag: str | None, cache_control: str = SHORT) -> Response:
    """``response`` with its ETag (when it has one) and ``Cache-Control``."""
    if tag is not None:
        response.headers["ETag"] = tag
    response.headers["Cache-Control"] = cache_control
    return response
