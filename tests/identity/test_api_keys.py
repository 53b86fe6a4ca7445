"""Published keys and metadata, key rotation, and every refused access token on /gw and
/identity/me (expired, wrong audience, wrong issuer, tampered, alg none, unknown key)."""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from datetime import UTC, datetime

import httpx
import pytest
import respx
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from app.gateway.routetable import TransportFactory
from app.identity.keys import KeyRing, generate_key
from app.identity.state import ACCESS_AUDIENCE, add_signing_key
from app.identity.tokens import TokenIssuer
from tests.contract_stubs import transport_for
from tests.identity.api_support import (
    FUND_ACCOUNT,
    Json,
    b64json,
    bearer,
    create_client,
    grant,
    identity,
    invalid_token,
    is_problem,
    login,
    onboard_changsha,
    register,
    segments,
)

GW_CALL = "/gw/430100/zwfw" + FUND_ACCOUNT


@pytest.fixture
def upstream(contract_stub: Callable[..., respx.MockRouter]) -> respx.MockRouter:
    return contract_stub("municipal/changsha")


@pytest.fixture
def transport_factory(upstream: respx.MockRouter) -> TransportFactory:
    return lambda base_url, max_connections: transport_for(upstream)


@pytest.fixture
async def app_client(client: httpx.AsyncClient, admin_headers: dict[str, str]) -> Json:
    created = await create_client(client, admin_headers)
    await onboard_changsha(client, admin_headers)
    await grant(client, admin_headers, created["client_id"])
    return created


@pytest.fixture
async def person(client: httpx.AsyncClient) -> Json:
    return await register(client)


# --- what is published -------------------------------------------------------------------------


async def test_jwks_lists_the_kid_of_issued_tokens(
    client: httpx.AsyncClient, app_client: Json, person: Json
) -> None:
    issued = await login(client, app_client, person["raw"]["phone"])
    kid = segments(issued["access_token"])[0]["kid"]
    response = await client.get("/.well-known/jwks.json")
    assert response.status_code == 200
    keys = response.json()["keys"]
    assert kid in [k["kid"] for k in keys]
    for key in keys:
        assert key["kty"] == "OKP"
        assert key["crv"] == "Ed25519"
        assert key["alg"] == "EdDSA"
        assert key["use"] == "sig"
        assert "d" not in key  # never the private part


async def test_discovery_document(client: httpx.AsyncClient) -> None:
    response = await client.get("/.well-known/oauth-authorization-server")
    assert response.status_code == 200
    body = response.json()
    # Development without XYB_PUBLIC_URL or XYB_ISSUER: one fixed issuer for every instance.
    assert body["issuer"] == "xyb-gateway"
    # XYB_PUBLIC_URL's development default (the bind address), not the request's Host.
    assert body["token_endpoint"] == "http://127.0.0.1:8000/identity/token"
    assert body["jwks_uri"] == "http://127.0.0.1:8000/.well-known/jwks.json"
    assert set(body["grant_types_supported"]) == {
        "password",
        "client_credentials",
        "refresh_token",
        "urn:ietf:params:oauth:grant-type:token-exchange",
    }
    assert set(body["token_endpoint_auth_methods_supported"]) == {
        "client_secret_basic",
        "client_secret_post",
    }
    jwks = await client.get(body["jwks_uri"].removeprefix("http://127.0.0.1:8000"))
    assert jwks.status_code == 200


# --- rotation ----------------------------------------------------------------------------------


async def test_key_rotation_signs_with_the_new_key_and_old_tokens_still_verify(
    client: httpx.AsyncClient,
    app: FastAPI,
    session: AsyncSession,
    app_client: Json,
    person: Json,
) -> None:
    old = await login(client, app_client, person["raw"]["phone"])
    old_kid = segments(old["access_token"])[0]["kid"]
    # What `xyb keys rotate` does: a new key in the database, then every instance's feed.
    new_kid = await add_signing_key(session, identity(app).cipher)
    await session.commit()
    await identity(app).refresh()
    assert new_kid != old_kid
    published = [k["kid"] for k in (await client.get("/.well-known/jwks.json")).json()["keys"]]
    assert published[0] == new_kid
    assert old_kid in published
    new = await login(client, app_client, person["raw"]["phone"])
    assert segments(new["access_token"])[0]["kid"] == new_kid
    for token in (old["access_token"], new["access_token"]):
        assert (await client.get("/identity/me", headers=bearer(token))).status_code == 200
        assert (await client.get(GW_CALL, headers=bearer(token))).status_code == 200
    # Application tokens rotate too.
    issued = await client.post(
        "/identity/token",
        data={"grant_type": "client_credentials"},
        auth=(app_client["client_id"], app_client["client_secret"]),
    )
    assert segments(issued.json()["access_token"])[0]["kid"] == new_kid


