"""Demo-generation benchmark: build the demo campaign at scale and report time and memory.

    python bench/demo.py [--members 20000 --contributions 100000 --votes 800000]
                         [--seed 1] [--db URL]

The defaults write about 1,000,000 events (the projection benchmark's input) to a
fresh SQLite file in a temporary directory, through the campaign gate, in batches
of at most 10,000. Prints events, seconds, events/s, peak RSS and the database
size. No asserts: it reports.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from api.bootstrap import bootstrap  # noqa: E402
from api.settings import Settings  # noqa: E402
from domain.demo.generator import build_demo  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=20_000)
    parser.add_argument("--contributions", type=int, default=100_000)
    parser.add_argument("--votes", type=int, default=800_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--db", help="database URL (default: a SQLite file in a temp dir)")
    parser.add_argument("--summary", type=Path, help="write the demo's JSON summary here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.db or f"sqlite:///{tmp}/bench-demo.sqlite"
        done = 0
        started = time.perf_counter()

        def progress(n: int) -> None:
            nonlocal done
            done += n
            if done // 100_000 != (done - n) // 100_000:
                print(f"  {done:>9,} events  {time.perf_counter() - started:7.1f} s", flush=True)

        with bootstrap(Settings(database_url=url)) as svc:
            summary = build_demo(
                svc,
                seed=args.seed,
                members=args.members,
                contributions=args.contributions,
                votes=args.votes,
                progress=progress,
            )
        seconds = time.perf_counter() - started
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        size = sum(p.stat().st_size for p in Path(tmp).glob("bench-demo.sqlite*"))
        print(
            f"demo: {summary.events:,} events in {seconds:.1f} s "
            f"({summary.events / seconds:,.0f} events/s), peak RSS {peak:,.0f} MB"
            + (f", SQLite files {size / 2**20:,.0f} MB" if not args.db else "")
        )
        if args.summary:
            args.summary.write_text(json.dumps(summary.to_json(), indent=2) + "\n")


if __name__ == "__main__":
    main()
