"""An append that was stored is never answered with a refusal.

A retry of the very bytes already in the log (a client that did not hear the
answer, a lost COMMIT acknowledgement) gets the stored position; only a
different event at that (actor, seq) is a ``Replay``. The lost acknowledgement
is made real: a TCP proxy between the store and PostgreSQL forwards a COMMIT and
cuts the connection before its answer comes back (``tests.pgproxy``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing
from datetime import UTC, datetime

import orjson
import pytest

from api.bootstrap import Services, bootstrap
from api.settings import Settings
from domain import commands
from ledger.envelope import Envelope, sign_envelope
from ledger.errors import OutcomeUnknownError, ReplayError, SignatureError
from ledger.ledger import Ledger, LogMovedError
from ledger.store import open_store
from tests.domain.conftest import CAMPAIGN, World, open_world
from tests.pgproxy import PgProxy, pg_proxy
from tests.support import drop_postgres_schema, fresh_postgres_url, registration, seeded_key

ANA = seeded_key(1401)
AT = datetime(2026, 1, 1, tzinfo=UTC)  # fixed, so that a note signed twice is the same bytes


def note(seq: int, text: str = "hello") -> Envelope:
    return sign_envelope(ANA, "NoteShared", {"text": text}, seq=seq, ts=AT)


@pytest.fixture
def proxied() -> Iterator[tuple[PgProxy, str]]:
    """A fresh PostgreSQL schema and a URL reaching it through a fault-injecting proxy."""
    url = fresh_postgres_url()
    try:
        with pg_proxy() as proxy:
            yield proxy, proxy.url(url)
    finally:
        drop_postgres_schema(url)


# -- the same bytes again, on every backend ---------------------------------------------------


def test_appending_the_same_bytes_again_gives_the_stored_position(ledger: Ledger) -> None:
    ledger.append(registration(ANA))
    first = ledger.append(note(2))
    again = ledger.append_batch([note(2).canonical_bytes()])
    assert again == [first]
    assert again.stored_before == frozenset({0})
    assert ledger.size() == 2


def test_a_different_event_at_a_stored_seq_is_still_a_replay(ledger: Ledger) -> None:
    ledger.append(registration(ANA))
    ledger.append(note(2))
    with pytest.raises(ReplayError) as caught:
        ledger.append(note(2, "something else"))
    assert caught.value.code == "Replay"
    assert caught.value.detail == f"actor {ANA.actor}: seq 2 is already used (last seq is 2)"
    assert ledger.size() == 2


def test_a_batch_of_stored_and_new_events_appends_only_the_new_ones(ledger: Ledger) -> None:
    ledger.append_batch([registration(ANA), note(2), note(3)])
    ben = seeded_key(1402)
    items = [note(2), note(3), note(4), registration(ben), note(4), note(5)]
    positions = ledger.append_batch(items)
    assert positions == [1, 2, 3, 4, 3, 5]
    assert positions.stored_before == frozenset({0, 1, 4})
    assert [r.seq for r in ledger.store.read_actor(ANA.actor)] == [1, 2, 3, 4, 5]
    assert ledger.size() == 6


def test_a_big_batch_checked_on_workers_skips_what_is_stored(ledger: Ledger) -> None:
    events = [registration(ANA), *(note(s, f"n{s}") for s in range(2, 601))]
    ledger.append_batch(events[:300])
    forged = orjson.loads(note(301, "n301").canonical_bytes())
    forged["sig"] = ("B" if forged["sig"][0] == "A" else "A") + forged["sig"][1:]
    with pytest.raises(SignatureError) as caught:  # named by its index in the batch
        ledger.append_batch([*events[:300], forged])
    assert caught.value.detail == (
        f"event 300 of the batch: actor {ANA.actor} seq 301: signature does not verify "
        f"with key {ANA.key_id}"
    )
    assert caught.value.ids["index"] == 300
    assert ledger.size() == 300
    positions = ledger.append_batch(events)
    assert positions == list(range(600))
    assert positions.stored_before == frozenset(range(300))
    assert ledger.size() == 600


def test_a_ledger_with_a_stale_cache_still_answers_the_same_bytes_with_their_position(
    ledger: Ledger,
) -> None:
    other = Ledger(ledger.store, verify_threads=1)
    ledger.append(registration(ANA))
    position = other.append(note(2))
    # ``ledger`` still believes ANA is at seq 1: its insert meets the stored copy.
    assert ledger.append(note(2)) == position
    assert ledger.size() == 2


def test_a_checked_append_that_meets_its_own_stored_bytes_asks_its_caller_to_check_again(
    ledger: Ledger,
) -> None:
    other = Ledger(ledger.store, verify_threads=1)
    ledger.append(registration(ANA))
    other.append(note(2))
    with pytest.raises(LogMovedError) as caught:  # the gate catches up and tries again
        ledger.append_batch([note(2)], expected_size=2, check=lambda envelopes: None)
    assert caught.value.code == "LogMoved"
    assert caught.value.detail == (
        "an event of this batch was stored meanwhile by another writer; check again"
    )
    assert ledger.append_batch([note(2)], expected_size=2, check=lambda e: None) == [1]


# -- a lost COMMIT acknowledgement on a real PostgreSQL ----------------------------------------


@pytest.mark.postgres
def test_a_lost_commit_acknowledgement_is_answered_with_the_stored_position(
    proxied: tuple[PgProxy, str],
) -> None:
    proxy, url = proxied
    with closing(Ledger(open_store(url), verify_threads=1)) as ledger:
        ledger.append(registration(ANA))
        proxy.lose_next_commit()
        position = ledger.append(note(2))
        assert proxy.commits_lost == 1
        assert position == 1
        assert [r.data for r in ledger.store.read_actor(ANA.actor)][-1] == note(2).canonical_bytes()
        # The client, not sure, sends the same bytes again: the same answer.
        assert ledger.append(note(2)) == 1
        assert ledger.size() == 2


@pytest.mark.postgres
def test_a_lost_commit_whose_outcome_cannot_be_read_is_outcome_unknown(
    proxied: tuple[PgProxy, str],
) -> None:
    proxy, url = proxied
    with closing(Ledger(open_store(url), verify_threads=1)) as ledger:
        ledger.append(registration(ANA))
        proxy.lose_next_commit(refuse_after_drop=True)
        with pytest.raises(OutcomeUnknownError) as caught:
            ledger.append(note(2))
        assert caught.value.code == "OutcomeUnknown"
        assert caught.value.detail.startswith(
            "the connection to the database was lost while the append was committing, "
            "and whether it was stored cannot be read back:"
        )
        assert caught.value.detail.endswith("send the same bytes again to learn its position")
        proxy.restore()
        assert ledger.append(note(2)) == 1  # the retry the error asks for
        assert ledger.size() == 2


def _vote_world(url: str) -> tuple[Services, World, Envelope]:
    svc = bootstrap(Settings(database_url=url, verify_threads=1))
    w = open_world(svc)
    work = w.submit(w.ana)
    vote = commands.vote_cast(
        w.ben, CAMPAIGN, work, "support", seq=svc.ledger.next_seq(w.ben.actor), at=w.now
    )
    return svc, w, vote


@pytest.mark.postgres
def test_a_vote_whose_commit_ack_was_lost_is_neither_replay_nor_duplicate_vote(
    proxied: tuple[PgProxy, str],
) -> None:
    proxy, url = proxied
    svc, w, vote = _vote_world(url)
    with svc:
        proxy.lose_next_commit()
        position = w.c.gate.append(vote)
        assert proxy.commits_lost == 1
        assert position == w.size() - 1
        # Retried after the rules already counted the vote: still its position.
        assert w.c.gate.append(vote.canonical_bytes()) == position
        assert w.size() == position + 1