# --- refused access tokens ---------------------------------------------------------------------


def _issuer(
    app: FastAPI, *, issuer: str = "xyb-gateway", audience: str = ACCESS_AUDIENCE
) -> TokenIssuer:
    return TokenIssuer(identity(app).state.keyring, issuer=issuer, audience=audience)


def _person_claims(person: Json, app_client: Json) -> Json:
    return {
        "subject": f"p:{person['id']}",
        "client_id": app_client["client_id"],
        "kind": "person",
        "roles": (),
        "assurance": 1,
    }


def _tampered(token: str, **changes: object) -> str:
    header, _, signature = token.split(".")
    claims = segments(token)[1]
    claims.update(changes)
    return f"{header}.{b64json(claims)}.{signature}"


def _alg_none(token: str, signature: str) -> str:
    header, claims, _ = segments(token)
    return f"{b64json({**header, 'alg': 'none'})}.{b64json(claims)}.{signature}"


def forge(kind: str, app: FastAPI, person: Json, app_client: Json, valid: str) -> str:
    claims = _person_claims(person, app_client)
    if kind == "expired":
        return identity(app).issuer.issue(**claims, now=time.time() - 3600)[0]
    if kind == "not yet valid":
        return identity(app).issuer.issue(**claims, now=time.time() + 3600)[0]
    if kind == "wrong audience":
        return _issuer(app, audience="430100/zwfw").issue(**claims)[0]
    if kind == "wrong issuer":
        return _issuer(app, issuer="https://evil.example").issue(**claims)[0]
    if kind == "tampered subject":
        return _tampered(valid, sub="p:999999")
    if kind == "tampered roles":
        return _tampered(valid, roles=["platform_admin"])
    if kind == "alg none":
        return _alg_none(valid, "")
    if kind == "alg none, signature kept":
        return _alg_none(valid, valid.split(".")[2])
    if kind == "unknown key":
        stranger = KeyRing([generate_key(datetime.now(UTC))])
        issuer = TokenIssuer(stranger, issuer="xyb-gateway", audience=ACCESS_AUDIENCE)
        return issuer.issue(**claims)[0]
    if kind == "known kid, other key":
        kid = segments(valid)[0]["kid"]
        other = generate_key(datetime.now(UTC))
        _, payload, _ = valid.split(".")
        header = b64json({"alg": "EdDSA", "typ": "at+jwt", "kid": kid})
        assert other.private_key is not None
        signature = other.private_key.sign(f"{header}.{payload}".encode())
        return f"{header}.{payload}.{base64.urlsafe_b64encode(signature).rstrip(b'=').decode()}"
    raise AssertionError(kind)


FORGERIES = [
    "expired",
    "not yet valid",
    "wrong audience",
    "wrong issuer",
    "tampered subject",
    "tampered roles",
    "alg none",
    "alg none, signature kept",
    "unknown key",
    "known kid, other key",
]


@pytest.mark.parametrize("path", ["/identity/me", GW_CALL])
@pytest.mark.parametrize("kind", FORGERIES)
async def test_refused_access_tokens(
    client: httpx.AsyncClient,
    app: FastAPI,
    upstream: respx.MockRouter,
    app_client: Json,
    person: Json,
    kind: str,
    path: str,
) -> None:
    valid = (await login(client, app_client, person["raw"]["phone"]))["access_token"]
    assert (await client.get(path, headers=bearer(valid))).status_code == 200
    calls = len(upstream.calls)
    token = forge(kind, app, person, app_client, valid)
    invalid_token(await client.get(path, headers=bearer(token)))
    assert len(upstream.calls) == calls  # the upstream never hears of it


@pytest.mark.usefixtures("app_client")
@pytest.mark.parametrize("path", ["/identity/me", GW_CALL])
@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "Bearer not-a-jwt", "Bearer a.b.c"],
)
async def test_missing_or_malformed_credentials(
    client: httpx.AsyncClient,
    upstream: respx.MockRouter,
    path: str,
    authorization: str | None,
) -> None:
    headers = {"Authorization": authorization} if authorization is not None else {}
    response = await client.get(path, headers=headers)
    is_problem(response, 401)
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert not upstream.calls


async def test_a_refused_client_token_tampered_into_an_admin(
    client: httpx.AsyncClient, app_client: Json
) -> None:
    issued = await client.post(
        "/identity/token",
        data={"grant_type": "client_credentials"},
        auth=(app_client["client_id"], app_client["client_secret"]),
    )
    token = _tampered(issued.json()["access_token"], roles=["platform_admin"])
    invalid_token(await client.get("/admin/clients", headers=bearer(token)))
