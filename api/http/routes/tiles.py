"""The log as C2SP ``tlog-tiles`` (https://c2sp.org/tlog-tiles), for any tile client.

``GET /checkpoint`` is the latest signed checkpoint (a C2SP signed note, text, cached a
few seconds); ``GET /tile/<L>/<N>[.p/<W>]`` a hash tile and ``GET /tile/entries/<N>[.p/<W>]``
an entry bundle (octet streams, immutable). What a tile is: ``ledger.provenance.tiles``.
"""

from __future__ import annotations

from fastapi import APIRouter, Path, Request, Response

from api.http.caching import IMMUTABLE
from api.http.deps import errors, services_of
from ledger.errors import NotFoundError
from ledger.provenance.tiles import Tile, TileReader

router = APIRouter(tags=["auditors"])
CHECKPOINT_CACHE = "public, max-age=2"  # mutable: a client sees a new checkpoint within seconds
_OCTETS = {"content": {"application/octet-stream": {"schema": {"type": "string"}}}}


@router.get(
    "/checkpoint",
    response_class=Response,
    responses={
        200: {
            "description": "the latest checkpoint, a C2SP signed note",
            "content": {"text/plain; charset=utf-8": {"schema": {"type": "string"}}},
        },
        **errors(404),
    },
)
def checkpoint(request: Request) -> Response:
    """The latest signed checkpoint as C2SP ``tlog-checkpoint`` text (``NotFound`` before the
    first one is cut)."""
    latest = services_of(request).provenance.checkpoints.latest()
    if latest is None:
        raise NotFoundError("no checkpoint has been cut yet")
    return Response(
        latest.signed.to_text(),
        media_type="text/plain; charset=utf-8",
        headers={"Cache-Control": CHECKPOINT_CACHE},
    )


@router.get(
    "/tile/{path:path}",
    response_class=Response,
    responses={
        200: {"description": "a hash tile or an entry bundle", **_OCTETS},
        **errors(404),
    },
)
def tile(
    request: Request,
    path: str = Path(
        description="`<L>/<N>[.p/<W>]` or `entries/<N>[.p/<W>]`, N as x001/x234/067",
        max_length=200,
    ),
) -> Response:
    """A tile of the log's Merkle tree, or a bundle of its entries (the stored signed bytes,
    each prefixed by a big-endian uint16 length). ``InvalidTilePath`` (422) for a path that
    is not a tile's, ``TileNotFound`` (404) for a tile the tree does not reach yet."""
    wanted = Tile.parse(f"tile/{path}")
    services = services_of(request)
    tree = services.provenance.tree
    reader = TileReader(tree, services.ledger.store)
    # A tile never changes once the tree reaches it, so a tile within the size this process
    # last saw is served without catching the tree up (that cost more than the tile itself);
    # only a tile beyond it catches the tree up, and the new size is remembered.
    known = getattr(request.app.state, "tile_size", 0)
    try:
        data = reader.read(wanted, known)
    except NotFoundError:
        size = tree.catch_up()
        if size > known:
            request.app.state.tile_size = size
        data = reader.read(wanted, size)
    return Response(
        data, media_type="application/octet-stream", headers={"Cache-Control": IMMUTABLE}
    )
