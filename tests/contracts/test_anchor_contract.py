"""Anchor.sol, its committed artefact, the anchoring port and its web3 adapter.

Chain scenarios run twice, on an in-process eth-tester chain and on a real anvil
node over JSON-RPC (see conftest.py). Every refusal asserts the error type and its
message.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from unittest.mock import ANY

import pytest

from ledger.errors import LedgerError, MalformedError, VerificationError
from ledger.provenance.anchoring import (
    Anchor,
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
    VerifiableAnchor,
)
from tests.support import unavailable

from .conftest import ANVIL_KEYS, CONTRACTS, ROOT, Chain, connect, free_port, running_anvil

GAS_BOUND = 100_000  # what the contract guarantees per anchor: one slot, one event


@dataclass(frozen=True)
class Checkpoint:
    """Stands in for the ledger's checkpoint: the port only needs these two fields."""

    size: int
    root_hash: bytes


def root(label: str) -> bytes:
    return hashlib.sha256(label.encode()).digest()


def address_of(key: str) -> str:
    from eth_account import Account

    return str(Account.from_key(key).address)


RECEIPT = AnchorReceipt(
    chain_id=31337,
    contract="0x5FbDB2315678afecb367f032d93F642f64180aa3",
    tx_hash=bytes(range(32)),
    block_number=7,
    root_hash=root("a"),
    tree_size=1024,
    gas_used=51_997,
)
RECORD = AnchorRecord(
    root_hash=root("a"),
    tree_size=1024,
    block_number=7,
    timestamp=1_795_459_405,
    anchored_by="0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266",
)

# --------------------------------------------------------------------------- the artefact


COMMITTED = {"Anchor": 200, "Distributor": 5000, "TestToken": 200}  # artefact -> optimizer runs


