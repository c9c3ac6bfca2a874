"""Ed25519 verification on worker processes, so ingestion and audits use every core.

Threads are not enough: PyNaCl releases the GIL inside ``crypto_sign_open``, but
parsing and rule checks are Python and hold it, and a thread coming back from C
waits for the GIL. Worker processes verify slices of ``(public key, message,
signature)`` while the calling process parses the next slice. Workers are
started with ``spawn`` (the caller may run threads, which ``fork`` would copy in
an undefined state) and live as long as the verifier.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Sequence
from concurrent.futures import Future, ProcessPoolExecutor

from ledger.keys import verify_signature

Task = tuple[bytes, bytes, bytes]


def verify_slice(tasks: Sequence[Task]) -> int | None:
    """Index (within ``tasks``) of the first signature that does not verify, or None."""
    for index, (public, message, signature) in enumerate(tasks):
        if not verify_signature(public, message, signature):
            return index
    return None


def _warm() -> None:
    """Run once in each worker so the first real slice does not pay for imports."""


class ParallelVerifier:
    """A pool of ``workers`` processes verifying slices of signatures."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self._pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))
        for future in [self._pool.submit(_warm) for _ in range(workers)]:
            future.result()

    def submit(self, tasks: Sequence[Task]) -> Future[int | None]:
        """Start verifying ``tasks``; the future gives the first bad index or None."""
        return self._pool.submit(verify_slice, list(tasks))

    def close(self) -> None:
        self._pool.shutdown(cancel_futures=True)
