"""The moderation queue: a campaign's reported pieces and comments, most reported first.

Read from the read-model tables alone (``proj_reports``, ``proj_contributions``,
``proj_comments``, which the projector keeps; ``projections/campaign.py`` records each
``ContributionReported`` and ``CommentReported`` and passes nothing of it to the scorer, so
reports change no score). The order is the number of reports (most first), then the item's
age (the log position of the piece or of the comment, oldest first): a total order, so
pages never overlap or skip. Each item comes with its count per reason, in the order of
``REPORT_REASONS``, and its status: a piece's moderation status (``open``: never
moderated), a comment's ``shown`` or ``hidden``. A comment's item names the comment, its
author as ``signer``, ``kind`` ``comment`` and the title of the piece it is on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select

from domain.vocabulary import COMMENT, COMMENT_FIELD, REPORT_REASONS
from projections.errors import UnknownCampaignError
from projections.projector import Projector


@dataclass(frozen=True, slots=True)
class QueuedPiece:
    """One reported piece, or one reported comment (``comment`` set), in the queue."""

    contribution: str
    position: int
    signer: str
    kind: str
    title: str
    status: str
    reports: int
    reasons: dict[str, int]  # every reason of REPORT_REASONS, in that order, with its count
    comment: str | None = None  # the reported comment on ``contribution``; None: the piece

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
            COMMENT_FIELD: self.comment,
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


COMMENT_KIND = COMMENT  # a queued comment's ``kind``: the word of the contract
SHOWN, HIDDEN = "shown", "hidden"  # a queued comment's ``status``


def moderation_queue(
    projector: Projector, campaign: str, *, start: int = 0, limit: int = 50
) -> Queue:
    """The campaign's reported pieces and comments ``start`` to ``start + limit`` in queue
    order.

    Raises ``UnknownCampaignError``.
    """
    tables = projector.tables
    campaigns, works, reports = tables.campaigns, tables.contributions, tables.reports
    comments = tables.comments
    count = func.count().label("reports")
    per_item = (
        select(reports.c.contribution, reports.c.comment, count)
        .where(reports.c.campaign == campaign)
        .group_by(reports.c.contribution, reports.c.comment)
        .subquery()
    )
    age = func.coalesce(comments.c.position, works.c.position).label("age")
    query = (
        select(
            works.c.contribution,
            works.c.position,
            works.c.signer,
            works.c.kind,
            works.c.title,
            works.c.status,
            per_item.c.reports,
            per_item.c.comment,
            comments.c.author,
            comments.c.hidden_at,
            age,
        )
        .join(per_item, per_item.c.contribution == works.c.contribution)
        .outerjoin(
            comments,
            (comments.c.campaign == campaign) & (comments.c.comment == per_item.c.comment),
        )
        .where(works.c.campaign == campaign)
        .order_by(per_item.c.reports.desc(), age)
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
        items = conn.execute(select(func.count()).select_from(per_item)).scalar_one()
        every = conn.execute(
            select(func.count()).where(reports.c.campaign == campaign)
        ).scalar_one()
        rows = list(conn.execute(query).mappings())
        keys = [(row["contribution"], row[COMMENT_FIELD]) for row in rows]
        reasons: dict[tuple[str, str | None], dict[str, int]] = {
            key: dict.fromkeys(REPORT_REASONS, 0) for key in keys
        }
        if keys:
            by_reason = conn.execute(
                select(reports.c.contribution, reports.c.comment, reports.c.reason, func.count())
                .where(
                    reports.c.campaign == campaign,
                    reports.c.contribution.in_({cid for cid, _ in keys}),
                )
                .group_by(reports.c.contribution, reports.c.comment, reports.c.reason)
            )
            for cid, comment, reason, n in by_reason:
                if (cid, comment) in reasons:
                    reasons[(cid, comment)][reason] = n
    return Queue(
        campaign=campaign,
        total=int(items),
        reports=int(every),
        start=start,
        pieces=[_queued(row, reasons[(row["contribution"], row[COMMENT_FIELD])]) for row in rows],
    )


def _queued(row: Any, reasons: dict[str, int]) -> QueuedPiece:
    comment = row[COMMENT_FIELD]
    if comment is None:
        return QueuedPiece(
            row["contribution"], row["position"], row["signer"], row["kind"], row["title"],
            row["status"], row["reports"], reasons,
        )  # fmt: skip
    return QueuedPiece(
        row["contribution"], row["age"], row["author"], COMMENT_KIND, row["title"],
        HIDDEN if row["hidden_at"] is not None else SHOWN, row["reports"], reasons, comment,
    )  # fmt: skip
