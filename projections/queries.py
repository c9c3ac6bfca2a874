"""Questions answered from the read-model tables alone (no replay): for the CLI and HTTP.

- ``leaderboard``: every payee's credit share and projected payout, best first;
- ``attribution``: one contributor's record in a campaign (counters, contributions,
  licences, reuses of their work, moderation outcomes, credit);
- ``lineage``: a contribution's ancestors and descendants with the declared
  shares and the cumulative share along the chain.

They read what the projector last wrote; call ``Projector.catch_up`` first for
the log's head. Fractions come back as canonical ``"p/q"`` text.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import orjson
from sqlalchemy import select

from domain.vocabulary import EXCLUDING_OUTCOMES
from projections.errors import (
    UnknownCampaignError,
    UnknownContributionError,
    UnknownMemberError,
    UnsupportedPolicyError,
)
from projections.exact import fraction_text, from_text
from projections.payouts import split_pool
from projections.policy import parse_versioned, policy_name
from projections.projector import Projector
from projections.tables import Tables

Edges = dict[str, list[tuple[str, Fraction]]]


@dataclass(frozen=True, slots=True)
class Standing:
    """One payee on the leaderboard."""

    rank: int
    member: str
    credit: Fraction
    share: Fraction
    amount: int
    capped: bool
    below_minimum: bool


def _campaign(projector: Projector, campaign: str) -> dict[str, Any]:
    table = projector.tables.campaigns
    with projector.engine.connect() as conn:
        row = conn.execute(select(table).where(table.c.campaign == campaign)).mappings().first()
    if row is None:
        raise UnknownCampaignError(
            f"no campaign {campaign!r} in the read models (as of position {projector.position()})",
            campaign=campaign,
        )
    return dict(row)


def leaderboard(projector: Projector, campaign: str) -> tuple[dict[str, Any], list[Standing]]:
    """(the campaign row, payees ranked by amount then credit then member id).

    Raises ``UnknownCampaignError`` and ``UnsupportedPolicyError``.
    """
    row = _campaign(projector, campaign)
    policy_body = orjson.loads(row["policy"])
    if not row["policy_supported"]:
        raise UnsupportedPolicyError(
            f"campaign {campaign}: policy {policy_name(policy_body)} is not implemented",
            campaign=campaign,
        )
    policy = parse_versioned(policy_body)
    members = projector.tables.members
    with projector.engine.connect() as conn:
        rows = conn.execute(
            select(members.c.member, members.c.credit).where(
                members.c.campaign == campaign, members.c.blocked_at.is_(None)
            )
        ).all()
    credits = {member: from_text(credit) for member, credit in rows}
    lines = split_pool(
        credits,
        row["pool"] + row["funded"],
        cap=policy.per_person_cap,
        min_payout=policy.min_payout,
    )
    ranked = sorted(lines, key=lambda x: (-x.amount, -x.credit, x.member))
    return row, [
        Standing(i + 1, x.member, x.credit, x.share, x.amount, x.capped, x.below_minimum)
        for i, x in enumerate(ranked)
    ]


def _rows(projector: Projector, table_name: str, **where: Any) -> list[dict[str, Any]]:
    table = getattr(projector.tables, table_name)
    query = select(table).where(*(table.c[k] == v for k, v in where.items()))
    keys = list(table.primary_key.columns)
    with projector.engine.connect() as conn:
        return [dict(r) for r in conn.execute(query.order_by(*keys)).mappings()]


def attribution(projector: Projector, campaign: str, member: str) -> dict[str, Any]:
    """One contributor's record in a campaign; ``UnknownMemberError`` if never in it.

    ``record`` is the member's row (counters, credit); ``contributions`` each come
    with the member's percent, co-authors, reuses and moderation; ``licences`` are
    the member's grants.
    """
    _campaign(projector, campaign)
    found = _rows(projector, "members", campaign=campaign, member=member)
    if not found:
        raise UnknownMemberError(
            f"member {member} has no part in campaign {campaign}", member=member
        )
    authored = _rows(projector, "authors", campaign=campaign, member=member)
    contributions = []
    for entry in authored:
        cid = entry["contribution"]
        row = _rows(projector, "contributions", campaign=campaign, contribution=cid)[0]
        row["percent"] = entry["percent"]
        row["coauthors"] = [
            {"member": a["member"], "percent": a["percent"]}
            for a in _rows(projector, "authors", campaign=campaign, contribution=cid)
            if a["member"] != member
        ]
        row["reused"] = _rows(projector, "reuses", campaign=campaign, contribution=cid)
        row["moderation"] = _rows(projector, "moderation", campaign=campaign, contribution=cid)
        contributions.append(row)
    contributions.sort(key=lambda row: row["position"])
    return {
        "campaign": campaign,
        "member": member,
        "as_of": projector.position(),
        "record": found[0],
        "contributions": contributions,
        "licences": _rows(projector, "licences", campaign=campaign, author=member),
    }


_CHUNK = 500  # ids per ``IN (...)``: below SQLite's bound on a statement's parameters


def _edges_where(
    projector: Projector, campaign: str, column: str, ids: set[str]
) -> list[dict[str, Any]]:
    """The campaign's lineage rows whose ``column`` (``child`` or ``parent``) is in ``ids``,
    read by the index on that column, in primary-key order."""
    table = projector.tables.lineage
    keys = list(table.primary_key.columns)
    found: list[dict[str, Any]] = []
    ordered = sorted(ids)
    with projector.engine.connect() as conn:
        for at in range(0, len(ordered), _CHUNK):
            query = select(table).where(
                table.c.campaign == campaign, table.c[column].in_(ordered[at : at + _CHUNK])
            )
            found += [dict(r) for r in conn.execute(query.order_by(*keys)).mappings()]
    return sorted(found, key=lambda r: (r["child"], r["entry"]))


def _cone_edges(
    projector: Projector, campaign: str, contribution: str, column: str
) -> tuple[set[str], list[dict[str, Any]]]:
    """Walk the lineage from ``contribution`` one generation a query: towards ancestors
    (``column`` ``child``: the rows naming the frontier as the child) or descendants
    (``parent``). Returns the contributions reached (``contribution`` excluded) and every
    row read."""
    other = "parent" if column == "child" else "child"
    reached = {contribution}
    frontier = {contribution}
    rows: list[dict[str, Any]] = []
    while frontier:
        step = _edges_where(projector, campaign, column, frontier)
        rows += step
        frontier = {row[other] for row in step} - reached
        reached |= frontier
    return reached - {contribution}, rows


def lineage(projector: Projector, campaign: str, contribution: str) -> dict[str, Any]:
    """Ancestors and descendants of a contribution, each with its path share.

    ``path`` is the fraction of credit that flows from the descendant to the
    ancestor along every chain between them (the product of the declared shares,
    summed over chains, computed in log order so diamonds cost nothing extra);
    removed or rejected contributions are listed but pass nothing.
    Reads only the rows of the contribution's own ancestors and descendants (a query per
    generation, by the lineage table's indexes), so its cost follows the size of that
    family, not of the campaign.
    Raises ``UnknownCampaignError`` or ``UnknownContributionError``.
    """
    _campaign(projector, campaign)
    ancestors, upward = _cone_edges(projector, campaign, contribution, "child")
    descendants, downward = _cone_edges(projector, campaign, contribution, "parent")
    # A descendant's links name all its sources, those outside the family too.
    beside = _edges_where(projector, campaign, "child", descendants)
    family = {contribution} | ancestors | descendants
    table = projector.tables.contributions
    info: dict[str, tuple[int, str]] = {}
    ordered = sorted(family)
    with projector.engine.connect() as conn:
        for at in range(0, len(ordered), _CHUNK):
            query = select(table.c.contribution, table.c.position, table.c.status).where(
                table.c.campaign == campaign,
                table.c.contribution.in_(ordered[at : at + _CHUNK]),
            )
            info |= {cid: (position, status) for cid, position, status in conn.execute(query)}
    if contribution not in info:
        raise UnknownContributionError(
            f"no contribution {contribution} in campaign {campaign}", contribution=contribution
        )
    up: Edges = {}
    down: Edges = {}
    for edge in {(r["child"], r["entry"]): r for r in upward + downward}.values():
        share = from_text(edge["share"])
        up.setdefault(edge["child"], []).append((edge["parent"], share))
        down.setdefault(edge["parent"], []).append((edge["child"], share))
    links: dict[str, list[dict[str, Any]]] = {}
    for edge in sorted(
        {(r["child"], r["entry"]): r for r in upward + beside}.values(),
        key=lambda r: (r["child"], r["entry"]),
    ):
        links.setdefault(edge["child"], []).append(
            {"parent": edge["parent"], "declared": edge["declared"], "share": edge["share"]}
        )

    def passes(cid: str) -> bool:
        return info[cid][1] not in EXCLUDING_OUTCOMES

    def cone(found: set[str], newest_first: bool) -> dict[str, Fraction]:
        paths = {contribution: Fraction(1)}
        order = sorted(found, key=lambda c: info[c][0], reverse=newest_first)
        back = down if newest_first else up  # the edges that lead back towards ``contribution``
        for cid in order:
            paths[cid] = sum(
                (
                    share * paths[other]
                    for other, share in back.get(cid, [])
                    if other in paths and passes(other) and passes(cid)
                ),
                Fraction(0),
            )
        del paths[contribution]
        return paths

    def listing(paths: dict[str, Fraction]) -> list[dict[str, Any]]:
        return [
            {
                "contribution": cid,
                "position": info[cid][0],
                "status": info[cid][1],
                "path": fraction_text(path),
                "derived_from": links.get(cid, []),
            }
            for cid, path in sorted(paths.items(), key=lambda item: info[item[0]][0])
        ]

    return {
        "campaign": campaign,
        "contribution": contribution,
        "status": info[contribution][1],
        "derived_from": links.get(contribution, []),
        "ancestors": listing(cone(ancestors, newest_first=True)),
        "descendants": listing(cone(descendants, newest_first=False)),
    }


__all__ = ["Standing", "Tables", "attribution", "leaderboard", "lineage"]
