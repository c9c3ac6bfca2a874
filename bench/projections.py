"""Projections benchmark: rebuild, incremental update, PageRank reference, ring figures.

    python bench/projections.py [--events 1000000] [--seed 1] [--policy 1]

On the demo campaign (``domain/demo/generator.py``, written through the campaign gate;
about ``--events`` events, cached under ``var/bench/`` so reruns skip it) prints:

(a) a full rebuild of every read model from the log, in a fresh process: wall
    time and that process's peak RSS (targets: <= 60 s and <= 1.5 GB);
(b) the incremental update after one new vote: the projector's ``catch_up`` for
    each of the last 20 votes of the campaign, applied one at a time to tables
    and a live state at the position just before them (target <= 100 ms), and
    the cold start of a new follower process (replaying the log in memory);
(c) ``networkx.pagerank`` on the same contribution graph, in the same run, as a
    reference point (voters -> contributions -> sources and authors);
(d) the sock-puppet ring's share of the campaign under cocred-fair, from its
    honest work (its own votes removed), under plain proportional-to-votes, and
    under PageRank.

The demo campaign is opened with cocred-fair ``--policy`` 1 (the default here, so that the
figures compare with the earlier runs) or 2 (the default for new campaigns, updated
incrementally by projections/flow_live.py and rebuilt whole when the replay goes live:
see ``bench/fairness.py --update-cost`` and projections/RULES.md, v2, Cost).
Figures only, no asserts. The rebuild and the incremental steps run on a copy
of the cached database, which is removed afterwards.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ledger.store import PAGE, LogStore, StoredRecord, open_store  # noqa: E402
from projections.baseline import fair_shares, plain_shares, without_votes_by  # noqa: E402
from projections.projector import Projector  # noqa: E402
from projections.state import LogState, load_state  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / "var" / "bench"


# -- the demo log ------------------------------------------------------------------------------


def sizes(events: int) -> dict[str, int]:
    """build_demo sizes that give about ``events`` events (4 per member, ~1.02 per vote)."""
    members = max(10, events // 50)
    contributions = max(200, events // 20)
    votes = max(0, events - 4 * members - contributions)
    return {"members": members, "contributions": contributions, "votes": votes}


def build(path: Path, events: int, seed: int, version: int = 1) -> dict[str, Any]:
    """Write the demo campaign into a new SQLite file; return its summary."""
    from api.bootstrap import bootstrap
    from domain.demo.generator import build_demo
    from domain.vocabulary import DEFAULT_POLICY_V1, DEFAULT_POLICY_V2

    policy = DEFAULT_POLICY_V1 if version == 1 else DEFAULT_POLICY_V2

    started = time.perf_counter()
    done = 0

    def progress(n: int) -> None:
        nonlocal done
        done += n
        if done // 100_000 != (done - n) // 100_000:
            print(f"    … {done:,} events ({time.perf_counter() - started:.0f} s)", flush=True)

    with bootstrap(database_url=f"sqlite:///{path}") as services:
        summary = build_demo(services, seed=seed, progress=progress, policy=policy, **sizes(events))
    return {"campaign": summary.campaign, "ring": summary.ring["members"], "events": done}


def cached_demo(events: int, seed: int, version: int = 1) -> tuple[Path, dict[str, Any]]:
    CACHE.mkdir(parents=True, exist_ok=True)
    size = sizes(events)
    path = CACHE / (
        f"projections-demo-{size['members']}-{size['contributions']}-{size['votes']}-{seed}"
        + ("" if version == 1 else f"-v{version}")
        + ".sqlite"
    )
    meta = path.with_suffix(".json")
    if not (path.exists() and meta.exists()):
        for stale in CACHE.glob(f"{path.name}*"):
            stale.unlink()
        print(f"building the demo campaign (~{events:,} events, once; cached in {path})")
        started = time.perf_counter()
        meta.write_text(json.dumps(build(path, events, seed, version)))
        print(f"    built in {time.perf_counter() - started:.0f} s")
    return path, json.loads(meta.read_text())


class LogView(LogStore):
    """The first ``end`` events of a store (so the tables can stand just before them)."""

    def __init__(self, store: LogStore, end: int) -> None:
        self.store, self.end, self.url = store, end, store.url

    def read(
        self, start: int = 0, limit: int = PAGE, *, types: Sequence[str] = ()
    ) -> list[StoredRecord]:
        limit = min(limit, self.end - start)
        return self.store.read(start, limit, types=types) if limit > 0 else []

    def size(self) -> int:
        return min(self.end, self.store.size())

    def insert(self, records: Any, *, expected_size: int | None = None) -> list[int]:
        raise NotImplementedError

    def read_actor(self, actor: str, after_seq: int = 0, limit: int | None = None) -> Any:
        raise NotImplementedError

    def exists(self, actor: str, seq: int) -> bool:
        raise NotImplementedError

    def close(self) -> None:
        self.store.close()


# -- (a) rebuild in a fresh process -----------------------------------------------------------


def child_rebuild(url: str) -> None:
    store = open_store(url, create=False)
    projector = Projector(store)
    started = time.perf_counter()
    events = projector.rebuild()
    seconds = time.perf_counter() - started
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"events": events, "seconds": seconds, "rss": rss}))


def rebuild_in_child(url: str) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, "--child-rebuild", url],
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


# -- (b) incremental ---------------------------------------------------------------------------


def last_votes(store: LogStore, count: int) -> list[int]:
    """Positions of the last ``count`` VoteCast events."""
    positions: list[int] = []
    start = max(0, store.size() - 200_000)
    while True:
        page = store.read(start, 10_000, types=["VoteCast"])
        if not page:
            break
        positions += [r.position for r in page]
        start = page[-1].position + 1
    return positions[-count:]


def incremental(store: LogStore, votes: list[int]) -> tuple[list[float], float, Projector]:
    """Tables and live state just before ``votes[0]``; then catch up one event at a time."""
    view = LogView(store, votes[0])
    projector = Projector(view)
    projector.rebuild()
    timings = []
    for position in range(votes[0], votes[-1] + 1):
        view.end = position + 1
        started = time.perf_counter()
        projector.catch_up()
        if position in votes:
            timings.append(time.perf_counter() - started)
    cold = Projector(view)
    started = time.perf_counter()
    cold.current()
    cold_start = time.perf_counter() - started
    cold.close()
    return timings, cold_start, projector


# -- (c, d) PageRank and the ring --------------------------------------------------------------


def pagerank(state: LogState, campaign: str) -> tuple[float, dict[str, float], int, int]:
    """Seconds for networkx.pagerank on voters -> contributions -> sources/authors."""
    import networkx as nx

    camp = state.campaign(campaign)
    policy = camp.require_scorer().policy
    graph = nx.DiGraph()
    for cid, contribution in camp.contributions.items():
        for (voter, kind), _ in contribution.votes.items():
            weight = policy.weight(kind)
            if weight:
                old = graph.get_edge_data(f"m:{voter}", f"c:{cid}", {"weight": 0})["weight"]
                graph.add_edge(f"m:{voter}", f"c:{cid}", weight=old + weight)
        for author, percent in contribution.authors:
            graph.add_edge(f"c:{cid}", f"m:{author}", weight=percent)
        for parent in contribution.parents:
            graph.add_edge(f"c:{cid}", f"c:{parent.contribution}", weight=float(parent.share))
    started = time.perf_counter()
    ranks = PAGERANK(graph, weight="weight")
    seconds = time.perf_counter() - started
    members = {node[2:]: rank for node, rank in ranks.items() if node.startswith("m:")}
    return seconds, members, graph.number_of_nodes(), graph.number_of_edges()


def _pagerank_implementation() -> tuple[Any, str]:
    """``networkx.pagerank`` (scipy); without scipy, networkx's pure-Python version of it."""
    import networkx as nx

    try:
        import scipy  # noqa: F401
    except ImportError:
        from networkx.algorithms.link_analysis.pagerank_alg import _pagerank_python

        return _pagerank_python, "networkx's pure-Python pagerank (scipy is not installed)"
    return nx.pagerank, "networkx.pagerank (scipy)"


