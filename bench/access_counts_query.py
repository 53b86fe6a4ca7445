"""Access-count queries over a year of hourly roll-ups for every onboarded operation.

.venv/bin/python -m bench.access_counts_query [--backend both|postgresql|sqlite] [--days 365]
    [--samples 30] [--seed 1] [--postgres postgresql+asyncpg://postgres@127.0.0.1:5432/postgres]
    [--keep]

Method (numbers in bench/README.md):
1. A fresh database per backend: a SQLite file in a temporary directory, and a new PostgreSQL
   database xyb_bench_counts_<random> on the --postgres server (dropped at the end unless
   --keep); migrated to head.
2. The 14 city services onboarded in-process from their OpenAPI documents (the onboarding code:
   plan, then store), 9 operations each: 126 operations.
3. A year of roll-ups (2025, every local hour): for every operation and hour, the app's successes
   always; a partner app's successes in half of the hours and an integrator's in 30%; the app's
   caller errors in 25% of the hours and upstream errors in 5% (seeded). Calls per row follow the
   hour of the day; each row's latency histogram is spread over the buckets from a per-operation
   profile. Loaded with COPY (PostgreSQL) or executemany in one transaction (SQLite), then
   ANALYZE (PostgreSQL: VACUUM ANALYZE, the state autovacuum reaches after a bulk load).
4. The queries, each through the same functions as GET /ops/access-counts (parse, then one
   GROUP BY in the database, then the JSON), on one session, warmed up twice, then --samples times
   -> p50/p95 per query, printed as a Markdown table with the row count of the table.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sqlite3
import statistics
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

from app.connectors.registry import ConnectorRegistry
from app.core.config import Settings
from app.core.db import create_engine, create_sessionmaker
from app.core.migrations import upgrade
from app.identity.crypto import DataCipher
from app.models.counting import AccessCount
from app.models.service import Operation
from app.schemas.services import ServiceIn
from app.services.onboarding import build_plan, create_service
from app.services.ops.counts import counts_json, load_services, parse_counts_query, run_counts
from app.services.ops.histogram import BUCKET_COLUMNS
from app.simulators.providers import city_provider_names
from tests.contract_stubs import CONTRACTS

DATA_KEY = "YmVuY2gtZGF0YS1rZXktMDEyMzQ1Njc4OWFiY2RlZjA"
YEAR = 2025
COLUMNS = [
    "day",
    "hour",
    "service_id",
    "operation_id",
    "client_id",
    "outcome",
    "calls",
    "total_ms",
    "upstream_ms",
    *BUCKET_COLUMNS,
]
# Share of a day's calls per local hour (busy office hours, quiet nights).
HOUR_WEIGHT = [1, 1, 1, 1, 1, 2, 4, 8, 14, 18, 18, 16, 12, 14, 18, 18, 16, 12, 10, 9, 8, 6, 4, 2]
# Representative latency (ms) of each bucket, for total_ms.
BUCKET_MID = [3, 8, 18, 38, 75, 175, 375, 750, 1750, 3750, 7500, 15000]
# (label, query parameters); "now" is 2026-01-01 so the defaults fall after the year.
QUERIES: list[tuple[str, dict[str, str]]] = [
    (
        "by service and day, one month (2025-03)",
        {"group_by": "service,day", "since": "2025-03-01", "until": "2025-03-31"},
    ),
    (
        "by operation, the whole year",
        {"group_by": "operation", "since": "2025-01-01", "until": "2025-12-31"},
    ),
    (
        "by hour, one day (2025-06-18)",
        {"group_by": "hour", "since": "2025-06-18", "until": "2025-06-18"},
    ),
    (
        "by item, one month, division=430100 (长沙)",
        {"group_by": "item", "since": "2025-03-01", "until": "2025-03-31", "division": "430100"},
    ),
    (
        "by day, one month, division=430100, outcome=upstream_error",
        {
            "group_by": "day",
            "since": "2025-03-01",
            "until": "2025-03-31",
            "division": "430100",
            "outcome": "upstream_error",
        },
    ),
    (
        "by division and client, one week",
        {"group_by": "division,client", "since": "2025-11-24", "until": "2025-11-30"},
    ),
    (
        "top 10 services, the last day of the year (dashboard)",
        {"group_by": "service", "since": "2025-12-31T00:00+08:00", "limit": "10"},
    ),
]


def _settings(url: str, data_dir: Path) -> Settings:
    return Settings(database_url=url, data_dir=data_dir, data_key=DATA_KEY, log_level="warning")


async def _onboard_cities(settings: Settings) -> list[tuple[int, str]]:
    """The 14 city services through the onboarding code; returns (service id, operation id)."""
    engine = create_engine(settings)
    registry = ConnectorRegistry.discover()
    cipher = DataCipher.from_text(DATA_KEY)
    try:
        async with create_sessionmaker(engine)() as session, session.begin():
            for division, city in sorted(city_provider_names().items()):
                document = (CONTRACTS / "municipal" / f"{city}.openapi.yaml").read_text("utf-8")
                spec = ServiceIn(
                    division=division,
                    slug="zwfw",
                    name=f"{city} 政务服务",
                    upstream_url="http://127.0.0.1:9001",
                    document=document,
                )
                await create_service(session, build_plan(spec, settings, registry), cipher)
        async with create_sessionmaker(engine)() as session:
            rows = await session.execute(
                select(Operation.service_id, Operation.operation_id).order_by(Operation.id)
            )
            return [(sid, op) for sid, op in rows]
    finally:
        await engine.dispose()


def _histogram(calls: int, profile: list[float], peak: int) -> list[int]:
    """``calls`` spread over the buckets by ``profile``; what rounding leaves goes to the peak."""
    counts = [int(calls * w) for w in profile]
    counts[peak] += calls - sum(counts)
    return counts


def _rows(
    operations: list[tuple[int, str]], days: int, seed: int
) -> Iterator[list[tuple[Any, ...]]]:
    """One list of rows per day, deterministic per seed."""
    rng = random.Random(seed)
    profiles: list[tuple[list[float], int]] = []
    for _ in operations:
        peak = rng.randrange(1, 6)  # the bucket most calls fall in (10 ms to 250 ms)
        weights = [1.0 / (1 + abs(i - peak)) ** 2 for i in range(len(BUCKET_COLUMNS))]
        total = sum(weights)
        profiles.append(([w / total for w in weights], peak))
    clients = [("app-xyb", 1.0, 1.0), ("partner-gd", 0.5, 0.3), ("integrator-1", 0.3, 0.2)]
    start = date(YEAR, 1, 1)
    for d in range(days):
        day = start + timedelta(days=d)
        rows: list[tuple[Any, ...]] = []
        for hour in range(24):
            weight = HOUR_WEIGHT[hour]
            for index, (service_id, operation_id) in enumerate(operations):
                profile, peak = profiles[index]
                for client_id, presence, share in clients:
                    if rng.random() >= presence:
                        continue
                    outcomes = [("success", 1.0)]
                    if client_id == "app-xyb":
                        if rng.random() < 0.25:
                            outcomes.append(("caller_error", 0.04))
                        if rng.random() < 0.05:
                            outcomes.append(("upstream_error", 0.01))
                    for outcome, ratio in outcomes:
                        calls = max(1, int(weight * 6 * share * ratio * rng.uniform(0.5, 1.5)))
                        buckets = _histogram(calls, profile, peak)
                        total_ms = float(
                            sum(c * m for c, m in zip(buckets, BUCKET_MID, strict=True))
                        )
                        rows.append(
                            (
                                day,
                                hour,
                                service_id,
                                operation_id,
                                client_id,
                                outcome,
                                calls,
                                total_ms,
                                total_ms * 0.8,
                                *buckets,
                            )
                        )
        yield rows


async def _load_postgresql(url: str, batches: Iterator[list[tuple[Any, ...]]]) -> int:
    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    count = 0
    try:
        for rows in batches:
            await conn.copy_records_to_table("access_counts", records=rows, columns=COLUMNS)
            count += len(rows)
        await conn.execute("VACUUM (ANALYZE) access_counts")  # the steady state autovacuum reaches
    finally:
        await conn.close()
    return count


def _load_sqlite(path: str, batches: Iterator[list[tuple[Any, ...]]]) -> int:
    conn = sqlite3.connect(path)
    count = 0
    marks = ", ".join("?" for _ in COLUMNS)
    sql = f"INSERT INTO access_counts ({', '.join(COLUMNS)}) VALUES ({marks})"  # noqa: S608
    try:
        with conn:
            for rows in batches:
                conn.executemany(sql, [(r[0].isoformat(), *r[1:]) for r in rows])
                count += len(rows)
        conn.execute("ANALYZE")
    finally:
        conn.close()
    return count


async def _measure(
    session: AsyncSession, settings: Settings, params: dict[str, str], samples: int
) -> tuple[list[float], int]:
    now = datetime(2026, 1, 1, 0, 0, tzinfo=UTC)
    timings: list[float] = []
    groups = 0
    for attempt in range(samples + 2):
        started = time.perf_counter()
        known = await load_services(session)
        query = parse_counts_query(settings=settings, services=known, now=now, **params)
        data = counts_json(await run_counts(session, settings, query, known), settings)
        elapsed = (time.perf_counter() - started) * 1000
        if attempt >= 2:
            timings.append(elapsed)
        groups = len(data["groups"])
    return timings, groups


def _p95(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]


async def _bench(backend: str, url: str, data_dir: Path, args: argparse.Namespace) -> None:
    settings = _settings(url, data_dir)
    engine = create_engine(settings)
    try:
        await upgrade(engine)
    finally:
        await engine.dispose()
    operations = await _onboard_cities(settings)
    started = time.perf_counter()
    batches = _rows(operations, args.days, args.seed)
    if backend == "postgresql":
        rows = await _load_postgresql(url, batches)
    else:
        rows = _load_sqlite(make_url(url).database or "", batches)
    loaded = time.perf_counter() - started
    engine = create_engine(settings)
    try:
        async with create_sessionmaker(engine)() as session:
            total = await session.scalar(select(func.sum(AccessCount.calls)))
            print(
                f"\n{backend}: {len(operations)} operations, {rows:,} roll-up rows"
                f" ({int(total or 0):,} calls) loaded in {loaded:.1f} s"
            )
            if backend == "postgresql":
                size = await session.scalar(
                    text("SELECT pg_size_pretty(pg_total_relation_size('access_counts'))")
                )
                print(f"access_counts with its indexes: {size}")
            print(f"\n| query ({args.samples} samples each) | groups | p50 ms | p95 ms |")
            print("| --- | ---: | ---: | ---: |")
            for label, params in QUERIES:
                timings, groups = await _measure(session, settings, params, args.samples)
                print(
                    f"| {label} | {groups} | {statistics.median(timings):.1f}"
                    f" | {_p95(timings):.1f} |"
                )
    finally:
        await engine.dispose()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--backend", choices=["both", "postgresql", "sqlite"], default="both")
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--samples", type=int, default=30)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--postgres", default="postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
    )
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="xyb-bench-counts-") as tmp:
        data_dir = Path(tmp)
        if args.backend in ("both", "sqlite"):
            await _bench("sqlite", f"sqlite+aiosqlite:///{data_dir / 'counts.db'}", data_dir, args)
        if args.backend in ("both", "postgresql"):
            server = make_url(args.postgres)
            name = f"xyb_bench_counts_{uuid.uuid4().hex[:6]}"
            admin = create_async_engine(server, isolation_level="AUTOCOMMIT")
            try:
                async with admin.connect() as conn:
                    await conn.execute(text(f'CREATE DATABASE "{name}"'))
                url = server.set(database=name).render_as_string(hide_password=False)
                try:
                    await _bench("postgresql", url, data_dir, args)
                finally:
                    if not args.keep:
                        async with admin.connect() as conn:
                            await conn.execute(
                                text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                            )
            finally:
                await admin.dispose()


if __name__ == "__main__":
    asyncio.run(main())
