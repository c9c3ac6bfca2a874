"""``cocred keys backup`` and ``cocred keys restore``: a key file sealed under a passphrase
and opened again on another machine (the browser's backup format, ``ledger/key_backup.py``);
each refusal is the one-line ``error[Code]: sentence`` and writes nothing."""

from __future__ import annotations

import json
from pathlib import Path

from ledger.keys import SigningKey
from tests.api.cli.test_campaign import cocred, refused


def test_a_key_backed_up_is_restored_with_its_passphrase(tmp_path: Path) -> None:
    key, backup, again = tmp_path / "ana.key", tmp_path / "ana.backup", tmp_path / "restored.key"
    secret = tmp_path / "passphrase.txt"
    secret.write_text("correct horse battery staple\n")
    made = json.loads(cocred("keys", "new", "--out", str(key)).stdout)
    shown = json.loads(cocred("keys", "backup", "--key", str(key), "--out", str(backup),
                              "--passphrase-file", str(secret)).stdout)  # fmt: skip
    assert (shown["actor"], shown["file"]) == (made["actor"], str(backup))
    assert backup.stat().st_mode & 0o777 == 0o600
    assert json.loads(backup.read_text())["format"] == "cocred-key-backup/v1"
    back = json.loads(cocred("keys", "restore", "--backup", str(backup), "--out", str(again),
                             "--passphrase-file", str(secret)).stdout)  # fmt: skip
    assert back["actor"] == made["actor"] and again.stat().st_mode & 0o777 == 0o600
    assert SigningKey.load(again).to_jwk() == SigningKey.load(key).to_jwk()


def test_the_passphrase_is_asked_for_twice_when_no_file_gives_it(tmp_path: Path) -> None:
    key, backup = tmp_path / "ana.key", tmp_path / "ana.backup"
    cocred("keys", "new", "--out", str(key))
    cocred("keys", "backup", "--key", str(key), "--out", str(backup), input="s3cret\ns3cret\n")
    restored = tmp_path / "r.key"
    cocred("keys", "restore", "--backup", str(backup), "--out", str(restored), input="s3cret\n")
    assert SigningKey.load(restored).actor == SigningKey.load(key).actor


def test_restore_and_backup_refuse_what_they_cannot_do(tmp_path: Path) -> None:
    key, backup, out = tmp_path / "ana.key", tmp_path / "ana.backup", tmp_path / "out.key"
    right, wrong, empty = (tmp_path / n for n in ("right.txt", "wrong.txt", "empty.txt"))
    right.write_text("right\n")
    wrong.write_text("wrong\n")
    empty.write_text("")
    actor = json.loads(cocred("keys", "new", "--out", str(key)).stdout)["actor"]
    cocred("keys", "backup", "--key", str(key), "--out", str(backup), "--passphrase-file",
           str(right))  # fmt: skip
    assert refused(
        "keys",
        "restore",
        "--backup",
        str(backup),
        "--out",
        str(out),
        "--passphrase-file",
        str(wrong),
    ) == (  # fmt: skip
        f"error[WrongPassphrase]: this passphrase does not open the key backup of {actor} (or "
        f"the file was altered)"
    )
    assert not out.exists()
    assert refused(
        "keys", "backup", "--key", str(key), "--out", str(backup), "--passphrase-file", str(right)
    ) == (  # fmt: skip
        f"error[BadKeyFile]: {backup} already exists; refusing to overwrite a backup"
    )
    assert refused(
        "keys",
        "restore",
        "--backup",
        str(backup),
        "--out",
        str(out),
        "--passphrase-file",
        str(empty),
    ) == (  # fmt: skip
        f"error[BadKeyBackup]: --passphrase-file {empty} holds no passphrase on its first line"
    )
    assert refused(
        "keys", "restore", "--backup", str(key), "--out", str(out), "--passphrase-file", str(right)
    ) == (  # fmt: skip
        "error[BadKeyBackup]: not a key backup: its format must be 'cocred-key-backup/v1'"
    )
    latin = tmp_path / "latin.txt"
    latin.write_bytes(b"caf\xe9\n")
    assert refused(
        "keys",
        "restore",
        "--backup",
        str(backup),
        "--out",
        str(out),
        "--passphrase-file",
        str(latin),
    ) == (  # fmt: skip
        f"error[BadKeyBackup]: --passphrase-file {latin} is not UTF-8 text"
    )
    missing = tmp_path / "nope.backup"
    assert refused(
        "keys",
        "restore",
        "--backup",
        str(missing),
        "--out",
        str(out),
        "--passphrase-file",
        str(right),
    ) == (  # fmt: skip
        f"error[UnreadableFile]: --backup: cannot read {missing}: No such file or directory"
    )
    cocred("keys", "restore", "--backup", str(backup), "--out", str(out), "--passphrase-file",
           str(right))  # fmt: skip
    assert refused(
        "keys",
        "restore",
        "--backup",
        str(backup),
        "--out",
        str(out),
        "--passphrase-file",
        str(right),
    ) == (  # fmt: skip
        f"error[BadKeyFile]: {out} already exists; refusing to overwrite a key"
    )
