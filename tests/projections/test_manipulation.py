"""A sock-puppet ring earns about what its honest work earns, not what it votes itself.

"Honest work" is the ring's cocred-fair share in the same log without the votes
its own accounts cast; "plain" is the share under plain proportional-to-votes.
The figures are printed (``pytest -s``) as well as checked.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from api.bootstrap import bootstrap
from domain.demo.generator import build_demo
from ledger.store import open_store
from projections.baseline import group_figures
from tests.projections.builders import Script
from tests.projections.lively import demo


def report(name: str, fair, honest, plain) -> str:
    return (
        f"{name}: ring share {float(fair):.2%} under cocred-fair, {float(honest):.2%} from its "
        f"honest work, {float(plain):.2%} under plain proportional "
        f"({float(fair / honest):.2f}x and {float(plain / honest):.2f}x its honest work)"
    )


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_ring_in_a_lively_campaign_earns_about_its_honest_work(seed: int) -> None:
    script = Script(seed=seed)
    built = demo(script, members=200, contributions=300, votes=3000, ring=20, seed=seed)
    ring = {script.id(name) for name in built.ring}
    figures = group_figures(script.records(), script.campaign, ring)
    print(report(f"builders demo, seed {seed}", figures.fair, figures.honest, figures.plain))
    assert figures.fair <= figures.honest * 5 / 4
    assert figures.plain >= figures.honest * 5 / 2


@pytest.mark.slow
def test_on_the_domain_demo_the_ring_earns_about_its_honest_work(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/demo.sqlite"
    with bootstrap(database_url=url) as services:
        summary = build_demo(services, seed=1, members=400, contributions=1500, votes=15_000)
    ring = set(summary.ring["members"])
    with open_store(url) as store:
        records = list(store.iterate())
    figures = group_figures(records, summary.campaign, ring)
    print(report("domain demo", figures.fair, figures.honest, figures.plain))
    assert figures.fair <= figures.honest * 3 / 2
    assert figures.plain >= figures.honest * 4