PAGERANK, PAGERANK_NAME = _pagerank_implementation()


def stream(store: LogStore) -> Iterator[StoredRecord]:
    yield from store.iterate(page=5000)


def ring_figures(
    store: LogStore, state: LogState, campaign: str, ring: set[str], ranks: dict[str, float]
) -> dict[str, float]:
    camp = state.campaign(campaign)
    fair, plain = fair_shares(camp), plain_shares(camp)
    honest = LogState()
    honest.apply_all(without_votes_by(stream(store), ring))
    honest.go_live()

    def of(shares: dict[str, Fraction]) -> float:
        return float(sum((v for m, v in shares.items() if m in ring), Fraction(0)))

    total_rank = sum(ranks.values())
    return {
        "fair": of(fair),
        "honest": of(fair_shares(honest.campaign(campaign))),
        "plain": of(plain),
        "pagerank": sum(v for m, v in ranks.items() if m in ring) / total_rank,
    }


# -- main --------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--policy", type=int, choices=(1, 2), default=1)
    parser.add_argument("--child-rebuild", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_rebuild:
        child_rebuild(args.child_rebuild)
        return

    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}"
    )
    cached, meta = cached_demo(args.events, args.seed, args.policy)
    campaign, ring = meta["campaign"], set(meta["ring"])
    with tempfile.TemporaryDirectory(dir=CACHE) as tmp:
        work = Path(tmp) / "work.sqlite"
        shutil.copyfile(cached, work)
        url = f"sqlite:///{work}"
        store = open_store(url, create=False)
        print(f"log: {store.size():,} events, campaign {campaign}, ring of {len(ring)} accounts")

        result = rebuild_in_child(url)
        print(
            f"(a) full rebuild of every read model: {result['seconds']:.1f} s for "
            f"{result['events']:,} events, peak RSS {result['rss'] / 2**30:.2f} GB "
            f"(targets <= 60 s, <= 1.5 GB)"
        )

        votes = last_votes(store, 20)
        timings, cold_start, projector = incremental(store, votes)
        timings.sort()
        median, worst = timings[len(timings) // 2] * 1e3, timings[-1] * 1e3
        print(
            f"(b) incremental update after one new vote: median {median:.1f} ms, max "
            f"{worst:.1f} ms over {len(timings)} votes (target <= 100 ms)"
        )
        print(f"    cold start of a new projector (in-memory replay): {cold_start:.1f} s")

        projector.close()
        state = load_state(store)  # the whole log (the view stopped before the close)
        seconds, ranks, nodes, edges = pagerank(state, campaign)
        print(
            f"(c) {PAGERANK_NAME} on the same graph ({nodes:,} nodes, {edges:,} edges): "
            f"{seconds:.1f} s (reference)"
        )
        figures = ring_figures(store, state, campaign, ring, ranks)
        honest = figures["honest"]
        print(
            f"(d) ring share: {figures['fair']:.3%} under cocred-fair, {honest:.3%} from its "
            f"honest work, {figures['plain']:.3%} under plain proportional, "
            f"{figures['pagerank']:.3%} under PageRank "
            f"(= {figures['fair'] / honest:.2f}x, {figures['plain'] / honest:.2f}x and "
            f"{figures['pagerank'] / honest:.2f}x its honest work)"
        )
        store.close()


if __name__ == "__main__":
    main()
