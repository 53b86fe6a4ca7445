"""Faults over real sockets: ``SimulatorHost`` serves the cities behind its fault proxy."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import AsyncIterator

import httpx
import pytest

from app.simulators import CITY_DIVISIONS, SimulatorHost

URL = "/bdc/records?id_number=11010519491231002X"  # a valid number nobody in 长沙 holds: 404
PERMIT = {
    "applicant_name": "赵六",
    "id_number": "11010519491231002X",
    "phone": "13912345678",
    "address": "长沙市天心区韶山路1号",
    "reason": "居住",
    "residence_since": "2020-01-01",
}

pytestmark = pytest.mark.slow


@pytest.fixture
async def host() -> AsyncIterator[SimulatorHost]:
    async with SimulatorHost(divisions=["430100", "430200"]) as running:
        yield running


@pytest.fixture
async def client(host: SimulatorHost) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=host.url("430100"), timeout=10) as c:
        yield c


async def test_serves_each_city_on_its_own_port(host: SimulatorHost) -> None:
    assert host.url("430100") != host.url("430200")
    async with httpx.AsyncClient(timeout=10) as c:
        changsha = await c.get(f"{host.url('430100')}/openapi.json")
        zhuzhou = await c.get(f"{host.url('430200')}/openapi.json")
        assert changsha.json()["info"]["title"] == "长沙市政务服务接口"
        assert zhuzhou.json()["info"]["title"] == "株洲市政务服务接口"
        for _ in range(3):  # one keep-alive connection, several requests
            response = await c.get(f"{host.url('430100')}{URL}")
            assert response.status_code == 404
            assert response.json()["code"] == "E404"
    assert host.received("430100")[("GET", "/bdc/records")] == 3
    assert host.received("430200") == {("GET", "/openapi.json"): 1}


async def test_latency_adds_delay(host: SimulatorHost, client: httpx.AsyncClient) -> None:
    await host.set_faults("430100", latency_ms=300)
    started = time.monotonic()
    response = await client.get(URL)
    assert time.monotonic() - started >= 0.29  # a lower bound only
    assert response.status_code == 404


async def test_error_rate_one_answers_the_error_status(
    host: SimulatorHost, client: httpx.AsyncClient
) -> None:
    await host.set_faults("430100", error_rate=1, error_status=502)
    response = await client.get(URL)
    assert response.status_code == 502
    assert response.json() == {"code": "E502", "message": "上游系统异常"}


async def test_hang_times_the_client_out(host: SimulatorHost, client: httpx.AsyncClient) -> None:
    await host.set_faults("430100", hang=True)
    with pytest.raises(httpx.TimeoutException):
        await client.get(URL, timeout=0.5)
    assert host.received("430100")[("GET", "/bdc/records")] == 1
    await host.clear_faults("430100")
    assert (await client.get(URL)).status_code == 404


async def test_refuse_closes_the_port_and_clearing_reopens_it(
    host: SimulatorHost, client: httpx.AsyncClient
) -> None:
    url = host.url("430100")
    assert (await client.get(URL)).status_code == 404  # a keep-alive connection is open
    await host.set_faults("430100", refuse=True)
    with pytest.raises(httpx.ConnectError):
        await client.get(URL)
    async with httpx.AsyncClient(timeout=10) as fresh:
        with pytest.raises(httpx.ConnectError):
            await fresh.get(f"{url}{URL}")
    await host.set_faults("430100", refuse=False)
    assert host.url("430100") == url
    assert (await client.get(URL)).status_code == 404
    assert host.received("430100")[("GET", "/bdc/records")] == 2


async def test_reset_after_the_request_was_processed(
    host: SimulatorHost, client: httpx.AsyncClient
) -> None:
    await host.set_faults("430100", reset=True)
    with pytest.raises((httpx.ReadError, httpx.RemoteProtocolError)):
        await client.post("/jzz/applications", json=PERMIT)
    assert host.received("430100") == {("POST", "/jzz/applications"): 1}
    await host.clear_faults("430100")
    # It was processed: the application exists although its answer never arrived.
    assert (await client.get("/jzz/applications/JZZ430100-000001")).status_code == 200


async def test_malformed_http(host: SimulatorHost, client: httpx.AsyncClient) -> None:
    await host.set_faults("430100", malformed="http")
    with pytest.raises(httpx.RemoteProtocolError):
        await client.get(URL)
    with pytest.raises(httpx.RemoteProtocolError):
        await client.post("/jzz/applications", json=PERMIT)
    assert host.received("430100") == {}  # the app never saw them
    await host.clear_faults("430100")
    assert (await client.get(URL)).status_code == 404


async def test_malformed_json(host: SimulatorHost, client: httpx.AsyncClient) -> None:
    await host.set_faults("430100", malformed="json")
    response = await client.get(URL)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    with pytest.raises(ValueError):  # noqa: PT011 - JSONDecodeError or UnicodeDecodeError
        json.loads(response.content)


async def test_provider_states_over_the_socket(
    host: SimulatorHost, client: httpx.AsyncClient
) -> None:
    response = await client.post(
        "/_sim/provider-state", json={"state": "a resident with a provident fund account"}
    )
    id_number = response.json()["params"]["id_number"]
    assert (await client.get(f"/gjj/accounts/{id_number}")).status_code == 200
    assert host.received("430100") == {("GET", "/gjj/accounts/{id_number}"): 1}


async def test_control_app(host: SimulatorHost) -> None:
    async with httpx.AsyncClient(base_url=host.control_url, timeout=10) as control:
        listed = (await control.get("/simulators")).json()
        assert [(s["division"], s["name"], s["url"]) for s in listed] == [
            ("430100", "长沙市", host.url("430100")),
            ("430200", "株洲市", host.url("430200")),
        ]
        put = await control.put("/simulators/430100/faults", json={"error_rate": 1})
        assert put.status_code == 200
        assert put.json()["error_rate"] == 1
        patched = await control.patch("/simulators/430100/faults", json={"error_status": 504})
        assert (patched.json()["error_rate"], patched.json()["error_status"]) == (1, 504)
        async with httpx.AsyncClient(base_url=host.url("430100"), timeout=10) as city:
            assert (await city.get(URL)).status_code == 504
            replaced = await control.put("/simulators/430100/faults", json={"refuse": True})
            assert replaced.json()["error_rate"] == 0  # PUT replaces: the rest is off
            assert (await control.get("/simulators/430100")).json()["listening"] is False
            with pytest.raises(httpx.ConnectError):
                await city.get(URL)
            cleared = await control.delete("/simulators/430100/faults")
            assert cleared.json() == (await control.get("/simulators/430100/faults")).json()
            assert cleared.json()["refuse"] is False
            assert (await city.get(URL)).status_code == 404
        received = (await control.get("/simulators/430100/received")).json()
        assert received == {
            "division": "430100",
            "total": 2,
            "requests": [{"method": "GET", "path": "/bdc/records", "count": 2}],
        }
        assert (await control.delete("/simulators/430100/received")).status_code == 204
        assert (await control.get("/simulators/430100/received")).json()["total"] == 0

        assert (await control.get("/simulators/433100/faults")).status_code == 404
        invalid = await control.patch("/simulators/430100/faults", json={"error_rate": 3})
        assert invalid.status_code == 422
        assert invalid.json() == {"detail": "error_rate must be between 0 and 1"}
        unknown = await control.patch("/simulators/430100/faults", json={"slow": True})
        assert unknown.status_code == 422
        not_json = await control.put("/simulators/430100/faults", content=b"{")
        assert not_json.status_code == 400
    assert host.faults("430100").error_rate == 0


async def test_stopping_ends_a_hanging_request() -> None:
    async with SimulatorHost(divisions=["430300"], control=False) as host:
        await host.set_faults("430300", hang=True)
        client = httpx.AsyncClient(base_url=host.url("430300"), timeout=30)
        request = asyncio.ensure_future(client.get(URL))
        while not host.received("430300"):  # noqa: ASYNC110 - a counter, no event to wait on
            await asyncio.sleep(0.01)
    with pytest.raises(httpx.TransportError):
        await request  # dropped by the stop, long before its 30 s timeout
    await client.aclose()


def _free_port_range(size: int) -> int:
    """A base port with ``size`` free ports from it (checked just before use)."""
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            base: int = probe.getsockname()[1]
        if base + size > 65535:
            continue
        sockets: list[socket.socket] = []
        try:
            for port in range(base, base + size):
                s = socket.socket()
                sockets.append(s)
                s.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
        finally:
            for s in sockets:
                s.close()
    raise RuntimeError("no range of free ports found")


async def test_fixed_ports_follow_the_division_order() -> None:
    base = _free_port_range(len(CITY_DIVISIONS) + 1)
    async with SimulatorHost(divisions=["430200", "433100"], base_port=base) as host:
        assert host.control_url == f"http://127.0.0.1:{base}"
        assert host.url("430200") == f"http://127.0.0.1:{base + 2}"
        assert host.url("433100") == f"http://127.0.0.1:{base + 14}"
        async with httpx.AsyncClient(timeout=10) as c:
            assert (await c.get(f"{host.url('433100')}/openapi.yaml")).status_code == 200


def test_only_prefectures_can_be_hosted() -> None:
    with pytest.raises(ValueError, match="430102"):
        SimulatorHost(divisions=["430100", "430102"])
