"""Anchor checkpoint roots in the Anchor contract through web3: the port's adapter.

``Web3Anchor`` implements ``ledger.provenance.anchoring.VerifiableAnchor``: one locally signed
EIP-1559 transaction per checkpoint, whatever its size. Every error from web3,
eth-tester, the node or the network becomes a typed ``AnchorError``; reverts are
decoded against the contract's ABI on every backend.

The private key is passed in by the caller, kept only inside an eth-account object,
and never logged, shown by ``repr`` or put in an exception message. ``import web3``
is slow, so it happens inside the functions that need it.

Longer than ~400 lines on purpose: it is one adapter behind one port, and its
error mapping (web3, eth-tester, the node, the network, each revert) only reads
correctly beside the calls it guards; split, the mapping would be far from them.
"""

from __future__ import annotations

import ast
import hmac
import json
import secrets
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import urlsplit

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
    from web3.types import TxParams

ARTEFACT_PATH = Path(__file__).with_name("Anchor.json")
ANCHORED_EVENT = "Anchored(bytes32,uint64,address)"
# Exceptions from these packages mean "the chain stack failed", not "cocred has a bug".
_CHAIN_STACK = ("web3", "eth_", "eth.", "requests", "urllib3", "hexbytes")
_SENTENCES = {  # the contract's errors, in words; formatted with the decoded arguments
    "NotOwner": "only the owner may do this, and {caller} is not the owner",
    "NotPendingOwner": "{caller} is not the proposed owner",
    "ZeroAddressOwner": "the owner cannot be the zero address",
    "EmptyRoot": "the zero root cannot be anchored",
    "TreeSizeMustGrow": "the tree size must grow: last anchored {last}, given {given}",
    "RootAlreadyAnchored": "root {root} was already anchored at tree size {treeSize}",
    "Panic": "Solidity panic {code:#04x}",
}
_REVERT_CLASSES = {
    "NotOwner": AnchorNotOwnerError,
    "TreeSizeMustGrow": AnchorTreeSizeError,
    "RootAlreadyAnchored": AnchorDuplicateRootError,
}


@cache
def artefact() -> dict[str, Any]:
    """Return the committed compile output (abi, bytecode, ...) of contracts/Anchor.sol."""
    return json.loads(ARTEFACT_PATH.read_text(encoding="utf-8"))


# --------------------------------------------------------------------------- reverts


@cache
def _error_table() -> dict[bytes, tuple[str, list[tuple[str, str]]]]:
    """Selector -> (error name, [(type, argument name)]): Error, Panic and the contract's own."""
    from eth_utils import keccak

    errors = {"Error": [("string", "message")], "Panic": [("uint256", "code")]}
    for item in artefact()["abi"]:
        if item["type"] == "error":
            errors[item["name"]] = [(i["type"], i["name"]) for i in item["inputs"]]
    return {
        keccak(text=f"{name}({','.join(t for t, _ in inputs)})")[:4]: (name, inputs)
        for name, inputs in errors.items()
    }


def decode_revert(data: bytes) -> tuple[str, dict[str, Any]]:
    """Decode revert data into ``(error name, arguments)`` using the contract's ABI.

    Returns ``("", {})`` for an empty revert and ``("", {"data": "0x…"})`` for data
    that matches no known error. Never raises.
    """
    from eth_abi import decode
    from eth_utils import to_checksum_address

    unknown: tuple[str, dict[str, Any]] = ("", {"data": "0x" + data.hex()} if data else {})
    name, inputs = _error_table().get(data[:4], ("", []))
    try:
        values = decode([t for t, _ in inputs], data[4:]) if name else None
    except Exception:  # eth_abi raises several unrelated types for bad data
        values = None
    if values is None:
        return unknown
    shown = {"address": to_checksum_address, "bytes32": lambda v: "0x" + v.hex()}
    return name, {n: shown.get(t, lambda v: v)(v) for (t, n), v in zip(inputs, values, strict=True)}


def _revert_payload(exc: BaseException) -> bytes | str | None:
    """The revert data in ``exc`` (bytes), a reason already decoded (str), or None."""
    from web3.exceptions import ContractLogicError

    text = None
    if isinstance(exc, ContractLogicError):  # JSON-RPC nodes: anvil, geth, hardhat
        data = exc.data.get("data") if isinstance(exc.data, Mapping) else exc.data
        if isinstance(data, str) and data.startswith("0x"):
            try:
                return bytes.fromhex(data[2:])
            except ValueError:
                pass
        text = exc.message or ""
    elif (
        f"{type(exc).__module__}.{type(exc).__name__}" == "eth_tester.exceptions.TransactionFailed"
    ):
        text = str(exc.args[0] if exc.args else "")
        # eth-tester prints raw revert data as a bytes literal: "b'\xc2\x1f...'".
        literal = text.removeprefix("execution reverted: ")
        if literal[:2] in ("b'", 'b"'):
            try:
                return bytes(ast.literal_eval(literal))
            except (ValueError, SyntaxError):
                return literal
    return None if text is None else text.removeprefix("execution reverted").lstrip(": ")


