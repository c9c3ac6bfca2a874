"""How long a ``cocred`` command takes before it does anything: the interpreter, the imports.

Prints, for each command, the best of N runs (and the spread, best to worst) next to the bare
interpreter measured in the same run (``python -c pass``), as a ratio, and how many modules the
command imported. The runs are interleaved (one run of every command per round), so a burst
of load on a shared machine hits every command alike. The commands that need no database
(``--help``, ``keys new``, ``verify-proof``) load no database library, web3 or FastAPI, and
``--help`` not even the key code (tests/api/cli/test_startup.py holds that); ``log`` opens a
small SQLite demo ledger. The target (issue 18): ``cocred --help`` in at most 0.3 s.

``--against DIR`` times the same commands on another checkout too (e.g. the commit before,
``git archive REV | tar -x -C DIR``), in the same rounds: "was" figures from the same run.

    python bench/cli_start.py [--runs 7] [--against DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET_HELP = 0.3  # seconds


def env_for(root: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(root)}


def cocred(*args: str) -> list[str]:
    return [sys.executable, "-m", "api.cli", *args]


def run(args: list[str], root: Path, check: bool = True) -> subprocess.CompletedProcess[bytes]:
    # cwd=root as well: ``python -m`` puts the working directory first on sys.path.
    return subprocess.run(args, env=env_for(root), cwd=root, capture_output=True, check=check)


def modules(args: list[str], root: Path) -> int:
    """How many modules ``args`` (a Python command line) imports, counted by ``-X importtime``."""
    done = run([args[0], "-X", "importtime", *args[1:]], root)
    return sum(line.startswith(b"import time:") for line in done.stderr.splitlines()) - 1


def demo_bundle(tmp: str) -> tuple[str, str, str]:
    """A small demo ledger, a proof bundle of one of its events, and the ledger's key."""
    db = f"sqlite:///{tmp}/b.sqlite"
    run(cocred("demo", "--db", db, "--seed", "1", "--members", "10", "--contributions", "20",
               "--votes", "10"), ROOT)  # fmt: skip
    run(cocred("checkpoint", "--db", db), ROOT)
    run(cocred("proof", "3", "--db", db, "--out", f"{tmp}/p.json"), ROOT)
    vkey = json.loads(run(cocred("ledger-key", "--db", db), ROOT).stdout)["vkey"]
    return db, f"{tmp}/p.json", vkey


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--against", type=Path, help="another checkout to time alongside")
    options = parser.parse_args()
    roots = {"": ROOT} | ({"was": options.against.resolve()} if options.against else {})
    with tempfile.TemporaryDirectory() as tmp:
        db, bundle, vkey = demo_bundle(tmp)
        counter = iter(range(1_000_000))

        def keys_new() -> list[str]:  # a new file each run: keys new refuses to overwrite
            return cocred("keys", "new", "--out", f"{tmp}/k{next(counter)}.key")

        cases: dict[str, Callable[[], list[str]]] = {
            "python -c pass (reference)": lambda: [sys.executable, "-c", "pass"],
            "cocred --help": lambda: cocred("--help"),
            "cocred keys new": keys_new,
            "cocred verify-proof": lambda: cocred("verify-proof", bundle, "--ledger-key", vkey),
            "cocred log (opens SQLite)": lambda: cocred("log", "--db", db, "--limit", "1"),
        }
        seen: dict[tuple[str, str], list[float]] = {}
        for _ in range(options.runs):
            for name, args in cases.items():
                for label, root in roots.items():
                    if label and name.startswith("python"):
                        continue  # one reference: the interpreter is the same
                    command = args()
                    started = time.perf_counter()
                    run(command, root)
                    seen.setdefault((name, label), []).append(time.perf_counter() - started)
        print(f"best of {options.runs} interleaved runs (spread best-worst), "
              f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f} at the end")  # fmt: skip
        reference = min(seen["python -c pass (reference)", ""])
        for (name, label), times in seen.items():
            best, worst = min(times), max(times)
            count = modules(cases[name](), roots[label])
            verdict = ""
            if name == "cocred --help" and not label:
                verdict = f"; target <= {TARGET_HELP * 1000:.0f} ms "
                verdict += "met" if best <= TARGET_HELP else "NOT met"
            print(f"{(label + ': ' if label else '') + name:45} {best * 1000:6.0f} ms "
                  f"({best * 1000:.0f}-{worst * 1000:.0f}) = {best / reference:4.1f}x the bare "
                  f"interpreter; {count} modules{verdict}")  # fmt: skip


if __name__ == "__main__":
    main()