@pytest.mark.parametrize("name", sorted(COMMITTED))
def test_the_committed_artefact_is_byte_identical_to_a_fresh_solcjs_compile(
    tmp_path: Path, name: str
):
    node = shutil.which("node")
    if node is None:
        unavailable(f"node is not on PATH; it compiles contracts/{name}.sol")
    if not (CONTRACTS / "node_modules" / "solc" / "package.json").is_file():
        unavailable("solc is not installed; run: npm ci --prefix contracts")
    fresh = tmp_path / f"{name}.json"
    done = subprocess.run(
        [node, str(CONTRACTS / "compile.js"), "--contract", name, "--out", str(fresh)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert fresh.read_bytes() == (CONTRACTS / f"{name}.json").read_bytes(), (
        f"contracts/{name}.json is stale: run node contracts/compile.js"
    )


@pytest.mark.parametrize("name", sorted(COMMITTED))
def test_the_artefact_names_the_pinned_compiler_settings_and_its_source(name: str):
    built = json.loads((CONTRACTS / f"{name}.json").read_text())
    source = (CONTRACTS / f"{name}.sol").read_bytes()
    assert built["sourceSha256"] == hashlib.sha256(source).hexdigest(), f"recompile {name}.sol"
    assert built["compiler"]["version"].startswith("0.8.37+commit.")
    assert built["settings"] == {
        "evmVersion": "shanghai",
        "optimizer": {"enabled": True, "runs": COMMITTED[name]},
        "metadata": {"bytecodeHash": "none"},
    }
    assert built["bytecode"].startswith("0x60") and built["deployedBytecode"].startswith("0x60")


def test_compile_js_refuses_an_unknown_contract_and_out_without_contract():
    node = shutil.which("node")
    if node is None:
        unavailable("node is not on PATH; it runs contracts/compile.js")
    for args, message in [
        (["--contract", "Nope"], 'compile.js: unknown contract "Nope"; one of Anchor, '),
        (["--out", "x.json"], "compile.js: --out needs --contract NAME"),
    ]:
        done = subprocess.run(
            [node, str(CONTRACTS / "compile.js"), *args], capture_output=True, text=True
        )
        assert (done.returncode, done.stderr.startswith(message)) == (1, True), done.stderr


def test_node_packages_are_pinned_to_exact_versions_in_manifest_and_lockfile():
    manifest = json.loads((CONTRACTS / "package.json").read_text())
    lock = json.loads((CONTRACTS / "package-lock.json").read_text())["packages"]
    pins = {
        "solc": "0.8.37",
        "@foundry-rs/anvil-linux-amd64": "1.7.1",
        "@openzeppelin/contracts": "4.7.0",  # the vendored Uniswap distributor's imports
        "@openzeppelin/merkle-tree": "1.0.8",  # the independent check of claims.py's tree
    }
    assert manifest["devDependencies"] == pins
    assert {name: lock[f"node_modules/{name}"]["version"] for name in pins} == pins


def test_importing_the_port_and_the_adapter_does_not_import_web3():
    code = (
        "import sys, ledger.provenance.anchoring, contracts.web3_anchor; "
        "print('web3' in sys.modules)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "False"


# --------------------------------------------------------------------------- the port's values


def test_a_receipt_and_a_record_survive_a_json_round_trip():
    assert AnchorReceipt.from_json(RECEIPT.to_json()) == RECEIPT
    assert AnchorReceipt.from_json(RECEIPT.to_dict()) == RECEIPT
    assert AnchorRecord.from_json(RECORD.to_json()) == RECORD
    assert json.loads(RECEIPT.to_json())["root_hash"] == "0x" + root("a").hex()
    assert RECORD.anchored_at.isoformat() == "2026-11-23T18:43:25+00:00"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("{not json", "AnchorReceipt: not JSON: Expecting property name enclosed in double quotes"),
        ("[1]", "AnchorReceipt: expected a JSON object, got list"),
        (
            {"chain_id": 1},
            "AnchorReceipt: missing fields ['block_number', 'contract', 'gas_used', ",
        ),
        ({**RECEIPT.to_dict(), "extra": 1}, "unexpected fields ['extra']"),
        ({**RECEIPT.to_dict(), "tx_hash": "00" * 32}, "tx_hash: expected 0x-prefixed hex, got '00"),
        ({**RECEIPT.to_dict(), "root_hash": "0xzz"}, "root_hash: not hex: '0xzz'"),
        ({**RECEIPT.to_dict(), "root_hash": "0x00"}, "root_hash: expected 32 bytes, got 1"),
        ({**RECEIPT.to_dict(), "tree_size": 0}, "tree_size: expected an integer in [1, "),
        ({**RECEIPT.to_dict(), "chain_id": True}, "chain_id: expected an integer in [1, "),
        (
            {**RECEIPT.to_dict(), "contract": "0x12"},
            "contract: expected a 0x-prefixed 20-byte address",
        ),
    ],
)
def test_a_malformed_receipt_is_refused_with_the_field_named(raw, message):
    with pytest.raises(AnchorMalformedError) as caught:
        AnchorReceipt.from_json(raw)
    assert message in str(caught.value)


def test_a_malformed_record_is_refused_with_the_field_named():
    with pytest.raises(AnchorMalformedError, match=r"^timestamp: expected an integer in \[0, "):
        AnchorRecord.from_json({**RECORD.to_dict(), "timestamp": -1})


def test_anchor_errors_sit_under_the_ledger_error_root_and_keep_malformed_apart():
    assert issubclass(AnchorError, LedgerError)
    assert issubclass(AnchorMalformedError, MalformedError)
    assert issubclass(AnchorVerificationError, VerificationError)
    assert issubclass(AnchorNotFoundError, AnchorVerificationError)
    for refusal in (AnchorTreeSizeError, AnchorDuplicateRootError, AnchorNotOwnerError):
        assert issubclass(refusal, AnchorRevertedError)


def _abi(selector_of: str, types: list[str], values: list) -> bytes:
    from eth_abi import encode
    from eth_utils import keccak

    return keccak(text=selector_of)[:4] + encode(types, values)


@pytest.mark.parametrize(
    ("data", "decoded"),
    [
        (b"", ("", {})),
        (_abi("Error(string)", ["string"], ["nope"]), ("Error", {"message": "nope"})),
        (_abi("Panic(uint256)", ["uint256"], [0x11]), ("Panic", {"code": 0x11})),
        (
            _abi("TreeSizeMustGrow(uint64,uint64)", ["uint64", "uint64"], [9, 3]),
            ("TreeSizeMustGrow", {"last": 9, "given": 3}),
        ),
        (
            _abi("NotOwner(address)", ["address"], ["0x" + "ab" * 20]),
            ("NotOwner", {"caller": "0xABaBaBaBABabABabAbAbABAbABabababaBaBABaB"}),
        ),
        (bytes.fromhex("deadbeef01"), ("", {"data": "0xdeadbeef01"})),
        (_abi("EmptyRoot()", [], [])[:4] + b"\x01", ("EmptyRoot", {})),
        (_abi("TreeSizeMustGrow(uint64,uint64)", [], [])[:4] + b"\x01", ("", {"data": ANY})),
    ],
)
def test_decodes_revert_data_from_the_contract_abi_and_never_raises(data, decoded):
    from contracts.web3_anchor import decode_revert

    assert decode_revert(data) == decoded


# --------------------------------------------------------------------------- happy path


@pytest.mark.chain
def test_anchors_a_checkpoint_and_finds_it_again_on_chain(chain: Chain, anchor):
    assert isinstance(anchor, Anchor) and isinstance(anchor, VerifiableAnchor)
    checkpoint = Checkpoint(size=1024, root_hash=root("first"))

    receipt = anchor.anchor(checkpoint)

    assert (receipt.chain_id, receipt.contract) == (chain.chain_id, anchor.address)
    assert (receipt.root_hash, receipt.tree_size) == (checkpoint.root_hash, 1024)
    block = chain.w3.eth.get_block(receipt.block_number)
    assert receipt.tx_hash in [bytes(tx) for tx in block["transactions"]]
    assert anchor.lookup(checkpoint.root_hash) == AnchorRecord(
        root_hash=checkpoint.root_hash,
        tree_size=1024,
        block_number=receipt.block_number,
        timestamp=block["timestamp"],
        anchored_by=address_of(chain.keys[0]),
    )
    assert anchor.latest_tree_size() == 1024
    assert anchor.verify_receipt(receipt) is None
    assert AnchorReceipt.from_json(receipt.to_json()) == receipt


@pytest.mark.chain
def test_the_ledgers_own_checkpoint_fits_the_port(anchor):
    from ledger.provenance.note import Checkpoint as LedgerCheckpoint

    checkpoint = LedgerCheckpoint(origin="cocred.test/log", size=3, root_hash=root("three"))
    receipt = anchor.anchor(checkpoint)
    assert (receipt.root_hash, receipt.tree_size) == (checkpoint.root_hash, 3)


@pytest.mark.chain
def test_a_root_never_anchored_looks_up_as_none(anchor):
    assert anchor.lookup(root("never")) is None
    assert anchor.latest_tree_size() == 0


@pytest.mark.chain
def test_one_anchor_costs_the_same_bounded_gas_whatever_the_batch_size(anchor):
    small = anchor.anchor(Checkpoint(1, root("one leaf")))
    huge = anchor.anchor(Checkpoint(2**64 - 1, root("the largest tree")))
    assert small.gas_used < GAS_BOUND and huge.gas_used < GAS_BOUND
    assert abs(small.gas_used - huge.gas_used) < 500


# --------------------------------------------------------------------------- refusals


@pytest.mark.chain
def test_refuses_a_tree_size_that_does_not_grow(anchor):
    anchor.anchor(Checkpoint(5, root("five")))
    for size in (5, 4):
        with pytest.raises(AnchorTreeSizeError) as caught:
            anchor.anchor(Checkpoint(size, root(f"again {size}")))
        assert str(caught.value) == (
            f"anchor reverted: TreeSizeMustGrow(last=5, given={size}): "
            f"the tree size must grow: last anchored 5, given {size}"
        )
        assert (caught.value.error, caught.value.arguments) == (
            "TreeSizeMustGrow",
            {"last": 5, "given": size},
        )
    assert anchor.latest_tree_size() == 5


@pytest.mark.chain
def test_refuses_to_anchor_the_same_root_twice(anchor):
    same = root("same")
    anchor.anchor(Checkpoint(5, same))
    with pytest.raises(AnchorDuplicateRootError) as caught:
        anchor.anchor(Checkpoint(6, same))
    assert str(caught.value) == (
        f"anchor reverted: RootAlreadyAnchored(root=0x{same.hex()}, treeSize=5): "
        f"root 0x{same.hex()} was already anchored at tree size 5"
    )
    assert anchor.lookup(same).tree_size == 5


@pytest.mark.chain
def test_refuses_a_key_that_is_not_the_owner(chain: Chain, contract_address: str):
    stranger = connect(chain, contract_address, chain.keys[1])
    caller = address_of(chain.keys[1])
    with pytest.raises(AnchorNotOwnerError) as caught:
        stranger.anchor(Checkpoint(1, root("front-run")))
    assert str(caught.value) == (
        f"anchor reverted: NotOwner(caller={caller}): "
        f"only the owner may do this, and {caller} is not the owner"
    )
    assert stranger.lookup(root("front-run")) is None


@pytest.mark.chain
def test_refuses_the_zero_root(anchor):
    with pytest.raises(AnchorRevertedError) as caught:
        anchor.anchor(Checkpoint(1, bytes(32)))
    assert str(caught.value) == "anchor reverted: EmptyRoot(): the zero root cannot be anchored"


@pytest.mark.chain
def test_a_revert_mined_on_chain_is_decoded_like_one_caught_before_sending(
    chain: Chain, contract_address: str
):
    # A fixed gas limit skips the estimate, so the doomed transaction is mined.
    anchor = connect(chain, contract_address, chain.keys[0], gas_limit=100_000)
    anchor.anchor(Checkpoint(5, root("five")))
    with pytest.raises(AnchorTreeSizeError) as caught:
        anchor.anchor(Checkpoint(3, root("three")))
    tx_hash = caught.value.tx_hash
    block = chain.w3.eth.get_transaction_receipt(tx_hash)["blockNumber"]
    assert str(caught.value) == (
        "anchor reverted: TreeSizeMustGrow(last=5, given=3): the tree size must grow: "
        f"last anchored 5, given 3 (tx 0x{tx_hash.hex()} in block {block})"
    )


@pytest.mark.chain
def test_a_transaction_that_runs_out_of_gas_on_chain_says_so(chain: Chain, contract_address: str):
    anchor = connect(chain, contract_address, chain.keys[0], gas_limit=30_000)
    with pytest.raises(AnchorRevertedError) as caught:
        anchor.anchor(Checkpoint(1, root("starved")))
    tx_hash = caught.value.tx_hash
    block = chain.w3.eth.get_transaction_receipt(tx_hash)["blockNumber"]
    assert str(caught.value) == (
        f"anchor reverted: out of gas (used all 30000) (tx 0x{tx_hash.hex()} in block {block})"
    )
    assert anchor.lookup(root("starved")) is None


@pytest.mark.chain
@pytest.mark.parametrize(
    ("checkpoint", "message"),
    [
        (Checkpoint(1, b"short"), "checkpoint root_hash: expected 32 bytes, got 5"),
        (
            Checkpoint(0, root("x")),
            "checkpoint size: expected an integer in [1, 18446744073709551615]",
        ),
        (Checkpoint(2**64, root("x")), "checkpoint size: expected an integer in [1, "),
    ],
)
def test_refuses_a_checkpoint_the_contract_cannot_hold_before_sending(anchor, checkpoint, message):
    with pytest.raises(AnchorMalformedError) as caught:
        anchor.anchor(checkpoint)
    assert str(caught.value).startswith(message)


@pytest.mark.chain
def test_an_unfunded_owner_gets_a_typed_node_error(chain: Chain):
    from contracts.web3_anchor import Web3Anchor

    broke = "0x" + "42" * 32
    address = Web3Anchor.deploy(chain.w3, chain.keys[0], chain.chain_id, owner=address_of(broke))
    with pytest.raises(AnchorNodeError) as caught:
        connect(chain, address, broke).anchor(Checkpoint(1, root("no funds")))
    assert str(caught.value).startswith("anchor: the node at ")
    assert "refused the request" in str(caught.value)
    assert broke[2:] not in str(caught.value)


# --------------------------------------------------------------------------- configuration


@pytest.mark.chain
def test_refuses_a_chain_id_other_than_the_nodes(chain: Chain, contract_address: str):
    from contracts.web3_anchor import Web3Anchor

    with pytest.raises(AnchorConfigError) as caught:
        Web3Anchor(chain.w3, contract_address, chain.keys[0], chain_id=1)
    assert str(caught.value).startswith("chain id mismatch: expected 1, the node at ")
    assert str(caught.value).endswith(f" reports {chain.chain_id}")


@pytest.mark.chain
def test_refuses_an_address_without_the_anchor_contract(chain: Chain, contract_address: str):
    empty = address_of(chain.keys[2])
    with pytest.raises(AnchorConfigError) as caught:
        connect(chain, empty, chain.keys[0])
    assert str(caught.value) == f"no contract at {empty} on chain {chain.chain_id}"


@pytest.mark.chain
def test_refuses_an_address_holding_some_other_contract(chain: Chain):
    from eth_account import Account

    # Init code that copies a 1-byte runtime (STOP) and returns it: a contract, not ours.
    account = Account.from_key(chain.keys[2])
    creation = {
        "data": "0x6001600c60003960016000f300",
        "nonce": chain.w3.eth.get_transaction_count(account.address),
        "gas": 100_000,
        "chainId": chain.chain_id,
        "maxFeePerGas": 10**10,
        "maxPriorityFeePerGas": 10**9,
    }
    tx_hash = chain.w3.eth.send_raw_transaction(account.sign_transaction(creation).raw_transaction)
    other = chain.w3.eth.wait_for_transaction_receipt(tx_hash)["contractAddress"]
    assert chain.w3.eth.get_code(other) == b"\x00"
    with pytest.raises(AnchorConfigError) as caught:
        connect(chain, other, chain.keys[0])
    assert str(caught.value) == (
        f"the contract at {other} on chain {chain.chain_id} is not cocred's Anchor: "
        "its code differs from contracts/Anchor.json"
    )


@pytest.mark.chain
@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("0x1234", "private key: not a valid 32-byte secp256k1 key"),
        ("0x" + "00" * 32, "private key: not a valid 32-byte secp256k1 key"),
        (b"\x01" * 32, "private key: expected a hex string"),
    ],
)
def test_refuses_a_bad_private_key_without_echoing_it(chain: Chain, contract_address, key, message):
    with pytest.raises(AnchorConfigError) as caught:
        connect(chain, contract_address, key)
    assert str(caught.value) == message
    assert caught.value.__suppress_context__ or caught.value.__context__ is None


