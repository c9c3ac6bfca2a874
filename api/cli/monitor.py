"""``cocred monitor URL``: follow a remote ledger over the C2SP tlog-tiles API and alert.

The checks are ``ledger.provenance.monitor``'s (checkpoint signature, forks and rollbacks,
every new entry, the root and the hash tiles), the watch rules ``projections.watch``'s.
Alerts are JSON lines on stdout (``--format text``: one ``kind: sentence`` line each), a
summary of each pass on stderr, and each alert POSTed as JSON to ``--webhook``.

Exit codes: 0 nothing wrong (watch alerts are information); 1 a refusal, ``error[Code]:
sentence`` (the remote unreachable or answering an HTTP error, a malformed ledger key, a
state file of another ledger); 2 a usage mistake; 3 a fork or a rollback (the ledger key
signed two histories, or the log went back); 4 the remote served data that does not verify
(a checkpoint not signed by the key, entries that do not give its root, a bad tile, bundle
or entry). Polling stops at the first alert of 3 or 4: the state is not advanced past it.
"""

from __future__ import annotations

import json
import re
import signal
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from api.cli.common import (
    QuorumOption,
    WitnessKeysOption,
    check_format,
    err,
    fail,
    guarded,
    refuse,
    witness_policy,
)
from ledger.errors import CocredError

if TYPE_CHECKING:
    from ledger.provenance.monitor import Alert, PassReport

EXIT_SPLIT_VIEW = 3
EXIT_BAD_DATA = 4
_PIECE = re.compile(r"^(?:[0-9a-f]{64}|[A-Za-z0-9_-]{43}:[1-9][0-9]{0,15})$")


def monitor(
    url: Annotated[
        str, typer.Argument(help="The ledger's tlog-tiles URL (it serves /checkpoint, /tile/…).")
    ],
    ledger_key: Annotated[
        str,
        typer.Option(
            "--ledger-key", help="The ledger's verifier key (`cocred ledger-key` prints it)."
        ),
    ],
    state: Annotated[
        Path,
        typer.Option(
            "--state",
            help="State file (SQLite): what was verified, so a next run resumes from there.",
        ),
    ] = Path("var/monitor.sqlite"),
    once: Annotated[bool, typer.Option("--once", help="One pass, then exit.")] = False,
    interval: Annotated[
        float, typer.Option("--interval", min=0.1, help="Seconds between passes.")
    ] = 60.0,
    watch_actor: Annotated[
        list[str] | None,
        typer.Option("--watch-actor", help="Alert on every event this actor signs (repeatable)."),
    ] = None,
    watch_piece: Annotated[
        list[str] | None,
        typer.Option(
            "--watch-piece",
            help="A content hash or contribution id: alert on its submission, remixes, reuses "
            "and licences about to expire (repeatable).",
        ),
    ] = None,
    licence_warning_days: Annotated[
        int,
        typer.Option(
            "--licence-warning-days", min=0, help="Alert this many days before a licence ends."
        ),
    ] = 14,
    webhook: Annotated[
        str | None,
        typer.Option("--webhook", help="POST each alert as JSON to this http(s) URL too."),
    ] = None,
    timeout: Annotated[
        float, typer.Option("--timeout", min=0.1, help="Seconds to wait for the remote.")
    ] = 30.0,
    witness: WitnessKeysOption = None,
    quorum: QuorumOption = None,
    fmt: Annotated[
        str,
        typer.Option(
            "--format", help="json (default: one JSON object per alert and line) or text."
        ),
    ] = "json",
) -> None:
    """Follow a remote ledger over the tiles API: verify every checkpoint and entry, alert.

    Exit 0: all verified; 1: a refusal; 3: a fork or a rollback; 4: data that does not verify.
    """
    check_format(fmt)
    from datetime import timedelta

    from ledger.keys import ID_PATTERN
    from ledger.provenance.monitor import Monitor
    from ledger.provenance.monitor_remote import InvalidURLError, TileClient
    from ledger.provenance.monitor_state import MonitorState
    from ledger.provenance.note import VerifierKey
    from projections.watch import Watch

    for actor in watch_actor or ():
        if not ID_PATTERN.match(actor):
            fail("BadOption", f"--watch-actor must be a 43-character actor id, got {actor!r}")
    for piece in watch_piece or ():
        if not _PIECE.match(piece):
            fail(
                "BadOption",
                f"--watch-piece must be a content hash (64 lowercase hex) or a contribution id "
                f"(<actor>:<seq>), got {piece!r}",
            )
    if webhook is not None and not re.match(r"^https?://[^/?#]+", webhook):
        refuse(InvalidURLError(f"--webhook {webhook!r} is not an http:// or https:// URL"))
    policy = witness_policy(witness, quorum)
    guarded(lambda: VerifierKey.parse(ledger_key))  # before the state file is made
    client = guarded(lambda: TileClient(url, timeout=timeout))
    watch = Watch(
        watch_actor or (), watch_piece or (), warning=timedelta(days=licence_warning_days)
    )
    store = guarded(lambda: MonitorState(state, ledger_key))
    stop = threading.Event()
    previous = _on_signals(stop)
    code = 0
    try:
        follower = guarded(
            lambda: Monitor(client, ledger_key, store, observer=watch, witnesses=policy)
        )
        first = True
        while True:
            try:
                report = follower.poll(stop)
            except CocredError as exc:
                if once or first:
                    refuse(exc)
                err.print(
                    f"error[{exc.code}]: {exc.detail} (trying again in {interval:g} s)",
                    markup=False,
                    highlight=False,
                )
            else:
                first = False
                for alert in report.alerts:
                    _say(alert, fmt, webhook, timeout)
                _summary(report, client.url)
                code = max(code, _exit_code(report))
                if code or report.stopped:
                    break
            if once or stop.wait(interval):
                break
    finally:
        _restore(previous)
        store.close()
        client.close()
    raise typer.Exit(code)


