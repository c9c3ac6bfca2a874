"""The claims rail: ClaimTree, Distributor.sol and TestToken.sol, and contracts/claims.py.

Chain scenarios run on an in-process eth-tester chain and on a real anvil node over
JSON-RPC (the ``chain`` fixture, conftest.py). The Python tree's roots and proofs are
checked by the contract itself (the interop proof) and against OpenZeppelin's own
merkle-tree package (oz_merkle_tree.js), an implementation not written here. Every
refusal asserts the error type, its code and its message, and that nothing changed.
"""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import sys
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contracts import claims
from contracts.claim_tree import ClaimTree, leaf_hash, process_proof, verify_proof
from contracts.errors import (
    AlreadyClaimedError,
    ChainTxError,
    ClaimEntryError,
    ClaimRevertedError,
    ClaimsConfigError,
    ClaimsError,
    InvalidClaimProofError,
    UnknownClaimIndexError,
)
from ledger.errors import MalformedError, VerificationError
from tests.support import unavailable

from .conftest import ROOT, Chain

UNISWAP_GAS = 78_000  # Uniswap's distributor, per claim: the target to beat
HERE = ROOT / "tests" / "contracts"


def accounts(n: int, seed: int = 1) -> list[str]:
    """n seeded fresh EIP-55 addresses (no balance anywhere)."""
    from eth_account import Account

    rng = random.Random(seed)
    return [Account.from_key(rng.randbytes(32)).address for _ in range(n)]


def address_of(key: str) -> str:
    from eth_account import Account

    return str(Account.from_key(key).address)


A, B, C = accounts(3)
FLIP = next(i for i, ch in enumerate(A) if i > 1 and ch.isalpha())
BAD_CASE = A[:FLIP] + A[FLIP].swapcase() + A[FLIP + 1 :]  # one letter's case wrong
ENTRIES = [(0, A, 10**18), (1, B, 2 * 10**18 + 5), (7, C, 1), (300, A, 42)]  # two words, A twice


# --------------------------------------------------------------------------- the tree


def test_every_proof_leads_from_its_leaf_to_the_root():
    tree = ClaimTree.build(ENTRIES)
    assert tree.entries == tuple(ENTRIES)
    assert len(tree.root) == 32 and tree.root_hex == "0x" + tree.root.hex()
    for entry in ENTRIES:
        assert process_proof(leaf_hash(*entry), tree.proof(entry[0])) == tree.root
        assert verify_proof(tree.root, entry, tree.proof(entry[0]))
    assert (tree.total, tree.bitmap_words) == (3 * 10**18 + 48, [0, 1])  # 300 is in word 1
    assert tree.entry(7) == (7, C, 1)


def test_a_one_entry_tree_has_the_leaf_as_root_and_an_empty_proof():
    tree = ClaimTree.build([(5, A, 3)])
    assert (tree.root, tree.proof(5)) == (leaf_hash(5, A, 3), [])


