"""The contributors' HTTP routes as a member uses them, on the small demo campaign.

Ana (demo member 0) registers nothing: the demo did that. The stories: a newcomer
registers a key and uploads content; Ana reads her history, her attribution, the
lineage of a remix and the explanation of her payout; she exports her data and
reads her profile with signed requests; finally she asks to be erased. Every
refusal is checked for its status, code and sentence.
"""

from __future__ import annotations

import hashlib
import io
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import orjson
import pytest
from fastapi.testclient import TestClient
from httpx2 import Response
from PIL import Image
from schwifty import IBAN

from api.bootstrap import Services, bootstrap
from api.http.app import create_app
from api.http.auth import sign_request
from api.settings import Settings
from domain.demo.generator import DemoSummary, build_demo
from domain.demo.story import demo_key
from domain.errors import MalformedBodyError
from domain.profiles import ERASED_LABEL
from ledger.envelope import Envelope, sign_envelope
from ledger.keys import SigningKey
from tests.support import (
    CAMERA_SERIAL,
    MP4_HEAD,
    jpeg_with_gps,
    png_bomb,
    png_bytes,
    registration,
    seeded_key,
)

SEED = 1
SIZES = {"members": 12, "contributions": 24, "votes": 80}


@dataclass
class World:
    """The app over a database holding the demo, and the demo's keys."""

    client: TestClient
    services: Services
    demo: DemoSummary
    brand: SigningKey
    members: list[SigningKey]

    @property
    def ana(self) -> SigningKey:
        return self.members[0]

    @property
    def ben(self) -> SigningKey:
        return self.members[1]

    def size(self) -> int:
        return self.services.ledger.size()


@contextmanager
def demo_world(url: str, where: Path, **settings: object) -> Iterator[World]:
    config = Settings(
        registration="open", database_url=url, ledger_key_file=where / "ledger.key", **settings
    )
    with bootstrap(config) as services:
        demo = build_demo(services, seed=SEED, **SIZES)
        with TestClient(create_app(services)) as client:
            yield World(
                client,
                services,
                demo,
                demo_key(SEED, "brand", 0),
                [demo_key(SEED, "member", i) for i in range(SIZES["members"])],
            )


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    """The demo world on SQLite."""
    with demo_world(f"sqlite:///{tmp_path}/api.sqlite", tmp_path) as w:
        yield w


@pytest.fixture
def each_backend(store_url: str, tmp_path: Path) -> Iterator[World]:
    """The demo world on SQLite, then on PostgreSQL."""
    with demo_world(store_url, tmp_path) as w:
        yield w


def signed_get(
    client: TestClient, key: SigningKey, path: str, params: dict[str, str] | None = None, **kw
) -> Response:
    query = urlencode(params or {})
    headers = sign_request(key, "GET", path, query=query, **kw)
    return client.get(f"{path}?{query}" if query else path, headers=headers)


def refused(response: Response, status: int, error: str, detail: str) -> None:
    body = response.json()
    assert (response.status_code, body["error"], body["detail"]) == (status, error, detail)


OPEN_CAMPAIGN = "open-26"


def upload(
    w: World,
    data: bytes,
    digest: str | None = None,
    key: SigningKey | None = None,
    kind: str = "text",
) -> Response:
    """A signed upload by ``key`` (Ana) of a ``kind`` for the open campaign (opened and joined
    on first use)."""
    key = key or w.ana
    if OPEN_CAMPAIGN not in w.services.campaigns.gate.read(lambda state: set(state.campaigns)):
        w.services.campaigns.open_campaign(
            w.brand, OPEN_CAMPAIGN, title="Open", guidelines=b"be kind",
            starts_at="2025-01-01T00:00:00Z", ends_at="2099-01-01T00:00:00Z",
        )  # fmt: skip
        w.services.campaigns.join(w.ana, OPEN_CAMPAIGN)
    path = f"/content/{digest or hashlib.sha256(data).hexdigest()}"
    query = urlencode({"campaign": OPEN_CAMPAIGN, "kind": kind})
    headers = sign_request(key, "PUT", path, query=query, body=data)
    return w.client.put(f"{path}?{query}", content=data, headers=headers)


