"""The profile store: each member's profile encrypted under the member's own key.

Tables in the ledger's database: ``cocred_profile_keys`` (member -> the member's
random 256-bit AES data key, *wrapped* under an epoch key, and that epoch's id),
``cocred_profiles`` (member -> a nonce and the AES-GCM ciphertext of the salt of the
member's ``ProfileCommitted`` commitment followed by the canonical profile JSON,
bound to the member id as associated data) and ``cocred_profile_store`` (one
row: the store's random id, which the epoch key file must name; its row also
serves as the lock that serialises every write). The epoch keys live outside the
database (``domain.epoch_keys``), so nothing the database holds decrypts alone.

``erase`` is crypto-shredding that holds on every backend:

1. a fresh epoch key is added to the key file (durably; the old one is kept);
2. in one transaction: the member's rows are deleted, and every other member's
   data key is re-wrapped under the fresh epoch (each row names its epoch);
3. once that committed, every epoch key no row names is destroyed.

Whatever PostgreSQL keeps of the rows (dead tuples, WAL, dumps, base backups)
holds the member's data key wrapped under an epoch key that no longer exists,
and the salt only inside the ciphertext. If the process dies after step 1, the
transaction rolls back: the member is not erased (the caller saw no success and
signs the erasure again) and the key file holds two epochs; if it dies after
step 2, the old epoch key outlives the commit. Either way the next open of the
store (and every erasure) first re-wraps any row still under an older epoch and
destroys the epoch keys no row names, so the old key never survives a restart.
On SQLite the store's transactions also run with ``PRAGMA secure_delete=ON``
(deleted rows are overwritten with zeros) and erasure ends with a WAL checkpoint
that truncates the WAL file, so the bytes are gone from every database file.

Stores written before epoch keys (raw data keys, salt in clear) are migrated
when opened: every profile is re-encrypted under a fresh data key, wrapped, and
the old tables are dropped (see ``_migrate_legacy``).

Longer than ~400 lines on purpose: the erasure's crash-safety argument above
holds only if the steps, the recovery on open and the migration are read (and
changed) together, in one place.

Longer than ~400 lines on purpose: the sealing, the key wrapping and the three-step erasure
share one lock row and one transaction discipline; split apart, the order that makes the
erasure hold on a crash would have to be followed across files.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterable
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import (
    Column,
    Connection,
    Engine,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    bindparam,
    delete,
    inspect,
    select,
    text,
    update,
)
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from domain.database import storage_error, store_engine
from domain.epoch_keys import EpochKeys, UnknownEpochError
from domain.errors import InvalidProfileError
from domain.profiles import Profile, commitment
from ledger.canonical import parse_json
from ledger.errors import LedgerError, StorageError
from ledger.store import sqlalchemy_url
from ledger.store.engine import tuned

metadata = MetaData()
store_table = Table(
    "cocred_profile_store",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("owner", String(32), nullable=False),
)
keys_table = Table(
    "cocred_profile_keys",
    metadata,
    Column("member", String(43), primary_key=True),
    Column("epoch", String(32), nullable=False),
    Column("key", LargeBinary, nullable=False),  # wrapped under the epoch's key
)
profiles_table = Table(
    "cocred_profiles",
    metadata,
    Column("member", String(43), primary_key=True),
    # nonce || AES-GCM of (salt length, salt, profile JSON): one self-contained value
    Column("sealed", LargeBinary, nullable=False),
)

# The layout before epoch keys (raw data keys, salt in clear): read once, to migrate.
_legacy = MetaData()
_legacy_keys = Table(
    "cocred_profile_keys",
    _legacy,
    Column("member", String(43), primary_key=True),
    Column("key", LargeBinary),
)
_legacy_profiles = Table(
    "cocred_profiles",
    _legacy,
    Column("member", String(43), primary_key=True),
    Column("salt", LargeBinary),
    Column("nonce", LargeBinary),
    Column("ciphertext", LargeBinary),
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
_READ_ATTEMPTS = 3  # a read that races an erasure's re-wrap sees a destroyed epoch: read again


def _chunks(items: list[str]) -> list[list[str]]:
    return [items[i : i + _CHUNK] for i in range(0, len(items), _CHUNK)]


def _aad(member: str) -> bytes:
    return b"cocred-profile:" + member.encode("ascii")


def seal(member: str, key: bytes, profile: Profile, salt: bytes) -> bytes:
    """Nonce and ciphertext of the salt and the profile under the member's data key."""
    if not 0 < len(salt) < 256:
        raise InvalidProfileError("a profile salt is 1 to 255 bytes", member=member)
    nonce = os.urandom(12)
    plain = bytes([len(salt)]) + salt + profile.canonical_bytes()
    return nonce + AESGCM(key).encrypt(nonce, plain, _aad(member))


def _parse(member: str, salt: bytes, plain: bytes) -> StoredProfile:
    try:
        profile = Profile.from_json(parse_json(plain))
    except (InvalidProfileError, LedgerError) as exc:
        raise StorageError(f"the profile of {member} is not a valid profile") from exc
    return StoredProfile(member, profile, salt)


