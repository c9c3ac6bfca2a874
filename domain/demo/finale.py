"""The demo campaign after its window: shortlist, licences, reuses, close, and the summary.

Also the few refused attempts the demo shows (checked by the gate, nothing
written). Works on the ``Story`` of ``domain.demo.story``, in log order.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from domain import commands
from domain.demo.story import BRAND, Story
from domain.errors import DomainError
from domain.gate import CampaignApp
from domain.vocabulary import DEFAULT_POLICY
from ledger.envelope import Envelope, format_ts

TERMS = b"Demo licence terms v1: non-exclusive reuse in the listed channels and territory.\n"
LICENCE = "campaign-2025"
LICENCE_STARTS = "2025-06-01T00:00:00Z"
LICENCE_ENDS = "2026-06-01T00:00:00Z"
CLOSE_AT = "2025-06-30T12:00:00Z"
LATE = "2025-07-01T09:00:00Z"


class Finale:
    """What happens once the window is over, on top of the ``story`` so far."""

    def __init__(self, story: Story) -> None:
        self.story = story
        self.shortlist: list[int] = []
        self.licences: dict[str, list[str]] = {"live": [], "incomplete": [], "revoked": []}
        self.reuses = 0
        self.reinstated: list[str] = []  # pieces rejected in the review phase, then reinstated
        self.unreviewed: str | None = None  # what the close said of pieces never moderated

    # -- refusals the demo shows -----------------------------------------------------------

    def _attempt(
        self,
        gate: CampaignApp,
        label: str,
        who: int,
        build: Callable[..., Envelope],
        *args: Any,
        at: str,
        **kw: Any,
    ) -> dict[str, str]:
        """Sign with ``who``'s next seq without taking it, expecting the gate to refuse."""
        s = self.story
        env = build(s.keys[who], s.campaign, *args, seq=s.seqs[who] + 1, at=at, **kw)
        try:
            gate.append(env)
        except DomainError as exc:
            return {"attempt": label, "code": exc.code, "detail": exc.detail}
        raise AssertionError(f"the demo's refused attempt '{label}' was accepted")

    def attempt_refusals(self, gate: CampaignApp, when: datetime) -> list[dict[str, str]]:
        """A sock puppet votes for its own work; a blocked troll votes."""
        s = self.story
        at = format_ts(when)
        target = next(n for n in range(len(s.ids)) if not s.removed[n])
        own, other = s.ids[s.ring_works[0]], s.ids[target]
        return [
            self._attempt(
                gate, "a sock puppet votes for its own work", s.ring[0], commands.vote_cast,
                own, "support", at=at,
            ),
            self._attempt(
                gate, "a blocked troll votes", s.trolls[0], commands.vote_cast, other, "support",
                at=at,
            ),
        ]  # fmt: skip

    def attempt_after_close(self, gate: CampaignApp) -> list[dict[str, str]]:
        """A member submits after the campaign closed."""
        late = hashlib.sha256(b"late").hexdigest()
        return [
            self._attempt(
                gate, "a member submits after the close", 0, commands.contribution_submitted,
                content=late, kind="idea", title="too late", at=LATE,
            )
        ]  # fmt: skip

    # -- after the window ------------------------------------------------------------------

    def review_phase(self, after: datetime) -> None:
        """Where the policy offers appeals: after the window, before the close, the brand
        rejects the oldest honest piece nobody moderated, its submitter appeals within the
        appeal window and the brand reinstates it (it earns again). Writes nothing otherwise,
        so a demo under a policy without ``appeal_window`` is the one it always was."""
        s = self.story
        policy = DEFAULT_POLICY if s.policy is None else s.policy
        if policy.get("appeal_window") is None:
            return
        ring = set(s.ring_works)
        number = next(
            n
            for n in range(len(s.ids))
            if not s.removed[n]
            and n not in s.rejected
            and n not in ring
            and s.authors[n][0] not in s.trolls
        )
        piece = s.ids[number]
        submitter = next(a for a in s.authors[number] if piece.startswith(f"{s.actor(a)}:"))
        at = [format_ts(after - timedelta(hours=12, minutes=m)) for m in (30, 20, 10)]
        s.do(BRAND, commands.contribution_moderated, piece, "rejected", "off-brief", at=at[0])
        s.do(submitter, commands.appeal_filed, piece, "misjudged", at=at[1])
        s.do(BRAND, commands.appeal_decided, piece, "reinstated", "fair-point", at=at[2])
        self.reinstated.append(piece)

    def close(self) -> None:
        """The close; under a policy with ``review`` it says what becomes of the pieces never
        moderated (accept: they earn as before)."""
        s = self.story
        policy = DEFAULT_POLICY if s.policy is None else s.policy
        self.unreviewed = "accept" if policy.get("review") else None
        s.do(BRAND, commands.campaign_closed, unreviewed=self.unreviewed, at=CLOSE_AT)

    def aftermath(self, after: datetime) -> None:
        """Shortlist, licences (one lacking a co-author, one revoked), reuses, close."""
        s = self.story
        candidates = [
            n
            for n in range(len(s.ids))
            if not s.removed[n]
            and n not in s.rejected
            and s.authors[n][0] not in s.trolls
            and s.ids[n] not in self.reinstated  # reviewed already, on appeal
        ]
        ranked = sorted(candidates, key=lambda n: (-s.outside[n], n))
        self.shortlist = ranked[: max(3, min(40, s.plan.contributions // 50))]
        if not any(len(s.authors[n]) > 1 for n in self.shortlist):  # show a co-authored one
            self.shortlist += [n for n in ranked if len(s.authors[n]) > 1][:1]
        for rank, number in enumerate(self.shortlist):
            at = format_ts(after + timedelta(minutes=rank))
            s.moderate(number, "accepted", "shortlisted", at)
        terms = s.content(TERMS)
        incomplete = next((n for n in self.shortlist if len(s.authors[n]) > 1), None)
        revoked = next(n for n in reversed(self.shortlist) if n != incomplete)
        for rank, number in enumerate(self.shortlist):
            self._license(rank, number, terms, after, incomplete, revoked)
        self.close()

    def _license(
        self,
        rank: int,
        number: int,
        terms: str,
        after: datetime,
        incomplete: int | None,
        revoked: int,
    ) -> None:
        s = self.story
        licence = f"{s.ids[number]}/{LICENCE}"
        channels = ["social", "web"] + (["ads", "print"] if rank < 3 else [])
        territory: str | list[str] = "worldwide" if rank % 2 == 0 else ["FR", "DE", "NL"]
        grantors = s.authors[number][:-1] if number == incomplete else s.authors[number]
        for n, author in enumerate(grantors):
            s.do(
                author, commands.licence_granted, licence, licensee=s.brand.actor,
                channels=channels, territory=territory, starts_at=LICENCE_STARTS,
                ends_at=LICENCE_ENDS, terms=terms,
                at=format_ts(after + timedelta(days=1, minutes=rank, seconds=n)),
            )  # fmt: skip
        if number == incomplete:
            self.licences["incomplete"].append(licence)
            return
        if number == revoked:
            at = format_ts(after + timedelta(days=2, minutes=rank))
            s.do(grantors[0], commands.licence_revoked, licence, at=at)
            self.licences["revoked"].append(licence)
            return
        self.licences["live"].append(licence)
        places = ("FR", "US", "JP") if territory == "worldwide" else tuple(territory)
        for j in range(1 + (rank < 5) + (rank < 2)):
            s.do(
                BRAND, commands.reuse_recorded, s.ids[number], licence,
                channel=channels[j % len(channels)], territory=places[j % len(places)],
                at=format_ts(after + timedelta(days=9, hours=rank, minutes=j)),
            )  # fmt: skip
            self.reuses += 1

    def facts(self) -> dict[str, Any]:
        """Who is who and what happened (the deterministic part of the demo's summary)."""
        s = self.story
        return {
            "campaign": s.campaign,
            "brand": s.brand.actor,
            "starts_at": format_ts(s.starts),
            "ends_at": format_ts(s.ends),
            "honest": s.plan.honest,
            "ring": {
                "members": [s.actor(i) for i in s.ring],
                "contributions": [s.ids[n] for n in s.ring_works],
                "internal_votes": s.stats["internal"],
                "votes_from_outside": sum(s.outside[n] for n in s.ring_works),
                "votes_to_outside": 0,
            },
            "trolls": [s.actor(i) for i in s.trolls],
            "removed": s.removed_ids,
            "rejected": s.rejected_ids,
            "shortlisted": [s.ids[n] for n in self.shortlist],
            "licences": self.licences,
            "reuses": self.reuses,
            "remixes": s.stats["remixes"],
            "max_remix_depth": max(s.depth, default=0),
            "co_authored": s.stats["co_authored"],
            "reinstated": self.reinstated,
            "unreviewed": self.unreviewed,
            "thread": s.thread_ids,
            "consent": s.consent_ids,
        }
