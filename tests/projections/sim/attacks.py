"""The attacks of issue 16, played by fresh accounts (no tenure, not vouched) in a ``World``.

Each attack is ``Attack(kind, size, camouflage)``: ``prepare`` lets its accounts join and
submit entries before the honest votes (entries have a hidden quality drawn like any
other piece, so they earn honest votes); ``strike`` casts the attack; the events of
``strike`` are what "without the attack" leaves out. ``camouflage`` c makes each
attacking account also cast c honest-looking votes (by quality, on other people's work)
per vote of the attack.

- ``ring``: every account votes every kind on every other account's entry;
- ``circle``: each votes every kind on the next 3 accounts around a circle, never back;
- ``chain``: each votes every kind on the next account's entry (no cycle at all);
- ``launder``: a front account remixes each entry declaring 9/10 back to it; every
  account votes every kind on every remix (none of them is a self-vote);
- ``star``: one beneficiary with one entry; the other accounts each cast one share vote
  on it;
- ``stack``: like ``star`` but each account casts every kind on the entry.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from tests.projections.sim.world import KINDS, Voting, World

ATTACKS = ("ring", "circle", "chain", "launder", "star", "stack")


@dataclass
class Attack:
    kind: str
    size: int
    camouflage: int = 0
    seed: int = 0
    accounts: list[str] = field(default_factory=list)
    entries: dict[str, str] = field(default_factory=dict)
    start: int = 0

    def prepare(self, world: World, voting: Voting) -> None:
        rnd = random.Random(f"attack/{self.kind}/{self.size}/{self.seed}")
        self.accounts = [f"x{i}" for i in range(self.size)]
        for name in self.accounts + (["front"] if self.kind == "launder" else []):
            world.join(name)
        authors = self.accounts[:1] if self.kind in ("star", "stack") else self.accounts
        for name in authors:
            cid = world.submit(name, rnd.paretovariate(1.6))
            self.entries[name] = cid
            voting.add(cid)

    def strike(self, world: World, voting: Voting) -> None:
        self.start = len(world.events)
        a, n = self.accounts, self.size
        targets: list[tuple[str, str, str]] = []
        if self.kind == "ring":
            targets = [(u, self.entries[v], k) for u in a for v in a if u != v for k in KINDS]
        elif self.kind == "circle":
            targets = [
                (a[i], self.entries[a[(i + j) % n]], k)
                for i in range(n)
                for j in range(1, min(3, n - 1) + 1)
                for k in KINDS
            ]
        elif self.kind == "chain":
            targets = [(a[i], self.entries[a[i + 1]], k) for i in range(n - 1) for k in KINDS]
        elif self.kind == "launder":
            remixes = [world.submit("front", 1.0, ((self.entries[v], "9/10"),)) for v in a]
            targets = [(u, r, k) for u in a for r in remixes for k in KINDS]
        elif self.kind == "star":
            targets = [(u, self.entries[a[0]], "share") for u in a[1:]]
        elif self.kind == "stack":
            targets = [(u, self.entries[a[0]], k) for u in a[1:] for k in KINDS]
        per_account: dict[str, int] = {}
        for voter, cid, kind in targets:
            voting.vote(voter, cid, kind)
            per_account[voter] = per_account.get(voter, 0) + 1
        for voter, count in sorted(per_account.items()):
            for _ in range(self.camouflage * count):
                cid = voting.pick()
                if world.authors.get(cid, "").startswith("m"):
                    voting.vote(voter, cid)

    def group(self) -> set[str]:
        return set(self.accounts) | ({"front"} if self.kind == "launder" else set())
