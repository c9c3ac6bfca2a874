"""The web pages: server-rendered HTML (Jinja2, autoescaped) for people, beside the JSON API.

- ``/``: the campaigns, and where to go next;
- ``/c/{campaign}``: a campaign for its brand and community: leaderboard and chart,
  moderation, licences and reuses, export buttons (signed in the browser by
  ``static/export.js``, the key never leaves it) and a public preview;
- ``/people/{actor}``: a contributor's timeline, works with their lineage graphs,
  every cent of their earnings explained, proof bundles to download;
- ``/c/{campaign}/comments/{contribution}``: a piece's comment thread, paged;
- ``/c/{campaign}/{list}``: one of its long lists (``api.web.lists_view``), paged, searchable;
- ``/audit``: checkpoints, anchors, the latest recorded audit, the verifier key;
- ``/verify``: a proof bundle (receipt) checked in the browser by ``static/verify.js``
  against a ledger key and witness keys the reader pastes; nothing is sent to the server.

Lists are paged with ``?page=`` (and searched with ``?q=``); a value that is not one is the
typed ``InvalidPageQuery`` error page (``api.web.paging``). Pages that depend only on the log
carry an ETag of the log position and the query, and a matching ``If-None-Match`` is a 304
built from nothing but the log's size (``api.http.caching``).

Routes parse, call one builder (``api.web.campaign_view``, ``api.web.person_view``) over
the shared read side (``reads_of``) and render. Unknown campaigns and members get
an HTML 404 page with the sentence; no page is in the OpenAPI schema.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.templating import Jinja2Templates

from api.http.caching import IMMUTABLE, SHORT, matches, not_modified, request_etag, stamp
from api.http.deps import reads_of, services_of
from api.web.campaign_view import (
    campaign_cards,
    campaign_page,
    decimal,
    exact_money,
    money,
    share,
    short_fraction,
    when,
)
from api.web.lists_view import list_page
from api.web.paging import link, page_number, paginate, search_text
from api.web.payouts_view import payout_panel
from api.web.person_view import person_page
from api.web.svg import percent
from domain.vocabulary import OBJECTION_REASONS, REPORT_REASONS
from projections.errors import UnknownCampaignError, UnknownMemberError
from projections.export import render, settlement_of

HERE = Path(__file__).parent
STATIC = HERE / "static"
CHECKPOINTS_PAGE = 20

templates = Jinja2Templates(directory=HERE / "templates")
templates.env.filters.update(
    money=money,
    exact_money=exact_money,
    fraction=short_fraction,
    decimal=decimal,
    share=share,
    percent=percent,
    when=when,
)
templates.env.globals.update(
    person_url=lambda member, campaign=None: person_url(member, campaign),
    report_reasons=REPORT_REASONS,
    objection_reasons=OBJECTION_REASONS,
)

router = APIRouter(include_in_schema=False)


def person_url(member: str, campaign: str | None = None) -> str:
    """Where a member's page is (for one campaign when given)."""
    return f"/people/{member}" + (f"?campaign={campaign}" if campaign else "")


