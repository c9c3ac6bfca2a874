"""Checkpoints, offline proof bundles and the audit, with each tampering it must catch."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from ledger.envelope import sign_envelope
from ledger.errors import SignatureError, VerificationError
from ledger.keys import SigningKey
from ledger.ledger import Ledger
from ledger.provenance.audit import audit
from ledger.provenance.bundles import MalformedBundleError, ProofBundle, Provenance, verify_bundle
from ledger.provenance.checkpoints import (
    CheckpointLog,
    EquivocationError,
    LedgerIdentity,
    StoredCheckpoint,
)
from ledger.provenance.merkle import leaf_hash, root_from_leaf_hashes
from ledger.provenance.note import Checkpoint, NoteSigner
from ledger.provenance.tree import MerkleTree
from ledger.store import open_store
from ledger.store.engine import engine_for
from tests.support import registration, seeded_key

ANA, BEN = seeded_key(21), seeded_key(22)


def fill(ledger: Ledger, notes: int) -> None:
    ledger.append_batch([registration(ANA), registration(BEN)])
    for start in range(2, notes + 2, 500):
        stop = min(start + 500, notes + 2)
        ledger.append_batch(
            [
                sign_envelope(k, "NoteShared", {"n": s, "text": "x" * 40}, seq=s)
                for s in range(start, stop)
                for k in (ANA, BEN)
            ]
        )


def provenance_for(ledger: Ledger, url: str, tmp_path: Path, **kw) -> Provenance:
    engine = engine_for(url)
    identity = LedgerIdentity.load_or_create(tmp_path / "ledger.key")
    log = CheckpointLog(engine, MerkleTree(engine, ledger.store), identity, **kw)
    return Provenance(ledger, log)


@pytest.fixture
def prov(ledger: Ledger, store_url: str, tmp_path: Path) -> Provenance:
    return provenance_for(ledger, store_url, tmp_path)


def test_a_checkpoint_signs_the_root_of_the_whole_log(ledger: Ledger, prov: Provenance) -> None:
    fill(ledger, 20)
    stored = prov.checkpoints.cut()
    hashes = [leaf_hash(r.data) for r in ledger.store.iterate()]
    assert stored.size == 42 and stored.root == root_from_leaf_hashes(hashes)
    from ledger.provenance.note import verify_checkpoint

    assert verify_checkpoint(stored.signed.to_text(), prov.identity.vkey).size == 42
    assert prov.checkpoints.cut() == stored  # nothing new: the same checkpoint


def test_a_checkpoint_is_due_every_n_events(ledger: Ledger, store_url: str, tmp_path) -> None:
    prov = provenance_for(ledger, store_url, tmp_path, every=10, interval=3600)
    assert not prov.checkpoints.due()
    fill(ledger, 3)
    assert prov.checkpoints.due() and prov.checkpoints.maybe_cut().size == 8
    assert not prov.checkpoints.due()
    fill_more = [sign_envelope(ANA, "NoteShared", {}, seq=s) for s in range(5, 15)]
    ledger.append_batch(fill_more)
    assert prov.checkpoints.maybe_cut().size == 18


def test_the_ledger_never_signs_a_second_root_for_a_size(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/l.sqlite"
    ledger = Ledger(open_store(url))
    prov = provenance_for(ledger, url, tmp_path)
    fill(ledger, 3)
    first = prov.checkpoints.cut()
    # A root signed earlier for size 8 differs from what the (rewritten) log gives now.
    earlier = prov.identity.signer.sign(Checkpoint(prov.identity.origin, 8, b"\x00" * 32))
    with sqlite3.connect(tmp_path / "l.sqlite") as db:
        db.execute("UPDATE cocred_checkpoints SET note = ? WHERE size = 8", (earlier.to_text(),))
    with pytest.raises(EquivocationError) as caught:
        prov.checkpoints.cut()
    assert caught.value.detail == (
        f"checkpoint: size 8 is stored with root {'00' * 32}, but the log now gives "
        f"{first.root.hex()}"
    )


def test_a_proof_bundle_verifies_offline_and_is_small(ledger: Ledger, prov: Provenance) -> None:
    fill(ledger, 600)
    prov.checkpoints.cut()
    bundle = prov.bundle(777)
    data = json.loads(json.dumps(bundle.to_json()))
    again = ProofBundle.from_json(data)
    env = verify_bundle(again, prov.identity.vkey)
    assert env.seq == 389
    body = json.dumps(env.body, separators=(",", ":"))
    assert len(json.dumps(data, separators=(",", ":"))) - len(body) <= 2048


@pytest.mark.parametrize(
    "change, error, message",
    [
        (
            lambda d: d.update(event=d["event"].replace('"n":', '"m":')),
            SignatureError,
            "bundle: event: signature does not verify",
        ),
        (
            lambda d: d.update(path=[d["path"][1], d["path"][0], *d["path"][2:]]),
            VerificationError,
            "inclusion: root mismatch",
        ),
        (
            lambda d: d.update(position=d["position"] - 1),
            VerificationError,
            "inclusion: root mismatch",
        ),
        (lambda d: d.update(key="A" * 43), VerificationError, "bundle: event: key "),
    ],
)
def test_a_tampered_bundle_fails_naming_the_step(
    ledger: Ledger, prov: Provenance, change, error, message
) -> None:
    fill(ledger, 40)
    prov.checkpoints.cut()
    data = prov.bundle(31).to_json()
    change(data)
    with pytest.raises(error) as caught:
        verify_bundle(ProofBundle.from_json(data), prov.identity.vkey)
    assert type(caught.value) is error and caught.value.detail.startswith(message)


def test_a_bundle_checked_against_another_ledger_key_fails(
    ledger: Ledger, prov: Provenance, tmp_path: Path
) -> None:
    fill(ledger, 4)
    prov.checkpoints.cut()
    other = LedgerIdentity(SigningKey.generate(), prov.identity.origin)
    with pytest.raises(VerificationError) as caught:
        verify_bundle(prov.bundle(1), other.vkey)
    assert caught.value.detail.startswith(f"checkpoint: no signature by key {prov.identity.origin}")


def test_a_malformed_bundle_is_not_a_failed_check() -> None:
    with pytest.raises(MalformedBundleError) as caught:
        ProofBundle.from_json({"v": 1})
    assert caught.value.detail == (
        "bundle: must be an object with exactly anchor, checkpoint, event, key, path, position, v"
    )


# -- the audit --------------------------------------------------------------------------------


def audited(prov: Provenance, extra: list[StoredCheckpoint] = ()):
    return audit(prov.ledger.store, [*prov.checkpoints.all(), *extra], prov.identity.vkey)


def test_an_honest_ledger_passes_the_audit(ledger: Ledger, prov: Provenance) -> None:
    fill(ledger, 300)
    prov.checkpoints.cut()
    fill_more = [sign_envelope(ANA, "NoteShared", {}, seq=s) for s in range(302, 320)]
    ledger.append_batch(fill_more)
    prov.checkpoints.cut()
    report = audited(prov)
    assert report.ok, report.failure
    assert (report.events, report.checkpoints) == (620, 2)


@pytest.fixture
def sqlite_prov(tmp_path: Path) -> tuple[Provenance, Path]:
    path = tmp_path / "l.sqlite"
    ledger = Ledger(open_store(str(path)))
    prov = provenance_for(ledger, f"sqlite:///{path}", tmp_path)
    fill(ledger, 10)
    prov.checkpoints.cut()
    return prov, path


def test_the_audit_names_a_changed_byte(sqlite_prov) -> None:
    prov, path = sqlite_prov
    data = prov.ledger.store.get(6).data
    with sqlite3.connect(path) as db:
        db.execute(
            "UPDATE cocred_events SET state = ? WHERE rowid = 7", (data.replace(b'"n":', b'"N":'),)
        )
    failure = audited(prov).failure
    assert (failure.position, failure.step) == (6, "signature")


def test_the_audit_names_a_deleted_event(sqlite_prov) -> None:
    prov, path = sqlite_prov
    with sqlite3.connect(path) as db:
        db.execute("DELETE FROM cocred_positions WHERE position = 20")
        db.execute("DELETE FROM cocred_events WHERE rowid = 21")
    failure = audited(prov).failure
    assert (
        str(failure) == "position 20: order: expected position 20, found 21 (an event is missing)"
    )


def test_the_audit_names_a_reordered_pair(sqlite_prov) -> None:
    prov, path = sqlite_prov
    with sqlite3.connect(path) as db:  # swap which events positions 4 and 6 point at
        db.execute("UPDATE cocred_positions SET notification_id = -1 WHERE position = 4")
        db.execute("UPDATE cocred_positions SET notification_id = 5 WHERE position = 6")
        db.execute("UPDATE cocred_positions SET notification_id = 7 WHERE position = 4")
    failure = audited(prov).failure
    assert failure.position == 4 and failure.step == "key state"
    assert "skips ahead" in failure.detail or "already used" in failure.detail


def test_the_audit_names_a_forged_checkpoint(sqlite_prov) -> None:
    prov, _ = sqlite_prov
    forger = NoteSigner(prov.identity.origin, SigningKey.generate().private)
    real = prov.checkpoints.latest()
    forged = StoredCheckpoint(forger.sign(real.signed.checkpoint), real.cut_at)
    report = audit(prov.ledger.store, [forged], prov.identity.vkey)
    assert (report.failure.position, report.failure.step) == (22, "checkpoint")
    assert report.failure.detail.startswith("checkpoint: ")


def test_the_audit_names_two_roots_for_one_size(sqlite_prov) -> None:
    prov, _ = sqlite_prov
    real = prov.checkpoints.latest()
    # A second root for size 22, signed with the ledger key, kept by a witness.
    other = Checkpoint(prov.identity.origin, 22, b"\x11" * 32)
    witness = StoredCheckpoint(prov.identity.signer.sign(other), real.cut_at)
    failure = audited(prov, [witness]).failure
    assert (failure.position, failure.step) == (22, "equivocation")
    assert failure.detail == (
        f"size 22 has two roots: checkpoint 22 says {real.root.hex()[:16]}…, "
        f"checkpoint 22 says {'11' * 8}…"
    )


def test_the_audit_names_a_checkpoint_the_log_does_not_give(sqlite_prov) -> None:
    prov, _ = sqlite_prov
    wrong = Checkpoint(prov.identity.origin, 10, b"\x22" * 32)
    signed = StoredCheckpoint(prov.identity.signer.sign(wrong), prov.checkpoints.latest().cut_at)
    failure = audit(prov.ledger.store, [signed], prov.identity.vkey).failure
    assert (failure.position, failure.step) == (10, "root")
    assert failure.detail.startswith("checkpoint 10: root mismatch: recomputed ")


def test_the_audit_fails_a_log_with_events_but_no_checkpoint(
    ledger: Ledger, prov: Provenance, tmp_path: Path
) -> None:
    fill(ledger, 3)
    assert audit(ledger.store, [], prov.identity.vkey).ok  # step 6 is off unless asked for
    report = audit(ledger.store, [], prov.identity.vkey, max_checkpoint_lag=1000)
    assert str(report.failure) == (
        "position 0: checkpoint lag: the log holds 8 events but no checkpoint: "
        "none of them is under a signed checkpoint"
    )
    empty = open_store(f"sqlite:///{tmp_path}/empty.sqlite")
    try:
        assert audit(empty, [], prov.identity.vkey, max_checkpoint_lag=0).ok  # nothing to cover
    finally:
        empty.close()


def test_the_audit_fails_a_checkpoint_left_further_behind_than_allowed(
    ledger: Ledger, prov: Provenance
) -> None:
    fill(ledger, 3)
    prov.checkpoints.cut()
    ledger.append_batch([sign_envelope(ANA, "NoteShared", {}, seq=s) for s in range(5, 8)])
    checkpoints = prov.checkpoints.all()
    held = audit(ledger.store, checkpoints, prov.identity.vkey, max_checkpoint_lag=3)
    assert held.ok, held.failure
    assert (
        held.steps[-1]
        == "7 checkpoint lag: 3 events beyond the latest checkpoint (at most 3 allowed)"
    )
    report = audit(ledger.store, checkpoints, prov.identity.vkey, max_checkpoint_lag=2)
    assert str(report.failure) == (
        "position 8: checkpoint lag: the latest checkpoint (size 8) lags the log's 11 events "
        "by 3, more than the 2 allowed"
    )
