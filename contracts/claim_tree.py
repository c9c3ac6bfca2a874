"""The Merkle tree of a Distributor: (index, account, amount) leaves, their root and proofs.

Built exactly as OpenZeppelin's ``StandardMerkleTree`` (npm ``@openzeppelin/merkle-tree``)
builds one with leaf encoding ``["uint256", "address", "uint256"]``, and as
``Distributor.sol`` checks it:

- leaf = keccak256(keccak256(abi.encode(index, account, amount)));
- node = keccak256 of its two children, the smaller (as a big-endian number) first;
- the leaves sorted by hash fill the last ``n`` slots of an array of ``2n - 1`` nodes in
  reverse order, node ``i`` having children ``2i + 1`` and ``2i + 2``; the root is node 0.

So a tree dumped here (``dump``) loads in OpenZeppelin's library, whose own root and
proofs tests/contracts/test_claims_contract.py compares with these. Hashing is
eth-utils' keccak and encoding eth-abi's; nothing cryptographic is written here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from contracts.errors import ClaimEntryError, UnknownClaimIndexError

Entry = tuple[int, str, int]  # (index, EIP-55 address, amount in token units)
LEAF_ENCODING = ("uint256", "address", "uint256")
UINT256_MAX = 2**256 - 1
BITS_PER_WORD = 255  # Distributor.sol: claimed bits per bitmap word (the 256th is a sentinel)


def leaf_hash(index: int, account: str, amount: int) -> bytes:
    """keccak256(keccak256(abi.encode(index, account, amount))): the leaf Distributor.sol hashes."""
    from eth_abi import encode
    from eth_utils import keccak

    return keccak(keccak(encode(LEAF_ENCODING, (index, account, amount))))


def node_hash(a: bytes, b: bytes) -> bytes:
    """keccak256 of the sorted pair: the parent of ``a`` and ``b``."""
    from eth_utils import keccak

    return keccak(a + b if a <= b else b + a)  # 32-byte strings: bytes order is number order


def process_proof(leaf: bytes, proof: list[bytes]) -> bytes:
    """The root that ``proof`` leads to from ``leaf`` (what Distributor.sol computes)."""
    node = leaf
    for sibling in proof:
        node = node_hash(node, sibling)
    return node


def layout(leaves: list[bytes]) -> list[bytes]:
    """Every node of the tree over ``leaves`` (in the order given), root first.

    ``leaves[k]`` goes to slot ``2n - 2 - k``; node ``i`` hashes slots ``2i + 1`` and ``2i + 2``.
    """
    size = 2 * len(leaves) - 1
    nodes: list[bytes] = [b""] * size
    for rank, leaf in enumerate(leaves):
        nodes[size - 1 - rank] = leaf
    for i in range(size - 1 - len(leaves), -1, -1):
        nodes[i] = node_hash(nodes[2 * i + 1], nodes[2 * i + 2])
    return nodes


def path(nodes: list[bytes] | tuple[bytes, ...], slot: int) -> list[bytes]:
    """The proof of the node in ``slot``: its sibling, its parent's sibling, … up to the root."""
    proof = []
    while slot > 0:
        proof.append(nodes[slot - 1 if slot % 2 == 0 else slot + 1])
        slot = (slot - 1) // 2
    return proof


def verify_proof(root: bytes, entry: Entry, proof: list[bytes]) -> bool:
    """Whether ``proof`` proves ``entry`` under ``root``; False for any malformed input."""
    if not isinstance(proof, list) or not all(isinstance(p, bytes) and len(p) == 32 for p in proof):
        return False
    try:
        checked = _check_entry(entry, 0)
    except ClaimEntryError:
        return False
    return process_proof(leaf_hash(*checked), proof) == root