def erasure(key: SigningKey, seq: int) -> Envelope:
    return sign_envelope(key, "MemberErased", {}, seq=seq)


# -- keys --------------------------------------------------------------------------------------


def test_a_newcomer_registers_a_key_and_has_a_history(each_backend: World) -> None:
    w = each_backend
    newcomer = seeded_key(61)
    before = w.size()
    response = w.client.post("/keys", content=registration(newcomer).canonical_bytes())
    assert response.status_code == 201
    assert response.json() == {"position": before, "actor": newcomer.actor, "key": newcomer.key_id}
    history = w.client.get(f"/members/{newcomer.actor}/history").json()
    assert (history["seq"], history["campaigns"], history["next"]) == (1, [], None)
    assert [e["event"]["type"] for e in history["events"]] == ["KeyRegistered"]
    assert history["label"] == newcomer.actor and history["erased"] is False


def test_keys_takes_only_a_key_registration(world: World) -> None:
    newcomer = seeded_key(62)
    commitment = sign_envelope(newcomer, "ProfileCommitted", {"commitment": "0" * 64}, seq=1)
    response = world.client.post("/keys", content=commitment.canonical_bytes())
    refused(
        response,
        422,
        "UnexpectedEventType",
        "POST /keys takes a self-signed KeyRegistered envelope, not a ProfileCommitted; send "
        "other events to POST /events",
    )
    assert world.client.get(f"/members/{newcomer.actor}/history").status_code == 404


def test_a_key_is_registered_once(world: World) -> None:
    last = world.services.ledger.next_seq(world.ana.actor) - 1
    refused(
        world.client.post("/keys", content=registration(world.ana).canonical_bytes()),
        409,
        "Replay",
        f"actor {world.ana.actor}: seq 1 is already used (last seq is {last})",
    )


def test_a_malformed_or_forged_registration_is_refused(world: World) -> None:
    refused(
        world.client.post("/keys", content=b'{"v": 1}'),
        422,
        "MalformedEvent",
        "envelope: missing field(s): type, actor, key, seq, ts, campaign, body, sig",
    )
    forged = registration(seeded_key(63)).to_json()
    forged["ts"] = "2026-01-01T00:00:00Z"
    response = world.client.post("/keys", content=orjson.dumps(forged))
    assert response.status_code == 401 and response.json()["error"] == "BadSignature"
    assert world.client.get("/log").json()["size"] == world.size()


# -- content -----------------------------------------------------------------------------------


def test_content_is_stored_under_its_hash_and_read_back(each_backend: World) -> None:
    data = b"a sketch of a tidal scarf"
    digest = hashlib.sha256(data).hexdigest()
    client = each_backend.client
    first = upload(each_backend, data)
    assert (first.status_code, first.json()) == (201, {"sha256": digest, "size": len(data)})
    again = upload(each_backend, data)
    assert (again.status_code, again.json()) == (200, {"sha256": digest, "size": len(data)})
    read = client.get(f"/content/{digest}")
    assert read.status_code == 200 and read.content == data  # text is public as it is
    assert read.headers["content-type"] == "text/plain; charset=utf-8"
    assert read.headers["etag"] == f'"{digest}-public"'
    assert read.headers["x-content-type-options"] == "nosniff"
    again = client.get(f"/content/{digest}", headers={"If-None-Match": read.headers["etag"]})
    assert (again.status_code, again.content) == (304, b"")


def test_content_that_does_not_match_its_hash_is_refused(world: World) -> None:
    claimed = "0" * 64
    got = hashlib.sha256(b"something else").hexdigest()
    refused(
        upload(world, b"something else", claimed),
        422,
        "ContentMismatch",
        f"uploaded bytes hash to {got}, not to the announced {claimed}",
    )
    refused(
        world.client.get(f"/content/{claimed}"),
        404,
        "UnknownContent",
        f"no content with hash {claimed}",
    )


def test_content_over_the_store_limit_is_refused(tmp_path: Path) -> None:
    with demo_world(f"sqlite:///{tmp_path}/s.sqlite", tmp_path, content_max_bytes=4096) as w:
        data = b"x" * 4097
        digest = hashlib.sha256(data).hexdigest()
        refused(
            upload(w, data),
            413,
            "ContentTooLarge",
            "content of 4097 bytes is over the limit of 4096",
        )
        assert w.client.get(f"/content/{digest}").status_code == 404


