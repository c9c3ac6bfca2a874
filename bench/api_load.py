"""HTTP load benchmark: pre-signed events through ``POST /events``, many actors at once.

    python bench/api_load.py [--actors 3000] [--per-actor 10] [--connections 64]
                             [--workers 1,2] [--backends sqlite,postgres] [--seconds 120]

Before any timing, it signs everything: a brand opens an open campaign, each actor
registers its key, joins and submits one contribution (the set-up, appended
in-process), then each actor has ``--per-actor`` events for the load: new
contributions that remix another actor's (~550-byte envelopes) alternating with
support votes on others' work (~400 bytes). For each backend and worker count it
starts ``cocred serve --workers N`` on 127.0.0.1 as a subprocess (stopped by PID),
and sends the events over ``--connections`` HTTP/1.1 keep-alive connections with
raw asyncio streams and pre-encoded requests (one request in flight per
connection; each actor's events on one connection in seq order, as a client
that waits for its acknowledgement would). It prints events/s, p50/p99 latency
(and the p99 without each actor's first event, which a freshly started server
answers more slowly: it loads the actor's key state), errors, the CPU used by
the server, the client and every other process meanwhile (the machine is
shared), and checks that the log grew by exactly the number of 201s and that
every 201 position holds the bytes that were sent.

In the same run it measures the reference limits on the same backend, with the
same kind of events, in one process without HTTP: ``Ledger.append`` one event per
call (one transaction each) and ``Ledger.append_batch`` 1,000 per transaction,
and prints each HTTP rate as a ratio to them. Target: >= 2,000 signed events/s at
p99 <= 50 ms. Bounded: at most ``--seconds`` per configuration. No asserts on
time: it reports.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import os
import platform
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from ingest import drop as drop_schema  # noqa: E402
from ingest import postgres_answers  # noqa: E402

from api.bootstrap import bootstrap  # noqa: E402
from api.http.app import create_app  # noqa: E402
from api.settings import Settings  # noqa: E402
from domain.vocabulary import CONTRIBUTION_KINDS, DEFAULT_POLICY  # noqa: E402
from ledger.actors import KEY_REGISTERED  # noqa: E402
from ledger.envelope import format_ts, sign_envelope  # noqa: E402
from ledger.keys import SigningKey, public_jwk  # noqa: E402
from ledger.ledger import Ledger  # noqa: E402
from ledger.store import open_store  # noqa: E402

CAMPAIGN = "load-26"
GUIDELINES = hashlib.sha256(b"be kind, credit what you remix").hexdigest()
WORDS = ["sunset", "harbour", "remix", "blue", "chair", "lamp", "poster", "tee", "summer"]
KINDS = CONTRIBUTION_KINDS


# -- the events --------------------------------------------------------------------------------


@dataclass
class World:
    """The signed events: the set-up (in log order) and each actor's load events."""

    setup: list[bytes]
    load: list[list[bytes]]  # per actor, in seq order

    @property
    def count(self) -> int:
        return sum(map(len, self.load))


def build_world(actors: int, per_actor: int, seed: int = 11) -> World:
    """Sign the set-up and the load (see the module docstring)."""
    rnd = random.Random(seed)
    keys = [SigningKey.from_seed(rnd.randbytes(32)) for _ in range(actors + 1)]
    brand, members = keys[0], keys[1:]
    now = datetime.now(UTC).replace(microsecond=0)
    ts = format_ts(now - timedelta(minutes=1))

    def sign(key: SigningKey, type_: str, body: dict[str, Any], seq: int, campaign: Any) -> bytes:
        return sign_envelope(key, type_, body, seq=seq, ts=ts, campaign=campaign).canonical_bytes()

    def register(key: SigningKey) -> bytes:
        return sign(key, KEY_REGISTERED, {"jwk": public_jwk(key.public_bytes)}, 1, None)

    def submission(key: SigningKey, seq: int, remix_of: str | None) -> bytes:
        body = {
            "content": rnd.randbytes(32).hex(),
            "kind": rnd.choice(KINDS),
            "title": " ".join(rnd.choice(WORDS) for _ in range(8)),
            "derived_from": []
            if remix_of is None
            else [{"contribution": remix_of, "share": "1/5"}],
        }
        return sign(key, "ContributionSubmitted", body, seq, CAMPAIGN)

    opened = {
        "title": "Load test campaign",
        "guidelines": GUIDELINES,
        "starts_at": format_ts(now - timedelta(days=1)),
        "ends_at": format_ts(now + timedelta(days=30)),
        "membership": "open",
        "currency": "EUR",
        "pool": 1_000_000,
        "policy": dict(DEFAULT_POLICY),
    }
    setup = [register(brand), sign(brand, "CampaignOpened", opened, 2, CAMPAIGN)]
    for key in members:
        setup.append(register(key))
        setup.append(sign(key, "MemberJoined", {"guidelines": GUIDELINES}, 2, CAMPAIGN))
        setup.append(submission(key, 3, None))
    first = [f"{key.actor}:3" for key in members]  # each actor's set-up contribution
    load = []
    for a, key in enumerate(members):
        events = []
        for i in range(per_actor):
            other = first[(a + 1 + i * 7) % actors]  # never the actor's own work, never twice
            if i % 2 == 0:
                events.append(submission(key, 4 + i, other))
            else:
                body = {"contribution": other, "kind": "support"}
                events.append(sign(key, "VoteCast", body, 4 + i, CAMPAIGN))
        load.append(events)
    return World(setup, load)


