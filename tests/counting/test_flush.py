"""Flushing into the database: atomic upserts of increments, one transaction per batch, retries
that neither lose nor double-count, pruning of old batch ids, and the flush on stop."""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, async_sessionmaker

from app.core.config import Settings
from app.core.db import create_engine
from app.models.counting import AccessCount, CounterBatch
from app.services.counting import Counter
from tests.counting.support import (
    LOCAL_DAY,
    FixedClock,
    event,
    flaky_sessionmaker,
    histogram,
    rows,
    shared_sessionmaker,
    sums,
)
from tests.databases import BACKEND

SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


@pytest.fixture
def client_id() -> str:
    """Rows of this test only (the session database is shared)."""
    return "t-" + uuid.uuid4().hex[:12]


@pytest.fixture
def counter(connection: AsyncConnection, clock: FixedClock) -> Counter:
    return Counter(tz=SHANGHAI, clock=clock, sessionmaker=shared_sessionmaker(connection))


async def batch_ids(session: AsyncSession) -> set[str]:
    return set((await session.scalars(select(CounterBatch.id))).all())


async def test_a_flush_upserts_increments_onto_existing_rows(
    counter: Counter, session: AsyncSession, clock: FixedClock, client_id: str
) -> None:
    existing = AccessCount(
        day=LOCAL_DAY,
        hour=0,
        service_id=7,
        operation_id="getFundAccount",
        client_id=client_id,
        outcome="success",
        calls=10,
        total_ms=100.0,
        upstream_ms=50.0,
        **{name: 0 for name in ("le_10", "le_25", "le_50", "le_100", "le_250", "le_500")},
        **{name: 0 for name in ("le_1000", "le_2500", "le_5000", "le_10000", "le_inf")},
        le_5=10,
    )
    session.add(existing)
    await session.commit()
    for total in (2.0, 40.0, 12000.0):
        counter.emit(event(at=clock.now, client_id=client_id, total_ms=total, upstream_ms=1.0))
    counter.emit(event(at=clock.now, client_id=client_id, status=503))
    assert await counter.flush()

    [success] = await rows(session, client_id=client_id, outcome="success")
    assert success.calls == 13
    assert success.total_ms == pytest.approx(100.0 + 12042.0)
    assert success.upstream_ms == pytest.approx(53.0)
    assert histogram(success) == [11, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1]
    assert await sums(session, client_id=client_id) == {"success": 13, "upstream_error": 1}

    # A second batch adds again.
    counter.emit(event(at=clock.now, client_id=client_id))
    assert await counter.flush()
    assert await sums(session, client_id=client_id) == {"success": 14, "upstream_error": 1}
    assert counter.stats().batches_written == 2


async def test_a_failed_flush_is_retried_with_the_same_batch_and_nothing_merged_into_it(
    connection: AsyncConnection, session: AsyncSession, clock: FixedClock, client_id: str
) -> None:
    maker, flaky = flaky_sessionmaker(connection, ["fail", "fail"])
    counter = Counter(tz=SHANGHAI, clock=clock, sessionmaker=maker)
    for _ in range(3):
        counter.emit(event(at=clock.now, client_id=client_id))
    assert not await counter.flush()  # the first commit fails: nothing written
    [kept] = counter.pending()
    assert await sums(session, client_id=client_id) == {}
    assert kept.id not in await batch_ids(session)

    for _ in range(2):
        counter.emit(event(at=clock.now, client_id=client_id, status=404))
    assert not await counter.flush()  # still down
    first, second = counter.pending()
    assert first is kept
    assert (first.calls, second.calls) == (3, 2)  # the new events went into a new batch

    assert await counter.flush()  # the database is back
    assert flaky.commits[:4] == ["fail", "fail", "ok", "ok"]  # (then the hourly prune)
    assert await sums(session, client_id=client_id) == {"success": 3, "caller_error": 2}
    assert {kept.id, second.id} <= await batch_ids(session)
    stats = counter.stats()
    assert (stats.flush_failures, stats.batches_written, stats.pending_batches) == (2, 2, 0)


async def test_a_batch_whose_commit_landed_but_was_not_acknowledged_adds_nothing_on_retry(
    connection: AsyncConnection,
    session: AsyncSession,
    clock: FixedClock,
    client_id: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    maker, flaky = flaky_sessionmaker(connection, ["lose-ack"])
    counter = Counter(tz=SHANGHAI, clock=clock, sessionmaker=maker)
    for _ in range(4):
        counter.emit(event(at=clock.now, client_id=client_id))
    assert not await counter.flush()  # committed, but the counter could not know
    [unsure] = counter.pending()
    assert await sums(session, client_id=client_id) == {"success": 4}

    with caplog.at_level(logging.INFO, logger="xyb.counting"):
        assert await counter.flush()  # the retry finds its id and adds nothing
    assert flaky.commits[:2] == ["lose-ack", "ok"]
    assert await sums(session, client_id=client_id) == {"success": 4}
    assert unsure.id in await batch_ids(session)
    assert counter.stats().batches_already_applied == 1
    assert counter.pending() == ()
    assert any("already applied" in r.getMessage() for r in caplog.records)


def _unreachable_url(tmp_path: Path) -> str:
    if BACKEND == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'no-such-dir' / 'xyb.db'}"
    return "postgresql+asyncpg://postgres@127.0.0.1:1/nowhere"


