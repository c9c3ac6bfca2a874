"""The composition root: one function builds every service from one ``Settings``.

The CLI, the HTTP app, the benchmarks and the tests all call ``bootstrap``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from api.settings import Settings
from domain.content import ContentStore
from domain.gate import CampaignApp
from domain.profile_store import ProfileStore
from domain.services import CampaignServices
from ledger.ledger import Ledger
from ledger.store import open_store


@dataclass
class Services:
    """Everything wired together; ``close()`` releases it.

    ``campaigns`` holds the verbs and, as ``campaigns.gate``, the gate every append
    goes through; ``content`` and ``profiles`` are the stores next to the log.
    """

    settings: Settings
    ledger: Ledger
    campaigns: CampaignServices
    content: ContentStore
    profiles: ProfileStore

    def close(self) -> None:
        self.profiles.close()
        self.content.close()
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
    url = settings.database_url
    ledger = Ledger(
        open_store(url, create=create),
        max_clock_skew=timedelta(seconds=settings.max_clock_skew_seconds),
        verify_threads=settings.verify_threads,
    )
    try:
        content = ContentStore(url, max_bytes=settings.content_max_bytes, create=create)
        try:
            profiles = ProfileStore(url, create=create)
        except BaseException:
            content.close()
            raise
    except BaseException:
        ledger.close()
        raise
    gate = CampaignApp(ledger, retries=settings.append_retries)
    return Services(
        settings=settings,
        ledger=ledger,
        campaigns=CampaignServices(gate, content, profiles),
        content=content,
        profiles=profiles,
    )
