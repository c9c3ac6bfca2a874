"""The projection verbs of the CLI, used as a brand and a contributor would."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from api.cli.projections import register
from domain.epoch_keys import EpochKeyFile
from domain.profile_store import ProfileStore
from domain.profiles import Profile
from ledger.ledger import Ledger
from ledger.store import open_store
from projections.state import load_state
from tests.projections.builders import Script

app = typer.Typer()
register(app)
runner = CliRunner()


def cocred(*args: str, code: int = 0):
    result = runner.invoke(app, list(args))
    assert result.exit_code == code, (result.stdout, result.stderr, result.exception)
    return result


@pytest.fixture
def db(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path}/cli.sqlite"


@pytest.fixture
def camp(db: str) -> Script:
    """ana earns 5 points, ben 3; a pool of 1,000 cents."""
    script = Script(pool=1000, legacy=True)  # `export payouts --key` settles old campaigns
    script.join("ana", "ben", "cy")
    script.vote("cy", script.submit("ana"), "share")
    script.vote("ana", script.submit("ben"), "comment")
    script.vote("ben", script.submit("ana", "second"), "support")
    with open_store(db) as store:
        ledger = Ledger(store, verify_threads=1)
        script.flush(ledger)
    return script


def close(script: Script, db: str) -> None:
    script.close()
    with open_store(db) as store:
        script.flush(Ledger(store, verify_threads=1))


def test_project_brings_the_read_models_to_the_head_and_shares_ranks_payees(
    db: str, camp: Script
) -> None:
    size = len(camp.records())
    projected = cocred("project", "--db", db).stdout.strip()
    assert projected == f"projected {size} new events; read models at position {size} of {size}"
    again = cocred("project", "--db", db).stdout.strip()
    assert again == f"projected 0 new events; read models at position {size} of {size}"
    board = json.loads(
        cocred("shares", "--campaign", "summer-26", "--format", "json", "--db", db).stdout
    )
    assert [(line["member"], line["amount"], line["share"]) for line in board["lines"]] == [
        (camp.id("ana"), 625, "5/8"),
        (camp.id("ben"), 375, "3/8"),
    ]
    text = cocred("shares", "--campaign", "summer-26", "--db", db).stdout
    assert "62.50%" in text and "6.25" in text and "2 payees, as of log position" in text
    rebuilt = cocred("project", "--rebuild", "--db", db).stdout.strip()
    assert rebuilt.startswith(f"rebuilt the read models from the log: {size} events in ")


def test_explain_traces_a_members_payout_in_text_and_json(db: str, camp: Script) -> None:
    found = json.loads(
        cocred(
            "explain",
            "--campaign",
            "summer-26",
            "--member",
            camp.id("ana"),
            "--format",
            "json",
            "--db",
            db,
        ).stdout
    )
    assert found["payout"] == 625 and found["credit"] == "5/1"
    assert sum(item["cents"] for item in found["items"]) == 625
    text = cocred("explain", "--campaign", "summer-26", "--member", camp.id("ana"), "--db", db)
    assert "payout               6.25 EUR" in text.stdout
    missing = cocred("explain", "--campaign", "summer-26", "--member", "nobody", "--db", db, code=1)
    assert missing.stderr.strip() == (
        "error[UnknownMember]: member nobody has no part in campaign summer-26"
    )


def test_an_export_without_a_key_is_a_preview(db: str, camp: Script, tmp_path: Path) -> None:
    out = tmp_path / "payouts.csv"
    summary = json.loads(
        cocred(
            "export",
            "payouts",
            "--campaign",
            "summer-26",
            "--file-format",
            "csv",
            "--out",
            str(out),
            "--db",
            db,
        ).stdout
    )
    assert summary["settled_at"] is None and summary["lines"] == 2 and summary["total"] == 1000
    assert out.read_text().splitlines()[0] == (
        "member,payout_handle,amount,amount_minor,currency,share,explanation"
    )


def test_the_brand_settles_once_and_the_log_holds_the_exports_hash(
    db: str, camp: Script, tmp_path: Path
) -> None:
    key = tmp_path / "brand.key"
    camp.brand.key.save(key)
    out = tmp_path / "payouts.json"
    args = ["export", "payouts", "--campaign", "summer-26", "--file-format", "canonical"]
    early = cocred(*args, "--out", str(out), "--key", str(key), "--db", db, code=1)
    assert early.stderr.strip() == (
        "error[CampaignNotClosed]: campaign summer-26 is still open: payouts are settled after "
        "CampaignClosed"
    )
    assert not out.exists()
    close(camp, db)
    summary = json.loads(cocred(*args, "--out", str(out), "--key", str(key), "--db", db).stdout)
    assert summary["export_sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()
    with open_store(db) as store:
        state = load_state(store).campaign("summer-26")
    assert state.settled is not None
    assert state.settled == (
        summary["settled_at"],
        {
            "policy": {"name": "cocred-fair", "version": 1},
            "total": 1000,
            "currency": "EUR",
            "export": summary["export_sha256"],
            "lines": 2,
        },
    )
    twice = cocred(*args, "--out", str(tmp_path / "again"), "--key", str(key), "--db", db, code=1)
    assert twice.stderr.strip() == (
        f"error[AlreadySettled]: campaign summer-26 was settled already at position "
        f"{summary['settled_at']}"
    )
    assert not (tmp_path / "again").exists()


def test_payment_files_take_payout_handles_from_the_profile_store(
    db: str, camp: Script, tmp_path: Path
) -> None:
    out = tmp_path / "paypal.csv"
    args = ["export", "payouts", "--campaign", "summer-26", "--file-format", "paypal-csv"]
    missing = cocred(*args, "--out", str(out), "--db", db, code=1)
    assert missing.stderr.startswith(
        "error[MissingPayoutHandle]: paypal-csv: 2 payee(s) have no payout handle in the "
        "profile store (never given, or erased): "
    )
    from api.bootstrap import profile_key_path  # after api.cli.projections: import cycle
    from api.settings import Settings

    profiles = ProfileStore(db, EpochKeyFile(profile_key_path(Settings(database_url=db))))
    for name in ("ana", "ben"):
        profiles.put(
            camp.id(name),
            Profile.create(name, f"{name}@example.org", f"{name}@example.org"),
            b"s" * 32,
        )
    profiles.close()
    cocred(*args, "--out", str(out), "--db", db)
    assert sorted(line.split(",")[:3] for line in out.read_text().splitlines()) == [
        ["ana@example.org", "6.25", "EUR"],
        ["ben@example.org", "3.75", "EUR"],
    ]


def test_bad_requests_are_refused_with_a_sentence(db: str, camp: Script, tmp_path: Path) -> None:
    unknown = cocred("shares", "--campaign", "winter-26", "--db", db, code=1)
    assert unknown.stderr.strip().startswith("error[UnknownCampaign]: no campaign 'winter-26'")
    bad = cocred(
        "export",
        "payouts",
        "--campaign",
        "summer-26",
        "--file-format",
        "xlsx",
        "--out",
        str(tmp_path / "x"),
        "--db",
        db,
        code=1,
    )
    assert bad.stderr.strip() == (
        "error[BadFormat]: --file-format must be one of csv, json, safe-csv, paypal-csv, "
        "canonical, got 'xlsx'"
    )
