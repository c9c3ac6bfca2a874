"""Every page, at a desktop width and at a phone's 390 px: axe-core (from npm, injected into
the page) reports no serious or critical violation, and nothing scrolls sideways.

axe-core is installed by ``make node`` into ``tests/browser/axe/node_modules``; without it
the tests call ``unavailable`` (a failure under ``COCRED_STRICT=1``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.support import ROOT, Server
from tests.support import unavailable

AXE = ROOT / "tests" / "browser" / "axe" / "node_modules" / "axe-core" / "axe.min.js"
WIDTHS = {"desktop": 1280, "phone": 390}
CAMPAIGN = "demo-1"
SERIOUS = ("serious", "critical")


def _pages(server: Server, browse: Any) -> list[str]:
    """Every kind of page: home, campaign, its lists, two contributors, a piece's thread,
    auditor, an error."""
    browse.goto(f"/c/{CAMPAIGN}/payees")
    people = browse.locator("main a[href^='/people/']").evaluate_all(
        "links => links.map(a => a.getAttribute('href'))"
    )
    assert len(people) >= 2, "the payees list links its payees"
    browse.goto(people[0])
    threads = browse.locator("main a[href*='/comments/']").evaluate_all(
        "links => links.map(a => a.getAttribute('href'))"
    )
    assert threads, "a contributor's works link their comment threads"
    return [
        "/",
        f"/c/{CAMPAIGN}",
        *(f"/c/{CAMPAIGN}/{name}" for name in ("payees", "decisions", "queue", "members")),
        *(f"/c/{CAMPAIGN}/{name}" for name in ("works", "reuses", "reports", "appeals")),
        people[0],  # the top earner
        people[-1],
        threads[0],  # a piece's comment thread
        "/audit",
        "/verify",
        "/keys/recover",
        "/c/no-such-campaign",
    ]


@pytest.fixture(scope="module")
def paths(browser: Any, server: Server) -> Iterator[list[str]]:
    context = browser.new_context(base_url=server.url)
    try:
        yield _pages(server, context.new_page())
    finally:
        context.close()


def _violations(page: Any) -> list[dict[str, Any]]:
    page.evaluate(AXE.read_text())  # through DevTools: the page's CSP admits no inline script
    found = page.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
    )
    return [
        {
            "rule": v["id"],
            "impact": v["impact"],
            "help": v["help"],
            "where": [n["target"] for n in v["nodes"][:3]],
            "html": [n["html"][:160] for n in v["nodes"][:2]],
            "why": [n.get("failureSummary", "")[:300] for n in v["nodes"][:1]],
            "count": len(v["nodes"]),
        }
        for v in found
        if v["impact"] in SERIOUS
    ]


@pytest.mark.parametrize("width", list(WIDTHS))
def test_no_page_has_a_serious_accessibility_violation_or_scrolls_sideways(
    browser: Any, server: Server, paths: list[str], width: str
) -> None:
    if not AXE.exists():
        unavailable(f"axe-core is not installed at {AXE} (make node)")
    context = browser.new_context(
        base_url=server.url, viewport={"width": WIDTHS[width], "height": 900}
    )
    context.set_default_timeout(30_000)
    found: dict[str, Any] = {}
    try:
        page = context.new_page()
        for path in paths:
            page.goto(path)
            problems: list[Any] = _violations(page)
            overflow = page.evaluate(
                "() => document.documentElement.scrollWidth - window.innerWidth"
            )
            if overflow > 0:
                problems.append(f"scrolls sideways by {overflow} px")
            if problems:
                found[path] = problems
    finally:
        context.close()
    assert found == {}, found


REFUSALS = """
window.__refused = [];
document.addEventListener("securitypolicyviolation", (e) =>
  window.__refused.push(`${e.effectiveDirective} refused ${e.blockedURI || "inline"}`));
"""


def test_no_page_breaks_its_content_security_policy(
    browser: Any, server: Server, paths: list[str]
) -> None:
    """Every page (and /docs, the join and key pages) runs under the strict policy of
    api/http/security.py with nothing refused: no inline script or style, nothing from
    elsewhere. A page that broke it would lose its script or its look in every browser."""
    context = browser.new_context(base_url=server.url)
    context.add_init_script(REFUSALS)
    refused: dict[str, list[str]] = {}
    console: list[str] = []
    try:
        page = context.new_page()
        page.on(
            "console",
            lambda m: console.append(m.text) if "Content Security Policy" in m.text else None,
        )
        extra = ["/docs", f"/c/{CAMPAIGN}/join", f"/c/{CAMPAIGN}/submit", "/keys/import"]
        for path in [*paths, *extra]:
            response = page.goto(path)
            assert response is not None and "script-src 'self'" in (
                response.headers.get("content-security-policy", "")
            ), path
            page.wait_for_load_state("networkidle")
            if found := page.evaluate("window.__refused"):
                refused[path] = found
        page.goto("/docs")
        page.wait_for_selector(".opblock-summary-path", timeout=30_000)
    finally:
        context.close()
    assert refused == {} and console == [], (refused, console)


def test_axe_is_the_one_from_npm() -> None:
    """The script injected is the npm package's (its licence beside it), not a copy."""
    if not AXE.exists():
        unavailable(f"axe-core is not installed at {AXE} (make node)")
    assert (AXE.parent / "LICENSE").read_text().startswith("Mozilla Public License")
    assert Path(AXE).read_text()[:200].startswith("/*! axe v4.14.1")


def test_the_api_docs_render_with_no_network_beyond_the_server(
    browser: Any, server: Server
) -> None:
    """/docs loaded Swagger UI from a CDN and showed nothing offline; now from the package."""
    context = browser.new_context(base_url=server.url)
    outside: list[str] = []

    def only_the_server(route: Any) -> None:
        if route.request.url.startswith(server.url):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    try:
        page = context.new_page()
        page.route("**/*", only_the_server)
        page.goto("/docs")
        page.wait_for_selector(".opblock-summary-path", timeout=30_000)
        paths = page.locator(".opblock-summary-path").all_inner_texts()
        assert "/events" in [p.strip() for p in paths] and len(paths) > 20
        assert outside == [], "nothing is fetched from outside the server"
    finally:
        context.close()
