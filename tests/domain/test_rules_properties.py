"""Whatever commands arrive, in whatever order, what the rules accept keeps them true.

A hypothesis state machine throws random commands (joins, blocks, submissions,
remixes, votes, withdrawals, moderation, closes, settlements, erasures; well- and
ill-formed) at the pure rules. After every step an independent reference, written
separately from the rules, re-reads the accepted history and checks the promises:
never two live votes of one kind by one member on one contribution, never a vote by
an author on their own work, nothing after a close but one settlement, removed work
never gains votes or remixes, blocked, erased and not-joined members never act.
A refused command must leave the state exactly as it was.
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from domain.errors import DomainError
from domain.policy import DEFAULT_POLICY_V1
from domain.rules import EVENT_TYPES, handle
from domain.state import State
from domain.values import Recorded

BRAND = "B" * 43
MEMBERS = [c * 43 for c in "acdef"]
CAMPAIGNS = ["camp-one", "camp-two"]
IN, LATE = "2026-01-10T00:00:00Z", "2026-03-01T00:00:00Z"
KINDS = ["support", "comment", "save", "share", "like"]
GUIDE = "9" * 64

members = st.sampled_from(MEMBERS)
campaigns = st.sampled_from(CAMPAIGNS)
picks = st.integers(0, 40)
ghosts = st.sampled_from([False] * 9 + [True])  # now and then, a contribution that never was


def snapshot(state: State) -> tuple[Any, ...]:
    return (
        dict(state.campaigns),
        dict(state.memberships),
        dict(state.contributions),
        set(state.votes),
        dict(state.licences),
        set(state.erased),
    )


def reference_live_votes(history: list[Recorded]) -> set[tuple[str, str, str]]:
    """Re-read the accepted history, asserting every promise; return the live votes."""
    closed: set[str] = set()
    settled: set[str] = set()
    removed: set[str] = set()
    authors: dict[str, set[str]] = {}
    home: dict[str, str] = {}
    joined: set[tuple[str, str]] = set()
    blocked: set[tuple[str, str]] = set()
    erased: set[str] = set()
    live: set[tuple[str, str, str]] = set()
    for fact in history:
        kind, body, where, who = fact.type, fact.body, fact.campaign, fact.actor
        assert who not in erased, "an erased member signed nothing more"
        if where in closed:
            assert kind == "PayoutsSettled" and where not in settled, (
                "after a close: one settlement"
            )
        acting = kind in ("ContributionSubmitted", "VoteCast", "VoteWithdrawn")
        if acting:
            assert (where, who) in joined and (where, who) not in blocked
            assert fact.ts == IN, "only inside the window"
        if kind == "MemberJoined":
            joined.add((where, who))
        elif kind == "MemberBlocked":
            blocked.add((where, body["member"]))
        elif kind == "MemberUnblocked":
            blocked.discard((where, body["member"]))
        elif kind == "ContributionSubmitted":
            named = {a["member"] for a in body.get("authors", [{"member": who}])}
            assert all((where, a) in joined and (where, a) not in blocked for a in named)
            for source in body["derived_from"]:
                assert home.get(source["contribution"]) == where
                assert source["contribution"] not in removed, "no remix of removed work"
            work = f"{who}:{fact.seq}"
            authors[work], home[work] = named, where
        elif kind == "VoteCast":
            key = (body["contribution"], who, body["kind"])
            assert home.get(key[0]) == where
            assert key not in live, "one live vote per member, contribution and kind"
            assert who not in authors[key[0]], "no vote on one's own work"
            assert key[0] not in removed, "no vote on removed work"
            live.add(key)
        elif kind == "VoteWithdrawn":
            key = (body["contribution"], who, body["kind"])
            assert key in live
            live.remove(key)
        elif kind == "ContributionModerated":
            assert who == BRAND and body["contribution"] not in removed
            if body["outcome"] == "removed":
                removed.add(body["contribution"])
        elif kind == "CampaignClosed":
            closed.add(where)
        elif kind == "PayoutsSettled":
            assert where in closed
            settled.add(where)
        elif kind == "MemberErased":
            erased.add(who)
    return live


class CampaignRules(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.state = State()
        self.history: list[Recorded] = []
        self.seqs: dict[str, int] = {}
        self.works: list[str] = []
        self.homes: dict[str, str] = {}  # contribution -> its campaign

    def attempt(
        self, actor: str, kind: str, campaign: str | None, body: dict[str, Any], ts: str = IN
    ) -> bool:
        self.seqs[actor] = self.seqs.get(actor, 0) + 1
        fact = Recorded(kind, actor, self.seqs[actor], ts, campaign, body)
        before = snapshot(self.state)
        try:
            handle(self.state, fact)
        except DomainError:
            assert snapshot(self.state) == before, f"refused {kind} changed the state"
            return False
        self.history.append(fact)
        return True

    def work(self, pick: int, ghost: bool = False) -> str | None:
        """A submitted contribution (counted from the latest), or an unknown id."""
        if ghost:
            return f"{BRAND}:999"
        return self.works[-1 - pick % len(self.works)] if self.works else None

    @initialize()
    def open_campaigns(self) -> None:
        for n, campaign in enumerate(CAMPAIGNS):
            assert self.attempt(
                BRAND,
                "CampaignOpened",
                campaign,
                {
                    "title": campaign,
                    "guidelines": GUIDE,
                    "starts_at": "2026-01-01T00:00:00Z",
                    "ends_at": "2026-01-31T00:00:00Z",
                    "membership": ("open", "invite-only")[n],
                    "currency": "EUR",
                    "pool": 1000,
                    "policy": dict(DEFAULT_POLICY_V1),
                },
            )
        for member in MEMBERS[:3]:  # a few start as members; the rules let others join
            for campaign in CAMPAIGNS:
                self.invite_and_join(member, campaign)

    @rule(member=members, campaign=campaigns)
    def invite_and_join(self, member: str, campaign: str) -> None:
        self.attempt(BRAND, "MemberInvited", campaign, {"member": member})
        self.attempt(member, "MemberJoined", campaign, {"guidelines": GUIDE})

    @rule(member=members, campaign=campaigns)
    def join(self, member: str, campaign: str) -> None:
        self.attempt(member, "MemberJoined", campaign, {"guidelines": GUIDE})

    @rule(member=members, campaign=campaigns, lift=st.booleans())
    def block_or_unblock(self, member: str, campaign: str, lift: bool) -> None:
        body = {"member": member} if lift else {"member": member, "reason": "spam"}
        self.attempt(BRAND, "MemberUnblocked" if lift else "MemberBlocked", campaign, body)

    @rule(
        author=members,
        co=st.none() | members,
        campaign=campaigns,
        sources=st.lists(picks, max_size=2, unique=True),
        ghost=ghosts,
        share=st.sampled_from([None, "1/5", "1/2", "9/10", "x"]),
        late=st.integers(0, 9),
    )
    def submit(
        self,
        author: str,
        co: str | None,
        campaign: str,
        sources: list[int],
        ghost: bool,
        share: str | None,
        late: int,
    ) -> None:
        picked = (self.work(p, ghost and n == 0) for n, p in enumerate(sources))
        named = dict.fromkeys(w for w in picked if w is not None)
        body: dict[str, Any] = {
            "content": "c" * 64,
            "kind": "idea",
            "title": "work",
            "derived_from": [{"contribution": w, "share": share} for w in named],
        }
        if co is not None:
            body["authors"] = [{"member": author, "share": 60}, {"member": co, "share": 40}]
        if self.attempt(author, "ContributionSubmitted", campaign, body, LATE if late == 0 else IN):
            self.works.append(f"{author}:{self.seqs[author]}")
            self.homes[self.works[-1]] = campaign

    @rule(
        voter=members,
        campaign=campaigns,
        pick=picks,
        ghost=ghosts,
        kind=st.sampled_from(KINDS),
        withdraw=st.booleans(),
    )
    @precondition(lambda self: bool(self.works))
    def vote(
        self, voter: str, campaign: str, pick: int, ghost: bool, kind: str, withdraw: bool
    ) -> None:
        work = self.work(pick, ghost) or f"{BRAND}:1"
        campaign = self.homes.get(work, campaign) if pick % 8 else campaign  # mostly its home
        body = {"contribution": work, "kind": kind}
        if kind == "comment" and not withdraw:
            body["comment"] = "d" * 64
        self.attempt(voter, "VoteWithdrawn" if withdraw else "VoteCast", campaign, body)

    @rule(
        campaign=campaigns,
        pick=picks,
        outcome=st.sampled_from(["accepted", "rejected", "removed"]),
        by=st.sampled_from([BRAND, BRAND, BRAND, MEMBERS[0]]),
    )
    @precondition(lambda self: bool(self.works))
    def moderate(self, campaign: str, pick: int, outcome: str, by: str) -> None:
        work = self.work(pick) or f"{BRAND}:1"
        campaign = self.homes.get(work, campaign) if pick % 8 else campaign
        body = {
            "contribution": work,
            "outcome": outcome,
            "reason": "r",
            "note": None,
        }
        self.attempt(by, "ContributionModerated", campaign, body)

    @precondition(lambda self: any(f.type == "VoteCast" for f in self.history))
    @rule(pick=picks, withdraw=st.booleans())
    def vote_again(self, pick: int, withdraw: bool) -> None:
        """The same member, work and kind again: a duplicate, or a withdrawal (then a recast)."""
        votes = [f for f in self.history if f.type == "VoteCast"]
        earlier = votes[-1 - pick % len(votes)]
        body = {"contribution": earlier.body["contribution"], "kind": earlier.body["kind"]}
        if earlier.body["kind"] == "comment" and not withdraw:
            body["comment"] = "d" * 64
        kind = "VoteWithdrawn" if withdraw else "VoteCast"
        self.attempt(earlier.actor, kind, earlier.campaign, body)

    @precondition(lambda self: bool(self.works))
    @rule(pick=picks)
    def vote_for_own_work(self, pick: int) -> None:
        work = self.works[-1 - pick % len(self.works)]
        body = {"contribution": work, "kind": "support"}
        self.attempt(work.split(":")[0], "VoteCast", self.homes[work], body)

    @precondition(lambda self: len(self.history) > 20)  # let the campaigns live a little first
    @rule(campaign=campaigns, settle=st.booleans())
    def close_or_settle(self, campaign: str, settle: bool) -> None:
        if not settle:
            self.attempt(BRAND, "CampaignClosed", campaign, {})
            return
        body = {
            "policy": {"name": "cocred-fair", "version": 1},
            "total": 1000,
            "currency": "EUR",
            "export": "e" * 64,
            "lines": 1,
        }
        self.attempt(BRAND, "PayoutsSettled", campaign, body)

    @precondition(lambda self: len(self.history) > 25)
    @rule(member=st.sampled_from(MEMBERS[3:]))  # erase only some, so the others keep acting
    def erase(self, member: str) -> None:
        self.attempt(member, "MemberErased", None, {})

    @invariant()
    def promises_hold(self) -> None:
        assert reference_live_votes(self.history) == self.state.votes

    def teardown(self) -> None:
        replayed = State()
        for fact in self.history:
            handle(replayed, fact)  # the accepted history is accepted again, in order
        assert snapshot(replayed) == snapshot(self.state)


CampaignRules.TestCase.settings = settings(
    max_examples=150,
    stateful_step_count=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
test_any_sequence_of_commands_keeps_the_rules_true = CampaignRules.TestCase


# -- any body at all: accepted, or refused with a DomainError (never another exception) ------

WORK = f"{MEMBERS[0]}:3"
FIELDS = sorted(
    {"title", "guidelines", "starts_at", "ends_at", "membership", "currency", "pool", "policy",
     "amount", "member", "reason", "content", "kind", "authors", "derived_from", "contribution",
     "comment", "licence", "licensee", "channels", "territory", "terms", "channel", "outcome",
     "note", "commitment", "total", "export", "lines", "share"}
)  # fmt: skip
atoms = st.sampled_from(
    [BRAND, MEMBERS[0], MEMBERS[1], WORK, f"{WORK}/web", GUIDE, "c" * 64, IN, LATE, "open",
     "EUR", "worldwide", "FR", "web", "support", "comment", "idea", "removed", "1/5", "0/0",
     "spam", 0, 1, 100, -1, 2**53 - 1, None, True, ""]
) | st.text(max_size=50) | st.integers()  # fmt: skip
json_values = st.recursive(
    atoms,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


def _world() -> State:
    state = State()
    machine = CampaignRules()
    machine.state = state
    machine.open_campaigns()
    assert machine.attempt(
        MEMBERS[0],
        "ContributionSubmitted",
        "camp-one",
        {"content": "c" * 64, "kind": "idea", "title": "t", "derived_from": []},
    )
    return state


@settings(max_examples=400, deadline=None)
@given(
    kind=st.sampled_from(sorted(EVENT_TYPES)),
    actor=st.sampled_from([BRAND, *MEMBERS]),
    campaign=st.none() | campaigns | st.just("nope-1"),
    body=st.dictionaries(st.sampled_from(FIELDS), json_values, max_size=8),
)
def test_any_body_is_accepted_or_refused_with_a_domain_error(
    kind: str, actor: str, campaign: str | None, body: dict[str, Any]
) -> None:
    state = _world()
    before = snapshot(state)
    try:
        handle(state, Recorded(kind, actor, 9, IN, campaign, body))
    except DomainError:
        assert snapshot(state) == before
