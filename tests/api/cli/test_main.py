"""The ``cocred`` CLI, used as a person would: keys, sign, append, log, verify, tamper."""

from __future__ import annotations

import hashlib
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.cli import app
from ledger.store import open_store

runner = CliRunner()


def cocred(*args: str, input: str | None = None, code: int = 0):
    result = runner.invoke(app, list(args), input=input)
    assert result.exit_code == code, (result.stdout, result.stderr, result.exception)
    return result


@pytest.fixture
def db(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path}/cli.sqlite"


@pytest.fixture
def ana(tmp_path: Path, db: str) -> Path:
    key = tmp_path / "ana.key"
    cocred("keys", "new", "--out", str(key))
    cocred("keys", "register", "--key", str(key), "--db", db)
    return key


def commitment(note: object) -> str:
    """A stand-in profile commitment: the hash of some text (only its shape matters here)."""
    return hashlib.sha256(json.dumps(note).encode()).hexdigest()


def sign(key: Path, db: str, body: dict, seq: int | None = None) -> str:
    """A signed ProfileCommitted (a campaign-free event the gate accepts) committing to ``body``."""
    args = [
        "sign",
        "--key",
        str(key),
        "--type",
        "ProfileCommitted",
        "--body",
        json.dumps({"commitment": commitment(body)}),
        "--db",
        db,
    ]
    if seq is not None:
        args += ["--seq", str(seq)]
    return cocred(*args).stdout


def test_keys_new_writes_a_private_file_and_show_prints_ids(tmp_path: Path) -> None:
    key = tmp_path / "k.key"
    made = json.loads(cocred("keys", "new", "--out", str(key)).stdout)
    assert stat.S_IMODE(os.stat(key).st_mode) == 0o600
    shown = json.loads(cocred("keys", "show", str(key)).stdout)
    assert shown["actor"] == made["actor"] == shown["key"]
    assert set(shown["public_jwk"]) == {"crv", "kty", "x"}
    failed = cocred("keys", "new", "--out", str(key), code=1)
    assert failed.stderr.strip() == (
        f"error[BadKeyFile]: {key} already exists; refusing to overwrite a key"
    )


def test_sign_append_log_verify_walk(tmp_path: Path, db: str, ana: Path) -> None:
    lines = sign(ana, db, {"text": "one"}, seq=2) + sign(ana, db, {"text": "two"}, seq=3)
    assert json.loads(lines.splitlines()[0])["seq"] == 2
    (tmp_path / "in.jsonl").write_text(lines)
    assert (
        cocred("append", str(tmp_path / "in.jsonl"), "--db", db).stdout.strip()
        == "appended 2 events at positions 1..2"
    )
    assert json.loads(sign(ana, db, {"text": "three"}))["seq"] == 4  # seq from the store
    logged = cocred("log", "--db", db, "--from", "1", "--positions").stdout.splitlines()
    assert [line.split("\t")[0] for line in logged] == ["1", "2"]
    assert logged[0].split("\t")[1] == lines.splitlines()[0]
    actor = json.loads(cocred("keys", "show", str(ana)).stdout)["actor"]
    assert len(cocred("log", "--db", db, "--actor", actor).stdout.splitlines()) == 3
    assert cocred("verify", "--db", db).stdout.strip() == (
        "verified 3 events from 1 actors: all signatures, key states and seq chains hold"
    )


def test_append_reads_standard_input(db: str, ana: Path) -> None:
    line = sign(ana, db, {"text": "piped"})
    assert (
        cocred("append", "-", "--db", db, input=line).stdout.strip()
        == "appended 1 events at positions 1..1"
    )


def test_a_bad_line_anywhere_in_a_large_input_writes_nothing(
    tmp_path: Path, db: str, ana: Path
) -> None:
    lines = [sign(ana, db, {"n": s}, seq=s).strip() for s in range(2, 8)]
    bad = json.loads(lines[4])
    bad["body"] = {"commitment": commitment({"n": 666})}  # the signature no longer covers it
    lines[4] = json.dumps(bad)
    (tmp_path / "in.jsonl").write_text("\n".join(lines))
    failed = cocred("append", str(tmp_path / "in.jsonl"), "--batch", "2", "--db", db, code=1)
    actor = bad["actor"]
    assert failed.stderr.strip() == (
        f"error[BadSignature]: line 5: actor {actor} seq 6: "
        f"signature does not verify with key {bad['key']}"
    )
    with open_store(db) as store:
        assert store.size() == 1


def test_a_replayed_line_is_refused_with_its_reason(tmp_path: Path, db: str, ana: Path) -> None:
    line = sign(ana, db, {"text": "once"})
    cocred("append", "-", "--db", db, input=line)
    # The same line again is a retry (test_idempotent_routes); another event at seq 2 is not.
    other = sign(ana, db, {"text": "twice"}, seq=2)
    failed = cocred("append", "-", "--db", db, input=other, code=1)
    actor = json.loads(line)["actor"]
    assert failed.stderr.strip() == (
        f"error[Replay]: line 1: actor {actor}: seq 2 is already used (last seq is 2)"
    )


def test_rotate_then_the_old_key_file_is_refused(tmp_path: Path, db: str, ana: Path) -> None:
    new = tmp_path / "ana2.key"
    rotated = json.loads(
        cocred("keys", "rotate", "--key", str(ana), "--out", str(new), "--db", db).stdout
    )
    assert rotated["position"] == 1
    cocred("append", "-", "--db", db, input=sign(new, db, {"text": "new key"}))
    old = sign(ana, db, {"text": "old key"})
    failed = cocred("append", "-", "--db", db, input=old, code=1)
    assert failed.stderr.strip() == (
        f"error[RevokedKey]: line 1: actor {rotated['actor']}: key {rotated['old_key']} was "
        f"rotated away at seq 2, before seq 4"
    )
    revoked = json.loads(
        cocred("keys", "revoke", "--key", str(new), "--reason", "done", "--db", db).stdout
    )
    assert revoked["seq"] == 4


def test_sign_refuses_a_body_that_is_not_an_object(db: str, ana: Path) -> None:
    failed = cocred(
        "sign", "--key", str(ana), "--type", "NoteShared", "--body", "[1]", "--db", db, code=1
    )
    assert failed.stderr.strip() == "error[MalformedEvent]: --body must be a JSON object"


def test_verify_of_a_missing_database_is_refused(tmp_path: Path) -> None:
    failed = cocred("verify", "--db", f"sqlite:///{tmp_path}/none.sqlite", code=1)
    assert (
        failed.stderr.strip() == f"error[StorageUnavailable]: no ledger database at "
        f"{tmp_path}/none.sqlite"
    )


def test_a_byte_changed_in_the_sqlite_file_fails_verify_naming_its_position(
    tmp_path: Path, ana: Path
) -> None:
    path = tmp_path / "tamper.sqlite"
    db = f"sqlite:///{path}"
    cocred("keys", "register", "--key", str(ana), "--db", db)
    for text in ("first", "tamper-me-please", "third"):
        cocred("append", "-", "--db", db, input=sign(ana, db, {"text": text}))
    assert not Path(f"{path}-wal").exists() or Path(f"{path}-wal").stat().st_size == 0
    raw = path.read_bytes()
    at = raw.index(commitment({"text": "tamper-me-please"}).encode())
    path.write_bytes(raw[:at] + b"T" + raw[at + 1 :])
    # The real console script, as an auditor would run it.
    done = subprocess.run(
        [Path(sys.executable).parent / "cocred", "verify", "--db", db],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 1
    assert done.stderr.startswith("error[VerificationFailed]: position 2: signature: actor ")