# -- servers and databases ---------------------------------------------------------------------


def fresh_url(backend: str, folder: Path, pg: str, name: str) -> str:
    if backend == "sqlite":
        return f"sqlite:///{folder}/{name}.sqlite"
    return f"{pg}?schema=bench_{uuid.uuid4().hex[:10]}"


def drop(url: str) -> None:
    if not url.startswith("sqlite"):
        drop_schema(url)


def load_setup(url: str, setup: list[bytes], key_file: Path) -> None:
    """Append the set-up in-process, and build the app once so that its tables exist
    (workers starting together on a fresh database would race to create them)."""
    settings = Settings(database_url=url, ledger_key_file=key_file)
    with bootstrap(settings) as services:
        create_app(services)
        for i in range(0, len(setup), 1000):
            services.campaigns.gate.append_batch(setup[i : i + 1000])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """``cocred serve`` in a subprocess, stopped by its PID."""

    def __init__(self, url: str, workers: int, folder: Path, env: dict[str, str]) -> None:
        self.port = free_port()
        self.log = folder / "server.log"  # a file, not a pipe nobody reads while it fills
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "api.cli", "serve", "--db", url, "--port", str(self.port)]
                + ["--workers", str(workers)],
                cwd=ROOT,
                env={**os.environ, "COCRED_LEDGER_KEY_FILE": str(folder / "ledger.key"), **env},
                stdout=subprocess.DEVNULL,
                stderr=log,
            )
        self.workers = workers

    def wait_ready(self, probe: bytes, timeout: float = 120) -> None:
        """Wait until the workers append: ``probe`` (an event already in the log) gets its 200.

        A retry of stored bytes is answered 200 with the stored position (never a refusal).

        A worker's first append waits for its committer to replay the log; each new
        connection may land on another worker, so several probes are sent.
        """
        deadline = time.monotonic() + timeout
        answered = 0
        while answered < 8 * self.workers:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.log.read_text()[-2000:]}")
            if time.monotonic() > deadline:
                raise RuntimeError("server did not answer in time")
            request = urllib.request.Request(
                f"http://127.0.0.1:{self.port}/events", data=probe, method="POST"
            )
            try:
                with urllib.request.urlopen(request, timeout=timeout) as response:
                    answered += response.status == 200
            except urllib.error.HTTPError:
                time.sleep(0.2)
            except OSError:
                time.sleep(0.2)

    def cpu(self) -> float:
        """CPU seconds used so far by the server's live processes (workers, verifiers)."""
        return sum(_cpu_seconds(pid) for pid in _process_tree(self.proc.pid))

    def stop(self) -> None:
        if self.proc.poll() is not None:
            return
        os.kill(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)


def _process_tree(pid: int) -> list[int]:
    found = [pid]
    for tasks in Path(f"/proc/{pid}/task").glob("*/children"):
        with contextlib.suppress(OSError):
            for child in tasks.read_text().split():
                found += _process_tree(int(child))
    return found


