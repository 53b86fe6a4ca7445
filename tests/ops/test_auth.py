"""Who may read /ops: operator tokens, the platform admin, and signed-in operators (cookie)."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from datetime import timedelta
from http.cookies import SimpleCookie

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.config import Settings
from app.core.deps import get_session
from app.main import create_app
from app.services.ops.operators import OperatorError, create_operator, set_password, set_status
from app.services.ops.sessions import COOKIE_NAME, SessionSigner
from tests.conftest import DATA_KEY
from tests.ops.conftest import FixedClock
from tests.ops.support import role_token

ENDPOINTS = ["/ops/targets", "/ops/services", "/ops/access-counts?group_by=service"]
PASSWORD = "correct horse battery"


@pytest.fixture
async def operator(session: AsyncSession) -> str:
    await create_operator(session, "wang.li", PASSWORD, ["operator"])
    await session.commit()
    return "wang.li"


async def sign_in(
    client: httpx.AsyncClient, username: str = "wang.li", password: str = PASSWORD
) -> httpx.Response:
    return await client.post(
        "/ops/login",
        data={"username": username, "password": password},
        headers={"Origin": str(client.base_url).rstrip("/")},
    )


def set_cookie(response: httpx.Response) -> SimpleCookie:
    jar: SimpleCookie = SimpleCookie()
    jar.load(response.headers["set-cookie"])
    return jar


def cookie_header(token: str) -> dict[str, str]:
    return {"Cookie": f"{COOKIE_NAME}={token}"}


@pytest.mark.parametrize("path", ENDPOINTS)
async def test_no_credentials_is_401_with_both_ways_in(
    client: httpx.AsyncClient, path: str
) -> None:
    response = await client.get(path)
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "Bearer" in response.headers["www-authenticate"]
    assert "/ops/login" in response.json()["detail"]
    bad = await client.get(path, headers={"Authorization": "Bearer not-a-token"})
    assert bad.status_code == 401


@pytest.mark.parametrize("path", ENDPOINTS)
async def test_operators_and_the_platform_admin_may_read(
    client: httpx.AsyncClient, admin_headers: dict[str, str], path: str
) -> None:
    assert (await client.get(path, headers=admin_headers)).status_code == 200
    operator_token = await role_token(client, admin_headers, "operator")
    assert (await client.get(path, headers=operator_token)).status_code == 200
    platform = await role_token(client, admin_headers, "platform_admin")
    assert (await client.get(path, headers=platform)).status_code == 200


@pytest.mark.parametrize("roles", [[], ["division_admin"], ["department"], ["verifier"]])
async def test_other_roles_are_403(
    client: httpx.AsyncClient, admin_headers: dict[str, str], roles: list[str]
) -> None:
    kwargs = {"division": "430100"} if roles == ["division_admin"] else {}
    headers = await role_token(client, admin_headers, *roles, **kwargs)
    for path in ENDPOINTS:
        response = await client.get(path, headers=headers)
        assert response.status_code == 403, (path, response.text)
        assert response.json()["required_roles"] == ["operator"]


async def test_sign_in_sets_a_strict_httponly_cookie_and_opens_the_dashboard(
    client: httpx.AsyncClient, operator: str
) -> None:
    form = await client.get("/ops/login")
    assert form.status_code == 200
    assert 'action="/ops/login"' in form.text
    assert "default-src 'none'" in form.headers["content-security-policy"]

    response = await sign_in(client)
    assert response.status_code == 303
    assert response.headers["location"] == "/ops/dashboard"
    cookie = set_cookie(response)[COOKIE_NAME]
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "strict"
    assert cookie["path"] == "/ops"
    assert cookie["max-age"] == "28800"
    assert not cookie["secure"]  # plain http here; https below

    for path in ENDPOINTS:
        assert (await client.get(path)).status_code == 200, path  # the jar sends the cookie
    page = await client.get("/ops/dashboard")
    assert page.status_code == 200
    assert 'data-testid="username">wang.li<' in page.text
    assert '<script src="/ops/static/dashboard.js"' in page.text
    assert (await client.get("/ops/login")).status_code == 303  # already signed in
    # The cookie never reaches the gateway's other paths.
    assert set_cookie(response)[COOKIE_NAME]["path"] == "/ops"


async def test_over_https_the_cookie_is_secure(app: FastAPI, operator: str) -> None:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="https://ops.example"
    ) as secure:
        response = await sign_in(secure)
        assert response.status_code == 303
        assert set_cookie(response)[COOKIE_NAME]["secure"] is True


async def test_wrong_credentials_get_the_form_again_with_401(
    client: httpx.AsyncClient, operator: str
) -> None:
    for username, password in [("wang.li", "wrong password!"), ("nobody", PASSWORD)]:
        response = await sign_in(client, username, password)
        assert response.status_code == 401
        assert response.headers["content-type"].startswith("text/html")
        assert "Wrong username or password." in response.text
        assert 'action="/ops/login"' in response.text
        assert "set-cookie" not in response.headers
    assert (await client.get("/ops/dashboard")).status_code == 303


async def test_failed_sign_ins_are_throttled(client: httpx.AsyncClient, operator: str) -> None:
    statuses = [
        (await sign_in(client, password=f"wrong-{i}-password")).status_code for i in range(6)
    ]
    assert statuses == [401] * 6
    locked = await sign_in(client)  # even the right password waits
    assert locked.status_code == 429
    assert int(locked.headers["retry-after"]) >= 1
    assert "Too many failed sign-ins" in locked.text


async def test_an_expired_cookie_is_refused(
    client: httpx.AsyncClient, operator: str, clock: FixedClock
) -> None:
    await sign_in(client)
    assert (await client.get("/ops/targets")).status_code == 200
    clock.now += timedelta(seconds=28_800)
    refused = await client.get("/ops/targets")
    assert refused.status_code == 401
    assert "expired" in refused.json()["detail"]
    dashboard = await client.get("/ops/dashboard")
    assert (dashboard.status_code, dashboard.headers["location"]) == (303, "/ops/login")
    form = await client.get("/ops/login")
    assert "Your session has expired" in form.text


def _tamper(token: str, **changes: object) -> str:
    prefix, payload, mac = token.split(".")
    data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    data.update(changes)
    raw = base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()
    return f"{prefix}.{raw}.{mac}"


async def test_a_tampered_or_foreign_cookie_is_refused(
    app: FastAPI, client: httpx.AsyncClient, operator: str
) -> None:
    token = set_cookie(await sign_in(client))[COOKIE_NAME].value
    client.cookies.clear()
    assert (await client.get("/ops/targets", headers=cookie_header(token))).status_code == 200
    forged = [
        _tamper(token, exp=4_102_444_800),  # a later expiry
        _tamper(token, sub="admin"),
        token[:-2] + ("AA" if not token.endswith("AA") else "BB"),  # the MAC
        token.replace("v1.", "v2.", 1),
        "v1.e30.",
        "garbage",
    ]
    other_key = base64.urlsafe_b64encode(b"k" * 32).decode().rstrip("=")
    assert other_key != DATA_KEY
    foreign, _ = SessionSigner(other_key).issue(
        "wang.li", ["operator"], "hash", ttl=3600, now=app.state.ops_clock().timestamp()
    )
    forged.append(foreign)
    for bad in forged:
        response = await client.get("/ops/targets", headers=cookie_header(bad))
        assert response.status_code == 401, bad
        dashboard = await client.get("/ops/dashboard", headers=cookie_header(bad))
        assert dashboard.status_code == 303


async def test_logout_ends_the_session(client: httpx.AsyncClient, operator: str) -> None:
    token = set_cookie(await sign_in(client))[COOKIE_NAME].value
    cross_site = await client.post("/ops/logout", headers={"Origin": "https://evil.example"})
    assert cross_site.status_code == 403
    assert (await client.get("/ops/targets")).status_code == 200

    response = await client.post("/ops/logout", headers={"Origin": "http://testserver"})
    assert response.status_code == 303
    assert response.headers["location"] == "/ops/login"
    deleted = set_cookie(response)[COOKIE_NAME]
    assert deleted["max-age"] == "0"
    assert (await client.get("/ops/targets")).status_code == 401  # the jar dropped it
    # Replaying the old cookie on this instance is refused too.
    replay = await client.get("/ops/targets", headers=cookie_header(token))
    assert replay.status_code == 401
    assert "signed out" in replay.json()["detail"]


async def test_a_sign_out_holds_on_another_instance_and_after_a_restart(
    client: httpx.AsyncClient,
    operator: str,
    settings: Settings,
    session: AsyncSession,
    clock: FixedClock,
) -> None:
    token = set_cookie(await sign_in(client))[COOKIE_NAME].value
    other = create_app(settings)  # a second worker, or this one restarted: no shared memory

    async def same_session() -> AsyncIterator[AsyncSession]:
        yield session
        await session.commit()

    other.dependency_overrides[get_session] = same_session
    other.state.ops_clock = clock
    async with (
        other.router.lifespan_context(other),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=other), base_url="http://testserver"
        ) as elsewhere,
    ):
        assert (
            await elsewhere.get("/ops/targets", headers=cookie_header(token))
        ).status_code == 200
        response = await client.post(
            "/ops/logout", headers={"Origin": "http://testserver", **cookie_header(token)}
        )
        assert response.status_code == 303
        replay = await elsewhere.get("/ops/targets", headers=cookie_header(token))
        assert replay.status_code == 401
        assert "signed out" in replay.json()["detail"]
        page = await elsewhere.get("/ops/dashboard", headers=cookie_header(token))
        assert page.status_code == 303


async def test_cross_site_sign_in_is_refused(client: httpx.AsyncClient, operator: str) -> None:
    response = await client.post(
        "/ops/login",
        data={"username": "wang.li", "password": PASSWORD},
        headers={"Origin": "https://evil.example"},
    )
    assert response.status_code == 403
    assert "set-cookie" not in response.headers
    referer = await client.post(
        "/ops/login",
        data={"username": "wang.li", "password": PASSWORD},
        headers={"Referer": "https://evil.example/page"},
    )
    assert referer.status_code == 403


async def test_disabling_or_a_new_password_ends_sessions(
    client: httpx.AsyncClient, session: AsyncSession, operator: str
) -> None:
    token = set_cookie(await sign_in(client))[COOKIE_NAME].value
    client.cookies.clear()
    await set_password(session, operator, "another long password")
    await session.commit()
    assert (await client.get("/ops/targets", headers=cookie_header(token))).status_code == 401
    token = set_cookie(await sign_in(client, password="another long password"))[COOKIE_NAME].value
    client.cookies.clear()
    assert (await client.get("/ops/targets", headers=cookie_header(token))).status_code == 200
    await set_status(session, operator, "disabled")
    await session.commit()
    assert (await client.get("/ops/targets", headers=cookie_header(token))).status_code == 401
    assert (await sign_in(client, password="another long password")).status_code == 401


async def test_an_account_without_the_operator_role_cannot_sign_in(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    await create_operator(session, "verifier-1", PASSWORD, ["verifier"])
    await session.commit()
    response = await sign_in(client, "verifier-1")
    assert response.status_code == 403
    assert "no operator role" in response.text


async def test_account_rules(session: AsyncSession) -> None:
    await create_operator(session, "admin-2", PASSWORD, ["platform_admin", "operator"])
    with pytest.raises(OperatorError, match="exists already"):
        await create_operator(session, "admin-2", PASSWORD, ["operator"])
    with pytest.raises(OperatorError, match="at least 10"):
        await create_operator(session, "short", "short", ["operator"])
    with pytest.raises(OperatorError, match="username"):
        await create_operator(session, "bad name", PASSWORD, ["operator"])
    with pytest.raises(OperatorError, match="unknown role"):
        await create_operator(session, "someone", PASSWORD, ["superuser"])


async def test_static_assets_are_served_and_nothing_else(client: httpx.AsyncClient) -> None:
    js = await client.get("/ops/static/dashboard.js")
    assert js.status_code == 200
    assert js.headers["content-type"].startswith("text/javascript")
    assert "http://" not in js.text.replace("http://www.w3.org/2000/svg", "")  # no CDN
    css = await client.get("/ops/static/ops.css")
    assert css.headers["content-type"].startswith("text/css")
    for name in ["login.html", "..%2Fcli.py", "missing.js", "Dashboard.JS"]:
        assert (await client.get(f"/ops/static/{name}")).status_code == 404, name
