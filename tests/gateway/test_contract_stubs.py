"""The gateway in front of a city system stubbed from its contract (contracts/municipal/)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
import respx

from app.contracts.matchers import example_of
from app.gateway.routetable import TransportFactory
from tests.conftest import GrantAccess
from tests.contract_stubs import CONTRACTS, load, stub_router, transport_for

UPSTREAM = "http://127.0.0.1:9001"
GW = "/gw/430100/zwfw"
CHANGSHA = load("municipal/changsha")


@pytest.fixture(autouse=True)
async def _authorized(client: httpx.AsyncClient, grant_access: GrantAccess) -> None:
    """Calls through /gw carry a token of a client granted the services these tests use."""
    client.headers.update(await grant_access(("430100", "zwfw")))


@pytest.fixture
def upstream(contract_stub: Callable[..., respx.MockRouter]) -> respx.MockRouter:
    return contract_stub("municipal/changsha")


@pytest.fixture
def transport_factory(upstream: respx.MockRouter) -> TransportFactory:
    return lambda base_url, max_connections: transport_for(upstream)


@pytest.fixture
async def onboarded(client: httpx.AsyncClient, admin_headers: dict[str, str]) -> None:
    document = (CONTRACTS / "municipal" / "changsha.openapi.yaml").read_text(encoding="utf-8")
    response = await client.post(
        "/admin/services",
        json={
            "division": "430100",
            "slug": "zwfw",
            "name": "长沙市政务服务",
            "upstream_url": UPSTREAM,
            "document": document,
        },
        headers=admin_headers,
    )
    assert response.status_code == 201, response.text


def expected_body(interaction_id: str) -> Any:
    return example_of(CHANGSHA.interaction(interaction_id).response.body)


@pytest.mark.usefixtures("onboarded")
@pytest.mark.parametrize(
    "interaction_id",
    [
        "fund-account-found",
        "fund-account-not-found",
        "fund-deposits-of-a-year",
        "estate-records-by-id-number",
        "estate-record-by-id",
        "contributions-for-a-month-range",
        "residence-permit-application-found",
        "birth-registration-found",
    ],
)
async def test_contracted_answers_pass_through_the_gateway(
    client: httpx.AsyncClient, upstream: respx.MockRouter, interaction_id: str
) -> None:
    interaction = CHANGSHA.interaction(interaction_id)
    request = interaction.request
    response = await client.get(GW + request.path, params=list(request.query))
    assert response.status_code == interaction.response.status
    assert response.json() == expected_body(interaction_id)
    assert response.headers["x-xyb-upstream"] == "430100/zwfw"
    assert upstream.routes[interaction_id].call_count == 1


@pytest.mark.usefixtures("onboarded")
async def test_json_and_form_bodies_reach_the_contracted_upstream(
    client: httpx.AsyncClient, upstream: respx.MockRouter
) -> None:
    permit = CHANGSHA.interaction("residence-permit-application-created").request
    created = await client.post(GW + permit.path, json=permit.body)
    assert created.status_code == 201, created.text
    sent = upstream.routes["residence-permit-application-created"].calls.last.request
    assert sent.headers["content-type"] == "application/json"
    birth = CHANGSHA.interaction("birth-registration-created").request
    registered = await client.post(GW + birth.path, data=birth.body)
    assert registered.status_code == 201, registered.text
    form = upstream.routes["birth-registration-created"].calls.last.request
    assert form.headers["content-type"] == "application/x-www-form-urlencoded"


@pytest.mark.usefixtures("onboarded")
async def test_invalid_requests_are_refused_before_the_upstream(
    client: httpx.AsyncClient, upstream: respx.MockRouter
) -> None:
    response = await client.get(GW + "/shebao/contributions", params={"from": "2023-13"})
    assert response.status_code == 422
    assert not upstream.calls


@pytest.mark.usefixtures("onboarded")
async def test_a_call_no_interaction_describes_gets_501_listing_them(
    client: httpx.AsyncClient,
) -> None:
    valid_but_uncontracted = "/gjj/accounts/110105194912310029"
    response = await client.get(GW + valid_but_uncontracted)
    assert response.status_code == 501
    assert response.headers["x-xyb-upstream"] == "430100/zwfw"
    listed = response.json()["interactions"]
    assert any(line.startswith("fund-account-found: GET /gjj/accounts/") for line in listed)


def test_deleting_an_interaction_removes_its_stub() -> None:
    from dataclasses import replace

    trimmed = replace(
        CHANGSHA,
        interactions=tuple(i for i in CHANGSHA.interactions if i.id != "fund-account-found"),
    )
    router = stub_router(trimmed)
    assert "fund-account-found" not in [route.name for route in router.routes]
