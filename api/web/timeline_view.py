"""What a contributor's timeline shows: every act of and on them in one campaign, in log order.

Their own signed acts (join, submit, remix, vote, licence) come from their events in the
log; what others did to them or their work (invitation, block, co-authorship, moderation,
reuse) from the campaign state, with its times read from the log store.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import orjson

from api.web.campaign_view import event_times
from api.web.svg import clip, share_label
from domain.vocabulary import COAUTHORSHIP_ACCEPTED, COAUTHORSHIP_DECLINED
from ledger.store import LogStore, StoredRecord
from projections.campaign import CampaignState


@dataclass(frozen=True)
class Entry:
    """One line of a contributor's timeline."""

    position: int
    ts: str
    kind: str  # a CSS class: submitted, remixed, vote, licence, reuse, moderation, member
    what: str
    work: dict[str, Any] | None = None
    note: str = ""


def _own_acts(
    state: CampaignState, records: Iterable[StoredRecord], names: dict[str, str]
) -> list[Entry]:
    """The member's own signed acts in the campaign: join, submit, remix, vote, co-authorship
    answers, licence."""
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
                f"from “{clip(contribution_title(state, p.contribution), 40)}” "
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
        elif record.type in (COAUTHORSHIP_ACCEPTED, COAUTHORSHIP_DECLINED):
            cid = body["contribution"]
            if record.type == COAUTHORSHIP_ACCEPTED:
                what, note = "accepted the co-authorship of", ""
            else:
                what, note = "declined the co-authorship of", f"reason: {body['reason']}"
            entries.append(Entry(pos, ts, "member", what, _ref(state, cid), note))
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


def contribution_title(state: CampaignState, cid: str) -> str:
    """The title of contribution ``cid`` in the campaign (its id when it is unknown)."""
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
