"""The Merkle tree against published vectors, an attacker, and random trees."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.errors import MalformedError, NotFoundError, VerificationError
from ledger.provenance.merkle import (
    EMPTY_ROOT,
    Frontier,
    MalformedFrontierError,
    MalformedProofError,
    MemoryNodes,
    NodeConflictError,
    NodeNotFoundError,
    ProofRequestError,
    leaf_hash,
    node_hash,
    root_from_leaf_hashes,
    subtree_levels,
    tree_root,
)
from ledger.provenance.proofs import (
    ConsistencyProof,
    InclusionProof,
    consistency_plan,
    consistency_proof,
    inclusion_plan,
    inclusion_proof,
    verify_consistency,
    verify_inclusion,
)

# Known answers copied from google/certificate-transparency,
# cpp/merkletree/merkle_tree_test.cc (kInputs, kSHA256Roots, kSHA256Paths,
# kSHA256Proofs); transparency-dev/merkle, proof/verify_test.go carries the same
# vectors plus the 6 -> 7 consistency proof. Leaf numbers there are 1-based; the
# indexes below are 0-based.
EMPTY_TREE_HASH = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
INPUTS = [
    "",
    "00",
    "10",
    "2021",
    "3031",
    "40414243",
    "5051525354555657",
    "606162636465666768696a6b6c6d6e6f",
]
ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
INCLUSION = [  # (index, size, path)
    (0, 1, []),
    (
        0,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        5,
        8,
        [
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (
        1,
        5,
        [
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
]
CONSISTENCY = [  # (old_size, new_size, path)
    (1, 1, []),
    (
        1,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        5,
        [
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
    (
        6,
        7,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
]
SOME_HASH = bytes.fromhex("abacaba000000000000000000000000000000000000000000060061e00123456")


def h(hexes: list[str]) -> tuple[bytes, ...]:
    return tuple(bytes.fromhex(x) for x in hexes)


def root(size: int) -> bytes:
    return bytes.fromhex(ROOTS[size - 1])


def vector_leaf(index: int) -> bytes:
    return leaf_hash(bytes.fromhex(INPUTS[index]))


def grow(leaves: list[bytes]) -> tuple[Frontier, MemoryNodes]:
    frontier, store = Frontier(), MemoryNodes()
    for leaf in leaves:
        store.add(frontier.append(leaf))
    return frontier, store


_, VECTOR_STORE = grow([vector_leaf(i) for i in range(8)])

# One 300-leaf store serves every random tree: a tree of size n only uses nodes
# inside [0, n), which a longer log holds unchanged.
BIG = 300
BIG_LEAVES = [leaf_hash(i.to_bytes(2, "big")) for i in range(BIG)]
_, BIG_STORE = grow(BIG_LEAVES)


def flip(digest: bytes, bit: int = 0) -> bytes:
    return bytes([digest[0] ^ (1 << bit)]) + digest[1:]


# -- known answers -----------------------------------------------------------------


def test_the_empty_tree_hashes_to_the_sha256_of_nothing() -> None:
    assert EMPTY_ROOT.hex() == EMPTY_TREE_HASH
    assert root_from_leaf_hashes([]) == EMPTY_ROOT
    assert Frontier().root() == EMPTY_ROOT
    assert tree_root(VECTOR_STORE, 0) == EMPTY_ROOT


@pytest.mark.parametrize("size", range(1, 9))
def test_every_prefix_of_the_reference_tree_has_the_published_root(size: int) -> None:
    leaves = [vector_leaf(i) for i in range(size)]
    frontier, _ = grow(leaves)
    assert root_from_leaf_hashes(leaves).hex() == ROOTS[size - 1]
    assert frontier.root().hex() == ROOTS[size - 1]
    assert tree_root(VECTOR_STORE, size).hex() == ROOTS[size - 1]


@pytest.mark.parametrize(("index", "size", "path"), INCLUSION)
def test_inclusion_proofs_match_the_published_paths_and_verify(
    index: int, size: int, path: list[str]
) -> None:
    proof = inclusion_proof(VECTOR_STORE, index, size)
    assert proof == InclusionProof(index, size, h(path))
    verify_inclusion(vector_leaf(index), proof, root(size))


@pytest.mark.parametrize(("old", "new", "path"), CONSISTENCY)
def test_consistency_proofs_match_the_published_proofs_and_verify(
    old: int, new: int, path: list[str]
) -> None:
    proof = consistency_proof(VECTOR_STORE, old, new)
    assert proof == ConsistencyProof(old, new, h(path))
    verify_consistency(proof, root(old), root(new))


def test_the_nodes_a_proof_needs_are_planned_before_anything_is_fetched() -> None:
    # Leaf 1 of 5: its sibling, the pair (2, 3), then the lone leaf 4.
    assert inclusion_plan(1, 5) == [((0, 0),), ((1, 1),), ((0, 4),)]
    # 6 -> 7: the seed [4, 6), the incomplete range [6, 7), the left half [0, 4).
    assert consistency_plan(6, 7) == [((1, 2),), ((0, 6),), ((2, 0),)]
    # Leaf 0 of 7: its right neighbours, then [4, 7) folded from two subtrees.
    assert inclusion_plan(0, 7)[-1] == ((1, 2), (0, 6))


def test_a_reader_is_asked_once_per_proof() -> None:
    calls: list[int] = []

    class CountingReader:
        def nodes(self, coords: Sequence[tuple[int, int]]) -> list[bytes]:
            calls.append(len(coords))
            return BIG_STORE.nodes(coords)

    inclusion_proof(CountingReader(), 0, 299)
    consistency_proof(CountingReader(), 7, 299)
    tree_root(CountingReader(), 299)
    assert len(calls) == 3


# -- the second-preimage attack -------------------------------------------------------


def test_an_inner_node_preimage_passed_off_as_a_leaf_does_not_prove_inclusion() -> None:
    a, b, c, d = b"alice", b"bob", b"carol", b"dave"

    # Without the 0x00/0x01 prefixes, the 4-leaf tree [a, b, c, d] and a 2-leaf tree
    # whose first "leaf" is the bytes H(a) || H(b) have the same root: the attacker
    # can prove inclusion of data that was never logged.
    def naive_leaf(data: bytes) -> bytes:
        return hashlib.sha256(data).digest()

    def naive_node(left: bytes, right: bytes) -> bytes:
        return hashlib.sha256(left + right).digest()

    naive_ab = naive_node(naive_leaf(a), naive_leaf(b))
    naive_cd = naive_node(naive_leaf(c), naive_leaf(d))
    naive_forged = naive_leaf(naive_leaf(a) + naive_leaf(b))
    assert naive_node(naive_forged, naive_cd) == naive_node(naive_ab, naive_cd)

    # With them, the same forgery yields another root and the proof is refused.
    honest = root_from_leaf_hashes([leaf_hash(x) for x in (a, b, c, d)])
    forged_data = leaf_hash(a) + leaf_hash(b)  # the preimage of inner node (1, 0)
    cd = node_hash(leaf_hash(c), leaf_hash(d))
    assert node_hash(leaf_hash(forged_data), cd) != honest
    with pytest.raises(VerificationError, match=r"^inclusion: root mismatch at size 2: "):
        verify_inclusion(leaf_hash(forged_data), InclusionProof(0, 2, (cd,)), honest)


def test_an_inclusion_proof_alone_does_not_pin_the_tree_size_a_signed_checkpoint_must() -> None:
    # RFC 9162 verification binds index, leaf and root, but leaf 0 of 3 and of 4 take
    # the same two hashes. The size a proof is checked at must come from a signed
    # checkpoint that binds it to the root.
    proof = inclusion_proof(VECTOR_STORE, 0, 3)
    verify_inclusion(vector_leaf(0), proof, root(3))
    verify_inclusion(vector_leaf(0), InclusionProof(0, 4, proof.path), root(3))


# -- refusals --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("leaf_index", "proof", "root_hash", "message"),
    [
        (1, InclusionProof(1, 8, h(INCLUSION[1][2])), root(8), "root mismatch at size 8"),
        (0, InclusionProof(0, 16, h(INCLUSION[1][2])), root(8), "has 3 hashes, expected 4"),
        (0, InclusionProof(0, 4, h(INCLUSION[1][2])), root(8), "has 3 hashes, expected 2"),
        (0, InclusionProof(0, 8, h(INCLUSION[1][2])), EMPTY_ROOT, "root mismatch at size 8"),
        (0, InclusionProof(0, 8, h(INCLUSION[1][2])), SOME_HASH, "root mismatch at size 8"),
        (0, InclusionProof(0, 8, h(INCLUSION[1][2])[:2]), root(8), "has 2 hashes, expected 3"),
        (0, InclusionProof(0, 8, (*h(INCLUSION[1][2]), root(8))), root(8), "4 hashes, expected 3"),
        (0, InclusionProof(0, 8, (root(8), *h(INCLUSION[1][2]))), root(8), "4 hashes, expected 3"),
        (0, InclusionProof(8, 8, ()), root(8), "index 8 is not below tree size 8"),
        (0, InclusionProof(0, 0, ()), EMPTY_ROOT, "index 0 is not below tree size 0"),
        (0, InclusionProof(2, 1, ()), root(1), "index 2 is not below tree size 1"),
    ],
)
def test_a_wrong_inclusion_proof_is_refused_naming_the_step(
    leaf_index: int, proof: InclusionProof, root_hash: bytes, message: str
) -> None:
    with pytest.raises(VerificationError, match=f"^inclusion: .*{re.escape(message)}"):
        verify_inclusion(vector_leaf(leaf_index), proof, root_hash)


def test_a_root_mismatch_message_shows_both_hashes() -> None:
    expected = f"inclusion: root mismatch at size 1: expected {SOME_HASH.hex()[:16]}…, got "
    with pytest.raises(VerificationError) as refused:
        verify_inclusion(vector_leaf(0), InclusionProof(0, 1, ()), SOME_HASH)
    assert refused.value.detail == expected + f"{ROOTS[0][:16]}…"


@pytest.mark.parametrize(
    ("leaf", "root_hash", "message"),
    [
        (b"WrongLeaf", root(1), "inclusion: leaf hash is 9 bytes, expected 32 bytes"),
        (vector_leaf(0), b"", "inclusion: root is 0 bytes, expected 32 bytes"),
        ("text", root(1), "inclusion: leaf hash is str, expected 32 bytes"),
    ],
)
def test_hashes_of_the_wrong_size_are_refused_before_any_hashing(
    leaf: bytes, root_hash: bytes, message: str
) -> None:
    with pytest.raises(VerificationError) as refused:
        verify_inclusion(leaf, InclusionProof(0, 1, ()), root_hash)
    assert refused.value.detail == message


@pytest.mark.parametrize(
    ("proof", "old_root", "new_root", "message"),
    [
        (ConsistencyProof(2, 1, ()), root(2), root(1), "old size 2 is larger than new size 1"),
        (ConsistencyProof(1, 0, ()), root(1), EMPTY_ROOT, "old size 1 is larger than new size 0"),
        (ConsistencyProof(1, 2, ()), root(1), root(2), "from size 1 to 2 has 0 hashes, expected 1"),
        (ConsistencyProof(3, 3, ()), root(3), root(4), "sizes are equal (3) but the roots differ"),
        (ConsistencyProof(3, 3, (root(3),)), root(3), root(3), "has 1 hashes, expected 0"),
        (ConsistencyProof(0, 0, (EMPTY_ROOT,)), EMPTY_ROOT, EMPTY_ROOT, "1 hashes, expected 0"),
        (ConsistencyProof(0, 5, (EMPTY_ROOT,)), EMPTY_ROOT, root(5), "1 hashes, expected 0"),
        (ConsistencyProof(0, 5, ()), root(1), root(5), "old root mismatch at size 0"),
        (ConsistencyProof(6, 8, h(CONSISTENCY[2][2])), root(6), root(7), "new root mismatch"),
        (ConsistencyProof(6, 8, h(CONSISTENCY[2][2])), root(5), root(8), "old root mismatch"),
        (ConsistencyProof(6, 8, h(CONSISTENCY[2][2])), root(8), root(6), "old root mismatch"),
        (ConsistencyProof(5, 8, h(CONSISTENCY[2][2])), root(6), root(8), "3 hashes, expected 4"),
        (ConsistencyProof(7, 8, h(CONSISTENCY[2][2])), root(6), root(8), "expected 4"),
        (ConsistencyProof(4, 8, h(CONSISTENCY[2][2])), root(6), root(8), "expected 1"),
        (ConsistencyProof(6, 16, h(CONSISTENCY[2][2])), root(6), root(8), "expected 4"),
        (ConsistencyProof(6, 4, h(CONSISTENCY[2][2])), root(6), root(8), "larger than new size"),
        (ConsistencyProof(6, 8, h(CONSISTENCY[2][2])[:2]), root(6), root(8), "expected 3"),
        (ConsistencyProof(1, 8, (SOME_HASH, *h(CONSISTENCY[1][2]))), root(1), root(8), "4 hashes"),
        (ConsistencyProof(6, 8, ()), root(6), root(8), "0 hashes, expected 3"),
        (ConsistencyProof(6, 8, h(CONSISTENCY[2][2])), b"WrongRoot", root(8), "old root is 9"),
    ],
)
def test_a_wrong_consistency_proof_is_refused_naming_the_step(
    proof: ConsistencyProof, old_root: bytes, new_root: bytes, message: str
) -> None:
    with pytest.raises(VerificationError, match=f"^consistency: .*{re.escape(message)}"):
        verify_consistency(proof, old_root, new_root)


def test_sizes_that_are_always_consistent_need_no_proof() -> None:
    verify_consistency(ConsistencyProof(0, 0, ()), EMPTY_ROOT, EMPTY_ROOT)
    verify_consistency(ConsistencyProof(0, 8, ()), EMPTY_ROOT, root(8))
    verify_consistency(ConsistencyProof(8, 8, ()), root(8), root(8))


def test_proofs_cannot_be_asked_for_impossible_indexes_or_sizes() -> None:
    with pytest.raises(
        ProofRequestError, match=r"^inclusion proof: index 8 is not below tree size 8$"
    ):
        inclusion_proof(VECTOR_STORE, 8, 8)
    with pytest.raises(
        ProofRequestError, match=r"^consistency proof: old size 5 is larger than new size 3$"
    ):
        consistency_proof(VECTOR_STORE, 5, 3)
    with pytest.raises(
        ProofRequestError, match=r"^tree root: size must be an integer from 0 to 2\*\*64-1, got -1$"
    ):
        tree_root(VECTOR_STORE, -1)


def test_a_tree_larger_than_the_store_is_reported_as_not_found() -> None:
    with pytest.raises(
        NodeNotFoundError, match=r"^nodes: no stored node at level 0, index 8$"
    ) as refused:
        tree_root(VECTOR_STORE, 9)
    assert isinstance(refused.value, NotFoundError)
    assert refused.value.ids == {"level": 0, "index": 8}
    with pytest.raises(NodeNotFoundError, match=r"^nodes: no stored node at level 3, index 1$"):
        consistency_proof(VECTOR_STORE, 8, 16)


def test_a_reader_that_drops_a_row_fails_loudly_instead_of_building_a_wrong_proof() -> None:
    class LossyReader:
        def nodes(self, coords: Sequence[tuple[int, int]]) -> list[bytes]:
            return VECTOR_STORE.nodes(coords)[:-1]

    with pytest.raises(
        NodeNotFoundError, match=r"^nodes: the reader returned 2 hashes for 3 coordinates$"
    ):
        inclusion_proof(LossyReader(), 0, 8)


def test_the_memory_store_refuses_a_contradicting_node_or_a_gap() -> None:
    store = MemoryNodes()
    store.add([(0, 0, vector_leaf(0))])
    store.add([(0, 0, vector_leaf(0))])  # the same node again is harmless
    with pytest.raises(
        NodeConflictError,
        match=r"^memory nodes: node \(0, 0\) is already stored with another hash$",
    ):
        store.add([(0, 0, vector_leaf(1))])
    with pytest.raises(
        NodeConflictError, match=r"^memory nodes: node \(0, 2\) would leave a gap after index 0$"
    ):
        store.add([(0, 2, vector_leaf(2))])
    with pytest.raises(NodeConflictError, match=r"^memory nodes: node \(0, 1\) is not 32 bytes$"):
        store.add([(0, 1, b"short")])


# -- the frontier ----------------------------------------------------------------------


def test_appending_reports_every_node_it_completes() -> None:
    frontier = Frontier()
    for i in range(3):
        frontier.append(vector_leaf(i))
    completed = frontier.append(vector_leaf(3))
    assert [(level, index) for level, index, _ in completed] == [(0, 3), (1, 1), (2, 0)]
    assert completed[0][2] == vector_leaf(3)
    assert completed[-1][2] == root(4) == frontier.root()
    assert frontier.size == 4


def test_a_frontier_refuses_a_leaf_that_is_not_a_hash() -> None:
    with pytest.raises(MalformedError, match=r"^frontier: a leaf hash must be 32 bytes$"):
        Frontier().append(b"not a hash")


def test_a_frontier_serialises_to_a_version_byte_a_size_and_its_subtree_roots() -> None:
    frontier, _ = grow([vector_leaf(i) for i in range(5)])
    data = frontier.to_bytes()
    assert data == b"\x01" + (5).to_bytes(8, "big") + root(4) + vector_leaf(4)
    assert Frontier().to_bytes() == b"\x01" + bytes(8)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "frontier: 0 bytes is shorter than the header"),
        (b"\x02" + bytes(8), "frontier: unknown version 2, expected 1"),
        (b"\x01" + (5).to_bytes(8, "big") + bytes(32), "frontier: size 5 needs 73 bytes, got 41"),
        (b"\x01" + bytes(8) + bytes(32), "frontier: size 0 needs 9 bytes, got 41"),
    ],
)
def test_malformed_frontier_bytes_are_refused(data: bytes, message: str) -> None:
    with pytest.raises(MalformedFrontierError) as refused:
        Frontier.from_bytes(data)
    assert refused.value.detail == message


def test_a_frontier_can_be_rebuilt_from_the_store_at_any_past_size() -> None:
    for size in range(9):
        rebuilt = Frontier.from_reader(VECTOR_STORE, size)
        assert rebuilt.size == size
        assert rebuilt.root() == (root(size) if size else EMPTY_ROOT)


# -- proofs as JSON --------------------------------------------------------------------


def test_a_proof_is_json_with_standard_base64_hashes() -> None:
    proof = inclusion_proof(VECTOR_STORE, 2, 3)
    assert proof.to_json() == {
        "index": 2,
        "size": 3,
        "path": ["+sVCA+fMaWzw38tCySodnbr3CtnmIfS9jZhmLwDjwSU="],
    }
    assert ConsistencyProof(0, 0, ()).to_json() == {"old_size": 0, "new_size": 0, "path": []}


GOOD_HASH = "+sVCA+fMaWzw38tCySodnbr3CtnmIfS9jZhmLwDjwSU="


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([], "inclusion proof: expected a JSON object, got list"),
        ({"index": 0, "size": 1}, "inclusion proof: missing field 'path'"),
        ({"index": 0, "size": 1, "path": [], "x": 1}, "inclusion proof: unexpected field 'x'"),
        (
            {"index": True, "size": 1, "path": []},
            "inclusion proof: index must be an integer, got bool",
        ),
        (
            {"index": 0, "size": "1", "path": []},
            "inclusion proof: size must be an integer, got str",
        ),
        (
            {"index": 0, "size": 1.0, "path": []},
            "inclusion proof: size must be an integer, got float",
        ),
        (
            {"index": -1, "size": 1, "path": []},
            "inclusion proof: index must be from 0 to 2**64-1, got -1",
        ),
        (
            {"index": 0, "size": 2**64, "path": []},
            f"inclusion proof: size must be from 0 to 2**64-1, got {2**64}",
        ),
        (
            {"index": 0, "size": 1, "path": GOOD_HASH},
            "inclusion proof: path must be a list of base64 strings",
        ),
        (
            {"index": 0, "size": 1, "path": [GOOD_HASH] * 65},
            "inclusion proof: path has 65 hashes, at most 64",
        ),
        (
            {"index": 0, "size": 1, "path": ["not base64!"]},
            "inclusion proof: path[0] is not a base64-encoded 32-byte hash",
        ),
        (
            {"index": 0, "size": 1, "path": [GOOD_HASH, "AAAA"]},
            "inclusion proof: path[1] is not a base64-encoded 32-byte hash",
        ),
        (
            {"index": 0, "size": 1, "path": ["A" * 43 + "B"]},
            "inclusion proof: path[0] is not a base64-encoded 32-byte hash",
        ),
        (
            {"index": 0, "size": 1, "path": ["A" * 42 + "B="]},
            "inclusion proof: path[0] is not a base64-encoded 32-byte hash",
        ),
        (
            {"index": 0, "size": 1, "path": [GOOD_HASH.replace("+", "-")]},
            "inclusion proof: path[0] is not a base64-encoded 32-byte hash",
        ),
        (
            {"index": 0, "size": 1, "path": [32]},
            "inclusion proof: path[0] is not a base64-encoded 32-byte hash",
        ),
    ],
)
def test_a_malformed_inclusion_proof_is_refused_naming_the_field(
    data: object, message: str
) -> None:
    with pytest.raises(MalformedProofError) as refused:
        InclusionProof.from_json(data)
    assert refused.value.detail == message


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"old_size": 0, "new_size": 1}, "consistency proof: missing field 'path'"),
        (
            {"old_size": None, "new_size": 1, "path": []},
            "consistency proof: old_size must be an integer, got NoneType",
        ),
        (
            {"old_size": 0, "new_size": -5, "path": []},
            "consistency proof: new_size must be from 0 to 2**64-1, got -5",
        ),
        (
            {"old_size": 0, "new_size": 1, "path": [None]},
            "consistency proof: path[0] is not a base64-encoded 32-byte hash",
        ),
    ],
)
def test_a_malformed_consistency_proof_is_refused_naming_the_field(
    data: object, message: str
) -> None:
    with pytest.raises(MalformedProofError) as refused:
        ConsistencyProof.from_json(data)
    assert refused.value.detail == message


def test_a_proof_built_in_code_is_checked_for_shape_too() -> None:
    with pytest.raises(MalformedProofError) as refused:
        InclusionProof(0, 1, (b"short",))
    assert refused.value.detail == "inclusion proof: path[0] must be 32 bytes"
    with pytest.raises(MalformedProofError) as refused:
        ConsistencyProof(0, 1, (EMPTY_ROOT,) * 65)
    assert refused.value.detail == "consistency proof: path has 65 hashes, at most 64"


def test_a_proof_that_parses_but_does_not_verify_is_a_verification_error_not_malformed() -> None:
    proof = InclusionProof.from_json({"index": 9, "size": 8, "path": []})
    with pytest.raises(VerificationError, match=r"^inclusion: index 9 is not below tree size 8$"):
        verify_inclusion(vector_leaf(0), proof, root(8))


# -- properties over random trees ------------------------------------------------------

sizes = st.integers(min_value=1, max_value=BIG)


@st.composite
def leaf_in_tree(draw: st.DrawFn) -> tuple[int, int]:
    size = draw(sizes)
    return draw(st.integers(0, size - 1)), size


@given(leaf_in_tree())
def test_every_inclusion_proof_verifies(leaf: tuple[int, int]) -> None:
    index, size = leaf
    proof = inclusion_proof(BIG_STORE, index, size)
    verify_inclusion(BIG_LEAVES[index], proof, root_from_leaf_hashes(BIG_LEAVES[:size]))


@given(leaf_in_tree(), st.data())
def test_any_single_change_to_an_inclusion_proof_is_refused(
    leaf: tuple[int, int], data: st.DataObject
) -> None:
    index, size = leaf
    proof = inclusion_proof(BIG_STORE, index, size)
    good_root = tree_root(BIG_STORE, size)
    leaf_hash_, path = BIG_LEAVES[index], list(proof.path)
    kinds = ["leaf", "root", "index", "longer", "double size"]
    if path:
        kinds += ["path bit", "shorter"]
    kind = data.draw(st.sampled_from(kinds), label="change")
    bit = data.draw(st.integers(0, 7), label="bit")
    if kind == "leaf":
        leaf_hash_ = flip(leaf_hash_, bit)
    elif kind == "root":
        good_root = flip(good_root, bit)
    elif kind == "index":
        other = data.draw(st.integers(0, size).filter(lambda i: i != index), label="index")
        proof = InclusionProof(other, size, proof.path)
    elif kind == "longer":
        at = data.draw(st.integers(0, len(path)), label="at")
        proof = InclusionProof(index, size, tuple(path[:at] + [SOME_HASH] + path[at:]))
    elif kind == "double size":
        proof = InclusionProof(index, size * 2, proof.path)
    elif kind == "path bit":
        at = data.draw(st.integers(0, len(path) - 1), label="at")
        path[at] = flip(path[at], bit)
        proof = InclusionProof(index, size, tuple(path))
    else:
        proof = InclusionProof(index, size, tuple(path[:-1]))
    with pytest.raises(
        VerificationError, match=r"^inclusion: (root mismatch|proof for index|index)"
    ):
        verify_inclusion(leaf_hash_, proof, good_root)


@st.composite
def two_sizes(draw: st.DrawFn) -> tuple[int, int]:
    new = draw(sizes)
    return draw(st.integers(0, new)), new


@given(two_sizes())
def test_every_consistency_proof_verifies(pair: tuple[int, int]) -> None:
    old, new = pair
    proof = consistency_proof(BIG_STORE, old, new)
    verify_consistency(
        proof, root_from_leaf_hashes(BIG_LEAVES[:old]), root_from_leaf_hashes(BIG_LEAVES[:new])
    )


@given(two_sizes().filter(lambda pair: 0 < pair[0] < pair[1]), st.data())
def test_any_single_change_to_a_consistency_proof_is_refused(
    pair: tuple[int, int], data: st.DataObject
) -> None:
    old, new = pair
    proof = consistency_proof(BIG_STORE, old, new)
    old_root, new_root = tree_root(BIG_STORE, old), tree_root(BIG_STORE, new)
    path = list(proof.path)
    kind = data.draw(
        st.sampled_from(
            ["old root", "new root", "swap", "old size", "path bit", "shorter", "longer"]
        ),
        label="change",
    )
    bit = data.draw(st.integers(0, 7), label="bit")
    if kind == "old root":
        old_root = flip(old_root, bit)
    elif kind == "new root":
        new_root = flip(new_root, bit)
    elif kind == "swap":
        old_root, new_root = new_root, old_root
    elif kind == "old size":
        other = data.draw(st.integers(0, new).filter(lambda m: m != old), label="old size")
        proof = ConsistencyProof(other, new, proof.path)
    elif kind == "path bit":
        at = data.draw(st.integers(0, len(path) - 1), label="at")
        path[at] = flip(path[at], bit)
        proof = ConsistencyProof(old, new, tuple(path))
    elif kind == "shorter":
        proof = ConsistencyProof(old, new, tuple(path[:-1]))
    else:
        at = data.draw(st.integers(0, len(path)), label="at")
        proof = ConsistencyProof(old, new, tuple(path[:at] + [SOME_HASH] + path[at:]))
    with pytest.raises(VerificationError, match=r"^consistency: (old root|new root|proof from)"):
        verify_consistency(proof, old_root, new_root)


@settings(max_examples=60)
@given(st.lists(st.binary(max_size=8), min_size=1, max_size=BIG))
def test_frontier_fold_and_stored_nodes_agree_on_every_prefix(items: list[bytes]) -> None:
    leaves = [leaf_hash(item) for item in items]
    frontier, store = Frontier(), MemoryNodes()
    for size, leaf in enumerate(leaves, start=1):
        store.add(frontier.append(leaf))
        assert frontier.root() == root_from_leaf_hashes(leaves[:size]) == tree_root(store, size)


@given(st.integers(0, BIG), st.integers(1, 40))
def test_a_frontier_survives_serialisation_and_keeps_growing_the_same_way(
    size: int, more: int
) -> None:
    original, _ = grow(BIG_LEAVES[:size])
    restored = Frontier.from_bytes(original.to_bytes())
    assert (restored.size, restored.root()) == (original.size, original.root())
    for i in range(more):
        leaf = leaf_hash(b"more" + bytes([i]))
        assert restored.append(leaf) == original.append(leaf)
    assert restored.root() == original.root()


@given(leaf_in_tree(), two_sizes())
def test_proofs_survive_a_json_round_trip(leaf: tuple[int, int], pair: tuple[int, int]) -> None:
    inclusion = inclusion_proof(BIG_STORE, *leaf)
    consistency = consistency_proof(BIG_STORE, *pair)
    assert InclusionProof.from_json(json.loads(json.dumps(inclusion.to_json()))) == inclusion
    assert ConsistencyProof.from_json(json.loads(json.dumps(consistency.to_json()))) == consistency


@settings(max_examples=60)
@given(size=st.integers(0, 700), chunk_level=st.integers(0, 7))
def test_aligned_ranges_hashed_apart_give_the_frontiers_nodes(size: int, chunk_level: int) -> None:
    # What the audit's workers do: hash aligned ranges, store them, complete the top.
    leaves = [hashlib.sha256(i.to_bytes(4, "big")).digest() for i in range(size)]
    frontier, expected = Frontier(), MemoryNodes()
    for leaf in leaves:
        expected.add(frontier.append(leaf))
    chunk = 1 << chunk_level
    nodes = MemoryNodes()
    for start in range(0, size, chunk):
        nodes.extend(start, subtree_levels(leaves[start : start + chunk]))
    nodes.complete(size)
    coords = [(level, index) for level in range(12) for index in range(size >> level)]
    assert nodes.nodes(coords) == expected.nodes(coords)
    assert tree_root(nodes, size) == frontier.root()
    with pytest.raises(NodeNotFoundError):
        nodes.nodes([(0, size)])


def test_a_range_that_does_not_continue_the_stored_ones_is_refused() -> None:
    nodes = MemoryNodes()
    nodes.extend(0, subtree_levels([b"\x01" * 32, b"\x02" * 32]))
    with pytest.raises(NodeConflictError) as caught:
        nodes.extend(4, subtree_levels([b"\x03" * 32, b"\x04" * 32]))
    assert caught.value.detail == "memory nodes: level 0 does not continue at leaf 4"
