"""What a contributor's page shows: timeline, works with lineage graphs, earnings.

Built from the caught-up read models (``projections.queries.attribution`` and
``lineage``, ``projections.explain.explain`` on the live campaign state) and the
log store (the member's own signed events, and the times of the brand's acts on
their work). Raises ``UnknownMemberError`` for a member with no part in the campaign.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import orjson

from api.web.campaign_view import Labels, event_times
from api.web.svg import (
    GraphEdge,
    GraphLayout,
    GraphNode,
    clip,
    lineage_layout,
    percent,
    share_label,
)
from domain.profiles import ERASED_LABEL
from ledger.store import LogStore, StoredRecord
from projections.campaign import CampaignState
from projections.exact import from_text
from projections.explain import Explanation, Item, explain
from projections.projector import Projector
from projections.queries import attribution, lineage

TIMELINE_PAGE = 200


@dataclass(frozen=True)
class Entry:
    """One line of a contributor's timeline."""

    position: int
    ts: str
    kind: str  # a CSS class: submitted, remixed, vote, licence, reuse, moderation, member
    what: str
    work: dict[str, Any] | None = None
    note: str = ""


@dataclass(frozen=True)
class Work:
    """One of the member's contributions with its lineage graph."""

    id: str
    title: str
    kind: str
    status: str
    position: int
    percent: int
    coauthors: list[tuple[str, str, int]]
    votes: dict[str, int]
    reuses: int
    credit: Fraction
    graph: GraphLayout | None
    ancestors: list[dict[str, Any]]
    descendants: list[dict[str, Any]]


@dataclass(frozen=True)
class ItemGroup:
    """The explanation's items that credit one of the member's contributions."""

    contribution: str
    title: str
    items: list[Item]
    cents: int
    credit: Fraction


@dataclass(frozen=True)
class PersonPage:
    member: str
    label: str
    erased: bool
    campaign: CampaignState
    campaigns: list[tuple[str, str]]
    record: dict[str, Any]
    explanation: Explanation
    groups: list[ItemGroup]
    items_cents: int
    timeline: list[Entry]
    timeline_page: int
    timeline_pages: int
    works: list[Work]
    own: frozenset[str]
    labels: dict[str, str]


def _own_acts(
    state: CampaignState, records: Iterable[StoredRecord], names: dict[str, str]
) -> list[Entry]:
    """The member's own signed acts in the campaign: join, submit, remix, vote, licence."""
    works = state.contributions
    entries: list[Entry] = []
    for record in records:
        env = orjson.loads(record.data)
        if env.get("campaign") != state.id:
            continue
        body, ts, pos = env["body"], env["ts"], record.position
        if record.type == "MemberJoined":
            entries.append(
                Entry(pos, ts, "member", "joined the campaign, accepting its guidelines")
            )
        elif record.type == "ContributionSubmitted":
            cid = f"{record.actor}:{record.seq}"
            found = works.get(cid)
            parents = found.parents if found else ()
            notes = [
                f"from “{clip(_title(state, p.contribution), 40)}” "
                f"({share_label(p.declared, p.share)})"
                for p in parents
            ]
            if found and len(found.authors) > 1:
                notes.append(
                    "co-authors: "
                    + ", ".join(f"{names.get(a, a)} {share}%" for a, share in found.authors)
                )
            what = "remixed earlier work into" if parents else f"submitted a new {body['kind']}"
            kind = "remixed" if parents else "submitted"
            entries.append(Entry(pos, ts, kind, what, _ref(state, cid), "; ".join(notes)))
        elif record.type in ("VoteCast", "VoteWithdrawn"):
            verb = "voted" if record.type == "VoteCast" else "withdrew a vote"
            cid = body["contribution"]
            found = works.get(cid)
            authors = ", ".join(names.get(a, a) for a, _ in found.authors) if found else ""
            entries.append(
                Entry(
                    pos,
                    ts,
                    "vote",
                    f"{verb} ({body['kind']}) on",
                    _ref(state, cid),
                    f"by {authors}",
                )
            )
        elif record.type in ("LicenceGranted", "LicenceRevoked"):
            cid, _, name = body["licence"].rpartition("/")
            if record.type == "LicenceRevoked":
                entries.append(
                    Entry(pos, ts, "licence", f"revoked licence “{name}” on", _ref(state, cid))
                )
                continue
            territory = body["territory"]
            where = territory if isinstance(territory, str) else ", ".join(territory)
            licensee = (
                "the brand"
                if body["licensee"] == state.brand
                else names.get(body["licensee"], body["licensee"])
            )
            note = f"{', '.join(body['channels'])} · {where} · to {licensee}"
            entries.append(
                Entry(pos, ts, "licence", f"granted licence “{name}” on", _ref(state, cid), note)
            )
    return entries


