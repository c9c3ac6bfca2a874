"""Chains to anchor on: an in-process eth-tester chain and a real anvil JSON-RPC node.

The ``chain`` fixture is parametrised over both, so every scenario in
``test_anchor_contract.py`` runs against each backend. Anvil comes from the npm
package pinned in ``contracts/package.json``; it is started directly (never through
npx, whose death would leave the node running) on a free loopback port and stopped
by PID in teardown, also when a test fails. Missing Node packages call
``unavailable``: a skip locally, a failure under ``COCRED_STRICT=1``.
"""

from __future__ import annotations

import json
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support import unavailable

ROOT = Path(__file__).resolve().parents[2]
CONTRACTS = ROOT / "contracts"
ANVIL_BIN = CONTRACTS / "node_modules" / "@foundry-rs" / "anvil-linux-amd64" / "bin" / "anvil"
# Anvil's well-known dev accounts (mnemonic "test test ... junk"): public test keys.
ANVIL_KEYS = (
    "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
    "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
    "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
)
ANVIL_CHAIN_ID = 31337


@dataclass(frozen=True)
class Chain:
    """A running chain: its web3 handle, chain id, prefunded keys and (for anvil) its URL."""

    name: str
    w3: Any
    chain_id: int
    keys: tuple[str, ...]
    url: str | None = None


def free_port() -> int:
    """Return a loopback TCP port that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _answers(url: str) -> bool:
    request = urllib.request.Request(
        url,
        data=json.dumps({"jsonrpc": "2.0", "id": 1, "method": "eth_chainId"}).encode(),
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=1) as response:
            return "result" in json.loads(response.read())
    except (urllib.error.URLError, OSError, ValueError):
        return False


@dataclass(frozen=True)
class Node:
    """A running anvil: its JSON-RPC URL and its process (for tests that kill it early)."""

    url: str
    process: subprocess.Popen[bytes]


@contextmanager
def running_anvil(*extra_args: str) -> Iterator[Node]:
    """Start anvil on a free 127.0.0.1 port, yield it once it answers, stop it by PID."""
    if not ANVIL_BIN.is_file():
        unavailable(f"anvil binary not found at {ANVIL_BIN}; run: npm ci --prefix contracts")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryFile() as log:
        args = [str(ANVIL_BIN), "--host", "127.0.0.1", "--port", str(port), *extra_args]
        process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 15
            while not _answers(url):
                if process.poll() is not None or time.monotonic() > deadline:
                    log.seek(0)
                    output = log.read().decode(errors="replace")[-2000:]
                    pytest.fail(f"anvil did not come up on {url}:\n{output}", pytrace=False)
                time.sleep(0.05)
            yield Node(url, process)
        finally:
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture(scope="session")
def eth_tester_chain() -> Chain:
    """One in-process py-evm chain per session; each test deploys its own contract."""
    from web3 import EthereumTesterProvider, Web3

    provider = EthereumTesterProvider()
    keys = tuple(key.to_hex() for key in provider.ethereum_tester.backend.account_keys)
    w3 = Web3(provider)
    return Chain("eth-tester", w3, int(w3.eth.chain_id), keys)


@pytest.fixture(scope="session")
def anvil_chain() -> Iterator[Chain]:
    """One anvil node for the session, reached over JSON-RPC on 127.0.0.1."""
    from web3 import HTTPProvider, Web3

    with running_anvil("--quiet") as node:
        yield Chain("anvil", Web3(HTTPProvider(node.url)), ANVIL_CHAIN_ID, ANVIL_KEYS, node.url)


@pytest.fixture(params=["eth-tester", "anvil"])
def chain(request: pytest.FixtureRequest) -> Chain:
    """Each backend in turn."""
    return request.getfixturevalue(f"{request.param.replace('-', '_')}_chain")


@pytest.fixture
def contract_address(chain: Chain) -> str:
    """A freshly deployed Anchor, owned by the chain's first key."""
    from contracts.web3_anchor import Web3Anchor

    return Web3Anchor.deploy(chain.w3, chain.keys[0], chain.chain_id)


def connect(chain: Chain, address: str, key: str, **options: Any) -> Any:
    """A Web3Anchor on ``chain``: over JSON-RPC via ``from_rpc`` for anvil, in-process otherwise."""
    from contracts.web3_anchor import Web3Anchor

    options.setdefault("poll_interval", 0.01)
    if chain.url is not None:
        return Web3Anchor.from_rpc(chain.url, address, key, chain.chain_id, **options)
    return Web3Anchor(chain.w3, address, key, chain.chain_id, **options)


@pytest.fixture
def anchor(chain: Chain, contract_address: str) -> Any:
    """The adapter for the fresh contract, signing with its owner's key."""
    return connect(chain, contract_address, chain.keys[0])
