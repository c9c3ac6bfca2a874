"""The public server's limits as a client meets them: 429s, quotas, admission, proxies.

Each limit is set small in the world's settings; the stories exhaust it and check the
refusal's status, code, sentence and ``Retry-After``, that nothing was written, and
that the brand's own traffic is never throttled by members'.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import orjson
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from httpx2 import Response

from api.bootstrap import Services, bootstrap
from api.http.app import create_app
from api.http.auth import sign_request
from api.http.throttle import client_address
from api.settings import Settings
from domain import commands
from ledger.envelope import Envelope, sign_envelope
from ledger.keys import SigningKey
from tests.support import registration, seeded_key

CAMPAIGN = "open-26"
UPLOAD_QUERY = f"campaign={CAMPAIGN}&kind=text"  # an upload declares what its bytes are
GUIDELINES = b"be kind"
PEER = ("127.0.0.1", 40000)


@dataclass
class World:
    client: TestClient
    services: Services
    brand: SigningKey
    now: datetime

    def size(self) -> int:
        return self.services.ledger.size()

    def guidelines(self) -> str:
        return self.services.campaigns.campaign(CAMPAIGN).guidelines

    def member(self, n: int) -> SigningKey:
        """A member registered and joined by the operator (off the network)."""
        key = seeded_key(n)
        self.services.campaigns.gate.append(registration(key))
        self.services.campaigns.join(key, CAMPAIGN)
        return key

    def client_at(self, peer: tuple[str, int]) -> TestClient:
        return TestClient(self.client.app, client=peer)


@contextmanager
def limited_world(tmp_path: Path, url: str | None = None, **settings: Any) -> Iterator[World]:
    config = Settings(
        database_url=url or f"sqlite:///{tmp_path}/limits.sqlite",
        ledger_key_file=tmp_path / "ledger.key",
        **{"rate_limit_delay_seconds": 0, **settings},  # 429s at once: the tests wait for none
    )
    with bootstrap(config) as services:
        brand = seeded_key(900)
        now = datetime.now(UTC).replace(microsecond=0)
        services.campaigns.gate.append(registration(brand))
        services.campaigns.open_campaign(
            brand, CAMPAIGN, title="Open call", guidelines=GUIDELINES,
            starts_at=now - timedelta(days=1), ends_at=now + timedelta(days=30),
        )  # fmt: skip
        with TestClient(create_app(services), client=PEER) as client:
            yield World(client, services, brand, now)


def post(client: TestClient, envelope: Envelope, path: str = "/events") -> Response:
    return client.post(path, content=envelope.canonical_bytes())


def rate_limited(response: Response, limit: str, who: str, most: str, unit: str) -> None:
    """A 429 ``RateLimited`` naming ``who``, ``limit`` and when to retry, in header and body."""
    body = response.json()
    retry = int(response.headers["retry-after"])
    assert response.status_code == 429 and 1 <= retry <= 3600
    assert body["error"] == "RateLimited"
    assert body["detail"] == (
        f"{who} is over the limit of {most} {unit} ({limit}); retry in {retry} s"
    )
    assert body["ids"]["limit"] == limit and body["ids"]["retry_after"] == retry


def vote_like(key: SigningKey, n: int, w: World) -> Envelope:
    """A member's ``n``-th event after registering and joining (a profile commitment)."""
    digest = hashlib.sha256(f"{key.actor}:{n}".encode()).hexdigest()
    return sign_envelope(key, "ProfileCommitted", {"commitment": digest}, seq=n + 1)


# -- writes ------------------------------------------------------------------------------------


