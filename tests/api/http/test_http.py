"""The HTTP API as a client sees it: signed envelopes in, typed JSON errors, auditor reads."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from api.bootstrap import bootstrap
from api.http.app import create_app
from ledger.envelope import sign_envelope
from ledger.provenance.merkle import leaf_hash
from ledger.provenance.proofs import InclusionProof, verify_inclusion
from tests.support import registration, seeded_key

ANA = seeded_key(51)


@pytest.fixture
def client(store_url: str, tmp_path) -> Iterator[TestClient]:
    from api.settings import Settings

    settings = Settings(
        registration="open", database_url=store_url, ledger_key_file=tmp_path / "ledger.key"
    )
    with bootstrap(settings) as services, TestClient(create_app(services)) as c:
        yield c


def commit(seq: int, text: str = "x"):
    digest = hashlib.sha256(text.encode()).hexdigest()
    return sign_envelope(ANA, "ProfileCommitted", {"commitment": digest}, seq=seq)


def post(client: TestClient, env) -> object:
    return client.post(
        "/events", content=env.canonical_bytes(), headers={"Content-Type": "application/json"}
    )


def test_a_signed_envelope_is_appended_and_readable(client: TestClient) -> None:
    assert post(client, registration(ANA)).json() == {"position": 0}
    response = post(client, commit(2))
    assert (response.status_code, response.json()) == (201, {"position": 1})
    page = client.get("/log", params={"from": 0, "limit": 1}).json()
    assert page["next"] == 1 and page["size"] == 2
    assert page["events"][0]["event"]["type"] == "KeyRegistered"
    assert client.get("/events/1").json()["event"]["seq"] == 2


@pytest.mark.parametrize(
    "make, status, error",
    [
        (lambda: commit(2, "other").canonical_bytes(), 409, "Replay"),
        (lambda: commit(4).canonical_bytes(), 409, "SequenceGap"),
        (lambda: b'{"v": 1}', 422, "MalformedEvent"),
        (
            lambda: sign_envelope(
                seeded_key(52), "ProfileCommitted", {"commitment": "0" * 64}, seq=1
            ).canonical_bytes(),
            401,
            "UnknownKey",
        ),
        (
            lambda: sign_envelope(ANA, "IdeaShared", {}, seq=3).canonical_bytes(),
            422,
            "UnknownEventType",
        ),
    ],
)
def test_refusals_are_typed_json_and_write_nothing(client: TestClient, make, status, error) -> None:
    post(client, registration(ANA))
    post(client, commit(2))
    response = client.post("/events", content=make())
    assert response.status_code == status
    body = response.json()
    assert body["error"] == error and isinstance(body["detail"], str) and body["detail"]
    assert client.get("/log").json()["size"] == 2


def test_an_oversized_body_is_refused_with_413(client: TestClient) -> None:
    response = client.post("/events", content=b" " * (300 * 1024))
    assert response.status_code == 413
    assert response.json() == {
        "error": "PayloadTooLarge",
        "detail": "request bodies are limited to 262144 bytes",
    }


def test_unknown_things_are_json_404s(client: TestClient) -> None:
    assert client.get("/events/5").json() == {
        "error": "NotFound",
        "detail": "no event at position 5",
        "ids": {"position": 5},
    }
    assert client.get("/nowhere").status_code == 404
    assert client.get("/checkpoints/latest").json()["error"] == "NotFound"
    assert client.get("/log", params={"limit": 5000}).json() == {
        "error": "InvalidRequest",
        "detail": "limit must be from 1 to 1000, got 5000",
    }


def test_an_auditor_gets_checkpoints_and_proofs(client: TestClient) -> None:
    post(client, registration(ANA))
    for seq in range(2, 12):
        post(client, commit(seq, str(seq)))
    proof = client.get("/proofs/inclusion", params={"position": 3, "size": 11}).json()
    event = client.get("/events/3").json()["event"]
    from ledger.canonical import canonical

    verify_inclusion(
        leaf_hash(canonical(event)),
        InclusionProof.from_json(proof["proof"]),
        bytes.fromhex(proof["root"]),
    )
    key = client.get("/ledger-key").json()
    assert key["vkey"].startswith(key["origin"] + "+")
    bundle = client.get("/proofs/bundle/3").json()
    assert bundle["position"] == 3
    latest = client.get("/checkpoints/latest").json()
    assert latest["size"] == 11 and latest["root"] == proof["root"]


def test_the_openapi_lists_the_error_shape(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    post_events = spec["paths"]["/events"]["post"]["responses"]
    assert {"401", "409", "422"} <= set(post_events)
    assert "ErrorBody" in spec["components"]["schemas"]


def test_every_limited_route_documents_its_429_and_the_probes_do_not(
    client: TestClient,
) -> None:
    from api.http.throttle import PROBES

    spec = client.get("/openapi.json").json()
    undocumented = [
        f"{method.upper()} {path}"
        for path, operations in spec["paths"].items()
        for method, operation in operations.items()
        if path not in PROBES and "429" not in operation["responses"]
    ]
    assert undocumented == []
    for probe in PROBES:
        assert "429" not in spec["paths"][probe]["get"]["responses"], probe


def test_proof_ranges_are_checked(client: TestClient) -> None:
    post(client, registration(ANA))
    post(client, commit(2))
    assert client.get("/proofs/inclusion", params={"position": 2, "size": 2}).json() == {
        "error": "InvalidRequest",
        "detail": "position 2 is not below size 2",
    }
    assert client.get("/proofs/consistency", params={"old": 3, "new": 2}).json() == {
        "error": "InvalidRequest",
        "detail": "old size 3 is larger than new size 2",
    }
    response = client.get("/proofs/inclusion", params={"position": -1, "size": 2})
    assert response.status_code == 422 and response.json()["error"] == "InvalidRequest"


def test_a_batch_is_all_or_nothing_and_an_empty_one_is_refused(client: TestClient) -> None:
    lines = b"\n".join(e.canonical_bytes() for e in (registration(ANA), commit(2), commit(4)))
    response = client.post("/events/batch", content=lines)
    assert response.status_code == 409 and response.json()["error"] == "SequenceGap"
    assert response.json()["ids"]["index"] == 2
    assert client.get("/log").json()["size"] == 0
    good = b"\n".join(e.canonical_bytes() for e in (registration(ANA), commit(2)))
    assert client.post("/events/batch", content=good).json() == {"positions": [0, 1]}
    assert client.post("/events/batch", content=b"\n\n").json() == {
        "error": "MalformedEvent",
        "detail": "the batch is empty: send one envelope per line",
    }


def test_an_actors_key_state_says_the_seq_its_next_event_carries(client: TestClient) -> None:
    from ledger.actors import KEY_ROTATED, rotation_statement
    from ledger.keys import b64url, public_jwk

    assert client.get(f"/actors/{ANA.actor}").json() == {
        "error": "UnknownActor",
        "detail": f"actor {ANA.actor} is not registered",
        "ids": {"actor": ANA.actor},
    }
    assert client.get(f"/actors/{ANA.actor}").status_code == 404
    bad = client.get("/actors/nobody")
    assert (bad.status_code, bad.json()["error"], bad.json()["detail"]) == (
        422, "InvalidActorId", "'nobody' is not a 43-character actor id",
    )  # fmt: skip
    post(client, registration(ANA))
    post(client, commit(2))
    new = seeded_key(52)
    proof = new.sign(rotation_statement(ANA.actor, 3, new.key_id))
    body = {"jwk": public_jwk(new.public_bytes), "proof": b64url(proof)}
    assert post(client, sign_envelope(ANA, KEY_ROTATED, body, seq=3)).status_code == 201
    state = client.get(f"/actors/{ANA.actor}").json()
    assert state == {
        "actor": ANA.actor, "seq": 3, "next_seq": 4, "current": new.key_id,
        "keys": [
            {"key": ANA.key_id, "since": 1, "until": 3, "revoked": False, "recovered": False},
            {"key": new.key_id, "since": 4, "until": None, "revoked": False, "recovered": False},
        ],
        "recovery_key": None, "pending_recovery": None, "disowned": [],
    }  # fmt: skip


def test_an_actors_key_state_shows_a_pending_recovery_and_a_refused_one(
    client: TestClient,
) -> None:
    from ledger.actors import (
        KEY_REGISTERED,
        RECOVERY_CANCELLED,
        RECOVERY_DELAY,
        RECOVERY_REQUESTED,
        recovery_statement,
    )
    from ledger.envelope import format_ts
    from ledger.keys import b64url, public_jwk

    recovery, new = seeded_key(53), seeded_key(54)
    body = {"jwk": public_jwk(ANA.public_bytes), "recovery": public_jwk(recovery.public_bytes)}
    assert post(client, sign_envelope(ANA, KEY_REGISTERED, body, seq=1)).status_code == 201
    proof = b64url(new.sign(recovery_statement(ANA.actor, 2, new.key_id)))
    asked = sign_envelope(
        recovery.for_actor(ANA.actor), RECOVERY_REQUESTED,
        {"jwk": public_jwk(new.public_bytes), "proof": proof}, seq=2,
    )  # fmt: skip
    assert post(client, asked).status_code == 201
    state = client.get(f"/actors/{ANA.actor}").json()
    assert (state["recovery_key"], state["pending_recovery"]) == (
        recovery.key_id,
        {"seq": 2, "key": new.key_id, "effective_at": format_ts(asked.time + RECOVERY_DELAY)},
    )
    early = post(client, sign_envelope(new.for_actor(ANA.actor), RECOVERY_CANCELLED, {}, seq=3))
    assert (early.status_code, early.json()["error"]) == (422, "RecoveryNotInEffect")
