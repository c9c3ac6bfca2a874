"""Hostile input over HTTP and the CLI gets a typed refusal, never a bare 500.

Each case here once answered ``Internal Server Error`` (or a traceback): an
envelope nested 30,000 levels deep, a signed-request header with a ``created``
that is not a number or a nonce longer than the database column, an unexpected
exception in a route. Now each is ``{"error": code, "detail": sentence}``.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from api.bootstrap import bootstrap
from api.cli import app as cli
from api.http.app import MAX_HEADER_BYTES, MAX_HEADERS, create_app
from api.settings import Settings
from ledger.canonical import MAX_DEPTH
from ledger.envelope import MAX_ENVELOPE_BYTES, Envelope
from tests.support import registration, seeded_key

KIM = seeded_key(71)


@pytest.fixture
def client(store_url: str, tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(database_url=store_url, ledger_key_file=tmp_path / "ledger.key")
    with bootstrap(settings) as services, TestClient(create_app(services)) as c:
        yield c


def deep_envelope(depth: int = 30_000) -> bytes:
    """Kim's registration with arrays nested ``depth`` levels inside its body."""
    raw = registration(KIM).canonical_bytes()
    return raw.replace(b'"body":{', b'"body":{"deep":' + b"[" * depth + b"]" * depth + b",", 1)


DEEP_DETAIL = f"envelope: JSON nested 30002 levels deep, over the limit of {MAX_DEPTH}"


@pytest.mark.parametrize("path", ["/events", "/keys", "/events/batch"])
def test_an_envelope_nested_thirty_thousand_levels_deep_is_a_422(
    client: TestClient, path: str
) -> None:
    response = client.post(path, content=deep_envelope())
    assert response.status_code == 422
    assert response.json()["error"] == "MalformedEvent"
    assert DEEP_DETAIL in response.json()["detail"]
    assert client.get("/log").json()["size"] == 0


def test_the_cli_refuses_an_envelope_nested_thirty_thousand_levels_deep(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path}/cli.sqlite"
    result = CliRunner().invoke(
        cli, ["append", "-", "--db", db], input=deep_envelope().decode() + "\n"
    )
    assert result.exit_code == 1, result.exception
    assert result.stderr.strip() == f"error[MalformedEvent]: line 1: {DEEP_DETAIL}"
    assert Envelope.from_bytes(deep_envelope(MAX_DEPTH - 3)).actor == KIM.actor  # still parses


def test_an_unexpected_exception_is_a_typed_logged_500_never_a_bare_one(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path}/x.sqlite", ledger_key_file=tmp_path / "l.key"
    )
    with bootstrap(settings) as services:
        app = create_app(services)

        def broken() -> None:
            raise ZeroDivisionError("a bug")

        app.add_api_route("/broken", broken)
        with TestClient(app, raise_server_exceptions=False) as client:
            response = client.get("/broken")
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {
        "error": "InternalError",
        "detail": "the server failed on an unexpected ZeroDivisionError; it is logged",
    }
    assert any(
        r.name == "cocred.api" and r.exc_info and r.exc_info[0] is ZeroDivisionError
        for r in caplog.records
    )


def test_a_wrong_method_is_a_405_with_the_allowed_methods(client: TestClient) -> None:
    response = client.delete("/campaigns")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET"
    assert response.json() == {"error": "MethodNotAllowed", "detail": "Method Not Allowed"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _raw_get(port: int, headers: list[str]) -> bytes:
    request = "GET /campaigns HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
    request += "".join(f"{h}\r\n" for h in headers) + "\r\n"
    answer = b""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as conn:
        try:
            conn.sendall(request.encode())
            while chunk := conn.recv(65536):
                answer += chunk
        except ConnectionError:  # the server refused before reading it all
            pass
    return answer


@pytest.mark.slow
def test_cocred_serve_caps_the_count_and_the_size_of_request_headers(tmp_path: Path) -> None:
    port = _free_port()
    env = {**os.environ, "COCRED_LEDGER_KEY_FILE": str(tmp_path / "l.key")}
    command = [sys.executable, "-m", "api.cli", "serve", "--db", f"sqlite:///{tmp_path}/s.sqlite"]
    server = subprocess.Popen(
        [*command, "--port", str(port)], env=env, stderr=subprocess.PIPE, cwd=Path.cwd()
    )
    try:
        for _ in range(300):  # until it listens (no timing is asserted)
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert server.poll() is None, server.stderr and server.stderr.read()
                time.sleep(0.1)
        assert _raw_get(port, []).startswith(b"HTTP/1.1 200")
        many = _raw_get(port, [f"X-H{i}: v" for i in range(MAX_HEADERS + 1)])
        head, _, body = many.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 431")
        assert json.loads(body) == {
            "error": "TooManyHeaders",
            "detail": f"a request has at most {MAX_HEADERS} header fields, got {MAX_HEADERS + 3}",
        }
        big = _raw_get(port, ["X-Big: " + "b" * MAX_HEADER_BYTES])  # arrives in one read
        head, _, body = big.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 431")
        assert json.loads(body)["error"] == "HeadersTooLarge"
        assert json.loads(body)["detail"].startswith(
            f"request headers are limited to {MAX_HEADER_BYTES} bytes, got "
        )
        # A small head with a big body, in one read, is not a big head.
        post = (
            f"POST /events HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
            f"Content-Type: application/json\r\nContent-Length: {200_000}\r\n\r\n"
        ).encode() + b"x" * 200_000
        with socket.create_connection(("127.0.0.1", port), timeout=30) as conn:
            conn.sendall(post)
            answer = b"".join(iter(lambda: conn.recv(65536), b""))
        assert answer.startswith(b"HTTP/1.1 413"), answer[:200]  # the envelope's limit, not 431
        assert json.loads(answer.partition(b"\r\n\r\n")[2]) == {
            "error": "PayloadTooLarge",
            "detail": f"an envelope is at most {MAX_ENVELOPE_BYTES} bytes",
        }
        # Far beyond one read: the protocol stops buffering it and refuses it before the app
        # (it may hang up before the 431 arrives, the rest of the request unread).
        huge = _raw_get(port, ["X-Huge: " + "h" * (8 * MAX_HEADER_BYTES)])
        if huge:
            head, _, body = huge.partition(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 431"), huge[:200]
            assert json.loads(body) == {
                "error": "HeadersTooLarge",
                "detail": f"request headers are limited to {MAX_HEADER_BYTES} bytes, "
                f"got more than {MAX_HEADER_BYTES}",
            }
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_the_openapi_description_gives_the_limit_bounds_and_the_envelope_fields(
    client: TestClient,
) -> None:
    spec = client.get("/openapi.json").json()
    limits = [
        p["schema"]
        for path in spec["paths"].values()
        for op in path.values()
        for p in op.get("parameters", [])
        if p["name"] == "limit"
    ]
    assert len(limits) >= 9 and all(s["minimum"] == 1 and s["maximum"] == 1000 for s in limits)
    for path in ("/events", "/keys"):
        body = spec["paths"][path]["post"]["requestBody"]["content"]["application/json"]
        envelope = body["schema"]
        assert envelope["required"] == [
            "v",
            "type",
            "actor",
            "key",
            "seq",
            "ts",
            "campaign",
            "body",
            "sig",
        ]
        assert envelope["properties"]["seq"] == {
            "type": "integer",
            "minimum": 1,
            "maximum": 2**53 - 1,
        }
