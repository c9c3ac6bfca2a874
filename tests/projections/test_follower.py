"""``cocred project --follow`` as a separate process: follows, stops on a signal, resumes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ledger.ledger import Ledger
from projections.projector import Projector
from tests.projections.builders import Script
from tests.projections.lively import demo

ROOT = Path(__file__).resolve().parents[2]


def start_follower(url: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "api.cli.projections",
            "project",
            "--follow",
            "--interval",
            "0.05",
            "--db",
            url,
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for(projector: Projector, position: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while projector.position() < position:
        if time.monotonic() > deadline:
            pytest.fail(f"the follower did not reach position {position}")
        time.sleep(0.05)


def stop(process: subprocess.Popen[str], sig: int) -> tuple[str, str]:
    process.send_signal(sig)
    out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    return out, err


@pytest.mark.slow
def test_the_follower_keeps_up_stops_on_a_signal_and_resumes(
    store_url: str, ledger: Ledger
) -> None:
    script = Script(keep=False)
    demo(script, members=30, contributions=40, votes=300, ring=3)
    events = script.pending
    first, second = len(events) // 3, 2 * len(events) // 3
    ledger.append_batch(events[:first])
    watcher = Projector(ledger.store)
    follower = start_follower(store_url)
    try:
        wait_for(watcher, first)
        ledger.append_batch(events[first:second])  # appended while it follows
        wait_for(watcher, second)
    finally:
        out, err = stop(follower, signal.SIGTERM)
    assert f"projected {first} new events; read models at position {first} of {first}" in out
    assert out.strip().endswith(f"stopped at position {second}")
    assert "SIGTERM: stopped between pages" in err

    ledger.append_batch(events[second:])  # appended while no follower runs
    follower = start_follower(store_url)
    try:
        wait_for(watcher, len(events))
    finally:
        out, _ = stop(follower, signal.SIGINT)
    assert f"projected {len(events) - second} new events" in out  # resumed, not restarted
    assert watcher.position() == len(events)
    watcher.close()
