"""What a snapshot saves a process that opens a big ledger: the gate's replay vs load + tail.

Builds a demo ledger (SQLite, in a temporary folder), then times, best of ``--runs``:
the full replay of the log into the gate's state (the reference, measured in the same run),
saving a snapshot, and loading it plus replaying a tail of 1 % of the log. Prints each with
the ratio to the full replay, and the snapshot's size.

    python bench/snapshots.py [--members 3000 --contributions 6000 --votes 60000] [--runs 3]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

# The project root first: bench/projections.py would otherwise shadow the projections package.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from api.bootstrap import bootstrap  # noqa: E402
from api.settings import Settings  # noqa: E402
from domain.demo.generator import build_demo  # noqa: E402
from domain.gate import CampaignApp  # noqa: E402
from domain.snapshots import GATE, SnapshotStore  # noqa: E402


def best(action, runs: int) -> float:
    seen = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        seen.append(time.perf_counter() - started)
    return min(seen)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=3000)
    parser.add_argument("--contributions", type=int, default=6000)
    parser.add_argument("--votes", type=int, default=60000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            database_url=f"sqlite:///{tmp}/b.sqlite",
            snapshot_every=0,
            ledger_key_file=Path(tmp) / "l.key",
            profile_key_file=Path(tmp) / "p.key",
        )
        with bootstrap(settings) as svc:
            build_demo(svc, seed=1, members=args.members, contributions=args.contributions,
                       votes=args.votes)  # fmt: skip
            size = svc.ledger.size()
            store = SnapshotStore(settings.database_url, engine=svc.engine)

            def replay() -> CampaignApp:
                app = CampaignApp(svc.ledger)
                app.catch_up()
                return app

            full = best(replay, args.runs)
            app = replay()
            cut = size - size // 100  # a snapshot 1 % behind the head: load it, replay the tail
            partial = CampaignApp(svc.ledger)
            for record in svc.ledger.store.read(0, cut):
                partial._replay(record)
            store.save(GATE, svc.ledger.store, cut, partial.state, partial.ignored)
            save = best(
                lambda: store.save(GATE, svc.ledger.store, cut, partial.state, partial.ignored),
                args.runs,
            )

            def load() -> CampaignApp:
                loaded = CampaignApp(svc.ledger, snapshots=store)
                loaded.catch_up()
                assert loaded.loaded_snapshot == cut and loaded.position == app.position
                return loaded

            warm = best(load, args.runs)
            with svc.engine.connect() as conn:
                stored = conn.exec_driver_sql("SELECT length(state) FROM cocred_snapshots").scalar()
        print(f"{size} events; snapshot {stored / 1e6:.1f} MB; best of {args.runs} runs")
        print(f"full replay into the gate (reference) {full:7.2f} s = 1.00x")
        print(f"save a snapshot                       {save:7.2f} s = {save / full:.2f}x")
        print(f"load it + replay a 1 % tail           {warm:7.2f} s = {warm / full:.2f}x")


if __name__ == "__main__":
    main()
