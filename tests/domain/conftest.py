"""A small world for the campaign tests: a brand, four people and one invite-only campaign.

``world`` runs on each backend (a SQLite file, then a PostgreSQL schema) through the
same ``bootstrap`` the CLI and the HTTP API use.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from api.bootstrap import Services, bootstrap
from api.settings import Settings
from domain.services import CampaignServices
from domain.state import State
from domain.vocabulary import DEFAULT_POLICY
from ledger.keys import SigningKey
from tests.support import registration, seeded_key

CAMPAIGN = "summer-26"
GUIDELINES = b"Be kind. Post your own work or credit what you remix."
TERMS = b"Non-exclusive reuse in the listed channels."


@dataclass
class World:
    """Who is who, and shortcuts for the commands the tests repeat."""

    svc: Services
    brand: SigningKey
    ana: SigningKey
    ben: SigningKey
    cy: SigningKey
    dee: SigningKey  # registered, never invited
    now: datetime
    campaign: str = CAMPAIGN

    @property
    def c(self) -> CampaignServices:
        return self.svc.campaigns

    def size(self) -> int:
        return self.svc.ledger.size()

    def submit(self, who: SigningKey, title: str = "Harbour at dusk", **kw: Any) -> str:
        receipt = self.c.submit(
            who, self.campaign, f"{title} by {who.actor}".encode(), kind="idea", title=title, **kw
        )
        return str(receipt.ids["contribution"])

    def grant(self, who: SigningKey, contribution: str, name: str = "brand-2026", **kw: Any):
        terms = {
            "licensee": self.brand.actor,
            "channels": ["social", "web"],
            "territory": "worldwide",
            "starts_at": self.now - timedelta(hours=1),
            "ends_at": None,
            "terms": TERMS,
            **kw,
        }
        return self.c.grant_licence(who, self.campaign, contribution, name, **terms)

    def propose(self, payees: dict[str, int] | None = None, *, days_ago: int = 8) -> str:
        """Close the campaign if open, and propose ``payees`` (default: Ana 3/4, Ben 1/4)."""
        found = self.c.campaign(self.campaign)
        if not found.closed:
            self.c.close_campaign(self.brand, self.campaign)
        pool = found.pool
        if payees is None:
            payees = {self.ana.actor: pool - pool // 4, self.ben.actor: pool // 4}
        receipt = self.c.propose_payouts(
            self.brand, self.campaign, export="e" * 64, payees=payees,
            at=self.now - timedelta(days=days_ago),
        )  # fmt: skip
        return str(receipt.ids["proposal"])

    def settle(self, export: str = "e" * 64, lines: int = 2) -> Any:
        return self.c.settle_payouts(  # at the world's time: messages name it to the second
            self.brand, self.campaign, export=export, lines=lines, at=self.now
        )

    def snapshot(self) -> tuple[Any, ...]:
        """Everything the rules know, to show that a refusal changed nothing."""

        def copy(state: State) -> tuple[Any, ...]:
            return (
                dict(state.campaigns),
                dict(state.memberships),
                dict(state.contributions),
                set(state.votes),
                dict(state.licences),
                set(state.erased),
                dict(state.payouts),
                dict(state.reports),
                dict(state.reported),
                dict(state.comments),
                dict(state.commented),
            )

        return self.c.gate.read(copy)


# A v2 policy from before the safeguards became defaults (issue 19): no review, no appeals,
# comment votes naming any text, co-authors counting at once.
SAFEGUARDS = ("review", "appeal_window", "comment_threads", "coauthor_consent")
BEFORE_SAFEGUARDS = {k: v for k, v in DEFAULT_POLICY.items() if k not in SAFEGUARDS}


def open_before_safeguards(
    w: World, campaign: str, policy: dict[str, Any] = BEFORE_SAFEGUARDS
) -> None:
    """Open ``campaign`` (open membership) under ``policy``; Ana, Ben and Cy join."""
    w.c.open_campaign(
        w.brand, campaign, title="Old rules", guidelines=GUIDELINES, policy=policy,
        starts_at=w.now - timedelta(days=1), ends_at=w.now + timedelta(days=30),
    )  # fmt: skip
    for member in (w.ana, w.ben, w.cy):
        w.c.join(member, campaign)


def open_world(svc: Services) -> World:
    brand, ana, ben, cy, dee = (seeded_key(n) for n in (101, 102, 103, 104, 105))
    now = datetime.now(UTC).replace(microsecond=0)
    w = World(svc, brand, ana, ben, cy, dee, now)
    svc.campaigns.gate.append_batch([registration(k) for k in (brand, ana, ben, cy, dee)])
    w.c.open_campaign(
        brand,
        CAMPAIGN,
        title="Summer collection 2026",
        guidelines=GUIDELINES,
        starts_at=now - timedelta(days=1),
        ends_at=now + timedelta(days=30),
        membership="invite-only",
        pool=100_000,
    )
    for member in (ana, ben, cy):
        w.c.invite(brand, CAMPAIGN, member.actor)
        w.c.join(member, CAMPAIGN)
    return w


@pytest.fixture
def services(store_url: str) -> Iterator[Services]:
    with bootstrap(Settings(database_url=store_url, verify_threads=1)) as svc:
        yield svc


@pytest.fixture
def world(services: Services) -> World:
    return open_world(services)
