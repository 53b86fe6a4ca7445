"""Whose fault each failure is: what the caller is told, what is counted, what operators see.

An operator reads ``upstream_error`` as "the city's system is failing: call them" and
``gateway_error`` as "ours". Each fault is produced for real (upstreams are raw sockets on
127.0.0.1 that misbehave one way) and checked three ways that must agree: the problem's
``fault`` in the answer, the access event's outcome, and the calls /metrics counts by outcome.
The README's "Access counting" lists the same table. A request head the server refuses (431)
never reaches the app and is never counted: tests/counting/test_metrics_workers.py.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families
from pydantic import ByteSize

from app.core.config import Settings
from app.events import Outcome, RecentEvents, outcome_of
from app.gateway.request_checks import OFFLOAD_BODY_BYTES, RequestChecker
from tests.conftest import GrantAccess
from tests.gateway.asgi import asgi_call
from tests.gateway.support import document_text, proxy_of
from tests.gateway.test_upstream_failures_logs import (
    RawUpstream,
    invalid_length,
    reset_mid_answer,
    stall,
)
from tests.servers import free_port

DIVISION = "430100"

Onboard = Callable[..., Awaitable[tuple[str, dict[str, str]]]]


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # A small buffer: an answer past it is streamed, so it can be cut short after its status.
    return settings.model_copy(update={"upstream_buffer": ByteSize(4096)})


@pytest.fixture
def onboard_service(
    client: httpx.AsyncClient, admin_headers: dict[str, str], grant_access: GrantAccess
) -> Onboard:
    """Onboard ``slug`` in front of ``upstream``; returns its base path and a granted caller."""

    async def make(slug: str, upstream: str, **policy: Any) -> tuple[str, dict[str, str]]:
        onboarded = await client.post(
            "/admin/services",
            json={
                "division": DIVISION,
                "slug": slug,
                "name": "公积金提取申请",
                "upstream_url": upstream,
                "document": document_text("filings.yaml"),
                "timeout_s": 0.5,
                "retries": 0,
                **policy,
            },
            headers=admin_headers,
        )
        assert onboarded.status_code == 201, onboarded.text
        return f"/gw/{DIVISION}/{slug}", await grant_access((DIVISION, slug))

    return make


def last_outcome(app: FastAPI) -> tuple[int, Outcome]:
    recent = app.state.recent_events
    assert isinstance(recent, RecentEvents)
    event = recent.snapshot()[-1]
    return event.status, event.outcome


def told(answer: httpx.Response) -> tuple[int, str, str]:
    """(status, problem type, fault) of the gateway's own answer."""
    assert "x-xyb-upstream" not in answer.headers
    assert answer.headers["content-type"] == "application/problem+json"
    body = answer.json()
    return answer.status_code, body["type"].removeprefix("/problems/"), body["fault"]


