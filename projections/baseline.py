"""Reference figures to hold cocred-fair against (for tests and benchmarks, not for payouts).

- *plain proportional*: each active vote on a contribution counts 1 for its
  authors (split by percent), whoever cast it and however often: the naive rule
  a brand might use, and what a sock-puppet ring exploits;
- *honest work*: a group's cocred-fair share in the same log with every vote the
  group's accounts cast taken out, i.e. what its work earns from everybody else.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from fractions import Fraction

from domain.vocabulary import VOTE_CAST
from ledger.store import StoredRecord
from projections.campaign import CampaignState
from projections.state import LogState

ZERO = Fraction(0)


def plain_shares(state: CampaignState) -> dict[str, Fraction]:
    """Each member's share of all active votes received (author percent applied)."""
    received: dict[str, Fraction] = {}
    for contribution in state.contributions.values():
        votes = len(contribution.votes)
        for author, percent in contribution.authors:
            received[author] = received.get(author, ZERO) + Fraction(votes * percent, 100)
    total = sum(received.values(), ZERO)
    return {m: v / total for m, v in received.items()} if total else {}


def fair_shares(state: CampaignState) -> dict[str, Fraction]:
    """Each payee's cocred-fair share (credit over the payees' total credit)."""
    payable = state.require_scorer().payable()
    total = sum(payable.values(), ZERO)
    return {m: v / total for m, v in payable.items()} if total else {}


def without_votes_by(
    records: Iterable[StoredRecord], actors: Collection[str]
) -> list[StoredRecord]:
    """The log without the ``VoteCast`` events of ``actors``, positions renumbered."""
    kept = (r for r in records if not (r.type == VOTE_CAST and r.actor in actors))
    return [StoredRecord(i, r.actor, r.seq, r.type, r.data) for i, r in enumerate(kept)]


@dataclass(frozen=True, slots=True)
class GroupFigures:
    """A group's share of a campaign three ways."""

    fair: Fraction
    honest: Fraction
    plain: Fraction


def group_figures(
    records: list[StoredRecord], campaign: str, group: Collection[str]
) -> GroupFigures:
    """The group's share under cocred-fair, under cocred-fair without its own votes
    (what its honest work earns), and under plain proportional-to-votes."""

    def replay(log: list[StoredRecord]) -> CampaignState:
        state = LogState()
        state.apply_all(log)
        state.go_live()
        return state.campaign(campaign)

    full = replay(records)
    honest = replay(without_votes_by(records, group))

    def of(shares: dict[str, Fraction]) -> Fraction:
        return sum((share for member, share in shares.items() if member in group), ZERO)

    return GroupFigures(of(fair_shares(full)), of(fair_shares(honest)), of(plain_shares(full)))