def _cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_busy() -> float:
    """CPU seconds all processes of the machine used so far (Linux ``/proc/stat``)."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(values) - values[3] - values[4]) / os.sysconf("SC_CLK_TCK")


# -- the client --------------------------------------------------------------------------------


def request_bytes(body: bytes) -> bytes:
    head = (
        "POST /events HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


@dataclass
class Outcome:
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    warm: list[float] = field(default_factory=list)  # without each actor's first event
    statuses: Counter[int] = field(default_factory=Counter)
    acknowledged: dict[int, bytes] = field(default_factory=dict)  # position -> bytes sent
    errors: Counter[str] = field(default_factory=Counter)
    unsent: int = 0


class Start:
    """Opens the gate for every connection at once and holds the time limit."""

    def __init__(self) -> None:
        self.event = asyncio.Event()
        self.deadline = float("inf")


async def _connection(
    streams: tuple[asyncio.StreamReader, asyncio.StreamWriter],
    work: Work,
    out: Outcome,
    start: Start,
) -> None:
    bodies, first_round = work
    requests = [request_bytes(b) for b in bodies]
    reader, writer = streams
    await start.event.wait()
    clock = time.perf_counter
    try:
        for i, request in enumerate(requests):
            if clock() > start.deadline:
                out.unsent += len(requests) - i
                return
            t0 = clock()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            lower = head.lower()
            at = lower.index(b"content-length:") + 15
            length = int(lower[at : lower.index(b"\r\n", at)])
            body = await reader.readexactly(length)
            latency = clock() - t0
            out.latencies.append(latency)
            if i >= first_round:  # the server knows the actor's key state by now
                out.warm.append(latency)
            out.statuses[status] += 1
            if status == 201:
                out.acknowledged[int(body[12:-1])] = bodies[i]
            else:
                out.errors[body.decode()[:160]] += 1
    finally:
        writer.close()


async def _load(port: int, per_connection: list[Work], seconds: float) -> Outcome:
    out = Outcome()
    start = Start()
    tasks = []
    for work in per_connection:
        # One at a time, so that the workers' accept loops share the connections out.
        streams = await asyncio.open_connection("127.0.0.1", port)
        tasks.append(asyncio.create_task(_connection(streams, work, out, start)))
        await asyncio.sleep(0.005)
    await asyncio.sleep(0.5)  # requests encoded before the clock starts
    began = time.perf_counter()
    start.deadline = began + seconds
    start.event.set()
    await asyncio.gather(*tasks)
    out.seconds = time.perf_counter() - began
    return out


def run_load(port: int, per_connection: list[Work], seconds: float) -> Outcome:
    """Send every connection's requests; uvloop when it is installed (a cheaper client)."""
    try:
        import uvloop

        return uvloop.run(_load(port, per_connection, seconds))
    except ImportError:
        return asyncio.run(_load(port, per_connection, seconds))


Work = tuple[list[bytes], int]  # a connection's request bodies, and how many are first events


def spread(load: list[list[bytes]], connections: int) -> list[Work]:
    """Each actor's events on one connection, in seq order, actors interleaved round by round."""
    groups: list[list[list[bytes]]] = [[] for _ in range(connections)]
    for a, events in enumerate(load):
        groups[a % connections].append(events)
    work = []
    for actors in groups:
        rounds = max((len(e) for e in actors), default=0)
        work.append(([e[r] for r in range(rounds) for e in actors if r < len(e)], len(actors)))
    return work


def check_log(url: str, before: int, out: Outcome) -> str:
    """Log growth equals the 201s and each acknowledged position holds the bytes sent."""
    with open_store(url, create=False) as store:
        grown = store.size() - before
        stored = {r.position: r.data for r in store.iterate(before)}
    wrong = sum(1 for p, data in out.acknowledged.items() if stored.get(p) != data)
    ok = grown == out.statuses[201] and wrong == 0
    return "ok" if ok else f"FAILED: log grew {grown}, 201s {out.statuses[201]}, {wrong} wrong"


# -- the reference limits ----------------------------------------------------------------------


def rate(count: int, seconds: float) -> float:
    return count / seconds if seconds > 0 else float("inf")


def reference(url: str, world: World, count: int, batch: bool) -> float:
    """One process, no HTTP, no campaign rules: ``Ledger.append`` per call or per 1,000."""
    events = world.setup if batch else world.setup[:count]
    ledger = Ledger(open_store(url), verify_threads=1)
    try:
        start = time.perf_counter()
        if batch:
            for i in range(0, len(events), 1000):
                ledger.append_batch(events[i : i + 1000])
        else:
            for raw in events:
                ledger.append(raw)
        return rate(len(events), time.perf_counter() - start)
    finally:
        ledger.close()


# -- main --------------------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


@dataclass
class Row:
    backend: str
    workers: int
    rate: float
    p50: float
    p99: float
    p99_warm: float
    errors: int
    per_call: float  # rate / the per-call reference
    batched: float  # rate / the batched reference