def test_a_proof_for_another_account_amount_or_index_does_not_verify():
    tree = ClaimTree.build(ENTRIES)
    proof = tree.proof(1)
    for wrong in [(1, A, 2 * 10**18 + 5), (1, B, 2 * 10**18 + 6), (0, B, 2 * 10**18 + 5)]:
        assert not verify_proof(tree.root, wrong, proof)
    assert not verify_proof(tree.root, (1, B, 2 * 10**18 + 5), proof[:-1])
    assert not verify_proof(tree.root, (1, B.lower(), 2 * 10**18 + 5), proof)
    assert not verify_proof(tree.root, (1, B, 2 * 10**18 + 5), ["00" * 32])  # type: ignore[list-item]


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        ([], "claim tree: no entries; a Distributor needs at least one"),
        ([(0, A)], f"claim tree: entry 0: expected (index, account, amount), got (0, '{A}')"),
        ([(-1, A, 1)], "claim tree: entry 0: index must be an integer in [0, 2**256), got -1"),
        ([(True, A, 1)], "claim tree: entry 0: index must be an integer in [0, 2**256), got True"),
        (
            [(2**256, A, 1)],
            "claim tree: entry 0: index must be an integer in [0, 2**256), got 1157",
        ),
        (
            [(0, A, 1), (1, B, 1), (0, C, 2)],
            "claim tree: index 0 appears twice (entries 0 and 2); each index is claimed once",
        ),
        (
            [(0, A.lower(), 1)],
            f"claim tree: entry 0 (index 0): '{A.lower()}' is not an EIP-55 checksum address",
        ),
        (
            [(3, BAD_CASE, 1)],
            f"claim tree: entry 0 (index 3): '{BAD_CASE}' is not an EIP-55 checksum address",
        ),
        ([(0, "0x" + "0" * 40, 1)], "claim tree: entry 0 (index 0): the zero address cannot claim"),
        (
            [(0, A, -5)],
            "claim tree: entry 0 (index 0): amount must be a positive integer below 2**256 "
            "(token units), got -5",
        ),
        ([(0, A, 0)], "claim tree: entry 0 (index 0): amount must be a positive integer below"),
        ([(0, A, 1.5)], "claim tree: entry 0 (index 0): amount must be a positive integer below"),
        (
            [(0, A, 2**256 - 1), (1, B, 1)],
            f"claim tree: the amounts add up to {2**256}, past 2**256 - 1",
        ),
    ],
)
def test_refuses_bad_entries_naming_the_entry(entries, message):
    with pytest.raises(ClaimEntryError) as caught:
        ClaimTree.build(entries)
    assert str(caught.value).startswith(message), str(caught.value)
    assert caught.value.code == "BadClaimEntry"
    assert isinstance(caught.value, MalformedError) and isinstance(caught.value, ClaimsError)


def test_refuses_a_proof_for_an_index_the_tree_does_not_have():
    tree = ClaimTree.build(ENTRIES)
    for index in (2, "0", None):
        with pytest.raises(UnknownClaimIndexError) as caught:
            tree.proof(index)  # type: ignore[arg-type]
        assert str(caught.value) == f"claim tree {tree.root_hex}: no entry has index {index!r}"
        assert (caught.value.code, caught.value.ids) == ("UnknownClaimIndex", {"index": index})
    with pytest.raises(UnknownClaimIndexError):
        tree.entry(2)


def _node() -> str:
    node = shutil.which("node")
    if node is None:
        unavailable("node is not on PATH; it runs OpenZeppelin's merkle-tree")
    if not (ROOT / "contracts/node_modules/@openzeppelin/merkle-tree/package.json").is_file():
        unavailable("@openzeppelin/merkle-tree is not installed; run: npm ci --prefix contracts")
    return node


