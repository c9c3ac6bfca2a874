"""The on-chain claims rail: deploy and fund a Distributor, claim, read claims and transfers back.

A brand turns settled payout lines into a ``ClaimTree`` (``claim_tree.py``), deploys one
``Distributor.sol`` holding its root (``deploy_distributor``), and funds it with the
ERC-20 it pays in (``fund``). Each member claims once with the proof the API serves
(``claim``; anyone may send it, the tokens go to the leaf's account). ``read_claims``
reads the ``Claimed`` events back so they can be recorded as payments, and
``transfers_in_tx`` gives the ERC-20 ``Transfer`` logs of one transaction for the audit's
payment check. ``deploy_token`` deploys ``TestToken.sol``, for tests and demos only.

Every function takes a ``web3.Web3`` (eth-tester in process, or a node over JSON-RPC);
those that send take ``private_key=`` (used only to sign locally, never shown) and
optionally ``chain_id=`` (default: the node's), plus the sender options of
``contracts.chain.Sender`` (``gas_limit``, ``priority_fee_wei``, ``receipt_timeout``,
``poll_interval``). Every failure is a typed ``ClaimsError`` (``contracts/errors.py``):
contract reverts decoded on every backend (``InvalidClaimProofError``,
``AlreadyClaimedError``, ``ClaimRevertedError``), node faults, bad configuration. A
refused claim sends nothing: the gas estimate runs the call first and reverts there.

Longer than ~400 lines on purpose: it is the one adapter of ``Distributor.sol`` (and its
test token), each function a transaction or a read with its typed errors; the private
helpers at the bottom (addresses, topics, log decoding) serve all of them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from contracts.chain import ContractErrors, Sender, checksum, endpoint, node_errors
from contracts.claim_tree import ClaimTree, Entry, verify_proof
from contracts.errors import (
    AlreadyClaimedError,
    ChainTxError,
    ClaimEntryError,
    ClaimRevertedError,
    ClaimsConfigError,
    ClaimsConnectionError,
    ClaimsError,
    ClaimsNodeError,
    ClaimsTimeoutError,
    InvalidClaimProofError,
    UnknownClaimIndexError,
)

if TYPE_CHECKING:
    from eth_typing import ChecksumAddress, Hash32
    from web3 import Web3

__all__ = [
    "AlreadyClaimedError",
    "ChainTxError",
    "ClaimEntryError",
    "ClaimRevertedError",
    "ClaimTree",
    "Claimed",
    "ClaimsConfigError",
    "ClaimsConnectionError",
    "ClaimsError",
    "ClaimsNodeError",
    "ClaimsTimeoutError",
    "Entry",
    "InvalidClaimProofError",
    "Transfer",
    "UnknownClaimIndexError",
    "balance_of",
    "claim",
    "deploy_distributor",
    "deploy_token",
    "fund",
    "is_claimed",
    "read_claims",
    "token_decimals",
    "transfer",
    "transfers_in_tx",
    "verify_proof",
]

HERE = Path(__file__).parent
CLAIMED_EVENT = "Claimed(uint256,address,uint256)"
TRANSFER_EVENT = "Transfer(address,address,uint256)"


@cache
def artefact(name: str) -> dict[str, Any]:
    """The committed compile output of ``contracts/<name>.sol`` (Distributor or TestToken)."""
    return json.loads((HERE / f"{name}.json").read_text(encoding="utf-8"))


def _abi_errors() -> list[dict[str, Any]]:
    """Both contracts' custom errors: a claim's revert, or the token's in ``fund``."""
    items = artefact("Distributor")["abi"] + artefact("TestToken")["abi"]
    return [item for item in items if item["type"] == "error"]


ERRORS = ContractErrors(
    abi=_abi_errors,
    root=ClaimsError,
    config=ClaimsConfigError,
    connection=ClaimsConnectionError,
    node=ClaimsNodeError,
    timeout=ClaimsTimeoutError,
    reverted=ClaimRevertedError,
    sentences={
        "EmptyRoot": "the zero root is no tree's root",
        "NotAContract": "{token} has no code, so it is not an ERC-20 token",
        "InvalidProof": (
            "the proof does not lead from leaf {index} with this account and amount "
            "to the Distributor's root"
        ),
        "AlreadyClaimed": "index {index} was claimed before; each index is paid once",
        "TransferFailed": (
            "the token did not send {amount} to {account}: does the Distributor hold enough?"
        ),
        "InsufficientBalance": "{from} holds {balance}, less than the {needed} to move",
        "InsufficientAllowance": "{spender} may move {allowed}, less than the {needed} to move",
        "ZeroAddressRecipient": "tokens cannot be sent to the zero address",
    },
    classes={"InvalidProof": InvalidClaimProofError, "AlreadyClaimed": AlreadyClaimedError},
)


