"""Standing from the log alone: which members of a brand have tenure (cocred-fair v2, rule V6).

A member has *tenure* in a new campaign of a brand when, in an earlier campaign of the
same brand that was closed before the new one opened, they (co-)authored a contribution
that was neither removed nor rejected. Joining is free, so tenure asks for work that
survived the brand's review and a campaign that has ended: an attacker cannot create it
during the campaign it wants to sway.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol


class _Campaign(Protocol):
    brand: str
    closed_at: int | None
    contributions: dict  # id -> facts.Contribution


def tenure_of(campaigns: Iterable[_Campaign], brand: str) -> frozenset[str]:
    """Members with work that survived review in ``brand``'s campaigns closed so far."""
    members: set[str] = set()
    for campaign in campaigns:
        if campaign.brand != brand or campaign.closed_at is None:
            continue
        for contribution in campaign.contributions.values():
            if not contribution.excluded:
                members.update(author for author, _ in contribution.authors)
    return frozenset(members)