def _reverted(
    step: str, payload: bytes | str, tx_hash: bytes | None = None, where: str = ""
) -> AnchorRevertedError:
    if isinstance(payload, str):  # the backend decoded an Error(string) itself
        name, arguments = ("Error", {"message": payload}) if payload else ("", {})
    else:
        name, arguments = decode_revert(payload)
    if name == "Error":
        reason = f"Error({arguments['message']!r})"
    elif name:
        reason = f"{name}({', '.join(f'{k}={v}' for k, v in arguments.items())})"
    else:
        reason = f"unknown error {arguments['data']}" if arguments else "no reason given"
    detail = f"{step} reverted: {reason}"
    if name in _SENTENCES:
        detail += ": " + _SENTENCES[name].format(**arguments)
    detail += f" ({where})" if where else ""
    cls = _REVERT_CLASSES.get(name, AnchorRevertedError)
    return cls(detail, reason=reason, error=name, arguments=arguments, tx_hash=tx_hash)


# --------------------------------------------------------------------------- node errors


def _endpoint(w3: Web3) -> str:
    """Name the node without secrets: scheme://host:port (URL paths often hold API keys)."""
    uri = getattr(w3.provider, "endpoint_uri", None)
    if not isinstance(uri, str):
        return type(w3.provider).__name__
    parts = urlsplit(uri)
    return f"{parts.scheme}://{parts.hostname}" + (f":{parts.port}" if parts.port else "")


# How requests/urllib3 word a connection the node closed mid-request (it stopped,
# say): "Connection aborted." with RemoteDisconnected or a reset.
_LOST = ("aborted", "reset by peer", "remote end closed")


def _translate(exc: Exception, step: str, endpoint: str) -> AnchorError:
    from web3.exceptions import ProviderConnectionError, RequestTimedOut, Web3RPCError

    payload = _revert_payload(exc)
    if payload is not None:
        return _reverted(step, payload)
    if isinstance(exc, OSError | ProviderConnectionError | RequestTimedOut):
        # Not str(exc): requests puts the URL, and any API key in its path, in there.
        status = getattr(getattr(exc, "response", None), "status_code", None)
        text = str(exc).lower()
        why = (
            f"HTTP {status}" if status is not None
            else "connection refused" if "refused" in text
            else "connection lost" if any(w in text for w in _LOST)
            else "timed out" if "timed out" in text or "Timeout" in type(exc).__name__
            else type(exc).__name__
        )  # fmt: skip
        return AnchorConnectionError(f"{step}: cannot reach the Ethereum node at {endpoint}: {why}")
    message = str(exc)
    if isinstance(exc, Web3RPCError) and isinstance(exc.rpc_response, Mapping):
        message = str(exc.rpc_response.get("error", {}).get("message", message))
    return AnchorNodeError(f"{step}: the node at {endpoint} refused the request: {message}")


@contextmanager
def _node_errors(step: str, endpoint: str) -> Iterator[None]:
    """Turn errors from the chain stack into typed AnchorErrors; let cocred's own bugs through."""
    try:
        yield
    except AnchorError:
        raise
    except Exception as exc:
        if not isinstance(exc, OSError) and not type(exc).__module__.startswith(_CHAIN_STACK):
            raise
        raise _translate(exc, step, endpoint) from exc


def _checksum(name: str, address: Any) -> ChecksumAddress:
    from eth_utils import is_address, to_checksum_address

    if not isinstance(address, str) or not is_address(address):
        raise AnchorConfigError(f"{name}: not an Ethereum address: {address!r:.60}")
    return to_checksum_address(address)


# --------------------------------------------------------------------------- sending


