"""Deterministic simulated campaigns for the fairness suite (no signatures, the real projections).

A ``World`` writes campaign events as stored records (``StoredRecord`` with the envelope's
``campaign`` and ``body``; ``LogState`` reads nothing else), so a simulation runs the same
``CampaignState`` and scorers as production, thousands of events a second.

Honest communities (``honest(shape, seed)``) have a hidden quality per piece (Pareto) and
members who vote by quality; most members have *tenure* (work in the brand's earlier,
closed campaign), newcomers have none. Shapes:

- ``lively``: a core of prolific authors, many voters, chance reciprocity, remixes;
- ``friends``: small friend groups that also vote for each other's work;
- ``stars``: a few authors whose work is much better and gets most votes;
- ``heavy``: some members cast five times as many votes as the others.
"""

from __future__ import annotations

import random
from bisect import bisect
from dataclasses import dataclass, field
from typing import Any

import orjson

from domain.policy import DEFAULT_POLICY_V1, DEFAULT_POLICY_V2
from ledger.store import StoredRecord
from projections.campaign import CampaignState
from projections.state import LogState

KINDS = ("support", "comment", "save", "share")
KIND_ODDS = (55, 15, 20, 10)
SHAPES = ("lively", "friends", "stars", "heavy")
BRAND = "brand"
EARLIER, CAMPAIGN = "spring", "summer"


@dataclass
class World:
    """The events of a brand's earlier campaign and of the campaign under test."""

    policy: dict[str, Any]
    events: list[tuple[str, str, int, str | None, dict[str, Any]]] = field(default_factory=list)
    seq: dict[str, int] = field(default_factory=dict)
    quality: dict[str, float] = field(default_factory=dict)  # piece -> hidden quality
    authors: dict[str, str] = field(default_factory=dict)  # piece -> author
    members: list[str] = field(default_factory=list)

    def emit(self, type_: str, actor: str, body: dict[str, Any], campaign: str = CAMPAIGN) -> int:
        seq = self.seq[actor] = self.seq.get(actor, 0) + 1
        self.events.append((type_, actor, seq, campaign, body))
        return seq

    def open(self, campaign: str, policy: dict[str, Any]) -> None:
        body = {
            "title": campaign,
            "guidelines": "0" * 64,
            "starts_at": "2026-05-01T00:00:00Z",
            "ends_at": "2026-12-31T00:00:00Z",
            "membership": "open",
            "currency": "EUR",
            "pool": 100_000,
            "policy": policy,
        }
        self.emit("CampaignOpened", BRAND, body, campaign)

    def join(self, member: str, campaign: str = CAMPAIGN) -> None:
        self.emit("MemberJoined", member, {"guidelines": "0" * 64}, campaign)

    def submit(
        self,
        author: str,
        quality: float,
        parents: tuple[tuple[str, str | None], ...] = (),
        campaign: str = CAMPAIGN,
    ) -> str:
        body = {
            "content": "0" * 64,
            "kind": "idea",
            "title": "a piece",
            "derived_from": [{"contribution": c, "share": s} for c, s in parents],
        }
        seq = self.emit("ContributionSubmitted", author, body, campaign)
        cid = f"{author}:{seq}"
        if campaign == CAMPAIGN:
            self.quality[cid] = quality
            self.authors[cid] = author
        return cid

    def vote(self, voter: str, cid: str, kind: str) -> None:
        body: dict[str, Any] = {"contribution": cid, "kind": kind}
        if kind == "comment":
            body["comment"] = "0" * 64
        self.emit("VoteCast", voter, body)

    def records(self, drop: frozenset[int] = frozenset()) -> list[StoredRecord]:
        out = []
        for i, (type_, actor, seq, campaign, body) in enumerate(self.events):
            if i in drop:
                continue
            data = orjson.dumps({"campaign": campaign, "body": body})
            out.append(StoredRecord(len(out), actor, seq, type_, data))
        return out

    def state(self, drop: frozenset[int] = frozenset()) -> CampaignState:
        log = LogState()
        log.apply_all(self.records(drop))
        log.go_live()
        return log.campaign(CAMPAIGN)


class Voting:
    """Honest voting by quality, with the domain's rules kept (no self-votes, no duplicates)."""

    def __init__(self, world: World, rnd: random.Random) -> None:
        self.world, self.rnd = world, rnd
        self.ids: list[str] = []
        self.cumulative: list[float] = []
        self.cast: set[tuple[str, str, str]] = set()

    def add(self, cid: str) -> None:
        self.ids.append(cid)
        total = self.cumulative[-1] if self.cumulative else 0.0
        self.cumulative.append(total + self.world.quality[cid])

    def pick(self) -> str:
        return self.ids[bisect(self.cumulative, self.rnd.random() * self.cumulative[-1])]

    def vote(self, voter: str, cid: str | None = None, kind: str | None = None) -> bool:
        cid = cid or self.pick()
        kind = kind or self.rnd.choices(KINDS, KIND_ODDS)[0]
        if self.world.authors.get(cid) == voter or (voter, cid, kind) in self.cast:
            return False
        self.cast.add((voter, cid, kind))
        self.world.vote(voter, cid, kind)
        return True


def honest(
    shape: str,
    seed: int,
    *,
    version: int = 2,
    members: int = 120,
    prepare: Any = None,
) -> tuple[World, Voting]:
    """An honest community of ``shape`` (see the module docstring), campaign still open.

    ``prepare(world, voting)``, when given, runs after the honest pieces are submitted and
    before anyone votes (an attack's accounts join and submit their entries there, so
    that honest members vote for those entries by quality like for any other work).
    """
    rnd = random.Random(f"{shape}/{seed}")
    policy = dict(DEFAULT_POLICY_V2 if version == 2 else DEFAULT_POLICY_V1)
    world = World(policy)
    names = [f"m{i}" for i in range(members)]
    world.members = names
    tenured = [n for n in names if rnd.random() < 0.8]
    world.open(EARLIER, policy)
    for name in tenured:
        world.join(name, EARLIER)
        world.submit(name, 1.0, campaign=EARLIER)
    world.emit("CampaignClosed", BRAND, {}, EARLIER)
    world.open(CAMPAIGN, policy)
    for name in names:
        world.join(name)
    voting = Voting(world, rnd)
    prolific = [n for n in names if rnd.random() < 0.3] or names[:5]
    stars = prolific[:3]
    pieces = members + members // 4
    for i in range(pieces):
        author = rnd.choice(prolific)
        quality = rnd.paretovariate(1.6)
        if shape == "stars" and i % 10 == 0:
            author, quality = stars[i % 3], quality * 8
        parents: tuple[tuple[str, str | None], ...] = ()
        if voting.ids and rnd.random() < 0.2:
            parent = voting.pick()
            if world.authors[parent] != author:
                parents = ((parent, None if rnd.random() < 0.6 else "1/5"),)
        voting.add(world.submit(author, quality, parents))
    if prepare is not None:
        prepare(world, voting)
    votes = members * 12
    heavy = set(names[::8]) if shape == "heavy" else set()
    groups = [names[i : i + 5] for i in range(0, members, 5)] if shape == "friends" else []
    for _ in range(votes):
        voter = rnd.choice(names)
        for _ in range(5 if voter in heavy else 1):
            voting.vote(voter)
    for group in groups[::3]:  # a third of the members are in voting friend groups
        for voter in group:
            for friend in group:
                own = [c for c in voting.ids if world.authors[c] == friend]
                if friend != voter and own:
                    voting.vote(voter, rnd.choice(own), "support")
    return world, voting
