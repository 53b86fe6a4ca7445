"""The gateway as an OAuth 2.0 authorization server, checked with outside tools: its RFC 8414
metadata by authlib's validator, an issued token by PyJWT against the published keys; the token
endpoint's errors as RFC 6749 §5.2 says (application/json), and its scopes."""

from __future__ import annotations

from typing import Any

import httpx
import jwt
import pytest
from authlib.oauth2.rfc8414 import AuthorizationServerMetadata
from authlib.oidc.discovery import OpenIDProviderMetadata

from app.core.config import Settings
from tests.conftest import DATA_KEY
from tests.identity.api_support import (
    PASSWORD,
    Json,
    bearer,
    create_client,
    is_problem,
    oauth_problem,
    register,
    token_request,
)

PUBLIC_URL = "https://xyb.example.gov.cn"
METADATA = "/.well-known/oauth-authorization-server"


@pytest.fixture
def public_url() -> str:
    return PUBLIC_URL


@pytest.fixture
def settings(settings: Settings, public_url: str) -> Settings:
    return settings.model_copy(update={"public_url": public_url})


async def _metadata(client: httpx.AsyncClient, path: str = METADATA) -> Json:
    response = await client.get(path)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    body: Json = response.json()
    return body


# --- the metadata -------------------------------------------------------------------------------


