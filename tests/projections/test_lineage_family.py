"""``lineage`` reads only a contribution's family (a query per generation) and answers exactly
what the whole campaign's tables answer: the rule written over every row, here, is the
reference, checked for every contribution of a demo campaign with remixes up to several deep,
on both backends."""

from __future__ import annotations

from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest

from api.bootstrap import Services, bootstrap
from api.settings import Settings
from domain.demo.generator import build_demo
from domain.vocabulary import EXCLUDING_OUTCOMES
from projections.exact import fraction_text, from_text
from projections.projector import Projector
from projections.queries import _rows, lineage
from tests.support import drop_postgres_schema, fresh_postgres_url


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def demo(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Services, str]]:
    tmp = tmp_path_factory.mktemp("lineage")
    url = f"sqlite:///{tmp}/l.sqlite" if request.param == "sqlite" else fresh_postgres_url()
    settings = Settings(
        database_url=url, ledger_key_file=tmp / "l.key", profile_key_file=Path(tmp) / "p.key"
    )
    try:
        with bootstrap(settings) as services:
            summary = build_demo(services, seed=3, members=60, contributions=240, votes=300)
            yield services, summary.campaign
    finally:
        if request.param == "postgres":
            drop_postgres_schema(url)


def whole_campaign_lineage(projector: Projector, campaign: str, cid: str) -> dict[str, Any]:
    """The rule over every row of the campaign's contributions and lineage tables."""
    info = {
        r["contribution"]: (r["position"], r["status"])
        for r in _rows(projector, "contributions", campaign=campaign)
    }
    up: dict[str, list[tuple[str, Fraction]]] = {}
    down: dict[str, list[tuple[str, Fraction]]] = {}
    links: dict[str, list[dict[str, Any]]] = {}
    for edge in _rows(projector, "lineage", campaign=campaign):
        share = from_text(edge["share"])
        up.setdefault(edge["child"], []).append((edge["parent"], share))
        down.setdefault(edge["parent"], []).append((edge["child"], share))
        links.setdefault(edge["child"], []).append(
            {"parent": edge["parent"], "declared": edge["declared"], "share": edge["share"]}
        )

    def passes(c: str) -> bool:
        return info[c][1] not in EXCLUDING_OUTCOMES

    def cone(graph: dict[str, list[tuple[str, Fraction]]], newest_first: bool) -> list[Any]:
        found, frontier = {cid}, [cid]
        while frontier:
            for other, _ in graph.get(frontier.pop(), []):
                if other not in found:
                    found.add(other)
                    frontier.append(other)
        paths = {cid: Fraction(1)}
        back = down if graph is up else up
        for c in sorted(found - {cid}, key=lambda c: info[c][0], reverse=newest_first):
            paths[c] = sum(
                (
                    s * paths[o]
                    for o, s in back.get(c, [])
                    if o in paths and passes(o) and passes(c)
                ),
                Fraction(0),
            )
        del paths[cid]
        return [
            {
                "contribution": c,
                "position": info[c][0],
                "status": info[c][1],
                "path": fraction_text(p),
                "derived_from": links.get(c, []),
            }
            for c, p in sorted(paths.items(), key=lambda item: info[item[0]][0])
        ]

    return {
        "campaign": campaign,
        "contribution": cid,
        "status": info[cid][1],
        "derived_from": links.get(cid, []),
        "ancestors": cone(up, newest_first=True),
        "descendants": cone(down, newest_first=False),
    }


def test_a_lineage_read_from_the_family_equals_the_rule_over_the_whole_campaign(demo) -> None:
    services, campaign = demo
    projector = services.reads.projector()
    works = [r["contribution"] for r in _rows(projector, "contributions", campaign=campaign)]
    deep = 0
    for cid in works:
        found = lineage(projector, campaign, cid)
        assert found == whole_campaign_lineage(projector, campaign, cid), cid
        deep = max(deep, len(found["ancestors"]), len(found["descendants"]))
    assert deep >= 3, "the demo has families of several generations"
