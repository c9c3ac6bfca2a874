"""Gas per claim: cocred's Distributor against Uniswap's MerkleDistributor, same run, same chain.

    python bench/claims.py [--sizes 16,128,1024] [--backend anvil|eth-tester] [--seed 7]

For each tree size n it builds n seeded (index, fresh account, amount) entries, deploys one
TestToken, and for each distributor (cocred's with its bitmap prepared at deploy, cocred's
unprepared, and Uniswap's, vendored under contracts/vendor/ and compiled here by
contracts/compile.js) deploys it, funds it and claims every leaf from one key. It prints
the mean gas per claim with its min-max spread, the ratio to Uniswap's, what deployment
cost, and deployment plus every claim: preparing moves part of the claimants' cost to
the deployer (Distributor.sol says why). Gas is deterministic for given inputs; the
spread comes from proof lengths, zero bytes in the calldata and the first claim of a
bitmap word. Uniswap publishes ~78.6k for a random claim of its realistic tree; the
third column is measured here, not quoted.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from contracts import claims  # noqa: E402
from contracts.chain import Sender  # noqa: E402
from contracts.claim_tree import ClaimTree, layout, path  # noqa: E402

ANVIL = ROOT / "contracts" / "node_modules" / "@foundry-rs" / "anvil-linux-amd64" / "bin" / "anvil"
ANVIL_KEYS = (  # anvil's public dev keys (mnemonic "test test ... junk")
    "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
    "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
)
OPTIONS = {"poll_interval": 0.01}


@contextmanager
def chain(backend: str) -> Iterator[tuple[Any, tuple[str, str]]]:
    """A web3 on ``backend`` and two funded keys (brand, claimer); anvil is stopped by PID."""
    from web3 import EthereumTesterProvider, HTTPProvider, Web3

    if backend == "eth-tester":
        provider = EthereumTesterProvider()
        keys = provider.ethereum_tester.backend.account_keys
        yield Web3(provider), (keys[0].to_hex(), keys[1].to_hex())
        return
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [str(ANVIL), "--host", "127.0.0.1", "--port", str(port), "--quiet"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "eth_chainId"}).encode()
                request = urllib.request.Request(url, body, {"Content-Type": "application/json"})
                urllib.request.urlopen(request, timeout=1).read()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"anvil did not come up on {url}") from None
                time.sleep(0.05)
        yield Web3(HTTPProvider(url)), ANVIL_KEYS
    finally:
        process.terminate()
        process.wait(timeout=10)


def entries(n: int, seed: int) -> list[tuple[int, str, int]]:
    """n seeded entries: fresh accounts (a claim creates their balance) and random amounts."""
    from eth_account import Account

    rng = random.Random(seed)
    return [
        (i, Account.from_key(rng.randbytes(32)).address, rng.randrange(10**15, 10**21))
        for i in range(n)
    ]


def uniswap_artefact(tmp: Path) -> dict[str, Any]:
    """Compile the vendored Uniswap distributor now, with the pinned solcjs."""
    node = shutil.which("node")
    if node is None:
        raise SystemExit("node is not on PATH: it compiles the vendored Uniswap distributor")
    out = tmp / "UniswapMerkleDistributor.json"
    subprocess.run(
        [node, str(ROOT / "contracts" / "compile.js"), "--contract", "UniswapMerkleDistributor",
         "--out", str(out)],
        check=True, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    return json.loads(out.read_text())


def uniswap_tree(rows: list[tuple[int, str, int]]) -> tuple[bytes, dict[int, list[bytes]]]:
    """Uniswap's leaves (keccak256(abi.encodePacked(index, account, amount))) in the same
    sorted-pair layout as ClaimTree, which its OpenZeppelin MerkleProof.verify accepts."""
    from eth_abi.packed import encode_packed
    from eth_utils import keccak

    hashed = sorted(
        (keccak(encode_packed(["uint256", "address", "uint256"], row)), row[0]) for row in rows
    )
    nodes = layout([leaf for leaf, _ in hashed])
    slots = {index: len(nodes) - 1 - rank for rank, (_, index) in enumerate(hashed)}
    return nodes[0], {index: path(nodes, slot) for index, slot in slots.items()}


def run_claims(
    w3: Any, rows: list[tuple[int, str, int]], proofs: Callable[[int], list[bytes]],
    address: str, abi: list[dict[str, Any]], key: str,
) -> list[int]:  # fmt: skip
    sender = Sender(w3, key, int(w3.eth.chain_id), claims.ERRORS, **OPTIONS)
    contract = w3.eth.contract(address=address, abi=abi)
    gas = []
    for index, account, amount in rows:
        call = contract.functions.claim(index, account, amount, proofs(index))
        gas.append(int(sender.transact(f"claim {index}", call)["gasUsed"]))
    return gas


def measure(w3: Any, keys: tuple[str, str], n: int, seed: int, uni: dict[str, Any]) -> None:
    brand, claimer = keys
    rows = entries(n, seed)
    tree = ClaimTree.build(rows)

    # A token per distributor: every claim then creates its account's balance, as a first
    # payout does, instead of only the first distributor's claims paying for that.
    def new_token() -> str:
        return claims.deploy_token(w3, private_key=brand, supply=tree.total, **OPTIONS)

    brand_sender = Sender(w3, brand, int(w3.eth.chain_id), claims.ERRORS, **OPTIONS)
    abi = claims.artefact("Distributor")["abi"]
    results: dict[str, tuple[int, list[int]]] = {}
    for label, words in (("cocred, prepared", None), ("cocred, unprepared", [])):
        token = new_token()
        address = claims.deploy_distributor(
            w3, token, tree, private_key=brand, prepare_words=words, **OPTIONS
        )
        deploy = _deploy_gas(w3, address)
        claims.fund(w3, token, address, tree.total, private_key=brand, **OPTIONS)
        results[label] = (deploy, run_claims(w3, rows, tree.proof, address, abi, claimer))
    root, uni_proofs = uniswap_tree(rows)
    token = new_token()
    factory = w3.eth.contract(abi=uni["abi"], bytecode=uni["bytecode"])
    receipt = brand_sender.transact("deploy uniswap", factory.constructor(token, root))
    address = receipt["contractAddress"]
    erc20 = w3.eth.contract(address=token, abi=claims.artefact("TestToken")["abi"])
    brand_sender.transact("fund uniswap", erc20.functions.transfer(address, tree.total))
    uni_gas = run_claims(w3, rows, uni_proofs.__getitem__, address, uni["abi"], claimer)
    results["Uniswap"] = (int(receipt["gasUsed"]), uni_gas)

    reference = statistics.mean(uni_gas)
    depth = statistics.mean(len(tree.proof(i)) for i, _, _ in rows)
    print(f"\ntree of {n} leaves (mean proof {depth:.1f} hashes), every leaf claimed once:")
    for label, (deploy, gas) in results.items():
        mean = statistics.mean(gas)
        print(
            f"  {label:<19} gas per claim mean {mean:>9,.0f}  (min {min(gas):,}, max "
            f"{max(gas):,})  ratio to Uniswap {mean / reference:.3f}  | deploy {deploy:,}  "
            f"deploy + all claims {deploy + sum(gas):,}"
        )


def _deploy_gas(w3: Any, address: str) -> int:
    """The gas of the transaction that created ``address`` (the latest blocks hold it)."""
    latest = w3.eth.block_number
    for number in range(latest, max(latest - 5, -1), -1):
        for tx_hash in w3.eth.get_block(number)["transactions"]:
            receipt = w3.eth.get_transaction_receipt(tx_hash)
            if receipt["contractAddress"] == address:
                return int(receipt["gasUsed"])
    raise SystemExit(f"no deployment of {address} in the last blocks")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="16,128,1024")
    parser.add_argument("--backend", choices=["anvil", "eth-tester"], default="anvil")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    if args.backend == "anvil" and not ANVIL.is_file():
        raise SystemExit(f"anvil not found at {ANVIL}; run: npm ci --prefix contracts")
    with tempfile.TemporaryDirectory() as tmp:
        uni = uniswap_artefact(Path(tmp))
    with chain(args.backend) as (w3, keys):
        print(f"backend {args.backend}; Uniswap's distributor compiled from contracts/vendor/")
        for n in (int(size) for size in args.sizes.split(",")):
            measure(w3, keys, n, args.seed + n, uni)


if __name__ == "__main__":
    main()
