"""Benchmark the scale-out path on one PostgreSQL; prints figures, asserts nothing.

Usage: ``python bench/scale_out.py [--members 40] [--events 10] [--postgres URL]``

Two ``cocred serve`` processes (standing for two hosts, one worker each, rate limits off)
and a ``cocred project --follow`` process share a fresh PostgreSQL schema. Figures:

- **writes**: members register and join on one server, then post ``--events`` events
  each, alternating servers, from 2 × members client threads at once: acknowledged
  events/s over both servers; the reference is the same load on one server alone;
- **the other server's read**: after each join acknowledged by one server, the time until
  the other server's ``GET /campaigns/{c}/members`` lists the member (p50/p99/max; target
  within 1 s);
- **the follower's lag**: after an append, the time until the follower's read model
  reaches it (``LISTEN``/``NOTIFY`` wakes it), beside the same with a poll every 0.5 s
  (the SQLite way) — measured on the follower's tracking row.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from api.bootstrap import bootstrap  # noqa: E402
from api.settings import Settings  # noqa: E402
from domain import commands  # noqa: E402
from ledger.actors import KEY_REGISTERED  # noqa: E402
from ledger.envelope import sign_envelope  # noqa: E402
from ledger.keys import SigningKey, public_jwk  # noqa: E402
from tests.api.test_scale_out import (  # noqa: E402
    CAMPAIGN,
    Process,
    commitment,
    free_port,
    request,
)
from tests.support import drop_postgres_schema  # noqa: E402

URL = os.environ.get("COCRED_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


def registration(key: SigningKey) -> bytes:
    body = {"jwk": public_jwk(key.public_bytes)}
    return sign_envelope(key, KEY_REGISTERED, body, seq=1).canonical_bytes()


def setup(url: str, folder: Path) -> dict[str, str]:
    brand = SigningKey.generate()
    now = datetime.now(UTC).replace(microsecond=0)
    with bootstrap(Settings(database_url=url, ledger_key_file=folder / "l.key")) as svc:
        svc.campaigns.gate.append(
            sign_envelope(brand, KEY_REGISTERED, {"jwk": public_jwk(brand.public_bytes)}, seq=1)
        )
        svc.campaigns.open_campaign(
            brand, CAMPAIGN, title="Scale", guidelines=b"be kind",
            starts_at=now - timedelta(days=1), ends_at=now + timedelta(days=30),
        )  # fmt: skip
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("COCRED_")},
        "COCRED_LEDGER_KEY_FILE": str(folder / "l.key"),
        "COCRED_RATE_LIMITS": "false",
    }


def servers(url: str, env: dict[str, str], folder: Path, count: int) -> tuple[list, list[str]]:
    procs, bases = [], []
    for n in range(count):
        port = free_port()
        procs.append(
            Process(["serve", "--db", url, "--port", str(port)], env, folder / f"s{n}.log")
        )
        bases.append(f"http://127.0.0.1:{port}")
    for base, proc in zip(bases, procs, strict=True):
        deadline = time.monotonic() + 120
        while True:
            try:
                if request(base + "/healthz")[0] == 200:
                    break
            except OSError:
                pass
            if proc.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(proc.log.read_text()[-2000:])
            time.sleep(0.2)
    return procs, bases


def load(url: str, bases: list[str], members: int, events: int, measure_reads: bool):
    with bootstrap(Settings(database_url=url), create=False) as svc:
        guidelines = svc.campaigns.campaign(CAMPAIGN).guidelines
    at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    keys = [SigningKey.generate() for _ in range(members)]
    visible: list[float] = []
    errors: list[str] = []
    done = [0]
    lock = threading.Lock()

    def member(n: int, key: SigningKey) -> None:
        here, there = bases[n % len(bases)], bases[(n + 1) % len(bases)]
        joined = commands.member_joined(key, CAMPAIGN, guidelines, seq=2, at=at)
        status, _ = request(
            here + "/events/batch", registration(key) + b"\n" + joined.canonical_bytes()
        )
        assert status == 201, status
        acked = time.perf_counter()
        if measure_reads:
            while True:
                code, page = request(f"{there}/campaigns/{CAMPAIGN}/members?limit=500")
                if code != 200:
                    errors.append(f"{there} answered {code}: {page}")
                    time.sleep(0.05)
                    continue
                if any(m["member"] == key.actor for m in page["members"]):
                    visible.append(time.perf_counter() - acked)
                    break
                time.sleep(0.005)
        for seq in range(3, 3 + events):
            status, _ = request(bases[(n + seq) % len(bases)] + "/events", commitment(key, seq))
            assert status == 201, status
        with lock:
            done[0] += 2 + events

    start = time.perf_counter()
    threads = [threading.Thread(target=member, args=(n, k)) for n, k in enumerate(keys)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for error in errors[:5]:
        print(f"   read refused: {error[:300]}")
    return done[0] / (time.perf_counter() - start), visible


def follower_lag(url: str, env: dict[str, str], folder: Path, base: str, poll: bool) -> list[float]:
    """Append one event at a time on ``base``; time until the follower's tables reach it."""
    from projections.projector import Projector

    args = ["project", "--follow", "--db", url, "--interval", "0.5"]
    args += ["--no-listen"] if poll else []
    follower = Process(args, env, folder / f"follow-{poll}.log")
    lags = []
    try:
        with bootstrap(Settings(database_url=url), create=False) as svc:
            projector = Projector(svc.ledger.store, engine=svc.engine)
            head = svc.ledger.store.size()
            deadline = time.monotonic() + 120
            while projector.position() < head and time.monotonic() < deadline:
                time.sleep(0.05)
            key = SigningKey.generate()
            guidelines = svc.campaigns.campaign(CAMPAIGN).guidelines
            at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            joined = commands.member_joined(key, CAMPAIGN, guidelines, seq=2, at=at)
            batch = registration(key) + b"\n" + joined.canonical_bytes()
            assert request(base + "/events/batch", batch)[0] == 201
            time.sleep(1.5)
            for seq in range(3, 13):
                status, body = request(base + "/events", commitment(key, seq))
                assert status == 201, (status, body)
                acked = time.perf_counter()
                while projector.position() <= body["position"]:
                    time.sleep(0.002)
                lags.append(time.perf_counter() - acked)
                time.sleep(1.3)  # let it go back to sleep (the poll backs off to 5 s)
    finally:
        follower.stop()
    return lags


