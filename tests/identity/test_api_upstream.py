"""What an upstream learns about the caller: the signed assertion (pairwise subject, the ID
number only where the data classification permits), never the caller's credentials or identity
headers; minimum assurance with step-up; the gateway's own upstream credentials."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
import respx
from fastapi import FastAPI

from app.gateway.routetable import TransportFactory
from app.identity.tokens import InvalidToken, verify_assertion
from tests.contract_stubs import transport_for
from tests.identity.api_support import (
    FUND_ACCOUNT,
    Json,
    Partner,
    bearer,
    client_token,
    create_client,
    exchange,
    grant,
    identity,
    is_problem,
    login,
    onboard_changsha,
    register,
)

ROUTE = "fund-account-found"


@pytest.fixture
def upstream(contract_stub: Callable[..., respx.MockRouter]) -> respx.MockRouter:
    return contract_stub("municipal/changsha")


@pytest.fixture
def transport_factory(upstream: respx.MockRouter) -> TransportFactory:
    return lambda base_url, max_connections: transport_for(upstream)


@pytest.fixture
async def app_client(client: httpx.AsyncClient, admin_headers: dict[str, str]) -> Json:
    return await create_client(client, admin_headers)


@pytest.fixture
async def person(client: httpx.AsyncClient) -> Json:
    return await register(client)


async def person_headers(client: httpx.AsyncClient, app_client: Json, person: Json) -> Json:
    issued = await login(client, app_client, person["raw"]["phone"])
    return bearer(issued["access_token"])


def sent(upstream: respx.MockRouter) -> httpx.Request:
    request: httpx.Request = upstream.routes[ROUTE].calls.last.request
    return request


def assertion_of(app: FastAPI, request: httpx.Request, audience: str) -> dict[str, Any]:
    values = request.headers.get_list("x-xyb-assertion")
    assert len(values) == 1, values
    manager = identity(app)
    return verify_assertion(
        values[0],
        manager.state.keyring.get,
        issuer=manager.settings.resolved_issuer,
        audience=audience,
    )


async def call(
    client: httpx.AsyncClient, slug: str, headers: dict[str, str], **extra: str
) -> httpx.Response:
    response = await client.get(f"/gw/430100/{slug}{FUND_ACCOUNT}", headers={**headers, **extra})
    return response


# --- the assertion -----------------------------------------------------------------------------


async def test_the_upstream_gets_a_verifiable_assertion_and_no_caller_credentials(
    client: httpx.AsyncClient,
    app: FastAPI,
    admin_headers: dict[str, str],
    upstream: respx.MockRouter,
    app_client: Json,
    person: Json,
) -> None:
    await onboard_changsha(client, admin_headers)
    await grant(client, admin_headers, app_client["client_id"])
    headers = await person_headers(client, app_client, person)
    response = await call(
        client,
        "zwfw",
        headers,
        **{
            "X-XYB-Assertion": "forged.by.caller",
            "X-XYB-Client": "cli_spoofed",
            "X-XYB-Division": "110000",
            "X-Forwarded-For": "10.9.9.9",
            "Cookie": "session=abc",
        },
    )
    assert response.status_code == 200, response.text
    request = sent(upstream)
    claims = assertion_of(app, request, "430100/zwfw")
    assert claims["client_id"] == app_client["client_id"]
    assert claims["aud"] == "430100/zwfw"
    assert claims["iss"] == "xyb-gateway"
    assert claims["exp"] - claims["iat"] <= 300  # short-lived
    # A pairwise pseudonym: neither the account id nor anything personal.
    assert claims["sub"] != f"p:{person['id']}"
    assert str(person["id"]) != claims["sub"]
    assert "authorization" not in request.headers
    assert "cookie" not in request.headers
    assert "x-forwarded-for" not in request.headers
    assert request.headers.get_list("x-xyb-client") == [app_client["client_id"]]
    assert request.headers.get_list("x-xyb-division") == ["430100"]
    assert headers["Authorization"].split()[1] not in str(request.headers)
    # The assertion is for this service only.
    with pytest.raises(InvalidToken):
        verify_assertion(
            request.headers["x-xyb-assertion"],
            identity(app).state.keyring.get,
            issuer="xyb-gateway",
            audience="430200/zwfw",
        )


async def test_subjects_are_pairwise_per_service(
    client: httpx.AsyncClient,
    app: FastAPI,
    admin_headers: dict[str, str],
    upstream: respx.MockRouter,
    app_client: Json,
    person: Json,
) -> None:
    for slug in ("zwfw", "gjj"):
        await onboard_changsha(client, admin_headers, slug=slug)
        await grant(client, admin_headers, app_client["client_id"], slug=slug)
    headers = await person_headers(client, app_client, person)
    subjects: dict[str, list[str]] = {}
    for slug in ("zwfw", "gjj", "zwfw", "gjj"):
        assert (await call(client, slug, headers)).status_code == 200
        claims = assertion_of(app, sent(upstream), f"430100/{slug}")
        subjects.setdefault(slug, []).append(claims["sub"])
    assert subjects["zwfw"][0] == subjects["zwfw"][1]  # stable
    assert subjects["gjj"][0] == subjects["gjj"][1]
    assert subjects["zwfw"][0] != subjects["gjj"][0]  # not linkable across services
    # Stable across logins, and another resident is someone else.
    again = await person_headers(client, app_client, person)
    assert (await call(client, "zwfw", again)).status_code == 200
    assert assertion_of(app, sent(upstream), "430100/zwfw")["sub"] == subjects["zwfw"][0]
    other = await register(client)
    other_headers = await person_headers(client, app_client, other)
    assert (await call(client, "zwfw", other_headers)).status_code == 200
    assert assertion_of(app, sent(upstream), "430100/zwfw")["sub"] != subjects["zwfw"][0]


async def test_an_assertion_is_reused_while_it_has_time_left(
    client: httpx.AsyncClient,
    app: FastAPI,
    admin_headers: dict[str, str],
    upstream: respx.MockRouter,
    app_client: Json,
    person: Json,
) -> None:
    """Signing costs tens of microseconds per call: the same caller and service share one."""
    await onboard_changsha(client, admin_headers)
    await grant(client, admin_headers, app_client["client_id"])
    headers = await person_headers(client, app_client, person)
    seen = []
    for _ in range(3):
        assert (await call(client, "zwfw", headers)).status_code == 200
        seen.append(sent(upstream).headers["x-xyb-assertion"])
    assert len(set(seen)) == 1
    claims = assertion_of(app, sent(upstream), "430100/zwfw")
    assert claims["exp"] - claims["iat"] == 60
    other = await register(client)
    assert (
        await call(client, "zwfw", await person_headers(client, app_client, other))
    ).status_code == 200
    assert sent(upstream).headers["x-xyb-assertion"] != seen[0]  # never another person's


@pytest.mark.parametrize(
    ("classification", "sees_id_number"),
    [("public", False), ("internal", False), ("personal", True), ("sensitive", True)],
)
async def test_the_id_number_goes_only_where_the_classification_permits(
    client: httpx.AsyncClient,
    app: FastAPI,
    admin_headers: dict[str, str],
    upstream: respx.MockRouter,
    app_client: Json,
    person: Json,
    classification: str,
    sees_id_number: bool,
) -> None:
    await onboard_changsha(client, admin_headers, data_classification=classification)
    await grant(client, admin_headers, app_client["client_id"])
    assert (await call(client, "zwfw", await person_headers(client, app_client, person))).is_success
    claims = assertion_of(app, sent(upstream), "430100/zwfw")
    if sees_id_number:
        assert claims["id_number"] == person["raw"]["id_number"]
    else:
        assert "id_number" not in claims
        assert person["raw"]["id_number"] not in str(sent(upstream).headers)
    # An application calling on its own has no ID number to pass on.
    assert (await call(client, "zwfw", bearer(await client_token(client, app_client)))).is_success
    app_claims = assertion_of(app, sent(upstream), "430100/zwfw")
    assert "id_number" not in app_claims
    assert app_claims["sub"] != claims["sub"]


# --- assurance ---------------------------------------------------------------------------------


@pytest.fixture
def partner() -> Partner:
    return Partner()


@pytest.fixture
async def partner_client(
    client: httpx.AsyncClient, admin_headers: dict[str, str], partner: Partner
) -> Json:
    created = await create_client(
        client, admin_headers, name="粤省事", kind="partner", partner=partner.body()
    )
    await grant(client, admin_headers, created["client_id"])
    return created


async def test_min_assurance_refuses_a_weaker_sign_in_with_a_step_up_hint(
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    upstream: respx.MockRouter,
    app_client: Json,
    person: Json,
    partner: Partner,
    partner_client: Json,
) -> None:
    service = await onboard_changsha(client, admin_headers, min_assurance=2)
    assert service["min_assurance"] == 2
    await grant(client, admin_headers, app_client["client_id"])
    refused = await call(client, "zwfw", await person_headers(client, app_client, person))
    body = is_problem(refused, 403)
    assert body["step_up"] is True
    assert body["required_assurance"] == 2
    assert body["assurance"] == 1
    # An application alone is no resident at all.
    alone = await call(client, "zwfw", bearer(await client_token(client, app_client)))
    assert is_problem(alone, 403)["step_up"] is True
    assert not upstream.calls
    # A resident arriving through a partner app (identity verified there) passes ...
    newcomer = await exchange(client, partner_client, partner.id_token("440524188001010014"))
    assert newcomer.status_code == 200, newcomer.text
    passed = await call(client, "zwfw", bearer(newcomer.json()["access_token"]))
    assert passed.status_code == 200, passed.text
    # ... but a partner's sign-in makes no token stronger than the account it is for: the
    # resident registered here with a password stays at assurance 1.
    capped = await exchange(client, partner_client, partner.id_token(person["raw"]["id_number"]))
    assert capped.status_code == 200, capped.text
    refused = await call(client, "zwfw", bearer(capped.json()["access_token"]))
    assert is_problem(refused, 403)["assurance"] == 1
    assert len(upstream.calls) == 1


# --- the gateway's own upstream credentials ----------------------------------------------------


async def test_upstream_credentials_reach_the_upstream_and_are_never_shown(
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    upstream: respx.MockRouter,
    app_client: Json,
) -> None:
    secret = "upstream-secret-3f9a1c"
    service = await onboard_changsha(
        client, admin_headers, upstream_auth={"header": "X-Api-Key", "value": secret}
    )
    assert service["upstream_auth_header"] == "X-Api-Key"
    assert secret not in str(service)
    await grant(client, admin_headers, app_client["client_id"])
    token = bearer(await client_token(client, app_client))
    assert (await call(client, "zwfw", token)).status_code == 200
    assert sent(upstream).headers.get_list("x-api-key") == [secret]
    shown = await client.get(f"/admin/services/{service['id']}", headers=admin_headers)
    assert shown.json()["upstream_auth_header"] == "X-Api-Key"
    listed = await client.get("/admin/services", headers=admin_headers)
    document = await client.get(f"/admin/services/{service['id']}/openapi", headers=admin_headers)
    for answer in (shown, listed, document):
        assert secret not in answer.text


async def test_a_caller_cannot_send_its_own_value_of_the_credential_header(
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    upstream: respx.MockRouter,
    app_client: Json,
) -> None:
    secret = "upstream-secret-3f9a1c"
    await onboard_changsha(
        client, admin_headers, upstream_auth={"header": "X-Api-Key", "value": secret}
    )
    await grant(client, admin_headers, app_client["client_id"])
    token = bearer(await client_token(client, app_client))
    assert (await call(client, "zwfw", token, **{"X-Api-Key": "caller-value"})).status_code == 200
    assert sent(upstream).headers.get_list("x-api-key") == [secret]


async def test_upstream_authorization_replaces_the_callers(
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    upstream: respx.MockRouter,
    app_client: Json,
) -> None:
    await onboard_changsha(
        client, admin_headers, upstream_auth={"header": "Authorization", "value": "Basic Z3c6cHc="}
    )
    await grant(client, admin_headers, app_client["client_id"])
    assert (
        await call(client, "zwfw", bearer(await client_token(client, app_client)))
    ).status_code == 200
    assert sent(upstream).headers.get_list("authorization") == ["Basic Z3c6cHc="]
