"""Abuse benchmark: one client floods the server while 50 honest clients act normally.

    python bench/abuse.py [--seconds 30] [--honest 50] [--flood-connections 8]
                          [--workers 1] [--backend sqlite|postgres]

Starts ``cocred serve`` on 127.0.0.1 (a subprocess, stopped by its PID) with
``COCRED_TRUSTED_PROXIES=127.0.0.1``: every simulated client sends its own address in
``X-Forwarded-For``, as a reverse proxy would. The set-up (in-process, the operator's
path): a brand opens an open campaign; the honest members and one abusive member are
registered and joined.

Phase 1, ``--seconds`` s: the honest clients alone. Each one, once a second, posts one
signed event (a profile commitment, its next seq) and reads the campaign (a public read).
Phase 2, ``--seconds`` s: the same honest traffic while one client address floods at
full speed over ``--flood-connections`` connections, from its own process (as an attacker is
on another machine: its key generation, signing and payloads do not run in the honest
clients' event loop, which they did before 2026-12-03 and which inflated the honest
latencies this bench reports), a third of the time each:
registrations (bare ``POST /keys``, and ``[KeyRegistered, MemberJoined]`` batches of
fresh keys, which the open campaign admits), then the abusive member's own events, then
64 KiB uploads signed by it.

It prints what the flood got written (events in the log, content bytes stored) beside
what the configured limits allow it in one window (the flood runs inside one window of
each limit), the honest clients' acknowledged events/s and p50/p99 latency in both
phases, and every honest refusal (the target is none). Targets: flood within its
allowance (+-5 %), honest p99 with the flood <= 1.5x without. It reports; it asserts
nothing about time.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import itertools
import multiprocessing
import os
import random
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from api_load import Server  # noqa: E402
from ingest import drop as drop_schema  # noqa: E402

from api.bootstrap import bootstrap  # noqa: E402
from api.http.auth import sign_request  # noqa: E402
from api.settings import Settings  # noqa: E402
from domain import commands  # noqa: E402
from ledger.actors import KEY_REGISTERED  # noqa: E402
from ledger.envelope import sign_envelope  # noqa: E402
from ledger.keys import SigningKey, public_jwk  # noqa: E402

CAMPAIGN = "open-abuse"
GUIDELINES = b"be kind"
UPLOAD = 64 * 1024
LIMITS = {  # what the flood meets (the defaults, but the writes and bytes made smaller)
    "COCRED_RATE_WRITES_PER_ADDRESS": "300/minute",
    "COCRED_RATE_WRITES_PER_ACTOR": "120/minute",
    "COCRED_RATE_UPLOAD_BYTES": str(4 * 1024 * 1024) + "/hour",
    "COCRED_RATE_PUBLIC_READS": "1200/minute",
    "COCRED_CONTENT_QUOTA_MEMBER_BYTES": str(64 * 1024 * 1024),
    "COCRED_TRUSTED_PROXIES": "127.0.0.1",
}


def registration(key: SigningKey) -> bytes:
    jwk = {"jwk": public_jwk(key.public_bytes)}
    return sign_envelope(key, KEY_REGISTERED, jwk, seq=1).canonical_bytes()


def commitment(key: SigningKey, seq: int) -> bytes:
    digest = hashlib.sha256(f"{key.actor}:{seq}".encode()).hexdigest()
    return sign_envelope(key, "ProfileCommitted", {"commitment": digest}, seq=seq).canonical_bytes()


# -- HTTP/1.1 over raw asyncio streams ----------------------------------------------------------


class Conn:
    """One keep-alive connection from one client address (its X-Forwarded-For)."""

    def __init__(self, port: int, address: str) -> None:
        self.port, self.address = port, address
        self.streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def request(
        self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
    ) -> tuple[int, bytes]:
        if self.streams is None:
            self.streams = await asyncio.open_connection("127.0.0.1", self.port)
        reader, writer = self.streams
        lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", f"X-Forwarded-For: {self.address}"]
        lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
        lines.append(f"Content-Length: {len(body)}")
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        head = await reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        lower = head.lower()
        at = lower.index(b"content-length:") + 15
        length = int(lower[at : lower.index(b"\r\n", at)])
        answer = await reader.readexactly(length)
        if b"connection: close" in lower:
            writer.close()
            self.streams = None
        return status, answer


# -- the clients --------------------------------------------------------------------------------


@dataclass
class Honest:
    statuses: Counter[int] = field(default_factory=Counter)
    refusals: Counter[str] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    samples: list[tuple[float, str, float]] = field(default_factory=list)  # (at, method, s)
    acknowledged: int = 0


async def honest_client(
    port: int, n: int, key: SigningKey, seqs: itertools.count[int], until: float, out: Honest
) -> None:
    conn = Conn(port, f"10.0.{n // 250}.{n % 250 + 1}")
    rnd = random.Random(n)
    await asyncio.sleep(rnd.random())  # spread the clients over the second
    while time.monotonic() < until:
        tick = time.monotonic()
        seq = next(seqs)
        for method, path, body in (
            ("POST", "/events", commitment(key, seq)),
            ("GET", f"/campaigns/{CAMPAIGN}", b""),
        ):
            t0 = time.perf_counter()
            status, answer = await conn.request(method, path, body)
            out.latencies.append(time.perf_counter() - t0)
            out.samples.append((time.monotonic(), method, out.latencies[-1]))
            out.statuses[status] += 1
            if status >= 400:
                out.refusals[f"{status} {answer[:120].decode()}"] += 1
            elif method == "POST":
                out.acknowledged += 1
        await asyncio.sleep(max(0.0, 1.0 - (time.monotonic() - tick)))


@dataclass
class Flood:
    statuses: Counter[tuple[str, int]] = field(default_factory=Counter)
    events: int = 0  # events the server acknowledged (appended)
    bytes: int = 0  # content bytes the server stored
    requests: int = 0


async def flood(
    port: int, connections: int, abuser: SigningKey, first_seq: int, until: float, out: Flood
) -> None:
    start = time.monotonic()
    third = (until - start) / 3
    rng = random.Random(7)
    fresh = (SigningKey.from_seed(rng.randbytes(32)) for _ in itertools.count())
    lock = asyncio.Lock()
    next_seq = [first_seq]

    async def one(conn: Conn) -> None:
        bare = registration(next(fresh))
        while (now := time.monotonic()) < until:
            if now < start + third:  # registrations
                if out.requests % 2:
                    status, _ = await conn.request("POST", "/keys", bare)
                    out.statuses[("bare registration", status)] += 1
                else:
                    key = next(fresh)
                    joined = commands.member_joined(key, CAMPAIGN, guidelines, seq=2, at=at)
                    batch = registration(key) + b"\n" + joined.canonical_bytes()
                    status, _ = await conn.request("POST", "/events/batch", batch)
                    out.statuses[("registration + join", status)] += 1
                    out.events += 2 * (status == 201)
            elif now < start + 2 * third:  # the abuser's own events
                seq = next_seq[0]
                status, _ = await conn.request("POST", "/events", commitment(abuser, seq))
                out.statuses[("own event", status)] += 1
                if status == 201:
                    out.events += 1
                    async with lock:
                        next_seq[0] = max(next_seq[0], seq + 1)
            else:  # uploads
                data = os.urandom(UPLOAD // 2).hex().encode()  # text: uploads declare a kind
                path = f"/content/{hashlib.sha256(data).hexdigest()}"
                query = f"campaign={CAMPAIGN}&kind=text"
                headers = sign_request(abuser, "PUT", path, query=query, body=data)
                status, _ = await conn.request("PUT", f"{path}?{query}", data, headers)
                out.statuses[("upload", status)] += 1
                out.bytes += UPLOAD * (status == 201)
            out.requests += 1

    conns = [Conn(port, "203.0.113.66") for _ in range(connections)]
    await asyncio.gather(*(one(c) for c in conns))


guidelines = ""
at = ""


# -- the run ------------------------------------------------------------------------------------


def start_server(url: str, folder: Path, workers: int) -> Server:
    """``cocred serve`` with the flood's limits (``api_load.Server``), once it answers."""
    server = Server(url, workers, folder, LIMITS)
    deadline = time.monotonic() + 120
    while True:
        if server.proc.poll() is not None:
            raise RuntimeError(server.log.read_text()[-2000:])
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/healthz", timeout=5):
                return server
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError("the server did not start") from None
            time.sleep(0.2)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000 if ordered else 0.0


