"""Anchor checkpoint roots in the Anchor contract through web3: the port's adapter.

``Web3Anchor`` implements ``ledger.provenance.anchoring.VerifiableAnchor``: one locally signed
EIP-1559 transaction per checkpoint, whatever its size. Every error from web3,
eth-tester, the node or the network becomes a typed ``AnchorError``; reverts are
decoded against the contract's ABI on every backend.

The private key is passed in by the caller, kept only inside an eth-account object,
and never logged, shown by ``repr`` or put in an exception message. ``import web3``
is slow, so it happens inside the functions that need it.

Signing, sending and the error mapping (web3, eth-tester, the node, the network,
each revert) are ``contracts/chain.py``'s, shared with the claims rail; this module
says which typed errors and which ABI they use, and what the Anchor contract means.
"""

from __future__ import annotations

import hmac
import json
import secrets
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from contracts.chain import ContractErrors, Sender, checksum, http_web3
from ledger.provenance.anchoring import (
    AnchorableCheckpoint,
    AnchorConfigError,
    AnchorConnectionError,
    AnchorDuplicateRootError,
    AnchorError,
    AnchorMalformedError,
    AnchorNodeError,
    AnchorNotFoundError,
    AnchorNotOwnerError,
    AnchorReceipt,
    AnchorRecord,
    AnchorRevertedError,
    AnchorTimeoutError,
    AnchorTreeSizeError,
    AnchorVerificationError,
    checkpoint_fields,
)

if TYPE_CHECKING:
    from eth_typing import ChecksumAddress, Hash32
    from web3 import Web3

ARTEFACT_PATH = Path(__file__).with_name("Anchor.json")
ANCHORED_EVENT = "Anchored(bytes32,uint64,address)"
_SENTENCES = {  # the contract's errors, in words; formatted with the decoded arguments
    "NotOwner": "only the owner may do this, and {caller} is not the owner",
    "NotPendingOwner": "{caller} is not the proposed owner",
    "ZeroAddressOwner": "the owner cannot be the zero address",
    "EmptyRoot": "the zero root cannot be anchored",
    "TreeSizeMustGrow": "the tree size must grow: last anchored {last}, given {given}",
    "RootAlreadyAnchored": "root {root} was already anchored at tree size {treeSize}",
}


@cache
def artefact() -> dict[str, Any]:
    """Return the committed compile output (abi, bytecode, ...) of contracts/Anchor.sol."""
    return json.loads(ARTEFACT_PATH.read_text(encoding="utf-8"))


ERRORS = ContractErrors(
    abi=lambda: artefact()["abi"],
    root=AnchorError,
    config=AnchorConfigError,
    connection=AnchorConnectionError,
    node=AnchorNodeError,
    timeout=AnchorTimeoutError,
    reverted=AnchorRevertedError,
    sentences=_SENTENCES,
    classes={
        "NotOwner": AnchorNotOwnerError,
        "TreeSizeMustGrow": AnchorTreeSizeError,
        "RootAlreadyAnchored": AnchorDuplicateRootError,
    },
)


def decode_revert(data: bytes) -> tuple[str, dict[str, Any]]:
    """Decode revert data into ``(error name, arguments)`` using Anchor's ABI; never raises."""
    return ERRORS.decode(data)


def _checksum(name: str, address: Any) -> ChecksumAddress:
    return checksum(name, address, ERRORS)


# --------------------------------------------------------------------------- the adapter


