"""Benchmark the log as C2SP tlog-tiles; prints figures, asserts nothing.

Usage: ``python bench/tiles.py [--events 100000] [--requests 2000] [--runs 3]``

On a fresh SQLite ledger of N signed events (one actor's notes, appended in batches):
the time to export every tile, entry bundle and the checkpoint (``cocred tiles export``'s
work), with the time to read the same rows from the store and the tree as the reference;
and full tiles served per second over HTTP (``cocred serve``, one worker, rate limits off,
one keep-alive client on 127.0.0.1), with the rate of reading the same tiles straight from
the ``TileReader`` as the reference (the ratio is what the HTTP layer costs). Best of
``--runs`` runs, with the spread.
"""

from __future__ import annotations

import argparse
import http.client
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # bench/projections.py shadows

from api_load import Server  # noqa: E402

from api.bootstrap import bootstrap  # noqa: E402
from api.settings import Settings  # noqa: E402
from ledger.envelope import sign_envelope  # noqa: E402
from ledger.keys import SigningKey  # noqa: E402
from ledger.provenance.tiles import Tile, TileReader, export_tiles, tiles_for  # noqa: E402
from tests.support import registration  # noqa: E402


def fill(services, count: int) -> None:  # type: ignore[no-untyped-def]
    key = SigningKey.generate()
    services.ledger.append(registration(key))
    seq = 2
    while seq <= count:
        last = min(count, seq + 4999)
        services.ledger.append_batch(
            [sign_envelope(key, "NoteShared", {"n": s}, seq=s) for s in range(seq, last + 1)]
        )
        seq = last + 1


def serve(url: str, where: Path, picks: list[Tile], runs: int) -> list[float]:
    """Tiles per second over HTTP from ``cocred serve`` (stopped by its PID), per run."""
    server = Server(url, 1, where, {"COCRED_RATE_LIMITS": "false"})
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if _get(http.client.HTTPConnection("127.0.0.1", server.port), "/healthz")[0]:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline or server.proc.poll() is not None:
                raise RuntimeError(f"the server did not start: {server.log.read_text()}")
            time.sleep(0.2)
        return _rates(http.client.HTTPConnection("127.0.0.1", server.port), picks, runs)
    finally:
        server.stop()


def _get(conn: http.client.HTTPConnection, path: str) -> tuple[bool, bytes]:
    conn.request("GET", path)
    answer = conn.getresponse()
    return answer.status == 200, answer.read()


def _rates(conn: http.client.HTTPConnection, picks: list[Tile], runs: int) -> list[float]:
    rates = []
    for _ in range(runs):
        t0 = time.perf_counter()
        for tile in picks:
            ok, data = _get(conn, "/" + tile.path())  # one keep-alive connection
            assert ok and len(data) == 8192
        rates.append(len(picks) / (time.perf_counter() - t0))
    return rates


def best(times: list[float]) -> str:
    return f"best {min(times):.2f} s (spread {min(times):.2f}–{max(times):.2f} s)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    where = Path(tempfile.mkdtemp(prefix="cocred-tiles-"))
    config = Settings(
        database_url=f"sqlite:///{where}/b.sqlite",
        ledger_key_file=where / "ledger.key",
        rate_limits=False,
    )
    try:
        with bootstrap(config) as svc:
            start = time.perf_counter()
            fill(svc, args.events)
            stored = svc.provenance.checkpoints.cut()
            assert stored is not None
            print(f"{args.events:,} events appended and checkpointed in "
                  f"{time.perf_counter() - start:.1f} s")  # fmt: skip
            reader = TileReader(svc.provenance.tree, svc.ledger.store)
            tiles = tiles_for(stored.size)
            exports, reads = [], []
            for run in range(args.runs):
                t0 = time.perf_counter()
                # the reference: the same rows, nothing written
                size = sum(len(reader.read(tile, stored.size)) for tile in tiles)
                reads.append(time.perf_counter() - t0)
                into = where / f"export-{run}"
                t0 = time.perf_counter()
                report = export_tiles(reader, stored.signed.to_text(), stored.size, into)
                exports.append(time.perf_counter() - t0)
                shutil.rmtree(into)
            print(f"export: {len(tiles):,} files, {size / 1e6:.1f} MB: {best(exports)}; "
                  f"reading them only: {best(reads)}; ratio {min(exports) / min(reads):.2f}×; "
                  f"1M events ≈ {min(exports) * 1e6 / args.events:.0f} s at this rate")  # fmt: skip
            assert report.written == len(tiles)
            full = [t for t in tiles if t.full and t.level == 0]
            rng = random.Random(1)
            picks = [rng.choice(full) for _ in range(args.requests)]
            served = serve(config.database_url, where, picks, args.runs)
            direct = []
            for _ in range(args.runs):
                t0 = time.perf_counter()
                for tile in picks:
                    reader.read(tile, stored.size)
                direct.append(args.requests / (time.perf_counter() - t0))
            print(f"full tiles over HTTP: best {max(served):,.0f}/s (spread "
                  f"{min(served):,.0f}–{max(served):,.0f}); straight from the reader: best "
                  f"{max(direct):,.0f}/s; ratio {max(served) / max(direct):.2f}×")  # fmt: skip
    finally:
        shutil.rmtree(where, ignore_errors=True)


if __name__ == "__main__":
    main()
