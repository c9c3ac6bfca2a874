"""The HTTP face of a C2SP ``tlog-witness`` (``cocred witness serve``): its own small app.

``POST /add-checkpoint`` is the protocol's call (``ledger.provenance.witness``): 200 with
the cosignature line, 409 with the witness's size as ``text/x.tlog.size``, and 400, 403,
404, 422 as the spec names them, each with the usual ``{"error", "detail"}`` JSON (the
protocol gives those bodies no format; a client reads the status). ``GET /`` tells an
operator what the witness is: its name and verifier key, the logs it follows and the size
it last cosigned for each, and how many requests it kept as evidence of a split view.
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

from ledger.errors import CocredError
from ledger.provenance.witness import (
    MAX_REQUEST,
    Witness,
    WitnessConflictError,
    WitnessRequestError,
)

SIZE_TYPE = "text/x.tlog.size"


def create_witness_app(witness: Witness) -> FastAPI:
    """The witness's app over ``witness`` (the caller owns its engine)."""
    app = FastAPI(title="cocred witness", docs_url=None, redoc_url=None, openapi_url=None)
    # One request at a time per process: the compare-and-swap keeps the state right
    # anyway, this only spares concurrent requests for one origin a needless 409.
    lock = asyncio.Lock()

    @app.post("/add-checkpoint")
    async def add_checkpoint(request: Request) -> Response:
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_REQUEST:
                return _error(WitnessRequestError(f"add-checkpoint: body over {MAX_REQUEST} bytes"))
        try:
            async with lock:
                line = await asyncio.to_thread(witness.add_checkpoint, bytes(body))
        except WitnessConflictError as exc:
            return Response(f"{exc.size}\n", status_code=409, media_type=SIZE_TYPE)
        except CocredError as exc:
            return _error(exc)
        return Response(line, media_type="text/plain; charset=utf-8")

    @app.get("/")
    def about() -> dict[str, Any]:
        states = {s.origin: s for s in witness.states()}
        return {
            "witness": witness.cosigner.name,
            "vkey": witness.cosigner.vkey,
            "logs": [
                {
                    "origin": origin,
                    "keys": [str(k) for k in keys],
                    "size": states[origin].size if origin in states else 0,
                    "cosigned_at": states[origin].cosigned_at if origin in states else None,
                }
                for origin, keys in sorted(witness.logs.items())
            ],
            "evidence": len(witness.evidence()),
        }

    return app


def _error(exc: CocredError) -> JSONResponse:
    status = int(getattr(exc, "status", 400))
    return JSONResponse({"error": exc.code, "detail": exc.detail}, status_code=status)
