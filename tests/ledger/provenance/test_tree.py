"""The persisted Merkle tree: caught up from the log, equal to the in-memory reference."""

from __future__ import annotations

import threading

import pytest

from ledger.envelope import sign_envelope
from ledger.ledger import Ledger
from ledger.provenance.merkle import ProofRequestError, leaf_hash, root_from_leaf_hashes
from ledger.provenance.proofs import verify_consistency, verify_inclusion
from ledger.provenance.tree import CHUNK, MerkleTree
from ledger.store import LogStore
from ledger.store.engine import engine_for
from tests.support import registration, seeded_key

ANA = seeded_key(11)


def fill(ledger: Ledger, count: int) -> None:
    ledger.append(registration(ANA))
    seq = 2
    while ledger.size() < count:
        n = min(1000, count - ledger.size())
        ledger.append_batch(
            [sign_envelope(ANA, "NoteShared", {"n": s}, seq=s) for s in range(seq, seq + n)]
        )
        seq += n


@pytest.fixture
def tree(store: LogStore, store_url: str) -> MerkleTree:
    return MerkleTree(engine_for(store_url), store)


def leaves(store: LogStore) -> list[bytes]:
    return [leaf_hash(r.data) for r in store.iterate()]


def test_the_tree_catches_up_and_every_past_root_matches_the_reference(
    ledger: Ledger, tree: MerkleTree
) -> None:
    fill(ledger, 2 * CHUNK + 37)
    assert tree.catch_up() == ledger.size()
    hashes = leaves(ledger.store)
    for size in (1, 2, 3, CHUNK, CHUNK + 1, 2 * CHUNK + 37):
        assert tree.root(size) == root_from_leaf_hashes(hashes[:size])


def test_catching_up_in_steps_gives_the_same_tree_as_at_once(
    ledger: Ledger, tree: MerkleTree, store_url: str
) -> None:
    fill(ledger, 600)
    for until in (1, 7, 255, 256, 257, 599, 600):
        tree.catch_up(until=until)
    assert tree.root() == root_from_leaf_hashes(leaves(ledger.store))


def test_proofs_from_the_persisted_tree_verify(ledger: Ledger, tree: MerkleTree) -> None:
    fill(ledger, 700)
    tree.catch_up()
    root = tree.root(700)
    for index in (0, 1, 255, 256, 511, 699):
        verify_inclusion(leaves(ledger.store)[index], tree.inclusion(index, 700), root)
    verify_consistency(tree.consistency(300, 700), tree.root(300), root)


def test_a_proof_beyond_the_tree_is_refused(ledger: Ledger, tree: MerkleTree) -> None:
    fill(ledger, 10)
    tree.catch_up(until=5)
    with pytest.raises(ProofRequestError) as caught:
        tree.inclusion(2, 8)
    assert caught.value.detail == "tree: size 8 is beyond the tree's 5 leaves"


def test_two_trees_catching_up_at_once_agree(ledger: Ledger, store_url: str) -> None:
    fill(ledger, 3000)
    trees = [MerkleTree(engine_for(store_url), ledger.store) for _ in range(2)]
    threads = [threading.Thread(target=t.catch_up) for t in trees]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert trees[0].size() == trees[1].size() == 3000
    assert trees[0].root() == root_from_leaf_hashes(leaves(ledger.store))
