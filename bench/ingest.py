"""Ingest benchmark: cocred append against the limits measured in the same run.

    python bench/ingest.py [--events 20000] [--single 2000] [--repeat 3] [--postgres URL]

Prints (a) the limits: a verify-only loop (one core, ``ledger.keys.verify_signature``,
the PyNaCl call cocred itself verifies with) over the very same events, with the
public keys decoded beforehand, and raw ``sqlite3`` executemany of the same bytes
in one transaction; (b) cocred batched append (``IMPORT_BATCH`` = 5,000 per
transaction, what ``cocred append`` uses; also 1,000, for reference) in one
process and with one worker process per core, as events/s and as a ratio to the
verify-only rate (the workers are started before the clock starts, as a server or
an import starts them once; their start-up time is printed apart, and the rate
with it included); (c) cocred one-event-per-call durable append on SQLite; (d) the
same on PostgreSQL when it answers. Figures (a) and (b) are each the best of
``--repeat`` runs, taken in turn, because the machine is shared, and so is (c);
every run is printed. Targets: (b) >= 0.7x verify-only in one process and >= 1.6x that with
both cores; (c) >= 2,000 events/s. No asserts: it reports.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import platform
import random
import sqlite3
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ledger.actors import KEY_REGISTERED  # noqa: E402
from ledger.envelope import Envelope, sign_envelope  # noqa: E402
from ledger.keys import SigningKey, b64url_decode, public_jwk, verify_signature  # noqa: E402
from ledger.ledger import IMPORT_BATCH, Ledger  # noqa: E402
from ledger.store import open_store  # noqa: E402

KINDS = ["idea", "photo", "video", "design", "text"]


def registration(key: SigningKey) -> Envelope:
    """The key's self-signed KeyRegistered envelope (as ``tests.support`` makes it).

    Not imported from there: worker processes re-import this script, and
    ``tests.support`` would bring pytest into each of them.
    """
    return sign_envelope(key, KEY_REGISTERED, {"jwk": public_jwk(key.public_bytes)}, seq=1)


def iter_events(count: int, actors: int, seed: int = 7) -> Iterator[bytes]:
    """Registrations, then contributions with ~300-byte bodies, round-robin over actors."""
    rnd = random.Random(seed)
    keys = [SigningKey.from_seed(rnd.randbytes(32)) for _ in range(actors)]
    made = 0
    for k in keys:
        if made == count:
            return
        yield registration(k).canonical_bytes()
        made += 1
    seqs = dict.fromkeys(range(actors), 1)
    while made < count:
        i = made % actors
        seqs[i] += 1
        body = {
            "content": rnd.randbytes(32).hex(),
            "kind": rnd.choice(KINDS),
            "title": " ".join(
                rnd.choice(
                    [
                        "sunset",
                        "harbour",
                        "remix",
                        "blue",
                        "chair",
                        "lamp",
                        "poster",
                        "tee",
                        "summer",
                        "city",
                    ]
                )
                for _ in range(6)
            ),
            "derived_from": [{"contribution": rnd.randbytes(16).hex(), "share": "3/10"}],
            "coauthors": [],
        }
        env = sign_envelope(
            keys[i],
            "ContributionSubmitted",
            body,
            seq=seqs[i],
            campaign="summer-26",
            ts="2026-11-22T10:00:00Z",
        )
        yield env.canonical_bytes()
        made += 1


def make_events(count: int, actors: int, seed: int = 7) -> list[bytes]:
    """``iter_events`` as a list."""
    return list(iter_events(count, actors, seed))


def rate(count: int, seconds: float) -> float:
    return count / seconds if seconds > 0 else float("inf")


Task = tuple[bytes, bytes, bytes]


def verify_tasks(events: list[bytes]) -> list[Task]:
    """(public key, signed bytes, signature) of each event, keys decoded beforehand."""
    tasks = []
    keys: dict[str, bytes] = {}
    for raw in events:
        env = Envelope.from_bytes(raw)
        if env.type == "KeyRegistered":
            keys[env.actor] = b64url_decode(env.body["jwk"]["x"])
        tasks.append((keys[env.actor], env.signing_bytes(), env.signature))
    return tasks


def verify_only(events: list[bytes]) -> float:
    """The limit: parse already done, just Ed25519 verify with cached public keys."""
    tasks = verify_tasks(events)
    start = time.perf_counter()
    for public, message, signature in tasks:
        verify_signature(public, message, signature)
    return rate(len(tasks), time.perf_counter() - start)


def _verify_share(tasks: list[Task], barrier: Any, spans: Any) -> None:
    barrier.wait()
    start = time.perf_counter()
    for public, message, signature in tasks:
        verify_signature(public, message, signature)
    spans.put((start, time.perf_counter()))


def verify_only_together(tasks: list[Task], processes: int) -> float:
    """For reference, not a limit: the verify-only loop on ``processes`` processes at once.

    On a shared VM two busy cores can give less than twice one busy core; this
    shows how much, in the same run.
    """
    context = multiprocessing.get_context("spawn")
    barrier, spans = context.Barrier(processes), context.Queue()
    procs = [
        context.Process(target=_verify_share, args=(tasks[i::processes], barrier, spans))
        for i in range(processes)
    ]
    for proc in procs:
        proc.start()
    times = [spans.get() for _ in procs]
    for proc in procs:
        proc.join()
    return rate(len(tasks), max(end for _, end in times) - min(start for start, _ in times))


def raw_sqlite(events: list[bytes], folder: Path) -> float:
    db = sqlite3.connect(folder / "raw.sqlite")
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("CREATE TABLE e (id INTEGER PRIMARY KEY, data BLOB)")
    start = time.perf_counter()
    with db:
        db.executemany("INSERT INTO e (data) VALUES (?)", ((e,) for e in events))
    seconds = time.perf_counter() - start
    db.close()
    return rate(len(events), seconds)


def batched(
    url: str, events: list[bytes], threads: int, batch: int = IMPORT_BATCH
) -> tuple[float, float]:
    """Events/s of batched appends, and the seconds it took to start the workers."""
    ledger = Ledger(open_store(url), verify_threads=threads, max_clock_skew=None)
    start = time.perf_counter()
    ledger.warm_up()
    startup = time.perf_counter() - start
    start = time.perf_counter()
    for i in range(0, len(events), batch):
        ledger.append_batch(events[i : i + batch])
    seconds = time.perf_counter() - start
    assert ledger.size() == len(events)
    ledger.close()
    return rate(len(events), seconds), startup


def one_by_one(url: str, events: list[bytes]) -> float:
    ledger = Ledger(open_store(url), verify_threads=1, max_clock_skew=None)
    start = time.perf_counter()
    for raw in events:
        ledger.append(raw)
    seconds = time.perf_counter() - start
    ledger.close()
    return rate(len(events), seconds)


def postgres_answers(url: str) -> bool:
    """True when a PostgreSQL server answers at ``url`` (within 3 s)."""
    import psycopg

    try:
        with psycopg.connect(url, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error:
        return False
    return True


def postgres_url(base: str) -> str | None:
    """A fresh schema on the server at ``base``, or None when it does not answer."""
    return f"{base}?schema=bench_{uuid.uuid4().hex[:10]}" if postgres_answers(base) else None


def drop(url: str) -> None:
    store = open_store(url)
    store.drop()  # type: ignore[attr-defined]
    store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--single", type=int, default=2_000, help="events for one-by-one runs")
    parser.add_argument("--actors", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=5, help="runs of each figure; best kept")
    parser.add_argument(
        "--postgres",
        default=os.environ.get(
            "COCRED_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
        ),
    )
    args = parser.parse_args()

    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}"
    )
    events = make_events(args.events, args.actors)
    avg = sum(map(len, events)) / len(events)
    print(f"events: {len(events)} from {args.actors} actors, {avg:.0f} bytes on average")

    cores = os.cpu_count() or 1
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        # The VM is shared and noisy: each figure is the best of --repeat runs, the
        # limit as much as cocred's, run in turn so a busy spell hits them alike.
        limits, ones, manys, startups, small = [], [], [], [], []
        for n in range(args.repeat):
            limits.append(verify_only(events))
            ones.append(batched(f"sqlite:///{folder}/one-{n}.sqlite", events, 1)[0])
            if cores > 1:
                r, startup = batched(f"sqlite:///{folder}/many-{n}.sqlite", events, cores)
                manys.append(r)
                startups.append(startup)
            small.append(
                tuple(
                    batched(f"sqlite:///{folder}/small-{t}-{n}.sqlite", events, t, 1000)[0]
                    for t in sorted({1, cores})
                )
            )
        limit, one = max(limits), max(ones)
        runs = f"best of {args.repeat}"
        print(f"(a) verify-only, 1 core:            {limit:9,.0f} events/s  (the limit; {runs})")
        print(f"(a) raw sqlite3 executemany, 1 tx:  {raw_sqlite(events, folder):9,.0f} events/s")
        print(
            f"(b) cocred batched ({IMPORT_BATCH:,} per transaction), 1 process: {one:9,.0f} "
            f"events/s = {one / limit:.2f} x verify-only (target >= 0.7; {runs})"
        )
        if manys:
            r, startup = max(manys), min(startups)
            print(
                f"(b) cocred batched, {cores} verify processes: {r:9,.0f} events/s  "
                f"= {r / one:.2f} x the one-process rate (target >= 1.6), "
                f"{r / limit:.2f} x verify-only ({runs})"
            )
            one_k, many_k = (max(column) for column in zip(*small, strict=True))
            print(
                f"    with 1,000 per transaction: 1 process {one_k:,.0f} events/s = "
                f"{one_k / limit:.2f} x verify-only, {cores} processes {many_k:,.0f} = "
                f"{many_k / one_k:.2f} x one process ({runs}): each commit's fsync and a "
                f"batch's first and last slices leave the workers idle for a moment"
            )
            with_startup = rate(len(events), len(events) / r + startup)
            print(
                f"    worker start-up {startup:.2f} s, once per ledger; counted in: "
                f"{with_startup:,.0f} events/s = {with_startup / one:.2f} x one process"
            )
        if cores > 1:
            together = max(verify_only_together(verify_tasks(events), cores) for _ in range(3))
            print(
                f"    for reference, verify-only on {cores} processes at once: {together:,.0f} "
                f"events/s = {together / limit:.2f} x one core (best of 3): what this machine's "
                f"cores give together right now"
            )
        every = ", ".join(
            f"{a:,.0f}/{b:,.0f}/{c:,.0f}"
            for a, b, c in zip(limits, ones, manys or [0.0] * len(ones), strict=True)
        )
        print(f"    every run (verify-only/1 process/{cores} processes): {every}")
        singles = [
            one_by_one(f"sqlite:///{folder}/single-{n}.sqlite", events[: args.single])
            for n in range(args.repeat)
        ]
        print(
            f"(c) cocred one per call, SQLite:    {max(singles):9,.0f} events/s  "
            f"(target >= 2,000; {runs}: " + ", ".join(f"{r:,.0f}" for r in singles) + ")"
        )

    url = postgres_url(args.postgres)
    if url is None:
        print(f"(d) PostgreSQL at {args.postgres} does not answer: skipped")
        return
    try:
        for threads in (1, os.cpu_count() or 1):
            r, _ = batched(url, events, threads)
            print(
                f"(d) cocred batched on PostgreSQL, {threads} thread(s): {r:9,.0f} events/s  "
                f"= {r / limit:.2f} x verify-only"
            )
            drop(url)
        single = one_by_one(url, events[: args.single])
        print(f"(d) cocred one per call, PostgreSQL: {single:8,.0f} events/s")
    finally:
        drop(url)


if __name__ == "__main__":
    main()