def test_openzeppelins_merkle_tree_builds_the_same_roots_and_proofs_and_loads_our_dump():
    node, rng = _node(), random.Random(17)
    trees = [ClaimTree.build(ENTRIES)] + [
        ClaimTree.build(
            [
                (index, account, rng.randrange(1, 10**24))
                for index, account in zip(
                    rng.sample(range(10**6), n), accounts(n, seed=n), strict=True
                )
            ]
        )
        for n in (1, 2, 3, 5, 8, 33, 100)
    ]
    cases = [
        {"entries": [[str(i), a, str(m)] for i, a, m in tree.entries], "dump": tree.dump()}
        for tree in trees
    ]
    done = subprocess.run(
        [node, str(HERE / "oz_merkle_tree.js")],
        input=json.dumps(cases), capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    for tree, theirs in zip(trees, json.loads(done.stdout), strict=True):
        assert theirs["root"] == theirs["loadedRoot"] == tree.root_hex
        assert theirs["verified"] is True
        assert theirs["proofs"] == {
            str(i): ["0x" + p.hex() for p in tree.proof(i)] for i, _, _ in tree.entries
        }


entry_lists = st.lists(
    st.tuples(
        st.integers(0, 2**256 - 1),
        st.integers(0, 15),  # which of 16 accounts: accounts may repeat, indices may not
        st.integers(1, 10**30),
    ),
    min_size=1,
    max_size=40,
    unique_by=lambda entry: entry[0],
)
POOL = accounts(16, seed=99)


@given(entry_lists)
@settings(max_examples=150, deadline=None)
def test_property_every_index_has_a_proof_that_verifies_and_only_for_its_own_leaf(rows):
    entries = [(index, POOL[who], amount) for index, who, amount in rows]
    tree = ClaimTree.build(entries)
    for index, account, amount in entries:
        proof = tree.proof(index)
        assert verify_proof(tree.root, (index, account, amount), proof)
        assert not verify_proof(tree.root, (index, account, amount + 1), proof)
        assert len(proof) <= (2 * len(entries) - 1).bit_length()
    assert ClaimTree.build(list(reversed(entries))).root == tree.root  # order does not matter


# --------------------------------------------------------------------------- on chain


@dataclass
class Rail:
    """A funded Distributor for ``tree`` on ``chain``: the brand deploys, another key claims."""

    chain: Chain
    tree: ClaimTree
    token: str
    distributor: str

    @property
    def w3(self) -> Any:
        return self.chain.w3

    def claim(self, index: int, account: str, amount: int, proof: list[bytes]) -> claims.Claimed:
        return claims.claim(
            self.w3, self.distributor, index, account, amount, proof,
            private_key=self.chain.keys[1], poll_interval=0.01,
        )  # fmt: skip

    def balances(self) -> dict[str, int]:
        holders = {a for _, a, _ in self.tree.entries} | {self.distributor}
        return {h: claims.balance_of(self.w3, self.token, h) for h in sorted(holders)}


def make_rail(chain: Chain, entries: list, *, funded: bool = True, **deploy: Any) -> Rail:
    tree = ClaimTree.build(entries)
    brand = chain.keys[0]
    # Enough for any tree: up to 40 entries of up to 10**30 each (entry_lists below).
    supply = max(10**30, tree.total)
    token = claims.deploy_token(chain.w3, private_key=brand, supply=supply, poll_interval=0.01)
    address = claims.deploy_distributor(
        chain.w3, token, tree, private_key=brand, poll_interval=0.01, **deploy
    )
    if funded:
        claims.fund(chain.w3, token, address, tree.total, private_key=brand, poll_interval=0.01)
    return Rail(chain, tree, token, address)


@pytest.fixture
def rail(chain: Chain) -> Rail:
    return make_rail(chain, ENTRIES)


@pytest.mark.chain
def test_every_leaf_is_claimed_once_and_moves_exactly_its_amount(rail: Rail):
    w3, before = rail.w3, rail.balances()
    assert before[rail.distributor] == rail.tree.total
    assert not any(claims.is_claimed(w3, rail.distributor, i) for i, _, _ in ENTRIES)
    receipts = []
    for index, account, amount in ENTRIES:
        done = rail.claim(index, account, amount, rail.tree.proof(index))
        assert (done.index, done.account, done.amount) == (index, account, amount)
        assert claims.is_claimed(w3, rail.distributor, index)
        assert claims.transfers_in_tx(w3, rail.token, done.tx_hash) == [
            claims.Transfer(rail.distributor, account, amount)
        ]
        assert claims.transfers_in_tx(w3, rail.token, "0x" + done.tx_hash.hex()) == [
            claims.Transfer(rail.distributor, account, amount)
        ]  # as a payment record carries it
        receipts.append(w3.eth.get_transaction_receipt(done.tx_hash))
    after = rail.balances()
    assert after[rail.distributor] == 0
    assert after[A] == 10**18 + 42 and after[B] == 2 * 10**18 + 5 and after[C] == 1
    assert claims.read_claims(w3, rail.distributor) == [
        claims.Claimed(i, a, m, bytes(r["transactionHash"]))
        for (i, a, m), r in zip(ENTRIES, receipts, strict=True)
    ]
    last_block = receipts[-1]["blockNumber"]
    assert [c.index for c in claims.read_claims(w3, rail.distributor, last_block)] == [300]
    assert max(r["gasUsed"] for r in receipts) < UNISWAP_GAS


def _nonce(rail: Rail) -> int:
    return int(rail.w3.eth.get_transaction_count(address_of(rail.chain.keys[1])))


@pytest.mark.chain
def test_a_wrong_proof_amount_or_account_is_refused_and_changes_nothing(rail: Rail):
    proof, before, nonce = rail.tree.proof(1), rail.balances(), _nonce(rail)
    wrong = [
        (1, B, 2 * 10**18 + 5, rail.tree.proof(0)),  # another leaf's proof
        (1, B, 2 * 10**18 + 5, proof[:-1]),  # cut short
        (1, B, 2 * 10**18 + 6, proof),  # one unit more
        (1, C, 2 * 10**18 + 5, proof),  # someone else's account
        (0, B, 2 * 10**18 + 5, proof),  # another index
    ]
    for index, account, amount, bad in wrong:
        with pytest.raises(InvalidClaimProofError) as caught:
            rail.claim(index, account, amount, bad)
        assert str(caught.value) == (
            f"claim {index} reverted: InvalidProof(index={index}): the proof does not lead from "
            f"leaf {index} with this account and amount to the Distributor's root"
        )
        assert (caught.value.code, caught.value.error) == ("InvalidClaimProof", "InvalidProof")
        assert caught.value.tx_hash is None  # refused in the pre-flight: nothing was sent
    assert (rail.balances(), _nonce(rail)) == (before, nonce)
    assert not claims.is_claimed(rail.w3, rail.distributor, 1)
    assert claims.read_claims(rail.w3, rail.distributor) == []


@pytest.mark.chain
def test_a_second_claim_of_an_index_is_refused(rail: Rail):
    rail.claim(7, C, 1, rail.tree.proof(7))
    before, nonce = rail.balances(), _nonce(rail)
    with pytest.raises(AlreadyClaimedError) as caught:
        rail.claim(7, C, 1, rail.tree.proof(7))
    assert str(caught.value) == (
        "claim 7 reverted: AlreadyClaimed(index=7): index 7 was claimed before; "
        "each index is paid once"
    )
    assert caught.value.code == "AlreadyClaimed"
    assert (rail.balances(), _nonce(rail)) == (before, nonce)
    assert len(claims.read_claims(rail.w3, rail.distributor)) == 1


@pytest.mark.chain
def test_a_second_claim_mined_without_a_preflight_fails_on_chain_and_names_its_tx(rail: Rail):
    rail.claim(0, A, 10**18, rail.tree.proof(0))
    with pytest.raises(AlreadyClaimedError) as caught:
        claims.claim(
            rail.w3, rail.distributor, 0, A, 10**18, rail.tree.proof(0),
            private_key=rail.chain.keys[1], gas_limit=200_000, poll_interval=0.01,
        )  # fmt: skip
    tx_hash = caught.value.tx_hash
    assert tx_hash is not None
    assert str(caught.value).startswith("claim 0 reverted: AlreadyClaimed(index=0): index 0 was ")
    assert str(caught.value).endswith(f"(tx 0x{tx_hash.hex()} in block {_block_of(rail, tx_hash)})")
    with pytest.raises(ChainTxError) as failed:  # the audit asks what a failed tx paid
        claims.transfers_in_tx(rail.w3, rail.token, tx_hash)
    assert str(failed.value) == (
        f"transfers: tx 0x{tx_hash.hex()} failed on chain (status 0); it moved no tokens"
    )
    assert isinstance(failed.value, VerificationError) and failed.value.code == "ChainTxUnverified"


def _block_of(rail: Rail, tx_hash: bytes) -> int:
    return int(rail.w3.eth.get_transaction_receipt(tx_hash)["blockNumber"])


@pytest.mark.chain
def test_an_underfunded_distributor_refuses_the_claim_it_cannot_pay(chain: Chain):
    rail = make_rail(chain, ENTRIES, funded=False)
    claims.fund(chain.w3, rail.token, rail.distributor, 10**18, private_key=chain.keys[0])
    rail.claim(0, A, 10**18, rail.tree.proof(0))
    with pytest.raises(ClaimRevertedError) as caught:
        rail.claim(1, B, 2 * 10**18 + 5, rail.tree.proof(1))
    assert str(caught.value) == (
        f"claim 1 reverted: TransferFailed(account={B}, amount={2 * 10**18 + 5}): the token did "
        f"not send {2 * 10**18 + 5} to {B}: does the Distributor hold enough?"
    )
    assert (caught.value.code, caught.value.error) == ("ClaimReverted", "TransferFailed")
    assert not claims.is_claimed(chain.w3, rail.distributor, 1)  # the revert undid the bit


@pytest.mark.chain
def test_deployment_refuses_a_token_without_code_and_a_zero_root(chain: Chain):
    tree, brand = ClaimTree.build(ENTRIES), chain.keys[0]
    eoa = address_of(chain.keys[2])
    with pytest.raises(ClaimRevertedError) as caught:
        claims.deploy_distributor(chain.w3, eoa, tree, private_key=brand)
    assert str(caught.value) == (
        f"deploy distributor reverted: NotAContract(token={eoa}): {eoa} has no code, "
        "so it is not an ERC-20 token"
    )
    token = claims.deploy_token(chain.w3, private_key=brand)
    with pytest.raises(ClaimRevertedError) as caught:
        claims.deploy_distributor(chain.w3, token, bytes(32), private_key=brand)
    assert (
        str(caught.value)
        == "deploy distributor reverted: EmptyRoot(): the zero root is no tree's root"
    )
    for root, message in [
        (b"\x01" * 31, "deploy distributor: the root must be 32 bytes, got b'\\x01"),
        ("ab" * 32, "deploy distributor: the root must be 32 bytes, got 'abab"),
    ]:
        with pytest.raises(ClaimsConfigError) as refused:
            claims.deploy_distributor(chain.w3, token, root, private_key=brand)  # type: ignore[arg-type]
        assert str(refused.value).startswith(message)
    with pytest.raises(ClaimsConfigError) as refused:
        claims.deploy_distributor(chain.w3, token, tree, private_key=brand, prepare_words=[-1])
    assert str(refused.value) == (
        "deploy distributor: prepare_words must be a list of word numbers, got [-1]"
    )
    with pytest.raises(ClaimsConfigError, match=r"^token: not an Ethereum address: '0x12'$"):
        claims.deploy_distributor(chain.w3, "0x12", tree, private_key=brand)


@pytest.mark.chain
def test_the_rail_refuses_an_address_that_is_not_a_distributor(rail: Rail):
    chain_id = int(rail.w3.eth.chain_id)
    nobody = address_of(rail.chain.keys[2])
    for call in (
        lambda a: claims.read_claims(rail.w3, a),
        lambda a: claims.is_claimed(rail.w3, a, 0),
        lambda a: claims.fund(rail.w3, rail.token, a, 1, private_key=rail.chain.keys[0]),
        lambda a: claims.claim(rail.w3, a, 0, A, 1, [], private_key=rail.chain.keys[1]),
    ):
        with pytest.raises(ClaimsConfigError) as caught:
            call(rail.token)
        assert str(caught.value) == (
            f"the contract at {rail.token} on chain {chain_id} is not cocred's Distributor: "
            "its code differs from contracts/Distributor.json"
        )
        with pytest.raises(ClaimsConfigError) as caught:
            call(nobody)
        assert str(caught.value) == f"no contract at {nobody} on chain {chain_id}"


@pytest.mark.chain
def test_a_malformed_proof_or_transfer_query_is_refused_before_anything_is_sent(rail: Rail):
    for proof in (["ab" * 32], [b"\x00" * 31], "proof"):
        with pytest.raises(ClaimEntryError) as caught:
            rail.claim(0, A, 10**18, proof)  # type: ignore[arg-type]
        assert str(caught.value) == "claim 0: the proof must be a list of 32-byte hashes"
    with pytest.raises(ChainTxError) as missing:
        claims.transfers_in_tx(rail.w3, rail.token, b"\x77" * 32)
    assert str(missing.value) == (
        f"transfers: tx 0x{'77' * 32} is not on chain {int(rail.w3.eth.chain_id)}"
    )
    for bad in ("0x" + "77" * 31, "77" * 32, "0x" + "zz" * 32, 7):
        with pytest.raises(ClaimsConfigError) as refused:
            claims.transfers_in_tx(rail.w3, rail.token, bad)  # type: ignore[arg-type]
        assert str(refused.value) == (
            f"transfers: a tx hash is 32 bytes or their 0x-hex, got {bad!r}"
        )
    with pytest.raises(
        ClaimsConfigError, match=r"^fund: amount must be a positive integer, got 0$"
    ):
        claims.fund(rail.w3, rail.token, rail.distributor, 0, private_key=rail.chain.keys[0])


@pytest.mark.chain
def test_funding_with_more_than_the_brand_holds_is_refused_by_the_token(rail: Rail):
    poor = rail.chain.keys[2]
    with pytest.raises(ClaimRevertedError) as caught:
        claims.fund(rail.w3, rail.token, rail.distributor, 5, private_key=poor)
    who = address_of(poor)
    assert str(caught.value) == (
        f"fund reverted: InsufficientBalance(from={who}, balance=0, needed=5): "
        f"{who} holds 0, less than the 5 to move"
    )


@pytest.mark.chain
def test_preparing_the_bitmap_spares_the_first_claimant_of_a_word_the_fresh_slot(chain: Chain):
    entries = [(i, a, 10 + i) for i, a in enumerate(accounts(3, seed=5))]
    prepared = make_rail(chain, entries)  # default: every word the tree needs
    unprepared = make_rail(chain, entries, prepare_words=[])
    gas = {}
    for rail in (prepared, unprepared):
        done = [rail.claim(i, a, m, rail.tree.proof(i)) for i, a, m in entries]
        gas[rail is prepared] = [
            rail.w3.eth.get_transaction_receipt(d.tx_hash)["gasUsed"] for d in done
        ]
    # The first claim into an unprepared word turns a zero slot non-zero: 17,100 gas more
    # (20,000 against 2,900). Later claims in the word cost the same either way.
    assert gas[False][0] - gas[True][0] == 17_100
    assert gas[False][1:] == gas[True][1:]
    # Anyone may prepare more words: it marks nothing claimed.
    call = chain.w3.eth.contract(
        address=unprepared.distributor, abi=claims.artefact("Distributor")["abi"]
    ).functions.prepare([0, 7])
    from contracts.chain import Sender

    Sender(chain.w3, chain.keys[2], chain.chain_id, claims.ERRORS, poll_interval=0.01).transact(
        "prepare", call
    )
    assert [claims.is_claimed(chain.w3, unprepared.distributor, i) for i in range(4)] == [
        True, True, True, False,
    ]  # fmt: skip


@pytest.mark.chain
@given(rows=entry_lists, sample=st.randoms(use_true_random=False))
@settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_property_the_contract_accepts_the_python_proofs_of_random_trees(
    eth_tester_chain: Chain, rows, sample
):
    entries = [(index, POOL[who], amount) for index, who, amount in rows]
    rail = make_rail(eth_tester_chain, entries)
    for index, account, amount in sample.sample(entries, min(3, len(entries))):
        done = rail.claim(index, account, amount, rail.tree.proof(index))
        assert claims.transfers_in_tx(rail.w3, rail.token, done.tx_hash) == [
            claims.Transfer(rail.distributor, account, amount)
        ]


def test_importing_the_claims_rail_does_not_import_web3():
    code = "import sys, contracts.claims; print('web3' in sys.modules)"
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "False"