def test_a_photo_is_public_without_its_metadata_and_its_original_is_the_authors(
    world: World,
) -> None:
    w = world
    original = jpeg_with_gps()
    digest = hashlib.sha256(original).hexdigest()
    assert upload(w, original, kind="photo").status_code == 201
    public = w.client.get(f"/content/{digest}")
    thumbnail = w.client.get(f"/content/{digest}/thumbnail")
    for served in (public, thumbnail):
        assert served.status_code == 200 and served.headers["content-type"] == "image/jpeg"
        assert served.headers["cache-control"] == "public, max-age=31536000, immutable"
        image = Image.open(io.BytesIO(served.content))
        assert dict(image.getexif()) == {} and not {"exif", "xmp"} & set(image.info)
        assert CAMERA_SERIAL.encode() not in served.content
        assert b"Exif" not in served.content and b"Acme" not in served.content
    assert max(Image.open(io.BytesIO(thumbnail.content)).size) <= 512
    path = f"/content/{digest}/original"
    for reader in (w.ana, w.brand):  # the uploader, the campaign's brand
        mine = signed_get(w.client, reader, path)
        assert mine.status_code == 200 and mine.content == original
        assert hashlib.sha256(mine.content).hexdigest() == digest
        assert mine.headers["cache-control"].startswith("private")
    refused(
        signed_get(w.client, w.ben, path),
        403,
        "Forbidden",
        f"only its author or its campaign's brand may read the original of content {digest}; "
        f"this request is signed by {w.ben.actor}",
    )
    unsigned = w.client.get(path)
    assert (unsigned.status_code, unsigned.json()["error"]) == (401, "Unauthenticated")
    assert unsigned.json()["detail"] == (
        "signed request: this resource needs Signature-Input and Signature headers"
    )


def test_a_submitted_pieces_authors_and_brand_read_its_original(world: World) -> None:
    """The demo's works were stored without an uploader: their authors are in the log."""
    w = world
    work = next(iter(w.services.campaigns.gate.read(lambda s: list(s.contributions.values()))))
    author = next(k for k in w.members if k.actor == work.authors[0])
    path = f"/content/{work.content}/original"
    assert signed_get(w.client, author, path).status_code == 200
    assert signed_get(w.client, w.brand, path).status_code == 200
    stranger = next(k for k in w.members if k.actor not in work.authors)
    assert signed_get(w.client, stranger, path).status_code == 403


@pytest.mark.parametrize(
    ("data", "kind", "error", "start"),
    [
        (png_bytes(), "video", "ContentKindMismatch", "content {d}: the bytes are a PNG image"),
        (bytes(range(7, 256)), "photo", "ContentKindMismatch", "content {d}: the bytes are of"),
        (jpeg_with_gps()[:1500], "photo", "UndecodableContent", "content {d} declared as a"),
        (png_bomb(), "photo", "ImageTooLarge", "content {d} declared as a photo is a PNG image"),
        (b"caf\xe9", "text", "ContentKindMismatch", "content {d}: the bytes are of no"),
        (b"x", "gif", "UnknownContentKind", "content kind must be one of idea, photo"),
    ],
    ids=["png-as-video", "random-as-photo", "truncated", "bomb", "bad-utf8", "unknown-kind"],
)
def test_an_upload_that_is_not_its_kind_is_refused_and_stores_nothing(
    world: World, data: bytes, kind: str, error: str, start: str
) -> None:
    digest = hashlib.sha256(data).hexdigest()
    response = upload(world, data, kind=kind)
    assert (response.status_code, response.json()["error"]) == (422, error)
    assert response.json()["detail"].startswith(start.format(d=digest))
    assert not world.services.content.has(digest)
    assert world.services.content.used("member", world.ana.actor) == 0, "the quota is given back"


def test_an_upload_over_its_kinds_limit_is_refused_before_its_body_is_read(
    tmp_path: Path,
) -> None:
    with demo_world(f"sqlite:///{tmp_path}/k.sqlite", tmp_path, content_max_image_bytes=1000) as w:
        data = jpeg_with_gps()
        digest = hashlib.sha256(data).hexdigest()
        refused(
            upload(w, data, kind="photo"),
            413,
            "ContentTooLarge",
            f"content {digest} of {len(data)} bytes is over the limit of 1000 bytes for a photo",
        )
        assert not w.services.content.has(digest)


