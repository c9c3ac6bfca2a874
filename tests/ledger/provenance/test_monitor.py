"""The monitor follows a real cocred server over tlog-tiles only, and catches what is wrong.

A real server (``create_app`` under uvicorn on a free port of 127.0.0.1, in this process)
serves a ledger built by the tests; what a real server would never serve (a tampered bundle,
a tile of another tree, a checkpoint whose root the entries do not give) comes from a small
fake tiles server on 127.0.0.1 serving bytes the test wrote. Requests are counted on the
server's side, so "nothing old is fetched again" is what the server saw.
"""

from __future__ import annotations

import hashlib
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from api.bootstrap import Services, bootstrap
from api.settings import Settings
from ledger.actors import KEY_REGISTERED
from ledger.envelope import sign_envelope
from ledger.keys import SigningKey, public_jwk
from ledger.provenance.checkpoints import LedgerIdentity
from ledger.provenance.merkle import leaf_hash, root_from_leaf_hashes
from ledger.provenance.monitor import (
    BAD_BUNDLE,
    BAD_CHECKPOINT,
    BAD_ENTRY,
    BAD_TILE,
    FORK,
    INCONSISTENT,
    ROLLBACK,
    Alert,
    Monitor,
    PassReport,
)
from ledger.provenance.monitor_remote import RemoteHTTPError, RemoteUnreachableError, TileClient
from ledger.provenance.monitor_state import MonitorState, MonitorStateError
from ledger.provenance.note import Checkpoint
from ledger.provenance.tiles import TileReader, export_tiles
from projections.watch import Watch
from tests.domain.conftest import open_world
from tests.support import registration, seeded_key

ANA = seeded_key(2101)
EPOCH = "2026-01-01T00:00:00Z"


# -- a real server, in this process ----------------------------------------------------------


