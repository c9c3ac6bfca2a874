"""Signed checkpoints of the log, cut every N events or T seconds, and the ledger's key.

A checkpoint is a C2SP signed note (origin, tree size, root) signed by the
ledger's own Ed25519 key. The table is keyed by size and a root is compared with
what is stored *before* signing, so the ledger never signs two roots for one
size; the audit also looks for such a pair anywhere it can see checkpoints.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa

from ledger.errors import NotFoundError, VerificationError
from ledger.keys import KeyFileError, SigningKey
from ledger.provenance.note import Checkpoint, NoteSignature, NoteSigner, SignedCheckpoint
from ledger.provenance.tree import MerkleTree
from ledger.store.engine import create_all

if TYPE_CHECKING:
    from ledger.provenance.cosignature import WitnessPolicy

metadata = sa.MetaData()
checkpoints_table = sa.Table(
    "cocred_checkpoints",
    metadata,
    sa.Column("size", sa.BigInteger, primary_key=True),
    sa.Column("note", sa.Text, nullable=False),
    sa.Column("cut_at", sa.String(40), nullable=False),
)


class LedgerKeyMissingError(NotFoundError):
    """A command that only reads needs the ledger's key, and there is none where it looks."""

    code = "LedgerKeyMissing"


class EquivocationError(VerificationError):
    """Two different roots for one tree size: the log was rewritten, or forked."""

    code = "Equivocation"


@dataclass(frozen=True)
class LedgerIdentity:
    """The ledger's own key: it signs checkpoints and its provenance events."""

    key: SigningKey
    origin: str

    @property
    def signer(self) -> NoteSigner:
        return NoteSigner(self.origin, self.key.private)

    @property
    def vkey(self) -> str:
        """The verifier key auditors pin (``<origin>+<hash>+<base64 key>``)."""
        return self.signer.vkey

    @classmethod
    def load_or_create(
        cls, path: Path, origin: str | None = None, *, create: bool = True
    ) -> LedgerIdentity:
        """Read the ledger key file, creating it (mode 0600) on first use if ``create``.

        The origin defaults to ``cocred.ledger/<first 16 characters of the key id>``.
        Raises ``KeyFileError`` for an unreadable key file, ``LedgerKeyMissingError`` for
        a missing one when ``create`` is false (a read never makes a signing identity).
        """
        path = Path(path)
        if not path.exists() and not create:
            raise LedgerKeyMissingError(
                f"no ledger key at {path}, and this command does not create one: pass the "
                f"verifier key you trust (--ledger-key), point COCRED_LEDGER_KEY_FILE at the "
                f"ledger's key file, or run `cocred ledger-key` to create one for this database",
                path=str(path),
            )
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            with contextlib.suppress(KeyFileError):  # another process created it first
                SigningKey.generate().save(path)
        key = SigningKey.load(path)
        return cls(key, origin or f"cocred.ledger/{key.key_id[:16]}")


@dataclass(frozen=True)
class StoredCheckpoint:
    """A checkpoint as stored: the signed note and when it was cut."""

    signed: SignedCheckpoint
    cut_at: datetime

    @property
    def size(self) -> int:
        return self.signed.checkpoint.size

    @property
    def root(self) -> bytes:
        return self.signed.checkpoint.root_hash


@dataclass(frozen=True)
class CheckpointLag:
    """The log's head against its latest checkpoint, at one moment.

    ``events`` is how many logged events no checkpoint covers yet; ``age_seconds``
    how long ago the latest checkpoint was cut; ``lag_seconds`` is that age while
    some events are uncovered (0 when the checkpoint covers the whole log).
    """

    head: int
    checkpoint: StoredCheckpoint | None
    at: datetime

    @property
    def size(self) -> int:
        """The latest checkpoint's tree size (0 before the first)."""
        return 0 if self.checkpoint is None else self.checkpoint.size

    @property
    def events(self) -> int:
        return max(0, self.head - self.size)

    @property
    def age_seconds(self) -> float:
        if self.checkpoint is None:
            return 0.0
        return max(0.0, (self.at - self.checkpoint.cut_at).total_seconds())

    @property
    def lag_seconds(self) -> float:
        return self.age_seconds if self.events else 0.0

    def to_json(self) -> dict[str, object]:
        """The figures the health and checkpoint routes show."""
        return {
            "log_size": self.head,
            "checkpoint_size": self.size,
            "lag_events": self.events,
            "lag_seconds": round(self.lag_seconds, 3),
            "age_seconds": None if self.checkpoint is None else round(self.age_seconds, 3),
        }


