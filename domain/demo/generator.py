"""A realistic, deterministic campaign: ``build_demo`` writes it through the gate.

Everything derives from the seed: keys (SHA-256 of the seed and the role), every
random choice (``random.Random(seed)``) and every timestamp (a fixed window in
2025, so the log is byte-identical on every run and always in the past). The
story: a brand opens an invite-only campaign, invites and admits the members,
who submit ideas, photos and designs, vote (support, comment, save, share),
withdraw a few votes and remix each other in chains several levels deep, some
pieces co-authored. Trolls post spam, which is removed, and are blocked; a few
honest pieces are removed or rejected for guideline violations. A ring of sock
puppets votes for each other's work with every kind it can (and for nobody
else). After the window the brand shortlists the best pieces, their authors
license them (one licence lacks a co-author's grant, one is revoked) and the
brand records reuses, then closes the campaign. The ``DemoSummary`` names the
ring, the trolls and the moderated pieces so the projections can be checked.

Events are appended in batches of at most 10,000 (and ~4 MB). Raises
``DemoSizeError`` for sizes too small for the story, ``DuplicateCampaignError``
when this seed's campaign is already in the database, and whatever the gate
raises (a refusal here would be a bug in the generator).
"""

from __future__ import annotations

import hashlib
import time as clock
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from domain.demo.finale import Finale
from domain.demo.story import Plan, Story
from domain.errors import DuplicateCampaignError
from domain.services import CampaignServices
from ledger.envelope import Envelope

MAX_BATCH_EVENTS = 10_000
MAX_BATCH_BYTES = 4_000_000
STARTS = datetime(2025, 3, 1, tzinfo=UTC)
ENDS = datetime(2025, 5, 31, 23, 59, 59, tzinfo=UTC)


class HasCampaigns(Protocol):
    campaigns: CampaignServices


@dataclass(frozen=True)
class DemoSummary:
    """What the demo wrote, and who is who (deterministic for a seed, except ``seconds``)."""

    seed: int
    campaign: str
    brand: str
    starts_at: str
    ends_at: str
    events: int
    first_position: int
    last_position: int
    counts: dict[str, int]
    honest: int
    ring: dict[str, Any]
    trolls: list[str]
    removed: list[str]
    rejected: list[str]
    shortlisted: list[str]
    licences: dict[str, list[str]]
    reuses: int
    remixes: int
    max_remix_depth: int
    co_authored: int
    refusals: list[dict[str, str]]
    # The review phase (a policy with appeal_window and review): the pieces rejected after the
    # window, appealed and reinstated, and what the close said of unreviewed pieces.
    reinstated: list[str] = field(default_factory=list)
    unreviewed: str | None = None
    # The comment thread: its piece, the comments shown (question, answer) and the hidden one.
    thread: dict[str, Any] = field(default_factory=dict)
    # Co-author consent: the piece still pending at the close, the declined one, its resubmission.
    consent: dict[str, str] = field(default_factory=dict)
    seconds: float = field(default=0.0, compare=False)

    def to_json(self) -> dict[str, Any]:
        return {
            "seed": self.seed,
            "campaign": self.campaign,
            "brand": self.brand,
            "window": {"starts_at": self.starts_at, "ends_at": self.ends_at},
            "events": self.events,
            "positions": [self.first_position, self.last_position],
            "counts": self.counts,
            "members": {
                "honest": self.honest,
                "ring": len(self.ring["members"]),
                "trolls": len(self.trolls),
            },
            "ring": self.ring,
            "trolls": self.trolls,
            "moderation": {
                "removed": self.removed,
                "rejected": self.rejected,
                "shortlisted": self.shortlisted,
            },
            "licences": self.licences,
            "reuses": self.reuses,
            "remixes": self.remixes,
            "max_remix_depth": self.max_remix_depth,
            "co_authored": self.co_authored,
            **({"reinstated": self.reinstated} if self.reinstated else {}),
            **({"unreviewed": self.unreviewed} if self.unreviewed else {}),
            "refusals": self.refusals,
            "thread": self.thread,
            **({"consent": self.consent} if self.consent else {}),
            "seconds": round(self.seconds, 2),
        }


def demo_campaign_id(seed: int) -> str:
    """The id of the campaign ``build_demo`` opens for ``seed``."""
    return f"demo-{seed}"


def _campaigns(services: CampaignServices | HasCampaigns) -> CampaignServices:
    return services if isinstance(services, CampaignServices) else services.campaigns


