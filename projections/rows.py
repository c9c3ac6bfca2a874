"""Rows of the read-model tables, computed from a ``CampaignState``.

Each row is a pure function of the state; ``collect`` gathers either every row
of a campaign (a rebuild) or only the rows that changed since the last collect
(an incremental run), and then forgets what changed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from domain.vocabulary import COMMENT_FIELD
from domain.vocabulary import ENGAGEMENT_KINDS as KINDS
from domain.vocabulary import MODERATION_OUTCOMES as OUTCOMES
from ledger.canonical import canonical
from projections.campaign import CampaignState
from projections.exact import fraction_text
from projections.scoring import ZERO

Row = dict[str, Any]


@dataclass
class Changes:
    """Rows to write: ``replace`` rows overwrite by primary key, ``append`` rows are new."""

    replace: dict[str, list[Row]] = field(default_factory=dict)
    append: dict[str, list[Row]] = field(default_factory=dict)

    def add(self, kind: str, table: str, rows: list[Row]) -> None:
        if rows:
            target = self.replace if kind == "replace" else self.append
            target.setdefault(table, []).extend(rows)

    def __len__(self) -> int:
        return sum(map(len, self.replace.values())) + sum(map(len, self.append.values()))


def _json(value: Any) -> str:
    return canonical(value).decode()


def campaign_row(state: CampaignState) -> Row:
    scorer = state.scorer
    return {
        "campaign": state.id,
        "brand": state.brand,
        "title": state.title,
        "currency": state.currency,
        "membership": state.membership,
        "pool": state.pool,
        "funded": state.funded,
        "policy": _json(state.policy_body),
        "policy_supported": scorer is not None,
        "opened_at": state.opened_at,
        "closed_at": state.closed_at,
        "settled_at": state.settled[0] if state.settled else None,
        "settled_export": state.settled[1].get("export") if state.settled else None,
        "total_credit": fraction_text(scorer.total) if scorer else None,
        "members": state.joined,
        "contributions": len(state.contributions),
        "active_votes": state.active_votes,
    }


def member_row(state: CampaignState, member_id: str) -> Row:
    member = state.members[member_id]
    scorer = state.scorer
    cluster = scorer.recip.cluster.get(member_id) if scorer else None
    row: Row = {
        "campaign": state.id,
        "member": member_id,
        "invited_at": member.invited_at,
        "joined_at": member.joined_at,
        "blocked_at": member.blocked_at,
        "block_reason": member.block_reason,
        "contributions": len(member.authored),
        "coauthored": member.coauthored,
        "votes_cast": len(member.votes),
        "votes_counted": scorer.counts.get(member_id, 0) if scorer else 0,
        "reuses": member.reuses,
        "remixed_by_others": member.remixed_by_others,
        "licences": member.licences,
        "cluster_size": len(cluster) if cluster else 0,
        "credit": fraction_text(scorer.credit.get(member_id, ZERO) if scorer else ZERO),
        "credit_via_remixes": fraction_text(
            scorer.credit_remix.get(member_id, ZERO) if scorer else ZERO
        ),
    }
    row.update((f"received_{kind}", member.received[kind]) for kind in KINDS)
    row.update((outcome, member.moderated[outcome]) for outcome in OUTCOMES)
    return row


def contribution_row(state: CampaignState, cid: str) -> Row:
    contribution = state.contributions[cid]
    node = state.scorer.nodes[cid] if state.scorer else None
    row: Row = {
        "campaign": state.id,
        "contribution": cid,
        "position": contribution.position,
        "signer": contribution.signer,
        "kind": contribution.kind,
        "title": contribution.title,
        "content": contribution.content,
        "status": contribution.status,
        "reuses": contribution.reuse_events,
        "distinct_reuses": len(contribution.reuse_keys),
        "support": fraction_text(node.support if node else ZERO),
        "score": fraction_text(node.score if node else ZERO),
        "credit": fraction_text(node.credit if node else ZERO),
        "keep": fraction_text(node.keep if node else ZERO),
        "kept": fraction_text(node.kept if node else ZERO),
    }
    row.update((f"votes_{kind}", contribution.received[kind]) for kind in KINDS)
    return row


def structure_rows(state: CampaignState, cid: str) -> tuple[list[Row], list[Row]]:
    """The author rows and lineage rows of a contribution (written once, at submission)."""
    contribution = state.contributions[cid]
    authors = [
        {"campaign": state.id, "contribution": cid, "member": member, "percent": percent}
        for member, percent in contribution.authors
    ]
    lineage = [
        {
            "campaign": state.id,
            "child": cid,
            "entry": entry,
            "parent": parent.contribution,
            "declared": parent.declared,
            "share": fraction_text(parent.share),
            "position": contribution.position,
        }
        for entry, parent in enumerate(contribution.parents)
    ]
    return authors, lineage


def licence_row(state: CampaignState, key: tuple[str, str]) -> Row:
    grant = state.grants[key]
    return {
        "campaign": state.id,
        "licence": grant.licence,
        "author": grant.author,
        "contribution": grant.contribution,
        "grant_body": _json(grant.body),
        "granted_at": grant.granted_at,
        "revoked_at": grant.revoked_at,
    }


def comment_row(state: CampaignState, comment_id: str) -> dict[str, Any]:
    comment = state.comments[comment_id]
    hidden_at, hidden_reason = comment.hidden or (None, None)
    return {
        "campaign": state.id,
        COMMENT_FIELD: comment.id,
        "position": comment.position,
        "contribution": comment.contribution,
        "parent": comment.parent,
        "author": comment.author,
        "as_brand": comment.as_brand,
        "hidden_at": hidden_at,
        "hidden_reason": hidden_reason,
    }


def appeal_row(state: CampaignState, appeal_id: str) -> dict[str, Any]:
    appeal = state.appeals[appeal_id]
    return {
        "campaign": state.id,
        "appeal": appeal.id,
        "position": appeal.position,
        "contribution": appeal.contribution,
        "appellant": appeal.appellant,
        "against": appeal.against,
        "reason": appeal.reason,
        "text": appeal.text,
        "decided_at": appeal.decided_at,
        "outcome": appeal.outcome,
        "decision_reason": appeal.decision_reason,
        "note": appeal.note,
    }


def collect(state: CampaignState, *, full: bool) -> Changes:
    """The rows to write for this campaign, then forget what changed."""
    changes = Changes()
    members = sorted(state.members) if full else sorted(state.dirty_members)
    contributions = list(state.contributions) if full else sorted(state.dirty_contributions)
    grants = sorted(state.grants) if full else sorted(state.dirty_grants)
    new = list(state.contributions) if full else state.new_contributions
    written = dict.fromkeys(state.written, 0) if full else state.written
    changes.add("replace", "proj_campaigns", [campaign_row(state)])
    changes.add("replace", "proj_members", [member_row(state, m) for m in members])
    changes.add(
        "replace", "proj_contributions", [contribution_row(state, c) for c in contributions]
    )
    changes.add("replace", "proj_licences", [licence_row(state, key) for key in grants])
    appeals = list(state.appeals) if full else sorted(state.dirty_appeals)
    changes.add("replace", "proj_appeals", [appeal_row(state, a) for a in appeals])
    comments = list(state.comments) if full else sorted(state.dirty_comments)
    changes.add("replace", "proj_comments", [comment_row(state, c) for c in comments])
    for cid in new:
        authors, lineage = structure_rows(state, cid)
        changes.add("append", "proj_authors", authors)
        changes.add("append", "proj_lineage", lineage)
    changes.add(
        "append",
        "proj_reuses",
        [
            {
                "campaign": state.id,
                "position": r.position,
                "contribution": r.contribution,
                "licence": r.licence,
                "channel": r.channel,
                "territory": r.territory,
                "first_of_kind": r.distinct,
            }
            for r in state.reuses[written["reuses"] :]
        ],
    )
    changes.add(
        "append",
        "proj_moderation",
        [
            {
                "campaign": state.id,
                "position": m.position,
                "contribution": m.contribution,
                "outcome": m.outcome,
                "reason": m.reason,
                "note": m.note,
                "reports": None if m.reports is None else _json(list(m.reports)),
            }
            for m in state.moderation[written["moderation"] :]
        ],
    )
    changes.add(
        "append",
        "proj_reports",
        [
            {
                "campaign": state.id,
                "position": r.position,
                "report": r.id,
                "contribution": r.contribution,
                "reporter": r.reporter,
                "reason": r.reason,
                "text": r.text,
                COMMENT_FIELD: r.comment,
            }
            for r in state.reports[written["reports"] :]
        ],
    )
    changes.add(
        "append",
        "proj_ignored",
        [
            {
                "campaign": state.id,
                "position": i.position,
                "type": i.type,
                "actor": i.actor,
                "reason": i.reason,
            }
            for i in state.ignored[written["ignored"] :]
        ],
    )
    state.mark_written()
    return changes
