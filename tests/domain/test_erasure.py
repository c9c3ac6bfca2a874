"""Erasure by crypto-shredding: the person is gone, every signature still verifies."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select, text

from api.bootstrap import Services, bootstrap
from api.settings import Settings
from domain.errors import MemberErasedError
from domain.profile_store import keys_table, profiles_table
from domain.profiles import ERASED_LABEL, Profile, commitment
from ledger.verify import verify_log
from tests.domain.conftest import CAMPAIGN, World, open_world

ZELDA = Profile.create(
    "Zelda Quartermaine-Ypsilon", "zelda.qy@unlikely-domain.example", "IBAN XQ99 8877 6655 4433"
)


def _database_bytes(path: Path) -> bytes:
    """The SQLite file and its WAL and shared-memory files, as they are on disk."""
    return b"".join(
        p.read_bytes() for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")) if p.exists()
    )


def _secrets(svc: Services, member: str) -> list[bytes]:
    """The wrapped key, the salt and the sealed profile the store holds for ``member``."""
    stored = svc.profiles.stored(member)
    assert stored is not None
    with svc.profiles.engine.connect() as conn:
        key = conn.execute(select(keys_table.c.key).where(keys_table.c.member == member)).one()
        sealed = conn.execute(
            select(profiles_table.c.sealed).where(profiles_table.c.member == member)
        ).one()
    return [bytes(key[0]), stored.salt, bytes(sealed[0])]


@pytest.fixture
def sqlite_world(tmp_path: Path) -> tuple[World, Path]:
    path = tmp_path / "erasure.sqlite"
    svc = bootstrap(Settings(database_url=f"sqlite:///{path}", verify_threads=1))
    try:
        yield open_world(svc), path
    finally:
        svc.close()


def test_an_erased_member_leaves_no_trace_in_any_database_file(
    sqlite_world: tuple[World, Path],
) -> None:
    w, path = sqlite_world
    c = w.c
    # Zelda (Ana's key) commits her profile, contributes and is engaged with.
    c.set_profile(w.ana, ZELDA)
    work = w.submit(w.ana, "Tidal scarf")
    c.cast_vote(w.ben, CAMPAIGN, work, "support")
    remix = w.submit(w.cy, "Tidal scarf remix", derived_from=[(work, None)])
    with w.svc.profiles.engine.connect() as conn:  # deleted rows are overwritten with zeros
        assert conn.execute(text("PRAGMA secure_delete")).scalar() == 1
    secrets = _secrets(w.svc, w.ana.actor)
    key, salt, sealed = secrets
    assert commitment(salt, ZELDA).encode() in b"".join(
        r.data for r in w.svc.ledger.store.iterate()
    )
    everything = _database_bytes(path)
    assert key in everything and sealed in everything, "the grep below can see the store"
    assert salt not in everything, "the salt is only ever stored encrypted"
    assert b"Zelda" not in everything, "the profile is only ever stored encrypted"

    receipt = c.erase(w.ana)

    # The event is PII-free and the person is gone from the store …
    erased = w.svc.ledger.event(receipt.position)
    assert erased is not None and erased.type == "MemberErased"
    assert b'"body":{}' in erased.data
    assert w.svc.profiles.get(w.ana.actor) is None
    # … and from every byte of the database files: strings, key, salt, nonce, ciphertext.
    after = _database_bytes(path)
    for clear in (ZELDA.display_name, ZELDA.email, ZELDA.payout_handle, "Zelda", "unlikely"):
        assert clear.encode() not in after, clear
    for name, secret in zip(("wrapped key", "salt", "sealed profile"), secrets, strict=True):
        assert secret not in after, name
    assert salt.hex().encode() not in after

    # Every signature and hash still verifies; her history shows as an erased member.
    assert verify_log(w.svc.ledger.store).ok
    shown = {x["contribution"]: x for x in c.show(CAMPAIGN, contributions=True)["works"]}
    assert shown[work]["authors"] == [{"member": w.ana.actor, "share": 100, "name": ERASED_LABEL}]
    assert shown[remix]["derived_from"] == [{"contribution": work, "share": None}]
    exported = c.export_my_data(w.ana.actor)
    assert (exported["erased"], exported["profile"], exported["commitment"]) == (True, None, None)
    assert [e["type"] for e in exported["events"]][-1] == "MemberErased"
    with pytest.raises(MemberErasedError):
        c.set_profile(w.ana, ZELDA)  # a new commitment would link the history again


def test_erasure_on_postgresql_deletes_key_salt_and_ciphertext(services: Services) -> None:
    w = open_world(services)
    w.c.set_profile(w.ana, ZELDA)
    w.c.set_profile(w.ben, Profile.create("Ben", "ben@example.org", "PAYPAL ben"))
    w.c.erase(w.ana)
    with services.profiles.engine.connect() as conn:
        keys = {r[0] for r in conn.execute(select(keys_table.c.member))}
        rows = {r[0] for r in conn.execute(select(profiles_table.c.member))}
    assert keys == rows == {w.ben.actor}
    assert verify_log(services.ledger.store).ok
    assert w.c.labels([w.ana.actor, w.ben.actor, w.cy.actor]) == {
        w.ana.actor: ERASED_LABEL,
        w.ben.actor: "Ben",
        w.cy.actor: w.cy.actor,
    }
