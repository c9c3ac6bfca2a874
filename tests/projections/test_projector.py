"""The read models in SQL, on SQLite and PostgreSQL: incremental, rebuildable, tracked, safe."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select, update

from ledger.envelope import sign_envelope
from ledger.ledger import Ledger
from projections.errors import ProjectionFailedError, ReadModelMovedError
from projections.projector import Projector
from projections.tables import TRACKING
from tests.projections.builders import Script
from tests.projections.lively import demo


def dump(projector: Projector) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every read-model table, in primary-key order."""
    found = {}
    with projector.engine.connect() as conn:
        for table in [projector.tables.tracking, *projector.tables.data_tables()]:
            keys = list(table.primary_key.columns)
            found[table.name] = [tuple(row) for row in conn.execute(select(table).order_by(*keys))]
    return found


def two_campaigns() -> tuple[Script, Script]:
    first, second = (
        Script("summer-26", seed=1),
        Script(
            "winter-26",
            seed=2,
            policy={"per_person_cap": "1/5", "min_payout": 100, "support_threshold": 2},
        ),
    )
    demo(first, members=40, contributions=60, votes=500, ring=5, seed=3)
    demo(second, members=30, contributions=40, votes=300, ring=0, seed=4)
    first.close()
    return first, second


def test_an_incremental_run_and_a_rebuild_give_byte_identical_tables(ledger: Ledger) -> None:
    first, second = two_campaigns()
    events = []  # the two campaigns interleaved, each in its own order
    for start in range(0, max(len(first.pending), len(second.pending)), 40):
        events += first.pending[start : start + 40] + second.pending[start : start + 40]
    projector = Projector(ledger.store, page=97)
    for start in range(0, len(events), 250):
        ledger.append_batch(events[start : start + 250])
        projector.catch_up()
        if start % 1000 == 0:
            projector.close()  # a restart: the next projector starts cold at its position
            projector = Projector(ledger.store, page=97)
    assert projector.position() == ledger.size() == len(events)
    incremental = dump(projector)
    assert projector.rebuild() == len(events)
    rebuilt = dump(projector)
    assert incremental == rebuilt
    assert len(rebuilt["proj_campaigns"]) == 2 and len(rebuilt["proj_members"]) > 70
    assert rebuilt["proj_moderation"] and rebuilt["proj_reuses"] and rebuilt["proj_lineage"]
    projector.close()


def test_a_new_projector_resumes_at_the_tables_position(ledger: Ledger) -> None:
    script = Script()
    script.join("ana", "ben")
    work = script.submit("ana")
    script.flush(ledger)
    first = Projector(ledger.store)
    assert first.catch_up() == 7  # 3 registrations, opened, 2 joins, 1 submission
    first.close()
    script.vote("ben", work, "share")
    script.flush(ledger)
    second = Projector(ledger.store)
    assert second.position() == 7
    assert second.catch_up() == 1
    assert second.catch_up() == 0
    members = second.tables.members
    with second.engine.connect() as conn:
        credit = conn.execute(
            select(members.c.credit).where(members.c.member == script.id("ana"))
        ).scalar_one()
    assert credit == "4/1"
    second.close()


def test_a_failing_handler_stops_the_projection_before_the_bad_event(ledger: Ledger) -> None:
    script = Script()
    script.join("ana")
    script.flush(ledger)
    ana = script.actor("ana")
    ana.seq += 1
    bad = sign_envelope(
        ana.key, "VoteCast", {"contribution": "nothing"}, seq=ana.seq, campaign="summer-26"
    )
    ledger.append(bad)  # the ledger takes it; the domain would not (no 'kind')
    projector = Projector(ledger.store, page=2)
    for _ in range(2):  # the same failure every time: nothing is ever skipped
        with pytest.raises(ProjectionFailedError) as caught:
            projector.catch_up()
        assert type(caught.value) is ProjectionFailedError
        assert caught.value.detail == (f"position 4 (VoteCast by {ana.id} seq 3): KeyError: 'kind'")
        assert projector.position() == 4  # the page before it was written, this one not
        assert projector.state is None
    projector.close()


def test_of_two_projectors_racing_one_wins_and_the_other_writes_nothing(
    ledger: Ledger,
) -> None:
    script = Script()
    script.join("ana", "ben")
    script.vote("ben", script.submit("ana"))
    script.flush(ledger)
    winner, loser = Projector(ledger.store), Projector(ledger.store)
    read = loser.store.read

    def read_then_lose_the_race(start: int, limit: int = 1000, **kw: Any) -> Any:
        records = read(start, limit, **kw)
        winner.catch_up()  # another process writes between our read and our write
        return records

    loser.store = type(
        "Store",
        (),
        {"read": staticmethod(read_then_lose_the_race), "size": staticmethod(ledger.store.size)},
    )()
    with pytest.raises(ReadModelMovedError) as caught:
        loser.catch_up()
    assert caught.value.detail == (
        "the read models moved past position 0 while this projector was working; "
        "nothing was written"
    )
    assert winner.position() == ledger.size()
    winner.close()
    loser.close()


def test_tables_of_another_version_are_dropped_and_rebuilt(ledger: Ledger) -> None:
    script = Script()
    script.join("ana")
    script.submit("ana")
    script.flush(ledger)
    projector = Projector(ledger.store)
    projector.catch_up()
    before = dump(projector)
    tracking = projector.tables.tracking
    with projector.engine.begin() as conn:
        conn.execute(update(tracking).where(tracking.c.name == TRACKING).values(version=0))
    projector.close()
    upgraded = Projector(ledger.store)
    assert upgraded.position() == 0
    assert dump(upgraded)["proj_contributions"] == []
    upgraded.catch_up()
    assert dump(upgraded) == before
    upgraded.close()


def test_a_projector_far_behind_catches_up_in_bulk_to_the_same_rows(ledger: Ledger) -> None:
    script = Script("summer-26", seed=5)
    demo(script, members=30, contributions=40, votes=300, ring=3, seed=6)
    script.flush(ledger)
    paged = Projector(ledger.store, page=50)
    assert paged.catch_up() == ledger.size()  # below the bulk lag: page by page
    by_pages = dump(paged)
    paged.close()
    bulk = Projector(ledger.store, bulk_lag=100)
    tracking = bulk.tables.tracking
    with bulk.engine.begin() as conn:  # the tables as a new database has them
        for table in bulk.tables.data_tables():
            conn.execute(table.delete())
        conn.execute(update(tracking).where(tracking.c.name == TRACKING).values(position=0))
    assert bulk.catch_up() == ledger.size()  # far behind: one bulk rebuild
    assert dump(bulk) == by_pages
    bulk.close()