class Web3Anchor:
    """The Anchor contract at one address on one chain, driven by one local key.

    Keyword options (constructor, ``from_rpc``, ``deploy``): ``gas_limit`` (fixed gas
    per transaction; default: estimate, which also refuses a doomed call before
    sending it), ``priority_fee_wei`` (default: the node's suggestion; the fee cap is
    twice the base fee plus the tip), ``receipt_timeout`` (120 s), ``poll_interval``
    (0.1 s). An unknown option raises TypeError.
    """

    def __init__(
        self, w3: Web3, contract_address: str, private_key: str, chain_id: int, **options: Any
    ) -> None:
        """Bind to the contract; check the chain id and that the code there is Anchor.sol's.

        Raises AnchorConfigError (bad key or address, chain id mismatch, no contract or
        another contract at the address) or AnchorConnectionError.
        """
        self._sender = Sender(w3, private_key, chain_id, ERRORS, **options)
        self._address = _checksum("contract address", contract_address)
        with self._sender.errors("connect"):
            code = bytes(w3.eth.get_code(self._address))
            self._contract = w3.eth.contract(address=self._address, abi=artefact()["abi"])
        if not code:
            raise AnchorConfigError(f"no contract at {self._address} on chain {chain_id}")
        if code != bytes.fromhex(artefact()["deployedBytecode"][2:]):
            raise AnchorConfigError(
                f"the contract at {self._address} on chain {chain_id} is not cocred's Anchor: "
                "its code differs from contracts/Anchor.json"
            )

    @classmethod
    def read_only(
        cls, url: str, contract_address: str, chain_id: int, **options: Any
    ) -> Web3Anchor:
        """Bind for checking only (auditors): lookups and ``verify_receipt``, never a send.

        Uses a throwaway key, because the sender needs one; nothing is ever signed
        with it. Raises as ``from_rpc``.
        """
        return cls.from_rpc(
            url, contract_address, "0x" + secrets.token_hex(32), chain_id, **options
        )

    @classmethod
    def from_rpc(
        cls, url: str, contract_address: str, private_key: str, chain_id: int, **options: Any
    ) -> Web3Anchor:
        """Bind through the JSON-RPC node at ``url`` (http or https), as the constructor does.

        Takes ``request_timeout`` (10 s) besides the options. Raises AnchorConfigError,
        AnchorConnectionError.
        """
        w3 = http_web3(url, options.pop("request_timeout", 10.0), ERRORS)
        return cls(w3, contract_address, private_key, chain_id, **options)

    @classmethod
    def deploy(
        cls, w3: Web3, private_key: str, chain_id: int, *, owner: str | None = None, **options: Any
    ) -> str:
        """Deploy a new Anchor owned by ``owner`` (default: the key's address); return its address.

        Raises AnchorConfigError, AnchorConnectionError, AnchorNodeError,
        AnchorRevertedError, AnchorTimeoutError.
        """
        sender = Sender(w3, private_key, chain_id, ERRORS, **options)
        initial_owner = _checksum("owner", owner or sender.account.address)
        factory = w3.eth.contract(abi=artefact()["abi"], bytecode=artefact()["bytecode"])
        return str(sender.transact("deploy", factory.constructor(initial_owner))["contractAddress"])

    @property
    def address(self) -> str:
        """The contract's checksum address."""
        return self._address

    @property
    def chain_id(self) -> int:
        """The chain id, checked against the node."""
        return self._sender.chain_id

    @property
    def sender(self) -> str:
        """The address of the signing key."""
        return str(self._sender.account.address)

    def __repr__(self) -> str:
        return (
            f"Web3Anchor(contract={self._address}, chain_id={self.chain_id}, "
            f"sender={self.sender}, node={self._sender.endpoint})"
        )

    def anchor(self, checkpoint: AnchorableCheckpoint) -> AnchorReceipt:
        """Anchor the checkpoint's root in one transaction; return the receipt.

        Raises AnchorMalformedError (checkpoint unfit for the contract), AnchorTreeSizeError,
        AnchorDuplicateRootError, AnchorNotOwnerError or another AnchorRevertedError,
        AnchorTimeoutError, AnchorConnectionError, AnchorNodeError.
        """
        root, size = checkpoint_fields(checkpoint)
        receipt = self._sender.transact("anchor", self._contract.functions.anchor(root, size))
        result = AnchorReceipt(
            chain_id=self.chain_id,
            contract=self._address,
            tx_hash=bytes(receipt["transactionHash"]),
            block_number=int(receipt["blockNumber"]),
            root_hash=root,
            tree_size=size,
            gas_used=int(receipt["gasUsed"]),
        )
        self._check_event(result, receipt["logs"])
        return result

    def lookup(self, root: bytes) -> AnchorRecord | None:
        """Return the chain's record of ``root``, or None if it was never anchored.

        Raises AnchorMalformedError (root not 32 bytes), AnchorConnectionError, AnchorNodeError.
        """
        if not isinstance(root, bytes) or len(root) != 32:
            raise AnchorMalformedError(f"lookup: root must be 32 bytes, got {root!r:.80}")
        with self._sender.errors("lookup"):
            size, block, timestamp, by = self._contract.functions.lookup(root).call()
        return AnchorRecord(root, size, block, timestamp, str(by)) if size else None

    def latest_tree_size(self) -> int:
        """Return the largest tree size anchored so far (0 before the first anchor)."""
        with self._sender.errors("latest tree size"):
            return int(self._contract.functions.latestTreeSize().call())

    def owner(self) -> str:
        """Return the address currently allowed to anchor."""
        with self._sender.errors("owner"):
            return str(self._contract.functions.owner().call())

    def propose_owner(self, new_owner: str) -> bytes:
        """Propose ``new_owner`` as the anchoring key (rotation, step 1); return the tx hash.

        Rights move only when that key calls ``accept_ownership``. Raises
        AnchorNotOwnerError, AnchorConfigError (bad address) and the node errors.
        """
        call = self._contract.functions.transferOwnership(_checksum("new owner", new_owner))
        return bytes(self._sender.transact("propose owner", call)["transactionHash"])

    def accept_ownership(self) -> bytes:
        """Take over anchoring with this adapter's key (rotation, step 2); return the tx hash.

        Raises AnchorRevertedError (NotPendingOwner) and the node errors.
        """
        call = self._contract.functions.acceptOwnership()
        return bytes(self._sender.transact("accept ownership", call)["transactionHash"])

    def verify_receipt(self, receipt: AnchorReceipt) -> None:
        """Return if the chain backs ``receipt``; raise naming the first mismatch if not.

        Checks the chain and contract, that the tx exists (else AnchorNotFoundError),
        succeeded, sits in the stated block, calls this contract and emitted one
        ``Anchored`` with the receipt's root and tree size (else
        AnchorVerificationError). Raises AnchorConnectionError if the node is unreachable.
        """
        from web3.exceptions import TransactionNotFound

        tx = f"0x{receipt.tx_hash.hex()}"
        _expect("chain mismatch", self.chain_id, receipt.chain_id)
        _expect("contract mismatch", self._address, receipt.contract, str.lower)
        with self._sender.errors("verify receipt"):
            try:
                onchain = self._sender.w3.eth.get_transaction_receipt(
                    cast("Hash32", receipt.tx_hash)
                )
            except TransactionNotFound:
                onchain = None
        if onchain is None:
            raise AnchorNotFoundError(f"anchor receipt: tx {tx} not found on chain {self.chain_id}")
        if onchain["status"] != 1:
            raise AnchorVerificationError(f"anchor receipt: tx {tx} failed on chain (status 0)")
        _expect(f"block mismatch for tx {tx}", receipt.block_number, onchain["blockNumber"])
        to = str(onchain.get("to") or "a new contract")  # a creation has no "to"
        if to.lower() != self._address.lower():
            raise AnchorVerificationError(
                f"anchor receipt: tx {tx} calls {to}, not the contract {self._address}"
            )
        self._check_event(receipt, onchain["logs"])

    def _check_event(self, receipt: AnchorReceipt, logs: Any) -> None:
        """Find the contract's one Anchored event in ``logs``; compare root and tree size."""
        from eth_utils import keccak

        tx, topic = f"0x{receipt.tx_hash.hex()}", keccak(text=ANCHORED_EVENT)
        events = [
            log
            for log in logs
            if str(log["address"]).lower() == self._address.lower()
            and log["topics"]
            and bytes(log["topics"][0]) == topic
        ]
        if len(events) != 1:
            raise AnchorVerificationError(
                f"anchor receipt: tx {tx} emitted {len(events)} Anchored events, expected 1"
            )
        root = bytes(events[0]["topics"][1])
        if not hmac.compare_digest(root, receipt.root_hash):
            _expect(f"root mismatch in tx {tx}", f"0x{receipt.root_hash.hex()}", f"0x{root.hex()}")
        size = int.from_bytes(bytes(events[0]["data"]), "big")
        _expect(f"tree size mismatch in tx {tx}", receipt.tree_size, size)


def _expect(mismatch: str, expected: Any, got: Any, normalise: Any = None) -> None:
    """Raise AnchorVerificationError "anchor receipt: <mismatch>: expected …, got …" if unequal."""
    if (normalise(expected) != normalise(got)) if normalise else (expected != got):
        raise AnchorVerificationError(f"anchor receipt: {mismatch}: expected {expected}, got {got}")
