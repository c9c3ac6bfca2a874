"""The monitor's state file (SQLite): what was verified, so the next run resumes there.

A pass commits its whole new range at once (``MonitorState.commit``) or nothing; the actors'
key states are read on demand. ``ledger.provenance.monitor`` is what fills it.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from ledger.actors import ActorState, Compromise, KeySpan, PendingRecovery
from ledger.envelope import format_ts, parse_ts
from ledger.provenance.merkle import EMPTY_ROOT, HASH_SIZE, Frontier, MalformedFrontierError
from ledger.provenance.monitor_remote import MonitorError
from ledger.provenance.note import SignedCheckpoint
from ledger.provenance.tiles import WIDTH

STATE_FORMAT = "1"


class MonitorStateError(MonitorError):
    """The state file cannot be read, is not a monitor's, or follows another ledger key."""

    code = "MonitorState"


# -- the state file ----------------------------------------------------------------------------

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS monitor_meta (name TEXT PRIMARY KEY, value BLOB NOT NULL)",
    "CREATE TABLE IF NOT EXISTS monitor_checkpoints ("
    " size INTEGER PRIMARY KEY, root BLOB NOT NULL, note TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS monitor_actors ("
    " actor TEXT PRIMARY KEY, seq INTEGER NOT NULL, keys TEXT NOT NULL)",
)


class MonitorState:
    """The state file (SQLite): what was verified, so the next run resumes where this stopped.

    ``monitor_meta``: the pinned key, the origin, the verified size and its checkpoint, the
    frontier, the hashes of each level's partial tile, the observer's state; every accepted
    checkpoint (``monitor_checkpoints``, for forks); each actor's key state and last seq
    (``monitor_actors``, read on demand). Raises ``MonitorStateError`` for a file that is not
    a monitor's state, or one that follows another ledger key than ``vkey``.
    """

    def __init__(self, path: Path, vkey: str) -> None:
        self.path = Path(path)
        self._actors: dict[str, ActorState | None] = {}
        self.vkey, self.origin, self.note = vkey, None, None
        self.size, self.root = 0, EMPTY_ROOT
        self.frontier, self.tiles, self.observer = Frontier(), [], None
        # A state file is made by the first pass that verifies something: a run refused
        # before (an unreachable remote, a bad key) leaves nothing behind.
        self._db: sqlite3.Connection | None = None
        if not self.path.exists():
            return
        meta = dict(self._connect().execute("SELECT name, value FROM monitor_meta"))
        if not meta:
            return
        if meta.get("format") != STATE_FORMAT or _text(meta.get("vkey")) != vkey:
            raise MonitorStateError(
                f"state file {self.path} follows the ledger key {_text(meta.get('vkey'))}, "
                f"not {vkey}: use another --state for another ledger",
                path=str(self.path),
            )
        self.origin, self.note = _text(meta.get("origin")), _text(meta.get("note"))
        try:
            self.frontier = Frontier.from_bytes(bytes(meta["frontier"]))
            self.size, self.root = self.frontier.size, self.frontier.root()
            self.tiles = _split_tiles(self.size, bytes(meta["tiles"]))
            self.observer = json.loads(meta["observer"]) if "observer" in meta else None
        except (KeyError, ValueError, MalformedFrontierError) as exc:
            raise MonitorStateError(
                f"state file {self.path} is damaged: {exc}", path=str(self.path)
            ) from None

    def _connect(self) -> sqlite3.Connection:
        if self._db is None:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                db = sqlite3.connect(self.path, isolation_level=None)
                for statement in _SCHEMA:
                    db.execute(statement)
            except (OSError, sqlite3.Error) as exc:
                raise MonitorStateError(
                    f"state file {self.path}: cannot be used as a monitor's state: {exc}",
                    path=str(self.path),
                ) from None
            self._db = db
        return self._db

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    def seen_root(self, size: int) -> tuple[bytes, str] | None:
        """The root and note of the checkpoint accepted for ``size``, if any."""
        if self._db is None:
            return None
        row = self._db.execute(
            "SELECT root, note FROM monitor_checkpoints WHERE size = ?", (size,)
        ).fetchone()
        return None if row is None else (bytes(row[0]), str(row[1]))

    def actor(self, actor: str) -> ActorState | None:
        """The key state and last seq of ``actor`` as of the verified size."""
        if actor not in self._actors:
            if self._db is None:
                return None
            row = self._db.execute(
                "SELECT seq, keys FROM monitor_actors WHERE actor = ?", (actor,)
            ).fetchone()
            self._actors[actor] = None if row is None else _actor_from(actor, row[0], row[1])
        return self._actors[actor]

    def commit(
        self,
        signed: SignedCheckpoint,
        frontier: Frontier,
        tiles: list[bytearray],
        actors: Mapping[str, ActorState],
        observer: Any,
    ) -> None:
        """Advance to ``signed`` (its entries all verified), in one transaction."""
        checkpoint = signed.checkpoint
        note = signed.to_text()
        meta = {
            "format": STATE_FORMAT,
            "vkey": self.vkey,
            "origin": checkpoint.origin,
            "note": note,
            "frontier": frontier.to_bytes(),
            "tiles": b"".join(tiles),
        }
        if observer is not None:
            meta["observer"] = json.dumps(observer, sort_keys=True)
        db = self._connect()
        try:
            db.execute("BEGIN IMMEDIATE")
            db.executemany(
                "INSERT OR REPLACE INTO monitor_meta (name, value) VALUES (?, ?)", meta.items()
            )
            db.execute(
                "INSERT OR IGNORE INTO monitor_checkpoints (size, root, note) VALUES (?, ?, ?)",
                (checkpoint.size, checkpoint.root_hash, note),
            )
            db.executemany(
                "INSERT OR REPLACE INTO monitor_actors (actor, seq, keys) VALUES (?, ?, ?)",
                [(a, s.seq, _keys_json(s)) for a, s in actors.items()],
            )
            db.execute("COMMIT")
        except sqlite3.Error as exc:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise MonitorStateError(
                f"state file {self.path}: cannot save the pass: {exc}", path=str(self.path)
            ) from None
        self._actors.update(actors)
        self.origin, self.note = checkpoint.origin, note
        self.size, self.root = checkpoint.size, checkpoint.root_hash
        self.frontier, self.tiles, self.observer = frontier, tiles, observer

    def save_observer(self, observer: Any) -> None:
        """Keep the observer's state alone (what ``due`` changed between passes)."""
        if observer is None or observer == self.observer or self.note is None:
            return
        try:
            self._connect().execute(
                "INSERT OR REPLACE INTO monitor_meta (name, value) VALUES ('observer', ?)",
                (json.dumps(observer, sort_keys=True),),
            )
        except sqlite3.Error as exc:
            raise MonitorStateError(
                f"state file {self.path}: cannot save the watch state: {exc}", path=str(self.path)
            ) from None
        self.observer = observer


