"""Fairness benchmark: every attack of issue 16 against cocred-fair v1, v2, plain, PageRank.

    python bench/fairness.py [--seeds 1 2 3] [--sizes 5 20 50 100] [--camouflage 0 1 3]
    python bench/fairness.py --update-cost 250 1000 4000   # only the update cost

Prints, for each honest community shape, attack, size and camouflage level, the
attackers' gain (pool share with the attack / without it) under each method, the worst
v2 gain, and for each shape the honest outcome: Spearman correlation between each
piece's credit and its hidden quality (v1, v2) and how far v2's payouts are from v1's
(largest relative difference among members paid >= 1 % of the pool; pool-weighted mean;
how many of those members v2 pays more than 10 % above or below v1).
``--update-cost N …`` instead times the update after one vote (``LogState.apply`` of the
vote + ``refresh``) on honest lively communities of N members (about 14 N events), the
last 10 votes applied one at a time to a live state, under v1 (incremental) and v2 (a
full recompute of the campaign), in the same run. Figures only, no asserts
(tests/projections/test_fairness_v2.py asserts the targets).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from projections.state import LogState  # noqa: E402
from tests.projections.sim.attacks import ATTACKS, Attack  # noqa: E402
from tests.projections.sim.measure import METHODS, attack_gains, honest_outcome  # noqa: E402
from tests.projections.sim.world import SHAPES, honest  # noqa: E402


def update_cost(members: int, version: int, last: int = 10) -> tuple[int, float, float]:
    """(events, median ms, max ms) of the update after each of the last ``last`` votes."""
    world, _ = honest("lively", 1, version=version, members=members)
    records = world.records()
    log = LogState()
    log.apply_all(records[:-last])
    log.go_live()
    times = []
    for record in records[-last:]:
        started = time.perf_counter()
        log.apply(record)
        log.refresh()
        times.append((time.perf_counter() - started) * 1000)
    return len(records), statistics.median(times), max(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--sizes", type=int, nargs="+", default=[5, 20, 50, 100])
    parser.add_argument("--camouflage", type=int, nargs="+", default=[0, 1, 3])
    parser.add_argument("--shapes", nargs="+", default=list(SHAPES))
    parser.add_argument("--update-cost", type=int, nargs="+", metavar="MEMBERS")
    args = parser.parse_args()
    if args.update_cost:
        print("members  events   v1 median / max ms   v2 median / max ms   v2 / v1 (median)")
        for members in args.update_cost:
            _, m1, x1 = update_cost(members, 1)
            events, m2, x2 = update_cost(members, 2)
            print(
                f"{members:7} {events:7} {m1:10.2f} / {x1:7.2f} {m2:11.1f} / {x2:7.1f} "
                f"{m2 / m1:12.0f}x",
                flush=True,
            )
        return
    worst = {m: 0.0 for m in METHODS}
    print(
        "shape    attack   size camo " + " ".join(f"{m:>9}" for m in METHODS) + "  (max over seeds)"
    )
    for shape in args.shapes:
        for kind in ATTACKS:
            for size in args.sizes:
                for camo in args.camouflage:
                    row = {m: 0.0 for m in METHODS}
                    for seed in args.seeds:
                        gains = attack_gains(shape, seed, Attack(kind, size, camo, seed))
                        for m in METHODS:
                            row[m] = max(row[m], gains[m].gain)
                    for m in METHODS:
                        worst[m] = max(worst[m], row[m])
                    cells = " ".join(f"{row[m]:9.2f}" for m in METHODS)
                    print(f"{shape:8} {kind:8} {size:4} {camo:4} {cells}", flush=True)
    print("worst gain: " + ", ".join(f"{m} {worst[m]:.2f}x" for m in METHODS))
    print("honest     rank v1  rank v2  max |v2-v1|/v1  weighted mean  outside 10 %")
    for shape in args.shapes:
        for seed in args.seeds:
            h = honest_outcome(shape, seed)
            print(
                f"{shape:8} s{seed} {h.rank_v1:7.3f} {h.rank_v2:8.3f} {h.max_diff:14.1%} "
                f"{h.mean_diff:13.1%}  {h.outside:3} of {h.paid}",
                flush=True,
            )


if __name__ == "__main__":
    main()
