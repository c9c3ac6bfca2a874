"""CLI verbs for the projections: read models, leaderboard, explanations, payout exports.

``cocred project [--follow] [--rebuild]`` · ``cocred shares --campaign ID`` ·
``cocred explain --campaign ID --member M [--format text|json]`` ·
``cocred export payouts --campaign ID --file-format csv|json|safe-csv|paypal-csv|canonical
--out FILE [--key BRAND.key]``. ``register(app)`` adds them to the main app;
``python -m api.cli.projections`` runs them on their own (the follower process).
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from api.cli.common import (
    CampaignOption,
    DbOption,
    RecordFormat,
    ReportFormat,
    check_format,
    emit,
    err,
    fail,
    guarded,
    out,
    print_json,
    progress_bar,
    refuse,
    services,
)
from domain.errors import DomainError
from ledger.errors import LedgerError

# The projections (their errors too) and the key code are imported by the verbs that run them,
# not when ``cocred`` starts.
if TYPE_CHECKING:
    from api.bootstrap import Services
    from projections.projector import Projector

# The export formats (projections.export.FORMATS; tests/api/cli/test_startup.py pins the two).
EXPORT_FORMATS = ("csv", "json", "safe-csv", "paypal-csv", "canonical")

T = TypeVar("T")


def checked(action: Callable[[], T]) -> T:
    """Run ``action``; a ledger, domain or projection refusal becomes a clean exit 1."""
    from projections.errors import ProjectionError

    try:
        return guarded(action)
    except ProjectionError as exc:
        fail(exc.code, exc.detail)


@contextmanager
def projector_for(svc: Services) -> Iterator[Projector]:
    from projections.projector import Projector

    projector = checked(lambda: Projector(svc.ledger.store, engine=svc.engine))
    try:
        yield projector
    finally:
        projector.close()


class Stop(threading.Event):
    """Set by SIGINT or SIGTERM; remembers which (the handler only sets, never prints)."""

    signal_name: str | None = None


@contextmanager
def stop_on_signals() -> Iterator[Stop]:
    """A ``Stop`` set by SIGINT or SIGTERM (the old handlers come back afterwards)."""
    stop = Stop()

    def handler(signum: int, _: object) -> None:
        stop.signal_name = signal.Signals(signum).name
        stop.set()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def project(
    follow: Annotated[bool, typer.Option(help="Keep following the log until SIGINT/SIGTERM.")] = (
        False
    ),
    rebuild: Annotated[bool, typer.Option(help="Rebuild every read model from position 0.")] = (
        False
    ),
    interval: Annotated[
        float, typer.Option(help="Seconds between polls when idle (doubles up to 5).", min=0.01)
    ] = 0.5,
    listen: Annotated[
        bool,
        typer.Option(
            help="On PostgreSQL, sleep until an append commits (LISTEN/NOTIFY) instead of "
            "polling; --no-listen behind a pooler that cannot LISTEN (PgBouncer in "
            "transaction mode)."
        ),
    ] = True,
    db: DbOption = None,
    fmt: ReportFormat = "text",
) -> None:
    """Bring the read models (attribution, scores, credits) up to the log's head."""
    check_format(fmt)
    with (
        services(db, create=False) as svc,
        projector_for(svc) as projector,
        stop_on_signals() as stop,
    ):
        started = time.perf_counter()
        if rebuild:
            with progress_bar() as bar:
                task = bar.add_task("replaying", total=svc.ledger.size())
                done = checked(lambda: projector.rebuild(lambda n: bar.advance(task, n)))
            seconds = time.perf_counter() - started
            emit(
                {"rebuilt": done, "position": projector.position(), "seconds": round(seconds, 3)},
                fmt,
                text=lambda: out.print(
                    f"rebuilt the read models from the log: {done} events in {seconds:.1f} s",
                    highlight=False,
                ),
            )
        else:
            applied = checked(lambda: projector.catch_up(stop))
            position, size = projector.position(), svc.ledger.size()
            emit(
                {"projected": applied, "position": position, "log_size": size},
                fmt,
                text=lambda: out.print(
                    f"projected {applied} new events; read models at position {position} of {size}",
                    highlight=False,
                ),
            )
        if follow and not stop.is_set():
            err.print("following the log (SIGINT or SIGTERM stops)", markup=False)

            def report(applied: int, position: int) -> None:
                err.print(f"projected {applied} events; position {position}", markup=False)

            checked(
                lambda: projector.follow(stop, interval=interval, on_batch=report, listen=listen)
            )
            err.print(f"{stop.signal_name or 'stop'}: stopped between pages", markup=False)
            if fmt == "text":  # in json, the one document above is the whole output
                out.print(f"stopped at position {projector.position()}", highlight=False)


