"""Epoch keys: the keys that wrap every member's profile key, kept outside the database.

Why: a database cannot forget. PostgreSQL keeps deleted and updated row versions in
its table files until VACUUM reuses the space, in WAL segments, and in every dump
and base backup. If a member's data key sat in the database next to the
ciphertext, any of those copies would give the profile back after an erasure.
So the database holds each data key only *wrapped* under an epoch key that lives
in a file beside the ledger key (never in the database, never in its backups).
An erasure deletes the member's rows, re-wraps every remaining member's key under
a fresh epoch key and then destroys the old one: every copy PostgreSQL or a backup
kept holds data keys wrapped under a key that no longer exists anywhere.

The wrap is AES-256-GCM from ``cryptography`` (no hand-written crypto): a random
96-bit nonce, the 32-byte data key as plaintext, and ``epoch id + member id`` as
associated data, so a wrapped key cannot be moved to another member or passed
off as another epoch's. AES-GCM rather than RFC 3394 key wrap because it binds
that context and cryptography already serves the profiles with it; the nonce
limit (2**32 wraps per key) is far away, as each epoch key wraps each member once
(a member's later profile changes keep the same wrapped data key).

``EpochKeys`` is the port (what a KMS would implement: wrap, unwrap, open a new
epoch, destroy old ones; key material never has to leave it). ``EpochKeyFile``
is the shipped implementation: one JSON file, mode 0600, rewritten atomically
(write a temporary file, fsync, rename over, fsync the directory), so a crash
leaves either the old or the new file, never a torn one. The file names the
profile store it belongs to (``owner``), so two databases never share one.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import secrets
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from domain.errors import ProfileKeyMismatchError, ProfileKeyUnavailableError
from ledger.errors import StorageError

NONCE_BYTES = 12
DATA_KEY_BYTES = 32
WRAPPED_BYTES = NONCE_BYTES + DATA_KEY_BYTES + 16  # nonce, wrapped key, GCM tag
FORMAT = 1


class UnknownEpochError(StorageError):
    """A wrapped key names an epoch whose key is not (or no longer) held."""


def wrap_context(epoch: str, member: str) -> bytes:
    """The associated data of a wrapped key: it belongs to this epoch and member."""
    return b"cocred-data-key:" + epoch.encode("ascii") + b":" + member.encode("ascii")


def wrap_with(epoch_key: bytes, epoch: str, member: str, data_key: bytes) -> bytes:
    """``data_key`` wrapped under ``epoch_key``: nonce || AES-GCM ciphertext and tag."""
    nonce = os.urandom(NONCE_BYTES)
    return nonce + AESGCM(epoch_key).encrypt(nonce, data_key, wrap_context(epoch, member))


def unwrap_with(epoch_key: bytes, epoch: str, member: str, wrapped: bytes) -> bytes:
    """The data key inside ``wrapped``; raises ``cryptography``'s ``InvalidTag`` if not."""
    nonce, sealed = wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:]
    return AESGCM(epoch_key).decrypt(nonce, sealed, wrap_context(epoch, member))


class EpochKeys(Protocol):
    """Where the epoch keys live: a key file (shipped) or a KMS.

    Every method reflects changes other processes made (no stale cache), and
    ``open_epoch`` / ``destroy_except`` are durable when they return.
    """

    def bind(self, owner: str, *, may_create: bool) -> None:
        """Check the keys belong to store ``owner``; create them if absent and allowed.

        Raises ``ProfileKeyUnavailableError`` (absent, unreadable) or
        ``ProfileKeyMismatchError`` (they belong to another store).
        """

    def current(self) -> str:
        """The id of the newest epoch: new data keys are wrapped under it."""

    def held(self) -> frozenset[str]:
        """The ids of every epoch whose key still exists."""

    def wrap(self, member: str, data_key: bytes) -> tuple[str, bytes]:
        """``data_key`` wrapped under the current epoch: (epoch id, wrapped bytes)."""

    def unwrap(self, epoch: str, member: str, wrapped: bytes) -> bytes:
        """The data key; raises ``UnknownEpochError`` or ``StorageError`` (tampered)."""

    def open_epoch(self) -> str:
        """Create a fresh epoch key, now the current one, keeping the others; its id."""

    def destroy_except(self, keep: Collection[str]) -> None:
        """Destroy every epoch key not in ``keep`` (the current one is always kept)."""