async def test_the_metadata_is_rfc_8414_and_verifies_the_tokens_issued(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    metadata = await _metadata(client)
    AuthorizationServerMetadata(metadata).validate()  # raises ValueError naming what is wrong
    assert metadata["issuer"] == PUBLIC_URL  # XYB_ISSUER's default: the public URL
    assert metadata["token_endpoint"] == f"{PUBLIC_URL}/identity/token"
    # No OpenID member is claimed: the gateway issues no ID tokens.
    for member in ("userinfo_endpoint", "id_token_signing_alg_values_supported"):
        assert member not in metadata
    with pytest.raises(ValueError, match=r"authorization_endpoint|subject_types|id_token"):
        OpenIDProviderMetadata(metadata).validate()

    app = await create_client(client, admin_headers, kind="integrator", roles=["operator"])
    issued = await token_request(client, app, grant_type="client_credentials")
    assert issued.status_code == 200, issued.text
    token = issued.json()["access_token"]
    jwks = await client.get(metadata["jwks_uri"].removeprefix(PUBLIC_URL))
    header = jwt.get_unverified_header(token)
    assert header["typ"] == "at+jwt"  # RFC 9068
    key = jwt.PyJWKSet.from_dict(jwks.json())[header["kid"]]
    claims = jwt.decode(
        token,
        key,
        algorithms=[key.algorithm_name],
        audience=metadata["audience"],
        issuer=metadata["issuer"],
        options={"require": ["exp", "iat", "sub", "jti"]},
    )
    assert claims["client_id"] == app["client_id"]
    assert claims["scope"] == "operator"


async def test_openid_discovery_is_not_served(client: httpx.AsyncClient) -> None:
    response = await client.get("/.well-known/openid-configuration")
    body = is_problem(response, 404)
    assert METADATA in body["detail"]


@pytest.mark.parametrize("public_url", ["https://xyb.example.gov.cn/api"])
async def test_an_issuer_with_a_path_has_its_metadata_below_the_well_known_path(
    client: httpx.AsyncClient,
) -> None:
    # RFC 8414 §3: https://xyb.example.gov.cn/.well-known/oauth-authorization-server/api
    below = await _metadata(client, f"{METADATA}/api")
    assert below["issuer"] == "https://xyb.example.gov.cn/api"
    assert below == await _metadata(client)
    is_problem(await client.get(f"{METADATA}/other"), 404)


def test_the_issuer_defaults_to_the_public_url_and_must_be_https_in_production() -> None:
    assert Settings().resolved_issuer == "xyb-gateway"  # development: one for every instance
    assert Settings(public_url=PUBLIC_URL).resolved_issuer == PUBLIC_URL
    assert Settings(public_url=PUBLIC_URL, issuer="https://id.example").resolved_issuer == (
        "https://id.example"
    )
    production: dict[str, Any] = {"env": "production", "admin_token": "k" * 48}
    assert Settings(**production, data_key=DATA_KEY, public_url=PUBLIC_URL).resolved_issuer == (
        PUBLIC_URL
    )
    for public, issuer in (("http://10.0.0.5:8000", None), (PUBLIC_URL, "xyb-gateway")):
        with pytest.raises(ValueError, match="is not an https:// URL"):
            Settings(**production, data_key=DATA_KEY, public_url=public, issuer=issuer)
    with pytest.raises(ValueError, match="whitespace"):
        Settings(issuer="https://id.example\r\nX: y")


# --- the token endpoint's errors ------------------------------------------------------------------


@pytest.fixture
async def app_client(client: httpx.AsyncClient, admin_headers: dict[str, str]) -> Json:
    return await create_client(
        client, admin_headers, kind="integrator", roles=["operator", "department"]
    )


@pytest.mark.parametrize(
    ("body", "content_type", "error"),
    [
        (b"client_id=x", "application/x-www-form-urlencoded", "invalid_request"),  # no grant_type
        (b"grant_type=", "application/x-www-form-urlencoded", "invalid_request"),
        (
            b"grant_type=authorization_code",
            "application/x-www-form-urlencoded",
            "unsupported_grant_type",
        ),
        (b'{"grant_type": "client_credentials"}', "application/json", "invalid_request"),
        (
            b"grant_type=password&username=\xff",
            "application/x-www-form-urlencoded",
            "invalid_request",
        ),
        (
            b"grant_type=password&grant_type=password",
            "application/x-www-form-urlencoded",
            "invalid_request",
        ),
    ],
)
async def test_malformed_token_requests_are_oauth_errors_in_json(
    client: httpx.AsyncClient, body: bytes, content_type: str, error: str
) -> None:
    response = await client.post(
        "/identity/token", content=body, headers={"Content-Type": content_type}
    )
    oauth_problem(response, 400, error)


async def test_client_authentication_errors_are_json_with_a_basic_challenge(
    client: httpx.AsyncClient, app_client: Json
) -> None:
    wrong = await client.post(
        "/identity/token",
        data={"grant_type": "client_credentials"},
        auth=(app_client["client_id"], "wrong"),
    )
    oauth_problem(wrong, 401, "invalid_client")
    assert wrong.headers["www-authenticate"].startswith("Basic ")
    both = await client.post(
        "/identity/token",
        data={"grant_type": "client_credentials", "client_secret": app_client["client_secret"]},
        auth=(app_client["client_id"], app_client["client_secret"]),
    )
    oauth_problem(both, 400, "invalid_request")  # RFC 6749 §2.3: one method per request


# --- scopes ---------------------------------------------------------------------------------------


async def test_a_granted_scope_is_echoed_and_limits_the_tokens_roles(
    client: httpx.AsyncClient, app_client: Json
) -> None:
    everything = await token_request(client, app_client, grant_type="client_credentials")
    assert everything.json()["scope"] == "department operator"  # none asked: all its roles
    ops = await token_request(client, app_client, grant_type="client_credentials", scope="operator")
    assert ops.json()["scope"] == "operator"
    department = await token_request(
        client, app_client, grant_type="client_credentials", scope="department"
    )
    assert department.json()["scope"] == "department"
    targets = "/ops/targets"
    assert (
        await client.get(targets, headers=bearer(ops.json()["access_token"]))
    ).status_code == 200
    refused = await client.get(targets, headers=bearer(department.json()["access_token"]))
    assert refused.status_code == 403  # the operator role was not in the scope


@pytest.mark.parametrize(
    ("scope", "says"),
    [
        ("bogus", "Unknown scope bogus"),
        ("operator verifier", "does not hold the role verifier"),
        ("openid", "not ID tokens"),
        ("operator\tdepartment", "malformed"),
    ],
)
async def test_a_scope_not_granted_is_invalid_scope(
    client: httpx.AsyncClient, app_client: Json, scope: str, says: str
) -> None:
    response = await token_request(client, app_client, grant_type="client_credentials", scope=scope)
    assert says in oauth_problem(response, 400, "invalid_scope")["error_description"]


async def test_residents_tokens_take_no_scope(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    app = await create_client(client, admin_headers)
    person = await register(client)
    form = {"grant_type": "password", "username": person["raw"]["phone"], "password": PASSWORD}
    refused = await token_request(client, app, **form, scope="operator")
    oauth_problem(refused, 400, "invalid_scope")
    issued = await token_request(client, app, **form, scope="")
    assert issued.status_code == 200, issued.text
    assert "scope" not in issued.json()