@dataclass(frozen=True)
class ClaimTree:
    """A Distributor's tree: ``root``, ``proof(index)``, ``entries`` as given (validated).

    Build it with ``ClaimTree.build(entries)``; it is immutable.
    """

    entries: tuple[Entry, ...]
    root: bytes
    _nodes: tuple[bytes, ...] = field(repr=False, compare=False)
    _position: dict[int, int] = field(
        repr=False, compare=False
    )  # index -> slot of its leaf in _nodes

    @classmethod
    def build(cls, entries: list[Entry]) -> ClaimTree:
        """The tree of ``entries``: (index, EIP-55 checksum address, amount in token units).

        Raises ClaimEntryError naming the first bad entry: not a 3-tuple, an index that is
        not an integer in [0, 2**256), a repeated index, an address that is not in EIP-55
        checksum form or is the zero address, an amount that is not a positive integer
        below 2**256, amounts whose total passes 2**256 - 1; or no entries at all.
        """
        if not isinstance(entries, list | tuple) or not entries:
            raise ClaimEntryError("claim tree: no entries; a Distributor needs at least one")
        checked: list[Entry] = []
        seen: dict[int, int] = {}
        for position, entry in enumerate(entries):
            index, account, amount = _check_entry(entry, position)
            if index in seen:
                raise ClaimEntryError(
                    f"claim tree: index {index} appears twice (entries {seen[index]} and "
                    f"{position}); each index is claimed once",
                    index=index,
                )
            seen[index] = position
            checked.append((index, account, amount))
        total = sum(amount for _, _, amount in checked)
        if total > UINT256_MAX:
            raise ClaimEntryError(f"claim tree: the amounts add up to {total}, past 2**256 - 1")
        hashed = sorted((leaf_hash(*entry), entry[0]) for entry in checked)
        nodes = layout([leaf for leaf, _ in hashed])
        position_of = {index: len(nodes) - 1 - rank for rank, (_, index) in enumerate(hashed)}
        return cls(tuple(checked), nodes[0], tuple(nodes), position_of)

    def proof(self, index: int) -> list[bytes]:
        """The sibling hashes from leaf ``index`` up to the root (what ``claim`` takes).

        Raises UnknownClaimIndexError if no entry has that index.
        """
        slot = self._position.get(index) if type(index) is int else None
        if slot is None:
            raise UnknownClaimIndexError(
                f"claim tree {self.root_hex}: no entry has index {index!r}", index=index
            )
        return path(self._nodes, slot)

    def entry(self, index: int) -> Entry:
        """The entry with ``index``; raises UnknownClaimIndexError if there is none."""
        self.proof(index)  # the one place that refuses an unknown index
        return next(entry for entry in self.entries if entry[0] == index)

    @property
    def root_hex(self) -> str:
        """The root as 0x-prefixed hex, as Ethereum tools print it."""
        return "0x" + self.root.hex()

    @property
    def total(self) -> int:
        """What the Distributor must hold for every claim to succeed."""
        return sum(amount for _, _, amount in self.entries)

    @property
    def bitmap_words(self) -> list[int]:
        """The claimed-bitmap words the tree's indices use, ascending: ``prepareWords``."""
        return sorted({index // BITS_PER_WORD for index, _, _ in self.entries})

    def dump(self) -> dict[str, Any]:
        """The tree in OpenZeppelin's ``standard-v1`` JSON (``StandardMerkleTree.load``)."""
        return {
            "format": "standard-v1",
            "leafEncoding": list(LEAF_ENCODING),
            "tree": ["0x" + node.hex() for node in self._nodes],
            "values": [
                {"value": [str(i), a, str(m)], "treeIndex": self._position[i]}
                for i, a, m in self.entries
            ],
        }


def _check_entry(entry: Any, position: int) -> Entry:
    from eth_utils import is_checksum_address

    where = f"claim tree: entry {position}"
    if not isinstance(entry, tuple | list) or len(entry) != 3:
        raise ClaimEntryError(f"{where}: expected (index, account, amount), got {entry!r:.80}")
    index, account, amount = entry
    if type(index) is not int or not 0 <= index <= UINT256_MAX:
        raise ClaimEntryError(
            f"{where}: index must be an integer in [0, 2**256), got {index!r:.80}"
        )
    if not isinstance(account, str) or not is_checksum_address(account):
        raise ClaimEntryError(
            f"{where} (index {index}): {account!r:.60} is not an EIP-55 checksum address",
            index=index,
        )
    if int(account, 16) == 0:
        raise ClaimEntryError(
            f"{where} (index {index}): the zero address cannot claim", index=index
        )
    if type(amount) is not int or not 0 < amount <= UINT256_MAX:
        raise ClaimEntryError(
            f"{where} (index {index}): amount must be a positive integer below 2**256 "
            f"(token units), got {amount!r:.80}",
            index=index,
        )
    return index, account, amount
