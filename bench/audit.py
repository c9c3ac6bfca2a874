"""Audit benchmark: cocred audit against the verify-only limit measured in the same run.

    python bench/audit.py [--events 1000000] [--repeat 2]

Prints: the limit (cores x single-core Ed25519 verify rate on the same events,
``ledger.keys.verify_signature`` with keys decoded beforehand, over the log's first
200,000 events, measured before, between and after the audit runs; the fastest
counts); cocred audit (all five steps but the chain; the best of ``--repeat`` runs, 2)
in events/s and as a ratio to the limit; what a worker's job costs per event beside its
signature (one process, paired range by range with the verify-only loop), hence the
most an audit can reach on this machine right now; the Merkle root of 1M leaves;
inclusion-proof build (from the persisted tree) + verify time and consistency-proof
time (medians of 200, best of 3 passes, the first cold); bundle size; gas per anchor
(one transaction per checkpoint, on the in-process chain); and event -> signed
checkpoint latency with the default settings. Targets: audit >= 0.8 x the limit; proof
build+verify <= 1 ms; bundle <= 2 kB; event -> checkpoint <= 10 s. The generated log is
cached under var/bench/. No asserts: it reports.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from ingest import Task, iter_events, make_events, verify_only_together  # noqa: E402

from ledger._worker_checks import check_records
from ledger._workers import row_reader
from ledger.envelope import Envelope, sign_envelope  # noqa: E402
from ledger.keys import b64url_decode, verify_signature  # noqa: E402
from ledger.ledger import Ledger  # noqa: E402
from ledger.provenance.audit import audit  # noqa: E402
from ledger.provenance.bundles import Provenance  # noqa: E402
from ledger.provenance.checkpointer import run_checkpointer  # noqa: E402
from ledger.provenance.checkpoints import CheckpointLog, LedgerIdentity  # noqa: E402
from ledger.provenance.merkle import leaf_hash, root_from_leaf_hashes
from ledger.provenance.proofs import verify_consistency, verify_inclusion
from ledger.provenance.tree import MerkleTree  # noqa: E402
from ledger.store import open_store  # noqa: E402
from ledger.store.engine import engine_for  # noqa: E402

VAR = Path(__file__).resolve().parents[1] / "var" / "bench"


def build_log(events: int) -> tuple[str, Path]:
    """A SQLite ledger of ``events`` signed events (cached between runs)."""
    VAR.mkdir(parents=True, exist_ok=True)
    path = VAR / f"audit-{events}.sqlite"
    url = f"sqlite:///{path}"
    if path.exists() and open_store(url).size() == events:
        return url, path
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    ledger = Ledger(open_store(url), max_clock_skew=None)
    start = time.perf_counter()
    batch: list[bytes] = []
    for raw in iter_events(events, 2000, seed=11):
        batch.append(raw)
        if len(batch) == 5000:
            ledger.append_batch(batch)
            batch = []
            if ledger.size() % 100_000 == 0:
                print(
                    f"  generated {ledger.size():,} events ({time.perf_counter() - start:.0f} s)",
                    flush=True,
                )
    if batch:
        ledger.append_batch(batch)
    ledger.close()
    return url, path


def sample_tasks(url: str, sample: int = 20_000) -> list[Task]:
    """Verify tasks of the log's first ``sample`` events, keys decoded beforehand."""
    store = open_store(url)
    keys: dict[str, bytes] = {}
    tasks = []
    for record in store.iterate(0, sample):
        env = Envelope.from_bytes(record.data)
        if env.type == "KeyRegistered":
            keys[env.key] = b64url_decode(env.body["jwk"]["x"])
        tasks.append((keys[env.key], env.signing_bytes(), env.signature))
    store.close()
    return tasks


# The VM's speed drifts by a third within seconds: the best of a few one-second
# samples is a burst, not a rate the machine holds for the ~40 s an audit of 1M
# events takes. Each limit sample verifies 200,000 of the same events (~12 s).
LIMIT_SAMPLE = 200_000


def single_core_rate(tasks: list[Task]) -> float:
    start = time.perf_counter()
    for public, message, signature in tasks:
        verify_signature(public, message, signature)
    return len(tasks) / (time.perf_counter() - start)


# Paired with the verify-only loop range by range, so both see the same moment
# of the VM's drift.
WORKER_SAMPLE = 100_000


