"""The long lists of a campaign, a page at a time: ``/c/{campaign}/{list}?page=&q=``.

The campaign page shows the top rows of each growing list (``campaign_view.TOP``); these
pages show all of them, ``paging.PAGE_SIZE`` a page, in a stable order, with a search over
what a row says (titles, names, ids). Without a search only the members a page names are
looked up; a search looks up every member the list names, since it matches their names.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from api.http.errors import ApiError
from api.web.campaign_view import Labels, money, share
from api.web.paging import Page, link, paginate
from projections.campaign import CampaignState
from projections.facts import Appeal
from projections.projector import Projector
from projections.queries import leaderboard
from projections.reports import QueuedPiece, moderation_queue

LISTS = {
    "payees": "Payees",
    "decisions": "Moderation decisions",
    "queue": "Not reviewed yet",
    "reports": "Reported pieces and comments",
    "appeals": "Appeals",
    "members": "Members",
    "works": "Contributions",
    "reuses": "Recorded reuses",
}


@dataclass(frozen=True)
class Cell:
    text: str
    href: str | None = None
    cls: str = ""


@dataclass(frozen=True)
class ListPage:
    campaign: CampaignState
    name: str
    title: str
    columns: list[tuple[str, str]]  # (heading, CSS class)
    page: Page[list[Cell]]
    query: str


@dataclass(frozen=True)
class _Spec:
    columns: list[tuple[str, str]]
    items: Callable[[CampaignState, Projector], list[Any]]
    people: Callable[[CampaignState, Any], Iterable[str]]
    cells: Callable[[CampaignState, Any, dict[str, str], Callable[[str], str]], list[Cell]]
    words: Callable[[CampaignState, Any], Iterable[str]]  # what a search matches, besides names


def _authors(state: CampaignState, cid: str) -> list[str]:
    return [a for a, _ in state.contributions[cid].authors]


def _by(state: CampaignState, cid: str, names: dict[str, str], to: Callable[[str], str]) -> Cell:
    authors = _authors(state, cid)
    first = authors[0]
    extra = f" +{len(authors) - 1}" if len(authors) > 1 else ""
    return Cell(names.get(first, first) + extra, to(first))


def _work(state: CampaignState, cid: str, to: Callable[[str], str]) -> Cell:
    work = state.contributions[cid]
    return Cell(work.title, to(work.signer) + "#c-" + cid)


def _about(
    state: CampaignState,
    cid: str,
    names: dict[str, str],
    to: Callable[[str], str],
    lead: Cell,
    *rest: str,
) -> list[Cell]:
    """A row about one piece: ``lead``, the piece, its authors, then the ``rest`` as text."""
    return [lead, _work(state, cid, to), _by(state, cid, names, to), *(Cell(t) for t in rest)]


def _num(value: object) -> Cell:
    return Cell(f"{value:,}" if isinstance(value, int) else str(value), cls="num")


def _payees(state: CampaignState, projector: Projector) -> list[Any]:
    return [s for s in leaderboard(projector, state.id)[1] if s.amount > 0]


def _reported(state: CampaignState, projector: Projector) -> list[QueuedPiece]:
    """Every reported piece and comment, most reported first then oldest
    (``projections.reports``)."""
    every = max(1, len(state.contributions))
    return moderation_queue(projector, state.id, limit=every).pieces


def open_first(state: CampaignState) -> list[Appeal]:
    """The campaign's appeals, those awaiting the brand first, then oldest first."""
    return sorted(state.appeals.values(), key=lambda a: (a.outcome is not None, a.position))


def _reported_row(
    state: CampaignState, q: QueuedPiece, names: dict[str, str], to: Callable[[str], str]
) -> list[Cell]:
    """A reported piece's row, or a reported comment's: the comment, on its piece, by its
    author, linked to the comment in the piece's thread."""
    if q.comment is None:
        return _about(state, q.contribution, names, to, _num(q.reports), reasons_text(q), q.status)
    thread = f"/c/{state.id}/comments/{q.contribution}#m-{q.comment}"
    on = Cell(f"A comment on {q.title}", thread)
    by = Cell(names.get(q.signer, q.signer), to(q.signer))
    return [_num(q.reports), on, by, Cell(reasons_text(q)), Cell(q.status)]


def reasons_text(piece: QueuedPiece) -> str:
    """``spam 2, other 1``: the reasons given, in the contract's order."""
    return ", ".join(f"{reason} {n}" for reason, n in piece.reasons.items() if n)


