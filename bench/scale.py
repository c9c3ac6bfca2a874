"""Pages and commands on a big ledger (issue 18): does their cost stay independent of its size?

On a demo ledger of each ``--events`` size (default 10k and 1M: 3.5 % members, 7 % works and
80 % votes of the size, so 1M is 35,000 members, 70,000 works), in one run:

- the server's start-up (``cocred serve`` until ``/healthz`` answers), once per restart;
- the time and bytes of the campaign page, the #1, #100 and median earner's page, ``/audit``
  and their JSON equivalents (``/campaigns/{c}``, ``…/members/{m}/attribution``,
  ``/checkpoints``): cold (the first request after a restart, in that order, ``--restarts``
  restarts) and warm (``--warm`` requests each after that), p50 and p95; measured by the
  client on the same machine over one keep-alive connection, so the time is the server's
  plus a loopback round trip;
- the wall time of ``cocred --help``, a read (``shares``), a refused write (``join`` of the
  closed demo campaign: ``CampaignClosed``) and an accepted write (``keys register`` of a new
  key), best of ``--runs`` interleaved runs (``bench/cli_start.py``'s way).

Then each figure at the smallest size beside the largest, as the ratio, against the targets:
page p95 at most 150 ms warm and 1 s cold, at most 200 kB of HTML; the largest size's page time
at most 1.5x the smallest's; ``--help`` at most 0.3 s; the accepted write at the largest size
at most 1.3x the same at the smallest; the server ready within 5 s at the largest.

The ledgers are built once (``cocred demo``: ~100 s plus its projections at 1M) and kept in
``--cache`` (SQLite files) or, with ``--db postgresql://…/db``, in one schema per size of that
database (``?schema=cocred_scale_<events>``), and reused by the next run; the accepted writes
add a few key registrations to them each run. Before measuring, the server is started once
untimed, so the start-ups measured are restarts (the gate's snapshot saved, as in service).

    python bench/scale.py [--events 10000 1000000] [--db postgresql://postgres@127.0.0.1:5432/test]
                          [--restarts 3] [--warm 20] [--runs 5] [--cache /tmp/cocred-scale]
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.cli_start import ROOT, TARGET_HELP, cocred, env_for, run  # noqa: E402
from bench.pages import TAG  # noqa: E402

PAGE_WARM, PAGE_COLD, PAGE_BYTES = 0.150, 1.0, 200_000  # seconds, seconds, bytes of HTML
RATIO, WRITE_RATIO, READY = 1.5, 1.3, 5.0  # 1M/10k page time, accepted write, seconds
CAMPAIGN = "demo-1"


def demo_sizes(events: int) -> tuple[int, int, int]:
    """(members, contributions, votes) of a demo of about ``events`` events."""
    return max(10, round(events * 0.035)), max(20, round(events * 0.07)), round(events * 0.8)


@dataclass
class Ledger:
    """One demo ledger: its URL and the files beside it."""

    events: int
    url: str
    env: dict[str, str]


def ledger_for(events: int, cache: Path, db: str | None) -> Ledger:
    """The demo ledger of ``events``, built unless the cache holds it."""
    cache.mkdir(parents=True, exist_ok=True)
    keys = {
        "COCRED_LEDGER_KEY_FILE": str(cache / f"demo-{events}.ledger.key"),
        "COCRED_PROFILE_KEY_FILE": str(cache / f"demo-{events}.profiles.key"),
    }
    if db is None:
        url = f"sqlite:///{cache}/demo-{events}.sqlite"
        built = cache / f"demo-{events}.built"
    else:
        base, _, _ = db.partition("?")
        url = f"{base}?schema=cocred_scale_{events}"
        built = cache / f"demo-{events}.postgres.built"
        keys = {k: v.replace(".key", ".postgres.key") for k, v in keys.items()}
    env = {**env_for(ROOT), **keys}
    if not built.exists() or built.read_text() != url:
        members, works, votes = demo_sizes(events)
        print(f"building the {events:,}-event demo in {url} (kept for the next run)", flush=True)
        done = subprocess.run(
            cocred("demo", "--members", str(members), "--contributions", str(works),
                   "--votes", str(votes), "--seed", "1", "--db", url),
            env=env, cwd=ROOT, capture_output=True, text=True,
        )  # fmt: skip
        if done.returncode != 0:
            raise RuntimeError(f"cocred demo exited {done.returncode}: {done.stderr[-600:]}")
        built.write_text(url)
    return Ledger(events, url, env)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Client:
    """One keep-alive connection to the server (reconnects once if it was closed)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)

    def get(self, path: str) -> tuple[int, bytes]:
        for attempt in (1, 2):
            try:
                self.conn.request("GET", path)
                answer = self.conn.getresponse()
                return answer.status, answer.read()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                self.conn.close()
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=600)
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        self.conn.close()


