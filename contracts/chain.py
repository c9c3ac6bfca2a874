"""What every contract adapter needs from web3: signing, sending, and typed errors.

Moved out of ``web3_anchor.py`` when the claims rail (``claims.py``) became the second
adapter. Each adapter names its own typed errors and ABI in a ``ContractErrors``; the
code here turns everything web3, eth-tester, the node or the network raises into
those errors, and decodes reverts against that ABI on every backend. A private key is
kept only inside an eth-account object, never logged, shown or put in a message.
``import web3`` is slow, so it happens inside the functions that need it.
"""

from __future__ import annotations

import ast
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from functools import cached_property
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from eth_typing import ChecksumAddress, Hash32
    from web3 import Web3
    from web3.types import TxParams

# Exceptions from these packages mean "the chain stack failed", not "cocred has a bug".
_CHAIN_STACK = ("web3", "eth_", "eth.", "requests", "urllib3", "hexbytes")


class ContractErrors:
    """One adapter's typed errors, and the ABI whose custom errors its reverts decode against.

    ``root`` is the adapter's error root (errors of that type pass through untouched);
    ``config`` takes a sentence, ``connection`` and ``timeout`` a sentence and a tx hash,
    ``node`` a sentence, ``reverted`` a sentence and the keywords ``reason``, ``error``,
    ``arguments``, ``tx_hash``. ``sentences`` says each contract error in words (formatted
    with its decoded arguments); ``classes`` picks a ``reverted`` subclass by error name.
    """

    def __init__(
        self,
        *,
        abi: Callable[[], list[dict[str, Any]]],
        root: type[Exception],
        config: Callable[..., Exception],
        connection: type[Exception],
        node: Callable[..., Exception],
        timeout: Callable[..., Exception],
        reverted: Callable[..., Exception],
        sentences: Mapping[str, str],
        classes: Mapping[str, Callable[..., Exception]],
    ) -> None:
        self._abi = abi
        self.root, self.config, self.connection = root, config, connection
        self.node, self.timeout, self.reverted = node, timeout, reverted
        self.sentences = {**sentences, "Panic": "Solidity panic {code:#04x}"}
        self.classes = dict(classes)

    @cached_property
    def table(self) -> dict[bytes, tuple[str, list[tuple[str, str]]]]:
        """Selector -> (error name, [(type, argument name)]): Error, Panic and the ABI's own."""
        from eth_utils import keccak

        errors = {"Error": [("string", "message")], "Panic": [("uint256", "code")]}
        for item in self._abi():
            if item["type"] == "error":
                errors[item["name"]] = [(i["type"], i["name"]) for i in item["inputs"]]
        return {
            keccak(text=f"{name}({','.join(t for t, _ in inputs)})")[:4]: (name, inputs)
            for name, inputs in errors.items()
        }

    def decode(self, data: bytes) -> tuple[str, dict[str, Any]]:
        """Decode revert data into ``(error name, arguments)`` using the ABI.

        Returns ``("", {})`` for an empty revert and ``("", {"data": "0x…"})`` for data
        that matches no known error. Never raises.
        """
        from eth_abi import decode
        from eth_utils import to_checksum_address

        unknown: tuple[str, dict[str, Any]] = ("", {"data": "0x" + data.hex()} if data else {})
        name, inputs = self.table.get(data[:4], ("", []))
        try:
            values = decode([t for t, _ in inputs], data[4:]) if name else None
        except Exception:  # eth_abi raises several unrelated types for bad data
            values = None
        if values is None:
            return unknown
        shown = {"address": to_checksum_address, "bytes32": lambda v: "0x" + v.hex()}
        pairs = zip(inputs, values, strict=True)
        return name, {n: shown.get(t, lambda v: v)(v) for (t, n), v in pairs}

    def revert(
        self, step: str, payload: bytes | str, tx_hash: bytes | None = None, where: str = ""
    ) -> Exception:
        """The typed ``reverted`` error of a revert payload, its sentence naming ``step``."""
        if isinstance(payload, str):  # the backend decoded an Error(string) itself
            name, arguments = ("Error", {"message": payload}) if payload else ("", {})
        else:
            name, arguments = self.decode(payload)
        if name == "Error":
            reason = f"Error({arguments['message']!r})"
        elif name:
            reason = f"{name}({', '.join(f'{k}={v}' for k, v in arguments.items())})"
        else:
            reason = f"unknown error {arguments['data']}" if arguments else "no reason given"
        detail = f"{step} reverted: {reason}"
        if name in self.sentences:
            detail += ": " + self.sentences[name].format(**arguments)
        detail += f" ({where})" if where else ""
        cls = self.classes.get(name, self.reverted)
        return cls(detail, reason=reason, error=name, arguments=arguments, tx_hash=tx_hash)


# --------------------------------------------------------------------------- reverts


def revert_payload(exc: BaseException) -> bytes | str | None:
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


# --------------------------------------------------------------------------- node errors


def endpoint(w3: Web3) -> str:
    """Name the node without secrets: scheme://host:port (URL paths often hold API keys)."""
    uri = getattr(w3.provider, "endpoint_uri", None)
    if not isinstance(uri, str):
        return type(w3.provider).__name__
    parts = urlsplit(uri)
    return f"{parts.scheme}://{parts.hostname}" + (f":{parts.port}" if parts.port else "")


