"""RFC 9162 / RFC 6962 Merkle tree: hashing, roots, the frontier and node stores.

Leaf ``i`` of the log is hashed as ``SHA-256(0x00 || bytes)``, an inner node as
``SHA-256(0x01 || left || right)``; the prefixes keep a leaf from ever passing for
an inner node (the second-preimage attack). A node ``(level, index)`` is the root
of the perfect subtree over leaves ``[index * 2**level, (index + 1) * 2**level)``.

The log only ever stores perfect-subtree nodes (what ``Frontier.append`` returns).
Every proof or past root is *planned* first as coordinates, fetched from a
``NodeReader`` in one batch, then combined: a non-perfect range is the right fold
of the O(log n) perfect subtrees that cover it. Proofs live in ``ledger.provenance.proofs``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from typing import Protocol

from ledger.errors import LedgerError, MalformedError, NotFoundError

HASH_SIZE = 32
MAX_PATH = 64
MAX_SIZE = 2**64 - 1  # tree sizes are uint64, as in RFC 9162 and C2SP checkpoints
EMPTY_ROOT = hashlib.sha256(b"").digest()

Coord = tuple[int, int]  # (level, index)
Plan = list[tuple[Coord, ...]]  # one entry per proof hash: the right fold of these nodes

_sha256 = hashlib.sha256


class MalformedProofError(MalformedError):
    """A proof could not be parsed (wrong type, size, count or encoding of a field)."""

    code = "MalformedProof"


class MalformedFrontierError(MalformedError):
    """Serialised frontier bytes are truncated, too long or of an unknown version."""

    code = "MalformedFrontier"


class ProofRequestError(LedgerError):
    """A proof or root was asked for an index or size the tree cannot answer."""

    code = "InvalidProofRequest"


class NodeNotFoundError(NotFoundError):
    """A node store lacks a perfect-subtree node that a proof needs."""

    code = "NodeNotFound"


class NodeConflictError(LedgerError):
    """A node store was given a node that contradicts one it already holds."""

    code = "NodeConflict"


def leaf_hash(data: bytes) -> bytes:
    """Return the RFC 6962 leaf hash ``SHA-256(0x00 || data)``."""
    return _sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """Return the RFC 6962 inner-node hash ``SHA-256(0x01 || left || right)``."""
    return _sha256(b"\x01" + left + right).digest()


def root_from_leaf_hashes(hashes: Sequence[bytes]) -> bytes:
    """Return the RFC 9162 Merkle Tree Hash of these leaf hashes (``EMPTY_ROOT`` if none).

    Hashes level by level; an unpaired last node is carried up unchanged, which
    gives exactly the RFC's largest-power-of-two split (it is *not* duplicated).
    """
    level = list(hashes)
    if not level:
        return EMPTY_ROOT
    sha256 = _sha256
    while len(level) > 1:
        pairs = iter(level)
        # zip over one iterator pairs neighbours; it drops the odd last node, added back below.
        upper = [
            sha256(b"\x01" + left + right).digest()
            for left, right in zip(pairs, pairs, strict=False)
        ]
        if len(level) & 1:
            upper.append(level[-1])
        level = upper
    return level[0]


def subtree_levels(leaves: Sequence[bytes]) -> list[bytes]:
    """The perfect-subtree nodes over consecutive leaf hashes, level by level.

    Entry ``k`` joins the ``len(leaves) >> k`` nodes of level ``k`` (leaves at 0).
    When the first leaf's index is a multiple of a power of two at least
    ``len(leaves)``, these are exactly the log's nodes over that range, so
    workers can hash aligned slices and ``MemoryNodes.extend`` stores them.
    """
    sha256 = _sha256
    level = list(leaves)
    levels = [b"".join(level)]
    while len(level) > 1:
        pairs = iter(level)
        level = [
            sha256(b"\x01" + left + right).digest()
            for left, right in zip(pairs, pairs, strict=False)
        ]
        levels.append(b"".join(level))
    return levels


def fold(hashes: Sequence[bytes]) -> bytes:
    # The RFC root of adjacent perfect subtrees of strictly decreasing size is the
    # right fold: H(p1, H(p2, ... H(pk-1, pk))).
    result = hashes[-1]
    for digest in reversed(hashes[:-1]):
        result = _sha256(b"\x01" + digest + result).digest()
    return result


def range_nodes(begin: int, end: int) -> list[Coord]:
    # Valid when begin is a multiple of a power of two larger than end - begin,
    # which holds for [0, n) and for every right-border range a proof needs.
    coords: list[Coord] = []
    remaining = end - begin
    while remaining:
        level = remaining.bit_length() - 1
        coords.append((level, begin >> level))
        begin += 1 << level
        remaining -= 1 << level
    return coords


class Frontier:
    """The compact range ``[0, size)``: the roots of the perfect subtrees on the right edge.

    Appending costs O(log n) hashes and reports every node it completed, so a
    store can persist them; the whole log is never rehashed.
    """

    __slots__ = ("_size", "_hashes")

    def __init__(self) -> None:
        self._size = 0
        self._hashes: list[bytes] = []  # largest (leftmost) subtree first

    @property
    def size(self) -> int:
        """Number of leaves appended so far."""
        return self._size

    def append(self, leaf: bytes) -> list[tuple[int, int, bytes]]:
        """Append a leaf hash; return the ``(level, index, hash)`` nodes it completed.

        The first is always ``(0, size - 1, leaf)``. Raises ``MalformedError`` if
        ``leaf`` is not a 32-byte hash.
        """
        if type(leaf) is not bytes or len(leaf) != HASH_SIZE:
            raise MalformedError(f"frontier: a leaf hash must be {HASH_SIZE} bytes")
        n = self._size
        completed = [(0, n, leaf)]
        node, level, stack = leaf, 0, self._hashes
        # Each set low bit of n is a finished left sibling waiting on the stack.
        while (n >> level) & 1:
            node = _sha256(b"\x01" + stack.pop() + node).digest()
            level += 1
            completed.append((level, n >> level, node))
        stack.append(node)
        self._size = n + 1
        return completed

    def root(self) -> bytes:
        """Return the RFC 9162 root of the tree so far (``EMPTY_ROOT`` when empty)."""
        return fold(self._hashes) if self._hashes else EMPTY_ROOT

    def to_bytes(self) -> bytes:
        """Serialise as version byte 0x01, uint64 big-endian size, then the subtree roots."""
        return b"\x01" + self._size.to_bytes(8, "big") + b"".join(self._hashes)

    @classmethod
    def from_bytes(cls, data: bytes) -> Frontier:
        """Parse ``to_bytes`` output; raises ``MalformedFrontierError`` on anything else."""
        if len(data) < 9:
            raise MalformedFrontierError(f"frontier: {len(data)} bytes is shorter than the header")
        if data[0] != 1:
            raise MalformedFrontierError(f"frontier: unknown version {data[0]}, expected 1")
        size = int.from_bytes(data[1:9], "big")
        expected = 9 + HASH_SIZE * size.bit_count()
        if len(data) != expected:
            raise MalformedFrontierError(
                f"frontier: size {size} needs {expected} bytes, got {len(data)}"
            )
        hashes = [bytes(data[i : i + HASH_SIZE]) for i in range(9, expected, HASH_SIZE)]
        return cls._restore(size, hashes)

    @classmethod
    def from_reader(cls, reader: NodeReader, size: int) -> Frontier:
        """Rebuild the frontier of ``size`` leaves from stored nodes (one batch fetch).

        Raises ``ProofRequestError`` for an impossible size, ``NodeNotFoundError``
        if the store lacks one of the nodes.
        """
        check_size("frontier", size)
        coords = range_nodes(0, size)
        return cls._restore(size, fetch_nodes(reader, coords) if coords else [])

    @classmethod
    def _restore(cls, size: int, hashes: list[bytes]) -> Frontier:
        frontier = cls()
        frontier._size, frontier._hashes = size, hashes
        return frontier


class NodeReader(Protocol):
    """A store of perfect-subtree nodes, read in batches (one query per proof)."""

    def nodes(self, coords: Sequence[Coord]) -> list[bytes]:
        """Return the hashes at these ``(level, index)`` coordinates, in order.

        Raises ``NodeNotFoundError`` if one is not stored.
        """
        ...


class MemoryNodes(NodeReader):
    """In-memory ``NodeReader`` fed with ``Frontier.append`` output (tests, benches, tools).

    Each level is one contiguous ``bytearray``, so a million leaves cost ~64 MB.
    """

    def __init__(self) -> None:
        self._levels: list[bytearray] = []

    def add(self, nodes: Iterable[tuple[int, int, bytes]]) -> None:
        """Store nodes, each level filled left to right as a frontier produces them.

        Re-adding an identical node is a no-op. Raises ``NodeConflictError`` for a
        different hash at a stored position, a gap, or a hash that is not 32 bytes.
        """
        levels = self._levels
        for level, index, digest in nodes:
            if len(digest) != HASH_SIZE:
                raise NodeConflictError(f"memory nodes: node ({level}, {index}) is not 32 bytes")
            while len(levels) <= level:
                levels.append(bytearray())
            buf = levels[level]
            stored = len(buf) // HASH_SIZE
            if index == stored:
                buf += digest
            elif 0 <= index < stored:
                if buf[index * HASH_SIZE : (index + 1) * HASH_SIZE] != digest:
                    raise NodeConflictError(
                        f"memory nodes: node ({level}, {index}) is already stored with another hash"
                    )
            else:
                raise NodeConflictError(
                    f"memory nodes: node ({level}, {index}) would leave a gap"
                    f" after index {stored - 1}"
                )

    def extend(self, start: int, levels: Sequence[bytes]) -> None:
        """Store ``subtree_levels`` output for the leaves from index ``start``.

        ``start`` must be a multiple of ``2 ** (len(levels) - 1)`` and every level
        must continue exactly where it ends now; raises ``NodeConflictError``
        otherwise.
        """
        stored = self._levels
        for level, joined in enumerate(levels):
            while len(stored) <= level:
                stored.append(bytearray())
            if len(stored[level]) != (start >> level) * HASH_SIZE or len(joined) % HASH_SIZE:
                raise NodeConflictError(
                    f"memory nodes: level {level} does not continue at leaf {start}"
                )
            stored[level] += joined

    def complete(self, size: int) -> None:
        """Hash the missing perfect-subtree nodes over the first ``size`` leaves."""
        stored, sha256 = self._levels, _sha256
        level = 1
        while size >> level:
            while len(stored) <= level:
                stored.append(bytearray())
            below, here = stored[level - 1], stored[level]
            for index in range(len(here) // HASH_SIZE, size >> level):
                at = 2 * index * HASH_SIZE
                here += sha256(b"\x01" + below[at : at + 2 * HASH_SIZE]).digest()
            level += 1

    def nodes(self, coords: Sequence[Coord]) -> list[bytes]:
        """Return the stored hashes at ``coords``; raises ``NodeNotFoundError`` if one is absent."""
        levels, out = self._levels, []
        for level, index in coords:
            start = index * HASH_SIZE
            if 0 <= level < len(levels) and 0 <= start < len(levels[level]):
                out.append(bytes(levels[level][start : start + HASH_SIZE]))
            else:
                raise NodeNotFoundError(
                    f"nodes: no stored node at level {level}, index {index}",
                    level=level,
                    index=index,
                )
        return out


def check_size(what: str, size: int) -> None:
    if type(size) is not int or not 0 <= size <= MAX_SIZE:
        raise ProofRequestError(f"{what}: size must be an integer from 0 to 2**64-1, got {size!r}")


def fetch_nodes(reader: NodeReader, coords: Sequence[Coord]) -> list[bytes]:
    hashes = reader.nodes(coords)
    # A reader that drops or mangles a row must not turn into a wrong proof.
    if len(hashes) != len(coords):
        raise NodeNotFoundError(
            f"nodes: the reader returned {len(hashes)} hashes for {len(coords)} coordinates"
        )
    for (level, index), digest in zip(coords, hashes, strict=True):
        if len(digest) != HASH_SIZE:
            raise NodeNotFoundError(
                f"nodes: the node at level {level}, index {index} is not {HASH_SIZE} bytes"
            )
    return hashes


def tree_root(reader: NodeReader, size: int) -> bytes:
    """Return the root of the tree of the first ``size`` leaves from stored nodes.

    Raises ``ProofRequestError`` for an impossible size, ``NodeNotFoundError`` if
    the store lacks a node (for example ``size`` beyond what was appended).
    """
    check_size("tree root", size)
    coords = range_nodes(0, size)
    return fold(fetch_nodes(reader, coords)) if coords else EMPTY_ROOT
