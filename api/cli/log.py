"""``cocred sign|append|log|verify``: signed envelopes into the log, out of it, re-verified.

Every refusal prints ``error[Code]: sentence`` on stderr and exits 1, having written nothing.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

from api.cli.common import (
    REFUSALS,
    DbOption,
    KeyOption,
    Refusal,
    ReportFormat,
    check_format,
    emit,
    fail,
    guarded,
    out,
    progress_bar,
    services,
)
from domain.vocabulary import CAMPAIGN_EVENT_TYPES
from ledger.key_events import KEY_EVENT_TYPES
from ledger.limits import IMPORT_BATCH, MAX_BATCH

# The ledger's code (canonical JSON, keys, the verifier) is imported by the verbs, when they run.


def _parse_body(text: str) -> dict[str, Any]:
    from ledger.canonical import CanonicalizationError, parse_json

    try:
        body = parse_json(text)
    except CanonicalizationError as exc:
        fail("MalformedEvent", f"--body: {exc.detail}")
    if not isinstance(body, dict):
        fail("MalformedEvent", "--body must be a JSON object")
    return body


SIGNABLE_TYPES = ", ".join(sorted(CAMPAIGN_EVENT_TYPES | KEY_EVENT_TYPES))
ENVELOPES_FORMAT = (
    "text (default: each envelope's exact signed bytes, one JSON line each, what `cocred "
    "append` reads) or json (one indented document)."
)


def sign(
    key: KeyOption,
    type_: Annotated[str, typer.Option("--type", help=f"Event type: one of {SIGNABLE_TYPES}.")],
    body: Annotated[str, typer.Option(help="Event body as a JSON object.")] = "{}",
    campaign: Annotated[str | None, typer.Option(help="Campaign id.")] = None,
    seq: Annotated[int | None, typer.Option(help="Seq (default: next from the store).")] = None,
    db: DbOption = None,
    fmt: Annotated[str, typer.Option("--format", help=ENVELOPES_FORMAT)] = "text",
) -> None:
    """Print a signed envelope (one JSON line) ready for ``cocred append``."""
    from ledger.canonical import parse_json
    from ledger.envelope import sign_envelope
    from ledger.keys import SigningKey

    check_format(fmt)
    signer = guarded(lambda: SigningKey.load(key))
    parsed = _parse_body(body)
    if seq is None:
        with services(db) as svc:
            seq = guarded(lambda: svc.ledger.next_seq(signer.actor))
    env = guarded(lambda: sign_envelope(signer, type_, parsed, seq=seq, campaign=campaign))
    line = env.canonical_bytes().decode()
    emit(parse_json(line), fmt, text=lambda: sys.stdout.write(line + "\n"))


def _numbered_lines(source: str) -> list[tuple[int, str]]:
    try:
        text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        fail("MalformedEvent", f"cannot read {source}: {exc}")
    return [(n, line) for n, line in enumerate(text.splitlines(), 1) if line.strip()]


def _line_error(exc: Refusal, chunk: list[tuple[int, str]], done: int) -> NoReturn:
    index = exc.ids.get("index")
    if isinstance(index, int):
        detail = exc.detail.split(": ", 1)[1] if exc.detail.startswith("event ") else exc.detail
        where = f"line {chunk[index][0]}: {detail}"
    else:
        where = f"line {chunk[0][0]}: {exc.detail}"
    if done:
        where += f" ({done} earlier events were appended before this failure)"
    fail(exc.code, where)


def append(
    source: Annotated[str, typer.Argument(help="JSON-lines file of envelopes, or -.")],
    batch: Annotated[
        int, typer.Option(help="Events per transaction.", min=1, max=MAX_BATCH)
    ] = IMPORT_BATCH,
    db: DbOption = None,
    fmt: ReportFormat = "text",
) -> None:
    """Append signed envelopes through the campaign rules.

    The whole input is checked first (signatures, keys, seqs and the campaign
    rules, each event against the ones before it); bad input writes nothing.
    """
    check_format(fmt)
    lines = _numbered_lines(source)
    chunks = [lines[i : i + batch] for i in range(0, len(lines), batch)]
    with services(db) as svc, progress_bar() as bar:
        gate = svc.campaigns.gate
        if len(chunks) > 1:  # check everything before writing anything
            task = bar.add_task("checking", total=len(lines))
            with gate.dry_run() as check:
                for chunk in chunks:
                    try:
                        check([text for _, text in chunk])
                    except REFUSALS as exc:
                        _line_error(exc, chunk, 0)
                    bar.advance(task, len(chunk))
        task = bar.add_task("appending", total=len(lines))
        positions: list[int] = []
        already = 0  # retried events: their exact bytes were in the log, nothing new written
        for chunk in chunks:
            try:
                appended = gate.append_batch([text for _, text in chunk])
                positions += appended
                already += len(appended.stored_before)
            except REFUSALS as exc:
                _line_error(exc, chunk, len(positions))
            bar.advance(task, len(chunk))
    first = f" at positions {min(positions)}..{max(positions)}" if positions else ""
    stored = f" ({already} already stored)" if already else ""
    summary = {
        "appended": len(positions),
        "first": min(positions) if positions else None,
        "last": max(positions) if positions else None,
        "already_stored": already,
    }
    emit(
        summary,
        fmt,
        text=lambda: out.print(f"appended {len(positions)} events{first}{stored}", highlight=False),
    )


def log_(
    start: Annotated[int, typer.Option("--from", help="First position.", min=0)] = 0,
    actor: Annotated[str | None, typer.Option(help="Only this actor's events.")] = None,
    limit: Annotated[int | None, typer.Option(help="At most this many.", min=1)] = None,
    positions: Annotated[
        bool, typer.Option(help="Prefix each line with its position and a tab.")
    ] = False,
    db: DbOption = None,
    fmt: Annotated[str, typer.Option("--format", help=ENVELOPES_FORMAT)] = "text",
) -> None:
    """Print stored envelopes as JSON lines, in log order (or one actor's, by seq).

    ``--format json`` prints one document instead: a list of ``{position, event}``.
    """
    from ledger.canonical import parse_json

    check_format(fmt)
    with services(db, create=False) as svc:
        store = svc.ledger.store
        if actor is not None:
            records = guarded(lambda: store.read_actor(actor, limit=limit))
            records = [r for r in records if r.position >= start]
        else:
            stop = None if limit is None else start + limit
            records = guarded(lambda: list(store.iterate(start, stop)))
        if fmt == "json":
            emit(
                [
                    {"position": r.position, "event": parse_json(r.data.decode("utf-8", "replace"))}
                    for r in records
                ],
                fmt,
            )
            return
        for record in records:
            prefix = f"{record.position}\t" if positions else ""
            sys.stdout.write(prefix + record.data.decode("utf-8", "replace") + "\n")


def verify(db: DbOption = None, fmt: ReportFormat = "text") -> None:
    """Re-verify every stored event; exit 1 naming the first bad position and why."""
    from ledger.verify import verify_log

    check_format(fmt)
    with services(db, create=False) as svc, progress_bar() as bar:
        total = guarded(svc.ledger.size)
        task = bar.add_task("verifying", total=total)
        report = guarded(
            lambda: verify_log(
                svc.ledger.store,
                threads=svc.settings.verify_threads,
                progress=lambda n: bar.advance(task, n),
            )
        )
    if report.failure is not None:
        fail("VerificationFailed", str(report.failure))

    def text() -> None:
        out.print(
            f"verified {report.events} events from {report.actors} actors: all signatures, "
            f"key states and seq chains hold",
            highlight=False,
        )
        for d in report.disowned:
            out.print(f"disowned: {d}", highlight=False, markup=False)

    emit(
        {
            "verified": True,
            "events": report.events,
            "actors": report.actors,
            "disowned": [
                {
                    "position": d.position,
                    "actor": d.actor,
                    "seq": d.seq,
                    "key": d.key,
                    "statement_seq": d.statement,
                }
                for d in report.disowned
            ],
        },
        fmt,
        text=text,
    )


def register(app: typer.Typer) -> None:
    """Add ``sign``, ``append``, ``log`` and ``verify`` to ``app``."""
    app.command()(sign)
    app.command()(append)
    app.command("log")(log_)
    app.command()(verify)