@dataclass(frozen=True)
class Claimed:
    """One ``Claimed`` event: leaf ``index`` paid ``amount`` to ``account`` in ``tx_hash``."""

    index: int
    account: str
    amount: int
    tx_hash: bytes


@dataclass(frozen=True)
class Transfer:
    """One ERC-20 ``Transfer`` log: ``amount`` token units from ``sender`` to ``recipient``."""

    sender: str
    recipient: str
    amount: int


# --------------------------------------------------------------------------- sending


def deploy_token(
    w3: Web3,
    *,
    private_key: str,
    name: str = "cocred test token",
    symbol: str = "CCT",
    decimals: int = 18,
    supply: int = 0,
    chain_id: int | None = None,
    **options: Any,
) -> str:
    """Deploy a TestToken minting ``supply`` to the key's address; return its address.

    For tests and demos: anyone may mint it. Raises ClaimsError subclasses.
    """
    sender = _sender(w3, private_key, chain_id, options)
    factory = _factory(w3, "TestToken")
    receipt = sender.transact("deploy token", factory.constructor(name, symbol, decimals, supply))
    return str(receipt["contractAddress"])


def deploy_distributor(
    w3: Web3,
    token: str,
    root: bytes | ClaimTree,
    *,
    private_key: str,
    prepare_words: list[int] | None = None,
    chain_id: int | None = None,
    **options: Any,
) -> str:
    """Deploy a Distributor paying in ``token`` for the tree ``root``; return its address.

    ``root`` is the tree itself or its 32-byte root. The bitmap words ``prepare_words``
    are prepared at deploy (about 22,000 gas each, paid by the deployer), which spares
    the first claimant of each word 17,100 gas (Distributor.sol says why); default: the
    words the tree uses if a tree is given, else none. Raises
    ClaimsConfigError (bad token address or root), ClaimRevertedError (``NotAContract``:
    no code at ``token``), and the node errors.
    """
    words = root.bitmap_words if isinstance(root, ClaimTree) else []
    root_hash = root.root if isinstance(root, ClaimTree) else root
    if not isinstance(root_hash, bytes) or len(root_hash) != 32:
        raise ClaimsConfigError(f"deploy distributor: the root must be 32 bytes, got {root!r:.80}")
    words = words if prepare_words is None else prepare_words
    if not isinstance(words, list) or not all(type(w) is int and 0 <= w < 2**256 for w in words):
        raise ClaimsConfigError(
            f"deploy distributor: prepare_words must be a list of word numbers, got {words!r:.80}"
        )
    sender = _sender(w3, private_key, chain_id, options)
    call = _factory(w3, "Distributor").constructor(
        checksum("token", token, ERRORS), root_hash, words
    )
    return str(sender.transact("deploy distributor", call)["contractAddress"])


def fund(
    w3: Web3,
    token: str,
    distributor: str,
    amount: int,
    *,
    private_key: str,
    chain_id: int | None = None,
    **options: Any,
) -> bytes:
    """Send ``amount`` of ``token`` from the key's address to ``distributor``; return the tx hash.

    Send exactly the tree's ``total``: the Distributor has no way to give back an excess.
    Raises ClaimRevertedError (the token's, e.g. ``InsufficientBalance``), ClaimsConfigError.
    """
    if type(amount) is not int or amount <= 0:
        raise ClaimsConfigError(f"fund: amount must be a positive integer, got {amount!r:.40}")
    sender = _sender(w3, private_key, chain_id, options)
    contract = _token(w3, token)
    call = contract.functions.transfer(_distributor_address(w3, distributor), amount)
    return bytes(sender.transact("fund", call)["transactionHash"])


def transfer(
    w3: Web3,
    token: str,
    to: str,
    amount: int,
    *,
    private_key: str,
    chain_id: int | None = None,
    **options: Any,
) -> bytes:
    """Send ``amount`` of ``token`` from the key's address to ``to`` (the ``eth`` rail, paid
    one transfer at a time); return the tx hash, which ``PaymentRecorded`` carries.

    Raises ClaimRevertedError (the token's, e.g. ``InsufficientBalance``), ClaimsConfigError.
    """
    if type(amount) is not int or amount <= 0:
        raise ClaimsConfigError(f"transfer: amount must be a positive integer, got {amount!r:.40}")
    sender = _sender(w3, private_key, chain_id, options)
    call = _token(w3, token).functions.transfer(checksum("to", to, ERRORS), amount)
    return bytes(sender.transact("transfer", call)["transactionHash"])


