"""``cocred tiles export``: what it writes and what it refuses (its files are checked by
Go's tlog in ``tests/interop/test_go_tlog.py``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.api.cli.test_campaign import cocred, refused


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("COCRED_LEDGER_KEY_FILE", str(tmp_path / "ledger.key"))
    url = f"sqlite:///{tmp_path}/t.sqlite"
    key = tmp_path / "a.key"
    cocred("keys", "new", "--out", str(key))
    cocred("keys", "register", "--key", str(key), "--db", url)
    return url


def test_an_export_before_any_checkpoint_is_refused_and_writes_nothing(
    db: str, tmp_path: Path
) -> None:
    into = tmp_path / "tiles"
    assert refused("tiles", "export", str(into), "--db", db) == (
        "error[NotFound]: no checkpoint has been cut yet: run `cocred checkpoint` or --cut"
    )
    assert not into.exists()


def test_an_export_into_a_file_is_refused(db: str, tmp_path: Path) -> None:
    into = tmp_path / "taken"
    into.write_text("mine")
    assert refused("tiles", "export", str(into), "--cut", "--db", db) == (
        f"error[InvalidRequest]: {into} exists and is not a directory"
    )
    assert into.read_text() == "mine"


def test_cut_exports_the_whole_log_and_a_second_export_keeps_what_is_there(
    db: str, tmp_path: Path
) -> None:
    into = tmp_path / "tiles"
    first = json.loads(cocred("tiles", "export", str(into), "--cut", "--db", db).stdout)
    assert (first["size"], first["written"], first["kept"]) == (1, 2, 0)  # leaf tile, bundle
    assert (into / "tile/0/000.p/1").stat().st_size == 32
    again = json.loads(cocred("tiles", "export", str(into), "--db", db).stdout)
    assert (again["written"], again["kept"]) == (0, 2)
