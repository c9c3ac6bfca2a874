"""CLI verbs for the log as C2SP tlog-tiles: ``cocred tiles export DIR [--cut]``.

The files are the ones ``GET /checkpoint`` and ``GET /tile/…`` serve, laid out for any
static web server or object store (``ledger.provenance.tiles``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from api.cli.common import DbOption, RecordFormat, check_format, emit, fail, guarded, services

tiles_app = typer.Typer(
    no_args_is_help=True, help="The log as C2SP tlog-tiles, for static hosting and tile clients."
)


@tiles_app.command("export")
def export(
    into: Annotated[Path, typer.Argument(help="Directory to write checkpoint and tile/ into.")],
    cut: Annotated[
        bool, typer.Option("--cut", help="Cut a checkpoint of the whole log first.")
    ] = False,
    db: DbOption = None,
    fmt: RecordFormat = "json",
) -> None:
    """Write the latest checkpoint and every tile and entry bundle of its tree under DIR.

    Full tiles already there are kept (they never change), earlier partial tiles stay (a
    client holding an older checkpoint still needs them), the checkpoint is replaced last.
    """
    check_format(fmt)
    from ledger.provenance.tiles import TileReader, export_tiles

    if into.exists() and not into.is_dir():
        fail("InvalidRequest", f"{into} exists and is not a directory")
    with services(db, create=cut) as svc:
        checkpoints = svc.provenance.checkpoints
        if cut:
            guarded(checkpoints.cut)
        latest = guarded(checkpoints.latest)
        if latest is None:
            fail("NotFound", "no checkpoint has been cut yet: run `cocred checkpoint` or --cut")
        # A checkpoint is cut from the persisted tree, so the tree already holds every tile
        # of its size: nothing to catch up (and a read-only export writes nothing).
        reader = TileReader(svc.provenance.tree, svc.ledger.store)
        into.mkdir(parents=True, exist_ok=True)
        report = guarded(lambda: export_tiles(reader, latest.signed.to_text(), latest.size, into))
    emit(
        {
            "size": report.size,
            "root": latest.root.hex(),
            "written": report.written,
            "kept": report.kept,
            "into": str(into),
        },
        fmt,
    )


def register(app: typer.Typer) -> None:
    """Add the ``tiles`` group to the ``cocred`` app."""
    app.add_typer(tiles_app, name="tiles")
