"""Brands: campaign state, the moderation queue, the reported pieces, members, payout
previews and exports, the payout proposal and the payout status.

All of it is public but the payout export and the payout status, which carry payout
handles or what private profiles say: they need a request signed by the campaign
owner's current key. An export here is a preview and never settles; proposing,
objecting, answering, settling and recording payments are signed envelopes through
``POST /events`` (``cocred payouts propose|object|answer|settle|record`` build them).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, get_args

import orjson
from fastapi import APIRouter, Query, Request, Response
from sqlalchemy import func, select

from api.http.deps import (
    Signer,
    errors,
    from_query,
    limit_query,
    on_state,
    page_limit,
    reads_of,
    require_signer,
    services_of,
)
from api.http.schemas import (
    AppealOut,
    AppealPageOut,
    CampaignMember,
    CampaignOut,
    CampaignPage,
    CampaignSummary,
    ClaimProofOut,
    MemberPage,
    Moderated,
    ModerationQueue,
    ObjectionOut,
    PayoutLine,
    PayoutPreview,
    PayoutStatus,
    ProposalOut,
    QueuedContribution,
    ReportedPiece,
    ReportQueue,
    Status,
)
from projections.appeals import campaign_appeals as appeals_page
from projections.errors import UnknownCampaignError
from projections.exact import fraction_text
from projections.export import FORMATS, render, settlement_of
from projections.payments import payout_status, settled_lines
from projections.projector import Projector
from projections.queries import leaderboard
from projections.reports import moderation_queue as reports_queue

router = APIRouter(tags=["brands"])

Format = Literal["csv", "json", "safe-csv", "paypal-csv", "canonical"]
assert set(get_args(Format)) == set(FORMATS), "keep Format in step with projections.export"
_MEDIA = {
    "csv": ("text/csv; charset=utf-8", "payouts.csv"),
    "json": ("application/json", "payouts.json"),
    "safe-csv": ("text/csv; charset=utf-8", "payouts.safe.csv"),
    "paypal-csv": ("text/csv; charset=utf-8", "payouts.paypal.csv"),
    "canonical": ("application/json", "payouts.canonical.json"),
}


# -- campaigns ---------------------------------------------------------------------------------


def _campaign_rows(projector: Projector, start: int, limit: int) -> tuple[list[Any], int]:
    table = projector.tables.campaigns
    query = select(table).order_by(table.c.opened_at).offset(start).limit(limit)
    with projector.engine.connect() as conn:
        total = conn.execute(select(func.count()).select_from(table)).scalar_one()
        return list(conn.execute(query).mappings()), int(total)


@router.get("/campaigns", response_model=CampaignPage, responses=errors())
def list_campaigns(
    request: Request,
    start: int = from_query("index of the first campaign"),
    limit: int = limit_query(),
) -> CampaignPage:
    """Every campaign in the order they were opened (at most ``limit``, ≤ 1000)."""
    limit = page_limit(limit)
    rows, total = _campaign_rows(reads_of(request).projector(), start, limit)
    return CampaignPage(
        campaigns=[
            CampaignSummary.model_validate({**row, "pool": row["pool"] + row["funded"]})
            for row in rows
        ],
        total=total,
        next=start + limit if start + limit < total else None,
    )


@router.get("/campaigns/{campaign}", response_model=CampaignOut, responses=errors(404))
def show_campaign(request: Request, campaign: str) -> CampaignOut:
    """The campaign's rules, window, pool and counts."""
    return CampaignOut.model_validate(services_of(request).campaigns.show(campaign))


def _require_campaign(projector: Projector, campaign: str) -> None:
    table = projector.tables.campaigns
    with projector.engine.connect() as conn:
        found = conn.execute(select(table.c.campaign).where(table.c.campaign == campaign)).first()
    if found is None:
        raise UnknownCampaignError(f"campaign {campaign} was never opened", campaign=campaign)


@router.get(
    "/campaigns/{campaign}/moderation", response_model=ModerationQueue, responses=errors(404)
)
def moderation_queue(
    request: Request,
    campaign: str,
    status: Annotated[
        Status | None, Query(description="only contributions with this status")
    ] = None,
    start: int = from_query("the first log position"),
    limit: int = limit_query(),
) -> ModerationQueue:
    """Contributions to moderate (``open``) or moderated, each with its moderation history."""
    limit = page_limit(limit)
    projector = reads_of(request).projector()
    _require_campaign(projector, campaign)
    works, moderated = projector.tables.contributions, projector.tables.moderation
    query = select(works).where(works.c.campaign == campaign, works.c.position >= start)
    if status is not None:
        query = query.where(works.c.status == status)
    with projector.engine.connect() as conn:
        rows = list(conn.execute(query.order_by(works.c.position).limit(limit + 1)).mappings())
        ids = [row["contribution"] for row in rows[:limit]]
        history: dict[str, list[Moderated]] = {cid: [] for cid in ids}
        if ids:
            events = conn.execute(
                select(moderated)
                .where(moderated.c.campaign == campaign, moderated.c.contribution.in_(ids))
                .order_by(moderated.c.position)
            ).mappings()
            for event in events:
                cited = None if event["reports"] is None else orjson.loads(event["reports"])
                history[event["contribution"]].append(
                    Moderated.model_validate({**event, "reports": cited})
                )
    return ModerationQueue(
        campaign=campaign,
        status=status,
        contributions=[
            QueuedContribution.model_validate({**row, "moderation": history[row["contribution"]]})
            for row in rows[:limit]
        ],
        next=rows[limit]["position"] if len(rows) > limit else None,
    )


