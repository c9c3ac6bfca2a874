"""A database that goes away under a running app: every read is a typed 503, never a 500.

The app runs on a real PostgreSQL reached through a small TCP proxy in this
test. Closing the proxy (its listening socket and every connection through it)
makes the database unreachable for the app, deterministically: pooled
connections break and new ones are refused. Then every GET route of the app's
route table is asked, with plausible path parameters (a real campaign, member,
contribution and position; signed requests where the route needs one).
"""

from __future__ import annotations

import contextlib
import re
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from api.bootstrap import bootstrap
from api.http.app import create_app
from api.http.auth import sign_request
from api.settings import Settings
from domain.demo.generator import DemoSummary, build_demo
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
    "/docs/oauth2-redirect",
    "/redoc",
    "/ledger-key",
    "/healthz",
    "/readyz",
}


class Proxy:
    """Forwards TCP connections from a local port to ``target``, until ``close``."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.sockets: list[socket.socket] = []
        self.lock = threading.Lock()
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return  # closed
            upstream = socket.create_connection(self.target)
            with self.lock:
                if self.closed:
                    client.close()
                    upstream.close()
                    return
                self.sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        """Cut every connection and refuse new ones: the database is unreachable."""
        with self.lock:
            self.closed = True
            self.listener.close()
            for s in self.sockets:
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
                s.close()


def via(url: str, port: int) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=f"{parts.username}@127.0.0.1:{port}"))


class Site:
    def __init__(self, client: TestClient, demo: DemoSummary, proxy: Proxy, sha: str) -> None:
        self.client, self.demo, self.proxy, self.sha = client, demo, proxy, sha


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    url = fresh_postgres_url()
    target = urlsplit(url)
    proxy = Proxy(target.hostname or "127.0.0.1", target.port or 5432)
    where: Path = tmp_path_factory.mktemp("faults")
    settings = Settings(database_url=via(url, proxy.port), ledger_key_file=where / "ledger.key")
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
                proxy.close()
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
    }
    queries = {
        "/proofs/inclusion": "position=0&size=1",
        "/proofs/consistency": "old=1&new=2",
        "/campaigns/{campaign}/payouts/export": "fmt=csv",
    }
    routes = get_routes(client.app)
    assert len(routes) > 25  # the walk covers the whole table
    site.proxy.close()
    answers: dict[str, tuple[int, Any]] = {}
    for route in routes:
        if route.path in WITHOUT_DATABASE:
            continue
        path = re.sub(r"\{(\w+)\}", lambda m: values[m[1]], route.path)
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
    assert "Database unavailable" in page.text and "try again later" in page.text
    body = client.get(f"/campaigns/{demo.campaign}/payouts").json()
    assert body["error"] == "StorageUnavailable"
    assert body["detail"].startswith("the database is unavailable (")
