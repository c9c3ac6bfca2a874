"""The gate: batches checked in order, all or nothing, and conditional appends that retry."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Sequence
from datetime import timedelta

import pytest

from api.bootstrap import bootstrap
from api.settings import Settings
from domain import commands
from domain.errors import (
    AppendContentionError,
    DuplicateCampaignError,
    SelfVoteError,
    UnknownEventTypeError,
)
from domain.gate import CampaignApp
from domain.values import Fact
from ledger.envelope import sign_envelope
from ledger.errors import SignatureError
from ledger.verify import verify_log
from tests.domain.conftest import CAMPAIGN, World, open_world
from tests.support import registration, seeded_key


def _seq(w: World, who, ahead: int = 0) -> int:  # noqa: ANN001
    return w.svc.ledger.next_seq(who.actor) + ahead


def test_a_batch_sees_its_own_earlier_events(world: World) -> None:
    w = world
    seq = _seq(w, w.ana)
    work = f"{w.ana.actor}:{seq}"
    batch = [
        commands.contribution_submitted(
            w.ana, CAMPAIGN, content="a" * 64, kind="idea", title="Kite", seq=seq, at=w.now
        ),
        commands.vote_cast(w.ben, CAMPAIGN, work, "support", seq=_seq(w, w.ben), at=w.now),
    ]
    positions = w.c.gate.append_batch(batch)
    assert positions == [w.size() - 2, w.size() - 1]
    assert w.c.gate.read(lambda s: (work, w.ben.actor, "support") in s.votes)


def test_a_refused_event_names_its_index_and_undoes_the_events_before_it(world: World) -> None:
    w = world
    seq = _seq(w, w.ana)
    work = f"{w.ana.actor}:{seq}"
    batch = [
        commands.contribution_submitted(
            w.ana, CAMPAIGN, content="a" * 64, kind="idea", title="Kite", seq=seq, at=w.now
        ),
        commands.vote_cast(w.ana, CAMPAIGN, work, "support", seq=seq + 1, at=w.now),
    ]
    size, state = w.size(), w.snapshot()
    with pytest.raises(SelfVoteError) as caught:
        w.c.gate.append_batch(batch)
    assert caught.value.detail == (
        f"event 1 of the batch: member {w.ana.actor} is an author of contribution {work}: "
        f"nobody votes on their own work"
    )
    assert caught.value.ids["index"] == 1
    assert caught.value.ids["contribution"] == work
    assert (w.size(), w.snapshot()) == (size, state)


def test_ledger_refusals_come_first_and_leave_the_state_alone(world: World) -> None:
    w = world
    good = commands.member_invited(w.brand, CAMPAIGN, w.dee.actor, seq=_seq(w, w.brand), at=w.now)
    forged = sign_envelope(w.ana, "MemberJoined", {"guidelines": "0" * 64}, seq=_seq(w, w.ana))
    forged = type(forged).from_json({**forged.to_json(), "campaign": CAMPAIGN})  # sig breaks
    state = w.snapshot()
    with pytest.raises(SignatureError):
        w.c.gate.append_batch([good, forged])
    assert w.snapshot() == state


def test_key_events_pass_and_other_types_are_refused(world: World) -> None:
    w = world
    newcomer = seeded_key(150)
    assert w.c.gate.append(registration(newcomer)) == w.size() - 1
    with pytest.raises(UnknownEventTypeError):
        w.c.gate.append(sign_envelope(newcomer, "IdeaShared", {"text": "hi"}, seq=2))


class _Racing(CampaignApp):
    """A gate that lets a rival append while it is checking (the worst moment)."""

    def __init__(self, ledger, rival: CampaignApp, rival_events: list) -> None:  # noqa: ANN001
        super().__init__(ledger, retries=3)
        self.rival, self.rival_events = rival, rival_events

    def _check(self, events: Sequence[Fact]) -> None:
        super()._check(events)
        if self.rival_events:
            self.rival.append(self.rival_events.pop(0))


def test_a_gate_that_loses_a_race_catches_up_and_checks_again(store_url: str) -> None:
    settings = Settings(database_url=store_url, verify_threads=1)
    with bootstrap(settings) as left, bootstrap(settings) as right:
        brand, rival = seeded_key(201), seeded_key(202)
        left.campaigns.gate.append_batch([registration(brand), registration(rival)])
        now = left.campaigns.clock()

        def opening(key, seq):  # noqa: ANN001, ANN202
            return commands.campaign_opened(
                key,
                "race-26",
                title="Race",
                guidelines="0" * 64,
                starts_at=now,
                ends_at=now + timedelta(days=1),
                seq=seq,
                at=now,
            )

        racing = _Racing(left.ledger, right.campaigns.gate, [opening(rival, 2)])
        with pytest.raises(DuplicateCampaignError) as caught:
            racing.append(opening(brand, 2))
        assert (
            caught.value.detail == f"campaign id race-26 is already taken (opened by {rival.actor})"
        )
        assert racing.retried == 1
        assert racing.position == left.ledger.size() == 3
        # Without a conflict, the retry simply succeeds after catching up.
        note = commands.pool_funded(rival, "race-26", 10, seq=3, at=now)
        racing.rival_events.append(note)
        racing.append(commands.profile_committed(brand, "b" * 64, seq=2, at=now))
        assert racing.retried == 2
        assert [r.type for r in left.ledger.store.iterate(3)] == ["PoolFunded", "ProfileCommitted"]


def test_a_gate_that_keeps_losing_gives_up_with_a_typed_error(store_url: str) -> None:
    settings = Settings(database_url=store_url, verify_threads=1)
    with bootstrap(settings) as left, bootstrap(settings) as right:
        brand, rival = seeded_key(211), seeded_key(212)
        left.campaigns.gate.append_batch([registration(brand), registration(rival)])
        noise = [
            commands.profile_committed(rival, f"{n:064x}", seq=n, at="2026-01-01T00:00:00Z")
            for n in range(2, 12)
        ]
        racing = _Racing(left.ledger, right.campaigns.gate, noise)
        with pytest.raises(AppendContentionError) as caught:
            racing.append(
                commands.profile_committed(brand, "c" * 64, seq=2, at="2026-01-01T00:00:00Z")
            )
        assert caught.value.detail == "the log moved under this append 3 times in a row; try again"
        assert left.ledger.next_seq(brand.actor) == 2, "nothing of the loser was written"


WORKER = r"""
import json, sys
from datetime import UTC, datetime, timedelta
from api.bootstrap import bootstrap
from api.settings import Settings
from domain.errors import DuplicateCampaignError
from tests.support import seeded_key
url, who, ids = sys.argv[1], int(sys.argv[2]), sys.argv[3].split(",")
key = seeded_key(who)
now = datetime.now(UTC).replace(microsecond=0)
with bootstrap(Settings(database_url=url, verify_threads=1)) as svc:
    svc.campaigns.gate.catch_up()
    sys.stdout.write("ready\n"); sys.stdout.flush(); sys.stdin.readline()
    results = []
    for cid in ids:
        try:
            svc.campaigns.open_campaign(key, cid, title=cid, guidelines=b"g", starts_at=now,
                                        ends_at=now + timedelta(days=1))
            results.append([cid, "opened"])
        except DuplicateCampaignError as exc:
            results.append([cid, "taken", exc.detail])
    print(json.dumps({"results": results, "retried": svc.campaigns.gate.retried}))
