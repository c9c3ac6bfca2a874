"""What the home and campaign pages show, and the formatting every page shares.

``api/web/pages.py`` routes a request here and renders the result with Jinja2;
nothing here knows about HTTP. Builders take the caught-up read models (the
projector for ``projections.queries``, the live ``CampaignState``), the log
store (for event times) and a ``labels`` function (display names, or
``"erased member"``), and raise the projections' typed errors.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from fractions import Fraction
from typing import Any

import orjson

from api.web.svg import BarChart, BarInput, bar_chart
from ledger.store import LogStore
from projections.campaign import CampaignState
from projections.exact import currency_exponent, major_units, percent_text
from projections.export import FORMATS, settlement_of
from projections.projector import Projector
from projections.queries import leaderboard
from projections.reports import moderation_queue

Labels = Callable[[Sequence[str]], dict[str, str]]


def money(amount: int, currency: str) -> str:
    """Minor units in major units with thousands separators and the code: ``3,085.84 EUR``."""
    text = major_units(amount, currency)
    sign = "-" if text.startswith("-") else ""
    whole, _, part = text.lstrip("-").partition(".")
    grouped = f"{int(whole):,}"
    return f"{sign}{grouped}{'.' + part if part else ''} {currency}"


def decimal(value: Fraction, digits: int = 2) -> str:
    """A fraction as a decimal rounded half away from zero, prefixed ``≈`` when inexact."""
    scaled = abs(value) * 10**digits
    rounded = (scaled.numerator * 2 + scaled.denominator) // (2 * scaled.denominator)
    whole, part = divmod(rounded, 10**digits)
    sign = "-" if value < 0 and rounded else ""
    text = f"{sign}{whole:,}" + (f".{part:0{digits}d}" if digits else "")
    return text if scaled.denominator == 1 else "≈" + text


def exact_money(minor: Fraction, currency: str, signed: bool = False) -> str:
    """An exact amount of minor units in major units, four more digits than the currency's
    (with a ``+`` before positive amounts when ``signed``)."""
    exponent = currency_exponent(currency)
    text = decimal(minor / 10**exponent, exponent + 4)
    if signed and minor > 0:
        text = text.replace("≈", "≈+") if text.startswith("≈") else "+" + text
    return f"{text} {currency}"


def short_fraction(value: Fraction) -> str:
    """A fraction for reading: exact when short, else a 6-digit decimal marked with ≈."""
    if value.denominator == 1:
        return str(value.numerator)
    text = f"{value.numerator}/{value.denominator}"
    return text if len(text) <= 11 else decimal(value, 6)


def share(value: Fraction) -> str:
    """A share of the pool as a percentage with two decimals: ``5.70%``."""
    return percent_text(value, 2)


def when(ts: str) -> str:
    """An RFC 3339 UTC time for people: ``2025-03-05 14:02 UTC``."""
    try:
        moment = datetime.fromisoformat(ts.replace("Z", "+00:00")).astimezone(UTC)
    except ValueError:
        return ts
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def event_times(store: LogStore, positions: Iterable[int]) -> dict[int, str]:
    """The envelope ``ts`` of each event at ``positions``."""
    found: dict[int, str] = {}
    for position in sorted(set(positions)):
        record = store.get(position)
        if record is not None:
            found[position] = orjson.loads(record.data)["ts"]
    return found


# -- campaigns -------------------------------------------------------------------------------


@dataclass(frozen=True)
class CampaignCard:
    id: str
    title: str
    currency: str
    pool: int
    starts_at: str
    ends_at: str
    closed: bool
    settled: bool
    members: int
    contributions: int


def campaign_cards(campaigns: Iterable[CampaignState]) -> list[CampaignCard]:
    """Every campaign, newest first, for the home page."""
    return [
        CampaignCard(
            c.id,
            c.title,
            c.currency,
            c.total_pool,
            c.starts_at,
            c.ends_at,
            c.closed_at is not None,
            c.settled is not None,
            sum(1 for m in c.members.values() if m.joined_at is not None),
            len(c.contributions),
        )
        for c in sorted(campaigns, key=lambda c: -c.opened_at)
    ]


@dataclass(frozen=True)
class Payee:
    rank: int
    member: str
    label: str
    share: str
    credit: Fraction
    amount: int
    capped: bool


@dataclass(frozen=True)
class LicenceRow:
    licence: str
    name: str
    contribution: str
    title: str
    status: str  # live, incomplete, revoked, expired, not started
    detail: str
    channels: str
    territory: str
    window: str
    reuses: int


TOP = 20  # rows of each growing list shown on the campaign page; the rest are paged


@dataclass(frozen=True)
class CampaignPage:
    """The campaign page: the top ``TOP`` of every growing list, with each list's total
    (``totals``) and the list pages (``api.web.lists_view``) linked for the rest."""

    campaign: CampaignState
    brand_label: str
    pool: int
    payees: list[Payee]  # the top TOP
    payee_count: int
    unpaid: int  # members in the campaign who earn nothing
    paid: int  # sum of every payee's amount
    chart: BarChart
    counts: dict[str, int]
    moderation: list[dict[str, Any]]  # the latest TOP decisions, newest first
    pending: list[dict[str, Any]]  # the first TOP not reviewed yet, oldest first
    # Co-author consent: the first TOP works pending a co-author's acceptance or declined by
    # one, oldest first, each with ``awaiting`` and ``declined_by`` as (id, name).
    unconsented: list[dict[str, Any]]
    reported: list[dict[str, Any]]  # the first TOP of the reports queue (most reported first)
    # The first TOP appeals awaiting the brand, oldest first (issue 19).
    appeals: list[dict[str, Any]]
    blocked: list[dict[str, Any]]
    licences: list[LicenceRow]
    reuses: list[dict[str, Any]]  # the latest TOP, newest first
    export_sha256: str
    settled: dict[str, Any] | None
    totals: dict[str, int] = field(default_factory=dict)
    formats: tuple[str, ...] = FORMATS
    labels: dict[str, str] = field(default_factory=dict)


def _licence_rows(state: CampaignState, labels: dict[str, str], today: str) -> list[LicenceRow]:
    grouped: dict[str, list[Any]] = {}
    for (licence, _), grant in sorted(state.grants.items(), key=lambda kv: kv[1].granted_at):
        grouped.setdefault(licence, []).append(grant)
    reuses: dict[str, int] = {}
    for reuse in state.reuses:
        reuses[reuse.licence] = reuses.get(reuse.licence, 0) + 1
    rows = []
    for licence, grants in grouped.items():
        work = state.contributions[grants[0].contribution]
        body = grants[0].body
        granted = {g.author for g in grants}
        revoked = [g for g in grants if g.revoked_at is not None]
        missing = sorted(work.author_ids - granted)
        if revoked:
            status = "revoked"
            detail = "revoked by " + ", ".join(
                f"{labels.get(g.author, g.author)} at position {g.revoked_at}" for g in revoked
            )
        elif missing or any(g.body != body for g in grants):
            status = "incomplete"
            detail = (
                "awaiting a matching grant from " + ", ".join(labels.get(m, m) for m in missing)
                if missing
                else "the co-authors granted different terms"
            )
        elif body.get("ends_at") is not None and body["ends_at"] <= today:
            status, detail = "expired", f"ended {when(body['ends_at'])}"
        elif body["starts_at"] > today:
            status, detail = "not started", f"starts {when(body['starts_at'])}"
        else:
            status, detail = "live", "every author granted it"
        territory = body["territory"]
        rows.append(
            LicenceRow(
                licence,
                licence.rsplit("/", 1)[1],
                work.id,
                work.title,
                status,
                detail,
                ", ".join(body["channels"]),
                territory if isinstance(territory, str) else ", ".join(territory),
                f"{body['starts_at'][:10]} → "
                + (body["ends_at"][:10] if body.get("ends_at") else "no end"),
                reuses.get(licence, 0),
            )
        )
    return rows


def campaign_page(
    projector: Projector,
    state: CampaignState,
    store: LogStore,
    labels: Labels,
    *,
    link: Callable[[str], str],
    top: int = TOP,
) -> CampaignPage:
    """Leaderboard and chart, moderation, licences and reuses, export hash of one campaign.

    Every growing list is cut to its first ``top`` rows; only the members those rows name
    are looked up (a profile read each), so the page costs the same at any campaign size.
    """
    row, standings = leaderboard(projector, state.id)
    works = state.contributions
    pool = row["pool"] + row["funded"]
    paying = [s for s in standings if s.amount > 0]
    shown = paying[:top]
    decisions = list(reversed(state.moderation[-top:])) if top else []
    open_works = sorted((w for w in works.values() if w.status == "open"), key=lambda w: w.position)
    unconsented = sorted((w for w in works.values() if w.unconsented), key=lambda w: w.position)
    blocked_members = sorted(
        (m for m in state.members.values() if m.blocked_at is not None),
        key=lambda m: m.blocked_at or 0,
    )
    reused = list(reversed(state.reuses[-top:])) if top else []
    queue = moderation_queue(projector, state.id, limit=max(1, top))
    waiting = sorted(
        (a for a in state.appeals.values() if a.outcome is None), key=lambda a: a.position
    )
    licensed = {grant.contribution for grant in state.grants.values()}
    people = (
        {state.brand}
        | {s.member for s in shown}
        | {a for m in decisions for a in works[m.contribution].author_ids}
        | {a for w in open_works[:top] for a in w.author_ids}
        | {a for w in unconsented[:top] for a in w.author_ids}
        | {a for q in queue.pieces[:top] for a in works[q.contribution].author_ids}
        | {q.signer for q in queue.pieces[:top] if q.comment is not None}
        | {a for ap in waiting[:top] for a in works[ap.contribution].author_ids}
        | {m.id for m in blocked_members[:top]}
        | {a for r in reused for a in works[r.contribution].author_ids}
        | {a for cid in licensed for a in works[cid].author_ids}
    )
    names = labels(sorted(people))
    payees = [
        Payee(
            s.rank,
            s.member,
            names.get(s.member, s.member),
            share(s.share),
            s.credit,
            s.amount,
            s.capped,
        )
        for s in shown
    ]
    chart = bar_chart(
        [BarInput(p.label, p.amount, link(p.member)) for p in payees]
        + [BarInput("", s.amount, "") for s in paying[top:]],
        pool,
        lambda amount: money(amount, state.currency),
    )
    statuses = {"open": 0, "accepted": 0, "rejected": 0, "removed": 0}
    for work in works.values():
        statuses[work.status] = statuses.get(work.status, 0) + 1
    times = event_times(store, [m.position for m in decisions] + [r.position for r in reused])

    def work_of(cid: str) -> dict[str, Any]:
        work = works[cid]
        return {
            "id": cid,
            "title": work.title,
            "kind": work.kind,
            "authors": [(a, names.get(a, a)) for a, _ in work.authors],
        }

    moderation = [
        {
            "position": m.position,
            "ts": times.get(m.position, ""),
            "outcome": m.outcome,
            "reason": m.reason,
            **{"work": work_of(m.contribution)},
        }
        for m in decisions
    ]
    pending = [{"position": w.position, "work": work_of(w.id)} for w in open_works[:top]]
    consent = [
        {
            "position": w.position,
            "work": work_of(w.id),
            "awaiting": [(m, names.get(m, m)) for m in w.awaiting],
            "declined_by": None
            if w.declined_by is None
            else (w.declined_by, names.get(w.declined_by, w.declined_by)),
        }
        for w in unconsented[:top]
    ]
    reported = [
        {
            "reports": q.reports,
            "reasons": [(reason, n) for reason, n in q.reasons.items() if n],
            "status": q.status,
            "work": work_of(q.contribution),
            "comment": None if q.comment is None else (q.comment, q.signer, names.get(q.signer)),
        }
        for q in queue.pieces[:top]
    ]
    appeals = [
        {
            "position": a.position,
            "against": a.against,
            "signer": works[a.contribution].signer,
            "work": work_of(a.contribution),
        }
        for a in waiting[:top]
    ]
    blocked = [
        {
            "member": m.id,
            "label": names.get(m.id, m.id),
            "reason": m.block_reason or "",
            "position": m.blocked_at,
        }
        for m in blocked_members[:top]
    ]
    reuses = [
        {
            "position": r.position,
            "ts": times.get(r.position, ""),
            "licence": r.licence,
            "channel": r.channel,
            "territory": r.territory,
            "distinct": r.distinct,
            "work": work_of(r.contribution),
        }
        for r in reused
    ]
    today = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    settlement = settlement_of(state)
    settled = None
    if state.settled is not None:
        at, body = state.settled
        settled = {
            "position": at,
            "export": body.get("export"),
            "matches": body.get("export") == settlement.sha256,
        }
    return CampaignPage(
        campaign=state,
        brand_label=names.get(state.brand, state.brand),
        pool=pool,
        payees=payees,
        payee_count=len(paying),
        unpaid=len(standings) - len(paying),
        paid=sum(s.amount for s in paying),
        chart=chart,
        counts=statuses,
        moderation=moderation,
        pending=pending,
        unconsented=consent,
        reported=reported,
        appeals=appeals,
        blocked=blocked,
        licences=_licence_rows(state, names, today),
        reuses=reuses,
        export_sha256=settlement.sha256,
        settled=settled,
        totals={
            "moderation": len(state.moderation),
            "pending": len(open_works),
            "unconsented": len(unconsented),
            "reported": queue.total,
            "reports": queue.reports,
            "appeals": len(state.appeals),
            "appeals_open": len(waiting),
            "blocked": len(blocked_members),
            "reuses": len(state.reuses),
            "members": len(state.members),
            "works": len(works),
        },
        labels=names,
    )
