"""Re-verifying the stored log: it holds when untouched and names the first bad position."""

from __future__ import annotations

import sqlite3

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.envelope import sign_envelope
from ledger.ledger import Ledger
from ledger.store import EVENTS_TABLE, open_store
from ledger.verify import verify_log
from tests.support import registration, seeded_key

ANA, BEN = seeded_key(1), seeded_key(2)


def fill(ledger: Ledger, notes: int = 5) -> None:
    ledger.append_batch([registration(ANA), registration(BEN)])
    ledger.append_batch(
        [
            sign_envelope(k, "NoteShared", {"text": f"note {s}"}, seq=s)
            for s in range(2, notes + 2)
            for k in (ANA, BEN)
        ]
    )


def test_an_untouched_log_verifies(ledger: Ledger) -> None:
    fill(ledger, notes=300)
    report = verify_log(ledger.store, threads=2, page=128)
    assert report.ok and report.events == 602 and report.actors == 2


def set_state(path, position: int, data: bytes) -> None:
    with sqlite3.connect(path) as db:
        db.execute(f"UPDATE {EVENTS_TABLE} SET state = ? WHERE rowid = ?", (data, position + 1))


def test_a_changed_signature_byte_is_named(tmp_path) -> None:
    path = tmp_path / "l.sqlite"
    ledger = Ledger(open_store(str(path)))
    fill(ledger)
    data = ledger.event(5).data
    index = data.index(b'"sig":"') + 10
    set_state(path, 5, data[:index] + bytes([data[index] ^ 1]) + data[index + 1 :])
    report = verify_log(ledger.store)
    assert str(report.failure).startswith("position 5: ")
    assert report.failure.step in ("signature", "parse")


def test_a_row_whose_columns_disagree_with_its_envelope_is_named(tmp_path) -> None:
    path = tmp_path / "l.sqlite"
    ledger = Ledger(open_store(str(path)))
    fill(ledger)
    with sqlite3.connect(path) as db:
        db.execute(f"UPDATE {EVENTS_TABLE} SET topic = 'Forged' WHERE rowid = 4")
    failure = verify_log(ledger.store).failure
    assert failure.position == 3 and failure.step == "index"
    assert failure.detail.endswith(
        f"type Forged, envelope says actor {BEN.actor} seq 2 type NoteShared"
    )


def test_a_deleted_event_is_named(tmp_path) -> None:
    path = tmp_path / "l.sqlite"
    ledger = Ledger(open_store(str(path)))
    fill(ledger)
    with sqlite3.connect(path) as db:
        db.execute("DELETE FROM cocred_positions WHERE position = 4")
    failure = verify_log(ledger.store).failure
    assert str(failure) == "position 4: order: expected position 4, found 5 (an event is missing)"


def test_non_canonical_but_equivalent_bytes_are_named(tmp_path) -> None:
    path = tmp_path / "l.sqlite"
    ledger = Ledger(open_store(str(path)))
    fill(ledger)
    set_state(path, 2, ledger.event(2).data.replace(b'"v":1', b'"v": 1'))
    assert str(verify_log(ledger.store).failure) == (
        "position 2: canonical: stored bytes are not the canonical form of the envelope they hold"
    )


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_any_single_byte_change_to_a_stored_envelope_is_detected(tmp_path_factory, data) -> None:
    path = tmp_path_factory.mktemp("flip") / "l.sqlite"
    with open_store(str(path)) as store:
        ledger = Ledger(store, verify_threads=1)
        fill(ledger, notes=1)
        position = data.draw(st.integers(0, store.size() - 1), label="position")
        original = store.get(position).data
        index = data.draw(st.integers(0, len(original) - 1), label="index")
        byte = data.draw(st.integers(0, 255).filter(lambda b: b != original[index]), label="byte")
        set_state(path, position, original[:index] + bytes([byte]) + original[index + 1 :])
        report = verify_log(store, threads=1)
        assert report.failure is not None and report.failure.position == position
