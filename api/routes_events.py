"""Writes: signed envelopes in, positions out. Every append goes through the rules gate."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel

from api.app import errors, services_of
from api.errors import ApiError
from ledger.envelope import MAX_ENVELOPE_BYTES
from ledger.ledger import MAX_BATCH

router = APIRouter(tags=["events"])


class Appended(BaseModel):
    """Where the event landed in the log (it is durable when this is returned)."""

    position: int


class AppendedBatch(BaseModel):
    """Where each event of the batch landed, in order."""

    positions: list[int]


@router.post(
    "/events",
    status_code=201,
    response_model=Appended,
    responses=errors(401, 403, 404, 409, 413),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {"type": "object", "description": "a signed envelope"}
                }
            },
        }
    },
)
async def append_event(request: Request) -> Appended:
    """Append one signed envelope (checked against every ledger and campaign rule)."""
    body = await request.body()
    if len(body) > MAX_ENVELOPE_BYTES:
        raise ApiError("PayloadTooLarge", f"an envelope is at most {MAX_ENVELOPE_BYTES} bytes")
    services = services_of(request)
    position = await _in_thread(services.campaigns.gate.append, body)
    return Appended(position=position)


@router.post(
    "/events/batch",
    status_code=201,
    response_model=AppendedBatch,
    responses=errors(401, 403, 404, 409, 413),
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
async def append_batch(request: Request) -> AppendedBatch:
    """Append many envelopes in one transaction: all or nothing (an import)."""
    lines = [line for line in (await request.body()).split(b"\n") if line.strip()]
    if not lines:
        raise ApiError("MalformedEvent", "the batch is empty: send one envelope per line")
    if len(lines) > MAX_BATCH:
        raise ApiError(
            "BatchTooLarge", f"a batch holds at most {MAX_BATCH} events, got {len(lines)}"
        )
    services = services_of(request)
    positions = await _in_thread(services.campaigns.gate.append_batch, lines)
    return AppendedBatch(positions=positions)


async def _in_thread(fn: Any, *args: Any) -> Any:
    """Run blocking ledger work off the event loop."""
    from starlette.concurrency import run_in_threadpool

    return await run_in_threadpool(fn, *args)
