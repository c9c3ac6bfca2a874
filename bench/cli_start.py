"""How long a ``cocred`` command takes before it does anything: the interpreter, the imports.

Prints, for each command, the best of N runs (and the spread) next to the bare interpreter
measured in the same run (``python -c pass``), as a ratio. The commands that need no database
(``--help``, ``keys new``, ``verify-proof``) load no database library, web3 or FastAPI
(tests/api/cli/test_startup.py holds that); ``log`` opens a small SQLite demo ledger.

    python bench/cli_start.py [--runs 7]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}


def timed(args: list[str], runs: int) -> tuple[float, float]:
    """Best and worst wall time of ``runs`` runs of ``args``, in seconds."""
    seen = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(args, env=ENV, capture_output=True, check=True)
        seen.append(time.perf_counter() - started)
    return min(seen), max(seen)


def cocred(*args: str) -> list[str]:
    return [sys.executable, "-m", "api.cli", *args]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    runs = parser.parse_args().runs
    with tempfile.TemporaryDirectory() as tmp:
        db = f"sqlite:///{tmp}/b.sqlite"
        subprocess.run(cocred("demo", "--db", db, "--seed", "1", "--members", "10",
                              "--contributions", "20", "--votes", "10"),
                       env=ENV, capture_output=True, check=True)  # fmt: skip
        subprocess.run(cocred("checkpoint", "--db", db), env=ENV, capture_output=True, check=True)
        subprocess.run(cocred("proof", "3", "--db", db, "--out", f"{tmp}/p.json"), env=ENV,
                       capture_output=True, check=True)  # fmt: skip
        vkey = json.loads(
            subprocess.run(cocred("ledger-key", "--db", db), env=ENV, capture_output=True,
                           check=True).stdout
        )["vkey"]  # fmt: skip
        counter = iter(range(10_000))
        cases = {
            "python -c pass (reference)": [sys.executable, "-c", "pass"],
            "cocred --help": cocred("--help"),
            "cocred keys new": None,
            "cocred verify-proof": cocred("verify-proof", f"{tmp}/p.json", "--ledger-key", vkey),
            "cocred log --limit 1 (opens SQLite)": cocred("log", "--db", db, "--limit", "1"),
        }
        reference = None
        print(f"best of {runs} runs (worst in brackets), {os.cpu_count()} CPUs")
        for name, args in cases.items():
            if args is None:
                seen = []
                for _ in range(runs):
                    out = f"{tmp}/k{next(counter)}.key"
                    started = time.perf_counter()
                    subprocess.run(cocred("keys", "new", "--out", out), env=ENV,
                                   capture_output=True, check=True)  # fmt: skip
                    seen.append(time.perf_counter() - started)
                best, worst = min(seen), max(seen)
            else:
                best, worst = timed(args, runs)
            reference = reference or best
            print(f"{name:40} {best * 1000:7.0f} ms ({worst * 1000:.0f}) = "
                  f"{best / reference:5.1f}x the bare interpreter")  # fmt: skip


if __name__ == "__main__":
    main()
