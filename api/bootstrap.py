"""The composition root: one function builds every service from one ``Settings``.

The CLI, the HTTP app, the benchmarks and the tests all call ``bootstrap``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from api.settings import Settings
from ledger.ledger import Ledger
from ledger.store import open_store


@dataclass
class Services:
    """Everything wired together; ``close()`` releases it."""

    settings: Settings
    ledger: Ledger

    def close(self) -> None:
        self.ledger.close()

    def __enter__(self) -> Services:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def bootstrap(
    settings: Settings | None = None, *, database_url: str | None = None, create: bool = True
) -> Services:
    """Build the services; ``database_url`` overrides the settings' database.

    Raises ``StorageError`` when the database cannot be opened.
    """
    settings = settings or Settings()
    if database_url:
        settings = settings.model_copy(update={"database_url": database_url})
    store = open_store(settings.database_url, create=create)
    ledger = Ledger(
        store,
        max_clock_skew=timedelta(seconds=settings.max_clock_skew_seconds),
        verify_threads=settings.verify_threads,
    )
    return Services(settings=settings, ledger=ledger)
