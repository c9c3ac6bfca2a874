"""The tlog-tiles routes: what they refuse, by type and sentence (their bytes are checked
against the export and by Go's tlog in ``tests/interop/test_go_tlog.py``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.bootstrap import bootstrap
from api.http.app import create_app
from api.settings import Settings
from ledger.envelope import sign_envelope
from tests.support import registration, seeded_key

ANA = seeded_key(2102)


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    config = Settings(
        database_url=f"sqlite:///{tmp_path}/t.sqlite", ledger_key_file=tmp_path / "ledger.key"
    )
    with bootstrap(config) as services:
        services.ledger.append(registration(ANA))
        yield TestClient(create_app(services))


def test_no_checkpoint_yet_is_not_found(client: TestClient) -> None:
    answer = client.get("/checkpoint")
    assert answer.status_code == 404
    assert answer.json() == {"error": "NotFound", "detail": "no checkpoint has been cut yet"}


def test_the_checkpoint_is_text_cached_for_seconds(client: TestClient) -> None:
    services = client.app.state.services  # type: ignore[attr-defined]
    services.ledger.append(sign_envelope(ANA, "NoteShared", {"n": 2}, seq=2))
    stored = services.provenance.checkpoints.cut()
    answer = client.get("/checkpoint")
    assert answer.status_code == 200
    assert answer.text == stored.signed.to_text()
    assert answer.text.splitlines()[1] == "2"
    assert answer.headers["cache-control"] == "public, max-age=2"
    leaves = client.get("/tile/0/000.p/2")
    assert leaves.status_code == 200 and len(leaves.content) == 64


@pytest.mark.parametrize(
    ("path", "status", "code", "detail"),
    [
        ("/tile/0/1", 422, "InvalidTilePath", "'tile/0/1': a tile index is zero-padded 3-digit "
         "elements, all but the last prefixed with x (x001/x234/067), got '1'"),
        ("/tile/0/000.p/300", 422, "InvalidTilePath", "'tile/0/000.p/300': a partial tile's "
         "width is a decimal from 1 to 255, got '300'"),
        ("/tile/0/000", 404, "TileNotFound", "tile/0/000 is beyond the tree of 1 entries"),
        ("/tile/entries/000.p/2", 404, "TileNotFound",
         "tile/entries/000.p/2 is beyond the tree of 1 entries"),
    ],
)  # fmt: skip
def test_a_tile_that_is_not_one_or_not_there_is_refused(
    client: TestClient, path: str, status: int, code: str, detail: str
) -> None:
    answer = client.get(path)
    assert answer.status_code == status
    assert answer.json()["error"] == code
    assert answer.json()["detail"] == detail