def test_a_client_address_posts_at_most_its_writes_per_window(tmp_path: Path) -> None:
    with limited_world(tmp_path, rate_writes_per_address="3/minute") as w:
        members = [w.member(n) for n in (1, 2)]
        answers = [post(w.client, vote_like(members[i % 2], 2 + i // 2, w)) for i in range(3)]
        assert [a.status_code for a in answers] == [201, 201, 201]
        before = w.size()
        refused = post(w.client, vote_like(members[1], 3, w))
        rate_limited(
            refused, "writes/address", "client address 127.0.0.1", "3 per 1 minute", "events"
        )
        assert w.size() == before
        # Another address has its own bucket.
        other = w.client_at(("127.0.0.2", 40000))
        assert post(other, vote_like(members[1], 3, w)).status_code == 201


def test_a_batch_counts_each_of_its_events(tmp_path: Path) -> None:
    with limited_world(tmp_path, rate_writes_per_address="2/minute") as w:
        ana = w.member(1)
        lines = b"\n".join(vote_like(ana, s, w).canonical_bytes() for s in (2, 3, 4))
        refused = w.client.post("/events/batch", content=lines)
        rate_limited(
            refused, "writes/address", "client address 127.0.0.1", "2 per 1 minute", "events"
        )


def test_an_actor_posts_at_most_its_writes_per_window_from_any_address(tmp_path: Path) -> None:
    with limited_world(tmp_path, rate_writes_per_actor="2/minute") as w:
        ana = w.member(1)
        assert post(w.client, vote_like(ana, 2, w)).status_code == 201
        assert post(w.client_at(("10.1.1.1", 1)), vote_like(ana, 3, w)).status_code == 201
        refused = post(w.client_at(("10.2.2.2", 1)), vote_like(ana, 4, w))
        rate_limited(refused, "writes/actor", f"actor {ana.actor}", "2 per 1 minute", "events")


def test_the_brand_still_writes_when_members_exhausted_the_shared_address(tmp_path: Path) -> None:
    with limited_world(tmp_path, rate_writes_per_address="2/minute") as w:
        ana = w.member(1)
        post(w.client, vote_like(ana, 2, w))
        post(w.client, vote_like(ana, 3, w))
        assert post(w.client, vote_like(ana, 4, w)).status_code == 429
        seq = w.services.ledger.next_seq(w.brand.actor)
        funded = commands.pool_funded(w.brand, CAMPAIGN, 500, seq=seq, at=w.now)
        assert post(w.client, funded).status_code == 201  # its own bucket


def test_an_envelope_forged_in_the_brands_name_is_charged_to_the_address(tmp_path: Path) -> None:
    with limited_world(
        tmp_path, rate_writes_per_address="1/minute", rate_brand_writes="2/minute"
    ) as w:
        seq = w.services.ledger.next_seq(w.brand.actor)
        real = commands.pool_funded(w.brand, CAMPAIGN, 500, seq=seq, at=w.now)
        forged = orjson.loads(real.canonical_bytes())
        forged["body"]["amount"] = 600_000  # the signature no longer verifies
        for _ in range(3):
            assert w.client.post("/events", content=orjson.dumps(forged)).status_code == 401
        # The brand's bucket was given back every time; the stranger's address paid.
        assert post(w.client, real).status_code == 201
        ana = w.member(1)
        refused = post(w.client, vote_like(ana, 2, w))
        rate_limited(
            refused, "writes/address", "client address 127.0.0.1", "1 per 1 minute", "events"
        )


# -- reads -------------------------------------------------------------------------------------


def test_public_reads_are_limited_per_address_and_probes_are_not(tmp_path: Path) -> None:
    with limited_world(tmp_path, rate_public_reads="2/minute") as w:
        assert [w.client.get("/campaigns").status_code for _ in range(2)] == [200, 200]
        rate_limited(
            w.client.get(f"/campaigns/{CAMPAIGN}"),
            "public-reads/address",
            "client address 127.0.0.1",
            "2 per 1 minute",
            "requests",
        )
        assert {w.client.get(p).status_code for p in ("/healthz", "/metrics") * 5} == {200}


def test_signed_reads_are_limited_per_signer(tmp_path: Path) -> None:
    with limited_world(tmp_path, rate_signed_reads="2/minute") as w:
        ana = w.member(1)
        path = f"/members/{ana.actor}/export"

        def read(peer: tuple[str, int]) -> Response:
            return w.client_at(peer).get(path, headers=sign_request(ana, "GET", path))

        assert read(("10.0.0.1", 1)).status_code == 200
        assert read(("10.0.0.2", 1)).status_code == 200
        rate_limited(
            read(("10.0.0.3", 1)),
            "signed-reads/actor",
            f"actor {ana.actor}",
            "2 per 1 minute",
            "requests",
        )


# -- uploads and quotas ------------------------------------------------------------------------


def upload(w: World, key: SigningKey, data: bytes, campaign: str = CAMPAIGN, **kw: Any) -> Response:
    path = f"/content/{hashlib.sha256(data).hexdigest()}"
    query = urlencode({"campaign": campaign, "kind": "text"})
    headers = sign_request(key, "PUT", path, query=query, body=data)
    return w.client.put(f"{path}?{query}", content=data, headers={**headers, **kw})


def test_upload_bytes_are_limited_per_address_and_per_uploader(tmp_path: Path) -> None:
    with limited_world(tmp_path, rate_upload_bytes="100/hour") as w:
        ana = w.member(1)
        assert upload(w, ana, b"a" * 60).status_code == 201
        rate_limited(
            upload(w, ana, b"b" * 60),
            "uploads/address",
            "client address 127.0.0.1",
            "100 per 1 hour",
            "bytes",
        )


def test_a_member_uploads_at_most_their_quota(tmp_path: Path) -> None:
    with limited_world(tmp_path, content_quota_member_bytes=100) as w:
        ana, ben = w.member(1), w.member(2)
        assert upload(w, ana, b"a" * 70).status_code == 201
        refused = upload(w, ana, b"b" * 40)
        assert (refused.status_code, refused.json()["error"]) == (413, "ContentQuotaExceeded")
        assert refused.json()["detail"] == (
            f"an upload of 40 bytes would take member {ana.actor} over its content quota of "
            "100 bytes (70 used)"
        )
        assert not w.services.content.has(hashlib.sha256(b"b" * 40).hexdigest())
        assert upload(w, ben, b"b" * 40).status_code == 201  # Ben's own quota
        assert upload(w, ana, b"a" * 70).status_code == 200  # stored already: not charged


def test_a_campaign_takes_at_most_its_quota_from_all_its_members(tmp_path: Path) -> None:
    with limited_world(tmp_path, content_quota_campaign_bytes=100) as w:
        ana, ben = w.member(1), w.member(2)
        assert upload(w, ana, b"a" * 70).status_code == 201
        refused = upload(w, ben, b"b" * 40)
        assert (refused.status_code, refused.json()["detail"]) == (
            413,
            f"an upload of 40 bytes would take campaign {CAMPAIGN} over its content quota of "
            "100 bytes (70 used)",
        )


def test_a_refused_upload_gives_its_quota_back(tmp_path: Path) -> None:
    with limited_world(tmp_path, content_quota_member_bytes=100) as w:
        ana = w.member(1)
        data = b"c" * 80
        path = f"/content/{'0' * 64}"  # announces another hash
        headers = sign_request(ana, "PUT", path, query=UPLOAD_QUERY, body=data)
        refused = w.client.put(f"{path}?{UPLOAD_QUERY}", content=data, headers=headers)
        assert (refused.status_code, refused.json()["error"]) == (422, "ContentMismatch")
        assert w.services.content.used("member", ana.actor) == 0
        assert upload(w, ana, data).status_code == 201


def test_only_a_member_or_the_brand_uploads_for_a_campaign(tmp_path: Path) -> None:
    with limited_world(tmp_path) as w:
        stranger = seeded_key(77)
        w.services.campaigns.gate.append(registration(stranger))
        refused = upload(w, stranger, b"spam")
        assert (refused.status_code, refused.json()["error"], refused.json()["detail"]) == (
            403,
            "NotJoined",
            f"uploader {stranger.actor} has not joined campaign {CAMPAIGN}",
        )
        assert upload(w, w.brand, b"brief").status_code == 201
        unsigned = w.client.put(
            f"/content/{hashlib.sha256(b'x').hexdigest()}?{UPLOAD_QUERY}", content=b"x"
        )
        assert (unsigned.status_code, unsigned.json()["error"]) == (401, "Unauthenticated")


def test_an_upload_must_declare_its_length(tmp_path: Path) -> None:
    with limited_world(tmp_path) as w:
        ana = w.member(1)
        data = b"streamed"
        path = f"/content/{hashlib.sha256(data).hexdigest()}"
        headers = sign_request(ana, "PUT", path, query=UPLOAD_QUERY, body=data)
        refused = w.client.put(f"{path}?{UPLOAD_QUERY}", content=iter([data]), headers=headers)
        assert (refused.status_code, refused.json()["error"], refused.json()["detail"]) == (
            411,
            "LengthRequired",
            "an upload must declare its size in Content-Length",
        )


def test_an_upload_over_quota_is_refused_before_its_body_is_read(tmp_path: Path) -> None:
    """At the ASGI level: the app answers 413 without once asking for the body."""
    with limited_world(tmp_path, content_quota_member_bytes=1000) as w:
        ana = w.member(1)
        data = b"z" * 5000
        path = f"/content/{hashlib.sha256(data).hexdigest()}"
        signed = sign_request(ana, "PUT", path, query=UPLOAD_QUERY, body=data)
        headers = [(k.lower().encode(), v.encode()) for k, v in signed.items()]
        headers.append((b"content-length", str(len(data)).encode()))
        asked: list[str] = []
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            asked.append("body")
            return {"type": "http.request", "body": data, "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        scope = {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "PUT",
            "scheme": "http", "path": path, "raw_path": path.encode(),
            "query_string": UPLOAD_QUERY.encode(), "root_path": "",
            "headers": headers, "client": PEER, "server": ("testserver", 80), "app": w.client.app,
        }  # fmt: skip
        asyncio.run(w.client.app(scope, receive, send))
        body = orjson.loads(
            b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
        )
        assert sent[0]["status"] == 413 and body["error"] == "ContentQuotaExceeded"
        assert asked == []


# -- who the client is -------------------------------------------------------------------------


def scope_from(peer: str, *forwarded: str) -> dict[str, Any]:
    return {"client": (peer, 1), "headers": [(b"x-forwarded-for", f.encode()) for f in forwarded]}


def test_x_forwarded_for_is_read_only_from_a_trusted_proxy() -> None:
    from ipaddress import ip_network

    proxies = [ip_network("10.0.0.0/8"), ip_network("127.0.0.1/32")]
    assert client_address(scope_from("203.0.113.9", "1.2.3.4"), proxies) == "203.0.113.9"
    assert client_address(scope_from("127.0.0.1", "1.2.3.4"), proxies) == "1.2.3.4"
    # The client can prepend anything; the right-most untrusted hop is the one proxies saw.
    assert (
        client_address(scope_from("127.0.0.1", "6.6.6.6, 1.2.3.4, 10.0.0.7"), proxies) == "1.2.3.4"
    )
    assert client_address(scope_from("127.0.0.1", "6.6.6.6", "1.2.3.4"), proxies) == "1.2.3.4"
    assert client_address(scope_from("127.0.0.1", "junk, 1.2.3.4"), proxies) == "1.2.3.4"
    assert client_address(scope_from("127.0.0.1"), proxies) == "127.0.0.1"
    assert client_address(scope_from("127.0.0.1", "1.2.3.4"), []) == "127.0.0.1"


def test_a_spoofed_x_forwarded_for_from_an_untrusted_peer_buys_no_new_bucket(
    tmp_path: Path,
) -> None:
    with limited_world(tmp_path, rate_public_reads="2/minute", trusted_proxies="127.0.0.1") as w:
        spoofer = w.client_at(("198.51.100.7", 1))
        for n in range(2):
            assert (
                spoofer.get("/campaigns", headers={"X-Forwarded-For": f"9.9.9.{n}"}).status_code
                == 200
            )
        refused = spoofer.get("/campaigns", headers={"X-Forwarded-For": "9.9.9.9"})
        rate_limited(
            refused,
            "public-reads/address",
            "client address 198.51.100.7",
            "2 per 1 minute",
            "requests",
        )
        # Behind the trusted proxy, each forwarded client has its own bucket.
        for n in range(3):
            assert (
                w.client.get("/campaigns", headers={"X-Forwarded-For": f"9.9.9.{n}"}).status_code
                == 200
            )


# -- admission over HTTP -----------------------------------------------------------------------


def test_a_stranger_joins_an_open_campaign_in_the_batch_that_registers_them(tmp_path: Path) -> None:
    with limited_world(tmp_path) as w:  # the default: with-first-act
        eve = seeded_key(301)
        before = w.size()
        bare = w.client.post("/keys", content=registration(eve).canonical_bytes())
        assert (bare.status_code, bare.json()["error"], bare.json()["detail"]) == (
            422,
            "FirstActRequired",
            f"KeyRegistered of {eve.actor} is accepted only together with its first act "
            f"(MemberJoined of a campaign that admits it) signed by {eve.actor} in the same batch",
        )
        assert post(w.client, registration(eve)).json()["error"] == "FirstActRequired"
        assert w.size() == before
        joined = commands.member_joined(eve, CAMPAIGN, w.guidelines(), seq=2, at=w.now)
        lines = b"\n".join(e.canonical_bytes() for e in (registration(eve), joined))
        admitted = w.client.post("/events/batch", content=lines)
        assert (admitted.status_code, admitted.json()) == (201, {"positions": [before, before + 1]})


def test_a_closed_server_admits_nobody_over_http(tmp_path: Path) -> None:
    with limited_world(tmp_path, registration="closed") as w:
        eve = seeded_key(301)
        joined = commands.member_joined(eve, CAMPAIGN, w.guidelines(), seq=2, at=w.now)
        lines = b"\n".join(e.canonical_bytes() for e in (registration(eve), joined))
        refused = w.client.post("/events/batch", content=lines)
        assert (refused.status_code, refused.json()["error"]) == (403, "RegistrationClosed")


# -- what the operator sees --------------------------------------------------------------------


def test_metrics_count_the_refusals_of_every_limit(tmp_path: Path) -> None:
    with limited_world(tmp_path, rate_public_reads="1/minute", content_quota_member_bytes=1) as w:
        ana = w.member(1)
        w.client.get("/campaigns")
        for _ in range(3):
            assert w.client.get("/campaigns").status_code == 429
        assert upload(w, ana, b"too big").status_code == 413
        wanted = {
            'cocred_refused_total{limit="public-reads/address"} 3',
            'cocred_refused_total{limit="content-quota/member"} 1',
        }
        deadline = time.monotonic() + 10  # refusals are flushed once a second
        while not wanted <= set(w.client.get("/metrics").text.splitlines()):
            assert time.monotonic() < deadline, w.client.get("/metrics").text
            time.sleep(0.2)
        assert w.client.get("/metrics").headers["content-type"].startswith("text/plain")


def test_the_limiter_answers_503_when_its_counters_are_gone(tmp_path: Path) -> None:
    with limited_world(tmp_path, rate_limit_lease=0) as w:
        with w.services.engine.begin() as conn:
            conn.execute(sa.text("DROP TABLE cocred_rate_counters"))
        refused = w.client.get("/campaigns")
        assert (refused.status_code, refused.json()["error"]) == (503, "StorageUnavailable")
        assert refused.json()["detail"].startswith("the database is unavailable (OperationalError)")
        # A page's refusal before routing is the HTML error page, as a route's own would be;
        # a 429 on a page too, with its Retry-After.
        page = w.client.get(f"/c/{CAMPAIGN}")
        assert page.status_code == 503 and page.headers["content-type"].startswith("text/html")
        assert 'data-error="StorageUnavailable"' in page.text


def test_a_page_over_its_limit_gets_the_html_error_page_with_retry_after(tmp_path: Path) -> None:
    with limited_world(tmp_path, rate_public_reads="1/minute") as w:
        assert w.client.get(f"/c/{CAMPAIGN}").status_code == 200
        page = w.client.get(f"/c/{CAMPAIGN}")
        assert page.status_code == 429 and page.headers["content-type"].startswith("text/html")
        assert 'data-error="RateLimited"' in page.text and int(page.headers["retry-after"]) > 0
        assert w.client.get("/campaigns").json()["error"] == "RateLimited"  # the API: JSON


@pytest.mark.postgres
def test_limits_hold_on_postgresql_too(tmp_path: Path) -> None:
    from tests.support import drop_postgres_schema, fresh_postgres_url

    url = fresh_postgres_url()
    try:
        with limited_world(tmp_path, url, rate_writes_per_actor="2/minute") as w:
            ana = w.member(1)
            assert [post(w.client, vote_like(ana, s, w)).status_code for s in (2, 3)] == [201, 201]
            rate_limited(
                post(w.client, vote_like(ana, 4, w)),
                "writes/actor",
                f"actor {ana.actor}",
                "2 per 1 minute",
                "events",
            )
    finally:
        drop_postgres_schema(url)


def test_a_refusal_is_held_for_the_configured_delay_before_it_is_sent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import api.http.throttle as throttle

    held: list[float] = []

    async def record(seconds: float) -> None:  # what the middleware waits, not how long
        held.append(seconds)

    monkeypatch.setattr(throttle.asyncio, "sleep", record)
    with limited_world(tmp_path, rate_public_reads="1/minute", rate_limit_delay_seconds=2.5) as w:
        assert w.client.get("/campaigns").status_code == 200 and held == []
        refused = w.client.get("/campaigns")
        assert refused.status_code == 429 and held == [2.5]
