"""``cocred demo``: build the deterministic demo campaign and narrate it on stderr.

The story itself is ``domain.demo.generator.build_demo``; ``common.run_demo`` (shared with
``serve --demo``) picks the seed, shows progress and tells what happened; this verb prints
the JSON summary on stdout.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from api.cli.common import (
    DbOption,
    RecordFormat,
    check_format,
    emit,
    err,
    guarded,
    run_demo,
    services,
)


def demo(
    seed: Annotated[
        int | None,
        typer.Option(
            help="Seed (default: the first whose campaign is not in the database).", min=0
        ),
    ] = None,
    members: Annotated[int, typer.Option(help="Members (ring and trolls included).", min=10)] = 60,
    contributions: Annotated[int, typer.Option(help="Contributions.", min=20)] = 200,
    votes: Annotated[int, typer.Option(help="Votes cast by the community.", min=0)] = 1500,
    summary: Annotated[
        Path | None, typer.Option(help="Also write the JSON summary to this file.")
    ] = None,
    db: DbOption = None,
    fmt: RecordFormat = "json",
) -> None:
    """Build a deterministic demo campaign: remixes, co-authors, licences, trolls, a vote ring."""
    check_format(fmt)
    with services(db) as svc:
        built = guarded(
            lambda: run_demo(
                svc,
                err,
                seed=seed,
                members=members,
                contributions=contributions,
                votes=votes,
            )  # fmt: skip
        ).to_json()
    if summary is not None:
        summary.write_text(json.dumps(built, indent=2) + "\n", encoding="utf-8")
    emit(built, fmt)


def register(app: typer.Typer) -> None:
    """Add ``demo`` to ``app``."""
    app.command()(demo)
