"""Exact totals across processes: two ``xyb serve`` processes on one database under concurrent
load, stopped gracefully, count exactly the requests sent, to the unit, per outcome.

Runs on the suite's backend (PostgreSQL with XYB_TEST_DATABASE_URL, as CI does; SQLite
otherwise). Every /gw request the test makes, readiness probes included, is recorded with the
outcome its answer implies (an upstream's own answer, X-XYB-Upstream, by its status; the
gateway's problem by its ``fault``).
"""

from __future__ import annotations

import asyncio
import os
import random
import time
from collections import Counter as Tally
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from app.core.config import Settings
from app.core.db import create_engine
from app.models.counting import AccessCount, CounterBatch
from app.simulators import SimulatorHost, city_data
from tests.counting.support import onboard_live, outcome_of_answer
from tests.servers import live_gateway

pytestmark = pytest.mark.slow
TOKEN = "counting-exact-admin-token-0123456789abcdef"
ADMIN = {"Authorization": f"Bearer {TOKEN}"}
CITY = "430300"
WORKERS_PER_INSTANCE = 4
LOAD_SECONDS = 4.0


async def _database_totals(url: str, data_dir: Path) -> tuple[Tally[str], int]:
    engine = create_engine(Settings(data_dir=data_dir), url)
    try:
        async with engine.connect() as conn:
            rows = (
                await conn.execute(
                    select(AccessCount.outcome, func.sum(AccessCount.calls)).group_by(
                        AccessCount.outcome
                    )
                )
            ).all()
            batches = await conn.scalar(select(func.count()).select_from(CounterBatch))
    finally:
        await engine.dispose()
    return Tally({outcome: int(total) for outcome, total in rows}), int(batches or 0)


async def test_two_gateway_processes_count_exactly_the_requests_sent(
    tmp_path: Path, fresh_database_url: str
) -> None:
    env = {
        "XYB_DATABASE_URL": fresh_database_url,
        "XYB_ADMIN_TOKEN": TOKEN,
        "XYB_DATA_KEY": os.environ["XYB_DATA_KEY"],
        "XYB_COUNT_FLUSH_INTERVAL": "0.25",  # many concurrent flushes onto the same rows
    }
    sent: Tally[str] = Tally()
    per_instance: Tally[str] = Tally()
    failures: list[str] = []
    async with SimulatorHost(divisions=[CITY], control=False) as simulator:
        with (
            live_gateway(tmp_path / "a", env) as first,
            live_gateway(tmp_path / "b", env) as second,
        ):
            async with httpx.AsyncClient(
                timeout=30, limits=httpx.Limits(max_connections=64)
            ) as client:
                caller = await onboard_live(
                    client,
                    first.url,
                    ADMIN,
                    division=CITY,
                    upstream=simulator.url(CITY),
                    max_concurrency=1000,
                    breaker_threshold=1000,  # the injected upstream errors must not open it
                )
                residents = list(city_data(CITY).fund_accounts)
                found = f"/gw/{CITY}/zwfw/gjj/accounts/{residents[0]}"
                unknown_person = f"/gw/{CITY}/zwfw/gjj/accounts/110105194912310029"
                invalid = f"/gw/{CITY}/zwfw/shebao/contributions?from=2023-13"
                no_service = f"/gw/{CITY}/no-such-service/x"

                async def call(base: str, path: str, headers: dict[str, str]) -> int:
                    answer = await client.get(base + path, headers=headers)
                    sent[outcome_of_answer(answer)] += 1
                    per_instance[base] += 1
                    return answer.status_code

                # The second instance learns the service and the client within a poll or two.
                deadline = time.monotonic() + 15
                while await call(second.url, found, caller) != 200:
                    assert time.monotonic() < deadline, "the second instance never caught up"
                    await asyncio.sleep(0.1)
                await simulator.set_faults(CITY, error_rate=0.1, error_status=503)

                mix = [
                    (found, caller, 55),  # 200, or the city's injected 503 (upstream_error)
                    (unknown_person, caller, 15),  # the city's 404 (caller_error)
                    (invalid, caller, 10),  # the gateway's 422
                    (found, {}, 5),  # 401, no token
                    (found, {**caller, "Via": "1.1 xyb-gateway"}, 5),  # 508 (gateway_error)
                    (no_service, caller, 10),  # 404, no service matched
                ]
                paths = [(p, h) for p, h, _ in mix]
                weights = [w for _, _, w in mix]
                stop = time.monotonic() + LOAD_SECONDS

                async def worker(base: str, seed: int) -> None:
                    rng = random.Random(seed)  # noqa: S311
                    while time.monotonic() < stop:
                        path, headers = rng.choices(paths, weights)[0]
                        try:
                            await call(base, path, headers)
                        except httpx.HTTPError as exc:  # unknowable: was it counted?
                            failures.append(f"{base}{path}: {exc!r}")
                            return

                await asyncio.gather(
                    *(
                        worker(base, seed=i * 10 + j)
                        for i, base in enumerate((first.url, second.url))
                        for j in range(WORKERS_PER_INSTANCE)
                    )
                )
        # Both gateways got SIGTERM and flushed on the way out.
        logs = {"first": first.log(), "second": second.log()}
    assert failures == []
    for name, log in logs.items():
        # uvicorn re-raises SIGTERM after a graceful shutdown, so the exit status says little.
        assert "Application shutdown complete" in log, (name, log[-2000:])
        assert "access counts flushed" in log, (name, log[-2000:])
        assert "before shutdown" not in log, (name, log[-2000:])
        assert "access counts dropped" not in log, (name, log[-2000:])

    counted, batches = await _database_totals(fresh_database_url, tmp_path)
    assert set(sent) == {"success", "caller_error", "upstream_error", "gateway_error"}
    assert min(per_instance.values()) > 100, per_instance  # both took real load
    assert batches > 4  # flushed repeatedly by both processes, not just once at the end
    assert counted == sent, (counted, sent)
    assert sum(counted.values()) == sum(sent.values())
