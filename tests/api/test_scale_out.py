"""The scale-out path: two ``cocred serve`` processes (standing for two hosts) and a
``cocred project --follow`` process, all on one PostgreSQL.

Both servers take writes and serve reads at once: members register and join on one server
and post their next events alternately on both. Nothing acknowledged is lost, no (actor,
seq) is stored twice, positions stay dense, a join acknowledged by one server shows in the
other's read model, and the follower (woken by ``LISTEN``/``NOTIFY``) reaches the head.
How fast the other server sees a write is measured by ``bench/scale_out.py``, not here.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from api.bootstrap import bootstrap
from api.settings import Settings
from domain import commands
from ledger.actors import KEY_REGISTERED
from ledger.envelope import sign_envelope
from ledger.keys import SigningKey, public_jwk
from tests.support import drop_postgres_schema, fresh_postgres_url, seeded_key

ROOT = Path(__file__).resolve().parents[2]
CAMPAIGN = "scale-26"
MEMBERS = 16
EVENTS_EACH = 6  # after the registration and the join, alternating servers


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Process:
    """A ``cocred`` verb in its own process, its stderr in a file, stopped by its PID."""

    def __init__(self, args: list[str], env: dict[str, str], log: Path) -> None:
        self.log = log
        with log.open("wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "api.cli", *args],
                cwd=ROOT,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=out,
            )

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def request(url: str, data: bytes | None = None) -> tuple[int, dict]:
    req = urllib.request.Request(url, data=data, method="POST" if data is not None else "GET")
    try:
        with urllib.request.urlopen(req, timeout=30) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def commitment(key: SigningKey, seq: int) -> bytes:
    digest = hashlib.sha256(f"{key.actor}:{seq}".encode()).hexdigest()
    return sign_envelope(key, "ProfileCommitted", {"commitment": digest}, seq=seq).canonical_bytes()


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[tuple[str, list[str], Process]]:
    url = fresh_postgres_url()
    key_file = tmp_path / "ledger.key"
    brand = seeded_key(8801)
    now = datetime.now(UTC).replace(microsecond=0)
    settings = Settings(database_url=url, ledger_key_file=key_file)
    with bootstrap(settings) as services:
        services.campaigns.gate.append(
            sign_envelope(brand, KEY_REGISTERED, {"jwk": public_jwk(brand.public_bytes)}, seq=1)
        )
        services.campaigns.open_campaign(
            brand, CAMPAIGN, title="Scale", guidelines=b"be kind",
            starts_at=now - timedelta(days=1), ends_at=now + timedelta(days=30),
        )  # fmt: skip
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("COCRED_")},
        "COCRED_LEDGER_KEY_FILE": str(key_file),
        "COCRED_RATE_LIMITS": "false",
    }
    servers: list[Process] = []
    bases: list[str] = []
    follower = None
    try:
        for n in (1, 2):
            port = free_port()
            args = ["serve", "--db", url, "--port", str(port)]
            servers.append(Process(args, env, tmp_path / f"server{n}.log"))
            bases.append(f"http://127.0.0.1:{port}")
        follower = Process(["project", "--follow", "--db", url], env, tmp_path / "follow.log")
        for base, server in zip(bases, servers, strict=True):
            deadline = time.monotonic() + 120
            while True:
                assert server.proc.poll() is None, server.log.read_text()[-2000:]
                try:
                    if request(base + "/healthz")[0] == 200:
                        break
                except OSError:
                    pass
                assert time.monotonic() < deadline, "a server did not start"
                time.sleep(0.2)
        yield url, bases, follower
    finally:
        for process in [*servers, *([follower] if follower else [])]:
            process.stop()
        drop_postgres_schema(url)


@pytest.mark.postgres
@pytest.mark.slow
def test_two_servers_and_a_follower_on_one_postgresql_lose_nothing_and_agree(cluster) -> None:
    url, bases, follower = cluster
    with bootstrap(Settings(database_url=url), create=False) as services:
        guidelines = services.campaigns.campaign(CAMPAIGN).guidelines
    at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    keys = [seeded_key(8810 + n) for n in range(MEMBERS)]
    acknowledged: dict[tuple[str, int], int] = {}
    seen_elsewhere: list[str] = []
    failures: list[str] = []
    lock = threading.Lock()

    def member(n: int, key: SigningKey) -> None:
        here, there = bases[n % 2], bases[(n + 1) % 2]
        joined = commands.member_joined(key, CAMPAIGN, guidelines, seq=2, at=at)
        registration = sign_envelope(
            key, KEY_REGISTERED, {"jwk": public_jwk(key.public_bytes)}, seq=1
        ).canonical_bytes()
        status, body = request(
            here + "/events/batch", registration + b"\n" + joined.canonical_bytes()
        )
        if status != 201:
            failures.append(f"join of {n} on {here}: {status} {body}")
            return
        with lock:
            acknowledged[(key.actor, 1)], acknowledged[(key.actor, 2)] = body["positions"]
        # The other server's read model shows the member once it is asked after the ack.
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            _, page = request(f"{there}/campaigns/{CAMPAIGN}/members?limit=200")
            if any(m["member"] == key.actor for m in page.get("members", [])):
                seen_elsewhere.append(key.actor)
                break
            time.sleep(0.05)
        for seq in range(3, 3 + EVENTS_EACH):
            target = bases[(n + seq) % 2]  # each event on the other server than the last
            status, body = request(target + "/events", commitment(key, seq))
            if status != 201:
                failures.append(f"seq {seq} of {n} on {target}: {status} {body}")
                return
            with lock:
                acknowledged[(key.actor, seq)] = body["position"]

    def guarded(n: int, key: SigningKey) -> None:
        try:
            member(n, key)
        except Exception as exc:  # a thread's failure fails the test, not just a warning
            failures.append(f"member {n}: {type(exc).__name__}: {exc}")

    threads = [threading.Thread(target=guarded, args=(n, k)) for n, k in enumerate(keys)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    assert failures == []
    assert sorted(seen_elsewhere) == sorted(k.actor for k in keys)
    assert len(acknowledged) == MEMBERS * (2 + EVENTS_EACH)

    with bootstrap(Settings(database_url=url), create=False) as services:
        records = list(services.ledger.store.iterate())
        size = services.ledger.store.size()
        from projections.projector import Projector

        projector = Projector(services.ledger.store, engine=services.engine)
        deadline = time.monotonic() + 60
        while projector.position() < size and time.monotonic() < deadline:
            time.sleep(0.1)
        followed = projector.position()
    assert [r.position for r in records] == list(range(size))  # dense
    pairs = [(r.actor, r.seq) for r in records]
    assert len(pairs) == len(set(pairs))  # no (actor, seq) twice
    stored = {(r.actor, r.seq): r.position for r in records}
    assert {k: stored.get(k) for k in acknowledged} == acknowledged  # nothing acknowledged lost
    assert followed == size, follower.log.read_text()[-2000:]
