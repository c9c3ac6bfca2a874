"""A campaign's appeals, paged: the open ones first (the brand's queue), then the decided.

Read from the read-model tables alone (``proj_appeals``, which ``projections/campaign.py``
fills from ``AppealFiled`` and updates on ``AppealDecided``; ``proj_contributions`` for the
piece's title and status). The order is undecided first, then by the filing's log position
(oldest first): a total order, so pages never overlap or skip. ``open_only`` lists the
undecided ones alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import case, func, select

from domain.vocabulary import FILED
from projections.errors import UnknownCampaignError
from projections.projector import Projector


@dataclass(frozen=True, slots=True)
class AppealRow:
    """One appeal and, once decided, the brand's decision."""

    appeal: str
    position: int
    contribution: str
    title: str
    appellant: str
    against: str
    reason: str
    text: str | None
    status: str  # filed, upheld or reinstated
    decided_at: int | None
    decision_reason: str | None
    note: str | None
    piece_status: str  # the piece's moderation status now

    def to_json(self) -> dict[str, Any]:
        return {
            "appeal": self.appeal,
            "position": self.position,
            "contribution": self.contribution,
            "title": self.title,
            "appellant": self.appellant,
            "against": self.against,
            "reason": self.reason,
            "text": self.text,
            "status": self.status,
            "decided_at": self.decided_at,
            "decision_reason": self.decision_reason,
            "note": self.note,
            "piece_status": self.piece_status,
        }


@dataclass(frozen=True, slots=True)
class AppealPage:
    """A page of the appeals: ``total`` (``open`` of them undecided), these from ``start``."""

    campaign: str
    total: int
    open: int
    start: int
    appeals: list[AppealRow]

    def to_json(self) -> dict[str, Any]:
        return {
            "campaign": self.campaign,
            "total": self.total,
            "open": self.open,
            "start": self.start,
            "appeals": [row.to_json() for row in self.appeals],
        }


def campaign_appeals(
    projector: Projector,
    campaign: str,
    *,
    start: int = 0,
    limit: int = 50,
    open_only: bool = False,
    contribution: str | None = None,
) -> AppealPage:
    """The campaign's appeals ``start`` to ``start + limit`` (of one piece: ``contribution``).

    Raises ``UnknownCampaignError``.
    """
    tables = projector.tables
    campaigns, works, appeals = tables.campaigns, tables.contributions, tables.appeals
    where = [appeals.c.campaign == campaign]
    if contribution is not None:
        where.append(appeals.c.contribution == contribution)
    undecided = appeals.c.outcome.is_(None)
    listed = [*where, undecided] if open_only else where
    query = (
        select(appeals, works.c.title, works.c.status.label("piece_status"))
        .join(
            works,
            (works.c.campaign == appeals.c.campaign)
            & (works.c.contribution == appeals.c.contribution),
        )
        .where(*listed)
        .order_by(case((undecided, 0), else_=1), appeals.c.position)
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
        total, still_open = conn.execute(
            select(func.count(), func.count(case((undecided, 1)))).where(*where)
        ).one()
        rows = list(conn.execute(query).mappings())
    return AppealPage(
        campaign=campaign,
        total=int(still_open if open_only else total),
        open=int(still_open),
        start=start,
        appeals=[
            AppealRow(
                appeal=row["appeal"],
                position=row["position"],
                contribution=row["contribution"],
                title=row["title"],
                appellant=row["appellant"],
                against=row["against"],
                reason=row["reason"],
                text=row["text"],
                status=row["outcome"] or FILED,
                decided_at=row["decided_at"],
                decision_reason=row["decision_reason"],
                note=row["note"],
                piece_status=row["piece_status"],
            )
            for row in rows
        ],
    )
