"""The /verify page without a browser: what it serves, where it is linked from, the vendored
RFC 8785 implementation it imports. ``tests/browser/test_verify_browser.py`` runs its checks in
Chromium against Python's ``verify_bundle``."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from html import unescape
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.bootstrap import Services, bootstrap
from api.http.app import create_app
from api.settings import Settings
from domain.demo.generator import build_demo
from projections.queries import leaderboard

STATIC = Path(__file__).resolve().parents[3] / "api" / "web" / "static"
VENDOR = STATIC / "vendor"
CANONICALIZE_SHA256 = "c1d0195af2a0748454b06af8f218e5c90415c19d39154d0058fee8229c12d859"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Services, TestClient, str]]:
    tmp = tmp_path_factory.mktemp("verify-page")
    settings = Settings(database_url=f"sqlite:///{tmp}/v.sqlite", ledger_key_file=tmp / "l.key")
    services = bootstrap(settings)
    demo = build_demo(services, members=20, contributions=40, votes=100)
    with services, TestClient(create_app(services)) as client:
        yield services, client, demo.campaign


def test_the_verify_page_loads_its_module_and_explains_the_cli_without_javascript(
    served: tuple[Services, TestClient, str],
) -> None:
    services, client, _ = served
    response = client.get("/verify")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    html = response.text
    assert '<script type="module" src="/static/verify.js"></script>' in html
    assert '<form id="verify-form" class="verify" hidden>' in html  # shown by the module
    notice = re.search(r'<p class="notice needs-script" id="verify-noscript">(.*?)</p>', html, re.S)
    assert notice and "JavaScript" in notice[1]
    commands = unescape(html[html.index('<pre class="commands"') :])
    assert f"VKEY='{services.provenance.identity.vkey}'" in commands
    assert 'cocred verify-proof receipt.json --ledger-key "$VKEY"' in commands
    assert "--witness" in commands and "--quorum 2" in commands
    for label in ("bundle-file", "ledger-key", "witness-keys", "quorum"):
        assert f'<label for="{label}">' in html


def test_the_module_and_the_vendored_canonicalize_are_served_as_javascript(
    served: tuple[Services, TestClient, str],
) -> None:
    _, client, _ = served
    for path in ("/static/verify.js", "/static/vendor/canonicalize/canonicalize.js"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert response.headers["content-type"].split(";")[0] in (
            "text/javascript",
            "application/javascript",
        )
    module = client.get("/static/verify.js").text
    assert 'import canonicalize from "./vendor/canonicalize/canonicalize.js";' in module
    # WebCrypto only: no hand-written hash or curve, no other import
    assert module.count("import ") == 1
    assert 'crypto.subtle.digest("SHA-256"' in module and '{ name: "Ed25519" }' in module


def test_the_vendored_canonicalize_is_npm_canonicalize_5_1_0_with_its_apache_licence() -> None:
    source = (VENDOR / "canonicalize" / "canonicalize.js").read_bytes()
    assert hashlib.sha256(source).hexdigest() == CANONICALIZE_SHA256
    assert (VENDOR / "canonicalize" / "LICENSE").read_text().lstrip().startswith("Apache License")
    readme = (VENDOR / "README.md").read_text()
    assert "`canonicalize` 5.1.0" in readme and "Apache-2.0" in readme
    assert CANONICALIZE_SHA256 in readme


def test_the_auditor_page_and_each_work_on_a_contributor_page_link_to_the_verifier(
    served: tuple[Services, TestClient, str],
) -> None:
    services, client, campaign = served
    assert '<a href="/verify" id="verify-link">' in client.get("/audit").text
    _, standings = leaderboard(client.app.state.reads.projector(), campaign)
    html = client.get(f"/people/{standings[0].member}").text
    works = html.count('<article class="work"')
    assert works >= 1
    assert html.count('download="cocred-proof-') >= works
    assert html.count('class="small verify-link" href="/verify"') == works
