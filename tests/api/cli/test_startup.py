"""A command loads only what it uses: the commands that need no database start without one.

Held without a clock: each probe runs ``cocred`` in a fresh interpreter and reports which
packages it imported (bench/cli_start.py prints the wall times).
"""

from __future__ import annotations

import ast
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
# What no command that needs no database may load: the database, web and chain libraries,
# the read models, the chain side, and what the payout methods parse with.
HEAVY = (
    "sqlalchemy", "fastapi", "web3", "eventsourcing", "uvicorn", "psycopg", "starlette",
    "eth_utils", "eth_typing", "eth_abi", "eth_account", "schwifty", "phonenumbers",
    "projections", "contracts",
)  # fmt: skip
# What building the command table (``import api.cli``, ``cocred --help``) may not load on top:
# the key code, the ledger's worker pool, and pydantic (typer itself brings pydantic in once
# it parses a command's or a group's options: ``keys new`` and ``keys --help`` do load it).
KEY_CODE = ("cryptography", "nacl", "rfc8785", "orjson", "multiprocessing")
HEAVY_AT_START = (*HEAVY, *KEY_CODE, "pydantic")
# The cocred modules outside api.cli the command table reads: they import nothing heavy.
CHEAP = {
    "api", "domain", "domain.errors", "domain.vocabulary", "ledger", "ledger.errors",
    "ledger.key_events", "ledger.limits",
}  # fmt: skip
OURS = ("api", "domain", "ledger", "projections", "contracts")

# Runs one command in a fresh interpreter (none: only imports the command table), then prints
# which of the given packages it imported, and every cocred module outside api.cli.
PROBE = """
import json, sys
from api.cli import app
heavy_arg, ours_arg = sys.argv.pop(1), sys.argv.pop(1)
if sys.argv[1:]:
    try:
        app(sys.argv[1:], standalone_mode=False)
    except SystemExit:
        pass
heavy, ours = set(heavy_arg.split(",")), tuple(ours_arg.split(","))
loaded = {m.split(".")[0] for m in sys.modules}
ours_loaded = [m for m in sys.modules if m.split(".")[0] in ours and not m.startswith("api.cli")]
print(json.dumps({"heavy": sorted(loaded & heavy), "ours": sorted(ours_loaded)}))
"""


def probe(*args: str, heavy: tuple[str, ...] = HEAVY) -> dict[str, list[str]]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", PROBE, ",".join(heavy), ",".join(OURS), *args],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    found: dict[str, list[str]] = json.loads(done.stdout.strip().splitlines()[-1])
    return found


def loaded_by(*args: str, heavy: tuple[str, ...] = HEAVY) -> list[str]:
    """The packages of ``heavy`` that ``cocred *args`` imported."""
    return probe(*args, heavy=heavy)["heavy"]


def test_the_command_table_loads_typer_rich_and_a_few_small_modules_only() -> None:
    found = probe(heavy=HEAVY_AT_START)
    assert found["heavy"] == []
    assert set(found["ours"]) <= CHEAP, sorted(set(found["ours"]) - CHEAP)


def top_level_imports(path: Path) -> list[tuple[int, str]]:
    """The modules ``path`` imports when it is imported (not in functions, not for mypy)."""
    found: list[tuple[int, str]] = []
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.append((node.lineno, node.module))
    return found


def test_a_command_module_imports_at_its_top_only_typer_the_stdlib_and_small_modules() -> None:
    """Names the import that breaks the rule (the probes above only see its effect)."""
    allowed = CHEAP | {"__future__", "typer", "rich.console", "api.cli", "api.cli.common"}
    wrong = [
        f"{path.relative_to(ROOT)}:{line} imports {name}"
        for path in sorted((ROOT / "api" / "cli").glob("*.py"))
        for line, name in top_level_imports(path)
        if name not in allowed and name.split(".")[0] not in sys.stdlib_module_names
    ]
    assert wrong == [], "import it in the function that uses it: " + "; ".join(wrong)


def test_help_loads_no_key_code_database_web_or_chain_library() -> None:
    found = probe("--help", heavy=HEAVY_AT_START)
    assert found["heavy"] == []
    assert set(found["ours"]) <= CHEAP, sorted(set(found["ours"]) - CHEAP)


def test_a_group_help_loads_no_more_than_the_main_help_and_pydantic() -> None:
    for group in ("keys", "payouts", "campaign", "export", "anchor", "witness"):
        found = probe(group, "--help", heavy=(*HEAVY, *KEY_CODE))
        assert found["heavy"] == [], group
        assert set(found["ours"]) <= CHEAP, (group, sorted(set(found["ours"]) - CHEAP))


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


def test_a_command_that_signs_does_load_the_key_code(tmp_path: Path) -> None:
    """The start probe can fail too: ``keys new`` shows the key code the table leaves out."""
    found = probe("keys", "new", "--out", str(tmp_path / "a.key"), heavy=HEAVY_AT_START)
    assert {"cryptography", "nacl"} <= set(found["heavy"])
    assert "ledger.keys" in found["ours"]


def test_the_export_help_names_every_export_format() -> None:
    assert EXPORT_FORMATS == FORMATS


def test_the_payout_files_help_names_every_file_rail() -> None:
    from api.cli.common import FILE_RAIL_NAMES
    from projections.rails import FILE_RAILS

    assert FILE_RAIL_NAMES == FILE_RAILS
