"""Drift knobs: a city app that departs from its document, for tests of contract verification."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.applications import Starlette

from app.simulators import DRIFTS, create_city_app, openapi_document
from tests.simulators.clock import fixed_clock

HOLDER = "430121199912124865"  # 长沙: a seeded resident with a provident fund account
STRANGER = "430182197707070005"  # 长沙: nobody


def _app(*drift: str) -> Starlette:
    return create_city_app("430100", clock=fixed_clock, drift=frozenset(drift))


@pytest.fixture
async def plain() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=_app()), base_url="http://plain"
    ) as client:
        yield client


async def _client(app: Starlette) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://drifted")


def test_the_known_drifts() -> None:
    assert set(DRIFTS) == {"fund-balance-as-string", "no-deposits-operation"}


@pytest.mark.parametrize("drift", [{"balance-as-text"}, {"fund-balance-as-string", "typo"}])
def test_unknown_drift_is_refused(drift: set[str]) -> None:
    with pytest.raises(ValueError, match="unknown drift") as raised:
        create_city_app("430100", drift=frozenset(drift))
    assert "fund-balance-as-string" in str(raised.value)
    assert "no-deposits-operation" in str(raised.value)


async def test_fund_balance_as_string(plain: httpx.AsyncClient) -> None:
    expected = (await plain.get(f"/gjj/accounts/{HOLDER}")).json()
    async with await _client(_app("fund-balance-as-string")) as client:
        answer = await client.get(f"/gjj/accounts/{HOLDER}")
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith("application/json")
        body = answer.json()
        assert isinstance(body["balance"], str)
        assert body["balance"] == f"{expected['balance']:.2f}"
        assert float(body["balance"]) == expected["balance"]
        assert {k: v for k, v in body.items() if k != "balance"} == {
            k: v for k, v in expected.items() if k != "balance"
        }
        # Nothing else changes: errors, the other operations, the document.
        missing = await client.get(f"/gjj/accounts/{STRANGER}")
        assert missing.status_code == 404
        assert missing.json()["code"] == "E404"
        deposits = await client.get(f"/gjj/accounts/{HOLDER}/deposits", params={"year": 2023})
        assert deposits.status_code == 200
        assert (await client.get("/openapi.yaml")).text == openapi_document("430100")


async def test_balance_drift_shows_a_balance_with_two_decimals() -> None:
    async with await _client(_app("fund-balance-as-string")) as client:
        await client.post(
            "/_sim/provider-state",
            json={"state": "a resident with a provident fund account", "params": {}},
        )
        balance = (await client.get(f"/gjj/accounts/{HOLDER}")).json()["balance"]
        assert balance.count(".") == 1
        assert len(balance.split(".")[1]) == 2


async def test_no_deposits_operation(plain: httpx.AsyncClient) -> None:
    assert (await plain.get(f"/gjj/accounts/{HOLDER}/deposits")).status_code == 200
    app = _app("no-deposits-operation")
    async with await _client(app) as client:
        answer = await client.get(f"/gjj/accounts/{HOLDER}/deposits", params={"year": 2023})
        assert answer.status_code == 404
        assert answer.headers["content-type"].startswith("application/json")
        assert answer.json() == {"code": "E404", "message": "未找到相关记录"}
        # The account itself is still there, and the document still promises the deposits.
        account = await client.get(f"/gjj/accounts/{HOLDER}")
        assert account.status_code == 200
        assert isinstance(account.json()["balance"], float)
        document = (await client.get("/openapi.yaml")).text
        assert document == openapi_document("430100")
        assert "/gjj/accounts/{id_number}/deposits:" in document
    assert app.state.received[("GET", "/gjj/accounts/{id_number}/deposits")] == 1


async def test_drifts_combine() -> None:
    async with await _client(_app("fund-balance-as-string", "no-deposits-operation")) as client:
        assert isinstance((await client.get(f"/gjj/accounts/{HOLDER}")).json()["balance"], str)
        assert (await client.get(f"/gjj/accounts/{HOLDER}/deposits")).status_code == 404


def test_no_drift_keeps_the_plain_endpoints() -> None:
    from app.simulators.city.api import SERVICE_ROUTES

    app = _app()
    endpoints = {getattr(r, "path", None): getattr(r, "endpoint", None) for r in app.routes}
    for path, endpoint, _ in SERVICE_ROUTES:
        assert endpoints[path] is endpoint
