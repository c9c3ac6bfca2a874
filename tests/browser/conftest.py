"""A real server and a real browser: ``cocred serve --demo`` on a free loopback port, and
Debian's Chromium driven by Playwright.

The server is the CLI's own ``serve`` command in a subprocess (uvicorn, the demo
campaign loaded into a fresh SQLite file); a checkpoint is cut and an audit
recorded before the tests look at it. It is stopped by PID in teardown, also when
a test fails. Without ``/usr/bin/chromium`` or the ``playwright`` package the
tests call ``unavailable``: a skip locally, a failure under ``COCRED_STRICT=1``.
Full-page screenshots go to ``test-artifacts/screenshots/``.
"""

from __future__ import annotations

import importlib.util
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from domain.demo.story import demo_key
from tests.browser.support import ROOT, Server
from tests.support import unavailable

CHROMIUM = Path("/usr/bin/chromium")
STARTUP_SECONDS = 120  # the demo is built first: a few seconds on this machine


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


COCRED = [sys.executable, "-c", "from api.cli import main; main()"]  # the console script


def _cocred(*args: str) -> str:
    done = subprocess.run([*COCRED, *args], cwd=ROOT, capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        pytest.fail(f"cocred {' '.join(args)} exited with {done.returncode}:\n{done.stderr}")
    return done.stdout


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """``cocred serve --demo`` on 127.0.0.1, with a checkpoint and a recorded audit."""
    tmp = tmp_path_factory.mktemp("browser")
    database_url = f"sqlite:///{tmp}/demo.sqlite"
    port = _free_port()
    log = tmp / "serve.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [
                *COCRED,
                "serve",
                "--demo",
                "--db",
                database_url,
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while not _answers(url + "/"):
            if process.poll() is not None:
                pytest.fail(f"cocred serve exited with {process.returncode}:\n{log.read_text()}")
            if time.monotonic() > deadline:
                pytest.fail(
                    f"cocred serve did not answer within {STARTUP_SECONDS} s:\n{log.read_text()}"
                )
            time.sleep(0.2)
        _cocred("checkpoint", "--db", database_url)
        _cocred("audit", "--db", database_url)
        brand, member = tmp / "brand.key", tmp / "member.key"
        demo_key(1, "brand", 0).save(brand)
        demo_key(1, "member", 1).save(member)
        yield Server(url, database_url, brand, member, log)
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Debian's Chromium, headless, through Playwright."""
    if importlib.util.find_spec("playwright") is None:
        unavailable("the playwright Python package is not installed (pip install -e .[dev])")
    if not CHROMIUM.exists():
        unavailable(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=["--no-sandbox", "--disable-dev-shm-usage"],
        )
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser: Any, server: Server) -> Iterator[Any]:
    """A fresh tab (its own context, downloads allowed) on the server."""
    context = browser.new_context(
        base_url=server.url, accept_downloads=True, viewport={"width": 1280, "height": 900}
    )
    context.set_default_timeout(30_000)
    tab = context.new_page()
    try:
        yield tab
    finally:
        context.close()
