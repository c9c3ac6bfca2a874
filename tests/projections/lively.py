"""A lively random campaign for tests and benchmarks, played with a ``Script``.

Honest members vote for contributions in proportion to a hidden quality
(Pareto), remix and co-author; now and then a vote is withdrawn, a piece is
licensed and reused, moderated, or a member is blocked; and a sock-puppet ring
votes every kind for each other's entries. Only rule-abiding events are
produced (the domain's gate accepts every one of them).
"""

from __future__ import annotations

import random
from bisect import bisect
from dataclasses import dataclass

from ledger.ledger import Ledger
from tests.projections.builders import KINDS, Script


@dataclass
class Demo:
    """What ``demo`` built: honest member names, the ring's names, contributions by author."""

    script: Script
    members: list[str]
    ring: list[str]
    works: dict[str, list[str]]


class _DemoPlayer:
    """The random choices behind ``demo``, with what the domain's rules forbid kept out."""

    def __init__(self, script: Script, members: int, seed: int) -> None:
        self.script = script
        self.rnd = random.Random(seed)
        self.names = [f"m{i}" for i in range(members)]
        self.prolific = [n for n in self.names if self.rnd.random() < 0.3] or self.names
        self.works: dict[str, list[str]] = {}
        self.ids: list[str] = []
        self.authors_of: dict[str, set[str]] = {}
        self.cumulative: list[float] = []
        self.removed: set[str] = set()
        self.blocked: set[str] = set()
        self.cast: set[tuple[str, str, str]] = set()
        self.cast_order: list[tuple[str, str, str]] = []

    def pick(self) -> str:
        """A contribution, chosen in proportion to its hidden quality."""
        return self.ids[bisect(self.cumulative, self.rnd.random() * self.cumulative[-1])]

    def add(self, cid: str, authors: set[str]) -> None:
        self.ids.append(cid)
        self.authors_of[cid] = authors
        total = self.cumulative[-1] if self.cumulative else 0.0
        self.cumulative.append(total + self.rnd.paretovariate(1.6))
        for author in sorted(authors):
            self.works.setdefault(author, []).append(cid)

    def submit(self) -> None:
        rnd = self.rnd
        author = rnd.choice(self.prolific)
        if author in self.blocked:
            return
        derived: list[tuple[str, str | None]] = []
        if self.ids and rnd.random() < 0.3:
            parent = self.pick()
            if parent not in self.removed:
                derived.append((parent, None if rnd.random() < 0.6 else "1/5"))
        coauthors: list[tuple[str, int]] | None = None
        if rnd.random() < 0.1:
            other = rnd.choice(self.names)
            if other != author and other not in self.blocked:
                coauthors = [(author, 60), (other, 40)]
        title = f"work {len(self.ids)}"
        cid = self.script.submit(author, title, derived_from=derived, authors=coauthors)
        self.add(cid, {author} | ({coauthors[1][0]} if coauthors else set()))

    def vote(self) -> None:
        rnd = self.rnd
        voter = rnd.choice(self.names)
        cid = self.pick()
        kind = rnd.choices(KINDS, (55, 15, 20, 10))[0]
        if (
            voter in self.blocked
            or cid in self.removed
            or voter in self.authors_of[cid]
            or (voter, cid, kind) in self.cast
        ):
            return
        self.cast.add((voter, cid, kind))
        self.cast_order.append((voter, cid, kind))
        self.script.vote(voter, cid, kind)

    def ring_vote(self, vote: tuple[str, str, str]) -> None:
        if vote[1] not in self.removed:
            self.script.vote(*vote)

    def special(self) -> None:
        """Now and then: a withdrawal, a licence and reuse, a moderation, a block."""
        rnd, script = self.rnd, self.script
        roll = rnd.random()
        cid = self.ids[rnd.randrange(len(self.ids))]
        if roll < 0.4 and self.cast_order:
            index = rnd.randrange(len(self.cast_order))
            vote = self.cast_order[index]
            self.cast_order[index] = self.cast_order[-1]
            self.cast_order.pop()
            if vote in self.cast and vote[0] not in self.blocked and vote[1] not in self.removed:
                self.cast.discard(vote)
                script.withdraw(*vote)
        elif roll < 0.7:
            authors = sorted(self.authors_of[cid])
            if cid not in self.removed and not self.blocked.intersection(authors):
                licence = script.grant(cid, authors, name=f"l{script.ticks}")
                script.reuse(cid, licence, territory=rnd.choice(["FR", "DE", "US"]))
        elif roll < 0.85:
            if cid not in self.removed:
                outcome = rnd.choice(["removed", "rejected", "accepted"])
                script.moderate(cid, outcome)
                if outcome == "removed":
                    self.removed.add(cid)
        else:
            name = rnd.choice(self.names)
            if name not in self.blocked:
                self.blocked.add(name)
                script.block(name, reason="spam")


def demo(
    script: Script,
    *,
    members: int = 200,
    contributions: int = 300,
    votes: int = 3000,
    ring: int = 8,
    seed: int = 7,
    ledger: Ledger | None = None,
    flush_every: int = 10_000,
) -> Demo:
    """A lively campaign: quality-driven honest voting, remixes, co-authors, reuses,
    moderation, a few blocks and withdrawals, and a sock-puppet ring of ``ring`` accounts.

    Honest members vote for contributions in proportion to a hidden quality
    (Pareto), so popular work gets most votes; each ring entry gets a quality
    drawn like any other entry, so it earns what ordinary work earns from honest
    voters, plus what the ring gives itself (every kind, from every other puppet,
    spread over the campaign). ``votes`` counts honest vote attempts. With
    ``ledger``, events are appended every ``flush_every`` so that a million
    events never sit in memory.
    """
    player = _DemoPlayer(script, members, seed)
    rnd = player.rnd
    script.join(*player.names)
    first = max(1, contributions // 5)
    for _ in range(first):
        player.submit()
    puppets = [f"puppet{i}" for i in range(ring)]
    script.join(*puppets)
    for puppet in puppets:
        player.add(script.submit(puppet, f"{puppet}'s entry"), {puppet})
    ring_votes = [
        (voter, player.works[author][0], kind)
        for voter in puppets
        for author in puppets
        if author != voter
        for kind in KINDS
    ]
    rnd.shuffle(ring_votes)
    remaining = contributions - first
    steps = remaining + votes
    special_every = max(5, min(499, steps // 60))
    for step in range(steps):
        if rnd.random() * (steps - step) < remaining:
            player.submit()
            remaining -= 1
        else:
            player.vote()
        if ring_votes and rnd.random() * (steps - step) < len(ring_votes):
            player.ring_vote(ring_votes.pop())
        if step % special_every == 0:
            player.special()
        if ledger is not None and len(script.pending) >= flush_every:
            script.flush(ledger)
    for vote in ring_votes:
        player.ring_vote(vote)
    script.fund(1000 * max(1, members // 100))
    if ledger is not None:
        script.flush(ledger)
    return Demo(script, player.names, puppets, player.works)
