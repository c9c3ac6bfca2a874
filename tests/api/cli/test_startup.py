"""A command loads only what it uses: the commands that need no database start without one."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.cli import app
from api.cli.projections import EXPORT_FORMATS
from projections.export import FORMATS

ROOT = Path(__file__).resolve().parents[3]
HEAVY = ("sqlalchemy", "fastapi", "web3", "eventsourcing", "uvicorn", "psycopg", "starlette")

# Runs one command in a fresh interpreter, then prints which heavy packages it imported.
PROBE = """
import json, sys
from api.cli import app
heavy_arg = sys.argv.pop(1)
try:
    app(sys.argv[1:], standalone_mode=False)
except SystemExit:
    pass
heavy = set(heavy_arg.split(","))
print(json.dumps(sorted({m.split(".")[0] for m in sys.modules} & heavy)))
"""


def loaded_by(*args: str) -> list[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", PROBE, ",".join(HEAVY), *args],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_help_loads_no_database_web_or_chain_library() -> None:
    assert loaded_by("--help") == []


def test_keys_new_loads_no_database_web_or_chain_library(tmp_path: Path) -> None:
    assert loaded_by("keys", "new", "--out", str(tmp_path / "a.key")) == []
    assert (tmp_path / "a.key").exists()


@pytest.fixture
def bundle(tmp_path: Path) -> tuple[Path, str]:
    runner = CliRunner()
    db = f"sqlite:///{tmp_path}/s.sqlite"
    for args in (
        ["demo", "--db", db, "--seed", "5", "--members", "10", "--contributions", "20",
         "--votes", "10"],
        ["checkpoint", "--db", db],
        ["proof", "4", "--db", db, "--out", str(tmp_path / "b.json")],
    ):  # fmt: skip
        assert runner.invoke(app, args).exit_code == 0, args
    vkey = json.loads(runner.invoke(app, ["ledger-key", "--db", db]).stdout)["vkey"]
    return tmp_path / "b.json", vkey


def test_verify_proof_loads_no_database_web_or_chain_library(bundle: tuple[Path, str]) -> None:
    path, vkey = bundle
    assert loaded_by("verify-proof", str(path), "--ledger-key", vkey) == []


def test_a_database_command_does_load_the_database_library(tmp_path: Path) -> None:
    """The probe can fail: a command that opens the database shows sqlalchemy."""
    loaded = loaded_by("log", "--db", f"sqlite:///{tmp_path}/none.sqlite")
    assert "sqlalchemy" in loaded


def test_the_export_help_names_every_export_format() -> None:
    assert EXPORT_FORMATS == FORMATS


def test_the_payout_files_help_names_every_file_rail() -> None:
    from api.cli.common import FILE_RAIL_NAMES
    from projections.rails import FILE_RAILS

    assert FILE_RAIL_NAMES == FILE_RAILS