def _text(value: Any) -> str | None:
    return None if value is None else bytes(value).decode() if isinstance(value, bytes) else value


def tile_widths(size: int) -> Iterator[int]:
    """The number of hashes in each level's partial tile for a tree of ``size``."""
    level = 0
    while size >> (8 * level):
        yield (size >> (8 * level)) % WIDTH
        level += 1


def _split_tiles(size: int, data: bytes) -> list[bytearray]:
    tiles, at = [], 0
    for width in tile_widths(size):
        tiles.append(bytearray(data[at : at + width * HASH_SIZE]))
        at += width * HASH_SIZE
    if at != len(data):
        raise ValueError(f"the partial tiles hold {len(data)} bytes, size {size} needs {at}")
    return tiles


def _keys_json(state: ActorState) -> str:
    """The key state as JSON: its spans, and (once recovery is used) the recovery state.

    A plain list of spans when there is no recovery state (the form written before
    recovery existed, still read); an object with ``keys`` and the rest otherwise.
    """
    spans: list[list[Any]] = [
        [s.key, s.public.hex(), s.since, s.until, s.revoked, *([True] if s.recovered else [])]
        for s in state.keys
    ]
    if state.recovery is None and state.pending is None and not state.compromised:
        return json.dumps(spans, separators=(",", ":"))
    p = state.pending
    extra = {
        "keys": spans,
        "recovery": None
        if state.recovery is None
        else [state.recovery[0], state.recovery[1].hex()],
        "pending": None if p is None else [p.seq, p.key, p.public.hex(), format_ts(p.effective)],
        "compromised": [[c.seq, c.key, format_ts(c.since)] for c in state.compromised],
    }
    return json.dumps(extra, separators=(",", ":"))


def _actor_from(actor: str, seq: int, keys: str) -> ActorState:
    data = json.loads(keys)
    listed = data if isinstance(data, list) else data["keys"]
    spans = tuple(
        KeySpan(key, bytes.fromhex(public), since, until, bool(revoked), bool(rest and rest[0]))
        for key, public, since, until, revoked, *rest in listed
    )
    if isinstance(data, list):
        return ActorState(actor, seq, spans)
    recovery, p = data["recovery"], data["pending"]
    return ActorState(
        actor,
        seq,
        spans,
        None if recovery is None else (recovery[0], bytes.fromhex(recovery[1])),
        None if p is None else PendingRecovery(p[0], p[1], bytes.fromhex(p[2]), parse_ts(p[3])),
        tuple(Compromise(c[0], c[1], parse_ts(c[2])) for c in data["compromised"]),
    )
