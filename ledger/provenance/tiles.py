"""The log as C2SP ``tlog-tiles``: the checkpoint, hash tiles and entry bundles.

https://c2sp.org/tlog-tiles. The *n*-th tile at level *l* is the 256 Merkle Tree Hashes
``MTH(D[(n·256 + i)·256**l : (n·256 + i + 1)·256**l])``, i = 0…255: exactly the nodes at
tree level ``8·l`` that ``ledger.provenance.tree`` already stores in chunks of 256, so a
tile is one stored chunk (a partial tile of width W is its first W hashes). Entry bundle
*n* is the stored signed bytes of positions ``n·256 …`` each prefixed by its length as a
big-endian uint16 (so an entry is at most 65,535 bytes: ``ledger.limits`` caps envelopes
at that size, so every event the ledger accepts fits).

Paths: ``tile/<L>/<N>[.p/<W>]`` and ``tile/entries/<N>[.p/<W>]``, ``N`` in zero-padded
3-digit elements, all but the last prefixed ``x`` (1234067 → ``x001/x234/067``). A tile
exists for the tree size ``s`` when its hashes do: full tile ``n`` at level ``l`` when
``(n + 1)·256 ≤ ⌊s / 256**l⌋``, a partial one of width W when ``n·256 + W ≤ ⌊s / 256**l⌋``.
Both are immutable once they exist (a width names how many hashes, and hashes never change).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from ledger.errors import LedgerError, MalformedError, NotFoundError
from ledger.provenance.merkle import HASH_SIZE
from ledger.provenance.tree import CHUNK, MerkleTree
from ledger.store import LogStore

WIDTH = 256  # hashes (or entries) in a full tile
MAX_LEVEL = 63
MAX_ENTRY = 0xFFFF  # an entry bundle's uint16 length prefix
_INDEX = re.compile(r"^(?:x\d{3}/)*\d{3}$")
_LEVEL = re.compile(r"^(?:0|[1-9]\d?)$")
_WIDTH = re.compile(r"^[1-9]\d{0,2}$")

assert CHUNK == WIDTH, "a tile is one stored chunk of the tree"


class TilePathError(MalformedError):
    """A tile path that is not ``tile/<L>/<N>[.p/<W>]`` or ``tile/entries/<N>[.p/<W>]``."""

    code = "InvalidTilePath"


class TileNotFoundError(NotFoundError):
    """A tile or entry bundle the tree does not hold (yet)."""

    code = "TileNotFound"


class EntryTooLargeError(LedgerError):
    """A stored entry over the 65,535 bytes an entry bundle can carry: the server's own data
    (written before the envelope limit was 65,535), never a client's fault."""

    code = "EntryTooLarge"


@dataclass(frozen=True)
class Tile:
    """One tile: ``level`` (None for an entry bundle), ``index``, ``width`` (256 when full)."""

    level: int | None
    index: int
    width: int = WIDTH

    @property
    def full(self) -> bool:
        return self.width == WIDTH

    def path(self) -> str:
        """The tile's path under the log's prefix (``tile/0/x001/234``, ``…/entries/…``)."""
        level = "entries" if self.level is None else str(self.level)
        suffix = "" if self.full else f".p/{self.width}"
        return f"tile/{level}/{encode_index(self.index)}{suffix}"

    @classmethod
    def parse(cls, path: str) -> Tile:
        """The tile a path names; raises ``TilePathError`` for anything else."""
        parts = path.strip("/").split("/")
        if len(parts) < 3 or parts[0] != "tile":
            raise TilePathError(f"{path!r} is not a tile path (tile/<L>/<N>[.p/<W>])")
        level_text, rest = parts[1], parts[2:]
        width = WIDTH
        if len(rest) >= 2 and rest[-2].endswith(".p"):
            if not _WIDTH.fullmatch(rest[-1]) or not 1 <= int(rest[-1]) < WIDTH:
                raise TilePathError(
                    f"{path!r}: a partial tile's width is a decimal from 1 to 255, got {rest[-1]!r}"
                )
            width = int(rest[-1])
            rest = [*rest[:-2], rest[-2].removesuffix(".p")]
        index_text = "/".join(rest)
        if not _INDEX.fullmatch(index_text):
            raise TilePathError(
                f"{path!r}: a tile index is zero-padded 3-digit elements, all but the last "
                f"prefixed with x (x001/x234/067), got {index_text!r}"
            )
        index = int(index_text.replace("x", "").replace("/", ""))
        if level_text == "entries":
            return cls(None, index, width)
        if not _LEVEL.fullmatch(level_text) or int(level_text) > MAX_LEVEL:
            raise TilePathError(
                f"{path!r}: a tile level is a decimal from 0 to {MAX_LEVEL} without leading "
                f"zeroes, or 'entries', got {level_text!r}"
            )
        return cls(int(level_text), index, width)