class Counting:
    """ASGI wrapper that records every request path the app is asked for."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.paths: list[str] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            self.paths.append(scope["path"])
        await self.app(scope, receive, send)


def free_socket() -> socket.socket:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    return sock


@contextmanager
def serving(app: Any) -> Iterator[str]:
    """``app`` under uvicorn on a free port of 127.0.0.1 (in a thread), stopped on exit."""
    import uvicorn

    sock = free_socket()
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, lifespan="off", log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(30)
        sock.close()


@dataclass
class Remote:
    """A ledger served by a real cocred server: its services, URL and the paths it served."""

    services: Services
    url: str
    counted: Counting
    key: SigningKey = ANA
    notes: int = 0

    @property
    def vkey(self) -> str:
        return self.services.provenance.identity.vkey

    def grow(self, count: int, tag: str = "a") -> None:
        """Append ``count`` events (the first one registers ``key``), one batch."""
        ledger = self.services.ledger
        events = []
        for _ in range(count):
            seq = ledger.next_seq(self.key.actor) + len(events)
            if seq == 1:  # at a fixed time: two ledgers of the tests start with the same bytes
                body: dict[str, Any] = {"jwk": public_jwk(self.key.public_bytes)}
                events.append(sign_envelope(self.key, KEY_REGISTERED, body, seq=1, ts=EPOCH))
            else:
                body = {"n": seq, "tag": tag}
                events.append(sign_envelope(self.key, "NoteShared", body, seq=seq, ts=EPOCH))
        ledger.append_batch(events)

    def cut(self) -> int:
        stored = self.services.provenance.checkpoints.cut()
        assert stored is not None
        return stored.size

    def served(self) -> list[str]:
        """The paths served since the last call, sorted (bundles are fetched ahead on a
        second connection, so the order between the two is the scheduler's)."""
        paths, self.counted.paths = self.counted.paths, []
        return sorted(p.lstrip("/") for p in paths)


def settings(folder: Path, name: str, key_file: Path) -> Settings:
    return Settings(
        database_url=f"sqlite:///{folder}/{name}.sqlite",
        ledger_key_file=key_file,
        verify_threads=1,
        rate_limits=False,
    )


@contextmanager
def remote_ledger(folder: Path, name: str = "a", key_file: Path | None = None) -> Iterator[Remote]:
    """A fresh ledger (its key in ``key_file``, default beside it) behind a real server."""
    from api.http.app import create_app

    config = settings(folder, name, key_file or folder / "ledger.key")
    with bootstrap(config) as services:
        counted = Counting(create_app(services))
        with serving(counted) as url:
            yield Remote(services, url, counted)


@pytest.fixture
def remote(tmp_path: Path) -> Iterator[Remote]:
    with remote_ledger(tmp_path) as served:
        yield served


def follow(
    url: str, vkey: str, state: Path, *, watch: Watch | None = None, now: datetime | None = None
) -> Monitor:
    """A monitor as one run of ``cocred monitor`` makes it: a new client and state each time."""
    clock = (lambda: now) if now is not None else (lambda: datetime.now(UTC))
    return Monitor(TileClient(url), vkey, MonitorState(state, vkey), observer=watch, clock=clock)


def only(report: PassReport) -> Alert:
    assert len(report.alerts) == 1, report.alerts
    return report.alerts[0]


# -- a fake tiles server serving bytes the test wrote -------------------------------------------


@dataclass
class Fake:
    """Files served as they are (``checkpoint``, ``tile/…``), 404 for any other path."""

    files: dict[str, bytes]
    url: str = ""
    paths: list[str] = field(default_factory=list)


@contextmanager
def fake_tiles(files: dict[str, bytes]) -> Iterator[Fake]:
    fake = Fake(dict(files))

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            path = self.path.lstrip("/")
            fake.paths.append(path)
            data = fake.files.get(path)
            self.send_response(200 if data is not None else 404)
            body = data if data is not None else b'{"error":"NotFound","detail":"no such file"}'
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


def exported(remote: Remote, into: Path) -> dict[str, bytes]:
    """Every file ``cocred tiles export`` writes for the remote's latest checkpoint."""
    latest = remote.services.provenance.checkpoints.latest()
    assert latest is not None
    reader = TileReader(remote.services.provenance.tree, remote.services.ledger.store)
    export_tiles(reader, latest.signed.to_text(), latest.size, into)
    return {
        str(path.relative_to(into)): path.read_bytes() for path in into.rglob("*") if path.is_file()
    }


def hand_made(entries: list[bytes], key_file: Path, root: bytes | None = None) -> dict[str, bytes]:
    """The tiles of a log of fewer than 256 ``entries``, its checkpoint signed by the ledger key
    in ``key_file`` (for ``root``, default the entries' own)."""
    identity = LedgerIdentity.load_or_create(key_file)
    leaves = [leaf_hash(e) for e in entries]
    checkpoint = Checkpoint(identity.origin, len(entries), root or root_from_leaf_hashes(leaves))
    width = len(entries)
    return {
        "checkpoint": identity.signer.sign(checkpoint).to_text().encode(),
        f"tile/0/000.p/{width}": b"".join(leaves),
        f"tile/entries/000.p/{width}": b"".join(len(e).to_bytes(2, "big") + e for e in entries),
    }


# -- following a real server ------------------------------------------------------------------


def test_a_first_run_verifies_the_whole_log_from_zero(remote: Remote, tmp_path: Path) -> None:
    remote.grow(300)
    remote.cut()
    report = follow(remote.url, remote.vkey, tmp_path / "m.sqlite").poll()
    assert (report.previous, report.size, report.entries, report.alerts) == (0, 300, 300, [])
    assert remote.served() == sorted(
        [
            "checkpoint",
            "tile/entries/000",
            "tile/0/000",
            "tile/entries/001.p/44",
            "tile/0/001.p/44",
            "tile/1/000.p/1",
        ]
    )
    state = MonitorState(tmp_path / "m.sqlite", remote.vkey)
    latest = remote.services.provenance.checkpoints.latest()
    assert latest is not None
    assert (state.size, state.root, state.note) == (300, latest.root, latest.signed.to_text())
    assert state.actor(ANA.actor) is not None and state.actor(ANA.actor).seq == 300  # type: ignore[union-attr]


def test_a_second_run_resumes_and_fetches_nothing_old_but_the_partial_bundle(
    remote: Remote, tmp_path: Path
) -> None:
    state = tmp_path / "m.sqlite"
    remote.grow(300)
    remote.cut()
    follow(remote.url, remote.vkey, state).poll()
    remote.served()
    remote.grow(100)
    remote.cut()
    report = follow(remote.url, remote.vkey, state).poll()
    assert (report.previous, report.size, report.entries, report.alerts) == (300, 400, 100, [])
    # The full tile and bundle 000 are not asked for again; the partial bundle 001 is (the
    # format serves entries 256-399 only together), and its 44 old entries only compared.
    assert remote.served() == sorted(["checkpoint", "tile/entries/001.p/144", "tile/0/001.p/144"])
    again = follow(remote.url, remote.vkey, state).poll()
    assert (again.size, again.entries, again.alerts) == (400, 0, [])
    assert remote.served() == ["checkpoint"]


def test_a_log_that_grows_past_a_tile_boundary_checks_the_completed_tiles(
    remote: Remote, tmp_path: Path
) -> None:
    state = tmp_path / "m.sqlite"
    remote.grow(200)
    remote.cut()
    follow(remote.url, remote.vkey, state).poll()
    remote.served()
    remote.grow(100)
    remote.cut()
    assert follow(remote.url, remote.vkey, state).poll().alerts == []
    assert remote.served() == sorted(
        [
            "checkpoint",
            "tile/entries/000",
            "tile/0/000",
            "tile/entries/001.p/44",
            "tile/0/001.p/44",
            "tile/1/000.p/1",
        ]
    )


def test_a_checkpoint_for_a_size_seen_before_with_another_root_is_a_fork(
    remote: Remote, tmp_path: Path
) -> None:
    state = tmp_path / "m.sqlite"
    remote.grow(3)
    remote.cut()
    follow(remote.url, remote.vkey, state).poll()
    seen = remote.services.provenance.checkpoints.latest()
    # A second ledger signed with the same key file: the same size, other entries.
    with remote_ledger(tmp_path, "b", tmp_path / "ledger.key") as other:
        other.grow(3, tag="b")
        other.cut()
        forked = other.services.provenance.checkpoints.latest()
        assert seen is not None and forked is not None
        report = follow(other.url, remote.vkey, state).poll()
    alert = only(report)
    assert alert.kind == FORK and report.split_view
    assert alert.sentence == (
        f"the checkpoint for size 3 has root {forked.root.hex()}, but the one accepted before "
        f"for that size has root {seen.root.hex()}: the ledger key signed two different logs "
        "(both signed notes are in this alert)"
    )
    assert alert.ids["note"] == forked.signed.to_text()
    assert alert.ids["seen_note"] == seen.signed.to_text()
    assert MonitorState(state, remote.vkey).root == seen.root  # nothing moved


def test_a_smaller_checkpoint_than_the_verified_size_is_a_rollback(
    remote: Remote, tmp_path: Path
) -> None:
    state = tmp_path / "m.sqlite"
    remote.grow(5)
    remote.cut()
    follow(remote.url, remote.vkey, state).poll()
    with remote_ledger(tmp_path, "b", tmp_path / "ledger.key") as other:
        other.grow(3)
        other.cut()
        report = follow(other.url, remote.vkey, state).poll()
    alert = only(report)
    assert (alert.kind, alert.position, report.split_view) == (ROLLBACK, 3, True)
    assert alert.sentence == (
        "the checkpoint is for size 3, smaller than the 5 entries already verified: the log "
        "was rolled back (or is served from a stale copy)"
    )
    assert MonitorState(state, remote.vkey).size == 5


def test_old_entries_served_differently_are_a_bad_bundle(remote: Remote, tmp_path: Path) -> None:
    state = tmp_path / "m.sqlite"
    remote.grow(3)
    remote.cut()
    follow(remote.url, remote.vkey, state).poll()
    with remote_ledger(tmp_path, "b", tmp_path / "ledger.key") as other:
        other.grow(5, tag="b")  # the same registration, then other notes
        other.cut()
        report = follow(other.url, remote.vkey, state).poll()
    alert = only(report)
    assert (alert.kind, alert.position) == (BAD_BUNDLE, 1)
    assert alert.sentence == (
        "tile/entries/000.p/5: entry 1 differs from the one verified before at that position: "
        "the log now served is another history"
    )
    assert MonitorState(state, remote.vkey).size == 3


def test_a_checkpoint_not_signed_by_the_pinned_key_is_a_bad_checkpoint(
    remote: Remote, tmp_path: Path
) -> None:
    remote.grow(3)
    remote.cut()
    other = LedgerIdentity.load_or_create(tmp_path / "other.key")
    report = follow(remote.url, other.vkey, tmp_path / "m.sqlite").poll()
    alert = only(report)
    assert alert.kind == BAD_CHECKPOINT and report.integrity and not report.split_view
    mine = remote.services.provenance.identity
    assert alert.sentence == (
        f"{remote.url}/checkpoint: checkpoint: no signature by key "
        f"{other.origin}+{other.signer.key_id.hex()} (signed by: "
        f"{mine.origin}+{mine.signer.key_id.hex()})"
    )


# -- what a real server never serves ------------------------------------------------------------


def test_a_checkpoint_whose_root_the_entries_do_not_give_is_inconsistent(
    remote: Remote, tmp_path: Path
) -> None:
    remote.grow(4)
    remote.cut()
    files = exported(remote, tmp_path / "x")
    entries = [r.data for r in remote.services.ledger.store.read(0, 4)]
    lie = hand_made(entries, tmp_path / "ledger.key", root=b"\x07" * 32)
    with fake_tiles({**files, "checkpoint": lie["checkpoint"]}) as fake:
        report = follow(fake.url, remote.vkey, tmp_path / "m.sqlite").poll()
    alert = only(report)
    real = root_from_leaf_hashes([leaf_hash(e) for e in entries])
    assert (alert.kind, alert.position) == (INCONSISTENT, 4)
    assert alert.sentence == (
        f"the 4 entries hash to root {real.hex()}, the signed checkpoint for size 4 says "
        f"{'07' * 32}"
    )
    assert MonitorState(tmp_path / "m.sqlite", remote.vkey).size == 0


def test_a_tile_of_another_tree_is_a_bad_tile(remote: Remote, tmp_path: Path) -> None:
    remote.grow(5)
    remote.cut()
    files = exported(remote, tmp_path / "x")
    tile = bytearray(files["tile/0/000.p/5"])
    tile[2 * 32] ^= 1
    with fake_tiles({**files, "tile/0/000.p/5": bytes(tile)}) as fake:
        report = follow(fake.url, remote.vkey, tmp_path / "m.sqlite").poll()
    alert = only(report)
    assert alert.kind == BAD_TILE
    good = files["tile/0/000.p/5"][64:96]
    assert alert.sentence == (
        f"tile/0/000.p/5: hash 2 (the node at level 0, index 2) is {bytes(tile[64:96]).hex()}, "
        f"the entries give {good.hex()}"
    )


def test_a_tampered_entry_is_a_bad_signature(remote: Remote, tmp_path: Path) -> None:
    remote.grow(3)
    remote.cut()
    files = exported(remote, tmp_path / "x")
    bundle = files["tile/entries/000.p/3"]
    tampered = bundle.replace(b'"n":3', b'"n":4')
    assert tampered != bundle
    with fake_tiles({**files, "tile/entries/000.p/3": tampered}) as fake:
        report = follow(fake.url, remote.vkey, tmp_path / "m.sqlite").poll()
    alert = only(report)
    assert (alert.kind, alert.position, alert.ids["step"]) == (BAD_ENTRY, 2, "signature")
    assert alert.sentence == (
        f"position 2: signature: actor {ANA.actor} seq 3: signature does not verify with key "
        f"{ANA.key_id}"
    )


def test_a_bad_entry_deep_in_a_long_catch_up_stops_the_pass_and_commits_nothing(
    remote: Remote, tmp_path: Path
) -> None:
    remote.grow(1300)  # six bundles: more than are fetched ahead
    remote.cut()
    files = exported(remote, tmp_path / "x")
    files["tile/entries/002"] = files["tile/entries/002"].replace(b'"n":600', b'"n":601')
    with fake_tiles(files) as fake:
        alert = only(follow(fake.url, remote.vkey, tmp_path / "m.sqlite").poll())
    assert (alert.kind, alert.position, alert.ids["step"]) == (BAD_ENTRY, 599, "signature")
    assert MonitorState(tmp_path / "m.sqlite", remote.vkey).size == 0
    assert follow(remote.url, remote.vkey, tmp_path / "m.sqlite").poll().size == 1300


def test_a_cut_bundle_and_a_bundle_of_the_wrong_count_are_bad_bundles(
    remote: Remote, tmp_path: Path
) -> None:
    remote.grow(3)
    remote.cut()
    files = exported(remote, tmp_path / "x")
    bundle = files["tile/entries/000.p/3"]
    with fake_tiles({**files, "tile/entries/000.p/3": bundle[:-5]}) as fake:
        alert = only(follow(fake.url, remote.vkey, tmp_path / "m1.sqlite").poll())
    assert (alert.kind, alert.sentence) == (
        BAD_BUNDLE,
        f"tile/entries/000.p/3: entry bundle: entry at byte {_last_entry_at(bundle)} runs past "
        "the bundle",
    )
    first = 2 + int.from_bytes(bundle[:2], "big")
    with fake_tiles({**files, "tile/entries/000.p/3": bundle[:first]}) as fake:
        alert = only(follow(fake.url, remote.vkey, tmp_path / "m2.sqlite").poll())
    assert (alert.kind, alert.sentence) == (
        BAD_BUNDLE,
        "tile/entries/000.p/3 holds 1 entries, expected 3",
    )


def _last_entry_at(bundle: bytes) -> int:
    """The byte where the last entry of ``bundle`` starts (after its length prefix)."""
    at = 0
    while True:
        length = int.from_bytes(bundle[at : at + 2], "big")
        if at + 2 + length >= len(bundle):
            return at + 2
        at += 2 + length


def test_a_seq_gap_and_a_non_canonical_entry_are_bad_entries(tmp_path: Path) -> None:
    key_file = tmp_path / "ledger.key"
    vkey = LedgerIdentity.load_or_create(key_file).vkey
    first, second = registration(ANA), sign_envelope(ANA, "NoteShared", {"n": 2}, seq=2)
    skipped = sign_envelope(ANA, "NoteShared", {"n": 4}, seq=4)
    entries = [first.canonical_bytes(), second.canonical_bytes(), skipped.canonical_bytes()]
    with fake_tiles(hand_made(entries, key_file)) as fake:
        alert = only(follow(fake.url, vkey, tmp_path / "m1.sqlite").poll())
    assert (alert.kind, alert.position, alert.ids["code"]) == (BAD_ENTRY, 2, "SequenceGap")
    assert alert.sentence == (
        f"position 2: key state: actor {ANA.actor}: seq 4 skips ahead; the next seq must be 3"
    )
    spaced = second.canonical_bytes().replace(b',"body"', b', "body"')
    with fake_tiles(hand_made([entries[0], spaced], key_file)) as fake:
        alert = only(follow(fake.url, vkey, tmp_path / "m2.sqlite").poll())
    assert (alert.kind, alert.position) == (BAD_ENTRY, 1)
    assert alert.sentence == (
        "position 1: canonical: the entry is not the canonical form of the envelope it holds"
    )
    unregistered = sign_envelope(seeded_key(9), "NoteShared", {"n": 1}, seq=1)
    with fake_tiles(hand_made([unregistered.canonical_bytes()], key_file)) as fake:
        alert = only(follow(fake.url, vkey, tmp_path / "m3.sqlite").poll())
    assert (alert.kind, alert.ids["code"]) == (BAD_ENTRY, "UnknownKey")
    assert alert.sentence == (
        f"position 0: key state: actor {seeded_key(9).actor} is not registered (an actor's "
        "first event is KeyRegistered)"
    )


# -- refusals -----------------------------------------------------------------------------------


def test_an_unreachable_remote_is_a_typed_error(tmp_path: Path) -> None:
    with free_socket() as sock:  # bound, never listening: connections are refused
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        vkey = LedgerIdentity.load_or_create(tmp_path / "ledger.key").vkey
        with pytest.raises(RemoteUnreachableError) as caught:
            follow(url, vkey, tmp_path / "m.sqlite").poll()
    assert caught.value.code == "RemoteUnreachable"
    assert caught.value.detail == f"cannot reach {url}/checkpoint: Connection refused"


def test_an_http_error_of_the_remote_is_a_typed_error(remote: Remote, tmp_path: Path) -> None:
    remote.grow(1)  # no checkpoint cut yet
    with pytest.raises(RemoteHTTPError) as caught:
        follow(remote.url, remote.vkey, tmp_path / "m.sqlite").poll()
    assert caught.value.code == "RemoteHTTPError"
    assert caught.value.detail == (
        f"GET {remote.url}/checkpoint answered 404 Not Found (NotFound: no checkpoint has been "
        "cut yet)"
    )


def test_a_state_file_of_another_ledger_is_refused(remote: Remote, tmp_path: Path) -> None:
    remote.grow(1)
    remote.cut()
    follow(remote.url, remote.vkey, tmp_path / "m.sqlite").poll()
    other = LedgerIdentity.load_or_create(tmp_path / "other.key").vkey
    with pytest.raises(MonitorStateError) as caught:
        MonitorState(tmp_path / "m.sqlite", other)
    assert caught.value.code == "MonitorState"
    assert caught.value.detail == (
        f"state file {tmp_path / 'm.sqlite'} follows the ledger key {remote.vkey}, not {other}: "
        "use another --state for another ledger"
    )


# -- watching actors and pieces -----------------------------------------------------------------


def test_the_watch_alerts_on_a_watched_actor_a_remix_a_reuse_and_an_expiring_licence(
    tmp_path: Path,
) -> None:
    from api.http.app import create_app

    config = settings(tmp_path, "w", tmp_path / "ledger.key")
    with bootstrap(config) as services, serving(Counting(create_app(services))) as url:
        w = open_world(services)
        state = tmp_path / "m.sqlite"
        watch = Watch([w.cy.actor], [])
        vkey = services.provenance.identity.vkey
        services.provenance.checkpoints.cut()
        first = follow(url, vkey, state, watch=watch).poll()
        # Cy registered, was invited (by the brand) and joined: two events Cy signed.
        assert [(a.kind, a.ids["type"]) for a in first.alerts] == [
            ("watched-actor", "KeyRegistered"),
            ("watched-actor", "MemberJoined"),
        ]
        content = b"kite at dawn"
        idea = w.c.submit(w.ana, w.campaign, content, kind="idea", title="Kite").ids["contribution"]
        digest = hashlib.sha256(content).hexdigest()  # the content store's hash
        w.grant(w.ana, idea, ends_at=w.now + timedelta(days=20))
        services.provenance.checkpoints.cut()
        watch = Watch([w.cy.actor], [digest])
        quiet = follow(url, vkey, state, watch=watch, now=w.now).poll()
        assert [a.kind for a in quiet.alerts] == ["submission"]
        assert quiet.alerts[0].sentence == (
            f"watched content {digest} was submitted as contribution {idea} ('Kite') by "
            f"{w.ana.actor} at position {quiet.previous}"
        )
        remix = w.c.remix(
            w.ben, w.campaign, b"kites", kind="design", title="Kites", derived_from=[(idea, "1/5")]
        ).ids["contribution"]
        w.c.record_reuse(w.brand, w.campaign, idea, f"{idea}/brand-2026", channel="web",
                         territory="FR")  # fmt: skip
        w.c.cast_vote(w.cy, w.campaign, idea, "support")
        services.provenance.checkpoints.cut()
        later = w.now + timedelta(days=10)
        report = follow(url, vkey, state, watch=Watch([w.cy.actor], [digest]), now=later).poll()
        size = report.previous
        assert [(a.kind, a.position) for a in report.alerts] == [
            ("remix", size),
            ("reuse", size + 1),
            ("watched-actor", size + 2),
            ("licence-expiring", size - 1),
        ]
        remixed, reused, voted, expiring = (a.sentence for a in report.alerts)
        assert remixed == (
            f"contribution {remix} ('Kites') by {w.ben.actor} remixes watched piece {idea} "
            f"(share 1/5) at position {size}"
        )
        assert reused == (
            f"{w.brand.actor} recorded a reuse of watched piece {idea} under licence "
            f"{idea}/brand-2026 on channel web in FR at position {size + 1}"
        )
        assert voted == (
            f"watched actor {w.cy.actor} signed VoteCast (seq 3) at position {size + 2}"
        )
        ends = (w.now + timedelta(days=20)).strftime("%Y-%m-%dT%H:%M:%SZ")
        assert expiring == (
            f"licence {idea}/brand-2026 of watched piece {idea} ends at {ends}, in 10 days and "
            "0 hours"
        )
        # Said once: a later run (the state remembers) says nothing more about it.
        again = follow(url, vkey, state, watch=Watch([], [digest]), now=later).poll()
        assert again.alerts == []


def test_a_revoked_licence_is_not_said_to_expire(tmp_path: Path) -> None:
    from api.http.app import create_app

    config = settings(tmp_path, "w", tmp_path / "ledger.key")
    with bootstrap(config) as services, serving(Counting(create_app(services))) as url:
        w = open_world(services)
        idea = w.submit(w.ana, "Kite")
        w.grant(w.ana, idea, ends_at=w.now + timedelta(days=3))
        w.c.revoke_licence(w.ana, w.campaign, f"{idea}/brand-2026")
        services.provenance.checkpoints.cut()
        vkey = services.provenance.identity.vkey
        report = follow(url, vkey, tmp_path / "m.sqlite", watch=Watch([], [idea]), now=w.now).poll()
    assert report.alerts == []


def test_a_pass_stopped_in_the_middle_commits_nothing(remote: Remote, tmp_path: Path) -> None:
    remote.grow(300)
    remote.cut()
    stop = threading.Event()
    stop.set()
    report = follow(remote.url, remote.vkey, tmp_path / "m.sqlite").poll(stop)
    assert report.stopped and report.size == 0
    assert MonitorState(tmp_path / "m.sqlite", remote.vkey).size == 0
    assert follow(remote.url, remote.vkey, tmp_path / "m.sqlite").poll().size == 300


def test_a_bundle_the_remote_does_not_serve_is_an_http_error_and_commits_nothing(
    remote: Remote, tmp_path: Path
) -> None:
    remote.grow(300)
    remote.cut()
    files = exported(remote, tmp_path / "x")
    del files["tile/entries/001.p/44"]
    watch = Watch([ANA.actor], [])
    with fake_tiles(files) as fake:
        follower = follow(fake.url, remote.vkey, tmp_path / "m.sqlite", watch=watch)
        with pytest.raises(RemoteHTTPError) as caught:
            follower.poll()
    assert caught.value.detail == (
        f"GET {fake.url}/tile/entries/001.p/44 answered 404 Not Found (NotFound: no such file)"
    )
    assert watch.state() == {"learnt": {}, "licences": {}}
    assert not (tmp_path / "m.sqlite").exists()