"""


def test_two_processes_opening_the_same_campaigns_never_both_win(store_url: str) -> None:
    brands = (221, 222)
    ids = [f"race-{n:02d}" for n in range(25)]
    with bootstrap(Settings(database_url=store_url, verify_threads=1)) as svc:
        svc.campaigns.gate.append_batch([registration(seeded_key(b)) for b in brands])
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, store_url, str(b), ",".join(ids)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for b in brands
    ]
    for proc in procs:
        assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.write("go\n")
        proc.stdin.flush()
    outputs = [json.loads(proc.communicate(timeout=120)[0]) for proc in procs]

    winners: dict[str, int] = {}
    losses: list[tuple[str, str]] = []
    for brand, output in zip(brands, outputs, strict=True):
        for cid, outcome, *detail in output["results"]:
            if outcome == "opened":
                assert cid not in winners, f"{cid} opened twice"
                winners[cid] = brand
            else:
                losses.append((cid, detail[0]))
    assert sorted(winners) == ids, "every id was opened exactly once"
    assert len(losses) == len(ids), "and refused exactly once"
    for cid, detail in losses:
        winner = seeded_key(winners[cid]).actor
        assert detail == f"campaign id {cid} is already taken (opened by {winner})"
    with bootstrap(Settings(database_url=store_url, verify_threads=1)) as svc:
        opened = svc.campaigns.gate.read(lambda s: {c: s.campaigns[c].brand for c in ids})
        assert opened == {cid: seeded_key(b).actor for cid, b in winners.items()}
        assert svc.campaigns.gate.ignored == []
        assert verify_log(svc.ledger.store).ok


def test_replay_keeps_aside_events_that_bypassed_the_gate(world: World) -> None:
    w = world
    stray = sign_envelope(
        w.ana, "NoteShared", {"text": "written around the gate"}, seq=_seq(w, w.ana)
    )
    position = w.svc.ledger.append(stray)  # the raw ledger: no campaign rules
    fresh = CampaignApp(w.svc.ledger)
    fresh.catch_up()
    assert fresh.ignored == [position]
    assert fresh.position == w.size()


def test_a_dry_run_checks_batches_in_sequence_and_writes_nothing(world: World) -> None:
    w = world
    seq = _seq(w, w.ana)
    work = f"{w.ana.actor}:{seq}"
    first = [
        commands.contribution_submitted(
            w.ana, CAMPAIGN, content="a" * 64, kind="idea", title="Kite", seq=seq, at=w.now
        )
    ]
    second = [commands.vote_cast(w.ana, CAMPAIGN, work, "save", seq=seq + 1, at=w.now)]
    size, state = w.size(), w.snapshot()
    with w.c.gate.dry_run() as check:
        check(first)  # accepted: the second batch sees the contribution
        with pytest.raises(SelfVoteError):
            check(second)
    assert (w.size(), w.snapshot()) == (size, state)


def test_a_second_world_on_the_same_database_sees_everything(services) -> None:  # noqa: ANN001
    w = open_world(services)
    w.submit(w.ana)
    with bootstrap(Settings(database_url=services.settings.database_url)) as other:
        assert other.campaigns.show(CAMPAIGN)["contributions"] == 1
