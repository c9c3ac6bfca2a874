"""Limits are shared by server processes: two ``cocred serve`` on one database, one budget.

Two servers on free ports of 127.0.0.1 serve one database (each started and stopped by
its PID). A client alternates between them: together they admit exactly the limit when
it has no lease, and the limit within +-(2 x lease) when it has one; the 429s carry
``Retry-After``; ``/metrics`` on either shows the refusals of both.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def servers(url: str, folder: Path, env: dict[str, str], count: int = 2) -> Iterator[list[int]]:
    procs: list[subprocess.Popen[bytes]] = []
    ports = [free_port() for _ in range(count)]
    base = {
        **os.environ,
        "COCRED_LEDGER_KEY_FILE": str(folder / "ledger.key"),
        "COCRED_RATE_LIMIT_DELAY_SECONDS": "0",
        **env,
    }
    try:
        # One after the other: the first creates the tables of the fresh database.
        for n, port in enumerate(ports):
            log_file = folder / f"server-{n}.log"
            with log_file.open("wb") as log:
                proc = subprocess.Popen(
                    [sys.executable, "-m", "api.cli", "serve", "--db", url, "--port", str(port)],
                    cwd=ROOT,
                    env=base,
                    stdout=subprocess.DEVNULL,
                    stderr=log,
                )
            procs.append(proc)
            deadline = time.monotonic() + 90
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(log_file.read_text()[-2000:])
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5):
                        break
                except OSError:
                    assert time.monotonic() < deadline, "a server did not start"
                    time.sleep(0.2)
        yield ports
    finally:
        for proc in procs:
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait(10)


def get(port: int, path: str) -> tuple[int, dict[str, str], bytes]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=30) as r:
            return r.status, {k.lower(): v for k, v in r.headers.items()}, r.read()
    except urllib.error.HTTPError as e:
        return e.code, {k.lower(): v for k, v in e.headers.items()}, e.read()


def alternate(ports: list[int], requests: int) -> list[tuple[int, dict[str, str], bytes]]:
    return [get(ports[i % len(ports)], "/campaigns") for i in range(requests)]


def test_two_server_processes_admit_one_limit_between_them(store_url: str, tmp_path: Path) -> None:
    env = {"COCRED_RATE_PUBLIC_READS": "20/hour", "COCRED_RATE_LIMIT_LEASE": "0.02"}  # no lease
    with servers(store_url, tmp_path, env) as ports:
        answers = alternate(ports, 30)
        statuses = [status for status, _, _ in answers]
        assert statuses.count(200) == 20 and statuses.count(429) == 10
        status, headers, body = answers[-1]
        refusal = json.loads(body)
        assert refusal["error"] == "RateLimited"
        assert refusal["detail"] == (
            f"client address 127.0.0.1 is over the limit of 20 per 1 hour requests "
            f"(public-reads/address); retry in {headers['retry-after']} s"
        )
        wanted = 'cocred_refused_total{limit="public-reads/address"} 10'
        deadline = time.monotonic() + 15  # each process flushes its refusals once a second
        while wanted not in get(ports[0], "/metrics")[2].decode():
            assert time.monotonic() < deadline, get(ports[0], "/metrics")[2].decode()
            time.sleep(0.3)


def test_two_server_processes_with_a_lease_stay_within_its_tolerance(tmp_path: Path) -> None:
    env = {"COCRED_RATE_PUBLIC_READS": "400/hour", "COCRED_RATE_LIMIT_LEASE": "0.05"}  # lease 20
    with servers(f"sqlite:///{tmp_path}/lease.sqlite", tmp_path, env) as ports:
        admitted = sum(status == 200 for status, _, _ in alternate(ports, 500))
        assert 400 - 2 * 20 <= admitted <= 400 + 2 * 20
