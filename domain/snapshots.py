"""Snapshots of the gate's campaign state: saved at a log position, loaded instead of a replay.

A process that opens the ledger used to replay the whole log into the gate's ``State`` before
its first append (about 1 s per 80k events, for every CLI command). A snapshot row in the
ledger's database (``cocred_snapshots``) holds that state at a position; a process loads it and
replays only the tail.

Nothing in a snapshot is trusted blindly. A row is used only if every check holds:

- its **format** is this code's: the SHA-256 of the source of every module whose code decides
  the state (``domain/*.py``, ``ledger/actors.py``). Any change to a rule or to a record class
  makes older snapshots stale, so a snapshot never meets code that would read it differently;
- its **digest** (SHA-256 over kind, format, position, the log binding and the state bytes)
  matches, so a torn or corrupted row is caught;
- its **log binding** matches: the SHA-256 of the stored bytes of the event at
  ``position - 1`` is what the log holds there now, so a snapshot of another log, or of a log
  that was restored from an older copy and then grew differently, is never applied;
- the state bytes unpickle with a **restricted unpickler** that resolves only the state's own
  record classes and plain containers (no function, no module of the attacker's choosing).

A row that fails a check is ignored with a warning (``logging``), the state is replayed from
zero and a fresh snapshot replaces it. ``cocred audit`` never reads snapshots: it re-verifies
the stored log itself.
"""

from __future__ import annotations

import enum
import hashlib
import io
import logging
import pickle
import types
from dataclasses import dataclass, is_dataclass
from functools import cache
from pathlib import Path
from typing import Any

from sqlalchemy import Column, Engine, Integer, LargeBinary, MetaData, String, Table, select
from sqlalchemy.exc import SQLAlchemyError

from domain.database import storage_error, store_engine
from domain.state import State
from ledger.store import LogStore

log = logging.getLogger(__name__)

metadata = MetaData()
snapshots_table = Table(
    "cocred_snapshots",
    metadata,
    Column("kind", String(32), primary_key=True),
    Column("format", String(64), nullable=False),
    Column("position", Integer, nullable=False),
    Column("binding", String(64), nullable=False),
    Column("digest", String(64), nullable=False),
    Column("state", LargeBinary, nullable=False),
)
GATE = "gate"
DEFAULT_EVERY = 10_000  # save when a catch-up replayed at least this many events

HERE = Path(__file__).resolve().parent
# The modules whose code decides what the gate's state holds: its rules and its records.
STATE_SOURCES = (*sorted(HERE.glob("*.py")), HERE.parent / "ledger" / "actors.py")

# What a snapshot may contain: the domain's record classes (dataclasses, named tuples, enums:
# building one only sets its fields), the state itself, and these few builtins and values.
SAFE_BUILTINS = frozenset({"set", "frozenset", "dict", "list", "tuple", "str", "int", "bytes"})
SAFE_OTHERS = frozenset(
    {("fractions", "Fraction"), ("datetime", "datetime"), ("datetime", "timezone"),
     ("datetime", "timedelta"), ("copyreg", "_reconstructor")}
)  # fmt: skip


def frozen_mapping(items: dict[Any, Any]) -> types.MappingProxyType[Any, Any]:
    """A read-only view of ``items``: how a snapshot rebuilds a record's frozen mapping."""
    return types.MappingProxyType(items)


def _mapping_proxy(proxy: types.MappingProxyType[Any, Any]) -> tuple[Any, ...]:
    """Records freeze their mappings as read-only proxies: pickled as a proxy of a dict."""
    return frozen_mapping, (dict(proxy),)


def _dumps(value: object) -> bytes:
    out = io.BytesIO()
    pickler = pickle.Pickler(out, protocol=pickle.HIGHEST_PROTOCOL)
    pickler.dispatch_table = {types.MappingProxyType: _mapping_proxy}
    pickler.dump(value)
    return out.getvalue()


@cache
def state_format() -> str:
    """The SHA-256 of the source of every module that decides the state (this code's format)."""
    digest = hashlib.sha256(b"cocred-snapshot/1\n")
    for path in STATE_SOURCES:
        digest.update(path.name.encode() + b"\n" + path.read_bytes())
    return digest.hexdigest()


