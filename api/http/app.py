"""The HTTP application: one factory, one error handler, a body limit, the routers.

Routers are thin (parse → one service call → response model). Every error a
service raises on purpose is rendered by ``_cocred_error`` as
``{"error": code, "detail": sentence}`` with the status from ``api.http.errors``;
request-shape errors become 422 ``InvalidRequest``; nothing a client sends can
produce a 500. A database fault that escapes the stores unwrapped (SQLAlchemy,
driver and eventsourcing errors, ``api.http.errors.STORAGE_FAULTS``) is a 503
``StorageUnavailable``; any other unexpected exception a typed, logged 500
``InternalError``. Requests routed to a web page get the same code and sentence
as an HTML page.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import sqlalchemy as sa
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.bootstrap import Services
from api.http.errors import (
    STORAGE_FAULTS,
    ApiError,
    error_body,
    internal_error,
    status_for,
    storage_fault,
)
from ledger.errors import CocredError, StorageError
from ledger.provenance.checkpointer import CheckpointerStatus, run_checkpointer
from ledger.store.group_commit import GroupCommitter

MAX_BODY = 256 * 1024
MAX_HEADERS = 100  # header fields per request
MAX_HEADER_BYTES = 32 * 1024  # the whole header block (request line included)
log = logging.getLogger("cocred.api")


class BodyLimit:
    """Refuse request bodies over ``limit`` bytes with 413, before the app reads them.

    ``uploads`` is the larger limit of ``PUT /content/…`` (the content store's own).
    """

    def __init__(self, app: ASGIApp, limit: int, uploads: int | None = None) -> None:
        self.app = app
        self.limit = limit
        self.uploads = uploads or limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit
        if scope["method"] == "PUT" and scope["path"].startswith("/content/"):
            limit = self.uploads
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            await _too_large(limit)(scope, receive, send)
            return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise _BodyTooLarge
            return message

        try:
            await self.app(scope, limited, send)
        except _BodyTooLarge:
            await _too_large(limit)(scope, receive, send)


class HeaderLimit:
    """Refuse requests with over ``most`` header fields or ``size`` bytes of them: 431.

    uvicorn's h11 stops buffering a header block beyond ``MAX_HEADER_BYTES`` (``cocred
    serve`` sets ``h11_max_incomplete_event_size``), but a block that arrives whole in
    one read passes it, and nothing caps the count: this checks both, typed.
    """

    def __init__(self, app: ASGIApp, most: int = MAX_HEADERS, size: int = MAX_HEADER_BYTES):
        self.app = app
        self.most = most
        self.size = size

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = scope.get("headers") or () if scope["type"] == "http" else ()
        refusal = None
        if len(headers) > self.most:
            refusal = ApiError(
                "TooManyHeaders",
                f"a request has at most {self.most} header fields, got {len(headers)}",
            )
        elif (size := sum(len(name) + len(value) for name, value in headers)) > self.size:
            refusal = ApiError(
                "HeadersTooLarge", f"request headers are limited to {self.size} bytes, got {size}"
            )
        if refusal is not None:
            response = JSONResponse(error_body(refusal), status_code=status_for(refusal))
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


class _BodyTooLarge(Exception):
    pass


def _too_large(limit: int) -> JSONResponse:
    return JSONResponse(
        {"error": "PayloadTooLarge", "detail": f"request bodies are limited to {limit} bytes"},
        status_code=413,
    )


def _on_page(request: Request) -> bool:
    """True when the request was routed to a web page (``api.web.pages``), not the JSON API."""
    route = request.scope.get("route")
    return getattr(getattr(route, "endpoint", None), "__module__", "") == "api.web.pages"


def _refusal(request: Request, body: dict[str, Any], status: int) -> Response:
    """``body`` as JSON, or as the HTML error page when the request was for a page."""
    if not _on_page(request):
        return JSONResponse(body, status_code=status)
    from api.web.pages import error_page  # imported where used, as the routers are

    return error_page(request, status, body["error"], body["detail"])


def _routed_refusal(app: FastAPI, scope: Scope, error: CocredError) -> Response:
    """A refusal answered before routing (the rate limits) the way a route's would be:
    the route the request would reach decides between the HTML error page and JSON."""
    route = _route_for(app.router.routes, scope)
    return _refusal(Request({**scope, "route": route}), error_body(error), status_for(error))


def _route_for(routes: list[Any], scope: Scope) -> Any:
    """The route ``scope`` fully matches, looking inside included routers; or None."""
    from starlette.routing import Match

    for route in routes:
        match, child = route.matches(scope)
        if match == Match.FULL:
            inner = getattr(route, "original_router", None)
            found = _route_for(inner.routes, {**scope, **child}) if inner is not None else None
            return found or route
    return None


def _cocred_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, CocredError)
    return _refusal(request, error_body(exc), status_for(exc))


def _storage_fault(request: Request, exc: Exception) -> Response:
    # Why a 503: the request was fine and may succeed later; logged once per request,
    # without the traceback (the fault is the database's, not a bug here).
    log.warning(
        "%s %s: database fault: %s: %s",
        request.method,
        request.url.path,
        type(exc).__name__,
        str(exc).splitlines()[0] if str(exc) else "",
    )
    return _cocred_error(request, storage_fault(exc))


def _internal_error(request: Request, exc: Exception) -> Response:
    # The last resort: whatever escaped every other handler is a server bug. The client
    # gets a typed body (never a traceback or a bare "Internal Server Error"); the
    # traceback goes to the log.
    log.error(
        "%s %s: unexpected %s", request.method, request.url.path, type(exc).__name__, exc_info=exc
    )
    return _cocred_error(request, internal_error(exc))


def _invalid_request(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    first = exc.errors()[0] if exc.errors() else {}
    where = ".".join(str(p) for p in first.get("loc", ()))
    detail = f"{where}: {first.get('msg', 'invalid request')}" if where else "invalid request"
    return JSONResponse({"error": "InvalidRequest", "detail": detail}, status_code=422)


def _http_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = {404: "NotFound", 405: "MethodNotAllowed"}.get(exc.status_code, "HttpError")
    detail = exc.detail if isinstance(exc.detail, str) else "request refused"
    if exc.status_code == 404 and detail == "Not Found":
        detail = "no such resource"
    # The 405's Allow header (RFC 9110 §15.5.6) rides on the exception's headers.
    return JSONResponse(
        {"error": code, "detail": detail}, status_code=exc.status_code, headers=exc.headers
    )


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    """While serving: group-commit concurrent appends, cut checkpoints in the background.

    The checkpointer survives database faults and reports to ``app.state.checkpointer``.

    On shutdown the committer appends what is queued and refuses new requests.
    """
    services: Services = app.state.services
    settings = services.settings
    app.state.committer = (
        GroupCommitter(
            services.admitting,
            max_group=settings.group_commit_max,
            freeze_gc=settings.gc_freeze,
        )
        if settings.group_commit
        else None
    )
    stop = threading.Event()
    worker = threading.Thread(
        target=run_checkpointer,
        args=(services.provenance.checkpoints, stop),
        kwargs={
            "poll": settings.checkpoint_poll_seconds,
            "retry_max": settings.checkpoint_retry_max_seconds,
            "status": app.state.checkpointer,
            "witnessing": services.witnessing,
        },
        name="cocred-checkpointer",
        daemon=True,
    )
    worker.start()
    try:
        yield
    finally:
        if app.state.committer is not None:
            app.state.committer.close()
        stop.set()
        worker.join(timeout=5)


_DOCS_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>cocred API</title>
<link rel="stylesheet" href="/static/swagger-ui/swagger-ui.css">
<link rel="icon" href="/static/swagger-ui/favicon-32x32.png">
</head>
<body>
<div id="swagger-ui"></div>
<script src="/static/swagger-ui/swagger-ui-bundle.js"></script>
<script src="/static/docs.js"></script>
</body>
</html>
"""


