"""The moderation queue: a campaign's reported pieces, most reported first.

Read from the read-model tables alone (``proj_reports``, ``proj_contributions``, which the
projector keeps; ``projections/campaign.py`` records each ``ContributionReported`` and passes
nothing of it to the scorer, so reports change no score). The order is the number of
reports (most first), then the piece's age (its log position, oldest first): a total order,
so pages never overlap or skip. Each piece comes with its count per reason, in the order of
``REPORT_REASONS``, and its moderation status (``open``: never moderated).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select

from domain.vocabulary import REPORT_REASONS
from projections.errors import UnknownCampaignError
from projections.projector import Projector


@dataclass(frozen=True, slots=True)
class QueuedPiece:
    """One reported piece in the queue."""

    contribution: str
    position: int
    signer: str
    kind: str
    title: str
    status: str
    reports: int
    reasons: dict[str, int]  # every reason of REPORT_REASONS, in that order, with its count

    def to_json(self) -> dict[str, Any]:
        return {
            "contribution": self.contribution,
            "position": self.position,
            "signer": self.signer,
            "kind": self.kind,
            "title": self.title,
            "status": self.status,
            "reports": self.reports,
            "reasons": dict(self.reasons),
        }


@dataclass(frozen=True, slots=True)
class Queue:
    """A page of the queue: ``total`` reported pieces, these from index ``start``."""

    campaign: str
    total: int
    reports: int  # every report of the campaign
    start: int
    pieces: list[QueuedPiece]

    def to_json(self) -> dict[str, Any]:
        return {
            "campaign": self.campaign,
            "total": self.total,
            "reports": self.reports,
            "start": self.start,
            "pieces": [piece.to_json() for piece in self.pieces],
        }


def moderation_queue(
    projector: Projector, campaign: str, *, start: int = 0, limit: int = 50
) -> Queue:
    """The campaign's reported pieces ``start`` to ``start + limit`` in queue order.

    Raises ``UnknownCampaignError``.
    """
    tables = projector.tables
    campaigns, works, reports = tables.campaigns, tables.contributions, tables.reports
    count = func.count().label("reports")
    per_piece = (
        select(reports.c.contribution, count)
        .where(reports.c.campaign == campaign)
        .group_by(reports.c.contribution)
        .subquery()
    )
    query = (
        select(
            works.c.contribution,
            works.c.position,
            works.c.signer,
            works.c.kind,
            works.c.title,
            works.c.status,
            per_piece.c.reports,
        )
        .join(per_piece, per_piece.c.contribution == works.c.contribution)
        .where(works.c.campaign == campaign)
        .order_by(per_piece.c.reports.desc(), works.c.position)
        .offset(start)
        .limit(limit)
    )
    with projector.engine.connect() as conn:
        found = conn.execute(
            select(campaigns.c.campaign).where(campaigns.c.campaign == campaign)
        ).first()
        if found is None:
            raise UnknownCampaignError(
                f"no campaign {campaign!r} in the read models "
                f"(as of position {projector.position()})",
                campaign=campaign,
            )
        totals = conn.execute(
            select(func.count(func.distinct(reports.c.contribution)), func.count()).where(
                reports.c.campaign == campaign
            )
        ).one()
        rows = list(conn.execute(query).mappings())
        ids = [row["contribution"] for row in rows]
        reasons: dict[str, dict[str, int]] = {cid: dict.fromkeys(REPORT_REASONS, 0) for cid in ids}
        if ids:
            by_reason = conn.execute(
                select(reports.c.contribution, reports.c.reason, func.count())
                .where(reports.c.campaign == campaign, reports.c.contribution.in_(ids))
                .group_by(reports.c.contribution, reports.c.reason)
            )
            for cid, reason, n in by_reason:
                reasons[cid][reason] = n
    return Queue(
        campaign=campaign,
        total=int(totals[0]),
        reports=int(totals[1]),
        start=start,
        pieces=[
            QueuedPiece(
                contribution=row["contribution"],
                position=row["position"],
                signer=row["signer"],
                kind=row["kind"],
                title=row["title"],
                status=row["status"],
                reports=row["reports"],
                reasons=reasons[row["contribution"]],
            )
            for row in rows
        ],
    )
