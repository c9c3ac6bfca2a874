"""What the browser tests share besides fixtures: the server's handle and screenshots."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"


@dataclass(frozen=True)
class Server:
    """The running server: its base URL, its database, the demo brand's and a member's keys."""

    url: str
    database_url: str
    brand_key: Path
    member_key: Path
    log: Path


def screenshot(page: Any, name: str) -> Path:
    """Save a full-page screenshot as ``test-artifacts/screenshots/<name>.png``."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def wait_until(page: Any, predicate: str, arg: Any = None, timeout: float = 30.0) -> Any:
    """Evaluate ``predicate`` in the page (through DevTools) until it is truthy; its value.

    Playwright's ``wait_for_function`` polls by evaluating its string inside the page, which
    the pages' Content-Security-Policy refuses (no ``unsafe-eval``: api/http/security.py).
    """
    deadline = time.monotonic() + timeout
    while True:
        value = page.evaluate(predicate, arg)
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not true after {timeout} s: {predicate}")
        page.wait_for_timeout(50)


def sign_and_send(page: Any, form: Any) -> tuple[str, str]:
    """Send a ``data-act`` form (act.js): (what its preview showed would be signed — the
    type, a newline, the body's canonical JSON — and the answer after "Sign and send")."""
    status = form.locator(".status")
    form.locator("button[type=submit]").click()
    preview = form.locator(".to-sign pre")
    preview.wait_for(state="visible")
    shown = str(preview.inner_text())
    form.locator("button.sign-and-send").click()
    wait_until(page, "el => /^(Signed|error)/.test(el.textContent)", arg=status.element_handle())
    return shown, str(status.inner_text())