@pytest.mark.chain
def test_the_private_key_never_shows_in_repr(chain: Chain, anchor):
    shown = repr(anchor)
    assert chain.keys[0][2:] not in shown.lower()
    assert shown.startswith(f"Web3Anchor(contract={anchor.address}, chain_id={chain.chain_id}, ")


def test_a_dead_node_gives_a_connection_error():
    from contracts.web3_anchor import Web3Anchor

    port = free_port()
    with pytest.raises(AnchorConnectionError) as caught:
        Web3Anchor.from_rpc(
            f"http://127.0.0.1:{port}/secret-api-key", RECEIPT.contract, ANVIL_KEYS[0], 31337
        )
    assert str(caught.value) == (
        f"connect: cannot reach the Ethereum node at http://127.0.0.1:{port}: connection refused"
    )


def test_a_node_that_hangs_up_mid_request_gives_a_connection_lost_error():
    import socket

    from contracts.web3_anchor import Web3Anchor

    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]

    def hang_up() -> None:  # read each request, then close without a response
        with server:
            for _ in range(8):
                try:
                    conn, _ = server.accept()
                except OSError:
                    return
                with conn:
                    conn.recv(65536)

    threading.Thread(target=hang_up, daemon=True).start()
    try:
        with pytest.raises(AnchorConnectionError) as caught:
            Web3Anchor.from_rpc(
                f"http://127.0.0.1:{port}/secret-api-key", RECEIPT.contract, ANVIL_KEYS[0], 31337
            )
    finally:
        server.close()
    assert str(caught.value) == (
        f"connect: cannot reach the Ethereum node at http://127.0.0.1:{port}: connection lost"
    )


