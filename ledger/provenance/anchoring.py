"""The anchoring port: what the ledger asks of a chain, and what it gets back.

The ledger summarises batches of its log as checkpoints (tree size, Merkle root)
and asks an ``Anchor`` to write each root on a chain, one transaction per
checkpoint. This module holds only the interface, the values that cross it and the
errors it raises; it imports nothing from web3 or ``contracts/``. The web3
implementation is ``contracts.web3_anchor.Web3Anchor``.

Byte fields serialise as ``0x``-prefixed lowercase hex, as Ethereum tools print
them, so a receipt can be pasted into a block explorer.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from functools import partial
from typing import Any, Protocol, Self, cast, runtime_checkable

from ledger.canonical import json_fields
from ledger.errors import LedgerError, MalformedError, VerificationError

MAX_TREE_SIZE = 2**64 - 1  # the contract stores sizes as uint64
_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")


# --------------------------------------------------------------------------- errors


class AnchorError(LedgerError):
    """Root of every error raised while anchoring, looking up or verifying an anchor."""

    code = "AnchorError"


class AnchorMalformedError(AnchorError, MalformedError):
    """A receipt, record or checkpoint handed to the port is not well formed."""

    code = "AnchorMalformed"


class AnchorConfigError(AnchorError):
    """The adapter is set up wrongly: chain id, contract address, key or URL."""

    code = "AnchorConfig"


class AnchorConnectionError(AnchorError):
    """The Ethereum node could not be reached, or did not answer in time.

    ``tx_hash`` is set when the connection was lost after a transaction was sent.
    """

    code = "AnchorConnection"

    def __init__(self, detail: str, tx_hash: bytes | None = None) -> None:
        super().__init__(detail)
        self.tx_hash = tx_hash


class AnchorNodeError(AnchorError):
    """The node refused a request (nonce too low, insufficient funds, bad params)."""

    code = "AnchorNode"


class AnchorTimeoutError(AnchorError):
    """A transaction was sent but no receipt appeared in time; it may still be mined.

    ``tx_hash`` names it: look it up before sending another, or the same root may be
    refused as already anchored.
    """

    code = "AnchorTimeout"

    def __init__(self, detail: str, tx_hash: bytes) -> None:
        super().__init__(detail)
        self.tx_hash = tx_hash


class AnchorRevertedError(AnchorError):
    """The contract refused the call; ``reason`` is the decoded revert.

    ``error`` is the Solidity error name (``"TreeSizeMustGrow"``, ``"Error"`` for a
    require string, ``"Panic"``, or ``""`` when the revert carried no data),
    ``arguments`` its decoded arguments, ``tx_hash`` the mined transaction if the
    revert happened on chain rather than in a pre-flight call.
    """

    code = "AnchorReverted"

    def __init__(
        self,
        detail: str,
        *,
        reason: str,
        error: str = "",
        arguments: Mapping[str, Any] | None = None,
        tx_hash: bytes | None = None,
    ) -> None:
        super().__init__(detail)
        self.reason = reason
        self.error = error
        self.arguments = dict(arguments or {})
        self.tx_hash = tx_hash


class AnchorNotOwnerError(AnchorRevertedError):
    """The signing key is not the contract's owner (``NotOwner``)."""


class AnchorTreeSizeError(AnchorRevertedError):
    """The checkpoint does not grow the tree past the last anchor (``TreeSizeMustGrow``)."""


class AnchorDuplicateRootError(AnchorRevertedError):
    """The root was anchored before (``RootAlreadyAnchored``)."""


class AnchorVerificationError(AnchorError, VerificationError):
    """An anchor receipt parsed but the chain does not back it; the message says where."""

    code = "AnchorVerificationFailed"


class AnchorNotFoundError(AnchorVerificationError):
    """The receipt's transaction is not on the chain (never sent, or reorganised away)."""

    code = "AnchorNotFound"


# --------------------------------------------------------------------------- values


def _hex(value: bytes) -> str:
    return "0x" + value.hex()


def _parse_hex(name: str, value: Any, length: int) -> bytes:
    if not isinstance(value, str) or not value.startswith("0x"):
        raise AnchorMalformedError(f"{name}: expected 0x-prefixed hex, got {value!r:.80}")
    try:
        raw = bytes.fromhex(value[2:])
    except ValueError:
        raise AnchorMalformedError(f"{name}: not hex: {value!r:.80}") from None
    if len(raw) != length:
        raise AnchorMalformedError(f"{name}: expected {length} bytes, got {len(raw)}")
    return raw


def _check_bytes(name: str, value: Any, length: int) -> None:
    if not isinstance(value, bytes) or len(value) != length:
        shown = len(value) if isinstance(value, bytes) else type(value).__name__
        raise AnchorMalformedError(f"{name}: expected {length} bytes, got {shown}")


def _check_int(name: str, value: Any, low: int, high: int = MAX_TREE_SIZE) -> None:
    if type(value) is not int or not low <= value <= high:
        raise AnchorMalformedError(f"{name}: expected an integer in [{low}, {high}], got {value!r}")


def _check_address(name: str, value: Any) -> None:
    if not isinstance(value, str) or not _ADDRESS.fullmatch(value):
        raise AnchorMalformedError(f"{name}: expected a 0x-prefixed 20-byte address, got {value!r}")


def _integer(low: int) -> Any:
    """A field holding an integer from ``low`` to ``MAX_TREE_SIZE``."""
    return field(metadata={"check": partial(_check_int, low=low)})


