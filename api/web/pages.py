"""The web pages: server-rendered HTML (Jinja2, autoescaped) for people, beside the JSON API.

- ``/``: the campaigns, and where to go next;
- ``/c/{campaign}``: a campaign for its brand and community: leaderboard and chart,
  moderation, licences and reuses, export buttons (signed in the browser by
  ``static/export.js``, the key never leaves it) and a public preview;
- ``/people/{actor}``: a contributor's timeline, works with their lineage graphs,
  every cent of their earnings explained, proof bundles to download;
- ``/audit``: checkpoints, anchors, the latest recorded audit, the verifier key.

Routes parse, call one builder (``api.web.campaign_view``, ``api.web.person_view``) over
the shared read side (``reads_of``) and render. Unknown campaigns and members get
an HTML 404 page with the sentence; no page is in the OpenAPI schema.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.templating import Jinja2Templates

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
from api.web.payouts_view import payout_panel
from api.web.person_view import person_page
from api.web.svg import percent
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
templates.env.globals.update(person_url=lambda member, campaign=None: person_url(member, campaign))

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


@router.get("/", response_class=HTMLResponse)
def show_home(request: Request) -> HTMLResponse:
    """Every campaign, newest first, and the auditor page."""
    with reads_of(request).reading() as state:
        cards = campaign_cards(state.campaigns.values())
    return _page(request, "home.html", cards=cards, title=None)


@router.get("/c/{campaign}", response_class=HTMLResponse)
def show_campaign(request: Request, campaign: str) -> HTMLResponse:
    """A campaign: leaderboard and chart, moderation, licences and reuses, exports."""
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
    book = services_of(request).campaigns.payout_book(campaign)
    return _page(
        request, "campaign.html", view=view, c=found, title=found.title,
        payouts=payout_panel(book),
    )  # fmt: skip


@router.get("/c/{campaign}/preview.{fmt}")
def show_preview(request: Request, campaign: str, fmt: str) -> Response:
    """The public payout preview: the canonical JSON that is hashed, or a CSV without handles."""
    if fmt not in ("json", "csv"):
        return not_found(request, f"no preview in format {fmt!r}: use json or csv")
    try:
        with reads_of(request).reading() as state:
            settlement = settlement_of(state.campaign(campaign))
    except UnknownCampaignError as exc:
        return not_found(request, exc.detail)
    if fmt == "json":
        body, media = settlement.export, "application/json"
    else:
        body, media = render(settlement, "csv"), "text/csv; charset=utf-8"
    name = f"{campaign}-payouts-preview.{fmt}"
    return Response(
        body, media_type=media, headers={"Content-Disposition": f'attachment; filename="{name}"'}
    )


@router.get("/people/{actor}", response_class=HTMLResponse)
def show_person(
    request: Request,
    actor: str,
    campaign: str | None = None,
    page: int = Query(1, ge=1),
) -> HTMLResponse:
    """A contributor's timeline, lineage graphs and earnings in one of their campaigns."""
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
def show_audit(request: Request, page: int = Query(1, ge=1)) -> HTMLResponse:
    """Checkpoints (newest first, paged) and how far they lag the log, anchors, the audit, key."""
    reads = reads_of(request)
    provenance = services_of(request).provenance
    lag = provenance.checkpoints.lag()
    stored = list(reversed(provenance.checkpoints.all()))
    pages = max(1, -(-len(stored) // CHECKPOINTS_PAGE))
    page = min(page, pages)
    shown = stored[(page - 1) * CHECKPOINTS_PAGE : page * CHECKPOINTS_PAGE]
    identity = provenance.identity
    return _page(
        request,
        "audit.html",
        title="Auditor",
        checkpoints=shown,
        checkpoint_count=len(stored),
        lag=lag,
        page=page,
        pages=pages,
        anchors=provenance.anchors(),
        audit=reads.audits.latest(),
        origin=identity.origin,
        vkey=identity.vkey,
        ledger_actor=identity.key.actor,
        base=str(request.base_url).rstrip("/"),
    )
