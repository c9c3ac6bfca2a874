"""Disowned events do not count (issue 20, RULES.md "Disowned events").

A thief holding Ana's key votes, submits and reports; Ana rotates and states a
``KeyCompromised`` since the theft. The campaign is then computed as if those events were not
in the log: shares, payouts, explanations and the moderation queue; a bulk replay and a live
follow give the same rows, on SQLite and PostgreSQL, under cocred-fair v1 and v2.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson
import pytest

from domain.vocabulary import DEFAULT_POLICY_V1, DEFAULT_POLICY_V2, VOTE_WITHDRAWN
from ledger.key_events import KEY_COMPROMISED
from ledger.keys import SigningKey
from ledger.ledger import Ledger
from projections.baseline import fair_shares
from projections.campaign import CampaignState
from projections.errors import ProjectionFailedError
from projections.explain import explain
from projections.export import check_settlements, settlement_of
from projections.payments import check_payouts
from projections.projector import Projector
from projections.reports import moderation_queue
from projections.state import LogState
from tests.projections.builders import START, Script, replayed
from tests.projections.test_projector import dump

POLICIES = {"v1": DEFAULT_POLICY_V1, "v2": DEFAULT_POLICY_V2}


def honest(policy: str) -> tuple[Script, dict[str, str]]:
    """Ana, Ben, Cy and Dee join and submit; they vote for each other."""
    script = Script(pool=10_000, policy=dict(POLICIES[policy]))
    script.join("ana", "ben", "cy", "dee")
    pieces = {name: script.submit(name, f"{name}'s idea") for name in ("ana", "ben", "cy", "dee")}
    script.vote("ben", pieces["ana"], "share")
    script.vote("cy", pieces["ana"], "support")
    script.vote("ana", pieces["ben"], "support")
    script.vote("dee", pieces["cy"], "support")
    return script, pieces


def theft(script: Script, pieces: dict[str, str]) -> datetime:
    """The thief, with Ana's key: votes for Dee, submits a piece, reports Ben's; return when."""
    stolen_at = script.now()
    script.vote("ana", pieces["dee"], "share")
    script.vote("ana", pieces["dee"], "support")
    pieces["thief"] = script.submit("ana", "the thief's piece")
    script.report("ana", pieces["ben"], "spam")
    return stolen_at


def recover(script: Script, stolen_at: datetime) -> SigningKey:
    """Ana rotates away from the stolen key and disowns what it signed since the theft."""
    old = script.rotate("ana")
    script.compromised("ana", old, stolen_at)
    return old


def stolen(policy: str) -> tuple[Script, dict[str, str], SigningKey]:
    script, pieces = honest(policy)
    old = recover(script, theft(script, pieces))
    script.vote("ben", pieces["dee"], "support")  # after the statement: counts
    return script, pieces, old


def twin(policy: str) -> Script:
    """The same campaign with no theft: Ana rotates and Ben votes as in ``stolen``."""
    script, pieces = honest(policy)
    old = script.rotate("ana")
    script.compromised("ana", old, script.now())
    script.vote("ben", pieces["dee"], "support")
    return script


def payouts(state: CampaignState) -> dict[str, int]:
    return dict(settlement_of(state).payees)


@pytest.mark.parametrize("policy", ["v1", "v2"])
def test_a_thiefs_votes_submissions_and_reports_do_not_count_once_disowned(policy: str) -> None:
    script, pieces, old = stolen(policy)
    state = replayed(script.records()).campaign(script.campaign)
    clean = replayed(twin(policy).records()).campaign(script.campaign)
    assert fair_shares(state) == fair_shares(clean)
    assert payouts(state) == payouts(clean)
    assert pieces["thief"] not in state.contributions
    assert state.reports == []
    ana = script.id("ana")
    assert state.members[ana].votes == clean.members[ana].votes
    position = len(script.log) - 2  # the statement, before Ben's last vote
    sentence = (
        f"4 events signed by {ana} with key {old.key_id} from "
        f"{pieces_time(script, position)} were disowned by the member (KeyCompromised at "
        f"position {position}) and do not count"
    )
    for name in ("ana", "dee"):
        found = explain(state, script.id(name), len(script.log)).to_json()["ignored"]
        assert {"position": position, "event": KEY_COMPROMISED, "reason": sentence} in found


def pieces_time(script: Script, position: int) -> str:
    """The ``since`` of the statement at ``position``."""
    since: str = orjson.loads(script.records()[position].data)["body"]["since"]
    return since


@pytest.mark.parametrize("policy", ["v1", "v2"])
def test_without_a_statement_the_thiefs_events_count(policy: str) -> None:
    script, pieces = honest(policy)
    theft(script, pieces)
    state = replayed(script.records()).campaign(script.campaign)
    assert pieces["thief"] in state.contributions
    assert len(state.reports) == 1


def test_a_bulk_replay_and_a_live_follow_give_the_same_rows(ledger: Ledger) -> None:
    script, pieces, _ = stolen("v1")
    live = Projector(ledger.store, page=3)  # pages that cross the statement
    for i in range(0, len(script.pending), 2):  # the log appended a little at a time
        ledger.append_batch(script.pending[i : i + 2])
        live.catch_up()
    script.pending = []
    try:
        rows = dump(live)
        live.rebuild()
        assert dump(live) == rows
        assert moderation_queue(live, script.campaign).pieces == []
        assert pieces["thief"] not in {row[1] for row in rows["proj_contributions"]}
        state = live.current().campaign(script.campaign)
        assert payouts(state) == payouts(replayed(twin("v1").records()).campaign(script.campaign))
    finally:
        live.close()


def test_a_projector_that_starts_after_the_statement_rebuilds_the_same_rows(
    ledger: Ledger,
) -> None:
    script, _, _ = stolen("v2")
    script.flush(ledger)
    first = Projector(ledger.store)
    try:
        first.catch_up()
        rows = dump(first)
        first.state = None  # a new process: replays the log in memory, writes nothing
        assert first.current().position == ledger.size()
        assert dump(first) == rows
    finally:
        first.close()


def test_a_statement_after_the_close_changes_nothing_and_is_recorded(ledger: Ledger) -> None:
    script, pieces = honest("v1")
    stolen_at = theft(script, pieces)
    script.close()
    before = replayed(script.records()).campaign(script.campaign)
    found = settlement_of(before)
    script.propose(found.sha256, found.payees, 10_000)
    script.settle(found.sha256, total=10_000, lines=len(found.lines))
    old = recover(script, stolen_at)
    state = replayed(script.records()).campaign(script.campaign)
    assert payouts(state) == payouts(before)
    assert pieces["thief"] in state.contributions
    position = len(script.log) - 1
    ana = script.id("ana")
    sentence = (
        f"4 events signed by {ana} with key {old.key_id} from "
        f"{pieces_time(script, position)} were disowned by the member (KeyCompromised at "
        f"position {position}) but still count: the campaign was closed at position "
        f"{before.closed_at}, before the statement"
    )
    assert (position, sentence) in state.disowned
    script.flush(ledger)  # the auditor recomputes the settled payouts as they were
    assert check_settlements(ledger.store) == (1, [])
    assert check_payouts(ledger.store) == (2, [])


def test_the_audit_recomputes_payouts_settled_after_a_statement_without_the_events(
    ledger: Ledger,
) -> None:
    script, _, _ = stolen("v1")
    script.close()
    found = settlement_of(replayed(script.records()).campaign(script.campaign))
    script.propose(found.sha256, found.payees, 10_000)
    script.settle(found.sha256, total=10_000, lines=len(found.lines))
    script.flush(ledger)
    assert check_payouts(ledger.store) == (2, [])
    clean = twin("v1")
    clean.close()
    assert found.payees == payouts(replayed(clean.records()).campaign(script.campaign))


def test_a_licence_the_brand_relied_on_still_counts(ledger: Ledger) -> None:
    script, pieces = honest("v1")
    stolen_at = script.now()
    licence = script.grant(pieces["ana"], ["ana"])  # with the stolen key
    script.reuse(pieces["ana"], licence)
    old = recover(script, stolen_at)
    state = replayed(script.records()).campaign(script.campaign)
    assert len(state.reuses) == 1
    position = len(script.log) - 1
    assert state.disowned == [
        (
            position,
            f"1 event signed by {script.id('ana')} with key {old.key_id} from "
            f"{pieces_time(script, position)} was disowned by the member (KeyCompromised at "
            f"position {position}) but still count: a consent another party relied on is "
            f"withdrawn, not undone",
        )
    ]


def test_a_statement_leaves_other_members_events_counted() -> None:
    script, pieces = honest("v1")
    stolen_at = script.now()
    script.vote("ben", pieces["dee"], "support")  # Ben, after the theft, with his own key
    recover(script, stolen_at)
    state = replayed(script.records()).campaign(script.campaign)
    assert (pieces["dee"], "support") in {
        (c, k) for c, k in state.require_scorer().votes[script.id("ben")]
    }
    assert state.disowned == []


def test_a_state_without_its_log_refuses_a_statement_it_cannot_apply() -> None:
    script, pieces, _ = stolen("v1")
    state = LogState()
    records: Any = iter(script.records())  # no source: the state cannot read back
    with pytest.raises(ProjectionFailedError) as caught:
        state.apply_all(records)
    position = len(script.log) - 2
    assert caught.value.detail == (
        f"position {position} ({KEY_COMPROMISED} by {script.id('ana')}): the state cannot "
        f"recompute the campaigns without the log it replays (LogState.replay sets it)"
    )


def test_the_member_withdraws_the_thiefs_vote_and_casts_her_own() -> None:
    script, pieces = honest("v1")
    stolen_at = script.now()
    script.vote("ana", pieces["dee"], "share")  # the thief
    recover(script, stolen_at)
    script.withdraw("ana", pieces["dee"], "share")  # the gate still holds the thief's vote
    script.vote("ana", pieces["dee"], "support")  # then hers, with her new key
    state = replayed(script.records()).campaign(script.campaign)
    ana = script.id("ana")
    assert set(state.members[ana].votes) == {(pieces["ben"], "support"), (pieces["dee"], "support")}
    assert [(i.type, i.reason) for i in state.ignored] == [
        (VOTE_WITHDRAWN, "no such vote to withdraw")
    ]


def test_a_campaign_a_thief_opened_with_the_brands_key_is_gone_once_disowned() -> None:
    script = Script(pool=1000)
    script.join("ana")
    script.submit("ana")
    recover_brand = script.rotate("brand")
    script.compromised("brand", recover_brand, START)
    assert script.campaign not in replayed(script.records()).campaigns
