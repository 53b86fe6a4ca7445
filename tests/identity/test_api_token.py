"""POST /identity/token: every grant, refresh rotation and reuse detection, token exchange
(RFC 8693) with just-in-time accounts, the OAuth errors, and brute-force protection."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable

import httpx
import pytest
import respx
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.gateway.routetable import TransportFactory
from app.identity.accounts import account_totals
from app.identity.throttle import LoginThrottle
from app.models.identity import Person
from tests.contract_stubs import transport_for
from tests.identity.api_support import (
    FUND_ACCOUNT,
    PASSWORD,
    Json,
    Partner,
    b64json,
    bearer,
    create_client,
    exchange,
    grant,
    identity,
    invalid_token,
    is_problem,
    login,
    oauth_problem,
    onboard_changsha,
    register,
    resident_id,
    segments,
    token_request,
)


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


@pytest.fixture
def partner() -> Partner:
    return Partner()


@pytest.fixture
async def partner_client(
    client: httpx.AsyncClient, admin_headers: dict[str, str], partner: Partner
) -> Json:
    return await create_client(
        client, admin_headers, name="粤省事", kind="partner", partner=partner.body()
    )


async def persons_count(session: AsyncSession) -> int:
    """The persons counter, checked against COUNT(*)."""
    counted = int(await session.scalar(select(func.count()).select_from(Person)) or 0)
    assert (await account_totals(session))["persons"] == counted
    return counted


# --- password ----------------------------------------------------------------------------------


@pytest.mark.parametrize("username", ["id_number", "phone", "id_number_lower"])
async def test_password_grant_by_id_number_or_phone(
    client: httpx.AsyncClient, app: FastAPI, app_client: Json, username: str
) -> None:
    person = await register(client, id_number="11010519491231002X")
    name = {
        "id_number": person["raw"]["id_number"],
        "phone": person["raw"]["phone"],
        "id_number_lower": person["raw"]["id_number"].lower(),
    }[username]
    response = await token_request(
        client, app_client, grant_type="password", username=name, password=PASSWORD
    )
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    issued = response.json()
    assert issued["token_type"] == "Bearer"
    assert issued["expires_in"] == 900
    assert issued["refresh_token"]
    header, claims, _ = segments(issued["access_token"])
    assert header["alg"] == "EdDSA"
    assert header["typ"] == "at+jwt"
    assert header["kid"] in {k["kid"] for k in identity(app).state.keyring.jwks()["keys"]}
    assert claims["sub"] == f"p:{person['id']}"
    assert claims["client_id"] == app_client["client_id"]
    assert claims["acr"] == "1"
    # The token carries the ID number only sealed (not readable by its holder).
    assert person["raw"]["id_number"] not in str(claims)
    me = await client.get("/identity/me", headers=bearer(issued["access_token"]))
    assert me.json()["id"] == person["id"]


@pytest.mark.parametrize("wrong", ["password", "unknown user"])
async def test_wrong_credentials_are_invalid_grant(
    client: httpx.AsyncClient, app_client: Json, person: Json, wrong: str
) -> None:
    username = person["raw"]["phone"] if wrong == "password" else resident_id()
    response = await token_request(
        client, app_client, grant_type="password", username=username, password="not the one!"
    )
    body = oauth_problem(response, 400, "invalid_grant")
    # The same answer either way: no account enumeration.
    assert body["error_description"] == "Wrong ID number, phone or password."


async def test_only_the_apps_own_clients_use_the_password_grant(
    client: httpx.AsyncClient, admin_headers: dict[str, str], person: Json
) -> None:
    integrator = await create_client(client, admin_headers, kind="integrator")
    response = await token_request(
        client,
        integrator,
        grant_type="password",
        username=person["raw"]["phone"],
        password=PASSWORD,
    )
    oauth_problem(response, 400, "unauthorized_client")


# --- client_credentials ------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["basic", "form"])
async def test_client_credentials_by_basic_or_form(
    client: httpx.AsyncClient, app_client: Json, how: str
) -> None:
    form = {"grant_type": "client_credentials"}
    if how == "basic":
        response = await client.post(
            "/identity/token",
            data=form,
            auth=(app_client["client_id"], app_client["client_secret"]),
        )
    else:
        response = await client.post(
            "/identity/token",
            data={
                **form,
                "client_id": app_client["client_id"],
                "client_secret": app_client["client_secret"],
            },
        )
    assert response.status_code == 200, response.text
    issued = response.json()
    assert "refresh_token" not in issued
    _, claims, _ = segments(issued["access_token"])
    assert claims["sub"] == f"c:{app_client['client_id']}"
    assert claims["acr"] == "0"


@pytest.mark.parametrize("how", ["basic", "form", "none", "unknown client"])
async def test_wrong_client_secret_is_401_with_a_basic_challenge(
    client: httpx.AsyncClient, app_client: Json, how: str
) -> None:
    form = {"grant_type": "client_credentials"}
    if how == "basic":
        response = await client.post(
            "/identity/token", data=form, auth=(app_client["client_id"], "wrong")
        )
    elif how == "form":
        form |= {"client_id": app_client["client_id"], "client_secret": "wrong"}
        response = await client.post("/identity/token", data=form)
    elif how == "none":
        response = await client.post("/identity/token", data=form)
    else:
        response = await client.post("/identity/token", data=form, auth=("cli_nobody", "x"))
    oauth_problem(response, 401, "invalid_client")
    assert response.headers["www-authenticate"].startswith("Basic")


async def test_unsupported_grant_type(client: httpx.AsyncClient, app_client: Json) -> None:
    response = await token_request(client, app_client, grant_type="authorization_code", code="x")
    oauth_problem(response, 400, "unsupported_grant_type")


async def test_the_token_endpoint_takes_forms_only(
    client: httpx.AsyncClient, app_client: Json
) -> None:
    response = await client.post(
        "/identity/token",
        json={"grant_type": "client_credentials"},
        auth=(app_client["client_id"], app_client["client_secret"]),
    )
    oauth_problem(response, 400, "invalid_request")


async def test_a_disabled_client_gets_no_token(
    client: httpx.AsyncClient, admin_headers: dict[str, str], app_client: Json
) -> None:
    patched = await client.patch(
        f"/admin/clients/{app_client['client_id']}",
        json={"status": "disabled"},
        headers=admin_headers,
    )
    assert patched.status_code == 200, patched.text
    response = await token_request(client, app_client, grant_type="client_credentials")
    oauth_problem(response, 401, "invalid_client")


# --- refresh_token -----------------------------------------------------------------------------


async def refresh(client: httpx.AsyncClient, app_client: Json, token: str) -> httpx.Response:
    return await token_request(client, app_client, grant_type="refresh_token", refresh_token=token)


async def test_refresh_rotates_and_the_old_token_is_refused(
    client: httpx.AsyncClient, app_client: Json, person: Json
) -> None:
    first = await login(client, app_client, person["raw"]["phone"])
    rotated = await refresh(client, app_client, first["refresh_token"])
    assert rotated.status_code == 200, rotated.text
    second = rotated.json()
    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]
    # The same family: one login session.
    assert segments(second["access_token"])[1]["fam"] == segments(first["access_token"])[1]["fam"]
    me = await client.get("/identity/me", headers=bearer(second["access_token"]))
    assert me.json()["id"] == person["id"]
    reused = await refresh(client, app_client, first["refresh_token"])
    oauth_problem(reused, 400, "invalid_grant")


@pytest.mark.usefixtures("upstream")
async def test_reusing_a_refresh_token_revokes_the_whole_family(
    client: httpx.AsyncClient,
    app: FastAPI,
    admin_headers: dict[str, str],
    app_client: Json,
    person: Json,
) -> None:
    await onboard_changsha(client, admin_headers)
    await grant(client, admin_headers, app_client["client_id"])
    first = await login(client, app_client, person["raw"]["phone"])
    second = (await refresh(client, app_client, first["refresh_token"])).json()
    access = bearer(second["access_token"])
    assert (await client.get("/identity/me", headers=access)).status_code == 200
    assert (await client.get("/gw/430100/zwfw" + FUND_ACCOUNT, headers=access)).status_code == 200
    # A thief replays the first refresh token: the whole session dies.
    replayed = await refresh(client, app_client, first["refresh_token"])
    oauth_problem(replayed, 400, "invalid_grant")
    await identity(app).refresh()
    for path in ("/identity/me", "/gw/430100/zwfw" + FUND_ACCOUNT):
        refused = await client.get(path, headers=access)
        assert "revoked" in invalid_token(refused)["detail"]
    # The newest refresh token of the family is dead too.
    oauth_problem(await refresh(client, app_client, second["refresh_token"]), 400, "invalid_grant")
    # Logging in again starts a new family that works.
    fresh = await login(client, app_client, person["raw"]["phone"])
    assert (
        await client.get("/identity/me", headers=bearer(fresh["access_token"]))
    ).status_code == 200


@pytest.mark.parametrize(
    "token", ["", "nodot", "0123456789abcdef0123456789abcdef.wrong-secret", "a.b.c"]
)
async def test_unknown_refresh_tokens_are_invalid_grant(
    client: httpx.AsyncClient, app_client: Json, token: str
) -> None:
    oauth_problem(await refresh(client, app_client, token), 400, "invalid_grant")


async def test_a_refresh_token_belongs_to_its_client(
    client: httpx.AsyncClient, admin_headers: dict[str, str], app_client: Json, person: Json
) -> None:
    issued = await login(client, app_client, person["raw"]["phone"])
    other = await create_client(client, admin_headers, name="another app")
    oauth_problem(await refresh(client, other, issued["refresh_token"]), 400, "invalid_grant")
    # The rightful client can still use it.
    assert (await refresh(client, app_client, issued["refresh_token"])).status_code == 200


# --- token exchange (RFC 8693) -----------------------------------------------------------------


async def test_exchange_creates_the_account_once(
    client: httpx.AsyncClient,
    session: AsyncSession,
    partner: Partner,
    partner_client: Json,
) -> None:
    number = "440524188001010014"  # a 粤 resident (test_vectors.json)
    before = await persons_count(session)
    first = await exchange(client, partner_client, partner.id_token(number))
    assert first.status_code == 200, first.text
    issued = first.json()
    assert issued["issued_token_type"] == "urn:ietf:params:oauth:token-type:access_token"
    assert issued["token_type"] == "Bearer"
    assert await persons_count(session) == before + 1
    me = (await client.get("/identity/me", headers=bearer(issued["access_token"]))).json()
    assert me["id_number"] == "4405**********0014"
    assert me["source"] == "partner:440000"
    assert me["assurance"] == 2
    assert me["name"] == "李四"
    assert me["phone"] is None
    second = await exchange(client, partner_client, partner.id_token(number))
    assert second.status_code == 200, second.text
    again = (await client.get("/identity/me", headers=bearer(second.json()["access_token"]))).json()
    assert again["id"] == me["id"]
    assert await persons_count(session) == before + 1


async def test_exchange_finds_a_registered_resident_by_id_number(
    client: httpx.AsyncClient, session: AsyncSession, partner: Partner, partner_client: Json
) -> None:
    person = await register(client)
    before = await persons_count(session)
    response = await exchange(client, partner_client, partner.id_token(person["raw"]["id_number"]))
    assert response.status_code == 200, response.text
    me = (await client.get("/identity/me", headers=bearer(response.json()["access_token"]))).json()
    assert me["id"] == person["id"]
    assert await persons_count(session) == before


def _hs256_with_public_key(partner: Partner, claims: Json) -> str:
    header = b64json({"alg": "HS256", "typ": "JWT", "kid": partner.kid})
    signing_input = f"{header}.{b64json(claims)}"
    mac = hmac.new(partner.public_pem(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"


def _tampered(partner: Partner, number: str) -> str:
    token = partner.id_token(number)
    header, _, signature = token.split(".")
    forged = partner.claims(resident_id())  # someone else's number under the same signature
    return f"{header}.{b64json(forged)}.{signature}"


def _alg_none(partner: Partner, number: str, signature: str) -> str:
    header = b64json({"alg": "none", "kid": partner.kid})
    return f"{header}.{b64json(partner.claims(number))}.{signature}"


@pytest.mark.parametrize(
    "forgery",
    [
        "expired",
        "wrong audience",
        "wrong issuer",
        "tampered",
        "alg none",
        "alg none, junk signature",
        "HS256 with the public key",
        "another key",
        "no id_number",
        "invalid id_number",
    ],
)
async def test_exchange_refusals(
    client: httpx.AsyncClient,
    session: AsyncSession,
    partner: Partner,
    partner_client: Json,
    forgery: str,
) -> None:
    number = "11010519491231002X"
    tokens: dict[str, Callable[[], str]] = {
        "expired": lambda: partner.id_token(number, iat=1_600_000_000, exp=1_600_000_300),
        "wrong audience": lambda: partner.id_token(number, aud="another-gateway"),
        "wrong issuer": lambda: partner.id_token(number, iss="https://evil.example"),
        "tampered": lambda: _tampered(partner, number),
        "alg none": lambda: _alg_none(partner, number, ""),
        "alg none, junk signature": lambda: _alg_none(partner, number, "c2lnbmF0dXJl"),
        "HS256 with the public key": lambda: _hs256_with_public_key(
            partner, partner.claims(number)
        ),
        "another key": lambda: Partner(kid=partner.kid).id_token(number),
        "no id_number": lambda: partner.id_token(number, id_number=None),
        "invalid id_number": lambda: partner.id_token(number[:17] + "0"),
    }
    before = await persons_count(session)
    response = await exchange(client, partner_client, tokens[forgery]())
    oauth_problem(response, 400, "invalid_grant")
    assert await persons_count(session) == before


async def test_exchange_by_a_client_that_is_no_partner(
    client: httpx.AsyncClient, app_client: Json, partner: Partner
) -> None:
    response = await exchange(client, app_client, partner.id_token("11010519491231002X"))
    oauth_problem(response, 400, "unauthorized_client")


async def test_partner_clients_need_their_identity_provider(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    response = await client.post(
        "/admin/clients", json={"name": "粤省事", "kind": "partner"}, headers=admin_headers
    )
    is_problem(response, 422)


@pytest.mark.parametrize(
    "jwks",
    [
        {},
        {"keys": "none"},
        {"keys": [1, 2]},
        {"keys": [{"kty": "oct", "k": "c2VjcmV0"}]},
    ],
)
async def test_a_partner_jwks_that_cannot_verify_is_refused_at_registration(
    client: httpx.AsyncClient, admin_headers: dict[str, str], partner: Partner, jwks: Json
) -> None:
    response = await client.post(
        "/admin/clients",
        json={"name": "粤省事", "kind": "partner", "partner": {**partner.body(), "jwks": jwks}},
        headers=admin_headers,
    )
    body = is_problem(response, 422)
    assert any(e["pointer"].startswith("/body/partner/jwks") for e in body["errors"]), body


# --- brute force -------------------------------------------------------------------------------


class FrozenClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(app: FastAPI) -> FrozenClock:
    """A throttle on a clock that only moves when the test says so."""
    frozen = FrozenClock()
    app.state.login_throttle = LoginThrottle(account_free=3, address_free=1000, clock=frozen)
    return frozen


async def attempt(
    client: httpx.AsyncClient, app_client: Json, username: str, password: str
) -> httpx.Response:
    return await token_request(
        client, app_client, grant_type="password", username=username, password=password
    )


async def test_repeated_failures_for_one_account_lock_it(
    client: httpx.AsyncClient, app_client: Json, person: Json, clock: FrozenClock
) -> None:
    phone = person["raw"]["phone"]
    for _ in range(4):  # three free failures, and the one that locks
        oauth_problem(await attempt(client, app_client, phone, "wrong pass"), 400, "invalid_grant")
    locked = await attempt(client, app_client, phone, PASSWORD)
    oauth_problem(locked, 429, "slow_down")
    assert int(locked.headers["retry-after"]) >= 1
    clock.now += int(locked.headers["retry-after"])
    assert (await attempt(client, app_client, phone, PASSWORD)).status_code == 200


async def test_phone_and_id_number_share_the_accounts_failures(
    client: httpx.AsyncClient, app_client: Json, person: Json, clock: FrozenClock
) -> None:
    raw = person["raw"]
    for username in (raw["phone"], raw["id_number"], raw["phone"], raw["id_number"]):
        await attempt(client, app_client, username, "wrong pass")
    for username in (raw["phone"], raw["id_number"]):
        oauth_problem(await attempt(client, app_client, username, PASSWORD), 429, "slow_down")
    assert clock.now == 1000.0


async def test_other_accounts_are_not_locked_by_one_accounts_failures(
    client: httpx.AsyncClient, app_client: Json, person: Json, clock: FrozenClock
) -> None:
    for _ in range(5):
        await attempt(client, app_client, person["raw"]["phone"], "wrong pass")
    other = await register(client)
    assert (await attempt(client, app_client, other["raw"]["phone"], PASSWORD)).status_code == 200
    assert clock.now == 1000.0


async def test_one_address_trying_many_accounts_is_locked(
    client: httpx.AsyncClient, app: FastAPI, app_client: Json, person: Json
) -> None:
    frozen = FrozenClock()
    app.state.login_throttle = LoginThrottle(account_free=100, address_free=5, clock=frozen)
    for _ in range(6):
        response = await attempt(client, app_client, resident_id(), "guessing")
        oauth_problem(response, 400, "invalid_grant")
    locked = await attempt(client, app_client, person["raw"]["phone"], PASSWORD)
    oauth_problem(locked, 429, "slow_down")
    assert int(locked.headers["retry-after"]) >= 1


async def test_the_default_throttle_is_per_account_and_address(app: FastAPI) -> None:
    throttle = app.state.login_throttle
    assert isinstance(throttle, LoginThrottle)
    assert throttle.account_free == 5
    assert throttle.address_free == 50