def _offline_docs(app: FastAPI) -> None:
    """``/docs``: Swagger UI from the ``swagger-ui-bundle-v2`` package (Apache-2.0, its
    licence in the package's metadata), so the API description works without a network;
    started by ``static/docs.js`` rather than an inline script (the strict CSP). No OAuth2
    redirect page: the API signs requests (api/http/auth.py) and has no OAuth2 flow."""
    from fastapi.responses import HTMLResponse

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return HTMLResponse(_DOCS_PAGE)


def create_app(services: Services, *, max_body: int = MAX_BODY) -> FastAPI:
    """The FastAPI app over ``services`` (the caller owns and closes them)."""
    from fastapi.staticfiles import StaticFiles
    from swagger_ui_bundle import swagger_ui_path

    from api.http.routes.auditor import router as auditor
    from api.http.routes.brands import router as brands
    from api.http.routes.contributors import router as contributors
    from api.http.routes.events import router as events
    from api.http.routes.health import router as health
    from api.http.routes.tiles import router as tiles
    from api.http.security import SecurityHeaders
    from api.web.pages import STATIC
    from api.web.pages import router as pages

    app = FastAPI(
        lifespan=_lifespan,
        docs_url=None,  # /docs below serves Swagger UI from the swagger-ui-bundle package
        redoc_url=None,  # ReDoc's script comes only from a CDN: offline it showed nothing
        title="cocred",
        version="0.1.0",
        description="A verifiable contribution ledger for co-creation campaigns. Writes are "
        "Ed25519-signed envelopes; reads of personal data are signed requests "
        "(RFC 9421 profile, see api/http/auth.py). Every error is "
        '{"error": code, "detail": sentence}.',
    )
    app.state.services = services
    app.state.verifier = services.verifier  # both built by the composition root
    app.state.reads = services.reads
    app.state.checkpointer = CheckpointerStatus()  # the lifespan's thread keeps it current
    app.add_exception_handler(CocredError, _cocred_error)
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    for fault in STORAGE_FAULTS:
        app.add_exception_handler(fault, _storage_fault)
    app.add_exception_handler(Exception, _internal_error)
    settings = services.settings
    if settings.rate_limits:  # innermost: inside the body and header limits
        from api.bootstrap import route_limits
        from api.http.throttle import Throttle

        brand_actors = services.campaigns.gate.state.brands
        app.add_middleware(
            Throttle,
            limiter=services.limiter,
            limits=route_limits(settings),
            proxies=settings.proxy_networks(),
            is_brand=brand_actors.__contains__,
            delay=settings.rate_limit_delay_seconds,
            concurrent=settings.rate_concurrent_writes_per_address,
            answer=lambda scope, error: _routed_refusal(app, scope, error),
        )
    app.add_middleware(HeaderLimit, most=MAX_HEADERS, size=MAX_HEADER_BYTES)
    app.add_middleware(SecurityHeaders)
    app.add_middleware(
        BodyLimit, limit=max_body, uploads=max(max_body, services.settings.content_max_bytes)
    )
    app.mount("/static/swagger-ui", StaticFiles(directory=swagger_ui_path), name="swagger-ui")
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    _offline_docs(app)
    for router in (health, events, contributors, brands, auditor, tiles, pages):
        app.include_router(router)
    return app


def prepare_tables(services: Services) -> None:
    """Create the tables the app adds beside the log (nonces, rate counters, audits) up front.

    ``cocred serve`` calls it before starting its worker processes, so that they do
    not race to create the same tables on a fresh database.
    """
    from api.http.auth import metadata as auth_tables
    from api.http.ratelimit_storage import metadata as rate_tables
    from ledger.provenance.audit_reports import AuditReports
    from ledger.store.engine import create_all

    try:
        create_all(auth_tables, services.engine)
        create_all(rate_tables, services.engine)
        AuditReports(services.engine)
    except sa.exc.SQLAlchemyError as exc:
        raise StorageError(f"cannot create the server's tables: {exc}") from exc
