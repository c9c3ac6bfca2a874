"""Snapshots of the gate's state: snapshot + tail is the full replay, and nothing is trusted
blindly (a corrupt, stale, foreign or hostile row is ignored with a warning and rebuilt)."""

from __future__ import annotations

import logging
import pickle
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from api.bootstrap import Services, bootstrap
from api.settings import Settings
from domain.demo.generator import build_demo
from domain.gate import CampaignApp
from domain.snapshots import GATE, SnapshotStore, _digest, snapshots_table, state_format
from domain.state import State
from ledger.provenance.audit import audit
from tests.support import drop_postgres_schema, fresh_postgres_url

SMALL = {"members": 12, "contributions": 40, "votes": 160}


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/s.sqlite"
        return
    made = fresh_postgres_url()
    yield made
    drop_postgres_schema(made)


@pytest.fixture
def svc(url: str, tmp_path: Path) -> Iterator[Services]:
    settings = Settings(
        database_url=url,
        verify_threads=1,
        snapshot_every=0,  # the demo below is built without snapshots
        ledger_key_file=tmp_path / "ledger.key",
        profile_key_file=tmp_path / "profiles.key",
    )
    with bootstrap(settings) as built:
        build_demo(built, seed=3, **SMALL)
        yield built


def same(a: CampaignApp, b: CampaignApp) -> None:
    assert a.position == b.position
    assert a.ignored == b.ignored
    mine = {k: v for k, v in vars(a.state).items() if k != "_journal"}
    theirs = {k: v for k, v in vars(b.state).items() if k != "_journal"}
    assert mine == theirs


def gate(svc: Services, *, every: int = 0, snapshots: bool = True) -> CampaignApp:
    store = SnapshotStore(svc.settings.database_url, engine=svc.engine) if snapshots else None
    return CampaignApp(svc.ledger, snapshots=store, snapshot_every=every)


def test_snapshot_plus_tail_is_the_full_replay(svc: Services) -> None:
    size = svc.ledger.size()
    first = gate(svc, every=50)
    first.catch_up()
    assert first.loaded_snapshot == 0, "nothing to load the first time"
    # More events after the snapshot: the next campaign of the demo.
    build_demo(svc, seed=4, **SMALL)
    assert svc.ledger.size() > size
    loaded = gate(svc)
    loaded.catch_up()
    assert loaded.loaded_snapshot == size, "loaded the snapshot, replayed only the tail"
    full = gate(svc, snapshots=False)
    full.catch_up()
    same(loaded, full)
    # And the state behaves the same afterwards: the same refusal for the same event.
    assert loaded.ignored == full.ignored == []


def _row(svc: Services) -> dict:
    with svc.engine.connect() as conn:
        return dict(conn.execute(sa.select(snapshots_table)).one()._mapping)


def _write(svc: Services, **changes: object) -> None:
    with svc.engine.begin() as conn:
        conn.execute(snapshots_table.update().values(**changes))


