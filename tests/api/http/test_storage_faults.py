"""A database that goes away under a running app: every read is a typed 503, never a 500.

The app runs on a real PostgreSQL reached through a small TCP proxy in this
test (``tests.pgproxy``). Cutting the proxy (every connection through it, and
each new one hung up on) makes the database unreachable for the app,
deterministically: pooled connections break and new ones fail. Then every GET route of the app's
route table is asked, with plausible path parameters (a real campaign, member,
contribution and position; signed requests where the route needs one).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from api.bootstrap import bootstrap
from api.http.app import create_app
from api.http.auth import sign_request
from api.settings import Settings
from domain.demo.generator import DemoSummary, build_demo
from tests.pgproxy import PgProxy
from tests.support import drop_postgres_schema, fresh_postgres_url, registration, seeded_key

pytestmark = pytest.mark.postgres
KIM = seeded_key(81)
# Routes that answer without the database, by design: the API description and its
# viewers, and the ledger's public key (read from its key file at start-up). /healthz
# and /readyz (issue 14 §2) have tests of their own: a process that is up but cannot
# reach its database is what /readyz reports.
WITHOUT_DATABASE = {
    "/openapi.json",
    "/docs",
    "/ledger-key",
    "/healthz",
    "/readyz",
}


class Site:
    def __init__(self, client: TestClient, demo: DemoSummary, proxy: PgProxy, sha: str) -> None:
        self.client, self.demo, self.proxy, self.sha = client, demo, proxy, sha


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    url = fresh_postgres_url()
    proxy = PgProxy()
    where: Path = tmp_path_factory.mktemp("faults")
    # Public reads within one lease of the limiter for the whole walk, so each route's own
    # fault is what answers (the limiter's own, once it needs the database: test_limits.py).
    settings = Settings(
        registration="open",
        database_url=proxy.url(url),
        ledger_key_file=where / "ledger.key",
        rate_public_reads="100000/minute",
    )
    try:
        with bootstrap(settings) as services:
            demo = build_demo(services, seed=1, members=12, contributions=24, votes=80)
            app = create_app(services)
            with TestClient(app, raise_server_exceptions=False) as client:
                assert client.post("/keys", content=registration(KIM).canonical_bytes()).is_success
                sha = ""
                for page in client.get("/log", params={"limit": 1000}).json()["events"]:
                    sha = sha or page["event"]["body"].get("content", "")
                yield Site(client, demo, proxy, sha)
                proxy.cut()
    finally:
        proxy.close()
        drop_postgres_schema(url)


def get_routes(app: FastAPI) -> list[APIRoute]:
    """Every GET route of the app's route table (the included routers' too)."""

    def flat(routes: list[Any]) -> Iterator[Any]:
        for route in routes:
            if hasattr(route, "original_router"):  # an included router
                yield from flat(route.original_router.routes)
            else:
                yield route

    return [r for r in flat(app.routes) if "GET" in (getattr(r, "methods", None) or ())]


def test_every_get_route_answers_503_storage_unavailable_when_the_database_is_gone(
    site: Site,
) -> None:
    demo, client = site.demo, site.client
    contribution = (demo.removed or demo.shortlisted or demo.rejected)[0]
    values = {
        "campaign": demo.campaign,
        "actor": KIM.actor,
        "contribution": contribution,
        "position": "0",
        "sha256": site.sha or "0" * 64,
        "fmt": "json",
        "name": "members",  # a campaign's list page, /c/{campaign}/{name}
        "member": KIM.actor,  # a member's claim proof
        "path": "0/000",  # a tile, /tile/{path:path}
    }
    queries = {
        "/proofs/inclusion": "position=0&size=1",
        "/proofs/consistency": "old=1&new=2",
        "/campaigns/{campaign}/payouts/export": "fmt=csv",
    }
    routes = get_routes(client.app)
    assert len(routes) > 25  # the walk covers the whole table
    site.proxy.cut()
    answers: dict[str, tuple[int, Any]] = {}
    for route in routes:
        if route.path in WITHOUT_DATABASE:
            continue
        path = re.sub(r"\{(\w+)(?::\w+)?\}", lambda m: values[m[1]], route.path)
        query = queries.get(route.path, "")
        needs_signature = any(
            d.call.__name__ == "request_signer" for d in route.dependant.dependencies
        )
        headers = sign_request(KIM, "GET", path, query=query) if needs_signature else {}
        response = client.get(path + ("?" + query if query else ""), headers=headers)
        is_page = "text/html" in response.headers.get("content-type", "")
        if is_page:
            code = re.search(r'data-error="(\w+)"', response.text)
            answers[route.path] = (response.status_code, code and code[1])
        elif response.headers.get("content-type", "").startswith("application/json"):
            answers[route.path] = (response.status_code, response.json().get("error"))
        else:  # a bare "Internal Server Error" in plain text, as before the fix
            answers[route.path] = (response.status_code, response.text[:40])
    wrong = {p: a for p, a in answers.items() if a != (503, "StorageUnavailable")}
    assert not wrong, wrong
    assert client.get("/ledger-key").status_code == 200  # from memory, as said above
    page = client.get(f"/c/{demo.campaign}")
    assert page.headers["content-type"].startswith("text/html")
    # The page reads the log's size first (its ETag), so the store's own typed sentence
    # ("PostgreSQL read failed: …") is what it says.
    assert "Database unavailable" in page.text and 'data-error="StorageUnavailable"' in page.text
    assert "read failed" in page.text
    body = client.get(f"/campaigns/{demo.campaign}/payouts").json()
    assert body["error"] == "StorageUnavailable"
    assert body["detail"].startswith("the database is unavailable (")
