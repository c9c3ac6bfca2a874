"""The epoch key file: crashes between the steps of an erasure, refusals, migration."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import (
    Column,
    LargeBinary,
    MetaData,
    String,
    Table,
    create_engine,
    inspect,
    select,
    text,
)

from api.bootstrap import bootstrap
from api.settings import Settings
from domain.epoch_keys import EpochKeyFile
from domain.errors import ProfileKeyMismatchError, ProfileKeyUnavailableError
from domain.profile_store import ProfileStore, keys_table
from domain.profiles import Profile
from ledger.store import sqlalchemy_url

ANA, BEN = "a" * 43, "b" * 43
ZELDA = Profile.create("Zelda Quartermaine", "zelda@unlikely-domain.example", "IBAN XQ99 1")
BEN_P = Profile.create("Ben", "ben@example.org", "PAYPAL ben")
SALT_A, SALT_B = b"\x11" * 32, b"\x22" * 32


class Crash(BaseException):
    """The process dies here (nothing after this line of the erasure runs)."""


class DiesAfterOpeningAnEpoch(EpochKeyFile):
    def open_epoch(self) -> str:
        super().open_epoch()
        raise Crash


class DiesBeforeDestroying(EpochKeyFile):
    def destroy_except(self, keep: object) -> None:
        raise Crash


def _epochs(path: Path) -> list[str]:
    return [e["id"] for e in json.loads(path.read_text())["epochs"]]


def _store(url: str, path: Path, cls: type[EpochKeyFile] = EpochKeyFile) -> ProfileStore:
    store = ProfileStore(url, cls(path))
    return store


def _two_members(url: str, path: Path) -> None:
    store = _store(url, path)
    store.put(ANA, ZELDA, SALT_A)
    store.put(BEN, BEN_P, SALT_B)
    store.close()


def test_a_crash_after_the_fresh_epoch_is_written_leaves_the_member_unerased_until_asked_again(
    store_url: str, tmp_path: Path
) -> None:
    path = tmp_path / "profiles.key"
    _two_members(store_url, path)
    (before,) = _epochs(path)
    dying = _store(store_url, path, DiesAfterOpeningAnEpoch)
    with pytest.raises(Crash):
        dying.erase(ANA)
    dying.close()
    assert len(_epochs(path)) == 2  # the old key is kept: the rows still need it

    store = _store(store_url, path)  # a restart settles on the fresh epoch alone
    assert _epochs(path) != [before] and len(_epochs(path)) == 1
    assert store.get(ANA) == ZELDA and store.get(BEN) == BEN_P
    assert store.erase(ANA) is True  # the member signs the erasure again
    assert store.get(ANA) is None and store.get(BEN) == BEN_P
    store.close()


def test_a_crash_after_the_rewrap_committed_destroys_the_old_epoch_key_on_the_next_open(
    store_url: str, tmp_path: Path
) -> None:
    path = tmp_path / "profiles.key"
    _two_members(store_url, path)
    (before,) = _epochs(path)
    dying = _store(store_url, path, DiesBeforeDestroying)
    with pytest.raises(Crash):
        dying.erase(ANA)
    dying.close()
    assert before in _epochs(path) and len(_epochs(path)) == 2  # the old key outlived it

    store = _store(store_url, path)
    assert before not in _epochs(path) and len(_epochs(path)) == 1
    assert store.get(ANA) is None and store.get(BEN) == BEN_P
    store.close()


def test_a_missing_epoch_key_file_is_refused_while_the_database_holds_wrapped_keys(
    tmp_path: Path,
) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path}/db.sqlite", verify_threads=1)
    with bootstrap(settings) as svc:
        svc.profiles.put(ANA, ZELDA, SALT_A)
        path = svc.profiles.keys.path  # type: ignore[attr-defined]
    path.unlink()
    with pytest.raises(ProfileKeyUnavailableError) as caught:
        bootstrap(settings)
    assert caught.value.code == "ProfileKeyUnavailable"
    assert caught.value.detail == (
        f"the profile epoch key file {path} does not exist; restore it from where you keep "
        f"it (it is never in the database or its backups), or set COCRED_PROFILE_KEY_FILE "
        f"to its path"
    )
    assert not path.exists(), "no fresh key file hides the missing one"


def test_an_unreadable_epoch_key_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "profiles.key"
    path.write_text('{"v": 1, "owner": "x", "epochs": []}')
    with pytest.raises(ProfileKeyUnavailableError) as caught:
        _store(f"sqlite:///{tmp_path}/db.sqlite", path)
    assert caught.value.code == "ProfileKeyUnavailable"
    assert caught.value.detail == (
        f"the profile epoch key file {path} is not readable (it must hold format 1 and at "
        f"least one 32-byte key); restore it from where you keep it"
    )


def test_the_epoch_key_file_of_another_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "profiles.key"
    _store(f"sqlite:///{tmp_path}/one.sqlite", path).close()
    owner = json.loads(path.read_text())["owner"]
    with pytest.raises(ProfileKeyMismatchError) as caught:
        _store(f"sqlite:///{tmp_path}/two.sqlite", path)
    assert caught.value.code == "ProfileKeyMismatch"
    assert caught.value.detail.startswith(
        f"the profile epoch key file {path} belongs to profile store {owner}, not to this "
        f"database's store "
    )
    assert caught.value.detail.endswith(
        "; set COCRED_PROFILE_KEY_FILE to this database's own key file"
    )


def test_the_epoch_key_file_is_created_beside_the_sqlite_file_with_mode_0600(
    tmp_path: Path,
) -> None:
    with bootstrap(Settings(database_url=f"sqlite:///{tmp_path}/db.sqlite")) as svc:
        path = svc.profiles.keys.path  # type: ignore[attr-defined]
    assert path == tmp_path / "db.profiles.key"
    assert oct(path.stat().st_mode & 0o777) == "0o600"


def test_a_store_written_before_epoch_keys_is_migrated_when_opened(
    store_url: str, tmp_path: Path
) -> None:
    # The layout cocred wrote before: the raw data key, the salt in clear.
    sa_url, schema = sqlalchemy_url(store_url)
    engine = create_engine(sa_url)
    if schema:
        engine = engine.execution_options(schema_translate_map={None: schema})
    legacy = MetaData()
    keys = Table("cocred_profile_keys", legacy, Column("member", String(43), primary_key=True),
                 Column("key", LargeBinary))  # fmt: skip
    rows = Table("cocred_profiles", legacy, Column("member", String(43), primary_key=True),
                 *(Column(n, LargeBinary) for n in ("salt", "nonce", "ciphertext")))  # fmt: skip
    raw, nonce = AESGCM.generate_key(256), os.urandom(12)
    sealed = AESGCM(raw).encrypt(nonce, ZELDA.canonical_bytes(), b"cocred-profile:" + ANA.encode())
    with engine.begin() as conn:
        if schema:
            conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
        legacy.create_all(conn)
        conn.execute(keys.insert(), {"member": ANA, "key": raw})
        conn.execute(
            rows.insert(), {"member": ANA, "salt": SALT_A, "nonce": nonce, "ciphertext": sealed}
        )
    engine.dispose()

    store = _store(store_url, tmp_path / "profiles.key")
    found = store.stored(ANA)
    assert found is not None and (found.profile, found.salt) == (ZELDA, SALT_A)
    with store.engine.connect() as conn:
        (wrapped,) = conn.execute(select(keys_table.c.key)).one()
        columns = [c["name"] for c in inspect(conn).get_columns("cocred_profiles", schema)]
    assert bytes(wrapped) != raw and len(bytes(wrapped)) == 60  # wrapped, under a fresh key
    assert columns == ["member", "sealed"]  # no salt in clear any more
    assert store.erase(ANA) is True and store.get(ANA) is None
    store.close()


def test_a_missing_or_foreign_epoch_key_file_answers_503_as_the_operator_must_act() -> None:
    from api.http.errors import status_for

    assert status_for(ProfileKeyUnavailableError("the file is gone")) == 503
    assert status_for(ProfileKeyMismatchError("another store's file")) == 503
