"""The log's Merkle tree, persisted beside the log and caught up from it.

Leaf i is ``SHA-256(0x00 ‖ stored bytes of the event at position i)`` (RFC 9162).
The tree is built incrementally from the log by a ``Frontier`` (never rehashing
the log) and every perfect-subtree node it completes is stored, so any inclusion
or consistency proof, or the root of any past size, needs one query.

Nodes of a level are stored in chunks of 256 consecutive hashes (a 1M-leaf tree
is ~8,000 rows, not 2M). The tree's size and frontier live in one state row that
is only ever advanced with ``UPDATE … WHERE size = <old>``, so two processes
catching up at once cannot interleave: the loser rolls back and reloads.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import sqlalchemy as sa

from ledger.errors import StorageError
from ledger.provenance.merkle import (
    HASH_SIZE,
    Frontier,
    NodeNotFoundError,
    NodeReader,
    ProofRequestError,
    leaf_hash,
    tree_root,
)
from ledger.provenance.proofs import (
    ConsistencyProof,
    InclusionProof,
    consistency_proof,
    inclusion_proof,
)
from ledger.store import LogStore
from ledger.store.engine import create_all

CHUNK = 256
PAGE = 5000
Coord = tuple[int, int]

metadata = sa.MetaData()
nodes_table = sa.Table(
    "cocred_merkle_nodes",
    metadata,
    sa.Column("level", sa.SmallInteger, primary_key=True),
    sa.Column("chunk", sa.BigInteger, primary_key=True),
    sa.Column("hashes", sa.LargeBinary, nullable=False),
)
state_table = sa.Table(
    "cocred_merkle_state",
    metadata,
    sa.Column("id", sa.SmallInteger, primary_key=True),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("frontier", sa.LargeBinary, nullable=False),
)


_SIZE = sa.select(state_table.c.size).where(state_table.c.id == 1)


class _LostRace(Exception):
    """Another process advanced the tree first; reload and carry on."""


class SqlNodes(NodeReader):
    """A ``NodeReader`` over the chunked node table (one query per call)."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self._sql: dict[int, str] = {}

    def _union(self, conn: sa.Connection, count: int) -> str:
        if count not in self._sql:
            mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
            schema = (conn.get_execution_options().get("schema_translate_map") or {}).get(None)
            table = f'"{schema}".cocred_merkle_nodes' if schema else "cocred_merkle_nodes"
            part = (
                f"SELECT {mark}, substr(hashes, {mark}, {HASH_SIZE}) FROM {table} "
                f"WHERE level = {mark} AND chunk = {mark}"
            )
            self._sql[count] = " UNION ALL ".join([part] * count)
        return self._sql[count]

    def nodes(self, coords: Sequence[Coord]) -> list[bytes]:
        if not coords:
            return []
        # One query; each part slices just the 32 bytes it needs out of its chunk
        # (a whole chunk is 8 KB, and a proof touches ~40 of them). Driver-level SQL,
        # cached by size: compiling a 40-part union per proof is slow, and so are
        # SQLAlchemy's result rows beside the driver's own cursor (bench/README.md).
        params: list[int] = []
        for i, (level, index) in enumerate(coords):
            params += [i, (index % CHUNK) * HASH_SIZE + 1, level, index // CHUNK]
        with self.engine.connect() as conn:
            cursor = conn.connection.cursor()
            try:
                cursor.execute(self._union(conn, len(coords)), params)
                found = {int(r[0]): bytes(r[1]) for r in cursor.fetchall()}
            finally:
                cursor.close()
        out = []
        for i, (level, index) in enumerate(coords):
            digest = found.get(i, b"")
            if len(digest) != HASH_SIZE:
                raise NodeNotFoundError(
                    f"tree: no stored node at level {level}, index {index}",
                    level=level,
                    index=index,
                )
            out.append(digest)
        return out

    def chunk(self, level: int, chunk: int) -> bytes:
        """The stored hashes of chunk ``chunk`` at ``level`` (empty when there is none):
        the nodes ``chunk·256 …`` that are complete, each 32 bytes (a C2SP tile)."""
        key = (nodes_table.c.level == level, nodes_table.c.chunk == chunk)
        with self.engine.connect() as conn:
            stored = conn.execute(sa.select(nodes_table.c.hashes).where(*key)).scalar()
        return b"" if stored is None else bytes(stored)


class MerkleTree:
    """The persisted tree of a log store: catch up, roots, proofs."""

    def __init__(self, engine: sa.Engine, store: LogStore) -> None:
        self.engine = engine
        self.store = store
        self.reader = SqlNodes(engine)
        create_all(metadata, engine)

    def _state(self, conn: sa.Connection) -> tuple[int, Frontier]:
        row = conn.execute(sa.select(state_table).where(state_table.c.id == 1)).first()
        if row is None:
            return 0, Frontier()
        return int(row.size), Frontier.from_bytes(bytes(row.frontier))

    def size(self) -> int:
        """How many leaves the persisted tree holds (≤ the log's size)."""
        # The size alone: reading and parsing the frontier too took half of a proof's time.
        with self.engine.connect() as conn:
            return int(conn.execute(_SIZE).scalar() or 0)

    def catch_up(
        self, *, until: int | None = None, progress: Callable[[int], None] | None = None
    ) -> int:
        """Add every logged event not yet in the tree (up to ``until``); return the tree size."""
        while True:
            with self.engine.connect() as conn:
                size, frontier = self._state(conn)
            stop = self.store.size() if until is None else until
            if size >= stop:
                return size
            records = self.store.read(size, min(PAGE, stop - size))
            if not records:
                return size
            if records[0].position != size:
                raise StorageError(f"tree: log position {size} is missing")
            levels: dict[int, tuple[int, bytearray]] = {}
            for record in records:
                for level, index, digest in frontier.append(leaf_hash(record.data)):
                    first, buf = levels.setdefault(level, (index, bytearray()))
                    buf += digest
            if self._commit(size, frontier, levels) and progress is not None:
                progress(len(records))

    def _commit(
        self, old: int, frontier: Frontier, levels: dict[int, tuple[int, bytearray]]
    ) -> bool:
        """Write the new nodes and advance the state from ``old``; False if someone else did."""
        values = {"size": frontier.size, "frontier": frontier.to_bytes()}
        try:
            with self.engine.begin() as conn:
                # State first: it takes the write lock, and decides who wins a race.
                if old == 0:
                    conn.execute(sa.insert(state_table), {"id": 1, **values})
                else:
                    moved = conn.execute(
                        sa.update(state_table)
                        .where(state_table.c.id == 1, state_table.c.size == old)
                        .values(**values)
                    )
                    if moved.rowcount != 1:
                        raise _LostRace
                for level, (first, buf) in sorted(levels.items()):
                    self._write_level(conn, level, first, bytes(buf))
        except (_LostRace, sa.exc.IntegrityError):
            return False
        return True

    @staticmethod
    def _write_level(conn: sa.Connection, level: int, first: int, data: bytes) -> None:
        """Append the hashes of nodes ``first, first+1, …`` at ``level`` to their chunks."""
        index = first
        offset = 0
        while offset < len(data):
            chunk, within = divmod(index, CHUNK)
            take = min(CHUNK - within, (len(data) - offset) // HASH_SIZE)
            piece = data[offset : offset + take * HASH_SIZE]
            key = (nodes_table.c.level == level, nodes_table.c.chunk == chunk)
            stored = conn.execute(sa.select(nodes_table.c.hashes).where(*key)).scalar()
            if stored is None:
                if within:
                    raise StorageError(f"tree: chunk {chunk} of level {level} is missing")
                conn.execute(
                    sa.insert(nodes_table), {"level": level, "chunk": chunk, "hashes": piece}
                )
            else:
                if len(stored) != within * HASH_SIZE:
                    raise StorageError(
                        f"tree: level {level} chunk {chunk} holds {len(stored) // HASH_SIZE} "
                        f"nodes, expected {within}"
                    )
                conn.execute(sa.update(nodes_table).where(*key).values(hashes=stored + piece))
            index += take
            offset += take * HASH_SIZE

    def root(self, size: int | None = None) -> bytes:
        """Root of the tree at ``size`` (default: the persisted size)."""
        return tree_root(self.reader, self.size() if size is None else size)

    def inclusion(self, index: int, size: int) -> InclusionProof:
        """Inclusion proof of leaf ``index`` in the tree of ``size``.

        Raises ``ProofRequestError`` when ``size`` exceeds the persisted tree or
        ``index >= size``.
        """
        self._within(size)
        return inclusion_proof(self.reader, index, size)

    def consistency(self, old_size: int, new_size: int) -> ConsistencyProof:
        """Consistency proof that the tree of ``old_size`` is a prefix of ``new_size``."""
        self._within(new_size)
        return consistency_proof(self.reader, old_size, new_size)

    def _within(self, size: int) -> None:
        have = self.size()
        if size > have:
            raise ProofRequestError(
                f"tree: size {size} is beyond the tree's {have} leaves", size=size
            )