def _open(member: str, key: bytes, sealed: bytes) -> StoredProfile:
    try:
        plain = AESGCM(key).decrypt(sealed[:12], sealed[12:], _aad(member))
    except InvalidTag as exc:
        raise StorageError(f"the profile of {member} does not decrypt: tampered") from exc
    n = plain[0] if plain else 0
    return _parse(member, plain[1 : 1 + n], plain[1 + n :])


class ProfileStore:
    """Per-member encrypted profiles; see the module docstring for erasure."""

    def __init__(
        self, url: str, keys: EpochKeys, *, create: bool = True, engine: Engine | None = None
    ) -> None:
        """Open (and migrate, and finish any interrupted erasure of) the store.

        Raises ``StorageError`` if the database fails, ``ProfileKeyUnavailableError``
        if the epoch key file is absent while the database holds wrapped keys (or
        unreadable), ``ProfileKeyMismatchError`` if it belongs to another store. Runs on
        ``engine`` (the process's) or on an engine of its own.
        """
        self._owns_engine = engine is None
        shared = store_engine(url, metadata, engine=engine, create=create)
        self.engine = tuned(shared, secure_delete=True)
        self.sqlite = self.engine.dialect.name == "sqlite"
        self.schema = sqlalchemy_url(url)[1]  # the inspector ignores schema_translate_map
        self.keys = keys
        try:
            self._prepare()
        except BaseException:
            self.close()
            raise

    # -- opening -----------------------------------------------------------------------------

    def _prepare(self) -> None:
        try:
            with self.engine.begin() as conn:
                if not inspect(conn).has_table(keys_table.name, self.schema):
                    return  # opened with create=False on a database without the store
                store_table.create(conn, checkfirst=True)
            try:
                with self.engine.begin() as conn:
                    conn.execute(store_table.insert(), {"id": 1, "owner": secrets.token_hex(16)})
            except IntegrityError:
                pass  # the store has its id (another process may just have given it)
            with self.engine.connect() as conn:
                owner = conn.execute(select(store_table.c.owner)).scalar_one()
                columns = {
                    c["name"] for c in inspect(conn).get_columns(keys_table.name, self.schema)
                }
                empty = conn.execute(select(keys_table.c.member).limit(1)).first() is None
        except SQLAlchemyError as exc:
            raise storage_error("opening the profile store", exc) from exc
        legacy = "epoch" not in columns
        # A missing key file is created only while no wrapped key needs it: creating a
        # fresh one beside a database that has wrapped keys would hide the real fault.
        self.keys.bind(owner, may_create=empty or legacy)
        if legacy:
            self._migrate_legacy()
        self._finish_rotation()

    def _migrate_legacy(self) -> None:
        """Re-encrypt every profile of a pre-epoch store (raw keys, salt in clear).

        Each profile gets a fresh data key, wrapped under the current epoch; the old
        tables are dropped (PostgreSQL unlinks their files), so the raw keys are left
        only in WAL and in backups taken before this migration.
        """
        old_keys, old_rows = _legacy_keys, _legacy_profiles
        query = select(
            old_keys.c.member, old_keys.c.key, old_rows.c.salt, old_rows.c.nonce,
            old_rows.c.ciphertext,
        ).join(old_rows, old_rows.c.member == old_keys.c.member)  # fmt: skip
        try:
            with self.engine.begin() as conn:
                self._lock(conn)
                found = []
                for member, key, salt, nonce, sealed in conn.execute(query):
                    try:
                        plain = AESGCM(bytes(key)).decrypt(
                            bytes(nonce), bytes(sealed), _aad(member)
                        )
                    except InvalidTag as exc:
                        raise StorageError(
                            f"the profile of {member} does not decrypt: tampered"
                        ) from exc
                    found.append(_parse(member, bytes(salt), plain))
                profiles_table.drop(conn)
                keys_table.drop(conn)
                keys_table.create(conn)
                profiles_table.create(conn)
                self._insert(conn, {s.member: (s.profile, s.salt) for s in found}, {})
        except SQLAlchemyError as exc:
            raise storage_error("migrating the profile store to wrapped keys", exc) from exc
        self._checkpoint_wal()

    def _finish_rotation(self) -> None:
        """Re-wrap rows still under an older epoch, then destroy unnamed epoch keys.

        Idempotent; it is step 3 of an erasure, and what a restart does after a
        crash between the steps.
        """
        try:
            with self.engine.begin() as conn:
                self._lock(conn)
                current = self.keys.current()
                held = self.keys.held()
                stale = [
                    (m, e, bytes(k))
                    for m, e, k in conn.execute(
                        select(keys_table.c.member, keys_table.c.epoch, keys_table.c.key).where(
                            keys_table.c.epoch != current
                        )
                    )
                    if e in held
                ]
                self._rewrap(conn, stale)
            if len(held) == 1:
                return
            with self.engine.begin() as conn:
                self._lock(conn)  # no put or erasure may wrap under a key being destroyed
                named = {e for (e,) in conn.execute(select(keys_table.c.epoch).distinct())}
                self.keys.destroy_except(named)
        except SQLAlchemyError as exc:
            raise storage_error("finishing an epoch key rotation", exc) from exc

    # -- helpers -----------------------------------------------------------------------------

    def _lock(self, conn: Connection) -> None:
        """Serialise writers: a row lock on PostgreSQL, the write lock on SQLite."""
        conn.execute(update(store_table).values(owner=store_table.c.owner))

    def _rewrap(self, conn: Connection, rows: list[tuple[str, str, bytes]]) -> None:
        """Re-wrap each (member, epoch, wrapped key) under the current epoch."""
        if not rows:
            return
        params = []
        for member, epoch, wrapped in rows:
            new_epoch, new = self.keys.wrap(member, self.keys.unwrap(epoch, member, wrapped))
            params.append({"m": member, "e": new_epoch, "k": new})
        conn.execute(
            update(keys_table)
            .where(keys_table.c.member == bindparam("m"))
            .values(epoch=bindparam("e"), key=bindparam("k")),
            params,
        )

    def _insert(
        self, conn: Connection, latest: dict[str, tuple[Profile, bytes]], keys: dict[str, bytes]
    ) -> None:
        """Store the profiles, with fresh wrapped data keys for members not in ``keys``."""
        fresh = {m: AESGCM.generate_key(256) for m in latest if m not in keys}
        if fresh:
            rows = []
            for member, key in fresh.items():
                epoch, wrapped = self.keys.wrap(member, key)
                rows.append({"member": member, "epoch": epoch, "key": wrapped})
            conn.execute(keys_table.insert(), rows)
        keys = {**keys, **fresh}
        sealed = []
        for member, (profile, salt) in latest.items():
            sealed.append({"member": member, "sealed": seal(member, keys[member], profile, salt)})
        if sealed:
            conn.execute(profiles_table.insert(), sealed)

    def _checkpoint_wal(self) -> None:
        if self.sqlite:
            # Older page images of the rows may sit in the WAL file: fold it into the
            # (zeroed) database pages and truncate it.
            with self.engine.connect() as conn:
                conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))

    # -- the store ---------------------------------------------------------------------------

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
                self._lock(conn)
                keys: dict[str, bytes] = {}
                for chunk in _chunks(members):
                    found = select(keys_table.c.member, keys_table.c.epoch, keys_table.c.key)
                    for member, epoch, key in conn.execute(
                        found.where(keys_table.c.member.in_(chunk))
                    ):
                        keys[member] = self.keys.unwrap(epoch, member, bytes(key))
                    conn.execute(delete(profiles_table).where(profiles_table.c.member.in_(chunk)))
                self._insert(conn, latest, keys)
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
        for attempt in range(_READ_ATTEMPTS):
            try:
                return self._read(wanted)
            except UnknownEpochError:
                if attempt == _READ_ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")

    def _read(self, wanted: list[str]) -> dict[str, StoredProfile]:
        query = select(
            keys_table.c.member,
            keys_table.c.epoch,
            keys_table.c.key,
            profiles_table.c.sealed,
        ).join(profiles_table, profiles_table.c.member == keys_table.c.member)
        found: dict[str, StoredProfile] = {}
        try:
            with self.engine.connect() as conn:
                for chunk in _chunks(wanted):
                    for member, epoch, wrapped, sealed in conn.execute(
                        query.where(keys_table.c.member.in_(chunk))
                    ):
                        key = self.keys.unwrap(epoch, member, bytes(wrapped))
                        found[member] = _open(member, key, bytes(sealed))
        except SQLAlchemyError as exc:
            raise storage_error("reading profiles", exc) from exc
        return found

    def erase(self, member: str) -> bool:
        """Shred the member's profile (see the module docstring); True if there was one.

        Raises ``StorageError`` if the database fails (the deletion may or may not
        have committed: erasing again finishes it, and the next open or erasure
        finishes any key rotation), or
        ``ProfileKeyUnavailableError`` if the epoch key file cannot be rewritten.
        """
        try:
            with self.engine.begin() as conn:
                self._lock(conn)
                had = conn.execute(
                    select(keys_table.c.member).where(keys_table.c.member == member)
                ).first()
                if had is not None:
                    self.keys.open_epoch()  # step 1: durable before any row changes
                conn.execute(delete(keys_table).where(keys_table.c.member == member))
                conn.execute(delete(profiles_table).where(profiles_table.c.member == member))
                if had is not None:  # step 2: everyone else moves to the fresh epoch
                    rest = select(keys_table.c.member, keys_table.c.epoch, keys_table.c.key)
                    self._rewrap(conn, [(m, e, bytes(k)) for m, e, k in conn.execute(rest)])
            self._finish_rotation()  # step 3: the old epoch key is destroyed
            self._checkpoint_wal()
        except SQLAlchemyError as exc:
            raise storage_error("erasing a profile", exc) from exc
        return had is not None

    def close(self) -> None:
        if self._owns_engine:  # a shared engine is its owner's to dispose
            self.engine.dispose()
