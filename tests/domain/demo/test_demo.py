"""The demo campaign: deterministic to the byte, true to its summary, accepted by every rule."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import orjson
import pytest

from api.bootstrap import Services, bootstrap
from api.settings import Settings
from domain.demo.generator import DemoSummary, build_demo, first_free_seed
from domain.errors import DemoSizeError, DuplicateCampaignError
from domain.gate import CampaignApp
from ledger.verify import verify_log

SMALL = {"members": 12, "contributions": 40, "votes": 160}


def _build(path: Path, seed: int) -> tuple[list[bytes], DemoSummary]:
    with bootstrap(Settings(database_url=f"sqlite:///{path}", verify_threads=1)) as svc:
        summary = build_demo(svc, seed=seed, **SMALL)
        return [r.data for r in svc.ledger.store.iterate()], summary


def test_the_same_seed_writes_byte_identical_logs(tmp_path: Path) -> None:
    first, summary = _build(tmp_path / "a.sqlite", seed=7)
    again, repeat = _build(tmp_path / "b.sqlite", seed=7)
    other, _ = _build(tmp_path / "c.sqlite", seed=8)
    assert first == again
    assert summary == repeat  # every field but the wall-clock seconds
    assert {**summary.to_json(), "seconds": 0} == {**repeat.to_json(), "seconds": 0}
    assert not set(first) & set(other), "another seed shares no event with it"


def _events(svc: Services) -> list[dict]:
    return [orjson.loads(r.data) for r in svc.ledger.store.iterate()]


def test_the_summary_tells_the_truth_about_the_log(services: Services) -> None:
    summary = build_demo(services, seed=3, members=60, contributions=200, votes=1200)
    events = _events(services)
    assert summary.events == len(events) == summary.last_position + 1
    assert summary.counts == dict(sorted(Counter(e["type"] for e in events).items()))
    ring = set(summary.ring["members"])
    ring_works = set(summary.ring["contributions"])
    works = {f"{e['actor']}:{e['seq']}": e for e in events if e["type"] == "ContributionSubmitted"}
    assert {w.split(":")[0] for w in ring_works} == ring
    ring_votes = [e for e in events if e["type"] == "VoteCast" and e["actor"] in ring]
    assert {v["body"]["contribution"] for v in ring_votes} <= ring_works, "the ring votes inward"
    assert (
        len(ring_votes) == summary.ring["internal_votes"] == 3 * len(ring_works) * (len(ring) - 1)
    )
    blocked = [e["body"]["member"] for e in events if e["type"] == "MemberBlocked"]
    assert blocked == summary.trolls
    removed = [
        e["body"]["contribution"]
        for e in events
        if e["type"] == "ContributionModerated" and e["body"]["outcome"] == "removed"
    ]
    assert removed == summary.removed
    assert any(w.split(":")[0] in summary.trolls for w in removed), "spam was removed"
    assert any(w.split(":")[0] not in summary.trolls for w in removed), "so was honest work"
    co_authored = [w for w in works.values() if "authors" in w["body"]]
    assert len(co_authored) == summary.co_authored > 0

    def depth(work: str) -> int:
        sources = works[work]["body"]["derived_from"]
        return 1 + max((depth(s["contribution"]) for s in sources), default=-1)

    assert max(depth(w) for w in works) == summary.max_remix_depth >= 3
    grants = Counter(e["body"]["licence"] for e in events if e["type"] == "LicenceGranted")
    for licence in summary.licences["live"]:
        authors = works[licence.rsplit("/", 1)[0]]["body"].get("authors")
        assert grants[licence] == (len(authors) if authors else 1)
    assert summary.licences["incomplete"] and summary.licences["revoked"]
    reused = {e["body"]["licence"] for e in events if e["type"] == "ReuseRecorded"}
    assert reused == set(summary.licences["live"])
    every = [e for e in events if e["type"] == "CommentPosted"]
    # Under the default policy (comment_threads) each comment vote names its voter's comment,
    # posted just before it; the thread comes after the last vote.
    comment_votes = [e for e in events if e["type"] == "VoteCast" and e["body"].get("comment")]
    tied = {(e["body"]["contribution"], e["actor"], e["body"]["text"]) for e in every}
    assert comment_votes and all(
        (e["body"]["contribution"], e["actor"], e["body"]["comment"]) in tied for e in comment_votes
    )
    posted = every[-4:]
    assert len(every) == len(comment_votes) + 4
    thread = summary.thread
    assert {e["body"]["contribution"] for e in posted} == {thread["piece"]}
    assert [e["body"]["as_brand"] for e in posted] == [False, False, True, False]
    assert posted[1]["body"]["parent"] == thread["comments"][0], "the author answers"
    assert posted[2]["actor"] == summary.brand, "and the brand replies to the answer"
    hidden = [e["body"] for e in events if e["type"] == "CommentHidden"]
    assert hidden == [{"comment": thread["hidden"], "reason": "off-topic"}]
    assert events[-1]["type"] == "CampaignClosed"
    assert [r["code"] for r in summary.refusals] == ["SelfVote", "MemberBlocked", "CampaignClosed"]
    # Every event verifies and the rules, replayed from nothing, accept every one.
    assert verify_log(services.ledger.store).ok
    fresh = CampaignApp(services.ledger)
    fresh.catch_up()
    assert fresh.ignored == []


def test_a_seed_already_in_the_database_is_refused_and_the_next_one_is_free(
    services: Services,
) -> None:
    build_demo(services, seed=1, **SMALL)
    size = services.ledger.size()
    with pytest.raises(DuplicateCampaignError) as caught:
        build_demo(services, seed=1, **SMALL)
    assert caught.value.detail == (
        "campaign id demo-1 is already taken: the demo for seed 1 is in this database already "
        "(use another seed or a fresh database)"
    )
    assert services.ledger.size() == size
    assert first_free_seed(services) == 2
    second = build_demo(services, seed=2, **SMALL)
    assert second.first_position == size


@pytest.mark.parametrize(
    ("sizes", "message"),
    [
        (
            {"members": 9, "contributions": 40, "votes": 0},
            "the demo needs at least 10 members, got 9",
        ),
        (
            {"members": 12, "contributions": 17, "votes": 0},
            "the demo needs at least 18 contributions for 12 members, got 17",
        ),
    ],
)
def test_sizes_too_small_for_the_story_are_refused(
    tmp_path: Path, sizes: dict[str, int], message: str
) -> None:
    with bootstrap(Settings(database_url=f"sqlite:///{tmp_path}/d.sqlite")) as svc:
        with pytest.raises(DemoSizeError) as caught:
            build_demo(svc, seed=1, **sizes)
        assert caught.value.detail == message
        assert svc.ledger.size() == 0


def test_the_default_demo_reinstates_a_rejection_on_appeal_and_closes_saying_unreviewed(
    services: Services,
) -> None:
    from projections.explain import explain
    from tests.projections.builders import replayed

    summary = build_demo(services, seed=5, **SMALL)
    [piece] = summary.reinstated
    assert summary.unreviewed == "accept"
    assert (
        summary.to_json()["reinstated"] == [piece] and summary.to_json()["unreviewed"] == "accept"
    )
    events = _events(services)
    types = [e["type"] for e in events if e.get("campaign") == summary.campaign]
    assert types.count("AppealFiled") == types.count("AppealDecided") == 1
    [closed] = [e for e in events if e["type"] == "CampaignClosed"]
    assert closed["body"] == {"unreviewed": "accept"}
    state = replayed(services.ledger.store.iterate()).campaign(summary.campaign)
    work = state.contributions[piece]
    assert work.status in ("accepted",) and state.appeals[work.appeal].outcome == "reinstated"
    why = explain(state, work.signer, summary.last_position)
    assert any("reinstated by the brand" in sentence for sentence in why.review)


def test_the_default_demo_closes_with_a_piece_pending_and_one_declined_then_resubmitted(
    services: Services,
) -> None:
    from projections.explain import explain
    from tests.projections.builders import replayed

    summary = build_demo(services, seed=5, **SMALL)
    consent = summary.consent
    assert summary.to_json()["consent"] == consent
    assert set(consent) == {"pending", "declined", "resubmitted"}
    events = _events(services)
    declines = [e["body"] for e in events if e["type"] == "CoAuthorshipDeclined"]
    assert declines == [{"contribution": consent["declined"], "reason": "not-mine"}]
    accepted = {e["body"]["contribution"] for e in events if e["type"] == "CoAuthorshipAccepted"}
    assert consent["pending"] not in accepted and consent["declined"] not in accepted
    works = {
        f"{e['actor']}:{e['seq']}": e["body"]
        for e in events
        if e["type"] == "ContributionSubmitted"
    }
    again, declined = works[consent["resubmitted"]], works[consent["declined"]]
    assert again["title"] == declined["title"] and "authors" not in again, "resubmitted alone"
    state = replayed(services.ledger.store.iterate()).campaign(summary.campaign)
    pending = state.contributions[consent["pending"]]
    assert pending.awaiting, "still pending at the close"
    why = orjson.dumps(explain(state, pending.signer, summary.last_position).to_json()).decode()
    assert f"{consent['pending']} is awaiting co-author consent" in why
    assert "it earns nothing until each accepts" in why


def test_a_demo_under_a_v2_policy_from_before_the_safeguards_files_no_appeal(
    services: Services,
) -> None:
    from domain.vocabulary import DEFAULT_POLICY

    safeguards = ("review", "appeal_window", "comment_threads", "coauthor_consent")
    before = {k: v for k, v in DEFAULT_POLICY.items() if k not in safeguards}
    summary = build_demo(services, seed=6, policy=before, **SMALL)
    assert (summary.reinstated, summary.unreviewed, summary.consent) == ([], None, {})
    assert "reinstated" not in summary.to_json() and "unreviewed" not in summary.to_json()
    assert "consent" not in summary.to_json()
    types = {e["type"] for e in _events(services)}
    assert not types & {"AppealFiled", "CoAuthorshipDeclined", "CoAuthorshipAccepted"}
    assert [e for e in _events(services) if e["type"] == "CommentPosted"][:-4] == []


def test_the_demo_admits_two_newcomers_by_single_use_invitation_codes(
    services: Services,
) -> None:
    """Issue 19: the brand invites people it knows only by e-mail: one InvitationCodesIssued
    holds the codes' hashes (never a code), and each newcomer joins presenting one (the join
    reveals it and uses it up)."""
    from domain.demo.story import NEWCOMERS, demo_code
    from domain.invite_codes import CODE_FORMAT, invite_code_hash

    summary = build_demo(services, seed=6, **SMALL)
    events = _events(services)
    (issued,) = [e for e in events if e["type"] == "InvitationCodesIssued"]
    codes = [demo_code(6, n) for n in range(NEWCOMERS)]
    assert all(CODE_FORMAT.fullmatch(code) for code in codes)
    assert issued["body"]["codes"] == [invite_code_hash(summary.campaign, c) for c in codes]
    assert not [code for code in codes if code in orjson.dumps(issued).decode()]
    joins = [e["body"] for e in events if e["type"] == "MemberJoined"]
    assert [body["code"] for body in joins if "code" in body] == codes  # a join reveals it
    used = services.campaigns.gate.read(lambda state: dict(state.invite_codes))
    assert sorted(code.used for code in used.values()) == [True] * NEWCOMERS
