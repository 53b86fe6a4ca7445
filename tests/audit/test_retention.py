"""Retention purges only records that are old enough and covered by a checkpoint; what remains
still verifies. PostgreSQL drops whole daily partitions (XYB_TEST_DATABASE_URL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select, text

from app.core.config import Settings
from app.core.db import create_engine, create_sessionmaker
from app.models.audit import AuditCheckpoint, AuditRecord
from app.services.audit.retention import plan_purge, purge
from app.services.audit.verify import verify_database
from tests.audit.chains import Chain, migrated, store

NOW = datetime(2026, 12, 7, 3, 0, tzinfo=UTC)
HALF_DAY = timedelta(hours=12)


def chains() -> tuple[Chain, Chain, Chain]:
    # a: seqs 1-39 are older than 180 days, the checkpoint covers 1-25: 26-39 stay (uncovered).
    a = Chain("writer-a").add(25, start=NOW - timedelta(days=200), step=HALF_DAY).checkpoint()
    a.add(15, start=NOW - timedelta(days=200), step=HALF_DAY)
    # b: crashed before its first checkpoint, long ago: kept whole.
    b = Chain("writer-b").add(8, start=NOW - timedelta(days=250), step=HALF_DAY)
    # c: all old and covered: purged whole; its last checkpoint stays.
    c = Chain("writer-c").add(10, start=NOW - timedelta(days=300), step=HALF_DAY).checkpoint()
    c.add(10, start=NOW - timedelta(days=300), step=HALF_DAY).checkpoint()
    return a, b, c


async def test_only_old_covered_records_go_and_the_rest_verifies(
    tmp_path: Path, fresh_database_url: str
) -> None:
    await migrated(fresh_database_url, tmp_path)
    a, b, c = chains()
    await store(fresh_database_url, tmp_path, a, b, c)
    engine = create_engine(Settings(data_dir=tmp_path), fresh_database_url)
    sessions = create_sessionmaker(engine)
    postgresql = engine.dialect.name == "postgresql"
    try:
        async with sessions() as session:
            dry = await plan_purge(session, days=180, now=NOW)
            assert await session.scalar(select(func.count()).select_from(AuditRecord)) == 68
        assert dry.upto == {"writer-a": 25, "writer-c": 20}
        assert (dry.records, dry.kept_uncovered, dry.checkpoints) == (45, 22, 1)
        assert dry.oldest == c.records[0]["at"]
        assert dry.newest == a.records[24]["at"]
        if postgresql:
            assert dry.partitions, "whole days of writer-c and writer-a are droppable"
        else:
            assert dry.partitions == []

        async with sessions() as session, session.begin():
            done = await purge(session, await plan_purge(session, days=180, now=NOW))
        assert done.records == 45
        async with sessions() as session:
            left = (
                await session.execute(
                    select(AuditRecord.writer, func.min(AuditRecord.seq), func.count())
                    .group_by(AuditRecord.writer)
                    .order_by(AuditRecord.writer)
                )
            ).all()
            assert [tuple(row) for row in left] == [("writer-a", 26, 15), ("writer-b", 1, 8)]
            kept = (
                await session.execute(
                    select(AuditCheckpoint.writer, AuditCheckpoint.seq).order_by(
                        AuditCheckpoint.writer
                    )
                )
            ).all()
            assert [tuple(row) for row in kept] == [("writer-a", 25), ("writer-c", 20)]
            if postgresql:
                for name in done.partitions:
                    assert await session.scalar(text(f"SELECT to_regclass('{name}')")) is None
            report = await verify_database(session)
            assert report.ok, report.first
            summary = {w.writer: w for w in report.writers}
            assert summary["writer-a"].anchored  # checkpoint 25 proves seq 26's link
            assert summary["writer-a"].uncovered == 15
            assert summary["writer-b"].uncovered == 8

            again = await plan_purge(session, days=180, now=NOW)
            assert (again.records, again.kept_uncovered) == (0, 22)
    finally:
        await engine.dispose()


async def test_a_partition_holding_an_uncovered_record_is_not_dropped(
    tmp_path: Path, fresh_database_url: str
) -> None:
    await migrated(fresh_database_url, tmp_path)
    start = NOW - timedelta(days=200)
    a = Chain("writer-a").add(4, start=start, step=timedelta(hours=1)).checkpoint()
    b = Chain("writer-b").add(2, start=start, step=timedelta(hours=1))  # the same day, uncovered
    await store(fresh_database_url, tmp_path, a, b)
    engine = create_engine(Settings(data_dir=tmp_path), fresh_database_url)
    try:
        async with create_sessionmaker(engine)() as session, session.begin():
            plan = await purge(session, await plan_purge(session, days=180, now=NOW))
            assert plan.partitions == []
            assert plan.records == 4
            rows = await session.scalar(select(func.count()).select_from(AuditRecord))
            assert rows == 2
    finally:
        await engine.dispose()