def _title(state: CampaignState, cid: str) -> str:
    found = state.contributions.get(cid)
    return found.title if found else cid


def _ref(state: CampaignState, cid: str) -> dict[str, Any] | None:
    found = state.contributions.get(cid)
    if found is None:
        return None
    return {"id": cid, "title": found.title, "kind": found.kind, "author": found.signer}


def _outcomes(member: str, state: CampaignState, names: dict[str, str]) -> list[Entry]:
    """What others did to the member or their work: invitation, block, co-authorship,
    moderation, reuse (times filled in later from the log)."""
    works = state.contributions
    mine = [cid for cid in state.members[member].authored if cid in works]
    entries = []
    for cid in mine:
        found = works[cid]
        if found.signer != member:
            by = names.get(found.signer, found.signer)
            what = f"named co-author ({found.percent_of(member)}%) of"
            entries.append(
                Entry(found.position, "", "submitted", what, _ref(state, cid), f"submitted by {by}")
            )
    authored = set(mine)
    for m in state.moderation:
        if m.contribution in authored:
            entries.append(
                Entry(
                    m.position,
                    "",
                    "moderation",
                    f"the brand {m.outcome}",
                    _ref(state, m.contribution),
                    f"reason: {m.reason}",
                )
            )
    for r in state.reuses:
        if r.contribution in authored:
            note = f"{r.channel} · {r.territory}" + ("" if r.distinct else " · repeat, not counted")
            entries.append(
                Entry(
                    r.position, "", "reuse", "the brand reused", _ref(state, r.contribution), note
                )
            )
    standing = state.members[member]
    if standing.invited_at is not None:
        entries.append(Entry(standing.invited_at, "", "member", "invited by the brand"))
    if standing.blocked_at is not None:
        what = f"blocked by the brand (reason: {standing.block_reason})"
        entries.append(Entry(standing.blocked_at, "", "moderation", what))
    return entries


def timeline(
    member: str,
    state: CampaignState,
    store: LogStore,
    names: dict[str, str],
    records: Iterable[StoredRecord],
) -> list[Entry]:
    """Every act of and on the member in the campaign, in log order, with its time.

    ``records`` are the member's own events; the brand's acts on the member and
    their work come from the state, their times from ``store``.
    """
    entries = _own_acts(state, records, names)
    others = _outcomes(member, state, names)
    times = event_times(store, [e.position for e in others])
    entries += [
        Entry(e.position, times.get(e.position, ""), e.kind, e.what, e.work, e.note) for e in others
    ]
    return sorted(entries, key=lambda e: e.position)


def _graph(
    state: CampaignState,
    cid: str,
    found: dict[str, Any],
    names: dict[str, str],
    link: Callable[[str], str],
) -> GraphLayout | None:
    """The lineage as a layered graph (None when the work has no ancestor or descendant)."""
    if not found["ancestors"] and not found["descendants"]:
        return None

    def node(entry: dict[str, Any]) -> GraphNode:
        work = state.contributions[entry["contribution"]]
        first = work.authors[0][0] if work.signer not in work.author_ids else work.signer
        byline = names.get(first, first) + (
            f" +{len(work.authors) - 1}" if len(work.authors) > 1 else ""
        )
        path = entry.get("path")
        tip = f"{work.title} · {work.kind} · {work.status} · position {work.position}"
        if path is not None:
            tip += f" · passes {percent(from_text(path))} of its credit along the chain"
        return GraphNode(
            work.id,
            work.position,
            work.title,
            byline,
            work.status,
            None if work.id == cid else link(first) + "#c-" + work.id,
            tip,
        )

    focus = node({"contribution": cid})
    ancestors = [node(a) for a in found["ancestors"]]
    descendants = [node(d) for d in found["descendants"]]
    edges = [
        GraphEdge(
            link_["parent"],
            entry["contribution"],
            share_label(link_["declared"], from_text(link_["share"])),
        )
        for entry in [
            {"contribution": cid, "derived_from": found["derived_from"]},
            *found["ancestors"],
            *found["descendants"],
        ]
        for link_ in entry["derived_from"]
    ]
    return lineage_layout(focus, ancestors, descendants, edges)


