"""``bench/scale.py`` runs end to end on a tiny demo: it builds the ledger, restarts the server,
requests every page and its JSON, runs every command and prints every figure. Nothing about
the figures themselves is asserted (a benchmark reports, a test does not time)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_scale_benchmark_runs_end_to_end_at_a_tiny_size(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "bench/scale.py", "--events", "300", "--cache", str(tmp_path),
         "--restarts", "1", "--warm", "1", "--runs", "1"],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True,
        timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    out = done.stdout
    for label in ("campaign page", "#1 earner", "#100 earner", "median earner", "/audit",
                  "campaign JSON", "#1 earner JSON", "/checkpoints JSON", "server ready",
                  "cocred --help", "read: shares", "accepted write", "refused write"):  # fmt: skip
        assert label in out, (label, out)
    assert (tmp_path / "demo-300.built").exists(), "the ledger is kept for the next run"
