"""Hostile input over HTTP and the CLI gets a typed refusal, never a bare 500.

Each case here once answered ``Internal Server Error`` (or a traceback): an
envelope nested 30,000 levels deep, a signed-request header with a ``created``
that is not a number or a nonce longer than the database column, an unexpected
exception in a route. Now each is ``{"error": code, "detail": sentence}``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from api.app import create_app
from api.bootstrap import bootstrap
from api.cli import app as cli
from api.settings import Settings
from ledger.canonical import MAX_DEPTH
from ledger.envelope import Envelope
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