def test_refuses_a_node_url_that_is_not_http():
    from contracts.web3_anchor import Web3Anchor

    with pytest.raises(AnchorConfigError, match=r"^node URL: expected http\(s\)://host"):
        Web3Anchor.from_rpc("ws://127.0.0.1:8545", RECEIPT.contract, ANVIL_KEYS[0], 31337)


@pytest.mark.chain
def test_a_node_that_goes_away_gives_a_connection_error_on_the_next_anchor():
    from contracts.web3_anchor import Web3Anchor

    with running_anvil("--quiet") as node:
        address = Web3Anchor.deploy(_anvil_web3(node.url), ANVIL_KEYS[0], 31337)
        anchor = Web3Anchor.from_rpc(node.url, address, ANVIL_KEYS[0], 31337, request_timeout=2)
    with pytest.raises(AnchorConnectionError) as caught:
        anchor.anchor(Checkpoint(1, root("too late")))
    assert str(caught.value) == (
        f"anchor: cannot reach the Ethereum node at {node.url}: connection refused"
    )
    assert caught.value.tx_hash is None


@pytest.mark.chain
def test_losing_the_node_after_sending_names_the_sent_transaction():
    from contracts.web3_anchor import Web3Anchor

    with running_anvil("--quiet") as node:
        w3 = _anvil_web3(node.url)
        address = Web3Anchor.deploy(w3, ANVIL_KEYS[0], 31337)
        anchor = Web3Anchor.from_rpc(node.url, address, ANVIL_KEYS[0], 31337, poll_interval=0.05)
        w3.provider.make_request("evm_setAutomine", [False])  # the tx will sit in the pool
        threading.Timer(0.5, node.process.terminate).start()
        with pytest.raises(AnchorConnectionError) as caught:
            anchor.anchor(Checkpoint(1, root("in flight")))
    tx_hash = caught.value.tx_hash
    # The node dies between two receipt polls (refused) or during one (lost): a race.
    assert str(caught.value) in {
        f"anchor: cannot reach the Ethereum node at {node.url}: connection {how}; "
        f"tx 0x{tx_hash.hex()} was sent: look it up before resending"
        for how in ("refused", "lost")
    }


