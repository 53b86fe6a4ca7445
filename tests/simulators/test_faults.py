"""``Faults`` and the app-level faults of the middleware, in-process (no sockets)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.applications import Starlette

from app.simulators import Faults, create_city_app

URL = "/bdc/records?id_number=11010519491231002X"  # a valid number nobody in 长沙 holds: 404


def test_faults_are_off_by_default() -> None:
    assert Faults().as_dict() == {
        "latency_ms": 0.0,
        "jitter_ms": 0.0,
        "error_rate": 0.0,
        "error_status": 503,
        "hang": False,
        "refuse": False,
        "reset": False,
        "malformed": None,
    }


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"latency_ms": -1}, "latency_ms must be a finite number >= 0"),
        ({"jitter_ms": float("inf")}, "jitter_ms must be a finite number >= 0"),
        ({"latency_ms": "10"}, "latency_ms must be a number"),
        ({"error_rate": 1.5}, "error_rate must be between 0 and 1"),
        ({"error_rate": True}, "error_rate must be a number"),
        ({"error_status": 200}, "error_status must be between 400 and 599"),
        ({"error_status": 503.0}, "error_status must be an integer"),
        ({"hang": 1}, "hang must be true or false"),
        ({"malformed": "xml"}, 'malformed must be null, "http" or "json"'),
        ({"slow": True}, "unknown fault fields: slow"),
    ],
)
def test_refused_changes_change_nothing(changes: dict[str, object], message: str) -> None:
    faults = Faults(latency_ms=5)
    with pytest.raises(ValueError, match=message):
        faults.update(reset=True, **changes)  # reset alone would be fine
    assert faults == Faults(latency_ms=5)


def test_update_and_clear() -> None:
    faults = Faults()
    faults.update(error_rate=0.5, error_status=502, malformed="json")
    assert (faults.error_rate, faults.error_status, faults.malformed) == (0.5, 502, "json")
    faults.clear()
    assert faults == Faults()
    with pytest.raises(ValueError, match="error_rate"):
        Faults(error_rate=2)


@pytest.fixture
def faults() -> Faults:
    return Faults()


@pytest.fixture
def app(faults: Faults) -> Starlette:
    return create_city_app("430100", faults=faults)


@pytest.fixture
async def client(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://city"
    ) as c:
        yield c


async def test_latency_adds_delay(faults: Faults, client: httpx.AsyncClient) -> None:
    faults.update(latency_ms=200, jitter_ms=50)
    started = time.monotonic()
    response = await client.get(URL)
    assert time.monotonic() - started >= 0.19  # a lower bound only
    assert response.status_code == 404


async def test_error_rate_one_answers_the_error_status(
    faults: Faults, client: httpx.AsyncClient
) -> None:
    faults.update(error_rate=1)
    response = await client.get(URL)
    assert response.status_code == 503
    assert response.json() == {"code": "E503", "message": "系统繁忙，请稍后再试"}
    faults.update(error_status=500)
    assert (await client.get(URL)).json()["code"] == "E500"
    faults.update(error_rate=0)
    assert (await client.get(URL)).status_code == 404


async def test_error_rate_is_a_share(faults: Faults, client: httpx.AsyncClient) -> None:
    faults.update(error_rate=0.5)
    statuses = [(await client.get(URL)).status_code for _ in range(200)]
    assert set(statuses) == {404, 503}  # both, in 200 tries (each missing has odds 2**-200)


async def test_malformed_json_is_200_with_a_body_that_does_not_parse(
    faults: Faults, client: httpx.AsyncClient
) -> None:
    faults.update(malformed="json")
    response = await client.get(URL)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.content
    with pytest.raises(ValueError):  # noqa: PT011 - json.JSONDecodeError or UnicodeDecodeError
        json.loads(response.content)


async def test_hang_never_answers(faults: Faults, client: httpx.AsyncClient) -> None:
    faults.update(hang=True)
    request = asyncio.ensure_future(client.get(URL))
    done, _ = await asyncio.wait([request], timeout=0.3)
    assert not done
    request.cancel()
    with pytest.raises(asyncio.CancelledError):
        await request


async def test_faulted_requests_are_counted_too(
    app: Starlette, faults: Faults, client: httpx.AsyncClient
) -> None:
    faults.update(error_rate=1)
    await client.get(URL)
    await client.post("/jzz/applications", json={})
    await client.post("/_sim/reset")  # not faulted, not counted
    assert app.state.received == {("GET", "/bdc/records"): 1, ("POST", "/jzz/applications"): 1}
    assert (await client.post("/_sim/reset")).status_code == 204