class CheckpointLog:
    """Cuts, stores and finds the ledger's signed checkpoints."""

    def __init__(
        self,
        engine: sa.Engine,
        tree: MerkleTree,
        identity: LedgerIdentity | Callable[[], LedgerIdentity],
        *,
        every: int = 1000,
        interval: float = 5.0,
    ) -> None:
        self.engine = engine
        self.tree = tree
        # A function is called on first use: a command that never signs never loads (or
        # creates) the ledger key.
        self._identity = identity
        self.every = every
        self.interval = interval
        create_all(metadata, engine)

    @property
    def identity(self) -> LedgerIdentity:
        """The ledger's key, loaded (or created, if the loader does) on first use."""
        if not isinstance(self._identity, LedgerIdentity):
            self._identity = self._identity()
        return self._identity

    @staticmethod
    def _row(row: sa.Row) -> StoredCheckpoint:
        return StoredCheckpoint(
            SignedCheckpoint.from_text(row.note), datetime.fromisoformat(row.cut_at)
        )

    def all(self) -> list[StoredCheckpoint]:
        """Every stored checkpoint, smallest size first."""
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(checkpoints_table).order_by(checkpoints_table.c.size))
            return [self._row(r) for r in rows]

    def latest(self) -> StoredCheckpoint | None:
        """The checkpoint of the largest tree, or None before the first."""
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(checkpoints_table).order_by(checkpoints_table.c.size.desc()).limit(1)
            ).first()
        return None if row is None else self._row(row)

    def get(self, size: int) -> StoredCheckpoint | None:
        """The checkpoint of exactly ``size`` events, or None."""
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(checkpoints_table).where(checkpoints_table.c.size == size)
            ).first()
        return None if row is None else self._row(row)

    def covering(self, position: int) -> StoredCheckpoint | None:
        """The latest checkpoint whose tree includes ``position``, or None."""
        latest = self.latest()
        return latest if latest is not None and latest.size > position else None

    def lag(self, now: datetime | None = None) -> CheckpointLag:
        """How far the latest checkpoint lags the log's head, in events and seconds.

        Reads the log's size and the latest checkpoint (in that order, so a checkpoint
        cut in between can only make the lag look smaller, never negative).
        """
        head = self.tree.store.size()
        return CheckpointLag(head, self.latest(), now or datetime.now(UTC))

    def due(self, now: datetime | None = None) -> bool:
        """True when N events or T seconds (with new events) passed since the last cut."""
        lag = self.lag(now)
        if lag.checkpoint is None:
            return lag.head > 0
        if lag.events <= 0:
            return False
        return lag.events >= self.every or lag.age_seconds >= self.interval

    def maybe_cut(self) -> StoredCheckpoint | None:
        """Cut a checkpoint if one is due; return it (or None)."""
        return self.cut() if self.due() else None

    def cut(self) -> StoredCheckpoint | None:
        """Sign and store a checkpoint of the whole log now (None while the log is empty).

        Returns the existing checkpoint when the log has not grown. Raises
        ``EquivocationError`` (and signs nothing) if a different root is already
        stored for this size.
        """
        size = self.tree.catch_up()
        if size == 0:
            return None
        root = self.tree.root(size)
        existing = self.get(size)
        if existing is not None:
            return self._same(existing, root)
        signed = self.identity.signer.sign(Checkpoint(self.identity.origin, size, root))
        cut_at = datetime.now(UTC)
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    sa.insert(checkpoints_table),
                    {
                        "size": size,
                        "note": signed.to_text(),
                        "cut_at": cut_at.isoformat(),
                    },
                )
        except sa.exc.IntegrityError:  # cut concurrently by another process
            stored = self.get(size)
            assert stored is not None
            return self._same(stored, root)
        return StoredCheckpoint(signed, cut_at)

    def add_cosignatures(self, size: int, lines: Sequence[NoteSignature]) -> StoredCheckpoint:
        """Add witnesses' cosignature lines to the stored note of ``size`` (a witness's earlier
        line is replaced); the checkpoint itself never changes. Raises ``NotFoundError``."""
        from ledger.provenance.cosignature import merge_cosignatures

        while True:
            stored = self.get(size)
            if stored is None:
                raise NotFoundError(f"no checkpoint of size {size}", size=size)
            merged = merge_cosignatures(stored.signed, lines)
            with self.engine.begin() as conn:
                # compare-and-swap on the note: two processes adding lines both keep theirs
                done = conn.execute(
                    sa.update(checkpoints_table)
                    .where(checkpoints_table.c.size == size)
                    .where(checkpoints_table.c.note == stored.signed.to_text())
                    .values(note=merged.to_text())
                ).rowcount
            if done:
                return StoredCheckpoint(merged, stored.cut_at)

    def latest_meeting(
        self, policy: WitnessPolicy, covering: int = 0, *, look_back: int = 100
    ) -> StoredCheckpoint | None:
        """The largest checkpoint whose tree includes ``covering`` and that ``policy``'s
        quorum of witnesses cosigned (among the latest ``look_back``), or None."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(checkpoints_table)
                .where(checkpoints_table.c.size > covering)
                .order_by(checkpoints_table.c.size.desc())
                .limit(look_back)
            ).all()
        for row in rows:
            stored = self._row(row)
            try:
                policy.check(stored.signed)
            except VerificationError:
                continue
            return stored
        return None

    @staticmethod
    def _same(stored: StoredCheckpoint, root: bytes) -> StoredCheckpoint:
        if stored.root != root:
            raise EquivocationError(
                f"checkpoint: size {stored.size} is stored with root {stored.root.hex()}, "
                f"but the log now gives {root.hex()}",
                size=stored.size,
            )
        return stored
