"""Comment threads over HTTP: the text is uploaded (PUT /content, kind text), the signed
CommentPosted goes to POST /events like any act, and anyone reads a piece's thread a page at
a time (GET /campaigns/{campaign}/contributions/{contribution}/comments)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from domain.comments import MAX_COMMENT_BYTES
from ledger.envelope import sign_envelope
from ledger.keys import SigningKey
from tests.api.http.routes.test_contributors import (
    OPEN_CAMPAIGN,
    World,
    demo_world,
    refused,
    upload,
)


@pytest.fixture
def world(store_url: str, tmp_path: Path) -> Iterator[World]:
    """The demo world (SQLite, then PostgreSQL), an open campaign Ana and Ben joined, and
    Ana's piece in it."""
    with demo_world(store_url, tmp_path) as w:
        upload(w, b"opens the campaign")  # opens it, Ana joins
        w.services.campaigns.join(w.ben, OPEN_CAMPAIGN)
        yield w


def _piece(w: World) -> str:
    receipt = w.services.campaigns.submit(
        w.ana, OPEN_CAMPAIGN, b"a kite", kind="idea", title="Kite"
    )
    return str(receipt.ids["contribution"])


def _post(
    w: World,
    key: SigningKey,
    contribution: str,
    text: bytes,
    *,
    parent: str | None = None,
    as_brand: bool = False,
    uploaded: bool = True,
) -> Any:
    if uploaded:
        assert upload(w, text, key=key).status_code in (200, 201)
    body = {
        "contribution": contribution,
        "parent": parent,
        "text": hashlib.sha256(text).hexdigest(),
        "as_brand": as_brand,
    }
    seq = w.services.ledger.next_seq(key.actor)
    envelope = sign_envelope(key, "CommentPosted", body, seq=seq, campaign=OPEN_CAMPAIGN)
    return w.client.post("/events", content=envelope.canonical_bytes())


def test_a_thread_is_posted_as_events_and_read_a_page_at_a_time(world: World) -> None:
    w = world
    work = _piece(w)
    assert _post(w, w.ben, work, b"How long is the string?").status_code == 201
    question = f"{w.ben.actor}:{w.services.ledger.next_seq(w.ben.actor) - 1}"
    assert _post(
        w, w.brand, work, b"Thirty metres.", parent=question, as_brand=True
    ).status_code == (201)
    assert _post(w, w.ben, work, b"spam spam").status_code == 201
    noise = f"{w.ben.actor}:{w.services.ledger.next_seq(w.ben.actor) - 1}"
    w.services.campaigns.hide_comment(w.brand, OPEN_CAMPAIGN, noise, "spam")
    path = f"/campaigns/{OPEN_CAMPAIGN}/contributions/{work}/comments"
    page = w.client.get(path, params={"limit": 2}).json()
    assert (page["total"], page["next"]) == (3, 2)
    assert [(c["depth"], c["as_brand"], c["text"]) for c in page["comments"]] == [
        (0, False, "How long is the string?"),
        (1, True, "Thirty metres."),
    ]
    rest = w.client.get(path, params={"from": 2}).json()
    assert rest["next"] is None
    assert [(c["comment"], c["hidden"], c["text"]) for c in rest["comments"]] == [
        (noise, "spam", None)
    ]


def test_a_refused_comment_over_http_has_its_status_and_writes_nothing(world: World) -> None:
    w = world
    work = _piece(w)
    size = w.services.ledger.size()
    missing = b"never uploaded"
    refused(
        _post(w, w.ben, work, missing, uploaded=False),
        404,
        "UnknownContent",
        f"no content with hash {hashlib.sha256(missing).hexdigest()}",
    )
    long = b"x" * (MAX_COMMENT_BYTES + 1)
    refused(
        _post(w, w.ben, work, long),
        422,
        "BadCommentText",
        f"comment text {hashlib.sha256(long).hexdigest()} is {MAX_COMMENT_BYTES + 1} bytes; "
        f"a comment holds at most {MAX_COMMENT_BYTES} bytes of UTF-8",
    )
    ghost = f"{w.ana.actor}:99"
    refused(
        _post(w, w.ben, work, b"re", parent=ghost),
        404,
        "UnknownComment",
        f"campaign {OPEN_CAMPAIGN} has no comment {ghost}",
    )
    assert w.services.ledger.size() == size


def test_the_thread_of_an_unknown_piece_is_a_404(world: World) -> None:
    ghost = f"{world.ana.actor}:99"
    response = world.client.get(f"/campaigns/{OPEN_CAMPAIGN}/contributions/{ghost}/comments")
    refused(
        response,
        404,
        "UnknownContribution",
        f"campaign {OPEN_CAMPAIGN} has no contribution {ghost}",
    )