async def answer_503(
    upstream: RawUpstream, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    body = b'{"code": "MAINTENANCE"}'
    writer.write(
        b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
    )
    await writer.drain()


async def test_a_refused_connection_is_the_upstreams(
    app: FastAPI, client: httpx.AsyncClient, onboard_service: Onboard
) -> None:
    base, caller = await onboard_service("refused", f"http://127.0.0.1:{free_port()}")
    answer = await client.get(base + "/echo", headers=caller)
    assert told(answer) == (503, "upstream-unavailable", "upstream")
    assert last_outcome(app) == (503, Outcome.UPSTREAM_ERROR)


@pytest.mark.parametrize(
    ("behaviour", "status", "problem"),
    [
        (stall, 504, "upstream-timeout"),
        (invalid_length, 502, "upstream-bad-response"),
    ],
    ids=["timeout", "bad answer"],
)
async def test_a_slow_or_broken_upstream_is_the_upstreams(
    app: FastAPI,
    client: httpx.AsyncClient,
    onboard_service: Onboard,
    behaviour: Any,
    status: int,
    problem: str,
) -> None:
    async with RawUpstream(behaviour) as upstream:
        base, caller = await onboard_service("broken", upstream.url)
        answer = await client.get(base + "/echo", headers=caller)
    assert told(answer) == (status, problem, "upstream")
    assert last_outcome(app) == (status, Outcome.UPSTREAM_ERROR)


async def test_an_upstreams_own_5xx_and_then_its_open_breaker_are_the_upstreams(
    app: FastAPI, client: httpx.AsyncClient, onboard_service: Onboard
) -> None:
    async with RawUpstream(answer_503) as upstream:
        base, caller = await onboard_service("maintenance", upstream.url, breaker_threshold=2)
        for _ in range(2):
            own = await client.get(base + "/echo", headers=caller)
            assert (own.status_code, own.headers["x-xyb-upstream"]) == (503, "430100/maintenance")
            assert last_outcome(app) == (503, Outcome.UPSTREAM_ERROR)
        refused = await client.get(base + "/echo", headers=caller)
    assert told(refused) == (503, "upstream-circuit-open", "upstream")
    assert last_outcome(app) == (503, Outcome.UPSTREAM_ERROR)
    assert len(upstream.heads) == 2  # not called while open


async def test_an_answer_cut_short_is_the_upstreams_whatever_its_status(
    app: FastAPI, client: httpx.AsyncClient, onboard_service: Onboard
) -> None:
    async with RawUpstream(reset_mid_answer) as upstream:
        base, caller = await onboard_service("cut", upstream.url)
        # The status went out before the reset; httpx's in-process transport reports the early
        # end as a failed assertion of its own.
        with pytest.raises(AssertionError):
            await client.get(base + "/echo", headers=caller)
    assert last_outcome(app) == (200, Outcome.UPSTREAM_ERROR)


async def test_a_full_concurrency_cap_is_the_gateways(
    app: FastAPI, client: httpx.AsyncClient, onboard_service: Onboard
) -> None:
    entered = asyncio.Event()

    async def answer_when_released(
        upstream: RawUpstream, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        entered.set()
        await upstream.release.wait()
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok")
        await writer.drain()

    async with RawUpstream(answer_when_released) as upstream:
        base, caller = await onboard_service(
            "capped", upstream.url, max_concurrency=1, timeout_s=30
        )
        first = asyncio.create_task(client.get(base + "/echo", headers=caller))
        await entered.wait()  # the first call is in flight
        second = await client.get(base + "/echo", headers=caller)
        assert told(second) == (503, "upstream-busy", "gateway")
        assert last_outcome(app) == (503, Outcome.GATEWAY_ERROR)
        upstream.release.set()
        assert (await first).status_code == 200
    assert last_outcome(app) == (200, Outcome.SUCCESS)


async def test_a_full_validation_capacity_is_the_gateways(
    app: FastAPI, client: httpx.AsyncClient, onboard_service: Onboard
) -> None:
    """A large body is validated in a worker thread; with every such slot taken the gateway
    refuses it (503 ``validation-busy``): its own capacity, the upstream was never asked."""
    base, caller = await onboard_service("validated", f"http://127.0.0.1:{free_port()}")
    checker = RequestChecker(slots=1, timeout=0.05)
    proxy_of(app)._checker = checker
    await checker._slots.acquire()  # the one slot is taken, by another large request
    big = {"rows": ["x" * 100] * (OFFLOAD_BODY_BYTES // 100 + 1)}
    answer = await client.post(base + "/filings", json=big, headers=caller)
    checker._slots.release()
    assert told(answer) == (503, "validation-busy", "gateway")
    assert last_outcome(app) == (503, Outcome.GATEWAY_ERROR)


async def test_a_loop_and_the_gateways_own_500_are_the_gateways(
    app: FastAPI,
    client: httpx.AsyncClient,
    onboard_service: Onboard,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    base, caller = await onboard_service("ours", f"http://127.0.0.1:{free_port()}")
    looped = await client.get(base + "/echo", headers={**caller, "Via": "1.1 xyb-gateway"})
    assert told(looped) == (508, "loop-detected", "gateway")
    assert last_outcome(app) == (508, Outcome.GATEWAY_ERROR)

    def broken(*args: object) -> None:
        raise RuntimeError("a bug in the gateway")

    monkeypatch.setattr(app.state.guard, "upstream_headers", broken)
    crashed = await client.get(base + "/echo", headers=caller)
    assert told(crashed) == (500, "internal-error", "gateway")
    assert last_outcome(app) == (500, Outcome.GATEWAY_ERROR)


async def test_a_body_that_did_not_arrive_whole_is_the_callers(
    app: FastAPI, client: httpx.AsyncClient, onboard_service: Onboard
) -> None:
    base, caller = await onboard_service("filings", f"http://127.0.0.1:{free_port()}")
    answer = await asgi_call(
        app,
        "POST",
        f"{base}/filings".encode(),
        headers=[
            (b"authorization", caller["Authorization"].encode()),
            (b"content-type", b"text/plain"),
            (b"content-length", b"35"),
        ],
        messages=[{"type": "http.request", "body": b"only part", "more_body": False}],
    )
    assert (answer.status, answer.json()["type"], answer.json()["fault"]) == (
        400,
        "/problems/incomplete-body",
        "caller",
    )
    assert last_outcome(app) == (400, Outcome.CALLER_ERROR)


async def test_metrics_count_each_fault_as_the_caller_was_told(
    app: FastAPI,
    client: httpx.AsyncClient,
    onboard_service: Onboard,
    admin_headers: dict[str, str],
) -> None:
    """The outcomes above, as /metrics counts them (the roll-ups use the same events)."""
    base, caller = await onboard_service("mixed", f"http://127.0.0.1:{free_port()}")
    await client.get(base + "/echo", headers=caller)  # refused: upstream_error
    await client.get(base + "/nowhere", headers=caller)  # 404: caller_error
    # 508: refused first thing, before a service is matched (so under service "none").
    await client.get(base + "/echo", headers={**caller, "Via": "1.1 xyb-gateway"})
    text = (await client.get("/metrics", headers=admin_headers)).text
    counted = {
        (sample.labels["service"], sample.labels["outcome"]): sample.value
        for family in text_string_to_metric_families(text)
        if family.name == "xyb_gateway_requests"
        for sample in family.samples
    }
    assert counted == {
        ("430100/mixed", "upstream_error"): 1,
        ("430100/mixed", "caller_error"): 1,
        ("none", "gateway_error"): 1,
    }


def test_the_readmes_outcome_table_agrees_with_the_problem_types() -> None:
    """Every problem type the README's table names is counted under the row it is listed in."""
    import app.main  # noqa: F401  (registers every problem type)
    from app.core.errors import PROBLEM_TYPES

    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| `(\w+_error)` \| (.+?) \|", readme, flags=re.MULTILINE)
    assert [outcome for outcome, _ in rows] == ["caller_error", "upstream_error", "gateway_error"]
    listed = {
        slug: Outcome(outcome)
        for outcome, text in rows
        for slug in re.findall(r"`([a-z]+(?:-[a-z]+)+)`", text)
        if slug in PROBLEM_TYPES
    }
    assert {"upstream-busy", "validation-busy", "upstream-circuit-open"} <= listed.keys()
    counted = {
        slug: outcome_of(problem.status, from_upstream=False, fault=problem.fault)
        for slug, problem in PROBLEM_TYPES.items()
        if slug in listed
    }
    assert counted == listed