def test_a_video_has_no_public_copy_but_its_author_reads_it(world: World) -> None:
    data = MP4_HEAD + b"\x00" * 256
    digest = hashlib.sha256(data).hexdigest()
    assert upload(world, data, kind="video").status_code == 201
    refused(
        world.client.get(f"/content/{digest}"),
        403,
        "NoPublicCopy",
        f"content {digest} is an MP4 video: cocred keeps no public copy of a video (it does "
        "not strip container metadata); only its author and its campaign's brand may read the "
        f"original (GET /content/{digest}/original, signed)",
    )
    mine = signed_get(world.client, world.ana, f"/content/{digest}/original")
    assert (mine.status_code, mine.content) == (200, data)
    assert mine.headers["content-type"] == "video/mp4"
    refused(
        upload(world, data, kind="photo"),  # stored already: checked all the same
        422,
        "ContentKindMismatch",
        f"content {digest}: the bytes are an MP4 video, not the declared photo (a JPEG, PNG, "
        "WebP or GIF image)",
    )


def test_a_submission_is_held_to_the_kind_its_content_was_uploaded_as(world: World) -> None:
    w = world
    data = b"a kite over the harbour"
    digest = hashlib.sha256(data).hexdigest()
    assert upload(w, data, kind="idea").status_code == 201
    before = w.size()
    body = {"content": digest, "kind": "photo", "title": "Kite", "derived_from": []}
    seq = w.services.ledger.next_seq(w.ana.actor)
    envelope = sign_envelope(w.ana, "ContributionSubmitted", body, seq=seq, campaign=OPEN_CAMPAIGN)
    refused(
        w.client.post("/events", content=envelope.canonical_bytes()),
        422,
        "ContentKindMismatch",
        f"content {digest}: the bytes are UTF-8 text (uploaded as a idea), not the declared "
        "photo (a JPEG, PNG, WebP or GIF image)",
    )
    assert w.size() == before
    body["kind"] = "idea"
    envelope = sign_envelope(w.ana, "ContributionSubmitted", body, seq=seq, campaign=OPEN_CAMPAIGN)
    assert w.client.post("/events", content=envelope.canonical_bytes()).status_code == 201


def test_content_hashes_must_be_lowercase_hex(world: World) -> None:
    response = world.client.get("/content/" + "A" * 64)
    assert response.status_code == 422 and response.json()["error"] == "InvalidRequest"
    assert response.json()["detail"].startswith("path.sha256: String should match pattern")


# -- history, attribution, lineage, explanation -----------------------------------------------


def test_a_members_history_pages_through_their_own_events(each_backend: World) -> None:
    w = each_backend
    ana = w.ana.actor
    seen: list[dict] = []
    start: int | None = 1
    while start is not None:
        page = w.client.get(f"/members/{ana}/history", params={"from": start, "limit": 7}).json()
        assert len(page["events"]) <= 7
        seen += page["events"]
        start = page["next"]
    assert [e["event"]["seq"] for e in seen] == list(range(1, w.services.ledger.next_seq(ana)))
    assert all(e["event"]["actor"] == ana for e in seen)
    assert [w.client.get(f"/events/{e['position']}").json() for e in seen[:3]] == seen[:3]
    assert page["campaigns"] == [w.demo.campaign] and page["erased"] is False
    assert page["label"] == "Ana Silva" and page["seq"] == len(seen)


def test_history_refusals(world: World) -> None:
    stranger = seeded_key(64).actor
    refused(
        world.client.get(f"/members/{stranger}/history"),
        404,
        "UnknownMember",
        f"no actor {stranger} is registered in the log",
    )
    refused(
        world.client.get(f"/members/{world.ana.actor}/history", params={"limit": 0}),
        422,
        "InvalidRequest",
        "limit must be from 1 to 1000, got 0",
    )
    refused(
        world.client.get(f"/members/{world.ana.actor}/history", params={"from": 0}),
        422,
        "InvalidRequest",
        "query.from: Input should be greater than or equal to 1",
    )
    response = world.client.get("/members/not-an-id/history")
    assert response.status_code == 422 and response.json()["error"] == "InvalidRequest"


