"""Retries over HTTP, group commit and the CLI: the same bytes get the stored position.

``POST /events``, ``POST /events/batch`` and ``POST /keys`` answer 201 for what
they appended and 200 for an event whose exact bytes were already stored; a
different event at a used (actor, seq) is still ``409 Replay``; a COMMIT whose
answer was lost and cannot be read back is ``503 OutcomeUnknown``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.bootstrap import bootstrap
from api.http.app import create_app
from api.settings import Settings
from ledger.envelope import Envelope, sign_envelope
from ledger.store.group_commit import GroupCommitter, Placement
from tests.api.cli.test_main import cocred, sign
from tests.api.http.test_group_commit import Turnstile, gate_on
from tests.pgproxy import pg_proxy
from tests.support import drop_postgres_schema, fresh_postgres_url, registration, seeded_key

ANA = seeded_key(1451)
AT = datetime(2026, 1, 1, tzinfo=UTC)  # fixed: an envelope signed twice is the same bytes
JSON = {"Content-Type": "application/json"}


def commit(seq: int, text: str = "x") -> Envelope:
    digest = hashlib.sha256(text.encode()).hexdigest()
    return sign_envelope(ANA, "ProfileCommitted", {"commitment": digest}, seq=seq, ts=AT)


def client_for(url: str, tmp_path: Path, **extra: object) -> TestClient:
    settings = Settings(
        registration="open", database_url=url, ledger_key_file=tmp_path / "ledger.key", **extra
    )
    return TestClient(create_app(bootstrap(settings)))


@pytest.fixture
def client(store_url: str, tmp_path: Path) -> Iterator[TestClient]:
    with client_for(store_url, tmp_path) as c:  # with its lifespan: the group committer
        yield c


def test_a_retried_post_is_answered_200_with_the_stored_position(client: TestClient) -> None:
    key = registration(ANA).canonical_bytes()
    first = client.post("/keys", content=key)
    again = client.post("/keys", content=key)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json() == {"position": 0, "actor": ANA.actor, "key": ANA.key_id}
    body = commit(2).canonical_bytes()
    created = client.post("/events", content=body, headers=JSON)
    retried = client.post("/events", content=body, headers=JSON)
    assert (created.status_code, created.json()) == (201, {"position": 1})
    assert (retried.status_code, retried.json()) == (200, {"position": 1})
    assert client.get("/log").json()["size"] == 2


def test_a_different_event_at_a_used_seq_is_409_replay(client: TestClient) -> None:
    client.post("/keys", content=registration(ANA).canonical_bytes())
    client.post("/events", content=commit(2).canonical_bytes(), headers=JSON)
    other = client.post("/events", content=commit(2, "other").canonical_bytes(), headers=JSON)
    assert other.status_code == 409
    assert other.json()["error"] == "Replay"
    assert other.json()["detail"] == f"actor {ANA.actor}: seq 2 is already used (last seq is 2)"


def test_a_retried_batch_gets_its_stored_positions_and_appends_the_rest(
    client: TestClient,
) -> None:
    lines = [e.canonical_bytes() for e in (registration(ANA), commit(2), commit(3))]
    first = client.post("/events/batch", content=b"\n".join(lines[:2]))
    assert (first.status_code, first.json()) == (201, {"positions": [0, 1]})
    mixed = client.post("/events/batch", content=b"\n".join(lines))
    assert (mixed.status_code, mixed.json()) == (201, {"positions": [0, 1, 2]})
    again = client.post("/events/batch", content=b"\n".join(lines))
    assert (again.status_code, again.json()) == (200, {"positions": [0, 1, 2]})


def test_the_openapi_documents_200_for_a_retry(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    for path in ("/events", "/events/batch", "/keys"):
        responses = paths[path]["post"]["responses"]
        assert {"200", "201", "409", "503"} <= set(responses), path
    assert "already stored" in paths["/events"]["post"]["responses"]["200"]["description"]


@pytest.mark.postgres
def test_a_lost_commit_that_cannot_be_read_back_is_503_outcome_unknown(tmp_path: Path) -> None:
    url = fresh_postgres_url()
    try:
        # No rate limits: the proxy must lose the log's COMMIT, not a rate counter's.
        with pg_proxy() as proxy, client_for(proxy.url(url), tmp_path, rate_limits=False) as client:
            client.post("/keys", content=registration(ANA).canonical_bytes())
            body = commit(2).canonical_bytes()
            proxy.lose_next_commit(refuse_after_drop=True)
            lost = client.post("/events", content=body, headers=JSON)
            assert lost.status_code == 503
            assert lost.json()["error"] == "OutcomeUnknown"
            assert lost.json()["detail"].endswith("send the same bytes again to learn its position")
            proxy.restore()
            retried = client.post("/events", content=body, headers=JSON)
            # The COMMIT had reached PostgreSQL: the resubmission learns where it is.
            assert (retried.status_code, retried.json()) == (200, {"position": 1}), retried.text
    finally:
        drop_postgres_schema(url)


def test_a_retried_request_inside_a_group_gets_the_stored_position(store_url: str) -> None:
    with gate_on(store_url, [registration(ANA), commit(2)]) as gate:
        turnstile = Turnstile()
        committer = GroupCommitter(gate, writer_lock=turnstile)
        items = [commit(2), commit(3), commit(3), commit(3, "other"), commit(4)]
        with turnstile.lock:  # everything waits, then goes as one group
            futures = [committer.submit(e.canonical_bytes()) for e in items]
        committer.close()
        assert committer.stats.groups == 1
        placed = [f.result() for f in futures[:3]]
        assert placed == [1, 2, 2]
        assert all(isinstance(p, Placement) for p in placed)
        assert [p.stored_before for p in placed if isinstance(p, Placement)] == [
            True,
            False,
            True,
        ]
        refused = futures[3].exception()
        assert refused is not None and getattr(refused, "code", None) == "Replay"
        assert str(refused) == f"actor {ANA.actor}: seq 3 is already used (last seq is 3)"
        assert futures[4].result() == 3
        assert gate.ledger.size() == 4


def test_the_cli_append_of_a_file_already_appended_writes_nothing_new(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path}/cli.sqlite"
    key = tmp_path / "ana.key"
    cocred("keys", "new", "--out", str(key))
    cocred("keys", "register", "--key", str(key), "--db", db)
    lines = sign(key, db, {"n": 2}, seq=2) + sign(key, db, {"n": 3}, seq=3)
    source = tmp_path / "in.jsonl"
    source.write_text(lines.splitlines()[0] + "\n")
    assert cocred("append", str(source), "--db", db).stdout.strip() == (
        "appended 1 events at positions 1..1"
    )
    source.write_text(lines)  # interrupted before; run again with the whole file
    assert cocred("append", str(source), "--db", db).stdout.strip() == (
        "appended 2 events at positions 1..2 (1 already stored)"
    )
    assert cocred("append", str(source), "--db", db, "--batch", "1").stdout.strip() == (
        "appended 2 events at positions 1..2 (2 already stored)"
    )
    other = sign(key, db, {"n": "other"}, seq=3)
    source.write_text(other)
    failed = cocred("append", str(source), "--db", db, code=1)
    assert failed.stderr.strip() == (
        f"error[Replay]: line 1: actor {json.loads(other)['actor']}: seq 3 is already used "
        "(last seq is 3)"
    )