def _flood_process(
    port: int, connections: int, seed: bytes, first_seq: int, seconds: float, context: tuple,
    sink: Any,
) -> None:  # fmt: skip
    """The flood in its own process, as an attacker is on another machine: its key
    generation, signing and 64 KiB payloads never run in the honest clients' event loop."""
    global guidelines, at
    guidelines, at = context
    out = Flood()
    until = time.monotonic() + seconds
    asyncio.run(flood(port, connections, SigningKey.from_seed(seed), first_seq, until, out))
    sink.send(out)
    sink.close()


async def phase(
    port: int, keys: list[SigningKey], seqs: list[itertools.count[int]], seconds: float, flood_args
) -> tuple[Honest, Flood | None]:
    honest = Honest()
    flooded = None
    process = None
    if flood_args is not None:
        connections, abuser, first_seq = flood_args
        receive, send = multiprocessing.Pipe(duplex=False)
        process = multiprocessing.get_context("spawn").Process(
            target=_flood_process,
            args=(
                port,
                connections,
                abuser.private.private_bytes_raw(),
                first_seq,
                seconds,
                (guidelines, at),
                send,
            ),
        )
        process.start()
    until = time.monotonic() + seconds
    tasks = [honest_client(port, n, k, seqs[n], until, honest) for n, k in enumerate(keys)]
    await asyncio.gather(*tasks)
    if process is not None:
        flooded = receive.recv()
        process.join(60)
    return honest, flooded


