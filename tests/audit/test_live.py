"""The audit log of real ``xyb serve`` processes: a graceful stop writes everything with a final
checkpoint, a process killed mid-batch leaves a chain that just ends (and the next start begins
a chain of its own), and two processes on one PostgreSQL database each keep their own chain in
the day's partition.

Runs on the suite's backend (PostgreSQL with XYB_TEST_DATABASE_URL; SQLite otherwise), the
two-process test on PostgreSQL only.
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.config import Settings
from app.core.db import create_engine
from app.services.audit.log import partition_name
from app.services.audit.verify import Report, verify_database
from tests.audit.support import assert_chain, assert_checkpoints, stored
from tests.databases import BACKEND
from tests.servers import LiveServer, live_gateway

pytestmark = pytest.mark.slow
TOKEN = "audit-live-admin-token-0123456789abcdef"
# Calls without a token: each is one access event (401), and needs no upstream or client.
PATH = "/gw/430100/no-such-service/x"


def gateway_env(url: str, **settings: str) -> dict[str, str]:
    return {
        "XYB_DATABASE_URL": url,
        "XYB_ADMIN_TOKEN": TOKEN,
        "XYB_DATA_KEY": os.environ["XYB_DATA_KEY"],
        **settings,
    }


async def send(client: httpx.AsyncClient, base: str, count: int, *, workers: int = 8) -> int:
    """``count`` calls to ``base`` from ``workers`` concurrent callers; returns those answered."""
    answered = 0
    remaining = count

    async def worker() -> None:
        nonlocal answered, remaining
        while remaining > 0:
            remaining -= 1
            answer = await client.get(base + PATH)
            assert answer.status_code == 401, answer.text
            answered += 1

    await asyncio.gather(*(worker() for _ in range(workers)))
    return answered


async def verified(url: str, data_dir: Path) -> Report:
    """What ``xyb audit verify`` finds in the database at ``url``."""
    engine = create_engine(Settings(data_dir=data_dir), url)
    try:
        async with AsyncSession(engine) as session:
            return await verify_database(session)
    finally:
        await engine.dispose()


async def record_count(url: str, data_dir: Path) -> int:
    engine = create_engine(Settings(data_dir=data_dir), url)
    try:
        async with engine.connect() as conn:
            return int(await conn.scalar(text("SELECT count(*) FROM audit_records")) or 0)
    finally:
        await engine.dispose()


def assert_whole(found: dict[str, Any], writer: str, *, final: bool) -> int:
    """The writer's chain is whole from seq 1 and its checkpoints verify; with ``final`` the
    last one covers the last record. Returns the number of records."""
    records = found["records"][writer]
    checkpoints = found["checkpoints"].get(writer, [])
    assert_chain(records, writer)
    assert_checkpoints(checkpoints, records, found["keys"])
    if final:
        assert checkpoints, "no checkpoint was written at shutdown"
        assert checkpoints[-1].seq == records[-1].seq
    return len(records)


def calls(found: dict[str, Any], writer: str) -> int:
    return sum(1 for record in found["records"][writer] if record.kind == "call")


def stopped_cleanly(server: LiveServer) -> None:
    log = server.log()
    assert "Application shutdown complete" in log, log[-2000:]
    assert "audit log flushed" in log, log[-2000:]
    assert "before shutdown" not in log, log[-2000:]


async def test_a_graceful_stop_writes_every_record_and_a_final_checkpoint(
    tmp_path: Path, fresh_database_url: str
) -> None:
    # Flushes 60 s apart: what the stop writes is (all but certainly) everything.
    env = gateway_env(fresh_database_url, XYB_AUDIT_FLUSH_INTERVAL="60")
    async with httpx.AsyncClient(timeout=30) as client:
        with live_gateway(tmp_path / "a", env) as server:
            sent = await send(client, server.url, 150)
    stopped_cleanly(server)

    found = await stored(fresh_database_url, tmp_path)
    [writer] = found["records"]
    assert_whole(found, writer, final=True)
    assert calls(found, writer) == sent


async def test_a_process_killed_mid_batch_leaves_a_chain_that_just_ends(
    tmp_path: Path, fresh_database_url: str
) -> None:
    # Small batches, often, checkpoints every 7 records: the kill lands amid all of them.
    env = gateway_env(
        fresh_database_url,
        XYB_AUDIT_FLUSH_INTERVAL="0.05",
        XYB_AUDIT_BATCH_MAX="5",
        XYB_AUDIT_CHECKPOINT_RECORDS="7",
    )
    async with httpx.AsyncClient(timeout=30) as client:
        with live_gateway(tmp_path / "a", env) as server:
            stop = asyncio.Event()
            sent = 0

            async def load() -> None:
                nonlocal sent
                while not stop.is_set():
                    try:
                        await client.get(server.url + PATH)
                    except httpx.TransportError:
                        return  # the process is gone
                    sent += 1

            loaders = [asyncio.create_task(load()) for _ in range(6)]
            # Under load, once a good part of the chain is written: kill it, no goodbye.
            deadline = time.monotonic() + 60
            while await record_count(fresh_database_url, tmp_path) < 60:
                assert time.monotonic() < deadline, "the audit log wrote nothing under load"
                await asyncio.sleep(0.05)
            server.process.kill()
            server.process.wait()
            stop.set()
            await asyncio.gather(*loaders)
        killed = server.log()
        assert "audit log flushed" not in killed

        found = await stored(fresh_database_url, tmp_path)
        [first] = found["records"]
        written = assert_whole(found, first, final=False)
        assert written >= 60
        assert calls(found, first) <= sent  # what was buffered is lost, nothing else
        # The verifier sees a chain that stops (its tail perhaps uncovered), not a break.
        report = await verified(fresh_database_url, tmp_path)
        assert report.ok, report.first.sentence() if report.first else ""
        [summary] = report.writers
        assert (summary.writer, summary.last_seq) == (first, written)

        # The next start is a new writer with a chain of its own; the first one stays as it was.
        with live_gateway(tmp_path / "b", env) as restarted:
            again = await send(client, restarted.url, 20)
    stopped_cleanly(restarted)
    found = await stored(fresh_database_url, tmp_path)
    [second] = set(found["records"]) - {first}
    assert assert_whole(found, first, final=False) == written
    assert_whole(found, second, final=True)
    assert calls(found, second) == again
    report = await verified(fresh_database_url, tmp_path)
    assert report.ok, report.first.sentence() if report.first else ""
    assert {w.writer: w.uncovered for w in report.writers}[second] == 0


@pytest.mark.postgres_only
@pytest.mark.skipif(BACKEND != "postgresql", reason="needs PostgreSQL (XYB_TEST_DATABASE_URL)")
async def test_two_processes_on_postgresql_each_keep_their_own_chain(
    tmp_path: Path, fresh_database_url: str
) -> None:
    env = gateway_env(
        fresh_database_url,
        XYB_AUDIT_FLUSH_INTERVAL="0.1",
        XYB_AUDIT_CHECKPOINT_RECORDS="25",
        XYB_AUDIT_CHECKPOINT_SECONDS="86400",  # only the count and the stop make checkpoints
    )
    async with httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=32)) as client:
        with (
            live_gateway(tmp_path / "a", env) as first,
            live_gateway(tmp_path / "b", env) as second,
        ):
            sent = await asyncio.gather(send(client, first.url, 300), send(client, second.url, 300))
    stopped_cleanly(first)
    stopped_cleanly(second)

    found = await stored(fresh_database_url, tmp_path)
    assert len(found["records"]) == 2, list(found["records"])
    assert sorted(calls(found, writer) for writer in found["records"]) == sorted(sent)
    for writer in found["records"]:
        written = assert_whole(found, writer, final=True)
        # Every 25 records, and the last at shutdown.
        seqs = [c.seq for c in found["checkpoints"][writer]]
        assert [s for s in seqs if s % 25 == 0] == list(range(25, written + 1, 25))

    report = await verified(fresh_database_url, tmp_path)
    assert report.ok, report.first.sentence() if report.first else ""
    assert [w.uncovered for w in report.writers] == [0, 0]

    # The records went into the day's partition, none into the default one.
    engine = create_engine(Settings(data_dir=tmp_path), fresh_database_url)
    try:
        async with engine.connect() as conn:
            where = (
                await conn.execute(
                    text("SELECT tableoid::regclass::text, count(*) FROM audit_records GROUP BY 1")
                )
            ).all()
    finally:
        await engine.dispose()
    places: dict[str, int] = {str(name): int(count) for name, count in where}
    days = {record.at.date() for chain in found["records"].values() for record in chain}
    assert set(places) == {partition_name(day) for day in days}
    assert sum(places.values()) == sum(len(chain) for chain in found["records"].values())