async def test_a_database_that_is_down_then_back_loses_nothing_and_counts_nothing_twice(
    connection: AsyncConnection,
    session: AsyncSession,
    clock: FixedClock,
    client_id: str,
    tmp_path: Path,
) -> None:
    down = create_engine(Settings(data_dir=tmp_path, db_pool_timeout=2), _unreachable_url(tmp_path))
    try:
        counter = Counter(
            tz=SHANGHAI, clock=clock, sessionmaker=async_sessionmaker(down, expire_on_commit=False)
        )
        for n in range(3):
            for _ in range(n + 1):
                counter.emit(event(at=clock.now, client_id=client_id))
            assert not await counter.flush()
        assert [b.calls for b in counter.pending()] == [1, 2, 3]
        assert counter.stats().flush_failures == 3  # each tick tries the oldest batch once
        clock.advance(seconds=3)
        assert counter.flush_lag() == pytest.approx(3.0)
    finally:
        await down.dispose()
    counter.sessionmaker = shared_sessionmaker(connection)
    assert await counter.flush()
    assert await sums(session, client_id=client_id) == {"success": 6}
    assert counter.flush_lag() == 0.0


async def test_old_batch_ids_are_pruned_after_a_day(
    counter: Counter, session: AsyncSession, clock: FixedClock, client_id: str
) -> None:
    old, recent = uuid.uuid4().hex, uuid.uuid4().hex
    session.add_all(
        [
            CounterBatch(id=old, flushed_at=clock.now - timedelta(days=1, seconds=1)),
            CounterBatch(id=recent, flushed_at=clock.now - timedelta(hours=23)),
        ]
    )
    await session.commit()
    counter.emit(event(at=clock.now, client_id=client_id))
    assert await counter.flush()
    ids = await batch_ids(session)
    assert old not in ids
    assert recent in ids
    # Pruning runs now and then (hourly), not on every flush.
    older = uuid.uuid4().hex
    session.add(CounterBatch(id=older, flushed_at=clock.now - timedelta(days=3)))
    await session.commit()
    counter.emit(event(at=clock.now, client_id=client_id))
    assert await counter.flush()
    assert older in await batch_ids(session)
    clock.advance(hours=1)
    counter.emit(event(at=clock.now, client_id=client_id))
    assert await counter.flush()
    assert older not in await batch_ids(session)


async def test_stop_writes_what_is_buffered(
    counter: Counter, session: AsyncSession, clock: FixedClock, client_id: str
) -> None:
    await counter.start()
    assert counter.running
    for _ in range(5):
        counter.emit(event(at=clock.now, client_id=client_id, status=422, from_upstream=False))
    assert await counter.stop()
    assert not counter.running
    assert await sums(session, client_id=client_id) == {"caller_error": 5}


async def test_stop_gives_up_after_its_grace_and_says_what_is_lost(
    connection: AsyncConnection, clock: FixedClock, caplog: pytest.LogCaptureFixture
) -> None:
    maker, _ = flaky_sessionmaker(connection, ["fail"] * 1000)
    counter = Counter(tz=SHANGHAI, clock=clock, sessionmaker=maker, interval=0.05)
    counter.emit(event(at=clock.now))
    with caplog.at_level(logging.ERROR, logger="xyb.counting"):
        assert not await counter.stop(grace=0.3)
    [record] = [r for r in caplog.records if "before shutdown" in r.getMessage()]
    assert getattr(record, "calls", None) == 1


async def test_the_background_flusher_writes_every_interval(
    connection: AsyncConnection, session: AsyncSession, clock: FixedClock, client_id: str
) -> None:
    counter = Counter(
        tz=SHANGHAI, clock=clock, sessionmaker=shared_sessionmaker(connection), interval=0.05
    )
    await counter.start()
    try:
        counter.emit(event(at=clock.now, client_id=client_id))
        for _ in range(200):
            if counter.stats().batches_written:
                break
            await _pause(0.02)
        assert counter.stats().batches_written == 1
    finally:
        await counter.stop()
    assert await sums(session, client_id=client_id) == {"success": 1}


async def _pause(seconds: float) -> None:
    import asyncio

    await asyncio.sleep(seconds)
