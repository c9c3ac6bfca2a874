"""Benchmark witnessed checkpoints; prints figures, asserts nothing.

Usage: ``python bench/witness.py [--samples 5] [--requests 300]``

Two ``cocred witness serve`` processes on 127.0.0.1 follow a fresh SQLite ledger, whose
checkpointer runs with the default settings (a checkpoint every 1,000 events or 5 s,
polled every second) and submits each checkpoint to both (``COCRED_WITNESSES``). Figures:

- **append -> cosigned by both witnesses**: per sample, one event appended, then the time
  until a checkpoint covering it carries both cosignatures; the reference, in the same
  samples, is the time until it is under a (ledger-signed) checkpoint at all;
- **proof bundle size** with the two cosignatures, beside the same bundle without them;
- **add-checkpoint per second** over HTTP to one witness process (one keep-alive client,
  each request a consistency proof from the last size), beside ``Witness.add_checkpoint``
  in this process on the same checkpoints (the ratio is what HTTP and the process cost).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from api.bootstrap import bootstrap  # noqa: E402
from api.settings import Settings  # noqa: E402
from ledger.envelope import sign_envelope  # noqa: E402
from ledger.keys import SigningKey  # noqa: E402
from ledger.provenance.checkpointer import run_checkpointer  # noqa: E402
from ledger.provenance.cosignature import Cosigner, WitnessPolicy  # noqa: E402
from ledger.provenance.note import Checkpoint  # noqa: E402
from ledger.provenance.witness import Witness, request_body  # noqa: E402
from ledger.provenance.witness_client import WitnessClient, WitnessEndpoint  # noqa: E402
from ledger.store.engine import engine_for  # noqa: E402
from tests.api.cli.test_witness import WitnessProcess  # noqa: E402
from tests.support import registration  # noqa: E402


def latency(tmp: Path, samples: int) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp}/log.sqlite", ledger_key_file=tmp / "l.key")
    with bootstrap(settings) as probe:
        vkey = probe.provenance.identity.vkey
    witnesses = [WitnessProcess(tmp, f"bench.witness/{i}", vkey) for i in (1, 2)]
    try:
        specs = ", ".join(f"{w.url} {w.vkey}" for w in witnesses)
        with bootstrap(settings.model_copy(update={"witnesses": specs})) as svc:
            key = SigningKey.generate()
            svc.ledger.append(registration(key))
            checkpoints = svc.provenance.checkpoints
            checkpoints.cut()
            policy = WitnessPolicy.parse([w.vkey for w in witnesses])
            stop = threading.Event()
            worker = threading.Thread(
                target=run_checkpointer,
                args=(checkpoints, stop),
                kwargs={"witnessing": svc.witnessing},  # defaults: 1,000 / 5 s / 1 s
                daemon=True,
            )
            worker.start()
            signed_after, cosigned_after = [], []
            for seq in range(2, 2 + samples):
                position = svc.ledger.append(sign_envelope(key, "NoteShared", {"n": seq}, seq=seq))
                start = time.perf_counter()
                signed = None
                while True:
                    latest = checkpoints.latest()
                    if latest is not None and latest.size > position:
                        signed = signed or time.perf_counter() - start
                        try:
                            policy.check(latest.signed)
                            break
                        except Exception:  # not cosigned yet by both
                            pass
                    time.sleep(0.02)
                signed_after.append(signed)
                cosigned_after.append(time.perf_counter() - start)
            stop.set()
            worker.join()
            with_lines = svc.provenance.bundle(1).to_json()
        bare = dict(with_lines)
        bare["checkpoint"] = with_lines["checkpoint"].split("\n\n")[0] + "\n\n"
        bare["checkpoint"] += with_lines["checkpoint"].split("\n\n")[1].split("\n")[0] + "\n"

        def size(bundle: dict) -> int:
            return len(json.dumps(bundle, separators=(",", ":")).encode())

        added = max(c - s for c, s in zip(cosigned_after, signed_after, strict=True))
        print(
            "append -> cosigned by 2 witnesses (default settings): "
            + ", ".join(f"{x:.2f}" for x in cosigned_after)
            + f" s; best {min(cosigned_after):.2f}, worst {max(cosigned_after):.2f}"
            + " (target <= 10 s)"
        )
        print(
            "   reference, append -> signed checkpoint, same samples: "
            + ", ".join(f"{x:.2f}" for x in signed_after)
            + f" s; the witnesses add {added * 1000:.0f} ms at most"
        )
        print(
            f"proof bundle with 2 cosignatures: {size(with_lines)} bytes "
            f"(without them: {size(bare)} bytes; target <= 2,200)"
        )
    finally:
        for w in witnesses:
            w.stop()


def throughput(tmp: Path, requests: int) -> None:
    from ledger.provenance.merkle import Frontier, MemoryNodes, leaf_hash, root_from_leaf_hashes
    from ledger.provenance.note import NoteSigner
    from ledger.provenance.proofs import consistency_proof

    log_key = SigningKey.generate()
    signer = NoteSigner("bench.log/throughput", log_key.private)
    hashes = [leaf_hash(f"e{i}".encode()) for i in range(requests * 3 + 1)]
    nodes, frontier = MemoryNodes(), Frontier()
    for digest in hashes:
        nodes.add(frontier.append(digest))
    sizes = [3 * (i + 1) for i in range(requests)]
    checkpoints = [
        signer.sign(Checkpoint(signer.name, s, root_from_leaf_hashes(hashes[:s]))) for s in sizes
    ]
    proofs = [()] + [
        consistency_proof(nodes, a, b).path for a, b in zip(sizes, sizes[1:], strict=False)
    ]
    bodies = [
        request_body(0 if i == 0 else sizes[i - 1], proofs[i], c) for i, c in enumerate(checkpoints)
    ]
    # reference: the witness's own work, in this process
    local = Witness(
        engine_for(f"sqlite:///{tmp}/local.sqlite"),
        Cosigner("bench.witness/local", SigningKey.generate().private),
        [signer.vkey],
    )
    start = time.perf_counter()
    for body in bodies:
        local.add_checkpoint(body)
    in_process = requests / (time.perf_counter() - start)
    served = WitnessProcess(tmp, "bench.witness/http", signer.vkey)
    try:
        client = WitnessClient(WitnessEndpoint.parse(f"{served.url} {served.vkey}"))
        start = time.perf_counter()
        for i, signed in enumerate(checkpoints):
            client.add_checkpoint(signed, lambda old, i=i: proofs[i], 0 if i == 0 else sizes[i - 1])
        over_http = requests / (time.perf_counter() - start)
        client.close()
    finally:
        served.stop()
    print(
        f"add-checkpoint over HTTP, one witness process, one keep-alive client: "
        f"{over_http:,.0f}/s; in process: {in_process:,.0f}/s ({over_http / in_process:.2f}x)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=5)
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="cocred-witness-bench-"))
    try:
        latency(tmp, args.samples)
        throughput(tmp, args.requests)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
