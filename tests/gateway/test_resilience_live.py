"""Resilience over real sockets: the production transport against a fault-injecting simulator."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import httpx
import pytest

from app.simulators import SimulatorHost, city_data, openapi_document
from tests.conftest import GrantAccess
from tests.gateway.support import service_body

CITY = "430100"
TIMEOUT_S = 1.0


@pytest.fixture(autouse=True)
async def _authorized(client: httpx.AsyncClient, grant_access: GrantAccess) -> None:
    """Calls through /gw carry a token of a client granted the services these tests use."""
    client.headers.update(await grant_access(("430100", "zwfw"), ("430100", "files")))


@pytest.fixture
async def simulator() -> AsyncIterator[SimulatorHost]:
    async with SimulatorHost(divisions=[CITY], control=False) as host:
        yield host


@pytest.fixture
async def zwfw(
    client: httpx.AsyncClient, admin_headers: dict[str, str], simulator: SimulatorHost
) -> str:
    """The Changsha simulator onboarded from its own document, as a city developer would."""
    response = await client.post(
        "/admin/services",
        json=service_body(
            slug="zwfw",
            name="长沙市政务服务",
            upstream_url=simulator.url(CITY),
            document=openapi_document(CITY),
            timeout_s=TIMEOUT_S,
            breaker_threshold=100,
        ),
        headers=admin_headers,
    )
    assert response.status_code == 201, response.text
    return "/gw/430100/zwfw"


def resident_id() -> str:
    return next(iter(city_data(CITY).fund_accounts))


def permit_application() -> dict[str, str]:
    resident = next(iter(city_data(CITY).residents.values()))
    return {
        "applicant_name": resident.name,
        "id_number": resident.id_number,
        "phone": "13812345678",
        "address": "长沙市岳麓区麓山南路932号",
        "reason": "居住",
        "residence_since": "2020-01-01",
    }


async def test_a_healthy_simulator_answers_through_the_gateway(
    client: httpx.AsyncClient, zwfw: str, simulator: SimulatorHost
) -> None:
    account = await client.get(f"{zwfw}/gjj/accounts/{resident_id()}")
    assert account.status_code == 200, account.text
    assert account.headers["x-xyb-upstream"] == "430100/zwfw"
    assert account.json()["id_number"] == resident_id()
    created = await client.post(f"{zwfw}/jzz/applications", json=permit_application())
    assert created.status_code == 201, created.text


async def test_hung_upstream_is_504_before_timeout_plus_one_second(
    client: httpx.AsyncClient, zwfw: str, simulator: SimulatorHost
) -> None:
    await simulator.set_faults(CITY, hang=True)
    started = time.monotonic()
    response = await client.get(f"{zwfw}/gjj/accounts/{resident_id()}")
    elapsed = time.monotonic() - started
    assert response.status_code == 504
    assert response.json()["type"] == "/problems/upstream-timeout"
    assert elapsed < TIMEOUT_S + 1.0


async def test_refused_connection_is_503(
    client: httpx.AsyncClient, zwfw: str, simulator: SimulatorHost
) -> None:
    await simulator.set_faults(CITY, refuse=True)
    response = await client.get(f"{zwfw}/gjj/accounts/{resident_id()}")
    assert response.status_code == 503
    assert response.json()["type"] == "/problems/upstream-unavailable"
    await simulator.clear_faults(CITY)
    again = await client.get(f"{zwfw}/gjj/accounts/{resident_id()}")
    assert again.status_code == 200


async def test_garbage_is_502(
    client: httpx.AsyncClient, zwfw: str, simulator: SimulatorHost
) -> None:
    await simulator.set_faults(CITY, malformed="http")
    response = await client.get(f"{zwfw}/gjj/accounts/{resident_id()}")
    assert response.status_code == 502
    assert response.json()["type"] == "/problems/upstream-bad-response"
    await simulator.set_faults(CITY, malformed="json")
    not_json = await client.get(f"{zwfw}/gjj/accounts/{resident_id()}")
    assert not_json.status_code == 502
    assert "not JSON" in not_json.json()["detail"]


async def test_reset_after_a_post_reaches_the_simulator_exactly_once(
    client: httpx.AsyncClient, zwfw: str, simulator: SimulatorHost
) -> None:
    await simulator.set_faults(CITY, reset=True)
    response = await client.post(f"{zwfw}/jzz/applications", json=permit_application())
    assert response.status_code == 502
    posts = {k: v for k, v in simulator.received(CITY).items() if k[0] == "POST"}
    assert posts == {("POST", "/jzz/applications"): 1}


async def test_upstream_errors_and_latency_pass_through(
    client: httpx.AsyncClient, zwfw: str, simulator: SimulatorHost
) -> None:
    await simulator.set_faults(CITY, latency_ms=200)
    slow = await client.get(f"{zwfw}/gjj/accounts/{resident_id()}")
    assert slow.status_code == 200
    await simulator.set_faults(CITY, latency_ms=0, error_rate=1.0, error_status=503)
    failing = await client.get(f"{zwfw}/gjj/accounts/{resident_id()}")
    assert failing.status_code == 503
    assert failing.headers["x-xyb-upstream"] == "430100/zwfw"  # the simulator's own 503
    assert failing.headers["content-type"].startswith("application/json")


STREAM_DOC = """
openapi: 3.1.0
info: {title: 大文件下载, version: "1"}
paths:
  /files/{name}:
    get:
      operationId: download
      parameters:
        - {name: name, in: path, required: true, schema: {type: string}}
      responses:
        200:
          description: 文件
          content:
            application/octet-stream: {}
"""


async def test_large_answers_stream_through_intact_and_the_cap_holds(
    client: httpx.AsyncClient, admin_headers: dict[str, str], tmp_path: object
) -> None:
    import asyncio

    payload = bytes(range(256)) * (12 * 1024)  # 3 MiB, over the 1 MiB buffer

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
            + f"Content-Length: {len(payload)}\r\n\r\n".encode()
        )
        for i in range(0, len(payload), 64 * 1024):
            writer.write(payload[i : i + 64 * 1024])
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        response = await client.post(
            "/admin/services",
            json=service_body(
                slug="files", upstream_url=f"http://127.0.0.1:{port}", document=STREAM_DOC
            ),
            headers=admin_headers,
        )
        assert response.status_code == 201, response.text
        async with client.stream("GET", "/gw/430100/files/files/big.bin") as streamed:
            assert streamed.status_code == 200
            assert streamed.headers["x-xyb-upstream"] == "430100/files"
            body = b"".join([chunk async for chunk in streamed.aiter_bytes()])
        assert body == payload
    finally:
        server.close()
        await server.wait_closed()
