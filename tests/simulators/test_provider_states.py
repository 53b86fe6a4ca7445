"""``/_sim/provider-state`` and ``/_sim/reset``: arranging a city's data for an interaction."""

from __future__ import annotations

from datetime import date
from typing import Any

import httpx
import pytest

from app.core.identifiers import make_resident_id
from app.simulators import PROVIDER_STATES
from app.simulators.city import city_data

NEWCOMER = make_resident_id("430104", date(1990, 3, 3), 135)  # valid; not seeded in 长沙


async def _state(client: httpx.AsyncClient, state: str, **params: Any) -> dict[str, Any]:
    response = await client.post("/_sim/provider-state", json={"state": state, "params": params})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert body["state"] == state
    resolved: dict[str, Any] = body["params"]
    return resolved


async def test_a_resident_with_a_fund_account(city_client: httpx.AsyncClient) -> None:
    assert NEWCOMER not in city_data("430100").residents
    assert (await city_client.get(f"/gjj/accounts/{NEWCOMER}")).status_code == 404
    params = await _state(
        city_client, "a resident with a provident fund account", id_number=NEWCOMER, name="王五"
    )
    assert params["id_number"] == NEWCOMER
    account = await city_client.get(f"/gjj/accounts/{NEWCOMER}")
    assert account.status_code == 200
    assert account.json()["name"] == "王五"
    assert account.json()["account_no"] == params["account_no"]
    deposits = await city_client.get(f"/gjj/accounts/{NEWCOMER}/deposits", params={"year": 2023})
    assert len(deposits.json()["deposits"]) == 11

    picked = await _state(city_client, "a resident with a provident fund account")
    assert picked["id_number"] in city_data("430100").fund_accounts


async def test_estate_states(city_client: httpx.AsyncClient) -> None:
    params = await _state(city_client, "a resident with real-estate records", id_number=NEWCOMER)
    listed = await city_client.get("/bdc/records", params={"id_number": NEWCOMER})
    assert [r["record_id"] for r in listed.json()["records"]] == params["record_ids"]

    wanted = "BDC430100-2022-7654321"
    record = await _state(city_client, "a real-estate record exists", record_id=wanted)
    assert record["record_id"] == wanted
    fetched = (await city_client.get(f"/bdc/records/{wanted}")).json()
    assert fetched["cert_no"] == "湘(2022)长沙市不动产权第7654321号"
    assert fetched["owner_id_number"] == record["id_number"]


async def test_contribution_and_absence_states(city_client: httpx.AsyncClient) -> None:
    params = await _state(
        city_client, "a resident with social-insurance contributions", id_number=NEWCOMER
    )
    assert params["insured_since"] == "2015-01"
    found = await city_client.get("/shebao/contributions", params={"id_number": NEWCOMER})
    assert found.status_code == 200

    await _state(city_client, "no resident with this ID number", id_number=NEWCOMER)
    for url in (f"/gjj/accounts/{NEWCOMER}", f"/bdc/records?id_number={NEWCOMER}"):
        assert (await city_client.get(url)).status_code == 404
    assert (
        await city_client.get("/shebao/contributions", params={"id_number": NEWCOMER})
    ).status_code == 404
    picked = await _state(city_client, "no resident with this ID number")
    assert picked["id_number"] not in city_data("430100").residents


async def test_application_and_registration_states(city_client: httpx.AsyncClient) -> None:
    params = await _state(
        city_client,
        "a residence permit application exists",
        application_id="JZZ430100-123456",
        status="已办结",
    )
    application = await city_client.get("/jzz/applications/JZZ430100-123456")
    assert application.status_code == 200
    assert application.json()["status"] == "已办结"
    assert application.json()["id_number"] == params["id_number"]

    registration = await _state(city_client, "a birth registration exists")
    fetched = await city_client.get(f"/birth/registrations/{registration['registration_id']}")
    assert fetched.status_code == 200
    assert fetched.json()["mother_id_number"] == registration["mother_id_number"]


async def test_reset_restores_the_seed(city_client: httpx.AsyncClient) -> None:
    await _state(city_client, "a resident exists", id_number=NEWCOMER)
    await _state(
        city_client, "a residence permit application exists", application_id="JZZ430100-000007"
    )
    residents = (await city_client.get("/_sim/residents")).json()
    assert len(residents) == 201
    assert (await city_client.post("/_sim/reset")).status_code == 204
    assert len((await city_client.get("/_sim/residents")).json()) == 200
    assert (await city_client.get("/jzz/applications/JZZ430100-000007")).status_code == 404


async def test_unknown_state_lists_the_known_ones(city_client: httpx.AsyncClient) -> None:
    response = await city_client.post("/_sim/provider-state", json={"state": "a unicorn exists"})
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "E400"
    assert body["known_states"] == list(PROVIDER_STATES)
    assert "a resident with a provident fund account" in body["known_states"]
    assert "a residence permit application exists" in body["known_states"]


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        b'{"params": {}}',
        b'{"state": "a resident exists", "params": []}',
        b'{"state": "a resident exists", "params": {"id_number": "430102199001011234"}}',
        b'{"state": "a real-estate record exists", "params": {"record_id": "nope"}}',
        b'{"state": "a residence permit application exists", "params": {"status": "x"}}',
    ],
)
async def test_bad_provider_state_requests(city_client: httpx.AsyncClient, body: bytes) -> None:
    response = await city_client.post(
        "/_sim/provider-state", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["code"] == "E400"