@contextmanager
def server(ledger: Ledger) -> Iterator[tuple[Client, float]]:
    """A ``cocred serve`` on ``ledger``: a client on it and the seconds until it was ready."""
    port = free_port()
    started = time.perf_counter()
    process = subprocess.Popen(
        cocred("serve", "--db", ledger.url, "--port", str(port)),
        env=ledger.env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    client = Client(port)
    try:
        while True:
            if process.poll() is not None:
                assert process.stderr is not None
                raise RuntimeError(f"cocred serve exited: {process.stderr.read().decode()}")
            try:
                if client.get("/healthz")[0] == 200:
                    break
            except OSError:
                client.close()
                time.sleep(0.02)
        yield client, time.perf_counter() - started
    finally:
        client.close()
        process.terminate()
        process.wait(30)


def targets(ledger: Ledger) -> dict[str, str]:
    """The pages measured, by label: HTML and their JSON equivalents."""
    done = subprocess.run(
        cocred("shares", "--campaign", CAMPAIGN, "--limit", "10000000", "--format", "json",
               "--db", ledger.url),
        env=ledger.env, cwd=ROOT, check=True, capture_output=True,
    )  # fmt: skip
    paying = [line["member"] for line in json.loads(done.stdout)["lines"] if line["amount"] > 0]
    earners = {"#1": paying[0], "#100": paying[min(99, len(paying) - 1)]}
    earners["median"] = paying[len(paying) // 2]
    found = {"campaign page": f"/c/{CAMPAIGN}"}
    found |= {f"{rank} earner": f"/people/{m}?campaign={CAMPAIGN}" for rank, m in earners.items()}
    found["/audit"] = "/audit"
    found["campaign JSON"] = f"/campaigns/{CAMPAIGN}"
    found |= {
        f"{rank} earner JSON": f"/campaigns/{CAMPAIGN}/members/{m}/attribution"
        for rank, m in earners.items()
    }
    found["/checkpoints JSON"] = "/checkpoints"
    return found


def p95(times: list[float]) -> float:
    ordered = sorted(times)
    return ordered[min(len(ordered) - 1, math.ceil(0.95 * len(ordered)) - 1)]


@dataclass
class Figures:
    """What one size measured."""

    events: int = 0
    ready: list[float] = field(default_factory=list)
    cold: dict[str, list[float]] = field(default_factory=dict)
    warm: dict[str, list[float]] = field(default_factory=dict)
    size: dict[str, int] = field(default_factory=dict)
    tags: dict[str, int] = field(default_factory=dict)
    cli: dict[str, list[float]] = field(default_factory=dict)


def timed(client: Client, path: str) -> tuple[float, bytes]:
    started = time.perf_counter()
    status, body = client.get(path)
    took = time.perf_counter() - started
    if status != 200:
        raise RuntimeError(f"GET {path}: {status} {body[:300]!r}")
    return took, body


def measure_pages(ledger: Ledger, pages: dict[str, str], args: argparse.Namespace) -> Figures:
    seen = Figures(ledger.events)
    with server(ledger):  # the first start: replays what no snapshot holds yet, untimed
        pass
    for restart in range(args.restarts):
        with server(ledger) as (client, ready):
            seen.ready.append(ready)
            for label, path in pages.items():
                took, body = timed(client, path)
                seen.cold.setdefault(label, []).append(took)
                seen.size[label] = len(body)
                seen.tags[label] = len(TAG.findall(body))
            if restart == args.restarts - 1:  # warm: the last server, each page in turn
                for _ in range(args.warm):
                    for label, path in pages.items():
                        seen.warm.setdefault(label, []).append(timed(client, path)[0])
    return seen


def measure_cli(ledgers: list[Ledger], runs: int, figures: dict[int, Figures]) -> None:
    """The commands' wall times on every ledger, interleaved: one of each per round."""
    with tempfile.TemporaryDirectory() as tmp:
        counter = iter(range(10**9))
        for _ in range(runs):
            for ledger in ledgers:
                key = f"{tmp}/k{next(counter)}.key"
                run(cocred("keys", "new", "--out", key), ROOT)
                cases = {
                    "cocred --help": (cocred("--help"), 0),
                    "read: shares": (
                        cocred("shares", "--campaign", CAMPAIGN, "--db", ledger.url),
                        0,
                    ),
                    "accepted write: keys register": (
                        cocred("keys", "register", "--key", key, "--db", ledger.url),
                        0,
                    ),
                    "refused write: join (closed)": (
                        cocred("join", "--key", key, "--campaign", CAMPAIGN, "--db", ledger.url),
                        1,
                    ),
                }
                for name, (command, code) in cases.items():
                    started = time.perf_counter()
                    done = subprocess.run(command, env=ledger.env, cwd=ROOT, capture_output=True)
                    took = time.perf_counter() - started
                    if done.returncode != code:
                        why = done.stderr[-300:]
                        raise RuntimeError(f"{name}: exit {done.returncode}: {why!r}")
                    figures[ledger.events].cli.setdefault(name, []).append(took)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:,.0f} ms"


def mark(ok: bool) -> str:
    return "✓" if ok else "✗"


def report(small: Figures, big: Figures, pages: dict[str, str], backend: str) -> None:
    print(
        f"\n{backend}: {small.events:,} vs {big.events:,} events; {os.cpu_count()} CPUs, load "
        f"{os.getloadavg()[0]:.1f} at the end; pages: p50/p95 (spread min-max)"
    )
    head = f"{'':30} {'bytes':>9} {'tags':>6}  {'cold p50/p95':>21} {'warm p50/p95':>21}"
    print(f"{head}   ratio warm p95   targets")
    for label in pages:
        for figures in (small,) if small is big else (small, big):
            cold, warm = figures.cold[label], figures.warm[label]
            line = (
                f"{label + (' @' + format(figures.events, ',')):30} "
                f"{figures.size[label] / 1000:7.1f}kB {figures.tags[label]:6,}  "
                f"{ms(statistics.median(cold)):>9}/{ms(p95(cold)):>9}  "
                f"{ms(statistics.median(warm)):>9}/{ms(p95(warm)):>9}"
                f" ({ms(min(warm))}-{ms(max(warm))})"
            )
            if figures is big:
                ratio = p95(big.warm[label]) / p95(small.warm[label])
                html = "JSON" not in label
                line += (
                    f"  x{ratio:.2f} {mark(ratio <= RATIO)}   warm {mark(p95(warm) <= PAGE_WARM)}"
                    f" cold {mark(p95(cold) <= PAGE_COLD)}"
                    + (f" size {mark(figures.size[label] <= PAGE_BYTES)}" if html else "")
                )
            print(line)
    ready_small, ready_big = min(small.ready), min(big.ready)
    print(
        f"{'server ready':30} {ms(ready_small)} -> {ms(ready_big)} (best of {len(big.ready)}; "
        f"spread {ms(min(big.ready))}-{ms(max(big.ready))})  target <= {READY:.0f} s "
        f"{mark(ready_big <= READY)}"
    )
    for name in small.cli:
        a, b = min(small.cli[name]), min(big.cli[name])
        verdict = ""
        if name == "cocred --help":
            verdict = f"target <= {ms(TARGET_HELP)} {mark(b <= TARGET_HELP)}"
        elif name.startswith("accepted"):
            verdict = f"target x <= {WRITE_RATIO} {mark(b / a <= WRITE_RATIO)}"
        print(
            f"{name:30} {ms(a):>9} -> {ms(b):>9} = x{b / a:.2f} (best of {len(big.cli[name])};"
            f" spread {ms(min(big.cli[name]))}-{ms(max(big.cli[name]))})  {verdict}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, nargs="+", default=[10_000, 1_000_000])
    parser.add_argument("--db", help="a PostgreSQL URL (default: SQLite files in --cache)")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/cocred-scale"))
    parser.add_argument("--restarts", type=int, default=3)
    parser.add_argument("--warm", type=int, default=20)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    ledgers = [ledger_for(n, args.cache, args.db) for n in sorted(args.events)]
    figures: dict[int, Figures] = {}
    pages: dict[str, str] = {}
    for ledger in ledgers:
        pages = targets(ledger)
        figures[ledger.events] = measure_pages(ledger, pages, args)
    measure_cli(ledgers, args.runs, figures)
    backend = "PostgreSQL" if args.db else "SQLite"
    report(figures[ledgers[0].events], figures[ledgers[-1].events], pages, backend)


if __name__ == "__main__":
    main()
