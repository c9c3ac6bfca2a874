"""The background checkpointer, supervised: it outlives database faults and reports its health.

``cocred serve`` runs ``run_checkpointer`` in a thread of each server process. A
database fault (a dropped connection, a full disk, a missing table) used to end
that thread for good, so no checkpoint was cut until a restart and nothing said so.
Now every pass that fails is retried with capped exponential backoff, each kind of
failure is logged once per outage (not once per retry), the recovery is logged
once, and a thread-safe ``CheckpointerStatus`` holds what ``GET /readyz`` shows:
alive or not, the last success, the last error (code and sentence), how many
passes in a row failed, and since when the log has been ahead of the checkpoints.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa

from ledger.errors import LedgerError
from ledger.provenance.checkpoints import CheckpointLag, CheckpointLog

if TYPE_CHECKING:
    from ledger.provenance.witness_client import Witnessing

logger = logging.getLogger("cocred.checkpointer")


@dataclass(frozen=True)
class CheckpointerHealth:
    """One snapshot of the checkpointer's health (times in UTC)."""

    alive: bool = False
    started_at: datetime | None = None
    last_success: datetime | None = None
    checkpoint_size: int | None = None
    pending_since: datetime | None = None
    consecutive_failures: int = 0
    last_error_code: str | None = None
    last_error: str | None = None
    last_error_at: datetime | None = None

    def to_json(self) -> dict[str, object]:
        def stamp(t: datetime | None) -> str | None:
            return None if t is None else t.isoformat()

        return {
            "alive": self.alive,
            "started_at": stamp(self.started_at),
            "last_success": stamp(self.last_success),
            "checkpoint_size": self.checkpoint_size,
            "consecutive_failures": self.consecutive_failures,
            "last_error_code": self.last_error_code,
            "last_error": self.last_error,
            "last_error_at": stamp(self.last_error_at),
        }


class CheckpointerStatus:
    """The checkpointer's health, written by its thread and read by anyone (thread-safe).

    Every change wakes ``wait_for``, so a test (or an operator's tool) waits for a
    state with a condition variable rather than by sleeping.
    """

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._health = CheckpointerHealth()

    def current(self) -> CheckpointerHealth:
        """The latest snapshot."""
        with self._changed:
            return self._health

    def wait_for(
        self, predicate: Callable[[CheckpointerHealth], bool], timeout: float
    ) -> CheckpointerHealth | None:
        """Block until ``predicate(health)`` holds (return that snapshot) or ``timeout`` passes."""
        with self._changed:
            if self._changed.wait_for(lambda: predicate(self._health), timeout):
                return self._health
            return None

    def _update(self, **changes: object) -> CheckpointerHealth:
        with self._changed:
            self._health = replace(self._health, **changes)  # type: ignore[arg-type]
            self._changed.notify_all()
            return self._health

    def started(self) -> None:
        self._update(alive=True, started_at=_now())

    def stopped(self) -> None:
        self._update(alive=False)

    def succeeded(self, lag: CheckpointLag) -> None:
        """A pass completed: record its time, the checkpoint size, and any pending lag."""
        before = self.current().pending_since
        pending = None if lag.events == 0 else (before or lag.at)
        self._update(
            last_success=lag.at,
            checkpoint_size=lag.checkpoint.size if lag.checkpoint else None,
            pending_since=pending,
            consecutive_failures=0,
        )

    def failed(self, code: str, sentence: str) -> int:
        """A pass failed: record why; return how many passes in a row have failed."""
        failures = self.current().consecutive_failures + 1
        self._update(
            consecutive_failures=failures,
            last_error_code=code,
            last_error=sentence,
            last_error_at=_now(),
        )
        return failures


def _now() -> datetime:
    return datetime.now(UTC)


def describe_failure(exc: BaseException) -> tuple[str, str]:
    """A failed pass as (code, one-line sentence): the ledger's own code, else by kind."""
    if isinstance(exc, LedgerError):
        return exc.code, exc.detail.splitlines()[0] if exc.detail else exc.code
    if isinstance(exc, sa.exc.DBAPIError) and exc.orig is not None:
        # The driver's own message; SQLAlchemy's adds the statement and a help link.
        first = str(exc.orig).strip().splitlines()
        return "StorageUnavailable", f"the database failed: {first[0] if first else exc.orig!r}"
    if isinstance(exc, sa.exc.SQLAlchemyError | OSError):
        return "StorageUnavailable", f"the database failed: {type(exc).__name__}: {exc}"
    return "CheckpointerError", f"{type(exc).__name__}: {exc}"


def _kind(exc: BaseException, code: str) -> str:
    """What counts as one kind of failure, for logging it once per outage."""
    orig = getattr(exc, "orig", None)
    return ":".join(x for x in (code, type(exc).__name__, type(orig).__name__ if orig else "") if x)


def backoff(poll: float, failures: int, cap: float) -> float:
    """Seconds before the next attempt after ``failures`` in a row: poll, 2·poll, 4·poll … ≤ cap."""
    return min(cap, poll * 2 ** min(failures - 1, 30))


def run_checkpointer(
    log: CheckpointLog,
    stop: threading.Event,
    *,
    poll: float = 1.0,
    retry_max: float = 30.0,
    status: CheckpointerStatus | None = None,
    witnessing: Witnessing | None = None,
) -> None:
    """Cut checkpoints whenever one is due, until ``stop`` is set (a server's background job).

    With the defaults (every 1,000 events or 5 s, polled each second) an event is
    under a signed checkpoint within about 6 s. A pass that fails (any exception) is
    retried after ``poll``, then twice as long each time, at most ``retry_max``
    seconds; never raises. ``status`` (when given) is kept up to date. With
    ``witnessing``, each pass then submits the latest checkpoint to the witnesses that have
    not cosigned it (a witness that fails is backed off on its own and shown in its health;
    it never fails the pass: the log goes on being checkpointed without it).
    """
    status = status if status is not None else CheckpointerStatus()
    status.started()
    logged: set[str] = set()
    delay = poll
    try:
        while not stop.wait(delay):
            try:
                log.maybe_cut()
                if witnessing is not None:
                    witnessing.cosign()
                lag = log.lag()
            except Exception as exc:  # any fault: this loop is the only one cutting checkpoints
                code, sentence = describe_failure(exc)
                kind = _kind(exc, code)
                if kind not in logged:
                    logged.add(kind)
                    logger.warning(
                        "checkpointer: %s: %s (retrying, backing off up to %g s)",
                        code,
                        sentence,
                        retry_max,
                        exc_info=not isinstance(exc, LedgerError | sa.exc.SQLAlchemyError),
                    )
                delay = backoff(poll, status.failed(code, sentence), retry_max)
                continue
            failures = status.current().consecutive_failures
            if failures:  # at the failures' level, so whoever saw them sees this too
                logger.warning(
                    "checkpointer: recovered after %d failed attempt(s); latest checkpoint %d",
                    failures,
                    lag.size,
                )
                logged.clear()
            status.succeeded(lag)  # after logging: a reader woken by it finds the log written
            delay = poll
    finally:
        status.stopped()