def _address() -> Any:
    """A field holding a 0x-prefixed 20-byte address."""
    return field(metadata={"check": _check_address})


def _hex_bytes(length: int) -> Any:
    """A field holding ``length`` bytes, written in JSON as 0x-hex."""
    return field(metadata={"check": partial(_check_bytes, length=length), "hex": length})


def _load(cls: type, raw: str | bytes | Mapping[str, Any]) -> dict[str, Any]:
    """Parse ``raw`` into a dict holding exactly the fields of ``cls``."""
    name = cls.__name__
    if isinstance(raw, str | bytes):
        try:
            raw = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise AnchorMalformedError(f"{name}: not JSON: {exc}") from None
    if not isinstance(raw, Mapping):
        raise AnchorMalformedError(f"{name}: expected a JSON object, got {type(raw).__name__}")
    expected = {f.name for f in fields(cls)}
    missing, extra = expected - raw.keys(), raw.keys() - expected
    if missing or extra:
        raise AnchorMalformedError(
            f"{name}: missing fields {sorted(missing)}, unexpected fields {sorted(extra)}"
        )
    return dict(raw)


def _dump(data: dict[str, Any]) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"))


@dataclass(frozen=True)
class _HexJson:
    """What both anchor values share: fields declared with their check, and the JSON form.

    Each field is declared with ``_integer``, ``_address`` or ``_hex_bytes``;
    construction checks every field in order and raises ``AnchorMalformedError``
    naming the first bad one. In JSON every field is written by name, the bytes
    ones as 0x-hex.
    """

    def __post_init__(self) -> None:
        for f in fields(self):
            f.metadata["check"](f.name, getattr(self, f.name))

    @classmethod
    def _hex_lengths(cls) -> dict[str, int]:
        """The bytes fields, in the order they are parsed, and their lengths."""
        return {f.name: f.metadata["hex"] for f in fields(cls) if "hex" in f.metadata}

    def to_dict(self) -> dict[str, Any]:
        """Return the value as a JSON-ready dict (bytes as 0x-hex)."""
        data = json_fields(self)
        for name in self._hex_lengths():
            data[name] = _hex(data[name])
        return data

    def to_json(self) -> str:
        """Return the value as compact JSON with sorted keys."""
        return _dump(self.to_dict())

    @classmethod
    def from_json(cls, raw: str | bytes | Mapping[str, Any]) -> Self:
        """Parse a value from JSON text or an already-parsed object.

        Raises ``AnchorMalformedError`` naming the first bad field.
        """
        data = _load(cls, raw)
        for name, length in cls._hex_lengths().items():
            data[name] = _parse_hex(name, data[name], length)
        return cls(**data)

    from_dict = from_json


@dataclass(frozen=True)
class AnchorReceipt(_HexJson):
    """Proof-of-sending for one anchored checkpoint: where to find it on chain."""

    chain_id: int = _integer(1)
    contract: str = _address()
    tx_hash: bytes = _hex_bytes(32)
    block_number: int = _integer(0)
    root_hash: bytes = _hex_bytes(32)
    tree_size: int = _integer(1)
    gas_used: int = _integer(0)


@dataclass(frozen=True)
class AnchorRecord(_HexJson):
    """What the chain says about one root: the tree size, when and by whom it was anchored."""

    root_hash: bytes = _hex_bytes(32)
    tree_size: int = _integer(1)
    block_number: int = _integer(0)
    timestamp: int = _integer(0)
    anchored_by: str = _address()

    @property
    def anchored_at(self) -> datetime:
        """The block's timestamp as an aware UTC datetime."""
        return datetime.fromtimestamp(self.timestamp, UTC)


# --------------------------------------------------------------------------- the port


@runtime_checkable
class AnchorableCheckpoint(Protocol):
    """Anything with a tree size and a 32-byte Merkle root, e.g. the ledger's checkpoint."""

    @property
    def size(self) -> int: ...

    @property
    def root_hash(self) -> bytes: ...


def checkpoint_fields(checkpoint: AnchorableCheckpoint) -> tuple[bytes, int]:
    """Return ``(root_hash, size)`` of a checkpoint after checking they can be anchored.

    Raises ``AnchorMalformedError`` if the root is not 32 bytes or the size is not an
    integer in [1, 2**64 - 1].
    """
    root, size = getattr(checkpoint, "root_hash", None), getattr(checkpoint, "size", None)
    _check_bytes("checkpoint root_hash", root, 32)
    _check_int("checkpoint size", size, 1)
    return cast(bytes, root), cast(int, size)


@runtime_checkable
class Anchor(Protocol):
    """What the ledger needs from a chain: anchor a checkpoint's root, look a root up."""

    def anchor(self, checkpoint: AnchorableCheckpoint) -> AnchorReceipt:
        """Write the checkpoint's root on chain in one transaction; return its receipt.

        Raises ``AnchorRevertedError`` (or a subclass) when the contract refuses,
        ``AnchorConnectionError``, ``AnchorNodeError``, ``AnchorTimeoutError``,
        ``AnchorMalformedError`` for a checkpoint that cannot be anchored.
        """
        ...

    def lookup(self, root: bytes) -> AnchorRecord | None:
        """Return what the chain records for ``root``, or None if it was never anchored."""
        ...


@runtime_checkable
class VerifiableAnchor(Anchor, Protocol):
    """An ``Anchor`` that can also check a receipt against the chain (for auditors)."""

    def verify_receipt(self, receipt: AnchorReceipt) -> None:
        """Return if the chain backs ``receipt``; raise ``AnchorVerificationError`` if not."""
        ...
