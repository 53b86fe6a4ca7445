"""Deny by default: grants (whole services, single operations, revoked), disabling clients and
persons, roles (platform admin, division admin) and per-client rate limits."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
import respx
from fastapi import FastAPI

from app.gateway.ratelimit import LocalLimiter
from app.gateway.routetable import TransportFactory
from tests.contract_stubs import transport_for
from tests.identity.api_support import (
    CHANGSHA_DOCUMENT,
    ESTATE_OPERATION,
    FUND_ACCOUNT,
    FUND_OPERATION,
    UPSTREAM,
    Json,
    bearer,
    client_token,
    create_client,
    grant,
    identity,
    invalid_token,
    is_problem,
    login,
    oauth_problem,
    onboard_changsha,
    register,
)

GW = "/gw/430100/zwfw"
ESTATE_RECORDS = "/bdc/records?id_number=430103198007208746"


@pytest.fixture
def upstream(contract_stub: Callable[..., respx.MockRouter]) -> respx.MockRouter:
    return contract_stub("municipal/changsha")


@pytest.fixture
def transport_factory(upstream: respx.MockRouter) -> TransportFactory:
    return lambda base_url, max_connections: transport_for(upstream)


@pytest.fixture
async def service(client: httpx.AsyncClient, admin_headers: dict[str, str]) -> Json:
    return await onboard_changsha(client, admin_headers)


@pytest.fixture
async def integrator(client: httpx.AsyncClient, admin_headers: dict[str, str]) -> Json:
    return await create_client(client, admin_headers, name="某集成商", kind="integrator")


# --- grants ------------------------------------------------------------------------------------


@pytest.mark.usefixtures("service")
async def test_a_client_without_a_grant_is_refused_naming_it(
    client: httpx.AsyncClient, upstream: respx.MockRouter, integrator: Json
) -> None:
    token = await client_token(client, integrator)
    response = await client.get(GW + FUND_ACCOUNT, headers=bearer(token))
    body = is_problem(response, 403)
    assert body["missing_grant"] == {
        "client_id": integrator["client_id"],
        "division": "430100",
        "slug": "zwfw",
        "operation": FUND_OPERATION,
    }
    assert not upstream.calls


@pytest.mark.usefixtures("service")
async def test_a_grant_of_one_operation_admits_that_one_only(
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    integrator: Json,
) -> None:
    granted = await grant(
        client, admin_headers, integrator["client_id"], operations=[FUND_OPERATION]
    )
    assert granted["operations"] == [FUND_OPERATION]
    token = bearer(await client_token(client, integrator))
    assert (await client.get(GW + FUND_ACCOUNT, headers=token)).status_code == 200
    other = await client.get(GW + ESTATE_RECORDS, headers=token)
    assert is_problem(other, 403)["missing_grant"]["operation"] == ESTATE_OPERATION


@pytest.mark.usefixtures("service")
async def test_a_revoked_grant_refuses_again(
    client: httpx.AsyncClient, admin_headers: dict[str, str], integrator: Json
) -> None:
    granted = await grant(client, admin_headers, integrator["client_id"])
    token = bearer(await client_token(client, integrator))
    assert (await client.get(GW + FUND_ACCOUNT, headers=token)).status_code == 200
    assert (await client.get(GW + ESTATE_RECORDS, headers=token)).status_code == 200
    shown = await client.get(f"/admin/clients/{integrator['client_id']}", headers=admin_headers)
    assert [g["id"] for g in shown.json()["grants"]] == [granted["id"]]
    revoked = await client.delete(
        f"/admin/clients/{integrator['client_id']}/grants/{granted['id']}", headers=admin_headers
    )
    assert revoked.status_code == 204
    # The same token, not a new one: grants are checked on every call.
    is_problem(await client.get(GW + FUND_ACCOUNT, headers=token), 403)
    again = await client.delete(
        f"/admin/clients/{integrator['client_id']}/grants/{granted['id']}", headers=admin_headers
    )
    is_problem(again, 404)


async def test_a_second_grant_of_a_service_conflicts(
    client: httpx.AsyncClient, admin_headers: dict[str, str], integrator: Json
) -> None:
    await grant(client, admin_headers, integrator["client_id"])
    response = await client.post(
        f"/admin/clients/{integrator['client_id']}/grants",
        json={"division": "430100", "slug": "zwfw"},
        headers=admin_headers,
    )
    is_problem(response, 409)


@pytest.mark.usefixtures("service")
async def test_a_grant_in_another_division_does_not_leak(
    client: httpx.AsyncClient, admin_headers: dict[str, str], integrator: Json
) -> None:
    await grant(client, admin_headers, integrator["client_id"], division="430200")
    token = bearer(await client_token(client, integrator))
    is_problem(await client.get(GW + FUND_ACCOUNT, headers=token), 403)


# --- disabling ---------------------------------------------------------------------------------


@pytest.mark.usefixtures("service")
async def test_disabling_a_client_stops_its_existing_tokens(
    client: httpx.AsyncClient, admin_headers: dict[str, str], integrator: Json
) -> None:
    await grant(client, admin_headers, integrator["client_id"])
    token = bearer(await client_token(client, integrator))
    assert (await client.get(GW + FUND_ACCOUNT, headers=token)).status_code == 200
    patched = await client.patch(
        f"/admin/clients/{integrator['client_id']}",
        json={"status": "disabled"},
        headers=admin_headers,
    )
    assert patched.status_code == 200
    assert patched.json()["status"] == "disabled"
    invalid_token(await client.get(GW + FUND_ACCOUNT, headers=token))
    enabled = await client.patch(
        f"/admin/clients/{integrator['client_id']}",
        json={"status": "active"},
        headers=admin_headers,
    )
    assert enabled.status_code == 200
    assert (await client.get(GW + FUND_ACCOUNT, headers=token)).status_code == 200


@pytest.mark.usefixtures("service")
async def test_disabling_a_person_stops_their_tokens(
    client: httpx.AsyncClient, app: FastAPI, admin_headers: dict[str, str]
) -> None:
    app_client = await create_client(client, admin_headers)
    await grant(client, admin_headers, app_client["client_id"])
    person = await register(client)
    issued = await login(client, app_client, person["raw"]["phone"])
    token = bearer(issued["access_token"])
    assert (await client.get("/identity/me", headers=token)).status_code == 200
    assert (await client.get(GW + FUND_ACCOUNT, headers=token)).status_code == 200
    disabled = await client.patch(
        f"/admin/persons/{person['id']}", json={"status": "disabled"}, headers=admin_headers
    )
    assert disabled.status_code == 200, disabled.text
    assert disabled.json() == {"id": person["id"], "status": "disabled"}
    await identity(app).refresh()
    invalid_token(await client.get("/identity/me", headers=token))
    invalid_token(await client.get(GW + FUND_ACCOUNT, headers=token))
    # Neither a new login nor the refresh token gets a new one.
    relogin = await client.post(
        "/identity/token",
        data={
            "grant_type": "password",
            "username": person["raw"]["phone"],
            "password": person["raw"]["password"],
        },
        auth=(app_client["client_id"], app_client["client_secret"]),
    )
    oauth_problem(relogin, 400, "invalid_grant")
    refreshed = await client.post(
        "/identity/token",
        data={"grant_type": "refresh_token", "refresh_token": issued["refresh_token"]},
        auth=(app_client["client_id"], app_client["client_secret"]),
    )
    oauth_problem(refreshed, 400, "invalid_grant")
    # Enabled again: the old token works again.
    enabled = await client.patch(
        f"/admin/persons/{person['id']}", json={"status": "active"}, headers=admin_headers
    )
    assert enabled.status_code == 200
    await identity(app).refresh()
    assert (await client.get("/identity/me", headers=token)).status_code == 200


async def test_disabling_an_unknown_person_is_404(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    response = await client.patch(
        "/admin/persons/999999", json={"status": "disabled"}, headers=admin_headers
    )
    is_problem(response, 404)


# --- roles -------------------------------------------------------------------------------------


def changsha_body(division: str, slug: str = "zwfw") -> Json:
    return {
        "division": division,
        "slug": slug,
        "name": "政务服务",
        "upstream_url": UPSTREAM,
        "document": CHANGSHA_DOCUMENT,
    }


@pytest.fixture
async def division_admin(client: httpx.AsyncClient, admin_headers: dict[str, str]) -> Json:
    created = await create_client(
        client,
        admin_headers,
        name="长沙市数据局",
        kind="integrator",
        roles=["division_admin"],
        division="430100",
    )
    return {**created, "headers": bearer(await client_token(client, created))}


async def test_a_division_admin_onboards_its_own_division_only(
    client: httpx.AsyncClient, admin_headers: dict[str, str], division_admin: Json
) -> None:
    own = await client.post(
        "/admin/services", json=changsha_body("430100"), headers=division_admin["headers"]
    )
    assert own.status_code == 201, own.text
    county = await client.post(
        "/admin/services",
        json=changsha_body("430121", "county"),  # 长沙县, under 长沙
        headers=division_admin["headers"],
    )
    assert county.status_code == 201, county.text
    other = await client.post(
        "/admin/services", json=changsha_body("430200"), headers=division_admin["headers"]
    )
    body = is_problem(other, 403)
    assert body["own_division"] == "430100"
    # 株洲's service, onboarded by the platform admin, is out of its reach.
    zhuzhou = await client.post(
        "/admin/services", json=changsha_body("430200"), headers=admin_headers
    )
    assert zhuzhou.status_code == 201, zhuzhou.text
    for method in ("GET", "PUT", "DELETE"):
        response = await client.request(
            method,
            f"/admin/services/{zhuzhou.json()['id']}",
            json=changsha_body("430200") if method == "PUT" else None,
            headers=division_admin["headers"],
        )
        is_problem(response, 403)
    listed = await client.get("/admin/services", headers=division_admin["headers"])
    assert listed.status_code == 200
    assert {s["division"] for s in listed.json()} == {"430100", "430121"}
    everything = await client.get("/admin/services", headers=admin_headers)
    assert "430200" in {s["division"] for s in everything.json()}


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/admin/clients"),
        ("POST", "/admin/clients"),
        ("PATCH", "/admin/persons/1"),
    ],
)
async def test_platform_only_endpoints_refuse_a_division_admin(
    client: httpx.AsyncClient, division_admin: Json, method: str, path: str
) -> None:
    body = {"status": "disabled"} if method == "PATCH" else {"name": "x", "kind": "app"}
    response = await client.request(
        method, path, json=body if method != "GET" else None, headers=division_admin["headers"]
    )
    is_problem(response, 403)


async def test_clients_without_admin_roles_and_residents_are_refused_by_admin_endpoints(
    client: httpx.AsyncClient, admin_headers: dict[str, str], integrator: Json
) -> None:
    token = bearer(await client_token(client, integrator))
    is_problem(await client.get("/admin/services", headers=token), 403)
    is_problem(await client.get("/admin/clients", headers=token), 403)
    app_client = await create_client(client, admin_headers)
    person = await register(client)
    issued = await login(client, app_client, person["raw"]["phone"])
    is_problem(await client.get("/admin/clients", headers=bearer(issued["access_token"])), 403)
    is_problem(await client.get("/admin/clients"), 401)


async def test_roles_taken_from_a_client_stop_at_once(
    client: httpx.AsyncClient, admin_headers: dict[str, str], division_admin: Json
) -> None:
    assert (
        await client.get("/admin/services", headers=division_admin["headers"])
    ).status_code == 200
    patched = await client.patch(
        f"/admin/clients/{division_admin['client_id']}", json={"roles": []}, headers=admin_headers
    )
    assert patched.status_code == 200
    is_problem(await client.get("/admin/services", headers=division_admin["headers"]), 403)


@pytest.mark.parametrize(
    ("body", "pointer"),
    [
        ({"roles": ["superuser"]}, "/body/roles/0"),
        ({"roles": ["division_admin"]}, "/body/division"),
        ({"roles": ["division_admin"], "division": "999999"}, "/body/division"),
    ],
)
async def test_client_roles_are_checked(
    client: httpx.AsyncClient, admin_headers: dict[str, str], body: Json, pointer: str
) -> None:
    response = await client.post(
        "/admin/clients", json={"name": "x", "kind": "integrator", **body}, headers=admin_headers
    )
    assert pointer in [e["pointer"] for e in is_problem(response, 422)["errors"]]


async def test_the_secret_is_shown_once_and_stored_hashed(
    client: httpx.AsyncClient, admin_headers: dict[str, str], integrator: Json
) -> None:
    shown = await client.get(f"/admin/clients/{integrator['client_id']}", headers=admin_headers)
    assert "client_secret" not in shown.json()
    listed = await client.get("/admin/clients", headers=admin_headers)
    assert integrator["client_secret"] not in listed.text
    rotated = await client.post(
        f"/admin/clients/{integrator['client_id']}/secret", headers=admin_headers
    )
    assert rotated.status_code == 200
    old = await client.post(
        "/identity/token",
        data={"grant_type": "client_credentials"},
        auth=(integrator["client_id"], integrator["client_secret"]),
    )
    oauth_problem(old, 401, "invalid_client")
    new = await client.post(
        "/identity/token",
        data={"grant_type": "client_credentials"},
        auth=(integrator["client_id"], rotated.json()["client_secret"]),
    )
    assert new.status_code == 200


# --- rate limits -------------------------------------------------------------------------------


@pytest.fixture
def frozen_limiter(app: FastAPI) -> None:
    """The limiter's clock stands still: only the test's calls count, never the time between."""
    app.state.guard.limiter = LocalLimiter(clock=lambda: 1000.0)


@pytest.mark.usefixtures("service", "frozen_limiter")
async def test_over_the_limit_is_429_with_ratelimit_headers(
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    upstream: respx.MockRouter,
) -> None:
    limited = await create_client(client, admin_headers, kind="integrator", rate_per_s=1, burst=2)
    assert (limited["rate_per_s"], limited["burst"]) == (1.0, 2)
    await grant(client, admin_headers, limited["client_id"])
    token = bearer(await client_token(client, limited))
    for remaining in (1, 0):
        ok = await client.get(GW + FUND_ACCOUNT, headers=token)
        assert ok.status_code == 200
        assert "ratelimit-policy" in ok.headers
        assert f"r={remaining}" in ok.headers["ratelimit"]
    calls = len(upstream.calls)
    refused = await client.get(GW + FUND_ACCOUNT, headers=token)
    body = is_problem(refused, 429)
    assert limited["client_id"] in body["detail"]
    assert int(refused.headers["retry-after"]) >= 1
    assert "r=0" in refused.headers["ratelimit"]
    assert "q=" in refused.headers["ratelimit-policy"]
    assert len(upstream.calls) == calls
    # Another client has its own budget.
    other = await create_client(client, admin_headers, kind="integrator", rate_per_s=1, burst=2)
    await grant(client, admin_headers, other["client_id"])
    other_token = bearer(await client_token(client, other))
    assert (await client.get(GW + FUND_ACCOUNT, headers=other_token)).status_code == 200


@pytest.mark.usefixtures("service", "frozen_limiter")
async def test_a_changed_limit_applies_to_the_running_gateway(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    limited = await create_client(client, admin_headers, kind="integrator", rate_per_s=1, burst=1)
    await grant(client, admin_headers, limited["client_id"])
    token = bearer(await client_token(client, limited))
    assert (await client.get(GW + FUND_ACCOUNT, headers=token)).status_code == 200
    is_problem(await client.get(GW + FUND_ACCOUNT, headers=token), 429)
    patched = await client.patch(
        f"/admin/clients/{limited['client_id']}", json={"burst": 10}, headers=admin_headers
    )
    assert patched.json()["burst"] == 10
    assert (await client.get(GW + FUND_ACCOUNT, headers=token)).status_code == 200


async def test_listing_clients_pages_by_id(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    created = sorted(
        [(await create_client(client, admin_headers, name=f"c{i}"))["client_id"] for i in range(3)]
    )
    first = await client.get("/admin/clients", params={"limit": 1}, headers=admin_headers)
    after = first.json()[-1]["client_id"]
    rest = await client.get("/admin/clients", params={"after": after}, headers=admin_headers)
    assert set(created) <= {after, *(c["client_id"] for c in rest.json())}
    assert all(c["client_id"] > after for c in rest.json())


@pytest.mark.parametrize("after", ["\x00", "cli_\x00x", "a" * 41, "x y"])
async def test_a_client_cursor_that_is_no_client_id_is_422(
    client: httpx.AsyncClient, admin_headers: dict[str, str], after: str
) -> None:
    response = await client.get("/admin/clients", params={"after": after}, headers=admin_headers)
    assert [e["pointer"] for e in is_problem(response, 422)["errors"]] == ["/query/after"]