@router.get("/campaigns/{campaign}/reports", response_model=ReportQueue, responses=errors(404))
def campaign_reports(
    request: Request,
    campaign: str,
    start: int = from_query("index of the first reported piece"),
    limit: int = limit_query(),
) -> ReportQueue:
    """Reported pieces, most reported first then oldest first, with the count per reason and
    the moderation status (public: reports are in the log; a report's text stays a hash)."""
    limit = page_limit(limit)
    queue = reports_queue(reads_of(request).projector(), campaign, start=start, limit=limit)
    return ReportQueue(
        campaign=campaign,
        total=queue.total,
        reports=queue.reports,
        pieces=[ReportedPiece.model_validate(piece.to_json()) for piece in queue.pieces],
        next=start + limit if start + limit < queue.total else None,
    )


@router.get("/campaigns/{campaign}/appeals", response_model=AppealPageOut, responses=errors(404))
def campaign_appeals(
    request: Request,
    campaign: str,
    start: int = from_query("index of the first appeal"),
    limit: int = limit_query(),
    open_only: Annotated[
        bool, Query(alias="open", description="only the appeals awaiting the brand")
    ] = False,
) -> AppealPageOut:
    """Appeals against rejections and removals, those awaiting the brand first, then oldest
    first (public: appeals are in the log; an appeal's text stays a hash). Filed and decided
    as signed envelopes posted to ``POST /events`` (``AppealFiled``, ``AppealDecided``)."""
    limit = page_limit(limit)
    page = appeals_page(
        reads_of(request).projector(), campaign, start=start, limit=limit, open_only=open_only
    )
    return AppealPageOut(
        campaign=campaign,
        total=page.total,
        open=page.open,
        appeals=[AppealOut.model_validate(row.to_json()) for row in page.appeals],
        next=start + limit if start + limit < page.total else None,
    )


@router.get("/campaigns/{campaign}/members", response_model=MemberPage, responses=errors(404))
def campaign_members(
    request: Request,
    campaign: str,
    start: int = from_query("index of the first member"),
    limit: int = limit_query(),
) -> MemberPage:
    """The campaign's members by actor id: public standing and credit, no personal data."""
    limit = page_limit(limit)
    projector = reads_of(request).projector()
    _require_campaign(projector, campaign)
    table = projector.tables.members
    where = table.c.campaign == campaign
    with projector.engine.connect() as conn:
        total = conn.execute(select(func.count()).select_from(table).where(where)).scalar_one()
        rows = list(
            conn.execute(
                select(table).where(where).order_by(table.c.member).offset(start).limit(limit)
            ).mappings()
        )
    labels = services_of(request).campaigns.labels([row["member"] for row in rows])
    return MemberPage(
        campaign=campaign,
        total=total,
        members=[
            CampaignMember.model_validate(
                {**row, "label": labels[row["member"]], "blocked": row["blocked_at"] is not None}
            )
            for row in rows
        ],
        next=start + limit if start + limit < total else None,
    )


# -- payouts -----------------------------------------------------------------------------------


@router.get(
    "/campaigns/{campaign}/payouts", response_model=PayoutPreview, responses=errors(404, 409)
)
def payout_preview(
    request: Request,
    campaign: str,
    start: int = from_query("index of the first payee"),
    limit: int = limit_query(),
) -> PayoutPreview:
    """The projected payouts (blocked members excluded), best first; never settles."""
    limit = page_limit(limit)
    projector = reads_of(request).projector()
    row, board = leaderboard(projector, campaign)
    page = board[start : start + limit]
    labels = services_of(request).campaigns.labels([s.member for s in page])
    return PayoutPreview(
        campaign=campaign,
        as_of=projector.position(),
        currency=row["currency"],
        pool=row["pool"] + row["funded"],
        paid=sum(s.amount for s in board),
        payees=len(board),
        closed=row["closed_at"] is not None,
        lines=[
            PayoutLine(
                rank=s.rank,
                member=s.member,
                label=labels[s.member],
                credit=fraction_text(s.credit),
                share=fraction_text(s.share),
                amount=s.amount,
                capped=s.capped,
                below_minimum=s.below_minimum,
            )
            for s in page
        ],
        next=start + limit if start + limit < len(board) else None,
    )