class _RestrictedUnpickler(pickle.Unpickler):
    """Resolves only the state's classes and plain containers (see the module's docstring)."""

    def find_class(self, module: str, name: str) -> Any:
        if (
            (module == "builtins" and name in SAFE_BUILTINS)
            or (module, name) in SAFE_OTHERS
            or (module, name) == (__name__, "frozen_mapping")
        ):
            return super().find_class(module, name)
        if module.startswith("domain.") and "." not in name:
            found = super().find_class(module, name)
            if _is_record(found):
                return found
        raise pickle.UnpicklingError(f"a snapshot may not name {module}.{name}")


def _is_record(found: object) -> bool:
    """A class whose construction only sets fields: State, a dataclass, a named tuple, an enum."""
    if not isinstance(found, type):
        return False
    named_tuple = issubclass(found, tuple) and hasattr(found, "_fields")
    return found is State or is_dataclass(found) or named_tuple or issubclass(found, enum.Enum)


@dataclass(frozen=True)
class Loaded:
    """A checked snapshot: the state after the first ``position`` events, and what it ignored."""

    position: int
    state: State
    ignored: list[int]


def _digest(kind: str, fmt: str, position: int, binding: str, data: bytes) -> str:
    head = f"{kind}\n{fmt}\n{position}\n{binding}\n".encode()
    return hashlib.sha256(head + data).hexdigest()


class SnapshotStore:
    """Saves and loads checked snapshots in the ledger's database (table ``cocred_snapshots``)."""

    def __init__(
        self, url: str, *, engine: Engine | None = None, create: bool = True
    ) -> None:  # fmt: skip
        self._owns_engine = engine is None
        self.engine = store_engine(url, metadata, engine=engine, create=create)
        self._create = create

    def close(self) -> None:
        if self._owns_engine:
            self.engine.dispose()

    @staticmethod
    def _binding(store: LogStore, position: int) -> str | None:
        """The SHA-256 of the stored bytes at ``position - 1`` ("" for 0), None if absent."""
        if position == 0:
            return ""
        records = store.read(position - 1, 1)
        if not records or records[0].position != position - 1:
            return None
        return hashlib.sha256(records[0].data).hexdigest()

    def save(self, kind: str, store: LogStore, position: int, state: State, ignored: list[int]):
        """Replace ``kind``'s snapshot with ``state`` at ``position``. Raises ``StorageError``."""
        binding = self._binding(store, position)
        if binding is None:  # the log is shorter than the state claims: never save that
            raise ValueError(f"the log holds no event at position {position - 1}")
        journal, state._journal = state._journal, None  # never pickle an open undo journal
        try:
            data = _dumps((state, list(ignored)))
        finally:
            state._journal = journal
        fmt = state_format()
        row = {
            "kind": kind,
            "format": fmt,
            "position": position,
            "binding": binding,
            "digest": _digest(kind, fmt, position, binding, data),
            "state": data,
        }
        table = snapshots_table
        try:
            with self.engine.begin() as conn:
                conn.execute(table.delete().where(table.c.kind == kind))
                conn.execute(table.insert(), [row])
        except SQLAlchemyError as exc:
            raise storage_error("saving a snapshot", exc) from exc

    def load(self, kind: str, store: LogStore) -> Loaded | None:
        """``kind``'s snapshot if every check holds; None (and a warning) otherwise."""
        table = snapshots_table
        try:
            with self.engine.connect() as conn:
                row = conn.execute(select(table).where(table.c.kind == kind)).one_or_none()
        except SQLAlchemyError as exc:
            if not self._create:  # a read-only open of an older database: no table yet
                return None
            raise storage_error("reading a snapshot", exc) from exc
        if row is None:
            return None
        data = bytes(row.state)
        why = None
        if row.format != state_format():
            why = "it was saved by other code (stale format)"
        elif row.digest != _digest(kind, row.format, row.position, row.binding, data):
            why = "its digest does not match its bytes (corrupt)"
        elif self._binding(store, row.position) != row.binding:
            why = f"the log's event at position {row.position - 1} is not the one it was cut at"
        if why is None:
            try:
                state, ignored = _RestrictedUnpickler(io.BytesIO(data)).load()
                if not isinstance(state, State) or not isinstance(ignored, list):
                    raise pickle.UnpicklingError("not a (State, list) pair")
            except (pickle.UnpicklingError, EOFError, AttributeError, TypeError, ValueError) as e:
                why = f"it does not unpickle as a state ({e})"
        if why is not None:
            log.warning("ignoring the %s snapshot at position %s: %s", kind, row.position, why)
            return None
        return Loaded(row.position, state, ignored)
