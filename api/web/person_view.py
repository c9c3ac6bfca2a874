"""What a contributor's page shows: timeline (``api.web.timeline_view``), works with lineage
graphs, earnings.

Built from the caught-up read models (``projections.queries.attribution`` and
``lineage``, ``projections.explain.explain`` on the live campaign state) and the
log store (the member's own signed events, and the times of the brand's acts on
their work). Raises ``UnknownMemberError`` for a member with no part in the campaign.

Works are paged (``WORKS_PAGE`` a page, the ones they signed first, then the ones they
co-authored, each in log order), and only the works on the page get a lineage, read
through an in-process LRU keyed by (campaign, contribution, log position): a lineage
only changes when the log moves, and a top earner's page no longer reads hundreds.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from threading import Lock
from typing import Any

import orjson

from api.http.errors import ApiError
from api.web.campaign_view import Labels
from api.web.paging import Page, link, paginate
from api.web.svg import (
    GraphEdge,
    GraphLayout,
    GraphNode,
    lineage_layout,
    percent,
    share_label,
)
from api.web.timeline_view import Entry, contribution_title, timeline
from domain.profiles import ERASED_LABEL
from ledger.store import LogStore
from projections.campaign import CampaignState
from projections.exact import from_text
from projections.explain import Explanation, Item, explain
from projections.projector import Projector
from projections.queries import attribution, lineage

TIMELINE_PAGE = 50
LINEAGE_ROWS = 50  # ancestors, and descendants, listed under a work (the rest: its JSON)
WORKS_PAGE = 10
ITEMS_PAGE = 50  # items of the earnings breakdown (the top earner of 80k events has 21k)
LINEAGES_CACHED = 4096
EXPLANATIONS_CACHED = 64  # a top earner's holds ~21k items; paging through them reuses it
_explained: OrderedDict[tuple[Projector, str, str, int], Explanation] = OrderedDict()
_explained_lock = Lock()
# An actor id, or a contribution id (an actor id and a seq), inside an explanation's sentence.
_MENTION = re.compile(r"(?<![A-Za-z0-9_-])([A-Za-z0-9_-]{43})(?::(\d+))?(?![A-Za-z0-9_-])")


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
    ancestors: list[dict[str, Any]]  # the first LINEAGE_ROWS
    descendants: list[dict[str, Any]]
    ancestors_total: int = 0
    descendants_total: int = 0
    # Co-author consent: (id, name) of the co-authors who have not accepted yet, and of the
    # one who declined (None: nobody did). Either way the work earns nothing.
    awaiting: tuple[tuple[str, str], ...] = ()
    declined_by: tuple[str, str] | None = None
    # Its latest appeal (issue 19): the sentence saying where it stands, or None (no appeal).
    appeal: str | None = None
    comments: int = 0  # comments in its thread (hidden ones included)
    appeal_open: bool = False  # its latest appeal awaits the brand's decision


def appeal_status(state: CampaignState, cid: str) -> str | None:
    """Where the latest appeal of ``cid`` stands, as a sentence; None when it has none."""
    found = state.contributions[cid].appeal
    if found is None:
        return None
    appeal = state.appeals[found]
    if appeal.outcome is None:
        return (
            f"Appealed (log position {appeal.position}) against its {appeal.against} decision: "
            f"awaiting the brand's decision."
        )
    return (
        f"Appealed (log position {appeal.position}) against its {appeal.against} decision: "
        f"{appeal.outcome} by the brand (log position {appeal.decided_at})."
    )


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
    items: Page[Item]  # the breakdown's items (of ``items_work`` only, when set), paged
    items_work: ItemGroup | None
    timeline: list[Entry]
    timeline_page: int
    timeline_pages: int
    works: list[Work]
    works_page: Page[str]
    own: frozenset[str]
    labels: dict[str, str]

    def named(self, sentence: str) -> str:
        """``sentence`` with each id in it told as people read it: a work by its title, a
        member by their name (the ids stay in the JSON explanation)."""

        def told(found: re.Match[str]) -> str:
            actor, seq = found.group(1), found.group(2)
            if seq is not None:
                work = self.campaign.contributions.get(f"{actor}:{seq}")
                return f"“{work.title}”" if work else found.group(0)
            return self.labels.get(actor, found.group(0))

        return _MENTION.sub(told, sentence)


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


def _with(url: str, fragment: str = "", **params: object) -> str:
    """``url`` (which may carry ``?campaign=``) with ``params`` added."""
    path, _, query = url.partition("?")
    kept = dict(p.split("=", 1) for p in query.split("&") if "=" in p)
    return link(path, fragment, **kept, **params)


def _groups(explanation: Explanation, state: CampaignState) -> list[ItemGroup]:
    grouped: dict[str, list[Item]] = {}
    for item in explanation.items:
        grouped.setdefault(item.credited, []).append(item)
    return sorted(
        (
            ItemGroup(
                cid,
                contribution_title(state, cid),
                items,
                sum(i.cents for i in items),
                sum((i.credit for i in items), Fraction(0)),
            )
            for cid, items in grouped.items()
        ),
        key=lambda g: (-g.cents, -g.credit, g.contribution),
    )


def _explanation(
    projector: Projector, state: CampaignState, member: str, as_of: int
) -> Explanation:
    """``explain(state, member, as_of)``, kept for the last ``EXPLANATIONS_CACHED`` (ledger,
    campaign, member, position): the log below a position never changes, so neither does the
    answer. The projector stands for the ledger, as in ``_cached_lineage``."""
    key = (projector, state.id, member, as_of)
    with _explained_lock:
        if (found := _explained.get(key)) is not None:
            _explained.move_to_end(key)
            return found
    made = explain(state, member, as_of)
    with _explained_lock:
        _explained[key] = made
        while len(_explained) > EXPLANATIONS_CACHED:
            _explained.popitem(last=False)
    return made


@lru_cache(maxsize=LINEAGES_CACHED)
def _cached_lineage(
    projector: Projector, campaign: str, contribution: str, position: int
) -> dict[str, Any]:
    # ``position`` is part of the key only: the projector is caught up to it.
    return lineage(projector, campaign, contribution)


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
    works_page: int = 1,
    items_page: int = 1,
    items_work: str | None = None,
    link: Callable[[str], str],
) -> PersonPage:
    """A member's timeline, works with lineage graphs, and earnings in one campaign; the
    earnings' items a page at a time (``items_page``), all or one work's (``items_work``).

    Raises ``UnknownMemberError`` when the member has no part in the campaign, and
    ``InvalidPageQuery`` for a ``works_page`` or ``items_page`` past their last or an
    ``items_work`` none of whose items credit the member.
    """
    record = attribution(projector, state.id, member)
    explanation = _explanation(projector, state, member, as_of)
    groups = _groups(explanation, state)
    chosen = next((g for g in groups if g.contribution == items_work), None)
    if items_work is not None and chosen is None:
        raise ApiError(
            "InvalidPageQuery",
            f"work must be one of the works whose items credit {member} in campaign "
            f"{state.id}, got {items_work[:60]!r}",
            work=items_work[:60],
        )
    where = link(member).partition("#")[0]
    items_at = paginate(
        chosen.items if chosen else [i for g in groups for i in g.items],
        items_page,
        lambda n: _with(where, items=n, work=items_work, fragment="items"),
        size=ITEMS_PAGE,
        name="items",
    )
    works = state.contributions
    ordered = sorted(
        record["contributions"],
        key=lambda c: (works[c["contribution"]].signer != member, c["position"]),
    )
    works_at = paginate(
        [c["contribution"] for c in ordered],
        works_page,
        lambda n: _with(where, works=n, fragment="works"),
        size=WORKS_PAGE,
        name="works",
    )
    shown = set(works_at.items)
    lineages = {
        cid: _cached_lineage(projector, state.id, cid, projector.position()) for cid in shown
    }
    records = store.read_actor(member)
    people = {member, state.brand}
    for event in records:  # the authors of every work the member voted on
        if event.type in ("VoteCast", "VoteWithdrawn"):
            target = works.get(orjson.loads(event.data)["body"]["contribution"])
            people |= target.author_ids if target else set()
    for found in lineages.values():
        for entry in [*found["ancestors"][:LINEAGE_ROWS], *found["descendants"][:LINEAGE_ROWS]]:
            if entry["contribution"] in works:
                people |= works[entry["contribution"]].author_ids
    for cid in state.members[member].authored:
        people |= works[cid].author_ids
    people |= {item.actor for item in items_at.items}
    said = [x["reason"] for x in explanation.ignored] + list(explanation.discounts)
    people |= {m.group(1) for text in said for m in _MENTION.finditer(text) if not m.group(2)}
    people |= {works[cid].signer for cid in state.members[member].authored}
    names = labels(sorted(people))
    entries = timeline(member, state, store, names, records)
    pages = max(1, -(-len(entries) // TIMELINE_PAGE))
    page = min(max(1, page), pages)
    threads: dict[str, int] = {}
    for comment in state.comments.values():
        if comment.contribution in shown:
            threads[comment.contribution] = threads.get(comment.contribution, 0) + 1
    own = []
    for c in ordered:
        cid = c["contribution"]
        if cid not in shown:
            continue
        found = lineages[cid]
        live = works[cid]
        refused = live.declined_by
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
                _relatives(state, found["ancestors"][:LINEAGE_ROWS], names, link),
                _relatives(state, found["descendants"][:LINEAGE_ROWS], names, link),
                len(found["ancestors"]),
                len(found["descendants"]),
                tuple((m, names.get(m, m)) for m in live.awaiting),
                None if refused is None else (refused, names.get(refused, refused)),
                appeal_status(state, cid),
                threads.get(cid, 0),
                live.appeal is not None and state.appeals[live.appeal].outcome is None,
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
        groups=groups,
        items_cents=sum(item.cents for item in explanation.items),
        items=items_at,
        items_work=chosen,
        timeline=entries[(page - 1) * TIMELINE_PAGE : page * TIMELINE_PAGE],
        timeline_page=page,
        timeline_pages=pages,
        works=own,
        works_page=works_at,
        own=frozenset(w.id for w in own),
        labels=names,
    )