def run_config(
    workers: int,
    url: str,
    folder: Path,
    world: World,
    per_connection: list[Work],
    args: argparse.Namespace,
    env: dict[str, str],
) -> tuple[Outcome, str, str]:
    """Set up a fresh log, serve it, load it; return the outcome, the log check, the CPU use."""
    load_setup(url, world.setup, folder / "ledger.key")
    server = Server(url, workers, folder, env)
    try:
        server.wait_ready(world.setup[0])
        server_cpu, client_cpu = server.cpu(), time.process_time()
        busy = machine_busy()
        out = run_load(server.port, per_connection, args.seconds)
        server_cpu = server.cpu() - server_cpu
        client_cpu = time.process_time() - client_cpu
        others = machine_busy() - busy - server_cpu - client_cpu
    finally:
        server.stop()
    cpu = (
        f"CPU during the load: server {server_cpu:.1f} s, client {client_cpu:.1f} s, "
        f"other processes {max(others, 0.0):.1f} s (incl. PostgreSQL), "
        f"of {os.cpu_count()} x {out.seconds:.1f} s"
    )
    return out, check_log(url, len(world.setup), out), cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--actors", type=int, default=3000)
    parser.add_argument("--per-actor", type=int, default=10, help="load events per actor")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--workers", default="1,2", help="uvicorn worker counts to run")
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--seconds", type=float, default=120, help="time limit per run")
    parser.add_argument("--single", type=int, default=2000, help="events for the per-call ref.")
    parser.add_argument(
        "--server-env",
        action="append",
        default=[],
        help="NAME=VALUE for the server (e.g. COCRED_GROUP_COMMIT=false)",
    )
    parser.add_argument(
        "--postgres",
        default=os.environ.get(
            "COCRED_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
        ),
    )
    args = parser.parse_args()
    # One load generator's address carries every actor: its per-address write limit is
    # raised so that the limiter counts every request (per address and per actor) and
    # refuses none, and its fair turns are off (one turn would serialise the thousands of
    # clients it stands for). COCRED_RATE_LIMITS=false measures the server without it.
    env = {
        "COCRED_RATE_WRITES_PER_ADDRESS": "100000000/minute",
        "COCRED_RATE_CONCURRENT_WRITES_PER_ADDRESS": "0",
    }
    env.update(item.split("=", 1) for item in args.server_env)

    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}"
    )
    t0 = time.perf_counter()
    world = build_world(args.actors, args.per_actor)
    sizes = [len(e) for events in world.load for e in events]
    print(
        f"signed {len(world.setup)} set-up + {world.count} load events from {args.actors} "
        f"actors in {time.perf_counter() - t0:.1f} s; load envelopes "
        f"{statistics.mean(sizes):.0f} bytes on average; {args.connections} connections"
        + (f"; server env {env}" if env else "")
    )
    per_connection = spread(world.load, args.connections)
    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for backend in args.backends.split(","):
            pg = args.postgres if backend == "postgres" else ""
            if pg and not postgres_answers(pg):
                print(f"{backend}: PostgreSQL at {args.postgres} does not answer: skipped")
                continue
            refs = {}
            for batch in (False, True):
                url = fresh_url(backend, folder, pg, f"ref{int(batch)}")
                try:
                    refs[batch] = reference(url, world, args.single, batch)
                finally:
                    drop(url)
            print(
                f"{backend}: reference, one process, no HTTP: Ledger.append one per call "
                f"{refs[False]:,.0f} events/s; append_batch 1,000 per transaction "
                f"{refs[True]:,.0f} events/s"
            )
            for workers in (int(w) for w in args.workers.split(",")):
                url = fresh_url(backend, folder, pg, f"load{workers}")
                try:
                    out, verdict, cpu = run_config(
                        workers, url, folder, world, per_connection, args, env
                    )
                finally:
                    drop(url)
                sent = len(out.latencies)
                r = rate(out.statuses[201], out.seconds)
                row = Row(
                    backend,
                    workers,
                    r,
                    percentile(out.latencies, 0.50) * 1000,
                    percentile(out.latencies, 0.99) * 1000,
                    percentile(out.warm, 0.99) * 1000,
                    sent - out.statuses[201],
                    r / refs[False],
                    r / refs[True],
                )
                rows.append(row)
                print(
                    f"{backend}, {workers} worker(s): {sent} sent in {out.seconds:.1f} s, "
                    f"{r:,.0f} events/s acknowledged, p50 {row.p50:.1f} ms, p99 {row.p99:.1f} ms "
                    f"(p99 {row.p99_warm:.1f} ms without each actor's first event), "
                    f"{row.errors} errors, {out.unsent} unsent (time limit); "
                    f"= {row.per_call:.2f}x per-call, {row.batched:.2f}x batched; "
                    f"log check {verdict}\n    {cpu}"
                )
                for text, n in out.errors.most_common(5):
                    print(f"    {n} x {text}")
    print()
    print(
        "| backend | workers | events/s | p50 ms | p99 ms | p99 warm ms | errors "
        "| x per-call | x batched |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        print(
            f"| {r.backend} | {r.workers} | {r.rate:,.0f} | {r.p50:.1f} | {r.p99:.1f} "
            f"| {r.p99_warm:.1f} | {r.errors} | {r.per_call:.2f} | {r.batched:.2f} |"
        )
    print("target: >= 2,000 signed events/s at p99 <= 50 ms")


if __name__ == "__main__":
    main()
