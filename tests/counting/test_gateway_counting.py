"""Counting through the real /gw path (Changsha stubbed from its contract), and ``/metrics``."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
from collections import Counter as Tally
from collections.abc import Callable
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import httpx
import pytest
import respx
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from app.core.config import Settings
from app.gateway.routetable import TransportFactory
from app.models.counting import AccessCount
from app.services.counting import Counter
from tests.conftest import GrantAccess
from tests.contract_stubs import transport_for
from tests.counting.support import (
    OUTCOMES,
    histogram,
    outcome_of_answer,
    shared_sessionmaker,
)
from tests.identity.api_support import onboard_changsha

GW = "/gw/430100/zwfw"
FOUND = GW + "/gjj/accounts/430121199912124865"
NOT_FOUND = GW + "/gjj/accounts/430182197707070005"  # the city answers 404
UNCONTRACTED = GW + "/gjj/accounts/110105194912310029"  # the stub answers 501
INVALID = GW + "/shebao/contributions?from=2023-13"  # the gateway answers 422
SCRAPE_TOKEN = "scrape-token-0123456789abcdef0123456789"
SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"metrics_token": SecretStr(SCRAPE_TOKEN)})


@pytest.fixture
def upstream(contract_stub: Callable[..., respx.MockRouter]) -> respx.MockRouter:
    return contract_stub("municipal/changsha")


@pytest.fixture
def transport_factory(upstream: respx.MockRouter) -> TransportFactory:
    return lambda base_url, max_connections: transport_for(upstream)


@pytest.fixture
async def counter(app: FastAPI, connection: AsyncConnection) -> Counter:
    """The app's counter, writing into the test's transaction when the test flushes it."""
    counter = app.state.counter
    assert isinstance(counter, Counter)
    await counter.stop()  # no background flusher sharing the test's connection
    counter.sessionmaker = shared_sessionmaker(connection)
    return counter


@pytest.fixture
async def service_id(client: httpx.AsyncClient, admin_headers: dict[str, str]) -> int:
    return int((await onboard_changsha(client, admin_headers))["id"])


@pytest.fixture
async def caller(grant_access: GrantAccess) -> dict[str, str]:
    return await grant_access(("430100", "zwfw"))


def _plan(caller: dict[str, str]) -> list[tuple[str, dict[str, str]]]:
    anonymous = {"Authorization": ""}
    looped = {**caller, "Via": "1.1 xyb-gateway"}
    one_round = [
        (FOUND, caller),
        (NOT_FOUND, caller),
        (FOUND, caller),
        (INVALID, caller),
        (UNCONTRACTED, caller),
        (FOUND, caller),
        (FOUND, anonymous),  # 401
        (FOUND, looped),  # 508: the gateway's own fault class
        ("/gw/430100/no-such-service/x", caller),  # 404, no service matched
    ]
    return one_round * 4


async def _totals(session: AsyncSession) -> Tally[str]:
    query = select(AccessCount.outcome, func.sum(AccessCount.calls)).group_by(AccessCount.outcome)
    return Tally({o: int(n) for o, n in (await session.execute(query)).all()})


async def _call_all(
    client: httpx.AsyncClient, plan: list[tuple[str, dict[str, str]]]
) -> Tally[str]:
    sent: Tally[str] = Tally()
    for path, headers in plan:
        answer = await client.get(path, headers=headers)
        sent[outcome_of_answer(answer)] += 1
    return sent


async def test_n_calls_through_the_gateway_sum_to_n_by_outcome(
    client: httpx.AsyncClient,
    counter: Counter,
    session: AsyncSession,
    service_id: int,
    caller: dict[str, str],
) -> None:
    before = await _totals(session)
    started = datetime.now(UTC)
    plan = _plan(caller)
    sent = await _call_all(client, plan)
    assert set(sent) == set(OUTCOMES)  # every outcome is exercised
    assert counter.stats().buffered_events == len(plan)

    assert await counter.flush()
    after = await _totals(session)
    assert after - before == sent
    assert sum((after - before).values()) == len(plan)

    written = (
        await session.scalars(
            select(AccessCount)
            .where(AccessCount.service_id == service_id)
            .execution_options(populate_existing=True)
        )
    ).all()
    local_hours = {
        (t.astimezone(SHANGHAI).date(), t.astimezone(SHANGHAI).hour)
        for t in (started, datetime.now(UTC))
    }
    for row in written:
        assert (row.day, row.hour) in local_hours
        assert sum(histogram(row)) == row.calls
        assert row.total_ms > 0
    by_operation = Tally[tuple[str, str]]()
    for row in written:
        by_operation[(row.operation_id, row.outcome)] += row.calls
    assert by_operation[("getFundAccount_430100", "success")] == 12
    assert by_operation[("getFundAccount_430100", "caller_error")] == 4  # the city's 404s
    assert by_operation[("getFundAccount_430100", "upstream_error")] == 4  # the stub's 501s


async def test_counting_never_waits_on_the_database(
    client: httpx.AsyncClient, counter: Counter, service_id: int, caller: dict[str, str]
) -> None:
    """Calls are answered and counted in memory while nothing is flushed."""
    for _ in range(5):
        assert (await client.get(FOUND, headers=caller)).status_code == 200
    stats = counter.stats()
    assert (stats.buffered_events, stats.batches_written) == (5, 0)


def _families(text: str) -> dict[str, list[tuple[str, dict[str, str], float]]]:
    out: dict[str, list[tuple[str, dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(text):
        out[family.name] = [(s.name, s.labels, s.value) for s in family.samples]
    return out


async def test_metrics_show_requests_latency_breakers_and_the_counter(
    client: httpx.AsyncClient,
    counter: Counter,
    service_id: int,
    caller: dict[str, str],
    admin_headers: dict[str, str],
) -> None:
    plan = _plan(caller)
    sent = await _call_all(client, plan)
    assert await counter.flush()
    answer = await client.get("/metrics", headers={"Authorization": f"Bearer {SCRAPE_TOKEN}"})
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    families = _families(answer.text)

    requests = {
        (labels["service"], labels["outcome"]): value
        for name, labels, value in families["xyb_gateway_requests"]
        if name == "xyb_gateway_requests_total"
    }
    assert sum(requests.values()) == len(plan)
    by_outcome: Tally[str] = Tally()
    for (_, outcome), value in requests.items():
        by_outcome[outcome] += int(value)
    assert by_outcome == sent
    assert requests[("430100/zwfw", "success")] == 12
    # Refused before a service was matched (no token, unknown service, loop): labelled "none".
    assert requests[("none", "caller_error")] == 8
    assert requests[("none", "gateway_error")] == 4
    assert {service for service, _ in requests} == {"430100/zwfw", "none"}

    latency = families["xyb_gateway_request_duration_seconds"]
    counts = {
        (labels["service"], labels["outcome"]): value
        for name, labels, value in latency
        if name.endswith("_count")
    }
    assert counts == requests
    inf = [v for n, labels, v in latency if n.endswith("_bucket") and labels["le"] == "+Inf"]
    assert sum(inf) == len(plan)

    breaker = families["xyb_gateway_breaker_state"]
    assert [(labels, value) for _, labels, value in breaker] == [({"service": "430100/zwfw"}, 0)]
    assert families["xyb_access_counts_pending_batches"][0][2] == 0
    assert families["xyb_access_events_dropped"][0][2] == 0
    assert families["xyb_access_counts_flush_lag_seconds"][0][2] >= 0
    assert families["xyb_gateway_workers"][0][2] == 1
    # Bounded labels: no client or user identifiers anywhere.
    labels_seen = {k for family in families.values() for _, labels, _ in family for k in labels}
    assert labels_seen <= {"service", "outcome", "le"}
    assert "xyb-admin" not in answer.text


async def test_an_open_breaker_shows_as_2(
    client: httpx.AsyncClient, counter: Counter, service_id: int, caller: dict[str, str]
) -> None:
    for _ in range(5):  # the default threshold: five failures in a row
        assert (await client.get(UNCONTRACTED, headers=caller)).status_code == 501
    assert (await client.get(FOUND, headers=caller)).status_code == 503  # open: not called
    answer = await client.get("/metrics", headers={"Authorization": f"Bearer {SCRAPE_TOKEN}"})
    breaker = _families(answer.text)["xyb_gateway_breaker_state"]
    assert [value for _, _, value in breaker] == [2]


def _promtool() -> str:
    """promtool's path; a missing promtool skips, except under CI=true, where it fails."""
    found = shutil.which("promtool")
    if found is not None:
        return found
    problem = "promtool is missing (apt-get install prometheus; .ci/run installs it)"
    if os.environ.get("CI") == "true":
        pytest.fail(f"the metrics lint cannot run and CI=true: {problem}")
    pytest.skip(problem)


