"""Provenance from the command line: checkpoint, proof bundle, offline check, audit."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from typer.testing import CliRunner

from api.cli import app
from ledger.provenance.audit_reports import AuditRecord, AuditReports
from ledger.store.engine import engine_for

runner = CliRunner()


def cocred(*args: str, code: int = 0):
    result = runner.invoke(app, list(args))
    assert result.exit_code == code, (result.stdout, result.stderr, result.exception)
    return result


def demo_db(tmp_path: Path) -> str:
    db = f"sqlite:///{tmp_path}/p.sqlite"
    cocred(
        "demo",
        "--db",
        db,
        "--seed",
        "3",
        "--members",
        "12",
        "--contributions",
        "20",
        "--votes",
        "60",
    )
    return db


def test_checkpoint_proof_and_offline_verification(tmp_path: Path) -> None:
    db = demo_db(tmp_path)
    cut = json.loads(cocred("checkpoint", "--db", db).stdout)
    assert cut["size"] > 50 and cut["note"].splitlines()[1] == str(cut["size"])
    vkey = json.loads(cocred("ledger-key", "--db", db).stdout)["vkey"]
    bundle = tmp_path / "b.json"
    made = json.loads(cocred("proof", "7", "--out", str(bundle), "--db", db).stdout)
    assert made["checkpoint_size"] == cut["size"] and made["anchored"] is False
    checked = json.loads(cocred("verify-proof", str(bundle), "--ledger-key", vkey).stdout)
    assert checked["valid"] is True and checked["position"] == 7
    data = json.loads(bundle.read_text())
    data["event"] = data["event"].replace('"seq":', '"seq": ')
    bundle.write_text(json.dumps(data))
    failed = cocred("verify-proof", str(bundle), "--ledger-key", vkey, code=1)
    assert failed.stderr.strip() == (
        "error[VerificationFailed]: bundle: event: the bytes are not in canonical form"
    )


def test_audit_passes_then_names_a_tampered_event(tmp_path: Path) -> None:
    db = demo_db(tmp_path)
    cocred("checkpoint", "--db", db)
    passed = cocred("audit", "--db", db)
    assert "audit passed" in passed.stdout and "ok  1 signatures:" in passed.stdout
    with sqlite3.connect(tmp_path / "p.sqlite") as conn:
        data = conn.execute("SELECT state FROM cocred_events WHERE rowid = 10").fetchone()[0]
        conn.execute(
            "UPDATE cocred_events SET state = ? WHERE rowid = 10",
            (data.replace(b'"ts":"2', b'"ts":"1'),),
        )
    failed = cocred("audit", "--db", db, code=1)
    assert (
        failed.stderr.strip()
        .splitlines()[-1]
        .startswith("error[AuditFailed]: position 9: signature: actor ")
    )


def test_anchoring_is_refused_when_it_is_not_configured(tmp_path: Path) -> None:
    db = demo_db(tmp_path)
    failed = cocred("anchor", "now", "--db", db, code=1)
    assert failed.stderr.strip() == (
        "error[AnchorError]: anchoring is off: set COCRED_ANCHOR_RPC_URL, "
        "COCRED_ANCHOR_CONTRACT and COCRED_ANCHOR_PRIVATE_KEY"
    )


def test_a_proof_for_a_missing_position_is_refused(tmp_path: Path) -> None:
    db = demo_db(tmp_path)
    failed = cocred("proof", "999999", "--out", str(tmp_path / "x.json"), "--db", db, code=1)
    assert failed.stderr.strip() == "error[NotFound]: no event at position 999999"


def test_extra_checkpoints_must_be_checkpoint_lines(tmp_path: Path) -> None:
    db = demo_db(tmp_path)
    kept = tmp_path / "kept.jsonl"
    kept.write_text('{"note": "nope", "cut_at": "2026-01-01T00:00:00+00:00"}\n')
    failed = cocred("audit", "--db", db, "--checkpoints", str(kept), code=1)
    assert (
        failed.stderr.strip()
        .splitlines()[-1]
        .startswith(f"error[MalformedCheckpoint]: {kept} line 1: ")
    )
    kept.write_text("[1]\n")
    failed = cocred("audit", "--db", db, "--checkpoints", str(kept), code=1)
    assert (
        failed.stderr.strip()
        .splitlines()[-1]
        .startswith(f"error[Malformed]: {kept} line 1: not a checkpoint (")
    )
    missing = tmp_path / "none.jsonl"
    failed = cocred("audit", "--db", db, "--checkpoints", str(missing), code=1)
    assert failed.stderr.strip().startswith(f"error[Malformed]: cannot read {missing}: ")


def test_a_witness_copy_with_another_root_fails_the_audit(tmp_path: Path) -> None:
    db = demo_db(tmp_path)
    cut = json.loads(cocred("checkpoint", "--db", db).stdout)
    from ledger.provenance.checkpoints import LedgerIdentity
    from ledger.provenance.note import Checkpoint

    identity = LedgerIdentity.load_or_create(tmp_path / "p.ledger.key")
    other = identity.signer.sign(Checkpoint(identity.origin, cut["size"], b"\x33" * 32))
    kept = tmp_path / "kept.jsonl"
    kept.write_text(json.dumps({"note": other.to_text(), "cut_at": cut["cut_at"]}) + "\n")
    failed = cocred("audit", "--db", db, "--checkpoints", str(kept), code=1)
    assert (
        failed.stderr.strip()
        .splitlines()[-1]
        .startswith(
            f"error[AuditFailed]: position {cut['size']}: equivocation: "
            f"size {cut['size']} has two roots"
        )
    )


def test_verify_proof_refuses_unreadable_and_malformed_bundles(tmp_path: Path) -> None:
    missing = tmp_path / "none.json"
    failed = cocred("verify-proof", str(missing), "--ledger-key", "k", code=1)
    assert failed.stderr.strip().startswith(f"error[MalformedBundle]: cannot read {missing}: ")
    bad = tmp_path / "bad.json"
    bad.write_text("{nope")
    failed = cocred("verify-proof", str(bad), "--ledger-key", "k", code=1)
    assert failed.stderr.strip().startswith(f"error[MalformedBundle]: {bad} is not JSON: ")
    bad.write_text('{"v": 1}')
    failed = cocred("verify-proof", str(bad), "--ledger-key", "k", code=1)
    assert failed.stderr.strip() == (
        "error[MalformedBundle]: bundle: must be an object with exactly anchor, checkpoint, "
        "event, key, path, position, v"
    )


def test_deploying_needs_an_rpc_url_and_a_key(tmp_path: Path) -> None:
    failed = cocred("anchor", "deploy", "--db", f"sqlite:///{tmp_path}/d.sqlite", code=1)
    assert failed.stderr.strip() == (
        "error[AnchorConfig]: set --rpc (or COCRED_ANCHOR_RPC_URL) and COCRED_ANCHOR_PRIVATE_KEY"
    )


def recorded_audits(db: str) -> list[AuditRecord]:
    engine = engine_for(db)
    try:
        return AuditReports(engine, create=False).recent()
    finally:
        engine.dispose()


def test_each_audit_is_recorded_unless_told_not_to(tmp_path: Path) -> None:
    db = demo_db(tmp_path)
    cocred("checkpoint", "--db", db)
    cocred("audit", "--db", db, "--no-record")
    assert recorded_audits(db) == []
    cocred("audit", "--db", db)
    [passed] = recorded_audits(db)
    assert passed.ok is True and passed.failure is None
    assert passed.events > 50 and passed.checkpoints == 1
    with sqlite3.connect(tmp_path / "p.sqlite") as conn:
        data = conn.execute("SELECT state FROM cocred_events WHERE rowid = 10").fetchone()[0]
        conn.execute(
            "UPDATE cocred_events SET state = ? WHERE rowid = 10",
            (data.replace(b'"ts":"2', b'"ts":"1'),),
        )
    cocred("audit", "--db", db, code=1)
    cocred("audit", "--db", db, "--no-record", code=1)
    failed, first = recorded_audits(db)
    assert first == passed and failed.ok is False
    assert failed.failure is not None and failed.failure["position"] == 9
    assert failed.failure["step"] == "signature"


def test_audit_fails_a_log_never_checkpointed_or_left_behind_by_more_than_the_interval(
    tmp_path: Path,
) -> None:
    db = demo_db(tmp_path)
    never = cocred("audit", "--db", db, code=1)
    last = never.stderr.strip().splitlines()[-1]
    assert last.startswith("error[AuditFailed]: position 0: checkpoint lag: the log holds ")
    assert last.endswith(" events but no checkpoint: none of them is under a signed checkpoint")
    size = json.loads(cocred("checkpoint", "--db", db).stdout)["size"]
    for who in ("a", "b", "c"):
        key = str(tmp_path / f"{who}.key")
        cocred("keys", "new", "--out", key)
        cocred("keys", "register", "--key", key, "--db", db)
    behind = cocred("audit", "--db", db, "--max-checkpoint-lag", "2", code=1)
    assert behind.stderr.strip().splitlines()[-1] == (
        f"error[AuditFailed]: position {size}: checkpoint lag: the latest checkpoint "
        f"(size {size}) lags the log's {size + 3} events by 3, more than the 2 allowed"
    )
    held = cocred("audit", "--db", db, "--max-checkpoint-lag", "3")
    assert "ok  7 checkpoint lag: 3 events beyond the latest checkpoint (at most 3 allowed)" in (
        held.stdout
    )
    assert "audit passed" in held.stdout
    # Without the option the server's own interval applies: COCRED_CHECKPOINT_EVERY.
    result = runner.invoke(app, ["audit", "--db", db], env={"COCRED_CHECKPOINT_EVERY": "2"})
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines()[-1].endswith("by 3, more than the 2 allowed")
    assert "audit passed" in cocred("audit", "--db", db).stdout  # the default: every 1000
