"""The read side the HTTP routes and the web pages share: read models caught up on demand.

One ``Reads`` per process, built by ``api.bootstrap`` (``Services.reads``, kept by the
app as ``app.state.reads``) on the process's one engine. ``projector()`` catches the
read-model tables up to the log's head and returns the projector, for the
``projections.queries`` functions (leaderboard, attribution, lineage);
``state()`` returns the live in-memory state at that position, for explanations
and payout settlements. Several worker processes share the tables: when another
one wrote first (``ReadModelMovedError``), the catch-up is simply tried again.
``audits`` holds the recorded audit results (``cocred audit``).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol

import sqlalchemy as sa

from ledger.ledger import Ledger
from ledger.provenance.audit_reports import AuditReports
from projections.errors import ReadModelMovedError
from projections.projector import Projector
from projections.state import LogState

_ATTEMPTS = 5


class Wired(Protocol):
    """What the read side needs of ``api.bootstrap.Services`` (which builds it)."""

    ledger: Ledger
    engine: sa.Engine


class Reads:
    """Read models for one process; thread-safe; ``close()`` releases them."""

    def __init__(self, services: Wired) -> None:
        """The read side of ``services``' log, on their engine; creates the audits table.

        Raises ``StorageError`` when that table cannot be created.
        """
        self.services = services
        self._lock = threading.RLock()
        self._projector: Projector | None = None
        self.audits = AuditReports(services.engine)

    def _get(self) -> Projector:
        if self._projector is None:
            self._projector = Projector(self.services.ledger.store, engine=self.services.engine)
        return self._projector

    def projector(self) -> Projector:
        """The projector, its tables caught up to the log's head (at least as of this call)."""
        with self._lock:
            projector = self._get()
            for attempt in range(_ATTEMPTS):
                try:
                    projector.catch_up()
                    break
                except ReadModelMovedError:
                    if attempt == _ATTEMPTS - 1:
                        raise
            return projector

    def state(self) -> LogState:
        """The live state of every campaign at the tables' position (caught up first)."""
        with self._lock:
            return self.projector().current()

    @contextmanager
    def reading(self) -> Iterator[LogState]:
        """The live state, caught up, with no catch-up mutating it until the block ends.

        Every catch-up changes the one state object in place, so whatever is read
        inside the block (a page, an explanation, a settlement) is of one position.
        """
        with self._lock:
            yield self.state()

    def close(self) -> None:
        with self._lock:
            if self._projector is not None:
                self._projector.close()
                self._projector = None