def test_an_attribution_record_pages_through_the_members_contributions(
    each_backend: World,
) -> None:
    w = each_backend
    path = f"/campaigns/{w.demo.campaign}/members/{w.ana.actor}/attribution"
    whole = w.client.get(path).json()
    assert whole["total"] == len(whole["contributions"]) > 1 and whole["next"] is None
    assert whole["record"]["contributions"] == whole["total"]
    assert all(c["percent"] > 0 for c in whole["contributions"])
    first = w.client.get(path, params={"limit": 1}).json()
    second = w.client.get(path, params={"from": 1, "limit": 1}).json()
    assert first["next"] == 1 and first["contributions"] == whole["contributions"][:1]
    assert second["contributions"] == whole["contributions"][1:2]
    members = w.client.get(f"/campaigns/{w.demo.campaign}/members", params={"limit": 100}).json()
    credit = {m["member"]: m["credit"] for m in members["members"]}
    assert whole["record"]["credit"] == credit[w.ana.actor]


def test_attribution_refusals(world: World) -> None:
    newcomer = seeded_key(65)
    world.client.post("/keys", content=registration(newcomer).canonical_bytes())
    campaign = world.demo.campaign
    refused(
        world.client.get(f"/campaigns/{campaign}/members/{newcomer.actor}/attribution"),
        404,
        "UnknownMember",
        f"member {newcomer.actor} has no part in campaign {campaign}",
    )
    refused(
        world.client.get(f"/campaigns/nope/members/{world.ana.actor}/attribution"),
        404,
        "UnknownCampaign",
        f"no campaign 'nope' in the read models (as of position {world.size()})",
    )


def _a_remix(w: World) -> tuple[str, str]:
    works = w.client.app.state.services.campaigns.show(w.demo.campaign, contributions=True)
    for work in works["works"]:
        if work["derived_from"] and work["outcome"] not in ("removed", "rejected"):
            return work["contribution"], work["derived_from"][0]["contribution"]
    raise AssertionError("the demo has remixes")


def test_a_remixs_lineage_names_its_sources_and_they_name_it(world: World) -> None:
    remix, source = _a_remix(world)
    campaign = world.demo.campaign
    up = world.client.get(f"/campaigns/{campaign}/contributions/{remix}/lineage").json()
    assert up["contribution"] == remix and source in [a["contribution"] for a in up["ancestors"]]
    assert [d["parent"] for d in up["derived_from"]][0] == source
    down = world.client.get(f"/campaigns/{campaign}/contributions/{source}/lineage").json()
    found = {d["contribution"]: d for d in down["descendants"]}
    assert found[remix]["path"] == up["derived_from"][0]["share"]


def test_lineage_refusals(world: World) -> None:
    campaign = world.demo.campaign
    refused(
        world.client.get(f"/campaigns/{campaign}/contributions/nope:1/lineage"),
        404,
        "UnknownContribution",
        f"no contribution nope:1 in campaign {campaign}",
    )


def test_an_explanation_accounts_for_every_cent_of_the_payout(each_backend: World) -> None:
    w = each_backend
    campaign = w.demo.campaign
    preview = w.client.get(f"/campaigns/{campaign}/payouts", params={"limit": 1000}).json()
    amounts = {line["member"]: line["amount"] for line in preview["lines"]}
    for key in w.members[:4]:
        found = w.client.get(f"/campaigns/{campaign}/members/{key.actor}/explanation").json()
        assert found["format"] == "cocred-explanation/1" and found["pool"] == preview["pool"]
        assert sum(item["cents"] for item in found["items"]) == found["payout"]
        assert found["payout"] == amounts.get(key.actor, 0)
        assert all(item["credited"] for item in found["items"])


def test_explanation_refusals(world: World) -> None:
    newcomer = seeded_key(66)
    world.client.post("/keys", content=registration(newcomer).canonical_bytes())
    campaign = world.demo.campaign
    refused(
        world.client.get(f"/campaigns/{campaign}/members/{newcomer.actor}/explanation"),
        404,
        "UnknownMember",
        f"member {newcomer.actor} has no part in campaign {campaign}",
    )
    refused(
        world.client.get(f"/campaigns/nope/members/{world.ana.actor}/explanation"),
        404,
        "UnknownCampaign",
        f"no campaign 'nope' in the log (as of position {world.size()})",
    )