class _Sender:
    """Signs transactions locally with one key, sends them in nonce order, waits for receipts."""

    def __init__(
        self,
        w3: Web3,
        private_key: str,
        chain_id: int,
        *,
        gas_limit: int | None = None,
        priority_fee_wei: int | None = None,
        receipt_timeout: float = 120.0,
        poll_interval: float = 0.1,
    ) -> None:
        from eth_account import Account

        if type(chain_id) is not int or chain_id < 1:
            raise AnchorConfigError(f"chain id: expected a positive integer, got {chain_id!r}")
        if not isinstance(private_key, str):
            raise AnchorConfigError("private key: expected a hex string")
        try:
            self.account = Account.from_key(private_key)
        except Exception:  # its message could echo the key: say nothing more
            raise AnchorConfigError("private key: not a valid 32-byte secp256k1 key") from None
        self.w3, self.endpoint, self.chain_id = w3, _endpoint(w3), chain_id
        self.gas_limit, self.priority_fee_wei = gas_limit, priority_fee_wei
        self.receipt_timeout, self.poll_interval = receipt_timeout, poll_interval
        self._lock = threading.Lock()  # one nonce at a time
        with self.errors("connect"):
            node_chain_id = w3.eth.chain_id
        if node_chain_id != chain_id:
            raise AnchorConfigError(
                f"chain id mismatch: expected {chain_id}, "
                f"the node at {self.endpoint} reports {node_chain_id}"
            )

    def errors(self, step: str) -> Any:
        """A context in which chain-stack errors become typed AnchorErrors naming ``step``."""
        return _node_errors(step, self.endpoint)

    def transact(self, step: str, call: Any) -> Any:
        """Sign and send ``call`` (a contract function or constructor); return the receipt.

        Raises AnchorRevertedError (decoded: before sending if the gas estimate
        reverts, after mining otherwise), AnchorTimeoutError, AnchorConnectionError,
        AnchorNodeError.
        """
        sender, eth = self.account.address, self.w3.eth
        with self._lock, self.errors(step):
            gas = self.gas_limit
            if gas is None:  # estimating is also a free pre-flight: a doomed call reverts here
                estimate = call.estimate_gas({"from": sender})
                gas = estimate + estimate // 4 + 5_000  # headroom if state moves on meanwhile
            base_fee = eth.get_block("latest").get("baseFeePerGas")
            if base_fee is None:
                raise AnchorConfigError(f"{step}: the chain has no EIP-1559 base fee")
            tip = eth.max_priority_fee if self.priority_fee_wei is None else self.priority_fee_wei
            nonce = eth.get_transaction_count(sender, "pending")
            tx = call.build_transaction(
                {"from": sender, "chainId": self.chain_id, "nonce": nonce, "gas": gas,
                 "maxPriorityFeePerGas": tip, "maxFeePerGas": 2 * base_fee + tip}
            )  # fmt: skip
            signed = self.account.sign_transaction(tx)
            tx_hash = bytes(eth.send_raw_transaction(signed.raw_transaction))
        try:
            receipt = self._wait(step, tx_hash)
        except AnchorConnectionError as lost:  # sent, fate unknown: name it so nobody resends
            detail = f"{lost.detail}; tx 0x{tx_hash.hex()} was sent: look it up before resending"
            raise AnchorConnectionError(detail, tx_hash) from lost
        if receipt["status"] != 1:
            raise self._explain_failure(step, tx, tx_hash, receipt)
        return receipt

    def _wait(self, step: str, tx_hash: bytes) -> Any:
        from web3.exceptions import TimeExhausted

        with self.errors(step):
            try:
                return self.w3.eth.wait_for_transaction_receipt(
                    cast("Hash32", tx_hash),
                    timeout=self.receipt_timeout,
                    poll_latency=self.poll_interval,
                )
            except TimeExhausted:
                raise AnchorTimeoutError(
                    f"{step}: no receipt for tx 0x{tx_hash.hex()} after "
                    f"{self.receipt_timeout:g} s; it may still be mined",
                    tx_hash,
                ) from None

    def _explain_failure(self, step: str, tx: Any, tx_hash: bytes, receipt: Any) -> Exception:
        """Say why a transaction failed on chain: out of gas, or replay it for the revert."""
        where = f"tx 0x{tx_hash.hex()} in block {receipt['blockNumber']}"
        reason = "no reason given"
        if receipt["gasUsed"] >= tx["gas"]:  # a revert returns unused gas; only a halt burns all
            reason = f"out of gas (used all {tx['gas']})"
        else:  # on the state before its block: exact when the node mines one tx per block
            replay = {k: tx[k] for k in ("from", "to", "data", "value", "gas") if k in tx}
            try:
                self.w3.eth.call(cast("TxParams", replay), max(receipt["blockNumber"] - 1, 0))
            except Exception as exc:
                payload = _revert_payload(exc)
                if payload is not None:
                    return _reverted(step, payload, tx_hash, where)
        return AnchorRevertedError(
            f"{step} reverted: {reason} ({where})", reason=reason, tx_hash=tx_hash
        )


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
        self._sender = _Sender(w3, private_key, chain_id, **options)
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
        w3 = _http_web3(url, options.pop("request_timeout", 10.0))
        return cls(w3, contract_address, private_key, chain_id, **options)

    @classmethod
    def deploy(
        cls, w3: Web3, private_key: str, chain_id: int, *, owner: str | None = None, **options: Any
    ) -> str:
        """Deploy a new Anchor owned by ``owner`` (default: the key's address); return its address.

        Raises AnchorConfigError, AnchorConnectionError, AnchorNodeError,
        AnchorRevertedError, AnchorTimeoutError.
        """
        sender = _Sender(w3, private_key, chain_id, **options)
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


def _http_web3(url: str, request_timeout: float) -> Web3:
    parts = urlsplit(url) if isinstance(url, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise AnchorConfigError("node URL: expected http(s)://host[:port][/path]")
    from web3 import HTTPProvider, Web3

    return Web3(HTTPProvider(url, request_kwargs={"timeout": request_timeout}))
