"""XYB_PUBLIC_URL: documents name the gateway by its configured address, never by the Host."""

from __future__ import annotations

from http.cookies import SimpleCookie

import httpx
import pytest
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.config import Settings
from app.services.ops.operators import create_operator
from app.services.ops.sessions import COOKIE_NAME
from tests.conftest import DATA_KEY
from tests.gateway.support import onboard

PUBLIC_URL = "https://xyb.example.gov.cn/api"
EVIL = {"Host": "evil.example"}


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"public_url": PUBLIC_URL})


async def test_discovery_names_the_configured_address(client: httpx.AsyncClient) -> None:
    discovery = (await client.get("/.well-known/oauth-authorization-server", headers=EVIL)).json()
    assert discovery["issuer"] == PUBLIC_URL
    assert discovery["jwks_uri"] == f"{PUBLIC_URL}/.well-known/jwks.json"
    assert discovery["token_endpoint"] == f"{PUBLIC_URL}/identity/token"
    assert "evil.example" not in str(discovery)


async def test_openapi_documents_name_the_configured_address(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    service = await onboard(client, admin_headers)
    merged = (await client.get("/gw/openapi.json", headers=EVIL)).json()
    assert merged["servers"] == [{"url": PUBLIC_URL}]
    assert any(path.startswith("/gw/430100/bdc/") for path in merged["paths"])
    one = await client.get(
        f"/admin/services/{service['id']}/openapi", headers={**admin_headers, **EVIL}
    )
    assert one.json()["servers"] == [{"url": PUBLIC_URL}]


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("ftp://xyb.example.gov.cn", "must be an http:// or https:// URL"),
        ("xyb.example.gov.cn", "must be an http:// or https:// URL"),
        ("https://user:pw@xyb.example.gov.cn", "must not carry credentials"),
        ("https://xyb.example.gov.cn/?a=1", "must not have a query or a fragment"),
        ("https://xyb.example.gov.cn/#top", "must not have a query or a fragment"),
        ("https://xyb.example.gov.cn/a b", "must not contain whitespace or control characters"),
        ("https://xyb.example.gov.cn/\r\nX-Injected: y", "must not contain whitespace"),
        ("https:///path", "must name a host"),
        ("https://xyb.example.gov.cn:port", "is not a URL"),
    ],
)
def test_a_public_url_that_is_not_a_plain_base_url_is_refused(value: str, reason: str) -> None:
    with pytest.raises(ValidationError, match=reason):
        Settings(public_url=value)


def test_the_public_url_loses_its_trailing_slash() -> None:
    assert Settings(public_url="https://xyb.example.gov.cn/").public_url == (
        "https://xyb.example.gov.cn"
    )
    assert Settings(public_url=" http://10.0.0.5:8000/xyb/ ").resolved_public_url == (
        "http://10.0.0.5:8000/xyb"
    )


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("127.0.0.1", "http://127.0.0.1:8080"),
        ("0.0.0.0", "http://127.0.0.1:8080"),
        ("::1", "http://[::1]:8080"),
        ("gateway.local", "http://gateway.local:8080"),
    ],
)
def test_development_defaults_to_the_bind_address(host: str, expected: str) -> None:
    assert Settings(host=host, port=8080).resolved_public_url == expected


def test_production_requires_a_public_url() -> None:
    with pytest.raises(ValidationError, match="XYB_PUBLIC_URL is not set"):
        Settings(env="production", admin_token="k" * 48, data_key=DATA_KEY)


async def test_an_https_public_url_makes_the_operator_cookie_secure(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    """Plain http from a TLS-terminating proxy that is not trusted: the configured https says it."""
    await create_operator(session, "wang.li", "correct horse battery", ["operator"])
    await session.commit()
    response = await client.post(
        "/ops/login",
        data={"username": "wang.li", "password": "correct horse battery"},
        headers={"Origin": "http://testserver", "X-Forwarded-Proto": "http"},
    )
    assert response.status_code == 303, response.text
    jar: SimpleCookie = SimpleCookie()
    jar.load(response.headers["set-cookie"])
    assert jar[COOKIE_NAME]["secure"] is True
