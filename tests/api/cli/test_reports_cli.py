"""Reports from the command line: a member reports, the brand reads its queue and cites them."""

from __future__ import annotations

import hashlib
import json

from ledger.store import open_store
from tests.api.cli.test_campaign import People, cocred, people, refused

__all__ = ["people"]  # the fixture, used by name


def _idea(p: People, name: str, title: str) -> str:
    return p.json(
        name, "submit", "--campaign", "summer-26", "--content",
        p.file(f"{title}.txt", title.encode()), "--kind", "idea", "--title", title,
    )["contribution"]  # fmt: skip


def test_a_member_reports_a_piece_and_the_brand_answers_from_its_queue(people: People) -> None:
    p = people
    kite, boat = _idea(p, "ana", "Kite"), _idea(p, "ana", "Boat")
    why = p.file("why.txt", b"This is a copy of my 2019 drawing.")
    reported = p.json(
        "ben", "report", "--campaign", "summer-26", "--contribution", kite,
        "--reason", "plagiarism", "--text", why,
    )  # fmt: skip
    assert reported["type"] == "ContributionReported"
    report = reported["report"]
    assert report == f"{p.ids['ben']}:{reported['seq']}"
    with open_store(p.db) as store:
        [record] = [r for r in store.iterate() if r.type == "ContributionReported"]
    body = json.loads(record.data)["body"]
    digest = hashlib.sha256(b"This is a copy of my 2019 drawing.").hexdigest()
    assert body == {"contribution": kite, "reason": "plagiarism", "text": digest}

    queue = json.loads(
        cocred(
            "campaign", "queue", "--campaign", "summer-26", "--db", p.db, "--format", "json"
        ).stdout  # fmt: skip
    )
    assert (queue["total"], queue["reports"]) == (1, 1)
    [piece] = queue["pieces"]
    assert (piece["contribution"], piece["reports"], piece["status"]) == (kite, 1, "open")
    assert piece["reasons"]["plagiarism"] == 1 and sum(piece["reasons"].values()) == 1
    shown = cocred("campaign", "queue", "--campaign", "summer-26", "--db", p.db).stdout
    assert (
        "campaign summer-26: 1 reported piece(s) and comment(s), 1 report(s); showing 1–1" in shown
    )
    assert f"1  {kite}  [open]  Kite  (plagiarism 1)" in shown

    assert refused(
        "moderate", "--campaign", "summer-26", "--contribution", boat, "--outcome", "rejected",
        "--reason", "plagiarism", "--report", report, "--key", p.key("brand"), "--db", p.db,
    ) == (
        f"error[ReportNotAboutContribution]: report {report} is about contribution {kite}, "
        f"not {boat}: a decision cites only the reports about its piece"
    )  # fmt: skip
    p.run("brand", "moderate", "--campaign", "summer-26", "--contribution", kite,
          "--outcome", "removed", "--reason", "plagiarism", "--report", report)  # fmt: skip
    queue = json.loads(
        cocred(
            "campaign", "queue", "--campaign", "summer-26", "--db", p.db, "--format", "json"
        ).stdout  # fmt: skip
    )
    assert queue["pieces"][0]["status"] == "removed"


def test_a_refused_report_prints_its_error_and_writes_nothing(people: People) -> None:
    p = people
    kite = _idea(p, "ana", "Kite")
    size = _size(p)
    assert refused(
        "report", "--campaign", "summer-26", "--contribution", kite, "--reason", "spam",
        "--key", p.key("ana"), "--db", p.db,
    ) == (
        f"error[SelfReport]: member {p.ids['ana']} is an author of contribution {kite}: "
        f"nobody reports their own work"
    )  # fmt: skip
    assert _size(p) == size
    p.run("ben", "report", "--campaign", "summer-26", "--contribution", kite, "--reason", "spam")
    size = _size(p)
    assert refused(
        "report", "--campaign", "summer-26", "--contribution", kite, "--reason", "other",
        "--key", p.key("ben"), "--db", p.db,
    ) == (
        f"error[DuplicateReport]: member {p.ids['ben']} already reported contribution {kite} "
        f"(report {p.ids['ben']}:3): one report per member per piece"
    )  # fmt: skip
    assert _size(p) == size


def test_the_queue_of_an_unknown_campaign_is_refused(people: People) -> None:
    assert refused("campaign", "queue", "--campaign", "winter-27", "--db", people.db) == (
        f"error[UnknownCampaign]: no campaign 'winter-27' in the read models "
        f"(as of position {_size(people)})"
    )


def _size(p: People) -> int:
    with open_store(p.db) as store:
        return store.size()