def encode_index(index: int) -> str:
    """``N`` as tile path elements: 1234067 → ``x001/x234/067``, 5 → ``005``."""
    if index < 0:
        raise TilePathError(f"a tile index is not negative, got {index}")
    digits = str(index)
    digits = "0" * (-len(digits) % 3) + digits
    groups = [digits[i : i + 3] for i in range(0, len(digits), 3)]
    return "/".join([*(f"x{g}" for g in groups[:-1]), groups[-1]])


def tiles_for(size: int) -> list[Tile]:
    """Every tile and entry bundle a tree of ``size`` is served as (full ones, then the
    partial one of each level), smallest level first; entry bundles mirror level 0."""
    out: list[Tile] = []
    level = 0
    while True:
        hashes = size // WIDTH**level
        if hashes == 0:
            break
        full, partial = divmod(hashes, WIDTH)
        kinds: tuple[int | None, ...] = (0, None) if level == 0 else (level,)
        for kind in kinds:
            out += [Tile(kind, n) for n in range(full)]
            if partial:
                out.append(Tile(kind, full, partial))
        if hashes < WIDTH:
            break
        level += 1
    return out


class TileReader:
    """Tiles and entry bundles of a log, read from its persisted tree and its store."""

    def __init__(self, tree: MerkleTree, store: LogStore) -> None:
        self.tree = tree
        self.store = store

    def read(self, tile: Tile, size: int | None = None) -> bytes:
        """The bytes of ``tile`` (for a tree of ``size``, default the tree's size).

        Raises ``TileNotFoundError`` when that tree does not reach it, and
        ``EntryTooLargeError`` for a bundle holding an entry over 65,535 bytes.
        """
        have = self.tree.size() if size is None else size
        level = 0 if tile.level is None else tile.level
        if level > MAX_LEVEL or tile.index * WIDTH + tile.width > have // WIDTH**level:
            raise TileNotFoundError(
                f"{tile.path()} is beyond the tree of {have} entries",
                path=tile.path(),
                size=have,
            )
        if tile.level is None:
            return self._bundle(tile)
        data = self.tree.reader.chunk(8 * tile.level, tile.index)
        if len(data) < tile.width * HASH_SIZE:
            raise TileNotFoundError(
                f"{tile.path()}: the tree holds {len(data) // HASH_SIZE} of its hashes",
                path=tile.path(),
                size=have,
            )
        return data[: tile.width * HASH_SIZE]

    def _bundle(self, tile: Tile) -> bytes:
        start = tile.index * WIDTH
        records = self.store.read(start, tile.width)
        if len(records) != tile.width or records[0].position != start:
            raise TileNotFoundError(
                f"{tile.path()}: the log holds {len(records)} of its entries", path=tile.path()
            )
        out = bytearray()
        for record in records:
            if len(record.data) > MAX_ENTRY:
                raise EntryTooLargeError(
                    f"entry {record.position} is {len(record.data)} bytes, over the "
                    f"{MAX_ENTRY} an entry bundle can carry",
                    position=record.position,
                )
            out += len(record.data).to_bytes(2, "big") + record.data
        return bytes(out)


def parse_bundle(data: bytes) -> list[bytes]:
    """The entries of an entry bundle; raises ``MalformedError`` for a cut one."""
    entries: list[bytes] = []
    at = 0
    while at < len(data):
        if at + 2 > len(data):
            raise MalformedError(f"entry bundle: a length prefix is cut at byte {at}")
        length = int.from_bytes(data[at : at + 2], "big")
        at += 2
        if at + length > len(data):
            raise MalformedError(f"entry bundle: entry at byte {at} runs past the bundle")
        entries.append(data[at : at + length])
        at += length
    return entries


@dataclass(frozen=True)
class ExportReport:
    """What ``export_tiles`` wrote: the checkpoint's size, tiles written, tiles kept."""

    size: int
    written: int
    kept: int


def export_tiles(reader: TileReader, checkpoint_note: str, size: int, into: Path) -> ExportReport:
    """Write the tiles of the tree of ``size`` and its checkpoint under ``into``.

    The same files the HTTP API serves, for any static web server or object store. Full
    tiles already written are kept (they never change); partial tiles of earlier exports
    stay too (clients holding an older checkpoint still need them); the checkpoint is
    replaced last, atomically, so a reader never sees one whose tiles are missing.
    """
    written = kept = 0
    for tile in tiles_for(size):
        target = into / tile.path()
        if target.exists():
            kept += 1
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        _write_atomically(target, reader.read(tile, size))
        written += 1
    _write_atomically(into / "checkpoint", checkpoint_note.encode())
    return ExportReport(size=size, written=written, kept=kept)


def _write_atomically(target: Path, data: bytes) -> None:
    temporary = target.with_name(target.name + ".tmp")
    temporary.write_bytes(data)
    temporary.replace(target)