@pytest.mark.parametrize(
    ("damage", "why"),
    [
        ("corrupt", "its digest does not match its bytes (corrupt)"),
        ("stale", "it was saved by other code (stale format)"),
    ],
)
def test_a_damaged_snapshot_is_ignored_with_a_warning_and_rebuilt(
    svc: Services, damage: str, why: str, caplog: pytest.LogCaptureFixture
) -> None:
    gate(svc, every=50).catch_up()
    row = _row(svc)
    if damage == "corrupt":
        data = bytearray(row["state"])
        data[len(data) // 2] ^= 0xFF
        _write(svc, state=bytes(data))
    else:
        _write(svc, format="0" * 64)
    with caplog.at_level(logging.WARNING, logger="domain.snapshots"):
        rebuilt = gate(svc, every=50)
        rebuilt.catch_up()
    assert rebuilt.loaded_snapshot == 0
    assert caplog.messages == [f"ignoring the gate snapshot at position {row['position']}: {why}"]
    full = gate(svc, snapshots=False)
    full.catch_up()
    same(rebuilt, full)
    assert _row(svc)["digest"] == row["digest"], "the rebuilt snapshot replaced the damaged one"


def test_a_snapshot_of_another_log_is_never_applied(
    svc: Services, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    gate(svc, every=50).catch_up()
    row = _row(svc)
    other = Settings(
        database_url=f"sqlite:///{tmp_path}/other.sqlite",
        verify_threads=1,
        snapshot_every=0,
        ledger_key_file=tmp_path / "other.key",
        profile_key_file=tmp_path / "other.profiles.key",
    )
    with bootstrap(other) as elsewhere:
        build_demo(elsewhere, seed=5, **{**SMALL, "votes": 200})  # another log, longer
        assert elsewhere.ledger.size() >= row["position"]
        store = SnapshotStore(other.database_url, engine=elsewhere.engine)
        with elsewhere.engine.begin() as conn:
            conn.execute(snapshots_table.insert(), [row])
        with caplog.at_level(logging.WARNING, logger="domain.snapshots"):
            assert store.load(GATE, elsewhere.ledger.store) is None
    assert caplog.messages == [
        f"ignoring the gate snapshot at position {row['position']}: the log's event at "
        f"position {row['position'] - 1} is not the one it was cut at"
    ]


class _Boom:
    def __reduce__(self):  # what a hostile row would hold: a call of the attacker's choosing
        return (Path.touch, (Path(self.target),))

    def __init__(self, target: Path) -> None:
        self.target = str(target)


def test_a_snapshot_that_names_anything_but_state_records_is_refused_unrun(
    svc: Services, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    gate(svc, every=50).catch_up()
    row = _row(svc)
    marker = tmp_path / "ran"
    data = pickle.dumps((_Boom(marker), []))
    digest = _digest(GATE, row["format"], row["position"], row["binding"], data)
    _write(svc, state=data, digest=digest)
    with caplog.at_level(logging.WARNING, logger="domain.snapshots"):
        fresh = gate(svc)
        fresh.catch_up()
    assert not marker.exists(), "nothing in the row was called"
    assert fresh.loaded_snapshot == 0
    assert caplog.messages == [
        f"ignoring the gate snapshot at position {row['position']}: it does not unpickle as "
        f"a state (a snapshot may not name pathlib.Path.touch)"
    ]


def test_the_format_changes_with_the_code_that_decides_the_state() -> None:
    assert len(state_format()) == 64
    assert state_format() == state_format()


def test_the_audit_does_not_read_snapshots(svc: Services) -> None:
    gate(svc, every=50).catch_up()
    _write(svc, state=b"garbage", digest="0" * 64)
    prov = svc.provenance
    prov.checkpoints.cut()
    report = audit(svc.ledger.store, prov.checkpoints.all(), prov.identity.vkey)
    assert report.ok, report.failure


def test_a_command_that_writes_saves_a_snapshot_and_the_next_one_loads_it(
    svc: Services, tmp_path: Path
) -> None:
    settings = svc.settings.model_copy(update={"snapshot_every": 50})
    with bootstrap(settings) as first:
        first.campaigns.gate.catch_up()
        assert first.campaigns.gate.loaded_snapshot == 0
    size = svc.ledger.size()
    with bootstrap(settings) as second:
        second.campaigns.gate.catch_up()
        assert second.campaigns.gate.loaded_snapshot == size
    with bootstrap(settings, create=False) as reader:
        reader.campaigns.gate.catch_up()
        assert reader.campaigns.gate.loaded_snapshot == size
        assert reader.campaigns.gate.snapshot_every == 0, "a read-only open never saves"


def test_an_open_undo_journal_is_never_saved(svc: Services) -> None:
    app = gate(svc)
    app.catch_up()
    assert app.snapshots is not None
    app.state.begin()
    app.snapshots.save(GATE, svc.ledger.store, app.position, app.state, app.ignored)
    assert app.state._journal == [], "the journal is back on the live state"
    loaded = app.snapshots.load(GATE, svc.ledger.store)
    assert loaded is not None and isinstance(loaded.state, State)
    assert loaded.state._journal is None
