"""Crypto-shredding on PostgreSQL: what the server and its backups keep is useless.

PostgreSQL keeps deleted row versions in its table files, WAL and backups. These
tests erase a member, then play the attacker with everything that remains (the
raw table files, a ``pg_dump`` and a base backup taken *before* the erasure, and
the current epoch key file): every wrapped key found is tried under every epoch
key held, every sealed value under every data key so recovered. The erased
member's profile must not come back, while the pre-erasure copies *do* give it
back with the old epoch key (so the attack works, and the tests can fail).

The base backup is a file-level copy of the profile tables' relation files after
a CHECKPOINT: ``pg_basebackup`` needs a ``replication`` line in ``pg_hba.conf``,
which the shared test server does not have (and tests must not reconfigure it).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from api.bootstrap import bootstrap
from api.settings import Settings
from domain.epoch_keys import WRAPPED_BYTES, unwrap_with
from domain.profiles import Profile
from ledger.verify import verify_log
from tests.domain.conftest import World, open_world
from tests.support import PG_URL, drop_postgres_schema, fresh_postgres_url, unavailable

pytestmark = pytest.mark.postgres

ZELDA = Profile.create(
    "Zelda Quartermaine-Ypsilon", "zelda.qy@unlikely-domain.example", "IBAN XQ99 8877 6655 4433"
)
BEN = Profile.create("Ben Okonkwo-Lindqvist", "ben.ol@example.org", "PAYPAL ben.ol")
TABLES = ("cocred_profile_keys", "cocred_profiles")


@pytest.fixture
def pg(tmp_path: Path) -> Iterator[tuple[World, str]]:
    url = fresh_postgres_url()
    settings = Settings(database_url=url, verify_threads=1, ledger_key_file=tmp_path / "l.key")
    svc = bootstrap(settings)
    try:
        yield open_world(svc), url.rsplit("schema=", 1)[1]
    finally:
        svc.close()
        drop_postgres_schema(url)


# -- what an attacker can read ---------------------------------------------------------------


def _sql(query: str, *args: object) -> list[tuple[object, ...]]:
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        cur = conn.execute(query, args or None)
        return list(cur.fetchall()) if cur.description else []


def _relation_files(schema: str) -> list[Path]:
    """The main-fork files (every segment) of the profile tables and their TOAST tables."""
    _sql("CHECKPOINT")  # every dirty page of the tables is written to its file
    data = Path(str(_sql("SELECT current_setting('data_directory')")[0][0]))
    if not os.access(data / "base", os.R_OK | os.X_OK):
        unavailable(f"the server's data directory {data} is not readable by this user")
    rows = _sql(
        "SELECT pg_relation_filepath(c.oid), pg_relation_filepath(NULLIF(c.reltoastrelid, 0))"
        " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = %s AND c.relname = ANY(%s)",
        schema,
        list(TABLES),
    )
    assert len(rows) == len(TABLES)
    files = []
    for rel in (r for row in rows for r in row if r):
        base = data / str(rel)
        files += [base, *base.parent.glob(f"{base.name}.[0-9]*")]
    return [f for f in files if f.exists()]


def _raw_bytes(files: list[Path]) -> bytes:
    return b"".join(f.read_bytes() for f in files)


def _pg_dump(schema: str, out: Path) -> bytes:
    if shutil.which("pg_dump") is None:
        unavailable("pg_dump is not installed")
    subprocess.run(
        ["pg_dump", "--dbname", PG_URL, "--schema", schema, "--file", str(out)], check=True
    )
    return out.read_bytes()


def _heap_values(data: bytes) -> Iterator[bytes]:
    """Every byte string a PostgreSQL page could hold inline (short and 4-byte varlenas)."""
    for i, b in enumerate(data):
        if b & 1 and b != 1:  # 1-byte header: length (header included) in the upper 7 bits
            yield data[i + 1 : i + (b >> 1)]
    for i in range(0, len(data) - 4, 4):  # 4-byte header, int-aligned, uncompressed
        n = int.from_bytes(data[i : i + 4], "little")
        if n & 3 == 0 and 20 <= n >> 2 <= 2000:
            yield data[i + 4 : i + (n >> 2)]


def _dump_values(dump: bytes) -> Iterator[bytes]:
    """Every bytea value of a plain-format dump (``\\x`` hex in COPY data)."""
    for token in re.findall(rb"\\\\x([0-9a-f]+)", dump):
        yield bytes.fromhex(token.decode())


def _epoch_keys(path: Path) -> dict[str, bytes]:
    import base64

    data = json.loads(path.read_text())
    return {e["id"]: base64.urlsafe_b64decode(e["key"] + "==") for e in data["epochs"]}


def _attack(values: list[bytes], epoch_keys: dict[str, bytes], members: list[str]) -> dict:
    """Every profile the values give back with ``epoch_keys``: member -> plaintext."""
    data_keys: set[tuple[str, bytes]] = set()
    for value in values:
        if len(value) != WRAPPED_BYTES:
            continue
        for epoch, key in epoch_keys.items():
            for member in members:
                with contextlib.suppress(InvalidTag):
                    data_keys.add((member, unwrap_with(key, epoch, member, value)))
    found = {}
    for value in {v for v in values if len(v) > 12 + 16}:
        for member, key in data_keys:
            aad = b"cocred-profile:" + member.encode()
            with contextlib.suppress(InvalidTag):
                found[member] = AESGCM(key).decrypt(value[:12], value[12:], aad)
    return found


def _in_clear(profile: Profile, salt: bytes) -> list[bytes]:
    return [
        profile.display_name.encode(),
        profile.email.encode(),
        profile.payout_handle.encode(),
        salt,
        salt.hex().encode(),
    ]


# -- the scenario ----------------------------------------------------------------------------


def test_an_erased_profile_cannot_be_decrypted_from_table_files_dump_or_earlier_backup(
    pg: tuple[World, str], tmp_path: Path
) -> None:
    w, schema = pg
    members = [w.ana.actor, w.ben.actor, w.cy.actor]
    w.c.set_profile(w.ana, ZELDA)
    w.c.set_profile(w.ben, BEN)
    zelda_salt = w.svc.profiles.stored(w.ana.actor).salt  # type: ignore[union-attr]
    key_file = w.svc.profiles.keys.path  # type: ignore[attr-defined]
    assert oct(key_file.stat().st_mode & 0o777) == "0o600"

    # Before the erasure: a dump, a base backup of the tables' files, and (for the
    # control below only) a copy of the epoch key file as it was.
    dump = _pg_dump(schema, tmp_path / "before.sql")
    backup = tmp_path / "base-backup"
    backup.mkdir()
    for i, f in enumerate(_relation_files(schema)):
        shutil.copyfile(f, backup / f"{i}-{f.name}")
    old_keys = _epoch_keys(key_file)

    w.c.erase(w.ana)

    raw = _raw_bytes(_relation_files(schema))
    backup_bytes = _raw_bytes(sorted(backup.iterdir()))
    now_keys = _epoch_keys(key_file)

    # The control: the pre-erasure copies give Zelda's profile back with the old key,
    # and the table files still hold her dead row versions (plain VACUUM leaves them).
    zelda = ZELDA.canonical_bytes()
    assert zelda in _attack(list(_dump_values(dump)), old_keys, members)[w.ana.actor]
    assert zelda in _attack(list(_heap_values(backup_bytes)), old_keys, members)[w.ana.actor]
    assert zelda in _attack(list(_heap_values(raw)), old_keys, members)[w.ana.actor]
    # The old epoch key is gone: the key file holds only fresh epochs.
    assert not set(old_keys) & set(now_keys)
    assert not any(k in key_file.read_bytes() for k in old_keys.values())
    assert oct(key_file.stat().st_mode & 0o777) == "0o600"

    # With what remains, nothing gives her back; Ben's live row proves the attack reads.
    for where, values in (
        ("the table files", list(_heap_values(raw))),
        ("the pg_dump taken before", list(_dump_values(dump))),
        ("the base backup taken before", list(_heap_values(backup_bytes))),
    ):
        assert w.ana.actor not in _attack(values, now_keys, members), where
    assert BEN.canonical_bytes() in _attack(list(_heap_values(raw)), now_keys, members)[w.ben.actor]
    for where, data in (("files", raw), ("dump", dump), ("backup", backup_bytes)):
        for clear in _in_clear(ZELDA, zelda_salt):
            assert clear not in data, (where, clear)

    # Users see the same erasure; the others' profiles still decrypt; the log verifies.
    assert w.svc.profiles.get(w.ana.actor) is None
    assert w.svc.profiles.get(w.ben.actor) == BEN
    assert w.c.labels([w.ana.actor, w.ben.actor])[w.ben.actor] == BEN.display_name
    assert verify_log(w.svc.ledger.store).ok
