"""Explanations under cocred-fair v2: each vote's weight with its factors, and the sentences
that justify every discount (RULES.md v2, rule V9).

``sources_v2`` gives, for one contribution, each counted vote (and distinct reuse) with its
v2 weight; the weights add up to the contribution's score (before the support threshold).
``discounts_v2`` gives the sentences about a member's own votes and about the votes their
work received, shown by ``cocred explain`` and on the contributor page.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from domain.vocabulary import REUSE_RECORDED, VOTE_CAST
from projections.campaign import CampaignState
from projections.exact import fraction_text, percent_text
from projections.fair_v2 import ScorerV2

ONE = Fraction(1)


def _short(member: str) -> str:
    return member[:12] + "…" if len(member) > 13 else member


def sources_v2(
    state: CampaignState, scorer: ScorerV2, cid: str
) -> list[tuple[int, str, str, str, Fraction, dict[str, str]]]:
    """(position, event, actor, detail, weight, factors) of every source of ``cid``'s score.

    A voter's kinds on one contribution are weighed together (the stacking cap), so each
    kind's item carries its kind weight's part of the voter's counted weight.
    """
    contribution = state.contributions[cid]
    policy = scorer.policy
    found: list[tuple[int, str, str, str, Fraction, dict[str, str]]] = []
    for (voter, kind), position in contribution.votes.items():
        if (cid, kind) not in scorer.votes.get(voter, {}):
            continue
        flow = scorer.result.votes.get((voter, cid))
        if flow is None or not flow.raw:
            continue
        counted = flow.independent + flow.bounded
        weight = counted * policy.weight(kind) / flow.raw
        factors = {
            "kind": str(policy.weight(kind)),
            "stacking cap": f"{flow.capped}/{flow.raw}",
            "budget": fraction_text(flow.budget),
        }
        if flow.self_part:
            factors["self"] = f"{fraction_text(1 - flow.self_part)} (the rest returns to the voter)"
        if flow.dependent:
            factors["dependent"] = (
                f"{fraction_text(flow.dependent)} of {fraction_text(flow.value)}, counted "
                f"{fraction_text(flow.bounded)} (the bound on what its recipients get)"
            )
        found.append((position, VOTE_CAST, voter, kind, weight, factors))
    for (channel, territory), position in contribution.reuse_keys.items():
        factors = {"reuse_weight": str(policy.reuse_weight)}
        weight = Fraction(policy.reuse_weight)
        found.append(
            (position, REUSE_RECORDED, state.brand, f"{channel}/{territory}", weight, factors)
        )
    return found


def discounts_v2(state: CampaignState, scorer: ScorerV2, member: str) -> list[str]:
    """Every v2 discount that touched the member's votes or their work, as sentences."""
    result = scorer.result
    out: list[str] = []
    mine = sorted(
        (flow for (voter, _), flow in result.votes.items() if voter == member),
        key=lambda flow: state.contributions[flow.contribution].position,
    )
    returned = [flow for flow in mine if flow.self_part]
    if returned:
        via = ", ".join(sorted({flow.contribution for flow in returned}))
        out.append(
            f"{len(returned)} of your votes came back to your own work through remix {via} "
            f"and were not counted for that part"
        )
    stacked = [flow for flow in mine if flow.capped < flow.raw]
    if stacked:
        cap = scorer.policy.contribution_cap
        out.append(
            f"on {len(stacked)} contribution(s) you cast several kinds weighing more than "
            f"{cap}; one member counts at most {cap} on one contribution"
        )
    budget = result.budget.get(member, ONE)
    if budget < 1:
        out.append(
            f"your votes weigh more than the budget of {scorer.policy.weight_budget}: each "
            f"counts {fraction_text(budget)} of its weight"
        )
    if mine and member not in result.seeds:
        out.append(
            "you have no standing in this campaign yet (the brand has not vouched for you, "
            "you have no tenure in its earlier campaigns and no accepted or reused work): "
            "your votes count in the bounded, dependent part of each contribution's support"
        )
    circulating = [flow for flow in mine if flow.circulating]
    if circulating:
        part = sum((f.circulating for f in circulating), Fraction(0)) / sum(
            (f.value for f in circulating), Fraction(0)
        )
        out.append(
            f"{percent_text(part)} of the weight of {len(circulating)} of your votes goes to "
            f"members whose votes come back to you (directly or through one other member): "
            f"that part counts in the bounded, dependent part"
        )
    for cid in state.members[member].authored:
        work = state.contributions[cid]
        if work.declined_by is not None:
            out.append(
                f"your contribution {cid} was declined by co-author {_short(work.declined_by)}: "
                f"it earns nothing"
            )
        elif work.awaiting:
            waiting = ", ".join(_short(m) for m in work.awaiting)
            out.append(
                f"your contribution {cid} awaits the consent of co-author(s) {waiting}: it earns "
                f"nothing until each accepts"
            )
    factor = result.member_bound.get(member, ONE)
    if factor < 1:
        out.append(
            f"the dependent support your work received, "
            f"{fraction_text(result.member_dependent[member])}, counted only up to "
            f"{fraction_text(scorer.policy.dependent_bound)} x its independent support "
            f"{fraction_text(result.member_independent[member])} (x {fraction_text(factor)})"
        )
    return out


def discounts_json(sentences: list[str]) -> list[dict[str, Any]]:
    return [{"sentence": s} for s in sentences]
