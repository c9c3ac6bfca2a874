"""Two processes appending for one actor at once: one winner per seq, nothing lost."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from ledger.envelope import sign_envelope
from ledger.ledger import Ledger
from ledger.store import open_store
from ledger.verify import verify_log
from tests.support import registration, seeded_key

ANA = seeded_key(7)
SEQS = range(2, 122)

WORKER = r"""
import json, sys
from ledger.errors import ReplayError
from ledger.ledger import Ledger
from ledger.store import open_store
url, lines = sys.argv[1], open(sys.argv[2]).read().splitlines()
ledger = Ledger(open_store(url), verify_threads=1)
sys.stdout.write("ready\n"); sys.stdout.flush(); sys.stdin.readline()
results = []
for line in lines:
    try:
        results.append(["ok", ledger.append(line)])
    except ReplayError as exc:
        results.append(["replay", exc.detail])
    except Exception as exc:
        results.append(["other", f"{type(exc).__name__}: {exc}"])
print(json.dumps(results))
"""


def test_two_processes_racing_on_one_actor_never_duplicate_or_lose_events(
    store_url: str, tmp_path: Path
) -> None:
    with open_store(store_url) as store:
        Ledger(store, verify_threads=1).append(registration(ANA))
    files = []
    for who in ("left", "right"):
        envs = [sign_envelope(ANA, "NoteShared", {"by": who, "seq": s}, seq=s) for s in SEQS]
        path = tmp_path / f"{who}.jsonl"
        path.write_text("\n".join(e.canonical_bytes().decode() for e in envs))
        files.append((who, path, {e.seq: e.canonical_bytes() for e in envs}))
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, store_url, str(path)],
            stdin=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _, path, _ in files
    ]
    for proc in procs:  # start both only once both are connected
        line = proc.stdout.readline()
        assert line == "ready\n", proc.stderr.read() if proc.poll() is not None else line
    for proc in procs:
        proc.stdin.write("go\n")
        proc.stdin.flush()
    outputs = [json.loads(proc.communicate(timeout=120)[0]) for proc in procs]

    with open_store(store_url) as store:
        stored = {r.seq: (r.position, r.data) for r in store.read_actor(ANA.actor)}
        assert sorted(stored) == [1, *SEQS], "exactly one event per seq, no gaps"
        acknowledged = 0
        for (_, _, sent), results in zip(files, outputs, strict=True):
            for seq, (status, value) in zip(SEQS, results, strict=True):
                assert status in ("ok", "replay"), value
                if status == "ok":  # an acknowledged event is stored, verbatim, where we said
                    acknowledged += 1
                    assert stored[seq] == (value, sent[seq])
                else:
                    assert value.startswith(f"actor {ANA.actor}: seq {seq} is already used")
                    assert stored[seq][1] != sent[seq]
        assert acknowledged == len(SEQS)
        assert verify_log(store).ok
