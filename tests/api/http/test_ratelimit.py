"""The shared rate counters and the limiter that reserves from them, on both backends.

``SQLStorage`` is a ``limits`` storage: the library's own fixed-window limiter runs on
it, and its increments are atomic under concurrent writers. ``SharedLimiter`` decides in
memory from reservations: several limiters on one database (as several server
processes are) together admit the limit within +-(processes x lease), and exactly the
limit when a limit has no lease.
"""

from __future__ import annotations

import asyncio
import random
import threading
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from limits import parse
from limits.strategies import FixedWindowRateLimiter

from api.http.ratelimit import Limit, SharedLimiter
from api.http.ratelimit_storage import SQLStorage
from domain.database import store_engine


@pytest.fixture
def engine(store_url: str) -> Iterator[sa.Engine]:
    engine = store_engine(store_url, sa.MetaData())  # creates the PostgreSQL schema
    yield engine
    engine.dispose()


class Clock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_the_limits_library_runs_its_fixed_window_on_the_database(engine: sa.Engine) -> None:
    clock = Clock()
    storage = SQLStorage(engine, clock=clock)
    limiter = FixedWindowRateLimiter(storage)
    item = parse("3/minute")
    assert [limiter.hit(item, "ana") for _ in range(5)] == [True, True, True, False, False]
    assert limiter.hit(item, "ben")  # another key, its own window
    key = item.key_for("ana")
    assert (storage.get(key), storage.get_expiry(key)) == (5, clock.now + 60)
    clock.now += 60  # the window ends: a new one starts at the next hit
    assert storage.get(key) == 0 and limiter.hit(item, "ana")
    assert limiter.get_window_stats(item, "ana").remaining == 2
    storage.clear(key)
    assert storage.get(key) == 0 and storage.check()
    assert storage.reset() == 1  # ben's row (ana's was cleared)


def test_increments_are_atomic_under_concurrent_writers(engine: sa.Engine) -> None:
    storage = SQLStorage(engine)
    errors: list[BaseException] = []

    def hammer() -> None:
        try:
            for _ in range(25):
                storage.incr("shared", 60, 2)
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=hammer) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and storage.get("shared") == 6 * 25 * 2


def test_old_windows_are_purged(engine: sa.Engine) -> None:
    clock = Clock()
    storage = SQLStorage(engine, clock=clock)
    storage.incr_many([("old", 10, 1), ("new", 7200, 1)])
    clock.now += 3700
    assert storage.purge() == 1 and storage.get("new") == 1


def hits(limiters: list[SharedLimiter], limit: Limit, order: list[int]) -> int:
    """Hit ``limit`` for one key through the limiters in ``order``; how many were admitted."""

    async def run() -> int:
        admitted = 0
        for i in order:
            admitted += await limiters[i].hit(limit, "flood") is None
        return admitted

    return asyncio.run(run())


def test_two_processes_with_no_lease_admit_exactly_the_limit(engine: sa.Engine) -> None:
    limit = Limit.of("writes/actor", "30/minute", 0.02)  # 0.6: no lease, every hit waits
    assert limit.lease == 0
    limiters = [SharedLimiter(SQLStorage(engine)) for _ in range(2)]
    try:
        order = [i % 2 for i in range(80)]
        assert hits(limiters, limit, order) == 30
        assert sum(sum(x.refused.values()) for x in limiters) == 50
    finally:
        for limiter in limiters:
            limiter.close()


@settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(seed=st.integers(0, 2**32), processes=st.integers(1, 3))
def test_processes_with_a_lease_admit_the_limit_within_their_tolerance(
    engine: sa.Engine, seed: int, processes: int
) -> None:
    limit = Limit.of("writes/address", "500/hour", 0.02)  # a lease of 10
    limiters = [SharedLimiter(SQLStorage(engine)) for _ in range(processes)]
    key = f"{seed}-{processes}"
    try:
        rnd = random.Random(seed)
        order = [rnd.randrange(processes) for _ in range(800)]

        async def run() -> int:
            admitted = 0
            for i in order:
                admitted += await limiters[i].hit(limit, key) is None
                if rnd.random() < 0.3:
                    await asyncio.sleep(0)  # let reservations land, sometimes
            return admitted

        admitted = asyncio.run(run())
        tolerance = processes * limit.lease
        assert limit.amount - tolerance <= admitted <= limit.amount + tolerance
    finally:
        for limiter in limiters:
            limiter.close()


def test_a_refusal_says_when_the_window_ends_and_counts_itself(engine: sa.Engine) -> None:
    clock = Clock()
    limiter = SharedLimiter(SQLStorage(engine, clock=clock), clock=clock)
    limit = Limit.of("public-reads/address", "2/minute", 0.02)
    try:

        async def run() -> list[object]:
            first = [await limiter.hit(limit, "10.0.0.1") for _ in range(2)]
            clock.now += 20
            return [*first, await limiter.hit(limit, "10.0.0.1")]

        a, b, refusal = asyncio.run(run())
        assert a is None and b is None
        assert refusal is not None and refusal.retry_after == 40  # type: ignore[attr-defined]
        clock.now += 40  # a new window
        assert asyncio.run(limiter.hit(limit, "10.0.0.1")) is None
        limiter.close()  # writes the refusal counts
        assert limiter.refused_totals() == {"public-reads/address": 1}
        with pytest.raises(RuntimeError, match="the rate limiter is closed"):
            asyncio.run(limiter.hit(Limit.of("x/address", "1/minute", 0), "late"))
    finally:
        limiter.close()


def test_a_refund_gives_the_units_back(engine: sa.Engine) -> None:
    limiter = SharedLimiter(SQLStorage(engine))
    limit = Limit.of("writes/brand", "3/minute", 0.02)
    try:

        async def run() -> list[bool]:
            out = []
            for _ in range(3):
                out.append(await limiter.hit(limit, "brand") is None)
            limiter.refund(limit, "brand")  # the last one was not the brand's: 401
            out.append(await limiter.hit(limit, "brand") is None)
            out.append(await limiter.hit(limit, "brand") is None)
            return out

        assert asyncio.run(run()) == [True, True, True, True, False]
    finally:
        limiter.close()


def test_a_database_fault_while_reserving_is_raised_to_the_request(tmp_path) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path}/gone.sqlite")
    storage = SQLStorage(engine)
    with engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE cocred_rate_counters"))
    limiter = SharedLimiter(storage)
    try:
        with pytest.raises(sa.exc.OperationalError):
            asyncio.run(limiter.hit(Limit.of("writes/actor", "10/minute", 0.02), "ana"))
    finally:
        limiter.close()
        engine.dispose()


def test_concurrent_requests_of_two_processes_admit_everything_under_the_limit(
    engine: sa.Engine,
) -> None:
    """Many requests at once (as a server's event loop has them): none waits forever, and
    none under the limit is refused however many rounds of reservations it waits for."""
    limit = Limit.of("writes/address", "600/minute", 0.02)  # a lease of 12
    limiters = [SharedLimiter(SQLStorage(engine)) for _ in range(2)]
    try:

        async def run() -> list[object]:
            return await asyncio.gather(
                *(limiters[i % 2].hit(limit, "127.0.0.1") for i in range(450))
            )

        assert asyncio.run(run()) == [None] * 450

        async def more() -> list[object]:
            return await asyncio.gather(
                *(limiters[i % 2].hit(limit, "127.0.0.1") for i in range(400))
            )

        over = asyncio.run(more())
        admitted = 450 + sum(o is None for o in over)
        assert 600 - 2 * 12 <= admitted <= 600 + 2 * 12
    finally:
        for limiter in limiters:
            limiter.close()