@dataclass(frozen=True)
class _Ring:
    owner: str
    epochs: tuple[tuple[str, bytes], ...]  # oldest first; the last is current

    def key(self, epoch: str) -> bytes | None:
        return next((k for e, k in self.epochs if e == epoch), None)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class EpochKeyFile:
    """``EpochKeys`` in a JSON file (mode 0600) beside the ledger key."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._cached: tuple[tuple[int, int, int], _Ring] | None = None

    # -- reading -----------------------------------------------------------------------------

    def _ring(self) -> _Ring:
        """The file as it is now (re-read whenever another process replaced it)."""
        try:
            st = os.stat(self.path)
        except FileNotFoundError as exc:
            raise ProfileKeyUnavailableError(
                f"the profile epoch key file {self.path} does not exist; restore it from "
                f"where you keep it (it is never in the database or its backups), or set "
                f"COCRED_PROFILE_KEY_FILE to its path",
                path=str(self.path),
            ) from exc
        stamp = (st.st_ino, st.st_mtime_ns, st.st_size)
        if self._cached is not None and self._cached[0] == stamp:
            return self._cached[1]
        ring = self._parse()
        self._cached = (stamp, ring)
        return ring

    def _parse(self) -> _Ring:
        try:
            data = json.loads(self.path.read_bytes())
            epochs = tuple((str(e["id"]), _unb64(e["key"])) for e in data["epochs"])
            ring = _Ring(str(data["owner"]), epochs)
            ok = data["v"] == FORMAT and epochs and all(len(k) == 32 for _, k in epochs)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            ok, problem = False, f"{exc.__class__.__name__}: {exc}"
        else:
            problem = "it must hold format 1 and at least one 32-byte key"
        if not ok:
            raise ProfileKeyUnavailableError(
                f"the profile epoch key file {self.path} is not readable ({problem}); "
                f"restore it from where you keep it",
                path=str(self.path),
            )
        return ring

    # -- writing -----------------------------------------------------------------------------

    def _write(self, ring: _Ring, *, replace: bool = True) -> None:
        """Write the file atomically and durably (see the module docstring)."""
        body = json.dumps(
            {
                "v": FORMAT,
                "owner": ring.owner,
                "epochs": [{"id": e, "key": _b64(k)} for e, k in ring.epochs],
            },
            indent=2,
        ).encode()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(body)
                fh.flush()
                os.fsync(fh.fileno())
            if replace:
                os.replace(tmp, self.path)
            else:  # first creation: never clobber a file another process just made
                os.link(tmp, self.path)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
        dir_fd = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)  # the rename itself survives a power cut
        finally:
            os.close(dir_fd)
        self._cached = None

    # -- the port ----------------------------------------------------------------------------

    def bind(self, owner: str, *, may_create: bool) -> None:
        if not self.path.exists() and may_create:
            with contextlib.suppress(FileExistsError):  # another process created it first
                self._write(_Ring(owner, ((secrets.token_hex(8), AESGCM.generate_key(256)),)),
                            replace=False)  # fmt: skip
        found = self._ring().owner
        if found != owner:
            raise ProfileKeyMismatchError(
                f"the profile epoch key file {self.path} belongs to profile store {found}, "
                f"not to this database's store {owner}; set COCRED_PROFILE_KEY_FILE to "
                f"this database's own key file",
                path=str(self.path),
            )

    def current(self) -> str:
        return self._ring().epochs[-1][0]

    def held(self) -> frozenset[str]:
        return frozenset(e for e, _ in self._ring().epochs)

    def wrap(self, member: str, data_key: bytes) -> tuple[str, bytes]:
        epoch, key = self._ring().epochs[-1]
        return epoch, wrap_with(key, epoch, member, data_key)

    def unwrap(self, epoch: str, member: str, wrapped: bytes) -> bytes:
        key = self._ring().key(epoch)
        if key is None:
            raise UnknownEpochError(
                f"the key of {member} is wrapped under epoch {epoch}, which "
                f"{self.path} does not hold"
            )
        try:
            return unwrap_with(key, epoch, member, wrapped)
        except InvalidTag as exc:
            raise StorageError(f"the wrapped key of {member} does not unwrap: tampered") from exc

    def open_epoch(self) -> str:
        ring = self._ring()
        epoch = secrets.token_hex(8)
        self._write(_Ring(ring.owner, (*ring.epochs, (epoch, AESGCM.generate_key(256)))))
        return epoch

    def destroy_except(self, keep: Collection[str]) -> None:
        ring = self._ring()
        kept = tuple((e, k) for e, k in ring.epochs[:-1] if e in keep) + ring.epochs[-1:]
        if kept != ring.epochs:
            self._write(_Ring(ring.owner, kept))