async def test_metrics_pass_promtool(
    client: httpx.AsyncClient, counter: Counter, service_id: int, caller: dict[str, str]
) -> None:
    """Every family with samples (every outcome, an open breaker) is clean for promtool."""
    promtool = _promtool()
    await _call_all(client, _plan(caller))
    for _ in range(5):
        await client.get(UNCONTRACTED, headers=caller)
    assert await counter.flush()
    answer = await client.get("/metrics", headers={"Authorization": f"Bearer {SCRAPE_TOKEN}"})
    families = _families(answer.text)
    assert 2 in [value for _, _, value in families["xyb_gateway_breaker_state"]]
    assert all(families.values()), [name for name, samples in families.items() if not samples]
    checked = await asyncio.to_thread(
        subprocess.run,
        [promtool, "check", "metrics"],
        input=answer.content,
        capture_output=True,
        timeout=60,
    )
    assert (checked.returncode, checked.stdout, checked.stderr) == (0, b"", b""), checked


async def test_metrics_need_the_operator_role_or_the_scrape_token(
    client: httpx.AsyncClient, grant_access: GrantAccess, admin_headers: dict[str, str]
) -> None:
    operator = await grant_access(roles=["operator"])
    integrator = await grant_access()
    for headers in (
        operator,
        admin_headers,
        {"Authorization": f"Bearer {SCRAPE_TOKEN}"},
    ):
        answer = await client.get("/metrics", headers=headers)
        assert answer.status_code == 200, answer.text
        assert answer.headers["content-type"].startswith("text/plain")
    for headers, status in (
        ({}, 401),
        ({"Authorization": "Bearer not-a-token"}, 401),
        ({"Authorization": f"Basic {SCRAPE_TOKEN}"}, 401),
        ({"Authorization": f"Bearer {SCRAPE_TOKEN}x"}, 401),
        (integrator, 403),
    ):
        answer = await client.get("/metrics", headers=headers)
        assert answer.status_code == status, (headers, answer.text)
        assert answer.headers["content-type"] == "application/problem+json"
    assert "operator" in (await client.get("/metrics", headers=integrator)).json()["detail"]


async def test_metrics_are_documented_as_text(client: httpx.AsyncClient) -> None:
    document = (await client.get("/openapi.json")).json()
    operation = document["paths"]["/metrics"]["get"]
    assert list(operation["responses"]["200"]["content"]) == ["text/plain"]
    assert {"401", "403"} <= set(operation["responses"])


async def test_each_app_keeps_its_own_figures(
    app: FastAPI, client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    """One process, several apps (the tests): each has its own files, none uses the global
    registry of prometheus_client."""
    from prometheus_client import REGISTRY

    from app.main import create_app

    assert (await client.get("/metrics", headers=admin_headers)).status_code == 200
    assert REGISTRY.get_sample_value("xyb_access_counts_pending_batches") is None
    other = create_app(app.state.settings)
    assert other.state.metrics is not app.state.metrics
    assert not other.state.metrics.shared
