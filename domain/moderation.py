"""Moderation: the brand accepts, rejects or removes a contribution, with a reason code.

The latest outcome stands, except that removal is final: a removed contribution
gains no votes, remixes, licences, reuses or further moderation.
"""

from __future__ import annotations

from dataclasses import replace

from domain.campaign import campaign_of, require_owner
from domain.contributions import Contribution, contribution_in, require_not_removed
from domain.state import Rule, State
from domain.values import Fact, code, constants, contribution_ref, expect_keys, one_of, sha256_hex
from domain.vocabulary import CONTRIBUTION_MODERATED, MODERATION_OUTCOMES

OUTCOMES = constants(*MODERATION_OUTCOMES)
_FIELDS = frozenset({"contribution", "outcome", "reason", "note"})


def check_moderated(state: State, ev: Fact) -> Contribution:
    body = expect_keys(ev, _FIELDS)
    cid = contribution_ref(ev, "contribution", body["contribution"])
    outcome = one_of(ev, "outcome", body["outcome"], OUTCOMES)
    code(ev, "reason", body["reason"])
    if body["note"] is not None:
        sha256_hex(ev, "note", body["note"])
    campaign = campaign_of(state, ev)
    require_owner(campaign, ev, "moderate contributions")
    found = contribution_in(state, campaign.id, cid)
    require_not_removed(found, "further moderation")
    return replace(found, outcome=outcome)


def store_moderated(state: State, ev: Fact, found: Contribution) -> None:
    state.put(state.contributions, found.id, found)


RULES = {CONTRIBUTION_MODERATED: Rule(check_moderated, store_moderated)}