# How requests/urllib3 word a connection the node closed mid-request (it stopped,
# say): "Connection aborted." with RemoteDisconnected or a reset.
_LOST = ("aborted", "reset by peer", "remote end closed")


def _translate(exc: Exception, step: str, where: str, errors: ContractErrors) -> Exception:
    from web3.exceptions import ProviderConnectionError, RequestTimedOut, Web3RPCError

    payload = revert_payload(exc)
    if payload is not None:
        return errors.revert(step, payload)
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
        return errors.connection(f"{step}: cannot reach the Ethereum node at {where}: {why}")
    message = str(exc)
    if isinstance(exc, Web3RPCError) and isinstance(exc.rpc_response, Mapping):
        message = str(exc.rpc_response.get("error", {}).get("message", message))
    return errors.node(f"{step}: the node at {where} refused the request: {message}")


@contextmanager
def node_errors(step: str, where: str, errors: ContractErrors) -> Iterator[None]:
    """Turn errors from the chain stack into the adapter's typed errors; let cocred's bugs by."""
    try:
        yield
    except errors.root:
        raise
    except Exception as exc:
        if not isinstance(exc, OSError) and not type(exc).__module__.startswith(_CHAIN_STACK):
            raise
        raise _translate(exc, step, where, errors) from exc


def checksum(name: str, address: Any, errors: ContractErrors) -> ChecksumAddress:
    """``address`` in EIP-55 form; ``errors.config`` naming ``name`` if it is no address."""
    from eth_utils import is_address, to_checksum_address

    if not isinstance(address, str) or not is_address(address):
        raise errors.config(f"{name}: not an Ethereum address: {address!r:.60}")
    return to_checksum_address(address)


def http_web3(url: str, request_timeout: float, errors: ContractErrors) -> Web3:
    """A Web3 over JSON-RPC at ``url`` (http or https only)."""
    parts = urlsplit(url) if isinstance(url, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise errors.config("node URL: expected http(s)://host[:port][/path]")
    from web3 import HTTPProvider, Web3

    return Web3(HTTPProvider(url, request_kwargs={"timeout": request_timeout}))


# --------------------------------------------------------------------------- sending


class Sender:
    """Signs transactions locally with one key, sends them in nonce order, waits for receipts."""

    def __init__(
        self,
        w3: Web3,
        private_key: str,
        chain_id: int,
        contract_errors: ContractErrors,
        *,
        gas_limit: int | None = None,
        priority_fee_wei: int | None = None,
        receipt_timeout: float = 120.0,
        poll_interval: float = 0.1,
    ) -> None:
        from eth_account import Account

        self.contract_errors = kinds = contract_errors
        if type(chain_id) is not int or chain_id < 1:
            raise kinds.config(f"chain id: expected a positive integer, got {chain_id!r}")
        if not isinstance(private_key, str):
            raise kinds.config("private key: expected a hex string")
        try:
            self.account = Account.from_key(private_key)
        except Exception:  # its message could echo the key: say nothing more
            raise kinds.config("private key: not a valid 32-byte secp256k1 key") from None
        self.w3, self.endpoint, self.chain_id = w3, endpoint(w3), chain_id
        self.gas_limit, self.priority_fee_wei = gas_limit, priority_fee_wei
        self.receipt_timeout, self.poll_interval = receipt_timeout, poll_interval
        self._lock = threading.Lock()  # one nonce at a time
        with self.errors("connect"):
            node_chain_id = w3.eth.chain_id
        if node_chain_id != chain_id:
            raise kinds.config(
                f"chain id mismatch: expected {chain_id}, "
                f"the node at {self.endpoint} reports {node_chain_id}"
            )

    def errors(self, step: str) -> Any:
        """A context in which chain-stack errors become the adapter's errors naming ``step``."""
        return node_errors(step, self.endpoint, self.contract_errors)

    def transact(self, step: str, call: Any) -> Any:
        """Sign and send ``call`` (a contract function or constructor); return the receipt.

        Raises the adapter's ``reverted`` (decoded: before sending if the gas estimate
        reverts, after mining otherwise), ``timeout``, ``connection``, ``node`` errors.
        """
        sender, eth = self.account.address, self.w3.eth
        with self._lock, self.errors(step):
            gas = self.gas_limit
            if gas is None:  # estimating is also a free pre-flight: a doomed call reverts here
                estimate = call.estimate_gas({"from": sender})
                gas = estimate + estimate // 4 + 5_000  # headroom if state moves on meanwhile
            base_fee = eth.get_block("latest").get("baseFeePerGas")
            if base_fee is None:
                raise self.contract_errors.config(f"{step}: the chain has no EIP-1559 base fee")
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
        except self.contract_errors.connection as lost:  # sent, fate unknown: so nobody resends
            detail = f"{lost}; tx 0x{tx_hash.hex()} was sent: look it up before resending"
            raise self.contract_errors.connection(detail, tx_hash) from lost
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
                raise self.contract_errors.timeout(
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
                payload = revert_payload(exc)
                if payload is not None:
                    return self.contract_errors.revert(step, payload, tx_hash, where)
        return self.contract_errors.reverted(
            f"{step} reverted: {reason} ({where})", reason=reason, tx_hash=tx_hash
        )
