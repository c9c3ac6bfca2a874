"""Explanations: every cent of a member's payout traced back to the events that produced it.

A member's credit is a sum of *items*, one per (source event, own contribution):
a counted vote or a distinct reuse that landed on contribution ``d`` gives
``weight x path(d -> c) x keep(c) x percent/100`` to each contribution ``c`` the
member (co-)authored and that ``d`` derives from (``d = c`` included), where
``path`` is the product of the remix shares along the derivation chain, summed
over chains. The items add up to the member's credit exactly; their exact
amounts (``pool x item / total credit``) add up to the base amount; cap and
minimum-payout adjustments and rounding are the remaining lines; and the
integer cents of the payout are dealt to the items by largest remainder (ties
in log order), so the items' cents add up to the payout exactly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, NamedTuple

from domain.vocabulary import (
    CAMPAIGN_CLOSED,
    COAUTHORSHIP_DECLINED,
    COMMENT,
    COMMENT_HIDDEN,
    CONTRIBUTION_MODERATED,
    CONTRIBUTION_SUBMITTED,
    REINSTATED,
    REUSE_RECORDED,
    UNREVIEWED_REJECT,
    VOTE_CAST,
)
from ledger.canonical import json_fields
from ledger.key_events import KEY_COMPROMISED
from projections.campaign import CampaignState, consent_state
from projections.errors import UnknownMemberError
from projections.exact import fraction_text, major_units
from projections.explain_v2 import discounts_v2, sources_v2
from projections.fair_v2 import ScorerV2
from projections.payouts import PayoutLine, split_pool
from projections.scoring import ZERO

EXPLANATION_FORMAT = "cocred-explanation/1"


@dataclass(frozen=True, slots=True)
class Item:
    """One source event's credit to one of the member's contributions."""

    position: int
    event: str  # VoteCast or ReuseRecorded
    actor: str  # the voter, or the brand
    detail: str  # vote kind, or "channel/territory"
    landed_on: str  # the contribution the event was about
    credited: str  # the member's contribution that receives part of it
    weight: Fraction  # the event's weight on ``landed_on``
    factors: dict[str, str]  # how the weight was made (kind weight, budget, cluster...)
    path: Fraction  # product of remix shares from landed_on to credited
    keep: Fraction  # what ``credited`` keeps after passing shares to its own sources
    percent: int  # the member's author percent of ``credited``
    credit: Fraction
    exact: Fraction  # pool x credit / total credit, in minor units
    cents: int = 0

    def to_json(self) -> dict[str, Any]:
        return json_fields(
            self,
            weight=fraction_text(self.weight),
            path=fraction_text(self.path),
            keep=fraction_text(self.keep),
            credit=fraction_text(self.credit),
            exact=fraction_text(self.exact),
        )


@dataclass(frozen=True, slots=True)
class Explanation:
    """Why a member earns what they earn in a campaign, as of a log position."""

    campaign: str
    member: str
    as_of: int
    currency: str
    pool: int
    total_credit: Fraction
    credit: Fraction
    blocked: bool
    line: PayoutLine | None
    items: tuple[Item, ...]
    ignored: tuple[dict[str, Any], ...]
    discounts: tuple[str, ...] = ()  # cocred-fair v2: the sentence of every discount
    # The review phase and appeals (issue 19): what the close's ``unreviewed`` and each appeal
    # did to the member's work, as sentences (empty, and left out of the JSON, without them).
    review: tuple[str, ...] = ()

    @property
    def payout(self) -> int:
        return self.line.amount if self.line else 0

    def to_json(self) -> dict[str, Any]:
        line = self.line
        return {
            "format": EXPLANATION_FORMAT,
            "campaign": self.campaign,
            "member": self.member,
            "as_of": self.as_of,
            "currency": self.currency,
            "pool": self.pool,
            "total_credit": fraction_text(self.total_credit),
            "credit": fraction_text(self.credit),
            "blocked": self.blocked,
            "share": fraction_text(line.share) if line else "0/1",
            "base": fraction_text(line.base) if line else "0/1",
            "adjustment": fraction_text(line.adjustment) if line else "0/1",
            "capped": bool(line and line.capped),
            "below_minimum": bool(line and line.below_minimum),
            "rounding": fraction_text(line.rounding) if line else "0/1",
            "payout": self.payout,
            "items": [item.to_json() for item in self.items],
            "ignored": list(self.ignored),
            **({"discounts": list(self.discounts)} if self.discounts else {}),
            **({"review": list(self.review)} if self.review else {}),
        }

    def to_text(self) -> str:
        """A report for people: the totals, then every item with its cents."""

        def money(cents: int) -> str:
            return f"{major_units(cents, self.currency)} {self.currency}"

        line = self.line
        out = [
            f"campaign {self.campaign}, member {self.member}, as of log position {self.as_of}",
            f"credit {_short(self.credit)} of {_short(self.total_credit)} "
            f"-> share {_short(line.share) if line else 0} of the pool {money(self.pool)}",
        ]
        if self.blocked:
            out.append("the member is blocked in this campaign: nothing is paid")
        if line:
            out.append(f"base amount          {_short(line.base)} minor units")
            if line.adjustment:
                why = "cap" if line.capped else "minimum payout" if line.below_minimum else ""
                out.append(f"cap/minimum moved    {_short(line.adjustment)} ({why or 'shared'})")
            out.append(f"rounding             {_short(line.rounding)}")
        out.append(f"payout               {money(self.payout)}")
        out.append(f"{len(self.items)} item(s); cents add up to the payout:")
        for item in self.items:
            via = "" if item.landed_on == item.credited else f" via {item.landed_on}"
            out.append(
                f"  @{item.position} {item.event} {item.detail} by {item.actor[:12]}… on "
                f"{item.credited}{via}: weight {_short(item.weight)} "
                f"[{', '.join(f'{k} {v}' for k, v in item.factors.items())}] x path "
                f"{_short(item.path)} x keep {_short(item.keep)} x {item.percent}% "
                f"= {_short(item.credit)} -> {item.cents} cents"
            )
        for sentence in self.discounts:
            out.append(f"  discount: {sentence}")
        for sentence in self.review:
            out.append(f"  review: {sentence}")
        for entry in self.ignored:
            out.append(f"  ignored @{entry['position']} {entry['event']}: {entry['reason']}")
        return "\n".join(out)


def _short(value: Fraction) -> str:
    """A fraction for reading: exact when short, else a 6-digit decimal marked with ~."""
    if value.denominator == 1:
        return str(value.numerator)
    text = f"{value.numerator}/{value.denominator}"
    if len(text) <= 15:
        return text
    scaled = round(value * 10**6)
    sign = "-" if scaled < 0 else ""
    whole, part = divmod(abs(scaled), 10**6)
    return f"~{sign}{whole}.{part:06d}"


def _cone(state: CampaignState, root: str) -> dict[str, Fraction]:
    """path(d -> root) for root and every eligible descendant d (remixes of remixes…)."""
    contributions = state.contributions
    paths = {root: Fraction(1)}
    frontier = [root]
    found = {root}
    while frontier:  # collect the descendants first, then sum paths in log order
        for child in contributions[frontier.pop()].children:
            if child not in found and not contributions[child].excluded:
                found.add(child)
                frontier.append(child)
    for cid in sorted(found - {root}, key=lambda c: contributions[c].position):
        total = ZERO
        for parent in contributions[cid].parents:
            if parent.contribution in paths and not contributions[parent.contribution].excluded:
                total += parent.share * paths[parent.contribution]
        paths[cid] = total
    return paths


def explain(state: CampaignState, member: str, as_of: int) -> Explanation:
    """The explanation of ``member``'s payout; ``UnknownMemberError`` if never in the campaign.

    Raises ``UnsupportedPolicyError`` for a policy other than cocred-fair v1.
    """
    scorer = state.require_scorer()
    if member not in state.members:
        raise UnknownMemberError(
            f"member {member} has no part in campaign {state.id}", member=member
        )
    policy = scorer.policy
    lines = split_pool(
        scorer.payable(),
        state.total_pool,
        cap=policy.per_person_cap,
        min_payout=policy.min_payout,
    )
    line = next((x for x in lines if x.member == member), None)
    total = scorer.total
    pool = state.total_pool
    payable = bool(total) and member not in scorer.blocked
    drafts: list[tuple[Source, str, str, Fraction, Fraction, int, Fraction]] = []
    ignored: list[dict[str, Any]] = []
    weights: dict[tuple[Any, ...], tuple[Fraction, dict[str, str]]] = {}
    for cid in state.members[member].authored:
        contribution = state.contributions[cid]
        node = scorer.nodes[cid]
        if contribution.declined_by is not None and contribution.declined_at is not None:
            reason = f"{cid} was {consent_state(contribution)}: it earns nothing"
            ignored.append(_note(contribution.declined_at, COAUTHORSHIP_DECLINED, reason))
            continue
        if contribution.awaiting:
            reason = f"{cid} is {consent_state(contribution)}: it earns nothing until each accepts"
            ignored.append(_note(contribution.position, CONTRIBUTION_SUBMITTED, reason))
            continue
        if contribution.unreviewed == UNREVIEWED_REJECT and state.closed_at is not None:
            reason = f"{cid} {UNREVIEWED_REJECTED}: it earns nothing"
            ignored.append(_note(state.closed_at, CAMPAIGN_CLOSED, reason))
            continue
        if contribution.excluded:
            reason = f"{cid} is {contribution.status}: it earns nothing"
            ignored.append(_note(contribution.position, CONTRIBUTION_MODERATED, reason))
            continue
        percent = contribution.percent_of(member)
        for landed, path in _cone(state, cid).items():
            source = state.contributions[landed]
            if not path:
                continue
            landed_node = scorer.nodes[landed]
            if landed_node.score == 0:
                if landed_node.support or landed_node.reuses:
                    threshold = scorer.policy.support_threshold
                    reason = f"{landed} is below the support threshold of {threshold}"
                    ignored.append(_note(source.position, CONTRIBUTION_SUBMITTED, reason))
                continue
            factor = path * node.keep * percent / 100  # from ``landed`` to the member
            for found in _sources(state, landed, weights):
                drafts.append((found, landed, cid, path, node.keep, percent, found.weight * factor))
        for (voter, kind), position in contribution.votes.items():
            if (cid, kind) not in scorer.votes.get(voter, {}):
                hidden = state.silenced(cid, voter) if kind == COMMENT else None
                if hidden is not None and hidden.hidden is not None:
                    at, reason = hidden.hidden
                    why = (
                        f"the comment {hidden.id} by {voter} on {cid} was hidden by the brand "
                        f"({reason}) and no longer counts"
                    )
                    ignored.append(_note(at, COMMENT_HIDDEN, why))
                    continue
                why = "its voter is blocked" if state.members[voter].blocked else "weight 0"
                ignored.append(_note(position, VOTE_CAST, f"{kind} by {voter}: {why}"))
    for at, why in state.disowned:  # what a KeyCompromised took out of the campaign
        ignored.append(_note(at, KEY_COMPROMISED, why))
    drafts.sort(key=lambda draft: (draft[0].position, draft[2]))
    credits = [draft[6] for draft in drafts]
    cents = _deal(credits, line.amount if line else 0)
    exact = _exact(credits, pool, total) if payable else [ZERO] * len(credits)
    items = tuple(
        Item(
            found.position,
            found.event,
            found.actor,
            found.detail,
            landed,
            cid,
            found.weight,
            found.factors,
            path,
            keep,
            percent,
            credit,
            exact[i],
            cents[i],
        )
        for i, (found, landed, cid, path, keep, percent, credit) in enumerate(drafts)
    )
    return Explanation(
        campaign=state.id,
        member=member,
        as_of=as_of,
        currency=state.currency,
        pool=pool,
        total_credit=total,
        credit=scorer.credit.get(member, ZERO),
        blocked=member in scorer.blocked,
        line=line,
        items=items,
        ignored=tuple(sorted(ignored, key=lambda entry: (entry["position"], entry["reason"]))),
        discounts=tuple(discounts_v2(state, scorer, member))
        if isinstance(scorer, ScorerV2)
        else (),
        review=tuple(review_sentences(state, member)),
    )


UNREVIEWED_REJECTED = "was not reviewed before the close; the brand closed with unreviewed: reject"
UNREVIEWED_ACCEPTED = "was not reviewed before the close; the brand closed with unreviewed: accept"


def review_sentences(state: CampaignState, member: str) -> list[str]:
    """What the close's ``unreviewed`` and the appeals did to ``member``'s work, in the order
    of the work."""
    out: list[str] = []
    for cid in state.members[member].authored:
        work = state.contributions[cid]
        if work.unreviewed == UNREVIEWED_REJECT:
            out.append(f"your contribution {cid} {UNREVIEWED_REJECTED}: it earns nothing")
        elif work.unreviewed is not None:
            out.append(f"your contribution {cid} {UNREVIEWED_ACCEPTED}: it earns as accepted")
        if work.appeal is None:
            continue
        appeal = state.appeals[work.appeal]
        if appeal.outcome == REINSTATED:
            out.append(
                f"your contribution {cid} was {appeal.against}, appealed (@{appeal.position}) "
                f"and reinstated by the brand (@{appeal.decided_at}): it earns again"
            )
        elif appeal.outcome is not None:
            out.append(
                f"your contribution {cid} was {appeal.against}, appealed (@{appeal.position}); "
                f"the brand upheld the decision (@{appeal.decided_at}): it earns nothing"
            )
        else:
            out.append(
                f"your contribution {cid} was {appeal.against} and appealed "
                f"(@{appeal.position}): the brand has not decided yet; it earns nothing "
                f"unless reinstated"
            )
    return out


def _note(position: int, event: str, reason: str) -> dict[str, Any]:
    return {"position": position, "event": event, "reason": reason}


class Source(NamedTuple):
    """A counted vote or a distinct reuse on one contribution, with its weight."""

    position: int
    event: str
    actor: str
    detail: str
    weight: Fraction
    factors: dict[str, str]


def _sources(
    state: CampaignState,
    cid: str,
    cache: dict[tuple[Any, ...], tuple[Fraction, dict[str, str]]],
) -> list[Source]:
    """Every event that gives ``cid`` its score (weights shared through ``cache``)."""
    scorer = state.require_scorer()
    if isinstance(scorer, ScorerV2):
        return [Source(*found) for found in sources_v2(state, scorer, cid)]
    policy = scorer.policy
    contribution = state.contributions[cid]
    node = scorer.nodes[cid]
    found: list[Source] = []
    for (voter, kind), position in contribution.votes.items():
        if (cid, kind) not in scorer.votes.get(voter, {}):
            continue  # not counted (blocked voter, weight 0)
        grid_budget, voter_cluster = scorer.posted[voter]
        key = (kind, grid_budget, *scorer.cluster_key(voter_cluster, node), node.bound)
        if key not in cache:
            budget, inside, discount, size = scorer.vote_factors(voter, cid)
            factors = {"kind": str(policy.weight(kind)), "budget": fraction_text(budget)}
            cluster = 1 - inside + inside * discount * node.bound
            if size:
                factors["cluster"] = (
                    f"{fraction_text(cluster)} ({fraction_text(inside)} of the authors in the "
                    f"voter's cluster of {size}: discount {fraction_text(discount)}, bound "
                    f"{fraction_text(node.bound)})"
                )
            cache[key] = (policy.weight(kind) * budget * cluster, factors)
        weight, factors = cache[key]
        found.append(Source(position, VOTE_CAST, voter, kind, weight, factors))
    for (channel, territory), position in contribution.reuse_keys.items():
        factors = {"reuse_weight": str(policy.reuse_weight)}
        detail = f"{channel}/{territory}"
        weight = Fraction(policy.reuse_weight)
        found.append(Source(position, REUSE_RECORDED, state.brand, detail, weight, factors))
    return found


def _scaled(credits: list[Fraction]) -> tuple[list[int], int]:
    """The credits as integers over one common denominator (exact and fast to compare)."""
    common = math.lcm(*{credit.denominator for credit in credits}) if credits else 1
    return [c.numerator * (common // c.denominator) for c in credits], common


def _deal(credits: list[Fraction], cents: int) -> list[int]:
    """Each item's integer cents of ``cents``, in proportion to its credit (largest
    remainder, ties in item order)."""
    numerators, _ = _scaled(credits)
    total = sum(numerators)
    if not total or not cents:
        return [0] * len(credits)
    floors, remainders = [], []
    for numerator in numerators:
        floor, remainder = divmod(cents * numerator, total)
        floors.append(floor)
        remainders.append(remainder)
    order = sorted(range(len(credits)), key=lambda i: (-remainders[i], i))
    for i in order[: cents - sum(floors)]:
        floors[i] += 1
    return floors


def _exact(credits: list[Fraction], pool: int, total: Fraction) -> list[Fraction]:
    """``pool x credit / total`` for each credit, in minor units."""
    numerators, common = _scaled(credits)
    scale = pool * total.denominator
    below = common * total.numerator
    return [Fraction(scale * numerator, below) for numerator in numerators]
