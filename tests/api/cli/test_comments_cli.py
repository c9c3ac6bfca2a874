"""Comment threads from the command line: post, reply as the brand, hide, report, read."""

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


def _size(p: People) -> int:
    with open_store(p.db) as store:
        return store.size()


def test_a_thread_with_a_brand_reply_and_a_hidden_comment(people: People) -> None:
    p = people
    kite = _idea(p, "ana", "Kite")
    posted = p.json(
        "ben", "comment", "post", "--campaign", "summer-26", "--contribution", kite,
        "--text", p.file("q.txt", b"Which wind does it need?"),
    )  # fmt: skip
    assert posted["type"] == "CommentPosted"
    question = posted["comment"]
    assert question == f"{p.ids['ben']}:{posted['seq']}"
    with open_store(p.db) as store:
        [record] = [r for r in store.iterate() if r.type == "CommentPosted"]
    assert json.loads(record.data)["body"] == {
        "contribution": kite,
        "parent": None,
        "text": hashlib.sha256(b"Which wind does it need?").hexdigest(),
        "as_brand": False,
    }
    answer = p.json(
        "brand", "comment", "reply", "--campaign", "summer-26", "--contribution", kite,
        "--to", question, "--text", p.file("a.txt", b"A light breeze."), "--as-brand",
    )["comment"]  # fmt: skip
    noise = p.json(
        "ben", "comment", "post", "--campaign", "summer-26", "--contribution", kite,
        "--text", p.file("n.txt", b"follow me"),
    )["comment"]  # fmt: skip
    p.run("brand", "comment", "hide", "--campaign", "summer-26", "--comment", noise,
          "--reason", "spam")  # fmt: skip

    shown = cocred(
        "comment", "thread", "--campaign", "summer-26", "--contribution", kite, "--db", p.db
    ).stdout
    assert shown.splitlines() == [
        f"contribution {kite}: 3 comment(s); showing 1–3",
        f"{question}  {p.ids['ben']}: Which wind does it need?",
        f"  {answer}  brand: A light breeze.",
        f"{noise}  {p.ids['ben']}: hidden by the brand: spam",
    ]
    paged = json.loads(
        cocred(
            "comment", "thread", "--campaign", "summer-26", "--contribution", kite,
            "--start", "1", "--limit", "1", "--db", p.db, "--format", "json",
        ).stdout
    )  # fmt: skip
    assert (paged["total"], paged["start"]) == (3, 1)
    assert paged["comments"] == [
        {
            "comment": answer,
            "parent": question,
            "author": p.ids["brand"],
            "as_brand": True,
            "depth": 1,
            "hidden": None,
            "text": "A light breeze.",
        }
    ]


def test_refused_comment_verbs_print_their_error_and_write_nothing(people: People) -> None:
    p = people
    kite = _idea(p, "ana", "Kite")
    said = p.json(
        "ben", "comment", "post", "--campaign", "summer-26", "--contribution", kite,
        "--text", p.file("s.txt", b"nice"),
    )["comment"]  # fmt: skip
    size = _size(p)
    assert refused(
        "comment", "post", "--campaign", "summer-26", "--contribution", kite,
        "--text", p.file("b.txt", b"official"), "--as-brand", "--key", p.key("ben"),
        "--db", p.db,
    ) == (
        f"error[NotCampaignOwner]: only the brand {p.ids['brand']} of campaign summer-26 may "
        f"post comments marked as the brand's; {p.ids['ben']} may not"
    )  # fmt: skip
    assert refused(
        "comment", "hide", "--campaign", "summer-26", "--comment", said, "--reason", "spam",
        "--key", p.key("ana"), "--db", p.db,
    ) == (
        f"error[NotCampaignOwner]: only the brand {p.ids['brand']} of campaign summer-26 may "
        f"hide comments; {p.ids['ana']} may not"
    )  # fmt: skip
    assert refused(
        "comment", "report", "--campaign", "summer-26", "--comment", said, "--reason", "spam",
        "--key", p.key("ben"), "--db", p.db,
    ) == (
        f"error[SelfReport]: member {p.ids['ben']} wrote comment {said}: nobody reports their "
        f"own comment"
    )  # fmt: skip
    assert refused(
        "comment", "post", "--campaign", "summer-26", "--contribution", kite,
        "--text", p.file("long.txt", b"x" * 4001), "--key", p.key("ben"), "--db", p.db,
    ) == (
        "error[BadCommentText]: comment text is 4001 bytes; a comment holds at most 4000 "
        "bytes of UTF-8"
    )  # fmt: skip
    assert _size(p) == size


def test_the_thread_of_an_unknown_piece_is_refused(people: People) -> None:
    ghost = f"{people.ids['ana']}:99"
    assert refused(
        "comment", "thread", "--campaign", "summer-26", "--contribution", ghost,
        "--db", people.db,
    ) == f"error[UnknownContribution]: campaign summer-26 has no contribution {ghost}"  # fmt: skip
