"""Group commit: concurrent appends share one transaction, and each keeps its own answer.

The committer's promise is that a group gives every request exactly what it would
have got alone, one after the other in queue order. Each scenario appends the same
events twice, on two databases with the same history: one by one through the gate,
and as one group through the committer; the answers (positions, or error type,
code, sentence and ids) and the resulting logs must be the same. The last tests
start ``cocred serve --workers 2`` and hammer it from many clients at once.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import Future
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx2
import pytest
from fastapi.testclient import TestClient

from api.bootstrap import bootstrap
from api.http.app import create_app
from api.settings import Settings
from domain.errors import DomainError
from domain.gate import CampaignApp
from ledger.envelope import Envelope, sign_envelope
from ledger.errors import LedgerError
from ledger.ledger import Ledger
from ledger.store import open_store
from ledger.store.group_commit import AppendsClosedError, GroupCommitter
from ledger.store.writer_lock import FileWriterLock, WriterLock, writer_lock_for
from ledger.verify import verify_log
from tests.support import drop_postgres_schema, fresh_postgres_url, registration, seeded_key

ROOT = Path(__file__).resolve().parents[3]
ANA, BEN, CY = seeded_key(61), seeded_key(62), seeded_key(63)


def profile(key: Any, seq: int, text: str = "x", campaign: str | None = None) -> Envelope:
    body = {"commitment": hashlib.sha256(text.encode()).hexdigest()}
    return sign_envelope(key, "ProfileCommitted", body, seq=seq, campaign=campaign)


def raw(key: Any, seq: int, text: str = "x") -> bytes:
    return profile(key, seq, text).canonical_bytes()


def forged(key: Any, seq: int) -> bytes:
    """An envelope whose signature was made for other bytes."""
    env = Envelope.from_json({**profile(key, seq, "mine").to_json(), "sig": profile(key, seq).sig})
    return env.canonical_bytes()


class Turnstile(WriterLock):
    """A writer lock the test holds, so that what it submits piles up into one group."""

    def __init__(self) -> None:
        self.lock = threading.Lock()

    def __enter__(self) -> None:
        self.lock.acquire()

    def __exit__(self, *exc: object) -> None:
        self.lock.release()


@pytest.fixture
def twin_urls(store_url: str, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """Two fresh databases on the same backend."""
    if store_url.startswith("sqlite"):
        yield store_url, f"sqlite:///{tmp_path}/twin.sqlite"
        return
    twin = fresh_postgres_url()
    try:
        yield store_url, twin
    finally:
        drop_postgres_schema(twin)


@contextmanager
def gate_on(url: str, history: Sequence[Envelope]) -> Iterator[CampaignApp]:
    ledger = Ledger(open_store(url), verify_threads=1)
    try:
        gate = CampaignApp(ledger)
        gate.append_batch(list(history))
        yield gate
    finally:
        ledger.close()


def answer(call: Any) -> Any:
    """A position, or what identifies an error: its type, code, sentence and ids."""
    try:
        return call()
    except (LedgerError, DomainError) as exc:
        return (type(exc).__name__, exc.code, exc.detail, exc.ids)


def one_by_one(gate: CampaignApp, items: Sequence[bytes]) -> list[Any]:
    return [answer(lambda item=item: gate.append(item)) for item in items]


def as_one_group(gate: CampaignApp, items: Sequence[bytes]) -> list[Any]:
    turnstile = Turnstile()
    committer = GroupCommitter(gate, writer_lock=turnstile)
    with turnstile.lock:
        futures = [committer.submit(item) for item in items]
    committer.close()
    assert committer.stats.groups == 1, "everything was waiting: one group"
    return [answer(future.result) for future in futures]


def log_of(gate: CampaignApp) -> list[tuple[int, bytes]]:
    return [(r.position, r.data) for r in gate.ledger.store.iterate()]


def test_a_group_gives_each_event_the_answer_it_would_get_alone(
    twin_urls: tuple[str, str],
) -> None:
    history = [registration(ANA), registration(BEN)]
    events = [
        raw(ANA, 2),  # fine
        forged(ANA, 3),  # BadSignature ...
        raw(ANA, 3, "b"),  # ... so seq 3 is still free: fine
        raw(ANA, 3, "c"),  # the same seq again in the group: Replay
        raw(ANA, 5),  # SequenceGap
        raw(CY, 1),  # UnknownKey
        b'{"v": 1}',  # MalformedEvent
        sign_envelope(BEN, "IdeaShared", {}, seq=2).canonical_bytes(),  # UnknownEventType (rules)
        profile(BEN, 2, campaign="summer-26").canonical_bytes(),  # MalformedBody (rules)
        raw(BEN, 2),  # fine
        sign_envelope(BEN, "MemberErased", {}, seq=3).canonical_bytes(),  # fine ...
        raw(BEN, 4),  # ... so this is refused: MemberErased
        raw(ANA, 4),  # fine
    ]
    alone_url, grouped_url = twin_urls
    with gate_on(alone_url, history) as alone, gate_on(grouped_url, history) as grouped:
        expected = one_by_one(alone, events)
        got = as_one_group(grouped, events)
        assert got == expected
        assert [a if isinstance(a, int) else a[1] for a in got] == [
            2,
            "BadSignature",
            3,
            "Replay",
            "SequenceGap",
            "UnknownKey",
            "MalformedEvent",
            "UnknownEventType",
            "MalformedBody",
            4,
            5,
            "MemberErased",
            6,
        ]
        assert log_of(grouped) == log_of(alone)
        assert verify_log(grouped.ledger.store).ok


def test_two_events_with_one_seq_in_a_group_give_one_position_and_one_replay(
    twin_urls: tuple[str, str],
) -> None:
    events = [raw(ANA, 2, "left"), raw(ANA, 2, "right")]
    alone_url, grouped_url = twin_urls
    with (
        gate_on(alone_url, [registration(ANA)]) as alone,
        gate_on(grouped_url, [registration(ANA)]) as grouped,
    ):
        expected = one_by_one(alone, events)
        got = as_one_group(grouped, events)
    assert got == expected
    assert got[0] == 1
    name, code, detail, ids = got[1]
    assert (name, code) == ("ReplayError", "Replay")
    assert detail.startswith(f"actor {ANA.actor}: seq 2 is already used")
    assert ids["seq"] == 2 and "index" not in ids, "the sentence of a lone event, no batch index"


def test_valid_events_waiting_together_are_appended_in_one_transaction(store_url: str) -> None:
    actors = [seeded_key(600 + i) for i in range(10)]
    events = [raw(k, seq) for seq in (2, 3, 4) for k in actors]
    with gate_on(store_url, [registration(k) for k in actors]) as gate:
        turnstile = Turnstile()
        committer = GroupCommitter(gate, writer_lock=turnstile)
        with turnstile.lock:
            futures = [committer.submit(item) for item in events]
        assert [f.result(timeout=60) for f in futures] == list(range(10, 40))
        committer.close()
        assert (committer.stats.groups, committer.stats.transactions) == (1, 1)


def test_the_writer_lock_makes_two_processes_take_turns(store_url: str) -> None:
    first, second = writer_lock_for(store_url), writer_lock_for(store_url)
    entered = threading.Event()

    def take_turn() -> None:
        with second:
            entered.set()

    try:
        with first:
            waiter = threading.Thread(target=take_turn)
            waiter.start()
            assert not entered.wait(0.3), "the second holder waits while the first holds it"
        waiter.join(10)
        assert entered.is_set(), "and goes on once it is released"
    finally:
        first.close()
        second.close()


def test_a_writer_lock_that_cannot_be_taken_does_not_stop_appends(tmp_path: Path) -> None:
    lock = FileWriterLock(tmp_path / "no such folder" / "append.lock")
    with lock:  # only an optimisation: the conditional append keeps the log right
        pass
    lock.close()


def test_concurrent_submitters_lose_nothing(store_url: str) -> None:
    actors = [seeded_key(700 + i) for i in range(8)]
    sent: dict[int, bytes] = {}
    with gate_on(store_url, [registration(k) for k in actors]) as gate:
        committer = GroupCommitter(gate)

        def submit_all(key: Any) -> list[tuple[bytes, Future[int]]]:
            items = [raw(key, seq, f"{seq}") for seq in range(2, 27)]
            return [(item, committer.submit(item)) for item in items]

        results: list[list[tuple[bytes, Future[int]]]] = []
        threads = [
            threading.Thread(target=lambda k=k: results.append(submit_all(k))) for k in actors
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for item, future in (pair for r in results for pair in r):
            sent[future.result(timeout=60)] = item
        committer.close()
        assert len(sent) == 8 * 25
        assert dict(log_of(gate)[8:]) == sent
        assert committer.stats.events == 8 * 25
        assert verify_log(gate.ledger.store).ok


def test_asyncio_callers_get_their_positions(store_url: str) -> None:
    actors = [seeded_key(800 + i) for i in range(20)]
    with gate_on(store_url, [registration(k) for k in actors]) as gate:
        committer = GroupCommitter(gate)

        async def main() -> list[int]:
            return await asyncio.gather(*(committer.append(raw(k, 2)) for k in actors))

        positions = asyncio.run(main())
        committer.close()
        assert sorted(positions) == list(range(20, 40))
        stored = dict(log_of(gate))
        for key, position in zip(actors, positions, strict=True):
            assert Envelope.from_bytes(stored[position]).actor == key.actor


def test_closing_appends_what_waits_and_refuses_what_comes_after(store_url: str) -> None:
    with gate_on(store_url, [registration(ANA)]) as gate:
        turnstile = Turnstile()
        committer = GroupCommitter(gate, writer_lock=turnstile)
        with turnstile.lock:
            waiting = [committer.submit(raw(ANA, s)) for s in (2, 3, 4)]
            closing = threading.Thread(target=committer.close)
            closing.start()
            while not committer.closed:
                time.sleep(0.01)
            with pytest.raises(AppendsClosedError) as refused:
                committer.submit(raw(ANA, 5))
        closing.join()
        assert [f.result(timeout=10) for f in waiting] == [1, 2, 3]
        assert refused.value.code == "StorageUnavailable"
        assert refused.value.detail.startswith("the server is shutting down")
        assert gate.ledger.size() == 4


def test_the_http_answers_are_the_same_with_and_without_group_commit(
    store_url: str, tmp_path: Path
) -> None:
    events = [
        registration(ANA).canonical_bytes(),
        raw(ANA, 2),
        raw(ANA, 2, "again"),
        forged(ANA, 3),
        b"[]",
        raw(ANA, 3),
    ]
    answers = []
    for grouped in (True, False):
        url = store_url if grouped else f"sqlite:///{tmp_path}/plain.sqlite"
        settings = Settings(
            registration="open",
            database_url=url,
            ledger_key_file=tmp_path / "ledger.key",
            group_commit=grouped,
        )
        with bootstrap(settings) as services, TestClient(create_app(services)) as client:
            replies = [client.post("/events", content=e) for e in events]
            answers.append([(r.status_code, r.json()) for r in replies])
    assert answers[0] == answers[1]
    assert [status for status, _ in answers[0]] == [201, 201, 409, 401, 422, 201]
    assert answers[0][5][1] == {"position": 2}


# -- two real server processes ------------------------------------------------------------------

ACTORS = 24
LAST_SEQ = 16
RACE_EVERY = 5  # at seqs 5, 10, 15 each actor sends two different events at once


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def served(url: str, tmp_path: Path, workers: int = 2) -> Iterator[str]:
    """``cocred serve --workers N`` on a free port of 127.0.0.1, stopped by its PID."""
    port = free_port()
    log = tmp_path / "server.log"
    with log.open("wb") as stderr:
        proc = subprocess.Popen(
            [sys.executable, "-m", "api.cli", "serve", "--db", url, "--port", str(port)]
            + ["--workers", str(workers)],
            cwd=ROOT,
            env={**os.environ, "COCRED_LEDGER_KEY_FILE": str(tmp_path / "ledger.key")},
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180  # two workers each replay the log: slow on a busy CI
        while True:
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, (
                f"the server did not answer within 180 s:\n{log.read_text()}"
            )
            try:
                if httpx2.get(f"{base}/log?limit=1", timeout=5).status_code == 200:
                    break
            except httpx2.TransportError:
                time.sleep(0.2)
        yield base
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait(10)


async def hammer(base: str, actors: Sequence[Any]) -> tuple[dict[int, bytes], list[Any]]:
    """Every actor at once, each in seq order; at race seqs, two events on two connections."""
    acknowledged: dict[int, bytes] = {}
    refused: list[Any] = []
    limits = httpx2.Limits(max_connections=32)
    async with (
        httpx2.AsyncClient(base_url=base, limits=limits, timeout=60) as left,
        httpx2.AsyncClient(base_url=base, limits=limits, timeout=60) as right,
    ):

        async def post(client: httpx2.AsyncClient, body: bytes) -> httpx2.Response:
            response = await client.post("/events", content=body)
            if response.status_code == 201:
                position = response.json()["position"]
                assert position not in acknowledged, "one position, two acknowledgements"
                acknowledged[position] = body
            else:
                refused.append(response.json())
            return response

        async def play(i: int, key: Any) -> None:
            for seq in range(2, LAST_SEQ + 1):
                if seq % RACE_EVERY == 0:
                    bodies = [
                        profile(key, seq, side).canonical_bytes() for side in ("left", "right")
                    ]
                    replies = await asyncio.gather(post(left, bodies[0]), post(right, bodies[1]))
                    assert sorted(r.status_code for r in replies) == [201, 409]
                else:
                    reply = await post(left if (i + seq) % 2 else right, raw(key, seq))
                    assert reply.status_code == 201, reply.text

        await asyncio.gather(*(play(i, k) for i, k in enumerate(actors)))
    return acknowledged, refused


@pytest.mark.slow
def test_two_workers_hammered_keep_every_ledger_rule(store_url: str, tmp_path: Path) -> None:
    actors = [seeded_key(900 + i) for i in range(ACTORS)]
    settings = Settings(
        registration="open", database_url=store_url, ledger_key_file=tmp_path / "ledger.key"
    )
    with bootstrap(settings) as services:
        create_app(services)  # its tables exist before two workers race to create them
        services.campaigns.gate.append_batch([registration(k) for k in actors])
    with served(store_url, tmp_path) as base:
        acknowledged, refused = asyncio.run(hammer(base, actors))

    races = ACTORS * (LAST_SEQ // RACE_EVERY)
    assert len(refused) == races
    assert {r["error"] for r in refused} == {"Replay"}
    with open_store(store_url, create=False) as store:
        assert store.size() - ACTORS == len(acknowledged) == ACTORS * (LAST_SEQ - 1)
        stored = {r.position: r.data for r in store.iterate(ACTORS)}
        assert stored == acknowledged, "every 201 position holds exactly the acknowledged bytes"
        for key in actors:
            seqs = [r.seq for r in store.read_actor(key.actor)]
            assert seqs == list(range(1, LAST_SEQ + 1)), "no seq twice, none missing"
        assert verify_log(store).ok