def first_free_seed(services: CampaignServices | HasCampaigns, start: int = 1) -> int:
    """The smallest seed from ``start`` whose demo campaign is not in the database yet."""
    taken = _campaigns(services).gate.read(lambda state: set(state.campaigns))
    seed = start
    while demo_campaign_id(seed) in taken:
        seed += 1
    return seed


class _Batches:
    """Collects signed events (and the content they name) and appends them in batches.

    One batch is appended on a worker thread while the next is generated and
    signed (signing and verification release the GIL, so the two overlap);
    ``wait`` returns once everything handed over is durable, or raises its error.
    """

    def __init__(self, services: CampaignServices, progress: Callable[[int], None] | None):
        self.services = services
        self.progress = progress
        self.events: list[bytes] = []
        self.size = 0
        self.blobs: list[bytes] = []
        self.positions: list[int] = []
        self.counts: dict[str, int] = {}
        self._worker = ThreadPoolExecutor(1, "cocred-demo-append")
        self._pending: Future[None] | None = None

    def add(self, env: Envelope) -> None:
        data = env.canonical_bytes()
        self.events.append(data)
        self.size += len(data)
        self.counts[env.type] = self.counts.get(env.type, 0) + 1
        if len(self.events) >= MAX_BATCH_EVENTS or self.size >= MAX_BATCH_BYTES:
            self.flush()

    def content(self, data: bytes) -> str:
        self.blobs.append(data)
        return hashlib.sha256(data).hexdigest()

    def flush(self) -> None:
        """Hand the collected events over (after the previous batch is durable)."""
        self.wait()
        if self.events or self.blobs:
            self._pending = self._worker.submit(self._append, self.events, self.blobs)
            self.events, self.size, self.blobs = [], 0, []

    def wait(self) -> None:
        """Block until every batch handed over is appended; raise the first failure."""
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.result()

    def close(self) -> None:
        self._worker.shutdown(wait=True, cancel_futures=True)

    def _append(self, events: list[bytes], blobs: list[bytes]) -> None:
        if blobs:  # the content first: an event never names bytes the store lacks
            self.services.content.put_many(blobs)
        if events:
            done = self.services.gate.append_batch(events)
            self.positions += (done[0], done[-1])
            if self.progress is not None:
                self.progress(len(done))


def build_demo(
    services: CampaignServices | HasCampaigns,
    *,
    seed: int = 1,
    members: int = 60,
    contributions: int = 200,
    votes: int = 1500,
    progress: Callable[[int], None] | None = None,
    policy: Mapping[str, Any] | None = None,
) -> DemoSummary:
    """Write the demo campaign for ``seed`` through the gate; return its summary.

    ``policy`` is the reward policy the campaign is opened with (default: the
    domain's ``DEFAULT_POLICY``, cocred-fair v2; ``DEFAULT_POLICY_V1`` for a v1 demo).

    ``services`` is ``Services`` or ``Services.campaigns``. ``progress(n)`` is
    called after each batch with the number of events it appended.
    """
    campaigns = _campaigns(services)
    plan = Plan.make(seed, members, contributions, votes)
    cid = demo_campaign_id(seed)
    if campaigns.gate.read(lambda state: cid in state.campaigns):
        raise DuplicateCampaignError(
            f"campaign id {cid} is already taken: the demo for seed {seed} is in this database "
            f"already (use another seed or a fresh database)",
            campaign=cid,
        )
    started = clock.perf_counter()
    out = _Batches(campaigns, progress)
    try:
        story = Story(plan, cid, out.add, out.content, STARTS, ENDS, policy=policy)
        finale = Finale(story)
        story.setup(campaigns.profiles)
        story.activity()
        story.thread()
        story.co_authorship()
        out.flush()
        out.wait()
        refusals = finale.attempt_refusals(campaigns.gate, ENDS)
        finale.review_phase(ENDS + timedelta(days=1))
        finale.aftermath(ENDS + timedelta(days=1))
        out.flush()
        out.wait()
        refusals += finale.attempt_after_close(campaigns.gate)
    finally:
        out.close()
    return DemoSummary(
        seed=seed,
        events=sum(out.counts.values()),
        first_position=out.positions[0],
        last_position=out.positions[-1],
        counts=dict(sorted(out.counts.items())),
        refusals=refusals,
        seconds=clock.perf_counter() - started,
        **finale.facts(),
    )
