"""Provenance from the command line: checkpoint, proof bundle, offline check, audit."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from typer.testing import CliRunner

from api.cli import app

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