def _exit_code(report: PassReport) -> int:
    if report.split_view:
        return EXIT_SPLIT_VIEW
    return EXIT_BAD_DATA if report.integrity else 0


def _say(alert: Alert, fmt: str, webhook: str | None, timeout: float) -> None:
    data = alert.to_json()
    if fmt == "json":
        typer.echo(json.dumps(data, ensure_ascii=False))
    else:
        typer.echo(f"{alert.kind}: {alert.sentence}")
    if webhook is not None:
        _post(webhook, data, timeout)


def _post(webhook: str, data: dict[str, Any], timeout: float) -> None:
    """POST one alert; a webhook that fails is said on stderr (the alert is on stdout)."""
    import urllib.error
    import urllib.request

    request = urllib.request.Request(
        webhook,
        data=json.dumps(data, ensure_ascii=False).encode(),
        headers={"Content-Type": "application/json", "User-Agent": "cocred-monitor"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            answer.read()
    except (OSError, ValueError) as exc:
        reason: Any = exc.reason if isinstance(exc, urllib.error.URLError) else exc
        if isinstance(reason, OSError) and reason.strerror:
            reason = reason.strerror
        err.print(
            f"warning[WebhookFailed]: POST {webhook}: {reason}", markup=False, highlight=False
        )


def _summary(report: PassReport, url: str) -> None:
    if report.stopped:
        said = f"stopped before the end of a pass; the state stays at size {report.size}"
    elif report.size > report.previous:
        said = (
            f"verified {report.entries} new entries of {url}: size {report.previous} -> "
            f"{report.size}"
        )
    else:
        said = f"nothing new verified at {url} (size {report.size})"
    alerts = len(report.alerts)
    err.print(
        f"monitor: {said}; {alerts} alert{'s' * (alerts != 1)}", markup=False, highlight=False
    )


def _on_signals(stop: threading.Event) -> dict[int, Any]:
    """SIGINT and SIGTERM set ``stop`` (the pass ends between two bundles, nothing half-saved)."""
    previous: dict[int, Any] = {}
    if threading.current_thread() is not threading.main_thread():
        return previous
    for number in (signal.SIGINT, signal.SIGTERM):
        previous[number] = signal.signal(number, lambda *_: stop.set())
    return previous


def _restore(previous: dict[int, Any]) -> None:
    for number, handler in previous.items():
        signal.signal(number, handler)


def register(app: typer.Typer) -> None:
    """Add ``monitor`` to the ``cocred`` app."""
    app.command("monitor")(monitor)