@router.get(
    "/campaigns/{campaign}/payouts/export",
    response_class=Response,
    responses={
        200: {
            "description": "the export file (a preview: nothing is settled)",
            "content": {
                "text/csv": {"schema": {"type": "string"}},
                "application/json": {"schema": {"type": "object"}},
            },
        },
        **errors(401, 403, 404, 409),
    },
)
def export_payouts(
    request: Request,
    signer: Signer,
    campaign: str,
    fmt: Annotated[Format, Query(alias="format", description="the file's format")] = "csv",
    token_address: str | None = Query(
        None,
        pattern=r"^0x[0-9a-fA-F]{40}$",
        description="safe-csv: the ERC-20 token to pay with (default: the native coin)",
    ),
) -> Response:
    """The payout file in ``format``, signed by the campaign owner's current key.

    ``X-Cocred-Export-Sha256`` is the hash a ``PayoutsSettled`` would record.
    """
    services = services_of(request)
    brand = services.campaigns.campaign(campaign).brand
    require_signer(signer, brand, f"the payout export of campaign {campaign}")
    settlement = on_state(request, lambda state: settlement_of(state.campaign(campaign)))
    data = render(settlement, fmt, services.profiles, token_address=token_address)
    media, name = _MEDIA[fmt]
    return Response(
        data,
        media_type=media,
        headers={
            "Content-Disposition": f'attachment; filename="{campaign}-{name}"',
            "X-Cocred-Export-Sha256": settlement.sha256,
        },
    )


# -- the payout lifecycle: proposal, objections, status ---------------------------------------
# Writes (PayoutsProposed, PayoutObjected, ObjectionAnswered, PayoutsSettled, PaymentRecorded)
# are signed envelopes posted to POST /events; these routes read where a campaign stands.


@router.get(
    "/campaigns/{campaign}/payouts/proposal", response_model=ProposalOut, responses=errors(404)
)
def payout_proposal(request: Request, campaign: str) -> ProposalOut:
    """The payout proposal, its objection window and every objection with its answer."""
    book = services_of(request).campaigns.payout_book(campaign)
    proposal = book.proposal
    shown = proposal.to_json() if proposal is not None else {}
    return ProposalOut(
        campaign=campaign,
        stage="settled" if book.settled else "proposed" if proposal is not None else "open",
        proposal=shown.get("proposal"),
        export=shown.get("export"),
        total=shown.get("total"),
        payees=shown.get("payees", {}),
        proposed_at=shown.get("proposed_at"),
        window_ends=shown.get("window_ends"),
        parts=shown.get("parts"),
        complete=shown.get("complete"),
        objections=[ObjectionOut(**o) for o in shown.get("objections", [])],
        withdrawn=list(book.withdrawn),
    )


@router.get(
    "/campaigns/{campaign}/claims/{member}",
    response_model=ClaimProofOut,
    responses=errors(401, 403, 404),
)
def claim_proof(request: Request, campaign: str, member: str, signer: Signer) -> ClaimProofOut:
    """A member's claim proof on the campaign's deployed Distributor: a signed read by the
    member (or the campaign's brand), since the leaf ties the member to an Ethereum address
    that only their claim should make public. 403 ``Forbidden`` for anyone else; 404
    ``NoClaim`` when no deployed tree has a leaf for the member (not owed, no Ethereum payout
    method at build, or no tree deployed yet)."""
    from contracts.claim_payouts import ClaimTrees

    services = services_of(request)
    found = services.campaigns.campaign(campaign)  # UnknownCampaign first
    if signer.actor != found.brand:
        require_signer(signer, member, f"the claim proof of {member} in campaign {campaign}")
    document, entry = ClaimTrees(services.engine, create=False).claim_of(campaign, member)
    return ClaimProofOut(
        campaign=campaign,
        member=member,
        root=document["root"],
        distributor=document["distributor"],
        chain_id=document["chain_id"],
        token=document["token"],
        decimals=document["decimals"],
        index=entry["index"],
        account=entry["account"],
        amount=entry["amount"],
        tokens=entry["tokens"],
        proof=entry["proof"],
    )


@router.get(
    "/campaigns/{campaign}/payouts/status",
    response_model=PayoutStatus,
    responses=errors(401, 403, 404, 409),
)
def payouts_status(request: Request, signer: Signer, campaign: str) -> PayoutStatus:
    """Settled, paid, owed and why what is owed is unpaid (signed by the campaign owner:
    the reasons come from the members' private profiles)."""
    services = services_of(request)
    found = services.campaigns.campaign(campaign)
    require_signer(signer, found.brand, f"the payout status of campaign {campaign}")
    book = services.campaigns.payout_book(campaign)
    lines = settled_lines(book, services.ledger.store, campaign)
    erased = services.campaigns.gate.read(lambda state: set(state.erased))
    from contracts.claim_payouts import ClaimTrees

    claimable = ClaimTrees(services.engine, create=False).claimable(campaign)
    shown = payout_status(
        campaign, found.currency, book, lines, services.profiles, erased, claimable
    )
    shown.pop("proposal")
    shown.pop("withdrawn")
    return PayoutStatus.model_validate(shown)