def claim(
    w3: Web3,
    distributor: str,
    index: int,
    account: str,
    amount: int,
    proof: list[bytes],
    *,
    private_key: str,
    chain_id: int | None = None,
    **options: Any,
) -> Claimed:
    """Claim leaf (``index``, ``account``, ``amount``) with ``proof``; return its ``Claimed``.

    The key only pays the gas: the tokens go to ``account``. Raises ClaimEntryError (a
    malformed proof), InvalidClaimProofError, AlreadyClaimedError, ClaimRevertedError
    (``TransferFailed``: the Distributor holds too little), ClaimsConfigError (no
    Distributor at the address), and the node errors. A refused claim sends nothing.
    """
    if not isinstance(proof, list) or not all(isinstance(p, bytes) and len(p) == 32 for p in proof):
        raise ClaimEntryError(
            f"claim {index}: the proof must be a list of 32-byte hashes", index=index
        )
    address = _distributor_address(w3, distributor)
    sender = _sender(w3, private_key, chain_id, options)
    contract = w3.eth.contract(address=address, abi=artefact("Distributor")["abi"])
    call = contract.functions.claim(index, checksum("account", account, ERRORS), amount, proof)
    receipt = sender.transact(f"claim {index}", call)
    found = _claimed_logs(address, receipt["logs"], bytes(receipt["transactionHash"]))
    if len(found) != 1:  # the code was checked: only a broken node could say otherwise
        raise ChainTxError(
            f"claim {index}: tx 0x{bytes(receipt['transactionHash']).hex()} emitted "
            f"{len(found)} Claimed events, expected 1",
            index=index,
        )
    return found[0]


# --------------------------------------------------------------------------- reading


def read_claims(w3: Web3, distributor: str, from_block: int = 0) -> list[Claimed]:
    """Every ``Claimed`` event of ``distributor`` from ``from_block`` on, in chain order.

    Raises ClaimsConfigError (no Distributor at the address) and the node errors.
    """
    address = _distributor_address(w3, distributor)
    topic = _topic(CLAIMED_EVENT)
    with node_errors("read claims", endpoint(w3), ERRORS):
        logs = w3.eth.get_logs(
            {"address": address, "fromBlock": from_block, "toBlock": "latest", "topics": [topic]}
        )
    claims: list[Claimed] = []
    for log in logs:
        claims.extend(_claimed_logs(address, [log], bytes(log["transactionHash"])))
    return claims


def transfers_in_tx(w3: Web3, token: str, tx_hash: bytes | str) -> list[Transfer]:
    """The ERC-20 ``Transfer`` logs that ``token`` emitted in transaction ``tx_hash``.

    ``tx_hash`` is 32 bytes or their 0x-prefixed hex, as a payment record carries it.

    Raises ChainTxError if the transaction is not on chain or failed there (a failed
    transaction moved nothing), ClaimsConfigError for a bad address or hash.
    """
    from eth_abi import decode
    from eth_utils import to_checksum_address
    from web3.exceptions import TransactionNotFound

    address = checksum("token", token, ERRORS)
    raw = _tx_hash_bytes(tx_hash)
    tx = f"0x{raw.hex()}"
    with node_errors("transfers", endpoint(w3), ERRORS):
        try:
            receipt = w3.eth.get_transaction_receipt(cast("Hash32", raw))
        except TransactionNotFound:
            receipt = None
    if receipt is None:
        raise ChainTxError(f"transfers: tx {tx} is not on chain {_chain_id(w3)}", tx=tx)
    if receipt["status"] != 1:
        raise ChainTxError(
            f"transfers: tx {tx} failed on chain (status 0); it moved no tokens", tx=tx
        )
    topic = bytes.fromhex(_topic(TRANSFER_EVENT)[2:])
    transfers = []
    for log in receipt["logs"]:
        topics = [bytes(t) for t in log["topics"]]
        if str(log["address"]).lower() != address.lower() or not topics or topics[0] != topic:
            continue
        data = bytes(log["data"])
        if len(topics) != 3 or len(data) != 32:  # an ERC-721 Transfer has the same name
            raise ChainTxError(
                f"transfers: tx {tx} has a Transfer log of {address} that is not ERC-20's", tx=tx
            )
        (amount,) = decode(["uint256"], data)
        sender, recipient = (to_checksum_address(t[12:]) for t in topics[1:])
        transfers.append(Transfer(sender, recipient, int(amount)))
    return transfers


def is_claimed(w3: Web3, distributor: str, index: int) -> bool:
    """Whether leaf ``index`` of ``distributor`` has been claimed."""
    address = _distributor_address(w3, distributor)
    contract = w3.eth.contract(address=address, abi=artefact("Distributor")["abi"])
    with node_errors("is claimed", endpoint(w3), ERRORS):
        return bool(contract.functions.isClaimed(index).call())