def worker_cost(url: str, tasks: list[Task]) -> tuple[float, float]:
    """µs per event of a worker's whole job and of its signature checks alone, one process.

    Range by range (the audit's 1,024 events): reading the range and running
    ``check_records`` on it as a worker does (with the Merkle nodes), then the
    verify-only loop over the same events (``tasks``: the log's first ones). The
    keys are learnt by a first, untimed pass, as a worker has them from the
    earlier ranges.
    """
    store = open_store(url)
    read, keys = row_reader(store), {}
    check_records(read(0, len(tasks)), 0, keys, leaves=True)
    checking = verifying = 0.0
    for start in range(0, len(tasks), 1024):
        t0 = time.perf_counter()
        result = check_records(read(start, 1024), start, keys, leaves=True)
        t1 = time.perf_counter()
        for public, message, signature in tasks[start : start + 1024]:
            verify_signature(public, message, signature)
        t2 = time.perf_counter()
        if result.failure is not None or result.bad is not None or result.unknown:
            raise RuntimeError(f"the range at {start} did not pass every check: not a fair sample")
        checking, verifying = checking + t1 - t0, verifying + t2 - t1
    store.close()
    return checking / len(tasks) * 1e6, verifying / len(tasks) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=2, help="audit runs; the best counts")
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    print(f"machine: {cores} cores, Python {sys.version.split()[0]}; events: {args.events:,}")

    url, path = build_log(args.events)
    tasks = sample_tasks(url, LIMIT_SAMPLE)  # parsed once, for every verify-only figure
    verify_rates = [single_core_rate(tasks)]

    store = open_store(url)
    engine = engine_for(url)
    with engine.begin() as conn:  # provenance from an earlier run: start it afresh
        for table in ("cocred_merkle_nodes", "cocred_merkle_state", "cocred_checkpoints"):
            conn.exec_driver_sql(f"DROP TABLE IF EXISTS {table}")
    tmp = Path(tempfile.mkdtemp())
    identity = LedgerIdentity.load_or_create(tmp / "ledger.key")
    checkpoints = CheckpointLog(engine, MerkleTree(engine, store), identity)
    start = time.perf_counter()
    checkpoints.cut()
    print(
        f"tree catch-up + checkpoint over {args.events:,} events: "
        f"{time.perf_counter() - start:.1f} s"
    )

    # The VM is shared and noisy: the single-core verify rate is measured before,
    # between and after the audit runs, and the fastest makes the limit (the
    # hardest to reach); the audit's figure is its best run.
    rates = []
    for _ in range(args.repeat):
        start = time.perf_counter()
        report = audit(store, checkpoints.all(), identity.vkey, threads=cores)
        seconds = time.perf_counter() - start
        rates.append(report.events / seconds)
        verify_rates.append(single_core_rate(tasks))
    limit, rate = cores * max(verify_rates), max(rates)
    print(
        "single-core verify rates measured: "
        + ", ".join(f"{r:,.0f}" for r in verify_rates)
        + " events/s"
    )
    print(f"limit: {cores} cores x single-core verify (the fastest) = {limit:,.0f} events/s")
    if cores > 1:
        together = max(verify_only_together(tasks, cores) for _ in range(3))
        print(
            f"  for reference, verify-only on {cores} processes at once: {together:,.0f} "
            f"events/s = {together / limit:.2f} x the limit (best of 3): what this machine's "
            f"cores give together right now"
        )
    print(
        f"cocred audit: {report.events:,} events in {report.events / rate:.1f} s = {rate:,.0f} "
        f"events/s = {rate / limit:.2f} x the limit (target >= 0.8; best of "
        f"{args.repeat}: " + ", ".join(f"{r:,.0f}" for r in rates) + f"); ok={report.ok}"
    )
    whole, signature = worker_cost(url, tasks[:WORKER_SAMPLE])
    reach = signature / whole
    print(
        f"  a worker's job, one process, per event: {whole:.1f} µs, of which the signature "
        f"{signature:.1f} µs (verify-only, same events, range by range): {whole - signature:.1f} "
        f"µs of reading, parsing, canonical check and hashing, so an audit can reach at most "
        f"{reach:.2f} x what the cores verify together"
        + (f" = {reach * together / limit:.2f} x the limit right now" if cores > 1 else "")
    )

    leaves = [leaf_hash(r.data) for r in store.iterate(0, 1_000_000)]
    start = time.perf_counter()
    root_from_leaf_hashes(leaves)
    print(f"Merkle root of {len(leaves):,} leaves: {time.perf_counter() - start:.2f} s")

    tree = checkpoints.tree
    size = tree.size()
    root = tree.root(size)
    # Medians of 200 proofs, in three passes. The first is cold: this VM pages out
    # file pages left idle for a minute (a DAMON "pageout" scheme), and the tree's
    # nodes were written minutes ago, so its proofs read their nodes back from disk
    # (measured: 0.37 ms, then 1.09 ms after 60 s idle, then 0.42 ms). The best pass
    # counts, as everywhere here; the cold one is printed beside it.
    passes: list[tuple[float, float]] = []
    for _ in range(3):
        timings, consistency = [], []
        for i in range(200):
            index = (i * 7919) % size
            t = time.perf_counter()
            proof = tree.inclusion(index, size)
            verify_inclusion(
                leaves[index] if index < len(leaves) else leaf_hash(store.get(index).data),
                proof,
                root,
            )
            timings.append(time.perf_counter() - t)
            t = time.perf_counter()
            old = max(1, (i * 104729) % size)
            verify_consistency(tree.consistency(old, size), tree.root(old), root)
            consistency.append(time.perf_counter() - t)
        passes.append((statistics.median(timings) * 1e3, statistics.median(consistency) * 1e3))
    print(
        f"inclusion proof build+verify (persisted tree): median {min(passes)[0]:.2f} ms "
        f"(target <= 1 ms; passes: {', '.join(f'{p[0]:.2f}' for p in passes)}, the first "
        f"cold); consistency proof build+verify (+ old root): "
        f"{min(p[1] for p in passes):.2f} ms (cold: {passes[0][1]:.2f} ms)"
    )

    ledger = Ledger(store)
    prov = Provenance(ledger, checkpoints)
    bundle = prov.bundle(size // 2).to_json()
    body = json.dumps(Envelope.from_bytes(bundle["event"].encode()).body, separators=(",", ":"))
    total = len(json.dumps(bundle, separators=(",", ":")))
    print(
        f"proof bundle: {total} bytes, {total - len(body)} bytes without the event body "
        f"(target <= 2048)"
    )

    gas_per_anchor(tmp)
    checkpoint_latency(tmp)


def gas_per_anchor(tmp: Path) -> None:
    from web3 import EthereumTesterProvider, Web3

    from contracts.web3_anchor import Web3Anchor

    provider = EthereumTesterProvider()
    key = provider.ethereum_tester.backend.account_keys[0].to_hex()
    w3 = Web3(provider)
    address = Web3Anchor.deploy(w3, key, int(w3.eth.chain_id))
    port = Web3Anchor(w3, address, key, int(w3.eth.chain_id))
    url = f"sqlite:///{tmp}/anchor.sqlite"
    ledger = Ledger(open_store(url), verify_threads=1)
    engine = engine_for(url)
    identity = LedgerIdentity.load_or_create(tmp / "ledger.key")
    prov = Provenance(
        ledger, CheckpointLog(engine, MerkleTree(engine, ledger.store), identity), port
    )
    lines = make_events(3000, 50, seed=3)
    gases, done = [], 0
    for stop in (100, 1000, 3000):
        ledger.append_batch(lines[done:stop])
        done = stop
        gases.append(prov.anchor_now().receipt.gas_used)
    print(
        f"gas per anchor (checkpoints of 100, ~1,000, ~3,000 events; one transaction each): {gases}"
    )


def checkpoint_latency(tmp: Path) -> None:
    url = f"sqlite:///{tmp}/latency.sqlite"
    ledger = Ledger(open_store(url), verify_threads=1)
    engine = engine_for(url)
    log = CheckpointLog(
        engine, MerkleTree(engine, ledger.store), LedgerIdentity.load_or_create(tmp / "ledger.key")
    )  # defaults: 1000 / 5 s
    from tests.support import registration, seeded_key

    key = seeded_key(5)
    ledger.append(registration(key))
    log.cut()
    stop = threading.Event()
    worker = threading.Thread(target=run_checkpointer, args=(log, stop), daemon=True)
    worker.start()
    latencies = []
    for seq in range(2, 5):
        position = ledger.append(sign_envelope(key, "NoteShared", {"n": seq}, seq=seq))
        start = time.perf_counter()
        while (log.latest().size if log.latest() else 0) <= position:
            time.sleep(0.05)
        latencies.append(time.perf_counter() - start)
    stop.set()
    print(
        f"event -> signed checkpoint with default settings (1,000 events or 5 s, polled "
        f"every 1 s): {', '.join(f'{x:.1f}' for x in latencies)} s (target <= 10 s)"
    )


if __name__ == "__main__":
    main()
