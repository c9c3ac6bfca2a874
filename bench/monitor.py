"""Benchmark ``cocred monitor``'s catch-up; prints figures, asserts nothing.

Usage: ``python bench/monitor.py [--events 20000] [--actors 200] [--runs 3]``

On a fresh SQLite ledger of N signed events (``bench/ingest.py``'s contributions, ~600 bytes
each, round-robin over the actors) served by ``cocred serve`` (one worker, rate limits off, a
subprocess on 127.0.0.1): a monitor with an empty state file follows it from zero to the
checkpoint (``Monitor.poll``, as ``cocred monitor --once`` runs it: every entry bundle and
hash tile over one keep-alive connection, each entry parsed, checked canonical, its key state
and seq applied, its signature verified, the tree recomputed and every tile compared), in
events/s. The reference, measured in the same run between the monitor's runs: verifying the
same entries' signatures alone on one core (``ledger.keys.verify_signature``, keys and signed
bytes prepared beforehand), which bounds a one-process monitor. Best of ``--runs``, with the
spread; the ratio is best against best. 1M events: ``--events 1000000`` (building the log
takes a few minutes; at the 100k rate, about 100 s per catch-up on 2 shared cores).
"""

from __future__ import annotations

import argparse
import http.client
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from api_load import Server  # noqa: E402
from ingest import iter_events, verify_tasks  # noqa: E402

from api.bootstrap import bootstrap  # noqa: E402
from api.settings import Settings  # noqa: E402
from ledger.keys import verify_signature  # noqa: E402
from ledger.ledger import Ledger  # noqa: E402
from ledger.provenance.monitor import Monitor  # noqa: E402
from ledger.provenance.monitor_remote import TileClient  # noqa: E402
from ledger.provenance.monitor_state import MonitorState  # noqa: E402
from ledger.store import open_store  # noqa: E402


def build(url: str, count: int, actors: int) -> list[bytes]:
    ledger = Ledger(open_store(url), max_clock_skew=None)
    events = list(iter_events(count, actors, seed=21))
    for start in range(0, len(events), 5000):
        ledger.append_batch(events[start : start + 5000])
    ledger.close()
    return events


def wait_ready(server: Server) -> None:
    deadline = time.monotonic() + 120
    while True:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        if time.monotonic() > deadline or server.proc.poll() is not None:
            raise RuntimeError(f"the server did not start: {server.log.read_text()}")
        time.sleep(0.2)


def verify_only(tasks: list[tuple[bytes, bytes, bytes]]) -> float:
    start = time.perf_counter()
    for public, message, signature in tasks:
        verify_signature(public, message, signature)
    return len(tasks) / (time.perf_counter() - start)


def spread(rates: list[float]) -> str:
    return f"best {max(rates):,.0f}/s (spread {min(rates):,.0f}–{max(rates):,.0f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--actors", type=int, default=200)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    where = Path(tempfile.mkdtemp(prefix="cocred-monitor-"))
    config = Settings(
        database_url=f"sqlite:///{where}/b.sqlite",
        ledger_key_file=where / "ledger.key",  # the key file Server gives `cocred serve`
        rate_limits=False,
    )
    try:
        start = time.perf_counter()
        events = build(config.database_url, args.events, args.actors)
        with bootstrap(config) as svc:
            stored = svc.provenance.checkpoints.cut()
            assert stored is not None and stored.size == args.events
            vkey = svc.provenance.identity.vkey
        print(f"{args.events:,} events ({sum(map(len, events)) / 1e6:.1f} MB) appended and "
              f"checkpointed in {time.perf_counter() - start:.1f} s")  # fmt: skip
        tasks = verify_tasks(events)
        server = Server(config.database_url, 1, where, {"COCRED_RATE_LIMITS": "false"})
        try:
            wait_ready(server)
            followed, limits = [], [verify_only(tasks)]
            for run in range(args.runs):
                client = TileClient(f"http://127.0.0.1:{server.port}")
                state = MonitorState(where / f"monitor-{run}.sqlite", vkey)
                t0 = time.perf_counter()
                report = Monitor(client, vkey, state).poll()
                seconds = time.perf_counter() - t0
                assert report.size == args.events and not report.alerts, report.alerts
                followed.append(report.entries / seconds)
                client.close()
                state.close()
                limits.append(verify_only(tasks))
                print(f"  run {run + 1}: {report.entries:,} entries in {seconds:.2f} s, "
                      f"{len(client.requests):,} requests")  # fmt: skip
        finally:
            server.stop()
        print(f"monitor catch-up from zero: {spread(followed)}")
        print(f"verify-only, one core, same entries: {spread(limits)}")
        print(f"ratio (best to best): {max(followed) / max(limits):.2f}× the verify-only limit")
    finally:
        shutil.rmtree(where, ignore_errors=True)


if __name__ == "__main__":
    main()