# -- private data: signed requests -------------------------------------------------------------


def test_a_member_exports_their_data_with_a_signed_request(each_backend: World) -> None:
    w = each_backend
    response = signed_get(w.client, w.ana, f"/members/{w.ana.actor}/export")
    assert response.status_code == 200
    mine = response.json()
    assert mine["member"] == w.ana.actor and mine["erased"] is False
    assert mine["profile"]["display_name"] == "Ana Silva"
    assert mine["campaigns"] == {
        w.demo.campaign: {"invited": True, "joined": True, "blocked": False, "reason": None}
    }
    assert len(mine["events"]) == w.services.ledger.next_seq(w.ana.actor) - 1
    assert all(e["actor"] == w.ana.actor for e in mine["events"])


def test_another_actor_may_not_read_a_members_data(world: World) -> None:
    for path, what in (
        (f"/members/{world.ana.actor}/export", "their data export"),
        (f"/members/{world.ana.actor}/profile", "their private profile"),
    ):
        refused(
            signed_get(world.client, world.brand, path),
            403,
            "Forbidden",
            f"only {world.ana.actor} may read {what}; this request is signed by "
            f"{world.brand.actor}",
        )


def test_unsigned_stale_replayed_and_misdirected_requests_are_refused(world: World) -> None:
    path = f"/members/{world.ana.actor}/export"
    refused(
        world.client.get(path),
        401,
        "Unauthenticated",
        "signed request: this resource needs Signature-Input and Signature headers",
    )
    created = int(time.time()) - 600
    response = signed_get(world.client, world.ana, path, created=created)
    assert response.status_code == 401 and response.json()["error"] == "StaleRequest"
    headers = sign_request(world.ana, "GET", path)
    assert world.client.get(path, headers=headers).status_code == 200
    refused(
        world.client.get(path, headers=headers),
        401,
        "ReplayedRequest",
        "signed request: this nonce was already used: a replay",
    )
    other = sign_request(world.ana, "GET", f"/members/{world.ben.actor}/export")
    refused(
        world.client.get(path, headers=other),
        401,
        "BadRequestSignature",
        "signed request: the signature does not verify",
    )


def test_a_member_reads_their_private_profile(each_backend: World) -> None:
    w = each_backend
    response = signed_get(w.client, w.ana, f"/members/{w.ana.actor}/profile")
    assert response.status_code == 200
    profile = response.json()
    iban = IBAN.generate("DE", bank_code="37040044", account_code="0000000001").compact
    assert profile["profile"] == {
        "display_name": "Ana Silva",
        "email": "ana.silva.0@example.org",
        "payout": {"sepa": {"holder": "Ana Silva", "iban": iban}},
    }
    salt = bytes.fromhex(profile["salt"])
    canonical = orjson.dumps(profile["profile"], option=orjson.OPT_SORT_KEYS)
    assert hashlib.sha256(salt + canonical).hexdigest() == profile["commitment"]


def test_a_member_without_a_profile_has_none_to_read(world: World) -> None:
    newcomer = seeded_key(67)
    world.client.post("/keys", content=registration(newcomer).canonical_bytes())
    refused(
        signed_get(world.client, newcomer, f"/members/{newcomer.actor}/profile"),
        404,
        "NoProfile",
        f"member {newcomer.actor} has not set a profile",
    )


# -- erasure -----------------------------------------------------------------------------------