def ms(values: list[float]) -> str:
    ordered = sorted(values)
    p99 = ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]
    return (
        f"p50 {statistics.median(ordered) * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms, "
        f"max {ordered[-1] * 1000:.0f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=40)
    parser.add_argument("--events", type=int, default=10)
    parser.add_argument("--postgres", default=URL)
    args = parser.parse_args()
    import tempfile

    for count in (1, 2):
        url = f"{args.postgres}?schema=scale_out_{os.getpid()}_{count}"
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            env = setup(url, folder)
            procs, bases = servers(url, env, folder, count)
            try:
                rate, visible = load(url, bases, args.members, args.events, True)
                print(f"{count} server(s): {rate:,.0f} acknowledged events/s "
                      f"({args.members} members x {2 + args.events} events)")  # fmt: skip
                if visible:
                    print(f"   a join acknowledged, listed by the other server (alone: by the "
                          f"same one): {ms(visible)} (target <= 1 s)")  # fmt: skip
                if count == 2:
                    listen = follower_lag(url, env, folder, bases[0], poll=False)
                    print(f"   follower lag, LISTEN/NOTIFY: {ms(listen)}")
                    polled = follower_lag(url, env, folder, bases[0], poll=True)
                    print(f"   follower lag, polling (interval 0.5 s, backing off to 5 s): "
                          f"{ms(polled)}")  # fmt: skip
            finally:
                for proc in procs:
                    proc.stop()
                drop_postgres_schema(url)


if __name__ == "__main__":
    main()
