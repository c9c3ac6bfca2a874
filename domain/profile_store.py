"""The profile store: each member's profile encrypted under the member's own key.

Two tables in the ledger's database: ``cocred_profile_keys`` (member -> a random
256-bit AES key) and ``cocred_profiles`` (member -> salt, nonce, AES-GCM
ciphertext of the canonical profile JSON, bound to the member id as associated
data). The salt is the one of the member's ``ProfileCommitted`` commitment.

``erase`` is crypto-shredding: it deletes the key, the salt and the ciphertext.
On SQLite the store's connections run with ``PRAGMA secure_delete=ON`` (deleted
rows are overwritten with zeros) and erasure ends with a WAL checkpoint that
truncates the WAL file, so the bytes are gone from every database file. On
PostgreSQL the rows are deleted in one transaction; their dead tuples stay on
disk until VACUUM reuses the space, as for any deleted row there.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import Column, LargeBinary, MetaData, String, Table, delete, select, text
from sqlalchemy.exc import SQLAlchemyError

from domain.database import open_engine, storage_error
from domain.errors import InvalidProfileError
from domain.profiles import Profile, commitment
from ledger.canonical import parse_json
from ledger.errors import LedgerError, StorageError

metadata = MetaData()
keys_table = Table(
    "cocred_profile_keys",
    metadata,
    Column("member", String(43), primary_key=True),
    Column("key", LargeBinary, nullable=False),
)
profiles_table = Table(
    "cocred_profiles",
    metadata,
    Column("member", String(43), primary_key=True),
    Column("salt", LargeBinary, nullable=False),
    Column("nonce", LargeBinary, nullable=False),
    Column("ciphertext", LargeBinary, nullable=False),
)


@dataclass(frozen=True, slots=True)
class StoredProfile:
    """A decrypted profile and the salt of its commitment."""

    member: str
    profile: Profile
    salt: bytes

    @property
    def commitment(self) -> str:
        return commitment(self.salt, self.profile)


_CHUNK = 500  # members per IN (...) query


def _chunks(items: list[str]) -> list[list[str]]:
    return [items[i : i + _CHUNK] for i in range(0, len(items), _CHUNK)]


def _aad(member: str) -> bytes:
    return b"cocred-profile:" + member.encode("ascii")


def _decrypt(
    member: str, key: bytes, salt: bytes, nonce: bytes, ciphertext: bytes
) -> StoredProfile:
    try:
        plain = AESGCM(key).decrypt(nonce, ciphertext, _aad(member))
    except InvalidTag as exc:
        raise StorageError(f"the profile of {member} does not decrypt: tampered") from exc
    try:
        profile = Profile.from_json(parse_json(plain))
    except (InvalidProfileError, LedgerError) as exc:
        raise StorageError(f"the profile of {member} is not a valid profile") from exc
    return StoredProfile(member, profile, salt)


class ProfileStore:
    """Per-member encrypted profiles; see the module docstring for erasure."""

    def __init__(self, url: str, *, create: bool = True) -> None:
        self.engine = open_engine(url, metadata, create=create, secure_delete=True)
        self.sqlite = self.engine.dialect.name == "sqlite"

    def put(self, member: str, profile: Profile, salt: bytes) -> None:
        """Encrypt and store the member's profile (replacing any earlier one).

        Raises ``StorageError`` if the database fails.
        """
        self.put_many([(member, profile, salt)])

    def put_many(self, rows: Iterable[tuple[str, Profile, bytes]]) -> None:
        """``put`` for many members in one transaction (a member's key is kept if it has one)."""
        latest = {member: (profile, salt) for member, profile, salt in rows}
        members = list(latest)
        try:
            with self.engine.begin() as conn:
                keys: dict[str, bytes] = {}
                for chunk in _chunks(members):
                    found = select(keys_table.c.member, keys_table.c.key)
                    for member, key in conn.execute(found.where(keys_table.c.member.in_(chunk))):
                        keys[member] = bytes(key)
                    conn.execute(delete(profiles_table).where(profiles_table.c.member.in_(chunk)))
                fresh = {m: AESGCM.generate_key(256) for m in members if m not in keys}
                if fresh:
                    conn.execute(
                        keys_table.insert(), [{"member": m, "key": k} for m, k in fresh.items()]
                    )
                    keys.update(fresh)
                sealed = []
                for member, (profile, salt) in latest.items():
                    nonce = os.urandom(12)
                    plain = profile.canonical_bytes()
                    sealed.append(
                        {
                            "member": member,
                            "salt": salt,
                            "nonce": nonce,
                            "ciphertext": AESGCM(keys[member]).encrypt(nonce, plain, _aad(member)),
                        }
                    )
                if sealed:
                    conn.execute(profiles_table.insert(), sealed)
        except SQLAlchemyError as exc:
            raise storage_error("storing profiles", exc) from exc

    def stored(self, member: str) -> StoredProfile | None:
        """The member's decrypted profile and salt, or None (never set, or erased).

        Raises ``StorageError`` if the database fails or the ciphertext does not
        decrypt under the member's key (tampering).
        """
        return self.stored_many([member]).get(member)

    def get(self, member: str) -> Profile | None:
        """The member's profile, or None (never set, or erased). See ``stored``."""
        found = self.stored(member)
        return None if found is None else found.profile

    def get_many(self, members: Iterable[str]) -> dict[str, Profile]:
        """The profiles of those ``members`` that have one. See ``stored``."""
        return {m: found.profile for m, found in self.stored_many(members).items()}

    def stored_many(self, members: Iterable[str]) -> dict[str, StoredProfile]:
        """``stored`` for many members in one query (absent members are left out)."""
        wanted = sorted(set(members))
        query = select(
            keys_table.c.member,
            keys_table.c.key,
            profiles_table.c.salt,
            profiles_table.c.nonce,
            profiles_table.c.ciphertext,
        ).join(profiles_table, profiles_table.c.member == keys_table.c.member)
        found: dict[str, StoredProfile] = {}
        try:
            with self.engine.connect() as conn:
                for chunk in _chunks(wanted):
                    for row in conn.execute(query.where(keys_table.c.member.in_(chunk))):
                        found[row[0]] = _decrypt(row[0], *(bytes(v) for v in row[1:]))
        except SQLAlchemyError as exc:
            raise storage_error("reading profiles", exc) from exc
        return found

    def erase(self, member: str) -> bool:
        """Delete the member's key, salt and ciphertext; True if there was anything.

        Raises ``StorageError`` if the database fails.
        """
        try:
            with self.engine.begin() as conn:
                gone = conn.execute(delete(keys_table).where(keys_table.c.member == member))
                conn.execute(delete(profiles_table).where(profiles_table.c.member == member))
            if self.sqlite:
                # Older page images of the rows may sit in the WAL file: fold it into the
                # (zeroed) database pages and truncate it.
                with self.engine.connect() as conn:
                    conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
        except SQLAlchemyError as exc:
            raise storage_error("erasing a profile", exc) from exc
        return bool(gone.rowcount)

    def close(self) -> None:
        self.engine.dispose()
