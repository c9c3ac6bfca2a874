"""Checking on worker processes refuses and accepts exactly what one process does.

Big batches have their signatures verified on worker processes while the calling
process parses the next slice; long logs are read, parsed and verified on them
while it applies key states in order. These scenarios run the same input through
one process and through two workers and compare every outcome: the positions and
bytes stored, for a refusal its type, message and ids, for a stored log the
first failure it reports.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from ledger.envelope import Envelope, sign_envelope
from ledger.errors import LedgerError, MalformedEventError, ReplayError, SignatureError
from ledger.ledger import Ledger, LogMovedError
from ledger.store import EVENTS_TABLE, open_store
from ledger.verify import verify_log
from tests.support import registration, seeded_key

KEYS = [seeded_key(100 + n) for n in range(40)]


def notes(rounds: int, start: int = 2, keys=KEYS) -> list[Envelope]:
    """Notes by every key in turn, seqs from ``start``."""
    return [
        sign_envelope(
            k, "NoteShared", {"text": f"note {s}", "n": s}, seq=s, ts="2026-11-22T10:00:00Z"
        )
        for s in range(start, start + rounds)
        for k in keys
    ]


def forged_at(index: int) -> bytes:
    """The note of ``notes(...)[index]`` (from seq 2), signed with another actor's key."""
    key = KEYS[index % len(KEYS)]
    return signed_by(key, 2 + index // len(KEYS), KEYS[(index + 1) % len(KEYS)]).canonical_bytes()


def signed_by(key, seq: int, other) -> Envelope:
    """A note by ``key`` whose signature was made by ``other``'s key."""
    env = sign_envelope(key, "NoteShared", {"text": "forged"}, seq=seq, ts="2026-11-22T10:00:00Z")
    forged = sign_envelope(
        other, "NoteShared", {"text": "forged"}, seq=seq, ts="2026-11-22T10:00:00Z"
    )
    return Envelope.from_json({**env.to_json(), "sig": forged.sig})


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[tuple[Ledger, Ledger]]:
    """The same empty log twice: checked in one process, and on two workers."""
    here = Ledger(open_store(str(tmp_path / "here.sqlite")), verify_threads=1)
    there = Ledger(open_store(str(tmp_path / "there.sqlite")), verify_threads=2)
    yield here, there
    here.close()
    there.close()


def outcome(ledger: Ledger, batch: list[Any], **kwargs: Any) -> Any:
    """Positions, or the refusal as (type, message, ids), and the log's size after."""
    try:
        result: Any = ledger.append_batch(batch, **kwargs)
    except LedgerError as exc:
        result = (type(exc), exc.detail, exc.ids)
    return result, ledger.size()


def as_bytes(envs: list[Envelope]) -> list[bytes]:
    return [e.canonical_bytes() for e in envs]


def test_a_big_batch_on_workers_stores_exactly_what_one_process_stores(pair) -> None:
    here, there = pair
    batch = as_bytes([registration(k) for k in KEYS] + notes(12))
    assert outcome(there, batch) == outcome(here, batch)
    more = as_bytes(notes(10, start=14))
    assert outcome(there, more) == outcome(here, more) == (list(range(520, 920)), 920)
    stored = [r.data for r in there.store.iterate()]
    assert stored == [r.data for r in here.store.iterate()] == batch + more


FAULTS: dict[str, Callable[[list[Any]], None]] = {
    "malformed late": lambda b: b.__setitem__(470, b"{not json"),
    "seq gap early": lambda b: b.__setitem__(
        100, sign_envelope(KEYS[20], "NoteShared", {}, seq=9).canonical_bytes()
    ),
    "bad signature in the second slice": lambda b: b.__setitem__(430, forged_at(430)),
    "bad signature before a malformed event": lambda b: (
        b.__setitem__(90, forged_at(90)),
        b.__setitem__(300, b'{"v":1}'),
    ),
    "two bad signatures: the first is named": lambda b: (
        b.__setitem__(420, forged_at(420)),
        b.__setitem__(60, forged_at(60)),
    ),
    "a bad signature in the first slice, a malformed event in the last": lambda b: (
        b.__setitem__(5, forged_at(5)),
        b.__setitem__(475, b'{"v":1'),
    ),
    "unknown actor in the first slice, malformed in the second": lambda b: (
        b.__setitem__(5, notes(1, keys=[seeded_key(999)])[0].canonical_bytes()),
        b.__setitem__(400, b"[]"),
    ),
    "a replay": lambda b: b.__setitem__(350, b[349 - 39]),
    "far-future timestamp": lambda b: b.__setitem__(
        333,
        sign_envelope(
            KEYS[13], "NoteShared", {"text": "note 10", "n": 10}, seq=10, ts="2999-01-01T00:00:00Z"
        ).canonical_bytes(),
    ),
    "an envelope object, a dict and text among the bytes": lambda b: (
        b.__setitem__(10, Envelope.from_bytes(b[10])),
        b.__setitem__(300, Envelope.from_bytes(b[300]).to_json()),
        b.__setitem__(301, b[301].decode()),
    ),
    "a bad signature on an envelope object": lambda b: b.__setitem__(
        410, Envelope.from_bytes(forged_at(410))
    ),
    "non-canonical but valid bytes": lambda b: b.__setitem__(
        350, b[350].replace(b'"v":1', b'"v": 1')
    ),
}


@pytest.mark.parametrize("fault", FAULTS)
def test_a_refusal_on_workers_names_the_event_one_process_names(pair, fault: str) -> None:
    here, there = pair
    setup = as_bytes([registration(k) for k in KEYS])
    for ledger in pair:
        ledger.append_batch(setup)
    batch: list[Any] = as_bytes(notes(12))  # 480 events: seqs 2..13 of 40 actors
    FAULTS[fault](batch)
    assert outcome(there, batch) == outcome(here, batch)
    # and both stay usable: the next good batch goes in on both
    good = as_bytes(notes(12))
    assert outcome(there, good) == outcome(here, good)


def test_a_forged_event_just_after_its_actors_registration_is_named(pair) -> None:
    # Registrations fill the first slices, their actors' first events the last ones.
    here, there = pair
    keys = [seeded_key(500 + n) for n in range(300)]
    batch = as_bytes([registration(k) for k in keys] + notes(1, keys=keys))
    batch[450] = signed_by(keys[150], 2, keys[0]).canonical_bytes()
    refused = outcome(there, batch)
    assert refused == outcome(here, batch)
    assert refused[0][0] is SignatureError and refused[0][2]["index"] == 450
    del batch[450:451]
    assert outcome(there, batch[:450]) == outcome(here, batch[:450])


def test_the_check_callback_sees_every_envelope_in_order(pair) -> None:
    here, there = pair
    batch = as_bytes([registration(k) for k in KEYS] + notes(8))
    seen: dict[Ledger, list[Envelope]] = {}
    for ledger in pair:
        ledger.append_batch(batch, check=lambda envs, led=ledger: seen.setdefault(led, list(envs)))
    assert seen[there] == seen[here] == [Envelope.from_bytes(raw) for raw in batch]
    assert [e.canonical_bytes() for e in seen[there]] == batch


def test_a_dry_run_on_workers_carries_states_like_one_process(pair) -> None:
    here, there = pair
    first = as_bytes([registration(k) for k in KEYS] + notes(7))
    second = as_bytes(notes(7, start=9))
    states = [led.check_batch(second, led.check_batch(first)) for led in pair]
    assert states[0] == states[1]
    assert {s.seq for s in states[1].values()} == {15}
    assert here.size() == there.size() == 0


# -- a batch written while it is checked (SQLite: ``LogStore.begin_insert``) -----------------


def with_rival(ledger: Ledger, event: Envelope) -> None:
    """Another writer on the same log appends ``event``; ``ledger``'s cache does not know."""
    rival = Ledger(open_store(ledger.store.url), verify_threads=1)
    rival.append(event)
    rival.close()


@pytest.mark.parametrize("later", ["nothing", "a malformed event", "a bad signature"])
def test_a_seq_taken_by_another_writer_is_named_after_any_worse_fault(pair, later: str) -> None:
    # The rival's event lands while the batch's first slices are already written:
    # the batch is refused as a whole, for its first invalid event if it holds one.
    setup = as_bytes([registration(k) for k in KEYS])  # once: registrations carry the time
    # A *different* event at the batch's (actor, seq): the same bytes would be a
    # retry, answered with their position (test_idempotent_append).
    taken = sign_envelope(
        KEYS[7], "NoteShared", {"text": "rival"}, seq=2, ts="2026-11-22T10:00:00Z"
    )
    for ledger in pair:
        ledger.append_batch(setup)
        with_rival(ledger, taken)
    batch: list[Any] = as_bytes(notes(12))
    if later == "a malformed event":
        batch[460] = b"{not json"
    elif later == "a bad signature":
        batch[460] = forged_at(460)
    here, there = pair
    refused = outcome(there, batch)
    assert refused == outcome(here, batch)
    (kind, message, ids), size = refused
    assert size == 41
    if later == "nothing":
        assert kind is ReplayError and ids["index"] == 7
        assert message == (
            f"event 7 of the batch: actor {KEYS[7].actor}: seq 2 is already used "
            f"(taken by another writer)"
        )
    else:
        assert ids["index"] == 460
        assert kind is (MalformedEventError if later == "a malformed event" else SignatureError)
    # Both forget what they believed of that actor and take the batch without it.
    rest = [raw for i, raw in enumerate(as_bytes(notes(12))) if i != 7 and i % 40 != 7]
    assert outcome(there, rest) == outcome(here, rest)
    assert [r.data for r in there.store.iterate()] == [r.data for r in here.store.iterate()]


def test_a_batch_checked_against_a_size_the_log_has_left_is_refused(pair) -> None:
    setup = as_bytes([registration(k) for k in KEYS])
    for ledger in pair:
        ledger.append_batch(setup)
    here, there = pair
    batch = as_bytes(notes(10))
    refused = outcome(there, batch, expected_size=39)
    assert refused == outcome(here, batch, expected_size=39)
    assert refused[0][0] is LogMovedError and refused[1] == 40
    assert refused[0][1] == (
        "the log grew from 39 to 40 events while this batch was checked; check again"
    )
    assert outcome(there, batch, expected_size=40) == outcome(here, batch, expected_size=40)
    assert there.size() == 440


def test_a_refusal_by_the_check_callback_leaves_nothing_written(pair) -> None:
    here, there = pair

    def refuse(envs) -> None:
        raise CampaignRefusal("the campaign is closed")

    batch = as_bytes([registration(k) for k in KEYS] + notes(8))
    for ledger in pair:
        with pytest.raises(CampaignRefusal, match="^the campaign is closed$"):
            ledger.append_batch(batch, check=refuse)
        assert ledger.size() == 0
    assert outcome(there, batch) == outcome(here, batch) == (list(range(360)), 360)


class CampaignRefusal(LedgerError):
    code = "CampaignRefusal"


def test_a_big_batch_is_written_slice_by_slice_and_seen_only_once_committed(tmp_path) -> None:
    ledger = Ledger(open_store(str(tmp_path / "log.sqlite")), verify_threads=2)
    ledger.append_batch(as_bytes([registration(k) for k in KEYS]))
    pieces: list[int] = []
    begin = ledger.store.begin_insert

    def spy(**kwargs: Any):
        insertion = begin(**kwargs)
        add = insertion.add
        insertion.add = lambda records: (pieces.append(len(records)), add(records))  # type: ignore[method-assign]
        return insertion

    ledger.store.begin_insert = spy  # type: ignore[method-assign]
    reader = open_store(ledger.store.url)
    seen: list[int] = []
    ledger.append_batch(as_bytes(notes(10)), check=lambda envs: seen.append(reader.size()))
    # One piece per slice (as the workers verify), all of the batch, none seen early.
    assert len(pieces) > 4 and sum(pieces) == 400
    assert seen == [40] and reader.size() == 440
    reader.close()
    ledger.close()


# -- re-verifying a stored log ---------------------------------------------------------------


@pytest.fixture(scope="module")
def stored_log(tmp_path_factory) -> Path:
    """A log of 1,202 events, a rotation and a revocation included."""
    from tests.ledger.test_ledger_rules import rotate

    path = tmp_path_factory.mktemp("log") / "log.sqlite"
    ledger = Ledger(open_store(str(path)), verify_threads=1)
    ledger.append_batch([registration(k) for k in KEYS])
    ledger.append_batch(notes(10))
    rotation, _ = rotate(KEYS[3], 12)
    ledger.append(rotation)
    ledger.append(sign_envelope(KEYS[4], "KeyRevoked", {"key": KEYS[4].key_id}, seq=12))
    ledger.append_batch(notes(20, start=12, keys=[k for k in KEYS if k not in (KEYS[3], KEYS[4])]))
    ledger.close()
    return path


def tampered(source: Path, target: Path, change: Callable[[sqlite3.Connection], None]) -> str:
    target.write_bytes(source.read_bytes())
    with sqlite3.connect(target) as db:
        change(db)
    return str(target)


def set_state(
    position: int, edit: Callable[[bytes], bytes]
) -> Callable[[sqlite3.Connection], None]:
    def change(db: sqlite3.Connection) -> None:
        (data,) = db.execute(
            f"SELECT state FROM {EVENTS_TABLE} WHERE rowid = ?", (position + 1,)
        ).fetchone()
        db.execute(
            f"UPDATE {EVENTS_TABLE} SET state = ? WHERE rowid = ?", (edit(data), position + 1)
        )

    return change


def flip_sig(data: bytes) -> bytes:
    at = data.index(b'"sig":"') + 12
    return data[:at] + (b"A" if data[at : at + 1] != b"A" else b"B") + data[at + 1 :]


TAMPERS: dict[str, Callable[[sqlite3.Connection], None]] = {
    "untouched": lambda db: None,
    "bad signature late": set_state(1100, flip_sig),
    "bad signature in the first range": set_state(70, flip_sig),
    "a deleted event": lambda db: db.execute("DELETE FROM cocred_positions WHERE position = 700"),
    "non-canonical bytes": set_state(900, lambda d: d.replace(b'"v":1', b'"v": 1')),
    "unparsable bytes": set_state(300, lambda d: d[:-1]),
    "a row that disagrees": lambda db: db.execute(
        f"UPDATE {EVENTS_TABLE} SET topic = 'Forged' WHERE rowid = 1001"
    ),
    "a swapped pair": lambda db: (
        db.execute("UPDATE cocred_positions SET notification_id = -1 WHERE position = 600"),
        db.execute("UPDATE cocred_positions SET notification_id = 601 WHERE position = 640"),
        db.execute("UPDATE cocred_positions SET notification_id = 641 WHERE position = 600"),
    ),
    "a bad signature, then a broken seq chain": lambda db: (
        set_state(500, flip_sig)(db),
        db.execute("DELETE FROM cocred_positions WHERE position = 501"),
    ),
}


@pytest.mark.parametrize("tamper", TAMPERS)
def test_workers_report_the_first_failure_one_process_reports(stored_log, tmp_path, tamper) -> None:
    url = tampered(stored_log, tmp_path / "t.sqlite", TAMPERS[tamper])
    store = open_store(url)
    reports = [verify_log(store, threads=t, page=64) for t in (1, 2)]
    store.close()
    assert reports[0] == reports[1]
    assert reports[0].ok == (tamper == "untouched")
    if tamper == "untouched":
        assert reports[0].events == 1202


def test_packed_signature_checks_name_the_first_bad_one_and_refuse_odd_sizes() -> None:
    from ledger._worker_checks import pack_tasks, verify_packed

    envs = notes(1)[:5]
    tasks = [
        (k.public_bytes, e.signing_bytes(), e.signature) for k, e in zip(KEYS, envs, strict=False)
    ]
    assert verify_packed(*pack_tasks(tasks)) is None
    tasks[3] = (tasks[3][0], tasks[3][1] + b" ", tasks[3][2])
    tasks[4] = (tasks[4][0], b"", tasks[4][2])
    assert verify_packed(*pack_tasks(tasks)) == 3
    with pytest.raises(ValueError, match="keys must be 32 bytes and signatures 64"):
        pack_tasks([(b"\x01" * 31, b"m", b"\x02" * 64)])