@pytest.mark.chain
def test_a_transaction_that_is_never_mined_times_out_naming_its_hash():
    from contracts.web3_anchor import Web3Anchor

    with running_anvil("--quiet", "--no-mining") as node:
        w3 = _anvil_web3(node.url)
        with pytest.raises(AnchorTimeoutError) as caught:
            Web3Anchor.deploy(w3, ANVIL_KEYS[0], 31337, receipt_timeout=0.3, poll_interval=0.05)
        tx_hash = caught.value.tx_hash
        assert str(caught.value) == (
            f"deploy: no receipt for tx 0x{tx_hash.hex()} after 0.3 s; it may still be mined"
        )
        assert w3.eth.get_transaction(tx_hash)["blockNumber"] is None  # pending, not lost


def _anvil_web3(url: str):
    from web3 import HTTPProvider, Web3

    return Web3(HTTPProvider(url))


# --------------------------------------------------------------------------- key rotation


@pytest.mark.chain
def test_the_owner_hands_anchoring_to_a_new_key_in_two_steps(
    chain: Chain, contract_address, anchor
):
    old, new = address_of(chain.keys[0]), address_of(chain.keys[1])
    successor = connect(chain, contract_address, chain.keys[1])
    anchor.anchor(Checkpoint(1, root("by the old key")))

    anchor.propose_owner(new)
    with pytest.raises(AnchorNotOwnerError):  # proposed is not yet owner
        successor.anchor(Checkpoint(2, root("too early")))
    successor.accept_ownership()

    assert anchor.owner() == new
    successor.anchor(Checkpoint(2, root("by the new key")))
    with pytest.raises(AnchorNotOwnerError) as caught:
        anchor.anchor(Checkpoint(3, root("by the retired key")))
    assert str(caught.value).startswith(f"anchor reverted: NotOwner(caller={old}): ")
    assert anchor.lookup(root("by the old key")).anchored_by == old
    assert anchor.lookup(root("by the new key")).anchored_by == new