def _relatives(
    state: CampaignState,
    entries: list[dict[str, Any]],
    names: dict[str, str],
    link: Callable[[str], str],
) -> list[dict[str, Any]]:
    """Ancestors or descendants as rows: title, authors, status, position, path share."""
    rows = []
    for entry in entries:
        work = state.contributions.get(entry["contribution"])
        if work is None:  # appended after this state's position: shown on the next load
            continue
        rows.append(
            {
                "id": work.id,
                "title": work.title,
                "authors": [(a, names.get(a, a)) for a, _ in work.authors],
                "href": link(work.signer) + "#c-" + work.id,
                "status": work.status,
                "position": work.position,
                "path": from_text(entry["path"]),
            }
        )
    return rows


def _groups(explanation: Explanation, state: CampaignState) -> list[ItemGroup]:
    grouped: dict[str, list[Item]] = {}
    for item in explanation.items:
        grouped.setdefault(item.credited, []).append(item)
    return sorted(
        (
            ItemGroup(
                cid,
                _title(state, cid),
                items,
                sum(i.cents for i in items),
                sum((i.credit for i in items), Fraction(0)),
            )
            for cid, items in grouped.items()
        ),
        key=lambda g: (-g.cents, -g.credit, g.contribution),
    )


def person_page(
    projector: Projector,
    state: CampaignState,
    as_of: int,
    store: LogStore,
    member: str,
    labels: Labels,
    *,
    campaigns: list[tuple[str, str]],
    page: int,
    link: Callable[[str], str],
) -> PersonPage:
    """A member's timeline, works with lineage graphs, and earnings in one campaign.

    Raises ``UnknownMemberError`` when the member has no part in the campaign.
    """
    record = attribution(projector, state.id, member)
    explanation = explain(state, member, as_of)
    lineages = {
        c["contribution"]: lineage(projector, state.id, c["contribution"])
        for c in record["contributions"]
    }
    works = state.contributions
    records = store.read_actor(member)
    people = {member, state.brand}
    for event in records:  # the authors of every work the member voted on
        if event.type in ("VoteCast", "VoteWithdrawn"):
            target = works.get(orjson.loads(event.data)["body"]["contribution"])
            people |= target.author_ids if target else set()
    for found in lineages.values():
        for entry in [*found["ancestors"], *found["descendants"]]:
            people |= works[entry["contribution"]].author_ids
    for cid in state.members[member].authored:
        people |= works[cid].author_ids
    people |= {item.actor for item in explanation.items}
    people |= {works[cid].signer for cid in state.members[member].authored}
    names = labels(sorted(people))
    entries = timeline(member, state, store, names, records)
    pages = max(1, -(-len(entries) // TIMELINE_PAGE))
    page = min(max(1, page), pages)
    own = []
    for c in record["contributions"]:
        cid = c["contribution"]
        found = lineages[cid]
        own.append(
            Work(
                cid,
                c["title"],
                c["kind"],
                c["status"],
                c["position"],
                c["percent"],
                [
                    (a["member"], names.get(a["member"], a["member"]), a["percent"])
                    for a in c["coauthors"]
                ],
                {k: c[f"votes_{k}"] for k in ("support", "comment", "save", "share")},
                c["distinct_reuses"],
                from_text(c["credit"]),
                _graph(state, cid, found, names, link),
                _relatives(state, found["ancestors"], names, link),
                _relatives(state, found["descendants"], names, link),
            )
        )
    return PersonPage(
        member=member,
        label=names[member],
        erased=names[member] == ERASED_LABEL,
        campaign=state,
        campaigns=campaigns,
        record=record["record"],
        explanation=explanation,
        groups=_groups(explanation, state),
        items_cents=sum(item.cents for item in explanation.items),
        timeline=entries[(page - 1) * TIMELINE_PAGE : page * TIMELINE_PAGE],
        timeline_page=page,
        timeline_pages=pages,
        works=own,
        own=frozenset(w.id for w in own),
        labels=names,
    )
