"""GET /ops/audit: operators query calls and admin actions, newest first, with filters and cursor
paging; division admins see their divisions only; one 422 names every bad parameter."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from app.events import AccessEvent
from app.services.ops.operators import create_operator
from tests.audit.support import event
from tests.ops.support import role_token

T0 = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)  # 16:00 in Shanghai
PASSWORD = "correct horse battery"


def call(minute: int, **changes: Any) -> AccessEvent:
    return dataclasses.replace(event(at=T0 + timedelta(minutes=minute)), **changes)


@pytest.fixture
async def calls(app: FastAPI) -> list[AccessEvent]:
    """Six calls: four of 430100/zwfw (two at the same moment), one of 430600 and one of
    430102 (a county of 430100), flushed."""
    events = [
        call(1),
        call(2, status=502, outcome="upstream_error", subject="subject-b"),
        call(3, client_id="c-other"),
        call(3, operation_id="listEstateRecords"),
        call(4, division="430600", service="430600/zwfw"),
        call(5, division="430102", service="430102/zwfw"),
    ]
    for item in events:
        app.state.audit.emit(item)
    await app.state.audit.flush()
    return events


async def query(http: httpx.AsyncClient, headers: dict[str, str], **params: Any) -> dict[str, Any]:
    response = await http.get("/ops/audit", params=params, headers=headers)
    assert response.status_code == 200, response.text
    page: dict[str, Any] = response.json()
    return page


def event_ids(page: dict[str, Any]) -> list[str]:
    return [r["event_id"] for r in page["records"]]


async def test_calls_newest_first_with_every_filter(
    client: httpx.AsyncClient, admin_headers: dict[str, str], calls: list[AccessEvent]
) -> None:
    ids = [e.event_id for e in calls]
    page = await query(client, admin_headers, kind="call")
    # Newest first; the two calls of minute 3 by their place in the chain, the later first.
    assert event_ids(page) == [ids[5], ids[4], ids[3], ids[2], ids[1], ids[0]]
    assert page["next_cursor"] is None
    assert page["divisions"] is None
    record = page["records"][-1]
    assert record["kind"] == "call"
    assert record["request_digest"] == "a" * 64
    assert record["hash"]
    assert record["prev_hash"]
    assert record["at"].startswith("2026-06-01T08:01:00")
    assert event_ids(await query(client, admin_headers, service="430600/zwfw")) == [ids[4]]
    both = await query(client, admin_headers, service="430600/zwfw,430102/zwfw")
    assert event_ids(both) == [ids[5], ids[4]]
    only_estate = await query(client, admin_headers, operation="listEstateRecords")
    assert event_ids(only_estate) == [ids[3]]
    assert event_ids(await query(client, admin_headers, client="c-other")) == [ids[2]]
    assert event_ids(await query(client, admin_headers, subject="subject-b")) == [ids[1]]
    assert event_ids(await query(client, admin_headers, outcome="upstream_error")) == [ids[1]]
    # A local date (Shanghai) and ISO datetimes; until excluded.
    window = await query(
        client, admin_headers, since="2026-06-01T16:02:00", until="2026-06-01T08:04:00Z"
    )
    assert event_ids(window) == [ids[3], ids[2], ids[1]]
    assert len((await query(client, admin_headers, kind="call", since="2026-06-01"))["records"])
    assert (await query(client, admin_headers, kind="call", until="2026-05-31"))["records"] == []


async def test_admin_actions_by_action_and_kind(
    client: httpx.AsyncClient, admin_headers: dict[str, str], calls: list[AccessEvent], app: FastAPI
) -> None:
    created = await client.post(
        "/admin/clients", json={"name": "x", "kind": "integrator"}, headers=admin_headers
    )
    assert created.status_code == 201
    await app.state.audit.flush()
    page = await query(client, admin_headers, action="client.create")
    [record] = page["records"]
    assert record["actor"] == "admin-token"
    assert record["object"] == f"client:{created.json()['client_id']}"
    assert record["summary"]["name"] == "x"
    kinds = {r["kind"] for r in (await query(client, admin_headers, kind="admin"))["records"]}
    assert kinds == {"admin"}


async def test_cursor_pages_cover_everything_once(
    client: httpx.AsyncClient, admin_headers: dict[str, str], calls: list[AccessEvent]
) -> None:
    whole = event_ids(await query(client, admin_headers, kind="call"))
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params: dict[str, Any] = {"kind": "call", "limit": "4"}
        if cursor:
            params["cursor"] = cursor
        page = await query(client, admin_headers, **params)
        seen += event_ids(page)
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == 2
    assert seen == whole
    # A cursor continues its own query only.
    first = await query(client, admin_headers, kind="call", limit="1")
    other = await client.get(
        "/ops/audit",
        params={"kind": "admin", "cursor": first["next_cursor"]},
        headers=admin_headers,
    )
    assert other.status_code == 422
    assert [e["pointer"] for e in other.json()["errors"]] == ["/query/cursor"]
    # A different limit is the same query: the cursor still works.
    more = await query(client, admin_headers, kind="call", limit="2", cursor=first["next_cursor"])
    assert event_ids(more) == whole[1:3]


async def test_a_division_admin_sees_its_divisions_only(
    client: httpx.AsyncClient, admin_headers: dict[str, str], calls: list[AccessEvent]
) -> None:
    ids = [e.event_id for e in calls]
    changsha = await role_token(
        client, admin_headers, "division_admin", division="430100", name="长沙市数据局"
    )
    page = await query(client, changsha, kind="call")
    # 430100 and its county 430102, not 430600.
    assert event_ids(page) == [ids[5], ids[3], ids[2], ids[1], ids[0]]
    assert "430100" in page["divisions"]
    assert "430600" not in page["divisions"]
    assert (await query(client, changsha, service="430600/zwfw"))["records"] == []
    # Admin records without a division (clients, sign-ins) are not theirs.
    assert all(r["division"] for r in (await query(client, changsha))["records"])


async def test_every_bad_parameter_is_named_in_one_422(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    response = await client.get(
        "/ops/audit",
        params={
            "since": "yesterday",
            "until": "2026-13-01",
            "service": "changsha",
            "operation": "x" * 201,
            "client": "bad client",
            "subject": "s" * 101,
            "outcome": "fine",
            "action": "Client Create",
            "kind": "everything",
            "limit": "501",
        },
        headers=admin_headers,
    )
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    errors = response.json()["errors"]
    assert sorted(e["pointer"].removeprefix("/query/") for e in errors) == sorted(
        [
            "since",
            "until",
            "service",
            "operation",
            "client",
            "subject",
            "outcome",
            "action",
            "kind",
            "limit",
        ]
    )
    allowed = {e["pointer"]: e.get("allowed") for e in errors}
    assert "upstream_error" in allowed["/query/outcome"]
    assert allowed["/query/kind"] == ["call", "admin"]
    assert allowed["/query/limit"] == [1, 500]
    for params in (
        {"since": "2026-06-02", "until": "2026-06-01"},
        {"cursor": "not-a-cursor"},
        {"limit": "0"},
    ):
        bad = await client.get("/ops/audit", params=params, headers=admin_headers)
        assert bad.status_code == 422, params


async def test_who_may_read_the_audit_log(
    client: httpx.AsyncClient, admin_headers: dict[str, str], session: AsyncSession
) -> None:
    assert (await client.get("/ops/audit")).status_code == 401
    for roles in ([], ["department"]):
        headers = await role_token(client, admin_headers, *roles)
        assert (await client.get("/ops/audit", headers=headers)).status_code == 403
    operator = await role_token(client, admin_headers, "operator")
    assert (await client.get("/ops/audit", headers=operator)).status_code == 200
    # A signed-in operator (the dashboard's cookie).
    await create_operator(session, "audit.reader", PASSWORD, ["operator"])
    await session.commit()
    signed_in = await client.post(
        "/ops/login",
        data={"username": "audit.reader", "password": PASSWORD},
        headers={"Origin": str(client.base_url).rstrip("/")},
    )
    assert signed_in.status_code == 303
    assert (await client.get("/ops/audit")).status_code == 200
