"""Every 503 that knows when to try again says it in Retry-After: the call whose failure opened
the breaker as much as the calls the open breaker refuses, and a full validation capacity (the
full concurrency cap has its own test in test_proxy.py)."""

from __future__ import annotations

import httpx
import pytest
import respx
from fastapi import FastAPI

from app.gateway.request_checks import OFFLOAD_BODY_BYTES, RequestChecker
from app.gateway.routetable import TransportFactory
from tests.conftest import GrantAccess
from tests.gateway.support import UPSTREAM, onboard, proxy_of, respx_transport

LATEST = "/gw/430100/bdc/records/latest"
COOLDOWN = 60


@pytest.fixture
def upstream() -> respx.MockRouter:
    return respx.MockRouter(assert_all_called=False, base_url=UPSTREAM)


@pytest.fixture
def transport_factory(upstream: respx.MockRouter) -> TransportFactory:
    return respx_transport(upstream)


async def test_the_failure_that_opens_the_breaker_says_when_to_come_back(
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    grant_access: GrantAccess,
    upstream: respx.MockRouter,
) -> None:
    await onboard(
        client, admin_headers, breaker_threshold=2, breaker_cooldown_s=COOLDOWN, retries=0
    )
    caller = await grant_access(("430100", "bdc"))
    down = upstream.get("/records/latest").mock(side_effect=httpx.ConnectError("refused"))

    first = await client.get(LATEST, headers=caller)
    assert first.status_code == 503
    assert first.json()["type"] == "/problems/upstream-unavailable"
    assert "retry-after" not in first.headers  # the breaker is closed: nobody knows when

    opening = await client.get(LATEST, headers=caller)
    assert opening.status_code == 503
    assert opening.json()["type"] == "/problems/upstream-unavailable"
    assert opening.headers["retry-after"] == str(COOLDOWN)  # it opened the breaker
    assert opening.json()["retry_after"] == COOLDOWN

    refused = await client.get(LATEST, headers=caller)
    assert refused.status_code == 503
    assert refused.json()["type"] == "/problems/upstream-circuit-open"
    assert 1 <= int(refused.headers["retry-after"]) <= COOLDOWN
    assert down.call_count == 2


async def test_a_full_validation_capacity_says_when_to_come_back(
    app: FastAPI,
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    grant_access: GrantAccess,
    upstream: respx.MockRouter,
) -> None:
    await onboard(client, admin_headers)
    caller = await grant_access(("430100", "bdc"))
    created = upstream.post("/records").respond(201, json={})
    checker = RequestChecker(slots=1, timeout=0.05)
    proxy_of(app)._checker = checker
    await checker._slots.acquire()  # the one slot is taken, by another large request
    try:
        big = {"owner_id_number": "x" * (OFFLOAD_BODY_BYTES + 1), "address": "a", "area": 1}
        busy = await client.post("/gw/430100/bdc/records", json=big, headers=caller)
    finally:
        checker._slots.release()
    assert busy.status_code == 503
    assert busy.json()["type"] == "/problems/validation-busy"
    assert busy.headers["retry-after"] == "1"
    assert created.call_count == 0
