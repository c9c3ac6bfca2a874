"""The log as C2SP tlog-tiles: paths, which tiles a tree has, their bytes, the export.

The spec's own examples (c2sp.org/tlog-tiles) are the vectors for paths and for the tiles
of a tree of 70,000 and of 256; tile bytes are checked against the leaves of the stored
log. A tool not written here reads the same files in ``tests/interop/test_go_tlog.py``.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.envelope import MAX_BODY_BYTES, MAX_ENVELOPE_BYTES, Envelope, sign_envelope
from ledger.errors import MalformedError
from ledger.ledger import Ledger
from ledger.provenance.merkle import leaf_hash, root_from_leaf_hashes
from ledger.provenance.tiles import (
    MAX_ENTRY,
    Tile,
    TileNotFoundError,
    TilePathError,
    TileReader,
    encode_index,
    export_tiles,
    parse_bundle,
    tiles_for,
)
from ledger.provenance.tree import MerkleTree
from ledger.store import LogStore
from ledger.store.engine import engine_for
from tests.ledger.provenance.test_tree import ANA, fill


def test_tile_indexes_are_encoded_as_the_spec_says() -> None:
    assert encode_index(1234067) == "x001/x234/067"
    assert encode_index(0) == "000"
    assert encode_index(5) == "005"
    assert encode_index(1000) == "x001/000"
    assert Tile(0, 1234067).path() == "tile/0/x001/x234/067"
    assert Tile(2, 3, 17).path() == "tile/2/003.p/17"
    assert Tile(None, 1, 112).path() == "tile/entries/001.p/112"


@given(st.integers(0, 2**63), st.sampled_from([None, 0, 1, 5, 63]), st.integers(1, 256))
def test_a_tile_path_parses_back_to_its_tile(index: int, level: int | None, width: int) -> None:
    tile = Tile(level, index, width)
    assert Tile.parse(tile.path()) == tile


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("tile/0/1", "'tile/0/1': a tile index is zero-padded 3-digit elements, all but the "
         "last prefixed with x (x001/x234/067), got '1'"),
        ("tile/0/001/234", "'tile/0/001/234': a tile index is zero-padded 3-digit elements, "
         "all but the last prefixed with x (x001/x234/067), got '001/234'"),
        ("tile/01/000", "'tile/01/000': a tile level is a decimal from 0 to 63 without "
         "leading zeroes, or 'entries', got '01'"),
        ("tile/64/000", "'tile/64/000': a tile level is a decimal from 0 to 63 without "
         "leading zeroes, or 'entries', got '64'"),
        ("tile/0/000.p/256", "'tile/0/000.p/256': a partial tile's width is a decimal from 1 "
         "to 255, got '256'"),
        ("tile/0/000.p/0", "'tile/0/000.p/0': a partial tile's width is a decimal from 1 to "
         "255, got '0'"),
        ("tile/0/000.p/07", "'tile/0/000.p/07': a partial tile's width is a decimal from 1 to "
         "255, got '07'"),
        ("checkpoint", "'checkpoint' is not a tile path (tile/<L>/<N>[.p/<W>])"),
    ],
)  # fmt: skip
def test_a_path_that_is_not_a_tile_is_refused_by_name(path: str, message: str) -> None:
    with pytest.raises(TilePathError) as caught:
        Tile.parse(path)
    assert caught.value.code == "InvalidTilePath"
    assert caught.value.detail == message


def test_the_tiles_of_a_tree_are_the_specs_examples() -> None:
    # "a tree of size 70,000 will be represented by 273 full level 0 tiles, one partial
    # level 0 tile of width 112, one full level 1 tile, one partial level 1 tile of width
    # 17, and one partial level 2 tile of width 1" (and entry bundles like level 0)
    tiles = tiles_for(70_000)
    level = {lv: [t for t in tiles if t.level == lv] for lv in (0, 1, 2, None)}
    assert [t for t in level[0] if t.full] == [Tile(0, n) for n in range(273)]
    assert [t for t in level[0] if not t.full] == [Tile(0, 273, 112)]
    assert level[1] == [Tile(1, 0), Tile(1, 1, 17)]
    assert level[2] == [Tile(2, 0, 1)]
    assert [(t.index, t.width) for t in level[None]] == [(t.index, t.width) for t in level[0]]
    assert len(tiles) == 2 * 274 + 3
    # "a tree of size 256 will be represented by a full level 0 tile and a partial level 1
    # tile of width 1"
    assert tiles_for(256) == [Tile(0, 0), Tile(None, 0), Tile(1, 0, 1)]
    assert tiles_for(0) == []


def _mth(leaves: list[bytes]) -> bytes:
    """RFC 6962 §2.1 MTH, written from the RFC (the reference for the stored nodes)."""
    if len(leaves) == 1:
        return leaves[0]
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return hashlib.sha256(b"\x01" + _mth(leaves[:k]) + _mth(leaves[k:])).digest()


@pytest.fixture
def tree(store: LogStore, store_url: str) -> MerkleTree:
    return MerkleTree(engine_for(store_url), store)


def test_tiles_and_bundles_hold_the_logs_hashes_and_bytes(ledger: Ledger, tree: MerkleTree) -> None:
    fill(ledger, 2 * 256 + 88)
    tree.catch_up()
    reader = TileReader(tree, ledger.store)
    data = [r.data for r in ledger.store.iterate()]
    hashes = [leaf_hash(d) for d in data]
    for tile in tiles_for(600):
        got = reader.read(tile)
        start = tile.index * 256
        if tile.level == 0:
            assert got == b"".join(hashes[start : start + tile.width])
        elif tile.level is None:
            assert parse_bundle(got) == data[start : start + tile.width]
        else:
            assert tile == Tile(1, 0, 2)
            assert got == _mth(hashes[:256]) + _mth(hashes[256:512])
    assert root_from_leaf_hashes(hashes) == tree.root(600)


def test_a_tile_the_tree_does_not_reach_is_not_found(ledger: Ledger, tree: MerkleTree) -> None:
    fill(ledger, 300)
    tree.catch_up()
    reader = TileReader(tree, ledger.store)
    assert len(reader.read(Tile(0, 1, 44))) == 44 * 32  # a partial tile of the tree
    assert len(reader.read(Tile(0, 1, 20))) == 20 * 32  # and of a smaller tree, still there
    for tile, message in [
        (Tile(0, 1), "tile/0/001 is beyond the tree of 300 entries"),
        (Tile(0, 1, 45), "tile/0/001.p/45 is beyond the tree of 300 entries"),
        (Tile(None, 2, 1), "tile/entries/002.p/1 is beyond the tree of 300 entries"),
        (Tile(1, 0, 2), "tile/1/000.p/2 is beyond the tree of 300 entries"),
    ]:
        with pytest.raises(TileNotFoundError) as caught:
            reader.read(tile)
        assert caught.value.code == "TileNotFound"
        assert caught.value.detail == message
    with pytest.raises(TileNotFoundError) as caught:
        reader.read(Tile(0, 0), size=255)  # the tree of an older checkpoint
    assert caught.value.detail == "tile/0/000 is beyond the tree of 255 entries"


def test_a_cut_bundle_is_malformed() -> None:
    assert parse_bundle(b"\x00\x02ab\x00\x00") == [b"ab", b""]
    with pytest.raises(MalformedError) as caught:
        parse_bundle(b"\x00\x05ab")
    assert caught.value.detail == "entry bundle: entry at byte 2 runs past the bundle"
    with pytest.raises(MalformedError) as caught:
        parse_bundle(b"\x00\x01a\x00")
    assert caught.value.detail == "entry bundle: a length prefix is cut at byte 3"


def test_every_envelope_the_ledger_accepts_fits_an_entry_bundle() -> None:
    assert MAX_ENVELOPE_BYTES == MAX_ENTRY == 65535
    # The largest envelope there can be: longest type and campaign, largest seq, a body
    # at its limit. Its canonical bytes still fit the uint16 length prefix.
    body = {"text": ""}
    body["text"] = "x" * (MAX_BODY_BYTES - len('{"text":""}'))
    big = sign_envelope(ANA, "N" * 64, body, seq=2**53 - 1, campaign="c" * 64).canonical_bytes()
    assert len(big) <= MAX_ENTRY
    assert Envelope.from_bytes(big).canonical_bytes() == big


def test_the_export_writes_every_tile_once_and_the_checkpoint_last(
    ledger: Ledger, tree: MerkleTree, tmp_path: Path
) -> None:
    fill(ledger, 300)
    tree.catch_up()
    reader = TileReader(tree, ledger.store)
    first = export_tiles(reader, "note at 300\n", 300, tmp_path)
    assert (first.size, first.written, first.kept) == (300, 5, 0)
    assert (tmp_path / "checkpoint").read_text() == "note at 300\n"
    assert (tmp_path / "tile/0/000").read_bytes() == reader.read(Tile(0, 0))
    assert (tmp_path / "tile/entries/001.p/44").read_bytes() == reader.read(Tile(None, 1, 44))
    assert (tmp_path / "tile/1/000.p/1").stat().st_size == 32
    ledger.append_batch(
        [sign_envelope(ANA, "NoteShared", {"n": s}, seq=s) for s in range(301, 601)]
    )
    tree.catch_up()
    second = export_tiles(reader, "note at 600\n", 600, tmp_path)
    assert (second.written, second.kept) == (5, 2)  # tile/0/000 and entries/000 kept
    assert (tmp_path / "tile/0/001.p/44").exists()  # the older checkpoint's partial tile
    assert (tmp_path / "checkpoint").read_text() == "note at 600\n"
    assert not list(tmp_path.rglob("*.tmp"))


def test_an_entry_from_before_the_limit_is_refused_by_its_bundle_not_served_cut(
    store: LogStore, store_url: str
) -> None:
    from ledger.provenance.tiles import EntryTooLargeError
    from ledger.store import NewRecord

    # Written straight to the store, as a log from before envelopes were capped at 65,535.
    store.insert([NewRecord(ANA.actor, 1, "NoteShared", b"x" * 70_000)])
    tree = MerkleTree(engine_for(store_url), store)
    tree.catch_up()
    reader = TileReader(tree, store)
    assert len(reader.read(Tile(0, 0, 1))) == 32  # its hash is in the tree as always
    with pytest.raises(EntryTooLargeError) as caught:
        reader.read(Tile(None, 0, 1))
    assert caught.value.code == "EntryTooLarge"
    assert caught.value.detail == (
        "entry 0 is 70000 bytes, over the 65535 an entry bundle can carry"
    )
