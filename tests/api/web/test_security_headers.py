"""Every answer carries the strict Content-Security-Policy (api/http/security.py), and the pages
are built for it: no inline script or style, no event-handler attribute, anywhere.

``tests/browser/test_accessibility.py`` loads every page in Chromium under the policy and
asserts that nothing was refused (``securitypolicyviolation``), and that /docs renders.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.bootstrap import bootstrap
from api.http.app import create_app
from api.http.security import POLICY
from api.settings import Settings
from domain.demo.generator import DemoSummary, build_demo

TEMPLATES = Path(__file__).resolve().parents[3] / "api" / "web" / "templates"
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)
HANDLER = re.compile(r"<[^>]*\son[a-z]+\s*=", re.IGNORECASE)
STYLE = re.compile(r"<style\b|\sstyle\s*=", re.IGNORECASE)
JAVASCRIPT_URL = re.compile(r"""(href|src|action)\s*=\s*["']?\s*javascript:""", re.IGNORECASE)


def inline_code(html: str) -> list[str]:
    """What the policy would refuse to run in ``html``, as the matches found."""
    found: list[str] = []
    for pattern in (INLINE_SCRIPT, HANDLER, STYLE, JAVASCRIPT_URL):
        found.extend(m.group(0)[:80] for m in pattern.finditer(html))
    return found


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, DemoSummary]]:
    tmp = tmp_path_factory.mktemp("csp")
    settings = Settings(database_url=f"sqlite:///{tmp}/csp.sqlite", ledger_key_file=tmp / "l.key")
    services = bootstrap(settings)
    demo = build_demo(services, members=12, contributions=30, votes=120)
    with services, TestClient(create_app(services)) as client:
        yield client, demo


def test_the_policy_allows_this_server_only_and_nothing_inline() -> None:
    directives = dict(d.split(" ", 1) for d in POLICY.split("; "))
    assert directives["default-src"] == "'none'"
    assert directives["script-src"] == "'self'" and directives["style-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'" and directives["object-src"] == "'none'"
    assert "unsafe" not in POLICY and "*" not in POLICY


def test_no_template_holds_inline_script_style_or_handlers() -> None:
    found = {p.name: inline_code(p.read_text()) for p in sorted(TEMPLATES.glob("*.html"))}
    assert {name: code for name, code in found.items() if code} == {}
    assert inline_code('<p onclick="x()">') and inline_code("<script>x()</script>")
    assert inline_code('<i style="color:red">') and not inline_code('<script src="/a.js"></script>')


def test_every_kind_of_answer_carries_the_policy(site: tuple[TestClient, DemoSummary]) -> None:
    client, demo = site
    answers = {
        "page": client.get(f"/c/{demo.campaign}"),
        "docs": client.get("/docs"),
        "json": client.get(f"/campaigns/{demo.campaign}/shares"),
        "static": client.get("/static/act.js"),
        "404 page": client.get("/c/no-such-campaign"),
        "4xx json": client.post("/events", content=b"not json"),
    }
    for what, response in answers.items():
        assert response.headers["content-security-policy"] == POLICY, what
        assert response.headers["x-content-type-options"] == "nosniff", what
        assert response.headers["referrer-policy"] == "no-referrer", what
    assert answers["4xx json"].status_code == 422
    assert answers["404 page"].status_code == 404


def test_the_rendered_pages_hold_no_inline_code(site: tuple[TestClient, DemoSummary]) -> None:
    """The templates and what the views and svg.py put into them, on the demo's pages."""
    client, demo = site
    c = demo.campaign
    payees = client.get(f"/c/{c}/payees").text
    people = sorted(set(re.findall(r'href="(/people/[^"]+)"', payees)))
    paths = ["/", f"/c/{c}", f"/c/{c}/works", f"/c/{c}/join", f"/c/{c}/submit", "/audit"]
    paths += ["/verify", "/keys/import", "/docs", *people[:3]]
    found = {}
    for path in paths:
        response = client.get(path)
        assert response.status_code == 200, path
        if code := inline_code(response.text):
            found[path] = code
    assert found == {}
