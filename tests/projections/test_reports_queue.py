"""Reports in the read models: they never change a score, and the queue orders them.

A report is a public fact for the brand's moderation, not engagement: the settlement export
of a campaign (v1 and v2) is byte-identical whether its members reported pieces or signed
events the campaign projections skip in their place (same positions, same times). The queue
orders reported pieces by number of reports, then age, on every page.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.vocabulary import DEFAULT_POLICY_V1, DEFAULT_POLICY_V2, REPORT_REASONS
from ledger.ledger import Ledger
from ledger.store import open_store
from projections.errors import UnknownCampaignError
from projections.export import settlement_of
from projections.projector import Projector
from projections.reports import moderation_queue
from tests.projections.builders import Script, campaign_of
from tests.projections.lively import demo
from tests.projections.test_projector import dump, two_campaigns
from tests.projections.test_v1_forever import PINNED_V1_EXPORT_SHA256

REPORTERS = [f"reporter{i}" for i in range(6)]


def _played(policy: dict[str, Any], *, with_reports: bool) -> tuple[Script, int]:
    """The pinned v1 demo (or its v2 twin), then six late joiners who each report five
    pieces, or sign as many ``ProfileCommitted`` in their place; then the close."""
    script = Script("pinned-v1", policy=policy)
    played = demo(script, members=60, contributions=90, votes=900, ring=6, seed=16)
    script.join(*REPORTERS)
    pieces = sorted({cid for works in played.works.values() for cid in works})[:5]
    reported = 0
    for i, name in enumerate(REPORTERS):
        for j, cid in enumerate(pieces):
            if with_reports:
                script.report(name, cid, REPORT_REASONS[(i + j) % len(REPORT_REASONS)], f"{i}/{j}")
                reported += 1
            else:
                script.profile(name)
    script.close()
    return script, reported


# v2 without co-author consent: the lively demo names co-authors who never answer, and under
# consent their pieces would be pending; this test is about reports, which are the same either way.
V2_WITHOUT_CONSENT = {**DEFAULT_POLICY_V2, "coauthor_consent": False}


@pytest.mark.parametrize("policy", [DEFAULT_POLICY_V1, V2_WITHOUT_CONSENT], ids=["v1", "v2"])
def test_reports_leave_every_payout_and_the_export_hash_as_they_were(policy: Any) -> None:
    without, _ = _played(dict(policy), with_reports=False)
    with_, reported = _played(dict(policy), with_reports=True)
    quiet, loud = campaign_of(without), campaign_of(with_)
    assert reported == 30 and len(loud.reports) == 30 and not loud.ignored
    assert (quiet.closed_at, len(without.log)) == (loud.closed_at, len(with_.log))
    before, after = settlement_of(quiet), settlement_of(loud)
    assert after.policy_version == policy["version"]
    assert [(x.member, x.amount) for x in after.lines] == [
        (x.member, x.amount) for x in before.lines
    ]
    assert after.sha256 == before.sha256


def test_the_pinned_v1_export_is_what_it_was_before_reports_existed() -> None:
    script = Script("pinned-v1", policy=dict(DEFAULT_POLICY_V1))
    demo(script, members=60, contributions=90, votes=900, ring=6, seed=16)
    script.close()
    assert settlement_of(campaign_of(script)).sha256 == PINNED_V1_EXPORT_SHA256


def test_an_incremental_run_and_a_rebuild_give_the_same_report_rows(ledger: Ledger) -> None:
    first, second = two_campaigns()  # the first is closed, the second open
    second.join("late-author", *REPORTERS)
    pieces = [second.submit("late-author", "late piece"), second.submit("late-author", "later")]
    for i, name in enumerate(REPORTERS):
        second.report(name, pieces[0], REPORT_REASONS[i])
        if i % 2:
            second.report(name, pieces[1], "spam", f"text {i}")
    second.moderate(pieces[0], "rejected", "spam", reports=[f"{second.id(REPORTERS[0])}:3"])
    projector = Projector(ledger.store, page=97)
    for script in (first, second):
        for start in range(0, len(script.pending), 300):
            ledger.append_batch(script.pending[start : start + 300])
            projector.catch_up()
        script.pending = []
    incremental = dump(projector)
    projector.rebuild()
    assert dump(projector) == incremental
    assert len(incremental["proj_reports"]) == 9
    assert [row[-1] for row in incremental["proj_moderation"] if row[-1] is not None] == [
        f'["{second.id(REPORTERS[0])}:3"]'
    ]
    projector.close()


@pytest.fixture
def projected(tmp_path: Any) -> Iterator[Any]:
    counter = iter(range(10_000))

    def project(script: Script) -> Projector:
        ledger = Ledger(open_store(f"sqlite:///{tmp_path}/q{next(counter)}.db"), verify_threads=1)
        store = ledger.store
        script.flush(ledger)
        projector = Projector(store)
        projector.catch_up()
        opened.append((projector, ledger))
        return projector

    opened: list[tuple[Projector, Ledger]] = []
    yield project
    for projector, ledger in opened:
        projector.close()
        ledger.close()
        ledger.store.close()


def test_the_queue_lists_reported_pieces_most_reported_first_with_reasons(projected) -> None:
    camp = Script()
    camp.join("ana", "ben", "cy", "dee")
    old = camp.submit("ana", "old piece")
    new = camp.submit("ben", "new piece")
    camp.submit("cy", "never reported")
    camp.report("ben", old, "spam")
    camp.report("cy", new, "plagiarism", "it is mine")
    camp.report("dee", new, "plagiarism")
    camp.moderate(new, "rejected", "plagiarism", reports=[f"{camp.id('cy')}:3"])
    queue = moderation_queue(projected(camp), "summer-26")
    assert (queue.total, queue.reports, queue.start) == (2, 3, 0)
    first, second = queue.pieces
    assert (first.contribution, first.reports, first.status) == (new, 2, "rejected")
    assert first.reasons == dict.fromkeys(REPORT_REASONS, 0) | {"plagiarism": 2}
    assert (second.contribution, second.reports, second.status) == (old, 1, "open")
    assert list(second.reasons) == list(REPORT_REASONS)


def test_reported_comments_queue_beside_pieces_by_count_then_age(projected) -> None:
    """Members report comments too (issue 19): the queue holds each reported comment as an
    item of its own, on its piece, by its author, ``shown`` or ``hidden``, ordered with the
    pieces by reports then age (the comment's own position)."""
    camp = Script()
    camp.join("ana", "ben", "cy", "dee")
    piece = camp.submit("ana", "the piece")
    rude = camp.comment("ben", piece, text="rude")
    fine = camp.comment("cy", piece, text="fine")
    camp.report("ben", piece, "spam")
    for name in ("ana", "cy", "dee"):
        camp.report_comment(name, rude, "harassment")
    camp.report_comment("dee", fine, "spam")
    camp.report_comment("dee", fine, "spam")  # twice: the projection counts one
    camp.report_comment("cy", fine, "spam")  # its own author: not counted
    camp.hide(rude, "harassment")
    camp.report_comment("ana", rude, "spam")  # hidden already: not counted
    camp.report_comment("dee", f"{camp.id('dee')}:99", "spam")  # no such comment
    projector = projected(camp)
    queue = moderation_queue(projector, "summer-26")
    assert (queue.total, queue.reports) == (3, 5)
    first, second, third = queue.pieces
    assert (first.comment, first.contribution, first.signer, first.kind, first.status) == (
        rude, piece, camp.id("ben"), "comment", "hidden",
    )  # fmt: skip
    assert first.reports == 3 and first.reasons["harassment"] == 3
    assert first.title == "the piece"
    assert (second.comment, second.contribution, second.reports, second.status) == (
        None, piece, 1, "open",
    )  # fmt: skip
    assert (third.comment, third.reports, third.status, third.signer) == (
        fine, 1, "shown", camp.id("cy"),
    )  # fmt: skip
    assert second.position < third.position  # equal counts: the older item first
    assert first.to_json()["comment"] == rude and second.to_json()["comment"] is None
    paged = [moderation_queue(projector, "summer-26", start=i, limit=1).pieces[0] for i in range(3)]
    assert paged == queue.pieces
    ignored = [row for row in dump(projector)["proj_ignored"] if row[2] == "CommentReported"]
    assert [row[-1] for row in ignored] == [
        "the member already reported the comment",
        "the reporter wrote the comment",
        "the comment is hidden",
        "unknown comment",
    ]


def test_the_queue_of_an_unknown_campaign_is_refused(projected) -> None:
    camp = Script()
    camp.join("ana")
    with pytest.raises(UnknownCampaignError) as caught:
        moderation_queue(projected(camp), "winter-27")
    assert caught.value.detail.startswith("no campaign 'winter-27' in the read models")


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    reports=st.lists(
        st.tuples(st.integers(0, 7), st.integers(0, 5), st.sampled_from(REPORT_REASONS)),
        max_size=40,
    ),
    per_page=st.integers(1, 4),
)
def test_every_page_of_the_queue_follows_count_then_age(
    projected, reports: list[tuple[int, int, str]], per_page: int
) -> None:
    camp = Script()
    authors = [f"a{i}" for i in range(8)]
    members = [f"r{i}" for i in range(6)]
    camp.join(*authors, *members)
    pieces = [camp.submit(author, f"piece {author}") for author in authors]
    done: dict[tuple[int, int], str] = {}
    for piece, member, reason in reports:
        if (piece, member) not in done:  # one report per member per piece
            done[(piece, member)] = reason
            camp.report(members[member], pieces[piece], reason)
    projector = projected(camp)
    counts = {p: sum(1 for (q, _) in done if q == p) for p in range(8)}
    expected = sorted((p for p in range(8) if counts[p]), key=lambda p: (-counts[p], p))
    seen = []
    for start in range(0, 9, per_page):
        page = moderation_queue(projector, "summer-26", start=start, limit=per_page)
        assert page.total == len(expected) and page.reports == len(done)
        seen += page.pieces
    assert [q.contribution for q in seen] == [pieces[p] for p in expected]
    for queued, p in zip(seen, expected, strict=True):
        assert queued.reports == counts[p] == sum(queued.reasons.values())
        for reason in REPORT_REASONS:
            assert queued.reasons[reason] == sum(
                1 for (q, _), r in done.items() if q == p and r == reason
            )