def shares(
    campaign: CampaignOption,
    limit: Annotated[
        int, typer.Option(help="Show at most this many payees (default 20, the top).", min=1)
    ] = 20,
    fmt: ReportFormat = "text",
    db: DbOption = None,
) -> None:
    """The leaderboard: the top 20 (--limit N for more) credit shares and projected payouts."""
    check_format(fmt)
    from rich.table import Table

    from projections.exact import fraction_text, major_units, percent_text
    from projections.queries import leaderboard

    with services(db, create=False) as svc, projector_for(svc) as projector:
        checked(projector.catch_up)
        row, board = checked(lambda: leaderboard(projector, campaign))
        position = projector.position()
    currency, pool = row["currency"], row["pool"] + row["funded"]
    if fmt == "json":
        print_json(
            {
                "campaign": campaign,
                "as_of": position,
                "currency": currency,
                "pool": pool,
                "payees": len(board),
                "lines": [
                    {
                        "rank": s.rank,
                        "member": s.member,
                        "share": fraction_text(s.share),
                        "amount": s.amount,
                        "capped": s.capped,
                        "below_minimum": s.below_minimum,
                    }
                    for s in board[:limit]
                ],
            }
        )
        return
    table = Table(title=f"{campaign}: pool {major_units(pool, currency)} {currency}")
    for column in ("rank", "member", "share", "payout"):
        table.add_column(column, justify="right" if column != "member" else "left")
    for s in board[:limit]:
        flag = " (cap)" if s.capped else " (< min)" if s.below_minimum else ""
        table.add_row(
            str(s.rank),
            s.member,
            percent_text(s.share),
            f"{major_units(s.amount, currency)}{flag}",
        )
    out.print(table)
    shown = min(limit, len(board))
    more = f" (the top {shown}; --limit {len(board)} shows all)" if shown < len(board) else ""
    out.print(f"{len(board)} payees{more}, as of log position {position}", highlight=False)


def explain(
    campaign: CampaignOption,
    member: Annotated[str, typer.Option("--member", help="The member's actor id.")],
    fmt: ReportFormat = "text",
    db: DbOption = None,
) -> None:
    """Why a member earns what they earn: every cent traced to log positions."""
    check_format(fmt)
    from projections.explain import explain as explain_member
    from projections.state import load_state

    with services(db, create=False) as svc:
        state = checked(lambda: load_state(svc.ledger.store))
    found = checked(lambda: explain_member(state.campaign(campaign), member, state.position))
    if fmt == "json":
        print_json(found.to_json())
    else:
        out.print(found.to_text(), markup=False, highlight=False, soft_wrap=True)


export_app = typer.Typer(no_args_is_help=True, help="Export payouts (and settle them).")


@export_app.command("payouts")
def export_payouts(
    campaign: CampaignOption,
    out_file: Annotated[Path, typer.Option("--out", help="Where to write the export.")],
    file_format: Annotated[
        str, typer.Option("--file-format", help="The file's format: " + " | ".join(EXPORT_FORMATS))
    ] = "csv",
    key: Annotated[
        Path | None,
        typer.Option(
            "--key",
            help="The brand's key: settle (record the export's hash in a signed PayoutsSettled). "
            "Without it the export is a preview.",
        ),
    ] = None,
    token_address: Annotated[
        str | None,
        typer.Option(help="safe-csv: the ERC-20 token to pay with (default: native coin)."),
    ] = None,
    db: DbOption = None,
    output: RecordFormat = "json",
) -> None:
    """Compute the payouts from the log, write them in a format, and (with --key) settle.

    ``--file-format`` is the file's format; ``--format`` is what every command takes, the
    output convention (the summary printed: json or text).
    """
    if output in EXPORT_FORMATS and output != "json":
        fail(
            "BadFormat",
            f"--format is the output (text or json); the file's format is --file-format {output}",
        )
    check_format(output)
    fmt = file_format
    from ledger.keys import SigningKey
    from projections.export import (
        FORMATS,
        prepare_settlement,
        render,
        settlement_envelope,
        settlement_of,
    )
    from projections.state import load_state

    if fmt not in FORMATS:
        fail("BadFormat", f"--file-format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    signer = checked(lambda: SigningKey.load(key)) if key else None
    with services(db) as svc:
        log = checked(lambda: load_state(svc.ledger.store))
        found = checked(lambda: log.campaign(campaign))
        if signer is None:
            settlement = checked(lambda: settlement_of(found))
        else:
            settlement = checked(lambda: prepare_settlement(found, signer.actor))
        data = checked(lambda: render(settlement, fmt, svc.profiles, token_address=token_address))
        temporary = out_file.with_name(f".{out_file.name}.{os.getpid()}.part")
        try:
            temporary.write_bytes(data)
        except OSError as exc:
            fail("ExportRefused", f"cannot write {out_file}: {exc.strerror}")
        position = None
        if signer is not None:
            try:
                env = settlement_envelope(signer, settlement, seq=svc.ledger.next_seq(signer.actor))
                position = svc.campaigns.gate.append(env)
            except (LedgerError, DomainError) as exc:
                temporary.unlink()
                refuse(exc)
        temporary.replace(out_file)
    summary: dict[str, Any] = {
        "campaign": campaign,
        "format": fmt,
        "file": str(out_file),
        "lines": len(settlement.lines),
        "total": settlement.total,
        "currency": settlement.currency,
        "export_sha256": settlement.sha256,
        "settled_at": position,
    }
    emit(summary, output)


def register(app: typer.Typer) -> None:
    """Add ``project``, ``shares``, ``explain`` and ``export payouts`` to ``app``."""
    app.command()(project)
    app.command()(shares)
    app.command()(explain)
    app.add_typer(export_app, name="export")


def main() -> None:
    """Run these verbs on their own (``python -m api.cli.projections project --follow``)."""
    app = typer.Typer(no_args_is_help=True, add_completion=False, help=__doc__)
    register(app)
    app()


if __name__ == "__main__":
    main()
