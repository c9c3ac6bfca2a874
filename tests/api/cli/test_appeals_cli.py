"""The review phase and appeals from the command line: a rejection appealed and reinstated,
the brand's list of appeals, and a close that says what becomes of unreviewed pieces."""

from __future__ import annotations

import json

from domain.vocabulary import DEFAULT_POLICY
from tests.api.cli.test_campaign import People, cocred, people, refused

__all__ = ["people"]  # the fixture, used by name

REVIEWED = "review-26"


def _reviewed(p: People) -> None:
    """Open ``REVIEWED`` with --review and a one-day --appeal-window."""
    policy = {**DEFAULT_POLICY, "coauthor_consent": False}
    p.run("brand", "campaign", "open", "--campaign", REVIEWED, "--title", "Reviewed",
          "--guidelines", p.file("g2.txt", b"Be kind."), "--pool", "1000",
          "--policy", p.file("policy.json", json.dumps(policy).encode()),
          "--review", "--appeal-window", "86400")  # fmt: skip
    shown = json.loads(cocred("campaign", "show", "--campaign", REVIEWED, "--db", p.db).stdout)
    assert (shown["policy"]["review"], shown["policy"]["appeal_window"]) == (True, 86400)
    for name in ("ana", "ben"):
        p.run(name, "join", "--campaign", REVIEWED)


def _idea(p: People, name: str, title: str) -> str:
    return p.json(
        name, "submit", "--campaign", REVIEWED, "--content",
        p.file(f"{title}.txt", title.encode()), "--kind", "idea", "--title", title,
    )["contribution"]  # fmt: skip


def _appeals(p: People, *args: str) -> dict:
    return json.loads(
        cocred(
            "campaign", "appeals", "--campaign", REVIEWED, "--db", p.db, "--format", "json", *args
        ).stdout  # fmt: skip
    )


def test_a_rejection_appealed_and_reinstated_then_a_close_with_unreviewed(people: People) -> None:
    p = people
    _reviewed(p)
    kite, boat = _idea(p, "ana", "Kite"), _idea(p, "ben", "Boat")
    p.run("brand", "moderate", "--campaign", REVIEWED, "--contribution", kite,
          "--outcome", "rejected", "--reason", "off-guidelines")  # fmt: skip
    why = p.file("why.txt", b"It is on brief.")
    filed = p.json("ana", "appeal", "--campaign", REVIEWED, "--contribution", kite,
                   "--reason", "misjudged", "--text", why)  # fmt: skip
    assert filed["type"] == "AppealFiled"
    listed = _appeals(p)
    assert (listed["total"], listed["open"]) == (1, 1)
    [row] = listed["appeals"]
    assert (row["contribution"], row["against"], row["status"]) == (kite, "rejected", "filed")
    shown = cocred("campaign", "appeals", "--campaign", REVIEWED, "--db", p.db).stdout
    assert "campaign review-26: 1 appeal(s), 1 awaiting a decision; showing 1–1" in shown
    assert f"{row['appeal']}  {kite}  [rejected -> filed]  Kite  (misjudged)" in shown

    assert refused(
        "campaign", "close", "--campaign", REVIEWED, "--unreviewed", "accept",
        "--key", p.key("brand"), "--db", p.db,
    ) == (
        f"error[AppealUndecided]: campaign {REVIEWED} has 1 appeal(s) awaiting the brand's "
        f"decision (first: contribution {kite}): decide them before the close"
    )  # fmt: skip
    assert refused(
        "campaign", "decide-appeal", "--campaign", REVIEWED, "--contribution", kite,
        "--reason", "fair-point", "--key", p.key("brand"), "--db", p.db,
    ) == "error[BadOption]: give exactly one of --uphold and --reinstate"  # fmt: skip
    decided = p.json("brand", "campaign", "decide-appeal", "--campaign", REVIEWED,
                     "--contribution", kite, "--reinstate", "--reason", "fair-point")  # fmt: skip
    assert decided["type"] == "AppealDecided"
    [row] = _appeals(p)["appeals"]
    assert (row["status"], row["piece_status"]) == ("reinstated", "accepted")
    assert _appeals(p, "--open")["total"] == 0

    assert refused(
        "campaign", "close", "--campaign", REVIEWED, "--key", p.key("brand"), "--db", p.db
    ) == (
        f"error[UnreviewedPieces]: campaign {REVIEWED} has 1 piece(s) awaiting review: "
        f"moderate them or close with unreviewed accept or reject"
    )  # fmt: skip
    closed = p.json("brand", "campaign", "close", "--campaign", REVIEWED, "--unreviewed", "reject")
    assert closed["type"] == "CampaignClosed"
    cocred("project", "--db", p.db)
    why = json.loads(
        cocred(
            "explain",
            "--campaign",
            REVIEWED,
            "--member",
            p.ids["ben"],
            "--db",
            p.db,
            "--format",
            "json",
        ).stdout  # fmt: skip
    )
    assert why["payout"] == 0
    assert why["review"] == [
        f"your contribution {boat} was not reviewed before the close; the brand closed with "
        f"unreviewed: reject: it earns nothing"
    ]


def test_a_new_campaign_reviews_and_takes_appeals_for_7_days_by_default(people: People) -> None:
    shown = json.loads(
        cocred("campaign", "show", "--campaign", "summer-26", "--db", people.db).stdout
    )
    assert (shown["policy"]["review"], shown["policy"]["appeal_window"]) == (True, 7 * 24 * 3600)
    assert shown["policy"]["comment_threads"] is True


def test_an_appeal_where_the_policy_offers_none_is_refused(people: People) -> None:
    p = people
    p.run("brand", "campaign", "open", "--campaign", "plain-26", "--title", "Plain",
          "--guidelines", p.file("g3.txt", b"Be kind."),
          "--no-review", "--appeal-window", "0")  # fmt: skip
    shown = json.loads(cocred("campaign", "show", "--campaign", "plain-26", "--db", p.db).stdout)
    assert shown["policy"]["review"] is False and "appeal_window" not in shown["policy"]
    p.run("ana", "join", "--campaign", "plain-26")
    kite = p.json(
        "ana", "submit", "--campaign", "plain-26", "--content", p.file("k.txt", b"kite"),
        "--kind", "idea", "--title", "Kite",
    )["contribution"]  # fmt: skip
    p.run("brand", "moderate", "--campaign", "plain-26", "--contribution", kite,
          "--outcome", "rejected", "--reason", "spam")  # fmt: skip
    assert refused(
        "appeal", "--campaign", "plain-26", "--contribution", kite, "--reason", "misjudged",
        "--key", p.key("ana"), "--db", p.db,
    ) == (
        "error[AppealsNotOffered]: campaign plain-26's policy has no appeal_window: "
        "it takes no appeals"
    )  # fmt: skip


def test_the_demo_reinstates_a_rejection_on_appeal(tmp_path) -> None:
    db = f"sqlite:///{tmp_path}/demo.sqlite"
    built = json.loads(
        cocred(
            "demo",
            "--db",
            db,
            "--seed",
            "4",
            "--members",
            "12",
            "--contributions",
            "40",
            "--votes",
            "120",
        ).stdout  # fmt: skip
    )
    assert built["unreviewed"] == "accept" and len(built["reinstated"]) == 1
    assert (built["counts"]["AppealFiled"], built["counts"]["AppealDecided"]) == (1, 1)
