"""What the pages cost on a big ledger: bytes, DOM nodes (tags in the HTML) and server time.

For the campaign page, the #1 earner's page, the median earner's page and the auditor page,
prints bytes, tags and the server time (min / median / max of ``--runs`` warm requests, and
the first, cold request with the lineage cache empty), then the same page built the old way,
in the same run, as the reference: every payee and unreviewed piece inline on the campaign
page (``top`` unbounded), every work, earnings item, lineage row and timeline entry on a
contributor page (one page of each).
Also the time of a revalidation answered with 304.

    cocred demo --members 3000 --contributions 6000 --votes 60000 --db sqlite:////tmp/big.sqlite
    python bench/pages.py --db sqlite:////tmp/big.sqlite [--runs 5]
"""

from __future__ import annotations

import argparse
import functools
import re
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fastapi.testclient import TestClient  # noqa: E402

import api.web.pages as pages  # noqa: E402
import api.web.person_view as person_view  # noqa: E402
from api.bootstrap import bootstrap  # noqa: E402
from api.http.app import create_app  # noqa: E402
from api.settings import Settings  # noqa: E402
from projections.queries import leaderboard  # noqa: E402

TAG = re.compile(rb"<[a-zA-Z]")


def measure(client: TestClient, path: str, runs: int) -> dict[str, float]:
    person_view._cached_lineage.cache_clear()
    person_view._explained.clear()
    started = time.perf_counter()
    first = client.get(path)
    cold = time.perf_counter() - started
    assert first.status_code == 200, (path, first.status_code, first.text[:300])
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        client.get(path)
        times.append(time.perf_counter() - started)
    return {
        "bytes": len(first.content),
        "tags": len(TAG.findall(first.content)),
        "cold": cold,
        "min": min(times),
        "median": statistics.median(times),
        "max": max(times),
        "etag": first.headers.get("etag", ""),
    }


def show(label: str, now: dict[str, float], before: dict[str, float] | None) -> None:
    print(
        f"{label:<22} {now['bytes'] / 1000:8.1f} kB {now['tags']:7,} tags  "
        f"cold {now['cold'] * 1000:7.0f} ms  warm {now['min'] * 1000:6.0f}/"
        f"{now['median'] * 1000:6.0f}/{now['max'] * 1000:6.0f} ms (min/median/max)"
    )
    if before:
        print(
            f"{'  before (reference)':<22} {before['bytes'] / 1000:8.1f} kB "
            f"{before['tags']:7,} tags  cold {before['cold'] * 1000:7.0f} ms  "
            f"warm {before['median'] * 1000:6.0f} ms median  "
            f"-> bytes x{now['bytes'] / before['bytes']:.3f}, "
            f"tags x{now['tags'] / before['tags']:.3f}, "
            f"warm time x{now['median'] / before['median']:.3f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True, help="a database built by cocred demo")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    services = bootstrap(Settings(database_url=args.db))
    with services, TestClient(create_app(services)) as client:
        state = services.reads.state()
        campaign = next(iter(state.campaigns))
        _, board = leaderboard(services.reads.projector(), campaign)
        paying = [s for s in board if s.amount > 0]
        top, median = paying[0].member, paying[len(paying) // 2].member
        print(
            f"ledger: {services.ledger.store.size():,} events, campaign {campaign}, "
            f"{len(paying):,} payees; {args.runs} warm runs each"
        )
        targets = [
            ("campaign page", f"/c/{campaign}"),
            ("#1 earner's page", f"/people/{top}?campaign={campaign}"),
            ("median earner's page", f"/people/{median}?campaign={campaign}"),
            ("auditor page", "/audit"),
            ("payees list, page 2", f"/c/{campaign}/payees?page=2"),
        ]
        now = {label: measure(client, path, args.runs) for label, path in targets}
        # The reference: the same pages built the old way, in this run.
        original_page = pages.campaign_page
        bounds = ("WORKS_PAGE", "ITEMS_PAGE", "LINEAGE_ROWS", "TIMELINE_PAGE")
        original = {name: getattr(person_view, name) for name in bounds}
        pages.campaign_page = functools.partial(original_page, top=10**9)  # type: ignore[assignment]
        for name in bounds:  # every work, item, lineage row and timeline entry inline
            setattr(person_view, name, 10**9)
        try:
            before = {
                label: measure(client, path, max(1, args.runs // 2)) for label, path in targets[:3]
            }
        finally:
            pages.campaign_page = original_page
            for name, value in original.items():
                setattr(person_view, name, value)
        for label, _ in targets:
            show(label, now[label], before.get(label))
        tag, path = now["campaign page"]["etag"], targets[0][1]
        times = []
        for _ in range(args.runs):
            started = time.perf_counter()
            answer = client.get(path, headers={"If-None-Match": tag})
            times.append(time.perf_counter() - started)
            assert answer.status_code == 304
        took = statistics.median(times)
        print(
            f"{'campaign page, 304':<22} revalidation {took * 1000:.1f} ms median"
            f" (x{took / now['campaign page']['median']:.3f} of a full build)"
        )


if __name__ == "__main__":
    main()