SPECS: dict[str, _Spec] = {
    "payees": _Spec(
        [("#", "num"), ("Member", ""), ("Share", "num"), ("Payout", "num")],
        _payees,
        lambda state, s: [s.member],
        lambda state, s, names, to: [
            _num(s.rank),
            Cell(names.get(s.member, s.member), to(s.member)),
            Cell(share(s.share), cls="num"),
            Cell(money(s.amount, state.currency), cls="num"),
        ],
        lambda state, s: [s.member],
    ),
    "decisions": _Spec(
        [("Position", "num"), ("Contribution", ""), ("By", ""), ("Outcome", ""), ("Reason", "")],
        lambda state, _: list(reversed(state.moderation)),
        lambda state, m: _authors(state, m.contribution),
        lambda state, m, names, to: _about(
            state, m.contribution, names, to, _num(m.position), m.outcome, m.reason
        ),
        lambda state, m: [state.contributions[m.contribution].title, m.outcome, m.reason],
    ),
    "queue": _Spec(
        [("Position", "num"), ("Contribution", ""), ("Kind", ""), ("By", "")],
        lambda state, _: sorted(
            (w for w in state.contributions.values() if w.status == "open"),
            key=lambda w: w.position,
        ),
        lambda state, w: _authors(state, w.id),
        lambda state, w, names, to: [
            _num(w.position),
            _work(state, w.id, to),
            Cell(w.kind),
            _by(state, w.id, names, to),
        ],
        lambda state, w: [w.title, w.kind, w.id],
    ),
    "reports": _Spec(
        [("Reports", "num"), ("Contribution", ""), ("By", ""), ("Reasons", ""), ("Status", "")],
        _reported,
        lambda state, q: _authors(state, q.contribution) if q.comment is None else [q.signer],
        lambda state, q, names, to: _reported_row(state, q, names, to),
        lambda state, q: [q.title, q.status, reasons_text(q), q.contribution, q.comment or ""],
    ),
    "appeals": _Spec(
        [("Position", "num"), ("Contribution", ""), ("By", ""), ("Against", ""), ("Status", "")],
        lambda state, _: open_first(state),
        lambda state, a: _authors(state, a.contribution),
        lambda state, a, names, to: _about(
            state, a.contribution, names, to, _num(a.position), a.against, a.status
        ),
        lambda state, a: [state.contributions[a.contribution].title, a.status, a.reason],
    ),
    "members": _Spec(
        [("Member", ""), ("Works", "num"), ("Standing", "")],
        lambda state, _: sorted(state.members.values(), key=lambda m: m.id),
        lambda state, m: [m.id],
        lambda state, m, names, to: [
            Cell(names.get(m.id, m.id), to(m.id)),
            _num(len(m.authored)),
            Cell("blocked" if m.blocked_at is not None else "member"),
        ],
        lambda state, m: [m.id],
    ),
    "works": _Spec(
        [("Position", "num"), ("Contribution", ""), ("Kind", ""), ("Status", ""), ("By", "")],
        lambda state, _: sorted(state.contributions.values(), key=lambda w: w.position),
        lambda state, w: _authors(state, w.id),
        lambda state, w, names, to: [
            _num(w.position),
            _work(state, w.id, to),
            Cell(w.kind),
            Cell(w.status),
            _by(state, w.id, names, to),
        ],
        lambda state, w: [w.title, w.kind, w.status, w.id],
    ),
    "reuses": _Spec(
        [("Position", "num"), ("Contribution", ""), ("Channel", ""), ("Territory", ""), ("By", "")],
        lambda state, _: list(reversed(state.reuses)),
        lambda state, r: _authors(state, r.contribution),
        lambda state, r, names, to: [
            _num(r.position),
            _work(state, r.contribution, to),
            Cell(r.channel),
            Cell(r.territory),
            _by(state, r.contribution, names, to),
        ],
        lambda state, r: [state.contributions[r.contribution].title, r.channel, r.territory],
    ),
}


def list_page(
    projector: Projector,
    state: CampaignState,
    labels: Labels,
    name: str,
    *,
    number: int,
    query: str,
    to: Callable[[str], str],
) -> ListPage:
    """Page ``number`` of the campaign's list ``name``, the rows matching ``query`` if set.

    Raises ``InvalidPageQuery`` for a list that does not exist or a page past the last.
    """
    spec = SPECS.get(name)
    if spec is None:
        raise ApiError(
            "InvalidPageQuery",
            f"campaign {state.id} has no list {name[:40]!r}: use one of {', '.join(LISTS)}",
            campaign=state.id,
        )
    items = spec.items(state, projector)
    if query:
        names = labels(sorted({p for item in items for p in spec.people(state, item)}))
        items = [
            item
            for item in items
            if any(
                query in word.casefold()
                for word in [
                    *spec.words(state, item),
                    *(names.get(p, p) for p in spec.people(state, item)),
                ]
            )
        ]
    path = f"/c/{state.id}/{name}"
    page = paginate(items, number, lambda n: link(path, page=n, q=query), query=query)
    if not query:
        names = labels(sorted({p for item in page.items for p in spec.people(state, item)}))
    rows = [spec.cells(state, item, names, to) for item in page.items]
    shown = Page(
        rows, page.number, page.pages, page.total, page.first, page.last, page.links, query
    )
    return ListPage(state, name, LISTS[name], spec.columns, shown, query)
