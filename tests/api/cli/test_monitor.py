"""``cocred monitor URL``: its output (JSON lines, a webhook), its exit codes, its refusals.

The checks themselves are held in ``tests/ledger/provenance/test_monitor.py``, whose real
in-process server and fake tiles server these tests use too.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from api.cli import app
from ledger.provenance.checkpoints import LedgerIdentity
from tests.ledger.provenance.test_monitor import (
    Remote,
    exported,
    fake_tiles,
    free_socket,
    remote_ledger,
)

ROOT = Path(__file__).resolve().parents[3]
runner = CliRunner()


def monitor(*args: str, code: int) -> Any:
    result = runner.invoke(app, ["monitor", *args])
    assert result.exit_code == code, (args, result.stdout, result.stderr, result.exception)
    return result


def lines(stdout: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stdout.splitlines()]


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Remote]:
    with remote_ledger(tmp_path) as remote:
        remote.grow(3)
        remote.cut()
        yield remote


@contextmanager
def webhook() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """A webhook on 127.0.0.1 that keeps the JSON body of every POST."""
    received: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            length = int(self.headers["Content-Length"])
            received.append(json.loads(self.rfile.read(length)))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook", received
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


def test_once_verifies_the_log_prints_no_alert_and_exits_0(served: Remote, tmp_path: Path) -> None:
    state = tmp_path / "m.sqlite"
    done = monitor(served.url, "--ledger-key", served.vkey, "--state", str(state), "--once", code=0)
    assert done.stdout == ""
    assert done.stderr.strip() == (
        f"monitor: verified 3 new entries of {served.url}: size 0 -> 3; 0 alerts"
    )
    again = monitor(served.url, "--ledger-key", served.vkey, "--state", str(state), "--once",
                    code=0)  # fmt: skip
    assert (
        again.stderr.strip() == f"monitor: nothing new verified at {served.url} (size 3); 0 alerts"
    )


def test_watch_alerts_are_json_lines_and_reach_the_webhook(served: Remote, tmp_path: Path) -> None:
    with webhook() as (hook, received):
        done = monitor(served.url, "--ledger-key", served.vkey, "--state",
                       str(tmp_path / "m.sqlite"), "--once", "--watch-actor", served.key.actor,
                       "--webhook", hook, code=0)  # fmt: skip
    said = lines(done.stdout)
    assert [(a["kind"], a["position"], a["type"]) for a in said] == [
        ("watched-actor", 0, "KeyRegistered"),
        ("watched-actor", 1, "NoteShared"),
        ("watched-actor", 2, "NoteShared"),
    ]
    assert said[1]["sentence"] == (
        f"watched actor {served.key.actor} signed NoteShared (seq 2) at position 1"
    )
    assert received == said


def test_an_unreachable_webhook_is_a_warning_and_the_alerts_still_print(
    served: Remote, tmp_path: Path
) -> None:
    with free_socket() as sock:
        hook = f"http://127.0.0.1:{sock.getsockname()[1]}/hook"
        done = monitor(served.url, "--ledger-key", served.vkey, "--state",
                       str(tmp_path / "m.sqlite"), "--once", "--watch-actor", served.key.actor,
                       "--webhook", hook, "--format", "text", code=0)  # fmt: skip
    assert done.stdout.splitlines()[0] == (
        f"watched-actor: watched actor {served.key.actor} signed KeyRegistered (seq 1) at "
        "position 0"
    )
    assert f"warning[WebhookFailed]: POST {hook}: Connection refused" in done.stderr


def test_a_fork_exits_3_and_stops_polling(served: Remote, tmp_path: Path) -> None:
    state = tmp_path / "m.sqlite"
    monitor(served.url, "--ledger-key", served.vkey, "--state", str(state), "--once", code=0)
    with remote_ledger(tmp_path, "b", tmp_path / "ledger.key") as other:
        other.grow(3, tag="b")
        other.cut()
        # Without --once it would poll until interrupted; a fork ends it.
        done = monitor(other.url, "--ledger-key", served.vkey, "--state", str(state),
                       "--interval", "0.1", code=3)  # fmt: skip
    (alert,) = lines(done.stdout)
    assert (alert["kind"], alert["position"], alert["size"]) == ("fork", 3, 3)


def test_a_bad_tile_exits_4(served: Remote, tmp_path: Path) -> None:
    files = exported(served, tmp_path / "x")
    files["tile/0/000.p/3"] = bytes(32) + files["tile/0/000.p/3"][32:]
    with fake_tiles(files) as fake:
        done = monitor(fake.url, "--ledger-key", served.vkey, "--state",
                       str(tmp_path / "m.sqlite"), "--once", "--format", "text",
                       code=4)  # fmt: skip
    assert done.stdout.startswith("bad-tile: tile/0/000.p/3: hash 0 (the node at level 0, index 0)")


def test_a_checkpoint_signed_by_another_key_exits_4(served: Remote, tmp_path: Path) -> None:
    other = LedgerIdentity.load_or_create(tmp_path / "other.key").vkey
    done = monitor(served.url, "--ledger-key", other, "--state", str(tmp_path / "m.sqlite"),
                   "--once", code=4)  # fmt: skip
    (alert,) = lines(done.stdout)
    assert alert["kind"] == "bad-checkpoint" and alert["code"] == "VerificationFailed"


def test_an_unreachable_url_is_refused_and_writes_no_state(tmp_path: Path) -> None:
    vkey = LedgerIdentity.load_or_create(tmp_path / "ledger.key").vkey
    with free_socket() as sock:
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        done = monitor(url, "--ledger-key", vkey, "--state", str(tmp_path / "m.sqlite"),
                       "--once", code=1)  # fmt: skip
    assert done.stderr.strip() == (
        f"error[RemoteUnreachable]: cannot reach {url}/checkpoint: Connection refused"
    )
    assert not (tmp_path / "m.sqlite").exists()


def test_a_log_with_no_checkpoint_yet_is_an_http_error(tmp_path: Path) -> None:
    with remote_ledger(tmp_path) as remote:
        done = monitor(remote.url, "--ledger-key", remote.vkey, "--state",
                       str(tmp_path / "m.sqlite"), "--once", code=1)  # fmt: skip
    assert done.stderr.strip() == (
        f"error[RemoteHTTPError]: GET {remote.url}/checkpoint answered 404 Not Found "
        "(NotFound: no checkpoint has been cut yet)"
    )


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["--ledger-key", "not-a-key"],
         "error[MalformedKey]: verifier key: expected <name>+<key id>+<base64 key>"),
        (["--ledger-key", "VKEY", "--watch-piece", "kite"],
         "error[BadOption]: --watch-piece must be a content hash (64 lowercase hex) or a "
         "contribution id (<actor>:<seq>), got 'kite'"),
        (["--ledger-key", "VKEY", "--watch-actor", "ana"],
         "error[BadOption]: --watch-actor must be a 43-character actor id, got 'ana'"),
        (["--ledger-key", "VKEY", "--webhook", "mailto:me"],
         "error[InvalidURL]: --webhook 'mailto:me' is not an http:// or https:// URL"),
    ],
)  # fmt: skip
def test_bad_options_are_refused_before_anything_is_written(
    tmp_path: Path, args: list[str], said: str
) -> None:
    vkey = LedgerIdentity.load_or_create(tmp_path / "ledger.key").vkey
    args = [vkey if a == "VKEY" else a for a in args]
    state = tmp_path / "m.sqlite"
    done = monitor("http://127.0.0.1:9/", *args, "--state", str(state), "--once", code=1)
    assert done.stderr.strip() == said
    assert not state.exists()


def test_a_url_that_is_not_http_is_refused(tmp_path: Path) -> None:
    vkey = LedgerIdentity.load_or_create(tmp_path / "ledger.key").vkey
    done = monitor("ftp://example.org/log", "--ledger-key", vkey, "--state",
                   str(tmp_path / "m.sqlite"), code=1)  # fmt: skip
    assert done.stderr.strip() == (
        "error[InvalidURL]: 'ftp://example.org/log' is not an http:// or https:// URL of a "
        "cocred ledger"
    )


def test_sigterm_stops_a_polling_monitor_cleanly(served: Remote, tmp_path: Path) -> None:
    state = tmp_path / "m.sqlite"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "api.cli",
            "monitor",
            served.url,
            "--ledger-key",
            served.vkey,
            "--state",
            str(state),
            "--interval",
            "0.2",
        ],  # fmt: skip
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stderr is not None
        first = proc.stderr.readline()
        assert first.startswith("monitor: verified 3 new entries"), first
        os.kill(proc.pid, signal.SIGTERM)
        out, rest = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(10)
    assert proc.returncode == 0, rest
    assert out == "" and "Traceback" not in rest


def test_with_witnesses_it_follows_only_checkpoints_they_cosigned(
    served: Remote, tmp_path: Path
) -> None:
    from ledger.provenance.cosignature import Cosigner
    from ledger.provenance.note import NoteSignature
    from ledger.provenance.witness import Witness, request_body
    from ledger.store.engine import engine_for
    from tests.support import seeded_key

    w1 = Cosigner("witness.test/m1", seeded_key(7701).private)
    w2 = Cosigner("witness.test/m2", seeded_key(7702).private)
    keys = ["--witness", w1.vkey, "--witness", w2.vkey]
    state = str(tmp_path / "m.sqlite")
    base = [served.url, "--ledger-key", served.vkey, "--state", state, "--once", *keys]
    waiting = monitor(*base, code=0)  # not cosigned yet: said, not followed, exit 0
    [alert] = lines(waiting.stdout)
    assert alert["kind"] == "unwitnessed-checkpoint"
    assert alert["sentence"] == (
        f"{served.url}/checkpoint: checkpoint of size 3: 0 of the 2 trusted witnesses cosigned "
        f"it, the policy needs 2 (missing: witness.test/m1+{w1.key_id.hex()}, "
        f"witness.test/m2+{w2.key_id.hex()}); not followed until it is"
    )
    checkpoints = served.services.provenance.checkpoints
    signed = checkpoints.latest().signed
    witness = Witness(engine_for(f"sqlite:///{tmp_path}/w.sqlite"), w1, [served.vkey])
    line = witness.add_checkpoint(request_body(0, (), signed))
    name, raw = line.split(" ")[1:]
    data = base64.b64decode(raw)
    checkpoints.add_cosignatures(3, [NoteSignature(name, data[:4], data[4:])])
    one = monitor(*base, "--quorum", "1", code=0)
    assert one.stdout == "" and "size 0 -> 3" in one.stderr
    # a forged line under a trusted witness's name and key id is the server's lie: exit 4
    forged = NoteSignature(w2.name, w2.key_id, bytes(72))
    checkpoints.add_cosignatures(3, [forged])
    bad = monitor(*base, code=4)
    [alert] = lines(bad.stdout)
    assert alert["kind"] == "bad-checkpoint" and alert["code"] == "BadSignature"
    assert "cosignature by witness witness.test/m2+" in alert["sentence"]
