"""Fairness benchmark: every attack of issue 16 against cocred-fair v1, v2, plain, PageRank.

    python bench/fairness.py [--seeds 1 2 3] [--sizes 5 20 50 100] [--camouflage 0 1 3]
    python bench/fairness.py --update-cost 250 1000 4000   # only the update cost

Prints, for each honest community shape, attack, size and camouflage level, the
attackers' gain (pool share with the attack / without it) under each method, the worst
v2 gain, and for each shape the honest outcome: Spearman correlation between each
piece's credit and its hidden quality (v1, v2) and how far v2's payouts are from v1's
(largest relative difference among members paid >= 1 % of the pool; pool-weighted mean;
how many of those members v2 pays more than 10 % above or below v1).
``--update-cost N …`` instead times the update after one event (``LogState.apply`` +
``refresh``) on honest lively communities of N members (about 14 N events): the last 10
votes, then 10 brand acts (acceptances and removals of voted pieces), applied one at a
time to a live state, under v1 and v2 (both incremental), in the same run. Figures only, no asserts
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
from tests.projections.sim.world import BRAND, SHAPES, honest  # noqa: E402


def update_cost(members: int, version: int, last: int = 10) -> dict[str, tuple[float, float]]:
    """(median ms, max ms) of the update after each of the last ``last`` votes, and after
    each of ``last`` brand acts that follow them (acceptances and removals of voted pieces,
    which under v2 change standing and routes), with the number of events."""
    world, _ = honest("lively", 1, version=version, members=members)
    pieces = sorted(world.authors)[:: max(1, len(world.authors) // last)][:last]
    for i, cid in enumerate(pieces):
        outcome = "accepted" if i % 2 == 0 else "removed"
        body = {"contribution": cid, "outcome": outcome, "reason": "on-brief", "note": None}
        world.emit("ContributionModerated", BRAND, body)
    records = world.records()
    log = LogState()
    log.apply_all(records[: -2 * last])
    log.go_live()
    times: dict[str, list[float]] = {"votes": [], "brand": []}
    for i, record in enumerate(records[-2 * last :]):
        started = time.perf_counter()
        log.apply(record)
        log.refresh()
        times["votes" if i < last else "brand"].append((time.perf_counter() - started) * 1000)
    figures = {k: (statistics.median(v), max(v)) for k, v in times.items()}
    figures["events"] = (len(records), 0.0)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--sizes", type=int, nargs="+", default=[5, 20, 50, 100])
    parser.add_argument("--camouflage", type=int, nargs="+", default=[0, 1, 3])
    parser.add_argument("--shapes", nargs="+", default=list(SHAPES))
    parser.add_argument("--update-cost", type=int, nargs="+", metavar="MEMBERS")
    args = parser.parse_args()
    if args.update_cost:
        print("members  events   update after   v1 median / max ms   v2 median / max ms   v2 / v1")
        for members in args.update_cost:
            v1, v2 = update_cost(members, 1), update_cost(members, 2)
            events = int(v2["events"][0])
            for what, label in (("votes", "one vote"), ("brand", "a brand act")):
                (m1, x1), (m2, x2) = v1[what], v2[what]
                print(
                    f"{members:7} {events:7}   {label:12} {m1:10.2f} / {x1:7.2f} "
                    f"{m2:11.2f} / {x2:7.2f} {m2 / m1:8.1f}x",
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
