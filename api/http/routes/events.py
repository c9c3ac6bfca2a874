"""Writes: signed envelopes in, positions out. Every append goes through the rules gate."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.routing import APIRoute

from api.http.deps import errors, services_of
from api.http.errors import ApiError
from api.http.schemas import (
    ENVELOPE_REQUEST_BODY,
    ActorKey,
    ActorKeys,
    Appended,
    AppendedBatch,
    PendingRecovery,
)
from ledger.envelope import MAX_ENVELOPE_BYTES
from ledger.ledger import MAX_BATCH
from ledger.store.group_commit import GroupCommitter

router = APIRouter(tags=["events"])
JSON = "application/json"


class _HotPathRoute(APIRoute):
    """A route whose endpoint takes the ``Request`` and returns a ready ``Response``.

    ``POST /events`` is the hot path (thousands per second): this skips FastAPI's
    per-request dependency solving and response-model validation (most of a
    request's time, bench/README.md), while the OpenAPI description stays what the route declares.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler: Callable[[Request], Coroutine[Any, Any, Response]] = self.endpoint
        return handler


async def append_event(request: Request) -> Response:
    """Append one signed envelope (checked against every ledger and campaign rule).

    Concurrent requests of this process are appended together by the group
    committer (``ledger.store.group_commit``), each with its own position or error.
    201: appended; 200: these exact bytes were already stored (a retry), and
    the position is the stored one.
    """
    body = await request.body()
    if len(body) > MAX_ENVELOPE_BYTES:
        raise ApiError("PayloadTooLarge", f"an envelope is at most {MAX_ENVELOPE_BYTES} bytes")
    committer: GroupCommitter | None = getattr(request.app.state, "committer", None)
    if committer is not None:
        position = await committer.append(body)
        stored_before = getattr(position, "stored_before", False)
    else:  # group commit is off, or the app runs without its lifespan
        positions = await _in_thread(services_of(request).admitting.append_batch, [body])
        position, stored_before = positions[0], bool(positions.stored_before)
    status = 200 if stored_before else 201
    return Response(b'{"position":%d}' % position, status_code=status, media_type=JSON)


# A retry of stored bytes is a success with the stored position, never a refusal;
# a lost COMMIT acknowledgement that cannot be read back is OutcomeUnknown (503).
_RETRIED = {"description": "already stored with these exact bytes (a retry): its position"}


router.add_api_route(
    "/events",
    append_event,
    methods=["POST"],
    status_code=201,
    response_model=Appended,
    responses={200: {"model": Appended, **_RETRIED}, **errors(401, 403, 404, 409, 413)},
    openapi_extra=ENVELOPE_REQUEST_BODY,
    route_class_override=_HotPathRoute,
)


@router.post(
    "/events/batch",
    status_code=201,
    response_model=AppendedBatch,
    responses={
        200: {"model": AppendedBatch, "description": "every event was already stored"},
        **errors(401, 403, 404, 409, 413),
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/x-ndjson": {
                    "schema": {
                        "type": "string",
                        "description": "signed envelopes, one JSON object per line",
                    }
                }
            },
        }
    },
)
async def append_batch(request: Request, response: Response) -> AppendedBatch:
    """Append many envelopes in one transaction: all or nothing (an import).

    Events already stored with the same bytes get their stored positions and the
    rest are appended (201); 200 when every event was already stored.
    """
    lines = [line for line in (await request.body()).split(b"\n") if line.strip()]
    if not lines:
        raise ApiError("MalformedEvent", "the batch is empty: send one envelope per line")
    if len(lines) > MAX_BATCH:
        raise ApiError(
            "BatchTooLarge", f"a batch holds at most {MAX_BATCH} events, got {len(lines)}"
        )
    services = services_of(request)
    positions = await _in_thread(services.admitting.append_batch, lines)
    if len(positions.stored_before) == len(positions):
        response.status_code = 200
    return AppendedBatch(positions=positions)


async def _in_thread(fn: Any, *args: Any) -> Any:
    """Run blocking ledger work off the event loop."""
    from starlette.concurrency import run_in_threadpool

    return await run_in_threadpool(fn, *args)


@router.get("/actors/{actor}", response_model=ActorKeys, responses=errors(404, 422))
def actor_keys(request: Request, actor: str) -> ActorKeys:
    """The actor's key state: its last seq, the seq its next event carries, and its keys
    (public: every key event is in the log). A browser signing in the page asks this first.

    404 ``UnknownActor`` when no ``KeyRegistered`` started that actor.
    """
    from ledger.keys import ID_PATTERN

    if not ID_PATTERN.match(actor):
        raise ApiError("InvalidActorId", f"{actor!r} is not a 43-character actor id", actor=actor)
    from ledger.envelope import format_ts

    ledger = services_of(request).ledger
    state = ledger.actor_state(actor)
    if state is None:
        raise ApiError("UnknownActor", f"actor {actor} is not registered", actor=actor)
    current, pending = state.current, state.pending
    return ActorKeys(
        actor=actor,
        seq=state.seq,
        next_seq=state.seq + 1,
        current=None if current is None else current.key,
        keys=[
            ActorKey(
                key=k.key, since=k.since, until=k.until, revoked=k.revoked, recovered=k.recovered
            )
            for k in state.keys
        ],
        recovery_key=None if state.recovery is None else state.recovery[0],
        pending_recovery=None
        if pending is None
        else PendingRecovery(
            seq=pending.seq, key=pending.key, effective_at=format_ts(pending.effective)
        ),
        disowned=[d.seq for d in ledger.disowned(actor)] if state.compromised else [],
    )