def distributor_of(w3: Web3, distributor: str) -> tuple[int, str, str]:
    """(chain id, Merkle root as 0x + 64 hex, token address) of the Distributor at
    ``distributor``, once its code is checked to be Distributor.sol's (``ClaimsConfigError``
    if it is not, or nothing is there): what ``ClaimsPublished`` is held to on chain."""
    from eth_utils import to_checksum_address

    address = _distributor_address(w3, distributor)
    contract = w3.eth.contract(address=address, abi=artefact("Distributor")["abi"])
    with node_errors("read the Distributor", endpoint(w3), ERRORS):
        root = bytes(contract.functions.merkleRoot().call())
        token = str(contract.functions.token().call())
    return _chain_id(w3), "0x" + root.hex(), to_checksum_address(token)


def token_decimals(w3: Web3, token: str) -> int:
    """The ERC-20's ``decimals()``; ClaimsConfigError if ``token`` has no code or no such call."""
    address = checksum("token", token, ERRORS)
    with node_errors("decimals", endpoint(w3), ERRORS):
        code = bytes(w3.eth.get_code(address))
    if not code:
        raise ClaimsConfigError(f"token {address}: no contract at that address")
    try:
        with node_errors("decimals", endpoint(w3), ERRORS):
            return int(_token(w3, address).functions.decimals().call())
    except ClaimRevertedError as exc:
        raise ClaimsConfigError(f"token {address}: decimals() failed, not an ERC-20?") from exc


def balance_of(w3: Web3, token: str, account: str) -> int:
    """The ERC-20 balance of ``account`` in ``token`` (token units)."""
    contract = _token(w3, token)
    with node_errors("balance", endpoint(w3), ERRORS):
        return int(contract.functions.balanceOf(checksum("account", account, ERRORS)).call())


# --------------------------------------------------------------------------- helpers


def _sender(w3: Web3, private_key: str, chain_id: int | None, options: dict[str, Any]) -> Sender:
    return Sender(
        w3, private_key, _chain_id(w3) if chain_id is None else chain_id, ERRORS, **options
    )


def _chain_id(w3: Web3) -> int:
    with node_errors("connect", endpoint(w3), ERRORS):
        return int(w3.eth.chain_id)


def _factory(w3: Web3, name: str) -> Any:
    built = artefact(name)
    return w3.eth.contract(abi=built["abi"], bytecode=built["bytecode"])


def _token(w3: Web3, token: str) -> Any:
    # The token's ABI is ERC-20's (transfer, balanceOf): TestToken's covers any real token.
    return w3.eth.contract(
        address=checksum("token", token, ERRORS), abi=artefact("TestToken")["abi"]
    )


def _distributor_address(w3: Web3, distributor: str) -> ChecksumAddress:
    """``distributor`` checksummed, once its code is checked to be Distributor.sol's."""
    address = checksum("distributor", distributor, ERRORS)
    with node_errors("connect", endpoint(w3), ERRORS):
        code = bytes(w3.eth.get_code(address))
    if not code:
        raise ClaimsConfigError(f"no contract at {address} on chain {_chain_id(w3)}")
    built = artefact("Distributor")
    expected = bytearray.fromhex(built["deployedBytecode"][2:])
    masked = bytearray(code)
    for start, length in built.get("immutableRanges", []):  # token and root, set at deploy
        if len(masked) >= start + length:
            masked[start : start + length] = expected[start : start + length]
    if masked != expected:
        raise ClaimsConfigError(
            f"the contract at {address} on chain {_chain_id(w3)} is not cocred's Distributor: "
            "its code differs from contracts/Distributor.json"
        )
    return address


def _tx_hash_bytes(tx_hash: Any) -> bytes:
    """32 bytes from bytes or 0x-hex; ClaimsConfigError for anything else."""
    raw = tx_hash
    if isinstance(tx_hash, str) and tx_hash.startswith("0x"):
        try:
            raw = bytes.fromhex(tx_hash[2:])
        except ValueError:
            raw = None
    if not isinstance(raw, bytes) or len(raw) != 32:
        raise ClaimsConfigError(
            f"transfers: a tx hash is 32 bytes or their 0x-hex, got {tx_hash!r:.80}"
        )
    return raw


def _topic(signature: str) -> str:
    from eth_utils import keccak

    return "0x" + keccak(text=signature).hex()  # hex, not bytes: eth-tester matches only that


def _claimed_logs(address: str, logs: Any, tx_hash: bytes) -> list[Claimed]:
    from eth_abi import decode
    from eth_utils import to_checksum_address

    topic = bytes.fromhex(_topic(CLAIMED_EVENT)[2:])
    found = []
    for log in logs:
        if str(log["address"]).lower() == address.lower() and [bytes(t) for t in log["topics"]] == [
            topic
        ]:
            index, account, amount = decode(["uint256", "address", "uint256"], bytes(log["data"]))
            found.append(Claimed(int(index), to_checksum_address(account), int(amount), tx_hash))
    return found