@pytest.mark.chain
def test_only_the_proposed_key_can_accept_ownership(chain: Chain, contract_address, anchor):
    intruder = connect(chain, contract_address, chain.keys[2])
    anchor.propose_owner(address_of(chain.keys[1]))
    with pytest.raises(AnchorRevertedError) as caught:
        intruder.accept_ownership()
    caller = address_of(chain.keys[2])
    assert str(caught.value) == (
        f"accept ownership reverted: NotPendingOwner(caller={caller}): "
        f"{caller} is not the proposed owner"
    )
    with pytest.raises(AnchorNotOwnerError, match=r"^propose owner reverted: NotOwner"):
        intruder.propose_owner(address_of(chain.keys[2]))


# --------------------------------------------------------------------------- tampered receipts


@pytest.mark.chain
def test_a_tampered_receipt_fails_verification_naming_the_mismatch(chain: Chain, anchor):
    first = anchor.anchor(Checkpoint(10, root("ten")))
    second = anchor.anchor(Checkpoint(20, root("twenty")))
    tx, deploy_tx = f"0x{first.tx_hash.hex()}", _deploy_tx_hash(chain, anchor.address)
    not_an_anchor = anchor.propose_owner(anchor.sender)  # a call to the contract, no Anchored
    not_an_anchor_block = chain.w3.eth.get_transaction_receipt(not_an_anchor)["blockNumber"]
    elsewhere = connect(chain, _deploy(chain), chain.keys[0]).anchor(Checkpoint(10, root("ten")))
    cases = [
        (
            dataclasses.replace(first, root_hash=root("forged")),
            AnchorVerificationError,
            f"anchor receipt: root mismatch in tx {tx}: expected 0x{root('forged').hex()}, "
            f"got 0x{root('ten').hex()}",
        ),
        (
            dataclasses.replace(first, tree_size=11),
            AnchorVerificationError,
            f"anchor receipt: tree size mismatch in tx {tx}: expected 11, got 10",
        ),
        (
            dataclasses.replace(first, block_number=first.block_number + 1),
            AnchorVerificationError,
            f"anchor receipt: block mismatch for tx {tx}: expected {first.block_number + 1}, "
            f"got {first.block_number}",
        ),
        (
            dataclasses.replace(first, tx_hash=second.tx_hash),
            AnchorVerificationError,
            f"anchor receipt: block mismatch for tx 0x{second.tx_hash.hex()}: "
            f"expected {first.block_number}, got {second.block_number}",
        ),
        (
            dataclasses.replace(second, root_hash=first.root_hash, tree_size=10),
            AnchorVerificationError,
            f"anchor receipt: root mismatch in tx 0x{second.tx_hash.hex()}: "
            f"expected 0x{root('ten').hex()}, got 0x{root('twenty').hex()}",
        ),
        (
            dataclasses.replace(first, tx_hash=b"\x77" * 32),
            AnchorNotFoundError,
            f"anchor receipt: tx 0x{'77' * 32} not found on chain {chain.chain_id}",
        ),
        (
            dataclasses.replace(first, tx_hash=deploy_tx[0], block_number=deploy_tx[1]),
            AnchorVerificationError,
            f"anchor receipt: tx 0x{deploy_tx[0].hex()} calls a new contract, "
            f"not the contract {anchor.address}",
        ),
        (
            dataclasses.replace(first, tx_hash=not_an_anchor, block_number=not_an_anchor_block),
            AnchorVerificationError,
            f"anchor receipt: tx 0x{not_an_anchor.hex()} emitted 0 Anchored events, expected 1",
        ),
        (
            dataclasses.replace(
                first, tx_hash=elsewhere.tx_hash, block_number=elsewhere.block_number
            ),
            AnchorVerificationError,
            f"anchor receipt: tx 0x{elsewhere.tx_hash.hex()} calls {elsewhere.contract}, "
            f"not the contract {anchor.address}",
        ),
        (
            dataclasses.replace(first, chain_id=1),
            AnchorVerificationError,
            f"anchor receipt: chain mismatch: expected {chain.chain_id}, got 1",
        ),
        (
            dataclasses.replace(first, contract="0x" + "11" * 20),
            AnchorVerificationError,
            f"anchor receipt: contract mismatch: expected {anchor.address}, got 0x{'11' * 20}",
        ),
    ]
    for tampered, error, message in cases:
        with pytest.raises(error) as caught:
            anchor.verify_receipt(tampered)
        assert str(caught.value) == message


def _deploy_tx_hash(chain: Chain, address: str) -> tuple[bytes, int]:
    """Find the transaction that created ``address`` by scanning recent blocks."""
    latest = chain.w3.eth.block_number
    for number in range(latest, max(latest - 50, -1), -1):
        for tx_hash in chain.w3.eth.get_block(number)["transactions"]:
            found = chain.w3.eth.get_transaction_receipt(tx_hash)
            if found["contractAddress"] == address:
                return bytes(tx_hash), number
    raise AssertionError(f"no deployment of {address} in the last 50 blocks")


def _deploy(chain: Chain) -> str:
    from contracts.web3_anchor import Web3Anchor

    return Web3Anchor.deploy(chain.w3, chain.keys[0], chain.chain_id)
