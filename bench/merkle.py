"""Benchmark the Merkle tree and checkpoints; prints figures, asserts nothing.

Usage: ``python bench/merkle.py [--leaves 1000000] [--samples 1000] [--seed 1]``

Reports the root of N leaves, the frontier's append rate (alone and feeding an
in-memory node store), inclusion and consistency proofs (build from
``MemoryNodes`` + verify, median over random samples), past roots, proof JSON
sizes, and signing/verifying a checkpoint.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import statistics
import time
from collections.abc import Callable
from typing import TypeVar

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ledger.provenance.merkle import (
    Frontier,
    MemoryNodes,
    leaf_hash,
    root_from_leaf_hashes,
    tree_root,
)
from ledger.provenance.note import Checkpoint, NoteSigner, verify_checkpoint
from ledger.provenance.proofs import (
    consistency_proof,
    inclusion_proof,
    verify_consistency,
    verify_inclusion,
)

T = TypeVar("T")


def timed(action: Callable[[], T]) -> tuple[float, T]:
    """Run ``action`` once; return (seconds, result)."""
    start = time.perf_counter()
    result = action()
    return time.perf_counter() - start, result


def median_us(samples: list[int]) -> str:
    """Median and 99th percentile of nanosecond samples, in microseconds."""
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return f"median {statistics.median(ordered) / 1000:8.1f} µs   p99 {p99 / 1000:8.1f} µs"


def main() -> None:
    """Parse arguments, run every measurement and print one line per figure."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leaves", type=int, default=1_000_000)
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    n, rng = args.leaves, random.Random(args.seed)
    print(f"python {platform.python_version()} on {platform.machine()}, {n:,} leaves")

    seconds, leaves = timed(lambda: [leaf_hash(i.to_bytes(8, "big")) for i in range(n)])
    print(f"leaf hashes            {seconds:8.2f} s")

    seconds, root = timed(lambda: root_from_leaf_hashes(leaves))
    print(f"root_from_leaf_hashes  {seconds:8.2f} s")

    def frontier_only() -> Frontier:
        frontier = Frontier()
        for leaf in leaves:
            frontier.append(leaf)
        return frontier

    seconds, frontier = timed(frontier_only)
    print(f"Frontier.append        {n / seconds:10,.0f} leaves/s ({seconds:.2f} s)")

    store = MemoryNodes()

    def frontier_and_store() -> Frontier:
        frontier = Frontier()
        for leaf in leaves:
            store.add(frontier.append(leaf))
        return frontier

    seconds, frontier = timed(frontier_and_store)
    print(f"append + MemoryNodes   {n / seconds:10,.0f} leaves/s ({seconds:.2f} s)")
    same = "yes" if frontier.root() == root else "NO"
    print(f"frontier root == root  {same}; frontier bytes {len(frontier.to_bytes())}")

    build, check, both, sizes = [], [], [], []
    for index in (rng.randrange(n) for _ in range(args.samples)):
        t0 = time.perf_counter_ns()
        proof = inclusion_proof(store, index, n)
        t1 = time.perf_counter_ns()
        verify_inclusion(leaves[index], proof, root)
        t2 = time.perf_counter_ns()
        build.append(t1 - t0)
        check.append(t2 - t1)
        both.append(t2 - t0)
        sizes.append(len(json.dumps(proof.to_json())))
    print(f"inclusion build        {median_us(build)}")
    print(f"inclusion verify       {median_us(check)}")
    print(f"inclusion build+verify {median_us(both)}")
    print(f"inclusion JSON         median {statistics.median(sizes):.0f} B, max {max(sizes)} B")

    past_roots = {
        size: tree_root(store, size) for size in {rng.randrange(1, n) for _ in range(200)}
    }
    both, sizes = [], []
    olds = list(past_roots)
    for _ in range(args.samples):
        old = rng.choice(olds)
        t0 = time.perf_counter_ns()
        consistency = consistency_proof(store, old, n)
        verify_consistency(consistency, past_roots[old], root)
        both.append(time.perf_counter_ns() - t0)
        sizes.append(len(json.dumps(consistency.to_json())))
    print(f"consistency build+verify {median_us(both)}")
    print(f"consistency JSON       median {statistics.median(sizes):.0f} B, max {max(sizes)} B")

    samples = []
    for size in (rng.randrange(1, n + 1) for _ in range(args.samples)):
        t0 = time.perf_counter_ns()
        tree_root(store, size)
        samples.append(time.perf_counter_ns() - t0)
    print(f"tree_root(past size)   {median_us(samples)}")

    signer = NoteSigner("bench.example/log", Ed25519PrivateKey.generate())
    checkpoint = Checkpoint("bench.example/log", n, root)
    signing, verifying = [], []
    for _ in range(args.samples):
        t0 = time.perf_counter_ns()
        text = signer.sign(checkpoint).to_text()
        t1 = time.perf_counter_ns()
        verify_checkpoint(text, signer.vkey)
        verifying.append(time.perf_counter_ns() - t1)
        signing.append(t1 - t0)
    print(f"checkpoint sign        {median_us(signing)}")
    print(f"checkpoint verify      {median_us(verifying)}")


if __name__ == "__main__":
    main()