def _page(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
    reads = reads_of(request)
    context.setdefault("log_size", reads.services.ledger.store.size())
    return templates.TemplateResponse(request, name, context, status_code=status)


def not_found(request: Request, sentence: str) -> HTMLResponse:
    """The HTML 404 page, saying what was not found."""
    return _page(request, "not_found.html", 404, sentence=sentence, title="Not found")


_TITLES = {500: "Server error", 503: "Database unavailable"}


def error_page(request: Request, status: int, code: str, sentence: str) -> HTMLResponse:
    """The HTML page of a refusal or a fault (``code`` and ``sentence`` as the API gives them).

    Standalone: it reads nothing from the database, which may be the thing that failed.
    """
    title = _TITLES.get(status, "Not found" if status == 404 else "Request refused")
    context = {"status": status, "code": code, "sentence": sentence.rstrip("."), "title": title}
    return templates.TemplateResponse(request, "error.html", context, status_code=status)


def _cached(request: Request, build: Callable[[], Response], *parts: object) -> Response:
    """``build()`` stamped with the ETag of the log's size and the request's query (and
    ``parts``), or a 304 without building when ``If-None-Match`` already names it."""
    tag = request_etag(request, reads_of(request).services.ledger.store.size(), *parts)
    if matches(request, tag):
        return not_modified(tag)
    response = build()
    return stamp(response, tag if response.status_code == 200 else None)


@router.get("/", response_class=HTMLResponse)
def show_home(request: Request) -> Response:
    """Every campaign, newest first, and the auditor page."""

    def build() -> Response:
        with reads_of(request).reading() as state:
            cards = campaign_cards(state.campaigns.values())
        return _page(request, "home.html", cards=cards, title=None)

    return _cached(request, build)


@router.get("/c/{campaign}", response_class=HTMLResponse)
def show_campaign(request: Request, campaign: str) -> Response:
    """A campaign: the top of its leaderboard and chart, moderation, licences and reuses,
    exports; each long list links to its own paged page."""

    def build() -> Response:
        reads = reads_of(request)
        try:
            with reads.reading() as state:
                found = state.campaign(campaign)
                view = campaign_page(
                    reads.projector(),
                    found,
                    reads.services.ledger.store,
                    services_of(request).campaigns.labels,
                    link=lambda member: person_url(member, campaign),
                )
        except UnknownCampaignError as exc:
            return not_found(request, exc.detail)
        campaigns = services_of(request).campaigns
        book = campaigns.payout_book(campaign)
        lines = set(book.lines or {})
        erased = campaigns.gate.read(lambda state: lines & set(state.erased))
        return _page(
            request, "campaign.html", view=view, c=found, title=found.title,
            payouts=payout_panel(book, erased=erased),
        )  # fmt: skip

    # A licence's status ("expired", "not started") moves with the day, not only the log.
    return _cached(request, build, datetime.now(UTC).date())


@router.get("/c/{campaign}/preview.{fmt}")
def show_preview(request: Request, campaign: str, fmt: str) -> Response:
    """The public payout preview: the canonical JSON that is hashed, or a CSV without handles."""
    if fmt not in ("json", "csv"):
        return not_found(request, f"no preview in format {fmt!r}: use json or csv")
    try:
        with reads_of(request).reading() as state:
            found = state.campaign(campaign)
            settlement, settled = settlement_of(found), found.settled is not None
    except UnknownCampaignError as exc:
        return not_found(request, exc.detail)
    if fmt == "json":
        body, media = settlement.export, "application/json"
    else:
        body, media = render(settlement, "csv"), "text/csv; charset=utf-8"
    name = f"{campaign}-payouts-preview.{fmt}"
    response = Response(
        body, media_type=media, headers={"Content-Disposition": f'attachment; filename="{name}"'}
    )
    # Once settled, the export is the one the log recorded: it never changes again.
    return stamp(response, None, IMMUTABLE if settled else SHORT)


def _opened(request: Request, campaign: str) -> Any:
    """The campaign as the rules know it (the acting pages need its guidelines' hash and
    membership), or the HTML 404 page when it was never opened."""
    from domain.errors import UnknownCampaignError as NeverOpened

    try:
        return services_of(request).campaigns.campaign(campaign)
    except NeverOpened as exc:
        return not_found(request, exc.detail)


@router.get("/c/{campaign}/join", response_class=HTMLResponse)
def show_join(request: Request, campaign: str) -> HTMLResponse:
    """Join a campaign from the browser (``static/join.js``): a key made and kept in the
    browser, its passphrase-sealed backup downloaded first, then ``KeyRegistered`` and
    ``MemberJoined`` signed in the page and posted as one batch. Nothing secret is sent."""
    found = _opened(request, campaign)
    if isinstance(found, HTMLResponse):
        return found
    return _page(request, "join.html", c=found, title=f"Join {found.title}")


@router.get("/c/{campaign}/submit", response_class=HTMLResponse)
def show_submit(request: Request, campaign: str) -> HTMLResponse:
    """Submit a piece from the browser (``static/act.js``, ``data-act="submit"``): the file
    is uploaded with a request signed in the page, then ``ContributionSubmitted`` signed
    there too, with the key this browser keeps."""
    from domain.vocabulary import CONTRIBUTION_KINDS

    found = _opened(request, campaign)
    if isinstance(found, HTMLResponse):
        return found
    return _page(
        request, "submit.html", c=found, kinds=CONTRIBUTION_KINDS, title=f"Submit to {found.title}"
    )


@router.get("/c/{campaign}/comments/{contribution}", response_class=HTMLResponse)
def show_thread(
    request: Request, campaign: str, contribution: str, page: str | None = None
) -> Response:
    """A piece's comment thread, a page at a time: each comment followed by its replies
    (indented), the brand's marked "brand", a hidden one as "hidden by the brand: reason"
    without its text. Raises ``InvalidPageQuery`` for a bad page."""
    from domain.comments import threaded
    from domain.errors import UnknownCampaignError as NeverOpened
    from domain.errors import UnknownContributionError

    number = page_number(page)

    def build() -> Response:
        campaigns = services_of(request).campaigns
        with reads_of(request).reading() as state:
            found = state.campaigns.get(campaign)
            work = None if found is None else found.contributions.get(contribution)
        try:
            comments = campaigns.thread(campaign, contribution)
        except (NeverOpened, UnknownContributionError) as exc:
            return not_found(request, exc.detail)
        if found is None or work is None:  # in the log, not yet in the read models
            return not_found(request, f"campaign {campaign} has no contribution {contribution}")
        path = f"/c/{campaign}/comments/{contribution}"
        shown = paginate(threaded(comments), number, lambda n: link(path, "thread", page=n))
        entries = campaigns.thread_entries(shown.items)
        names = campaigns.labels(sorted({e.comment.author for e in entries} | {work.signer}))
        return _page(
            request, "thread.html", c=found, work=work, page=shown, entries=entries,
            names=names, title=f"Comments on {work.title} · {found.title}",
        )  # fmt: skip

    return _cached(request, build)


@router.get("/c/{campaign}/{name}", response_class=HTMLResponse)
def show_list(
    request: Request, campaign: str, name: str, page: str | None = None, q: str | None = None
) -> Response:
    """One of a campaign's long lists (payees, decisions, queue, members, works, reuses),
    a page at a time, searched by ``q``. Raises ``InvalidPageQuery`` for a bad page or list."""
    number, query = page_number(page), search_text(q)

    def build() -> Response:
        reads = reads_of(request)
        try:
            with reads.reading() as state:
                found = state.campaign(campaign)
                view = list_page(
                    reads.projector(),
                    found,
                    services_of(request).campaigns.labels,
                    name,
                    number=number,
                    query=query,
                    to=lambda member: person_url(member, campaign),
                )
        except UnknownCampaignError as exc:
            return not_found(request, exc.detail)
        title = f"{view.title} · {found.title}"
        return _page(request, "list.html", view=view, c=found, title=title)

    return _cached(request, build)


@router.get("/people/{actor}", response_class=HTMLResponse)
def show_person(
    request: Request,
    actor: str,
    campaign: str | None = None,
    page: str | None = None,
    works: str | None = None,
    items: str | None = None,
    work: str | None = None,
) -> Response:
    """A contributor's works (their own first, paged by ``works``), lineage graphs, earnings
    (their items paged by ``items``, one work's with ``work``) and timeline (paged by
    ``page``) in one of their campaigns.

    Raises ``InvalidPageQuery`` for a page that is not one.
    """
    number, works_number = page_number(page), page_number(works, "works")
    items_number = page_number(items, "items")
    return _cached(
        request,
        lambda: _person(request, actor, campaign, number, works_number, items_number, work),
    )


def _person(
    request: Request,
    actor: str,
    campaign: str | None,
    page: int,
    works: int,
    items: int = 1,
    work: str | None = None,
) -> HTMLResponse:
    reads = reads_of(request)
    services = services_of(request)
    with reads.reading() as state:
        theirs = sorted(
            (c for c in state.campaigns.values() if actor in c.members), key=lambda c: -c.opened_at
        )
        if campaign is not None and campaign not in state.campaigns:
            return not_found(request, f"no campaign {campaign!r} in this ledger")
        if not theirs:
            if services.ledger.actor_state(actor) is None:
                return not_found(request, f"no member {actor!r} in this ledger")
            label = services.campaigns.labels([actor])[actor]
            runs = [(c.id, c.title) for c in state.campaigns.values() if c.brand == actor]
            return _page(
                request, "person_empty.html", member=actor, label=label, runs=runs, title=label
            )
        chosen = state.campaigns[campaign] if campaign else theirs[0]
        try:
            view = person_page(
                reads.projector(),
                chosen,
                state.position,
                services.ledger.store,
                actor,
                services.campaigns.labels,
                campaigns=[(c.id, c.title) for c in theirs],
                page=page,
                works_page=works,
                items_page=items,
                items_work=work,
                link=lambda member: person_url(member, chosen.id),
            )
        except UnknownMemberError as exc:
            return not_found(request, exc.detail)
    book = services.campaigns.payout_book(chosen.id)
    return _page(
        request, "person.html", view=view, c=chosen, title=view.label,
        payouts=payout_panel(book, actor),
    )  # fmt: skip


@router.get("/audit", response_class=HTMLResponse)
def show_audit(request: Request, page: str | None = None) -> HTMLResponse:
    """Checkpoints (newest first, paged) and how far they lag the log, anchors, the audit, key.

    Raises ``InvalidPageQuery`` for a page that is not one. Not ETagged: checkpoints,
    anchors and audits are recorded beside the log, not in it.
    """
    number = page_number(page)
    reads = reads_of(request)
    provenance = services_of(request).provenance
    lag = provenance.checkpoints.lag()
    stored = list(reversed(provenance.checkpoints.all()))
    pages = max(1, -(-len(stored) // CHECKPOINTS_PAGE))
    at = min(number, pages)
    shown = stored[(at - 1) * CHECKPOINTS_PAGE : at * CHECKPOINTS_PAGE]
    identity = provenance.identity
    return _page(
        request,
        "audit.html",
        title="Auditor",
        checkpoints=shown,
        checkpoint_count=len(stored),
        lag=lag,
        page=at,
        pages=pages,
        anchors=provenance.anchors(),
        audit=reads.audits.latest(),
        origin=identity.origin,
        vkey=identity.vkey,
        ledger_actor=identity.key.actor,
        base=str(request.base_url).rstrip("/"),
    )


@router.get("/keys/import", response_class=HTMLResponse)
def show_key_import(request: Request) -> HTMLResponse:
    """Bring a key to this browser from its backup (``static/key_import.js``): the file a
    join downloaded, or ``cocred keys backup``'s; opened in the page, never uploaded."""
    return _page(request, "key_import.html", title="Use your key in this browser")


@router.get("/keys/recover", response_class=HTMLResponse)
def show_key_recover(request: Request) -> HTMLResponse:
    """Replace a lost key with the recovery code written down at sign-up
    (``static/recover.js``): a RecoveryRequested signed in the page, the code never sent."""
    return _page(request, "keys_recover.html", title="Recover a lost key")


@router.get("/verify", response_class=HTMLResponse)
def show_verify(request: Request) -> HTMLResponse:
    """The in-browser receipt verifier (``static/verify.js`` does every check; the page
    only says how, and without JavaScript how to run ``cocred verify-proof`` instead)."""
    identity = services_of(request).provenance.identity
    return _page(
        request,
        "verify.html",
        title="Verify a receipt",
        vkey=identity.vkey,
        base=str(request.base_url).rstrip("/"),
    )