def report(name: str, honest: Honest, seconds: float) -> float:
    p99 = percentile(honest.latencies, 0.99)
    print(
        f"{name}: honest {honest.acknowledged / seconds:.1f} events/s acknowledged "
        f"({sum(honest.statuses.values())} requests), p50 {percentile(honest.latencies, 0.5):.1f} "
        f"ms, p99 {p99:.1f} ms, refused: {sum(honest.refusals.values())}"
    )
    for refusal, n in honest.refusals.most_common(5):
        print(f"    {n} x {refusal}")
    if honest.samples:  # where the slow answers are: by third of the phase, by request
        start = min(at for at, _, _ in honest.samples)
        parts = []
        for third, what in itertools.product(range(3), ("POST", "GET")):
            chosen = [
                s for at, method, s in honest.samples
                if method == what and min(2, int(3 * (at - start) / seconds)) == third
            ]  # fmt: skip
            name = ("1st", "2nd", "3rd")[third]
            parts.append(f"{name} third {what} {percentile(chosen, 0.99):.1f}")
        print("    p99 ms: " + ", ".join(parts))
    return p99


def main() -> None:
    global guidelines, at
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--honest", type=int, default=50)
    parser.add_argument("--flood-connections", type=int, default=8)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--backend", default="sqlite")
    parser.add_argument(
        "--postgres",
        default=os.environ.get(
            "COCRED_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
        ),
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        if args.backend == "postgres":
            url = f"{args.postgres}?schema=abuse_{os.getpid()}"
        else:
            url = f"sqlite:///{folder}/abuse.sqlite"
        rnd = random.Random(22)
        brand = SigningKey.from_seed(rnd.randbytes(32))
        keys = [SigningKey.from_seed(rnd.randbytes(32)) for _ in range(args.honest + 1)]
        honest_keys, abuser = keys[:-1], keys[-1]
        now = datetime.now(UTC).replace(microsecond=0)
        settings = Settings(database_url=url, ledger_key_file=folder / "ledger.key")
        with bootstrap(settings) as services:
            gate = services.campaigns.gate
            gate.append(registration(brand))
            services.campaigns.open_campaign(
                brand, CAMPAIGN, title="Open call", guidelines=GUIDELINES,
                starts_at=now - timedelta(days=1), ends_at=now + timedelta(days=30),
            )  # fmt: skip
            for key in keys:
                gate.append(registration(key))
                services.campaigns.join(key, CAMPAIGN)
            guidelines = services.campaigns.campaign(CAMPAIGN).guidelines
            before = services.ledger.size()
        at = now.strftime("%Y-%m-%dT%H:%M:%SZ")
        server = start_server(url, folder, args.workers)
        port = server.port
        try:
            print(
                f"server: cocred serve --workers {args.workers} on {args.backend}; limits "
                + ", ".join(f"{k.removeprefix('COCRED_').lower()}={v}" for k, v in LIMITS.items())
            )
            seqs = [itertools.count(3) for _ in honest_keys]
            quiet, _ = asyncio.run(phase(port, honest_keys, seqs, args.seconds, None))
            p99_quiet = report(f"without the flood ({args.seconds:g} s)", quiet, args.seconds)
            loud, flooded = asyncio.run(
                phase(port, honest_keys, seqs, args.seconds, (args.flood_connections, abuser, 3))
            )
            p99_loud = report(f"with the flood ({args.seconds:g} s)", loud, args.seconds)
            assert flooded is not None
        finally:
            server.stop()
        with bootstrap(settings) as services:
            grown = services.ledger.size() - before
            honest_events = quiet.acknowledged + loud.acknowledged
            stored = services.content.used("member", abuser.actor)
        if args.backend == "postgres":
            drop_schema(url)
    allowed_events = int(LIMITS["COCRED_RATE_WRITES_PER_ADDRESS"].split("/")[0])
    allowed_bytes = int(LIMITS["COCRED_RATE_UPLOAD_BYTES"].split("/")[0])
    print(f"flood: {flooded.requests} requests in {args.seconds:g} s from one address")
    for (what, status), n in sorted(flooded.statuses.items()):
        print(f"    {what}: {n} x {status}")
    print(
        f"flood wrote {flooded.events} events (log grew by {grown} = {honest_events} honest + "
        f"{grown - honest_events} other) = {flooded.events / allowed_events:.3f}x its allowance "
        f"of {allowed_events} (writes/address, one window); stored {flooded.bytes} content "
        f"bytes (quota counter {stored}) = {flooded.bytes / allowed_bytes:.3f}x its allowance "
        f"of {allowed_bytes} (uploads/address)"
    )
    print(
        f"honest p99 with the flood = {p99_loud / p99_quiet:.2f}x without (target <= 1.5x); "
        f"honest refusals: {sum(quiet.refusals.values()) + sum(loud.refusals.values())} "
        f"(target 0)"
    )


if __name__ == "__main__":
    main()