def test_erasure_forgets_the_member_and_keeps_the_log_verifiable(each_backend: World) -> None:
    w = each_backend
    ana = w.ana.actor
    seq = w.services.ledger.next_seq(ana)
    response = w.client.post(
        f"/members/{ana}/erasure", content=erasure(w.ana, seq).canonical_bytes()
    )
    assert response.status_code == 201
    assert response.json() == {
        "position": w.size() - 1,
        "actor": ana,
        "seq": seq,
        "type": "MemberErased",
    }
    assert w.services.profiles.stored(ana) is None
    refused(
        signed_get(w.client, w.ana, f"/members/{ana}/profile"),
        410,
        "MemberErased",
        f"member {ana} was erased: their profile is gone for good",
    )
    mine = signed_get(w.client, w.ana, f"/members/{ana}/export").json()
    assert (mine["erased"], mine["profile"], mine["commitment"]) == (True, None, None)
    history = w.client.get(f"/members/{ana}/history", params={"from": seq}).json()
    assert (history["label"], history["erased"]) == (ERASED_LABEL, True)
    assert [e["event"]["type"] for e in history["events"]] == ["MemberErased"]
    again = erasure(w.ana, seq + 1)
    refused(
        w.client.post(f"/members/{ana}/erasure", content=again.canonical_bytes()),
        410,
        "MemberErased",
        f"member {ana} was erased and can sign no further MemberErased",
    )


def test_a_refused_erasure_deletes_nothing(world: World) -> None:
    ana, ben = world.ana.actor, world.ben.actor
    seq = world.services.ledger.next_seq(ana)
    size = world.size()
    cases = [
        (
            ana,
            erasure(world.ben, world.services.ledger.next_seq(ben)),
            403,
            "Forbidden",
            f"only {ana} may ask for their own erasure; the envelope is signed by {ben}",
        ),
        (
            ana,
            sign_envelope(world.ana, "ProfileCommitted", {"commitment": "0" * 64}, seq=seq),
            422,
            "UnexpectedEventType",
            "an erasure request is a signed MemberErased envelope, not a ProfileCommitted",
        ),
        (
            ana,
            erasure(world.ana, seq - 1),
            409,
            "Replay",
            f"actor {ana}: seq {seq - 1} is already used (last seq is {seq - 1})",
        ),
    ]
    for actor, envelope, status, error, detail in cases:
        refused(
            world.client.post(f"/members/{actor}/erasure", content=envelope.canonical_bytes()),
            status,
            error,
            detail,
        )
    forged = erasure(world.ana, seq).to_json()
    forged["ts"] = "2026-01-01T00:00:00Z"
    response = world.client.post(f"/members/{ana}/erasure", content=orjson.dumps(forged))
    assert response.status_code == 401 and response.json()["error"] == "BadSignature"
    assert world.size() == size
    assert world.services.profiles.stored(ana) is not None
    assert world.services.profiles.stored(ben) is not None


def test_the_shared_erasure_refuses_any_other_event_itself(world: World) -> None:
    ana = world.ana.actor
    seq = world.services.ledger.next_seq(ana)
    commitment = sign_envelope(world.ana, "ProfileCommitted", {"commitment": "0" * 64}, seq=seq)
    with pytest.raises(MalformedBodyError) as caught:
        world.services.campaigns.erase_signed(commitment)
    assert (
        caught.value.detail
        == "an erasure is a signed MemberErased envelope, not a ProfileCommitted"
    )
    assert world.services.profiles.stored(ana) is not None
    assert world.services.ledger.next_seq(ana) == seq


# -- the description ---------------------------------------------------------------------------


def test_every_route_documents_its_refusals_as_error_bodies(world: World) -> None:
    spec = world.client.get("/openapi.json").json()
    for path, methods in spec["paths"].items():
        for method, operation in methods.items():
            responses = operation["responses"]
            assert {"422", "503"} <= set(responses), (method, path)
            for status, response in responses.items():
                if int(status) >= 400:
                    schema = response["content"]["application/json"]["schema"]
                    assert schema == {"$ref": "#/components/schemas/ErrorBody"}, (method, path)


def test_content_uploads_may_exceed_the_general_body_limit(world: World) -> None:
    """Content has the store's own limit (16 MiB); every other body stays at 256 KiB."""
    data = MP4_HEAD + bytes(range(256)) * 4096  # a 1 MiB video
    digest = hashlib.sha256(data).hexdigest()
    stored = upload(world, data, kind="video")
    assert stored.status_code == 201 and stored.json() == {"sha256": digest, "size": len(data)}
    assert signed_get(world.client, world.ana, f"/content/{digest}/original").content == data
    refused(
        world.client.post("/events", content=data),
        413,
        "PayloadTooLarge",
        "request bodies are limited to 262144 bytes",
    )
