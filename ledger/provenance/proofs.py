"""RFC 9162 inclusion and consistency proofs: planning, building, checking, JSON.

A proof is *planned* as node coordinates, fetched from a ``NodeReader`` in one
batch, then combined (``ledger.provenance.merkle`` stores the nodes). Verification follows
RFC 9162 §2.1.3.2 and §2.1.4.2, compares digests in constant time, and names the
step and the mismatch. A malformed proof (``MalformedProofError``) is a
different error from one that does not verify (``VerificationError``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from dataclasses import dataclass
from typing import Any

from ledger.errors import VerificationError
from ledger.provenance.merkle import (
    EMPTY_ROOT,
    HASH_SIZE,
    MAX_PATH,
    MAX_SIZE,
    MalformedProofError,
    NodeReader,
    Plan,
    ProofRequestError,
    check_size,
    fetch_nodes,
    fold,
    range_nodes,
)

_sha256 = hashlib.sha256


def _path_plan(level0: int, index: int, size: int) -> Plan:
    # Hashes taking node (level0, index) up to the root of a tree of `size` leaves,
    # bottom up: first the siblings below the point where the path to the last leaf
    # forks off ("inner"; only the topmost may be an incomplete range), then the
    # left siblings above it ("border").
    inner = (index ^ ((size - 1) >> level0)).bit_length()
    plan: Plan = []
    for i in range(inner):
        level, sibling = level0 + i, (index >> i) ^ 1
        begin = sibling << level
        if begin + (1 << level) <= size:
            plan.append(((level, sibling),))
        else:
            plan.append(tuple(range_nodes(begin, size)))
    for i in range(inner, index.bit_length()):
        if (index >> i) & 1:
            plan.append(((level0 + i, (index >> i) ^ 1),))
    return plan


def _path_length(index: int, last: int) -> int:
    inner = (index ^ last).bit_length()
    return inner + (index >> inner).bit_count()


def inclusion_plan(index: int, size: int) -> Plan:
    """Plan the inclusion proof of leaf ``index`` in a tree of ``size`` leaves.

    Returns one tuple of node coordinates per proof hash (leaf to root); each hash
    is the right fold of its nodes. Raises ``ProofRequestError`` if ``index >= size``.
    """
    check_size("inclusion proof", size)
    if type(index) is not int or not 0 <= index < size:
        raise ProofRequestError(f"inclusion proof: index {index!r} is not below tree size {size}")
    return _path_plan(0, index, size)


def consistency_plan(old_size: int, new_size: int) -> Plan:
    """Plan the consistency proof from ``old_size`` to ``new_size`` (RFC 9162 §2.1.4.1).

    Empty when ``old_size`` is 0 or equals ``new_size``. Raises ``ProofRequestError``
    if ``old_size > new_size``.
    """
    check_size("consistency proof", old_size)
    check_size("consistency proof", new_size)
    if old_size > new_size:
        raise ProofRequestError(
            f"consistency proof: old size {old_size} is larger than new size {new_size}"
        )
    if old_size in (0, new_size):
        return []
    # The old tree's last perfect subtree (shift, index) is the seed; the rest is
    # its inclusion path in the new tree. A power-of-two old tree is its own seed,
    # which the verifier already holds as the old root.
    shift = (old_size & -old_size).bit_length() - 1
    index = (old_size - 1) >> shift
    seed: Plan = [((shift, index),)] if index else []
    return seed + _path_plan(shift, index, new_size)


def _resolve(reader: NodeReader, plan: Plan) -> tuple[bytes, ...]:
    if not plan:
        return ()
    hashes = fetch_nodes(reader, [coord for entry in plan for coord in entry])
    out, at = [], 0
    for entry in plan:
        out.append(hashes[at] if len(entry) == 1 else fold(hashes[at : at + len(entry)]))
        at += len(entry)
    return tuple(out)


def _check_uint(owner: str, field: str, value: Any) -> None:
    if type(value) is not int:
        kind = type(value).__name__
        raise MalformedProofError(f"{owner}: {field} must be an integer, got {kind}")
    if not 0 <= value <= MAX_SIZE:
        raise MalformedProofError(f"{owner}: {field} must be from 0 to 2**64-1, got {value}")


def _check_path(owner: str, path: Any) -> tuple[bytes, ...]:
    if not isinstance(path, tuple | list):
        raise MalformedProofError(f"{owner}: path must be a sequence of hashes")
    if len(path) > MAX_PATH:
        raise MalformedProofError(f"{owner}: path has {len(path)} hashes, at most {MAX_PATH}")
    for i, digest in enumerate(path):
        if type(digest) is not bytes or len(digest) != HASH_SIZE:
            raise MalformedProofError(f"{owner}: path[{i}] must be {HASH_SIZE} bytes")
    return tuple(path)


def _path_from_json(owner: str, data: Any, fields: tuple[str, ...]) -> tuple[bytes, ...]:
    if not isinstance(data, dict):
        raise MalformedProofError(f"{owner}: expected a JSON object, got {type(data).__name__}")
    for field in fields:
        if field not in data:
            raise MalformedProofError(f"{owner}: missing field {field!r}")
    for field in data:
        if field not in fields:
            raise MalformedProofError(f"{owner}: unexpected field {field!r}")
    items = data["path"]
    if not isinstance(items, list):
        raise MalformedProofError(f"{owner}: path must be a list of base64 strings")
    if len(items) > MAX_PATH:
        raise MalformedProofError(f"{owner}: path has {len(items)} hashes, at most {MAX_PATH}")
    path = []
    for i, item in enumerate(items):
        # 44 characters is the standard base64 of 32 bytes; anything else is refused
        # before decoding, and re-encoding catches non-zero padding bits.
        digest = None
        if isinstance(item, str) and len(item) == 44:
            try:
                digest = base64.b64decode(item, validate=True)
            except (binascii.Error, ValueError):
                digest = None
        if digest is None or len(digest) != HASH_SIZE or base64.b64encode(digest) != item.encode():
            raise MalformedProofError(f"{owner}: path[{i}] is not a base64-encoded 32-byte hash")
        path.append(digest)
    return tuple(path)


def _b64(path: tuple[bytes, ...]) -> list[str]:
    return [base64.b64encode(digest).decode("ascii") for digest in path]


@dataclass(frozen=True, slots=True)
class InclusionProof:
    """Proof that leaf ``index`` is in the tree of ``size`` leaves; hashes leaf to root.

    Construction raises ``MalformedProofError`` for a wrongly typed or sized field;
    whether the proof is *right* is ``verify_inclusion``'s business.
    """

    index: int
    size: int
    path: tuple[bytes, ...]

    def __post_init__(self) -> None:
        _check_uint("inclusion proof", "index", self.index)
        _check_uint("inclusion proof", "size", self.size)
        object.__setattr__(self, "path", _check_path("inclusion proof", self.path))

    def to_json(self) -> dict[str, Any]:
        """Return ``{"index", "size", "path": [base64, ...]}``."""
        return {"index": self.index, "size": self.size, "path": _b64(self.path)}

    @classmethod
    def from_json(cls, data: Any) -> InclusionProof:
        """Parse ``to_json`` output; raises ``MalformedProofError`` naming the bad field."""
        path = _path_from_json("inclusion proof", data, ("index", "size", "path"))
        return cls(data["index"], data["size"], path)


@dataclass(frozen=True, slots=True)
class ConsistencyProof:
    """Proof that the tree of ``old_size`` leaves is a prefix of the one of ``new_size``.

    Construction raises ``MalformedProofError`` for a wrongly typed or sized field.
    """

    old_size: int
    new_size: int
    path: tuple[bytes, ...]

    def __post_init__(self) -> None:
        _check_uint("consistency proof", "old_size", self.old_size)
        _check_uint("consistency proof", "new_size", self.new_size)
        object.__setattr__(self, "path", _check_path("consistency proof", self.path))

    def to_json(self) -> dict[str, Any]:
        """Return ``{"old_size", "new_size", "path": [base64, ...]}``."""
        return {"old_size": self.old_size, "new_size": self.new_size, "path": _b64(self.path)}

    @classmethod
    def from_json(cls, data: Any) -> ConsistencyProof:
        """Parse ``to_json`` output; raises ``MalformedProofError`` naming the bad field."""
        path = _path_from_json("consistency proof", data, ("old_size", "new_size", "path"))
        return cls(data["old_size"], data["new_size"], path)


def inclusion_proof(reader: NodeReader, index: int, size: int) -> InclusionProof:
    """Build the inclusion proof of leaf ``index`` in the tree of ``size`` leaves.

    Raises ``ProofRequestError`` (bad index/size) or ``NodeNotFoundError``.
    """
    return InclusionProof(index, size, _resolve(reader, inclusion_plan(index, size)))


def consistency_proof(reader: NodeReader, old_size: int, new_size: int) -> ConsistencyProof:
    """Build the consistency proof from ``old_size`` to ``new_size``.

    Raises ``ProofRequestError`` (bad sizes) or ``NodeNotFoundError``.
    """
    plan = consistency_plan(old_size, new_size)
    return ConsistencyProof(old_size, new_size, _resolve(reader, plan))


def _hex(digest: bytes) -> str:
    return digest.hex()[:16] + "…"


def _check_digest(step: str, what: str, digest: Any) -> None:
    if not isinstance(digest, bytes) or len(digest) != HASH_SIZE:
        size = f"{len(digest)} bytes" if isinstance(digest, bytes) else type(digest).__name__
        raise VerificationError(f"{step}: {what} is {size}, expected {HASH_SIZE} bytes")


def _mismatch(step: str, what: str, size: int, expected: bytes, got: bytes) -> None:
    if not hmac.compare_digest(expected, got):
        raise VerificationError(
            f"{step}: {what} mismatch at size {size}: expected {_hex(expected)}, got {_hex(got)}"
        )


def verify_inclusion(leaf: bytes, proof: InclusionProof, root: bytes) -> None:
    """Check that ``leaf`` (a leaf hash) is at ``proof.index`` in the tree with ``root``.

    RFC 9162 §2.1.3.2. Returns nothing; raises ``VerificationError`` naming the
    failed step (index not below size, wrong proof length, root mismatch).
    """
    index, size, path = proof.index, proof.size, proof.path
    _check_digest("inclusion", "leaf hash", leaf)
    _check_digest("inclusion", "root", root)
    if index >= size:
        raise VerificationError(f"inclusion: index {index} is not below tree size {size}")
    expected = _path_length(index, size - 1)
    if len(path) != expected:
        raise VerificationError(
            f"inclusion: proof for index {index} at size {size} has {len(path)} hashes,"
            f" expected {expected}"
        )
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if fn & 1 or fn == sn:
            r = _sha256(b"\x01" + p + r).digest()
            while fn and not fn & 1:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = _sha256(b"\x01" + r + p).digest()
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:  # cannot happen after the length check; kept as the RFC's final test
        raise VerificationError(f"inclusion: proof too short for size {size}")
    _mismatch("inclusion", "root", size, root, r)


def verify_consistency(proof: ConsistencyProof, old_root: bytes, new_root: bytes) -> None:
    """Check that the tree with ``old_root`` is a prefix of the tree with ``new_root``.

    RFC 9162 §2.1.4.2. Sizes equal: the proof must be empty and the roots equal.
    Old size 0: the proof must be empty and the old root the empty-tree hash.
    Returns nothing; raises ``VerificationError`` naming the failed step.
    """
    m, n, path = proof.old_size, proof.new_size, proof.path
    _check_digest("consistency", "old root", old_root)
    _check_digest("consistency", "new root", new_root)
    if m > n:
        raise VerificationError(f"consistency: old size {m} is larger than new size {n}")
    if m == 0 or m == n:
        if path:
            raise VerificationError(
                f"consistency: proof from size {m} to {n} has {len(path)} hashes, expected 0"
            )
        if m == 0:
            _mismatch("consistency", "old root", 0, EMPTY_ROOT, old_root)
        if m == n and not hmac.compare_digest(old_root, new_root):
            raise VerificationError(
                f"consistency: sizes are equal ({n}) but the roots differ:"
                f" old {_hex(old_root)}, new {_hex(new_root)}"
            )
        return
    shift = (m & -m).bit_length() - 1
    index = (m - 1) >> shift
    expected = (1 if index else 0) + _path_length(index, (n - 1) >> shift)
    if len(path) != expected:
        raise VerificationError(
            f"consistency: proof from size {m} to {n} has {len(path)} hashes, expected {expected}"
        )
    if not index:  # old size is a power of two: the old root is the seed
        path = (old_root, *path)
    fn, sn = m - 1, n - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if fn & 1 or fn == sn:
            fr = _sha256(b"\x01" + c + fr).digest()
            sr = _sha256(b"\x01" + c + sr).digest()
            while fn and not fn & 1:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = _sha256(b"\x01" + sr + c).digest()
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:  # cannot happen after the length check; kept as the RFC's final test
        raise VerificationError(f"consistency: proof too short for size {n}")
    _mismatch("consistency", "old root", m, old_root, fr)
    _mismatch("consistency", "new root", n, new_root, sr)
