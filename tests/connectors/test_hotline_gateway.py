"""The 12345 hotline through the gateway: the canonical hotline API onboarded at 430000/hotline
with the ``hotline`` connector over the hotline simulator, which checks the gateway's signed
assertion and calls the gateway back (signed) at /callbacks/hotline, on a real database.

One gateway, one simulator and one onboarding serve the module; both run in this event loop
(each is the other's ASGI transport). The clock is fixed: Tuesday 30 September 2025, 17:30 in
Shanghai, the evening before 国庆 (1-8 October off; Saturday 11 October a make-up working day),
moved on by the tests that need it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import hmac
import secrets
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr
from starlette.applications import Starlette

from app.connectors.hotline import DIVISION, SLUG, canonical_document
from app.core.config import Settings
from app.demo_hotline import OPERATIONS
from app.main import create_app
from app.simulators.enterprise import create_register_app, seeded_enterprises
from app.simulators.hotline import create_hotline_app
from tests.conftest import ADMIN_TOKEN
from tests.connectors.gateway_support import migrated_settings, signed_callback
from tests.databases import create_database, drop_database
from tests.identity.api_support import (
    Json,
    bearer,
    create_client,
    grant,
    is_problem,
    login,
    phone_number,
    register,
    register_company,
)

TZ = ZoneInfo("Asia/Shanghai")
START = datetime(2025, 9, 30, 17, 30, tzinfo=TZ)
HOTLINE_URL = "http://127.0.0.1:9120"
REGISTER_URL = "http://127.0.0.1:9115"
REGISTER_TOKEN = "register-token-" + "x" * 24
SECRET = "hotline-callback-secret-for-the-tests"
ITEM = "430100-HOTLINE-T01"  # bound to listMyTickets: a completed call to rate
GW = f"/gw/{DIVISION}/{SLUG}"
WAIT_S = 20.0  # for callbacks to arrive, on a slow, busy machine


class Clock:
    """The gateway's and the simulator's "now"; tests move it."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Resident:
    id: int
    token: str

    def headers(self, key: str | None = None) -> dict[str, str]:
        headers = bearer(self.token)
        if key is not None:
            headers["Idempotency-Key"] = key
        return headers


@dataclass
class Env:
    app: FastAPI
    client: httpx.AsyncClient
    hotline: Starlette
    settings: Settings
    clock: Clock
    admin: dict[str, str]
    app_client: Json
    resident: Resident = field(init=False)
    other: Resident = field(init=False)

    async def sim(self, method: str, path: str, body: Json | None = None) -> httpx.Response:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.hotline), base_url=HOTLINE_URL
        ) as direct:
            return await direct.request(method, path, json=body)

    def held(self, *, gdbh: str | None = None, wbbh: str | None = None) -> Json:
        """The ticket as the system holds it (its /api/ wants the gateway's assertion)."""
        ticket = self.hotline.state.hotline.state.find(gdbh=gdbh, wbbh=wbbh)
        assert ticket is not None
        found: Json = ticket.as_json()
        return found

    async def advance(self, number: str, **body: Any) -> Json:
        answer = await self.sim("POST", f"/_sim/tickets/{number}/advance", body)
        assert answer.status_code == 200, answer.text
        result: Json = answer.json()
        return result

    async def resident_token(self) -> Resident:
        person = await register(self.client, phone=phone_number())
        issued = await login(self.client, self.app_client, person["raw"]["phone"])
        return Resident(person["id"], issued["access_token"])

    async def file(self, resident: Resident, **changes: Any) -> Json:
        answer = await self.client.post(
            f"{GW}/tickets", json=ticket_body(**changes), headers=resident.headers(key())
        )
        assert answer.status_code == 201, answer.text
        result: Json = answer.json()
        return result

    async def ticket(self, resident: Resident, ticket_id: str) -> Json:
        answer = await self.client.get(f"{GW}/tickets/{ticket_id}", headers=resident.headers())
        assert answer.status_code == 200, answer.text
        result: Json = answer.json()
        return result

    async def until(
        self, resident: Resident, ticket_id: str, check: Callable[[Json], bool]
    ) -> Json:
        """The ticket once ``check`` holds (callbacks arrive asynchronously)."""
        deadline = time.monotonic() + WAIT_S
        while True:
            seen = await self.ticket(resident, ticket_id)
            if check(seen) or time.monotonic() > deadline:
                return seen
            await asyncio.sleep(0.05)


def key() -> str:
    return "test-" + secrets.token_hex(8)


def ticket_body(**changes: Any) -> Json:
    return {
        "category": "complaint",
        "content": "小区门口的路灯坏了一个月",
        "division": "430104",
        **changes,
    }


def problem_type(response: httpx.Response, status: int, name: str) -> Json:
    body = is_problem(response, status)
    assert body["type"].endswith("/" + name), body
    return body


@pytest.fixture(scope="module")
async def env(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Env]:
    tmp = tmp_path_factory.mktemp("hotline-gateway")
    url = await create_database(tmp)
    settings = await migrated_settings(
        tmp,
        url,
        hotline_callback_secret=SecretStr(SECRET),
        enterprise_register_url=REGISTER_URL,
        enterprise_register_token=SecretStr(REGISTER_TOKEN),
        audit_flush_interval=0.1,
    )
    clock = Clock(START)
    published: dict[str, Any] = {"keys": []}
    holder: dict[str, FastAPI] = {}

    async def gateway(scope: Any, receive: Any, send: Any) -> None:
        await holder["app"](scope, receive, send)

    hotline = create_hotline_app(
        callback_url="http://testserver/callbacks/hotline",
        callback_secret=SECRET,
        gateway_jwks=lambda: published,
        assertion_issuer=settings.resolved_issuer,
        clock=clock,
        timestamp=lambda: clock().timestamp(),
        callback_transport=httpx.ASGITransport(app=gateway),
        retry_delays=(0.05, 0.1, 0.2),
        max_attempts=200,
    )
    register_app = create_register_app(seed=1, consumer_token=REGISTER_TOKEN)

    def factory(base_url: str, max_connections: int) -> httpx.AsyncBaseTransport:
        if base_url.startswith(HOTLINE_URL):
            return httpx.ASGITransport(app=hotline)
        if base_url.startswith(REGISTER_URL):
            return httpx.ASGITransport(app=register_app)
        raise AssertionError(f"no upstream {base_url} in this test")

    app = create_app(settings, transport_factory=factory)
    app.state.clock = clock
    holder["app"] = app
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    try:
        async with (
            app.router.lifespan_context(app),
            hotline.router.lifespan_context(hotline),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://testserver"
            ) as client,
        ):
            published.update((await client.get("/.well-known/jwks.json")).json())
            app_client = await create_client(client, admin, name="湘易办")
            item = await client.post(
                "/admin/catalog/items",
                json={
                    "code": ITEM,
                    "name": "测试事项",
                    "type": "公共服务",
                    "legal_basis": "测试",
                    "service_object": "person",
                    "acceptance_conditions": "无",
                    "materials": [],
                    "time_limit_days": 1,
                    "result": "答复",
                    "division": "430100",
                    "department": "长沙市政务服务中心",
                    "online": True,
                    "one_network": True,
                    "cross_province": False,
                },
                headers=admin,
            )
            assert item.status_code == 201, item.text
            onboarded = await client.post(
                "/admin/services",
                json={
                    "division": DIVISION,
                    "slug": SLUG,
                    "name": "12345政务服务便民热线",
                    "upstream_url": HOTLINE_URL,
                    "document": canonical_document(),
                    "connector": "hotline",
                    "data_classification": "internal",
                    "bindings": [{"operation": "listMyTickets", "item": ITEM}],
                },
                headers=admin,
            )
            assert onboarded.status_code == 201, onboarded.text
            await grant(client, admin, app_client["client_id"], DIVISION, SLUG, OPERATIONS)
            env = Env(app, client, hotline, settings, clock, admin, app_client)
            env.resident = await env.resident_token()
            env.other = await env.resident_token()
            yield env
    finally:
        await drop_database(url)


@pytest.fixture(autouse=True)
def fixed_clock(env: Env) -> None:
    env.clock.now = START


# -- the whole loop -----------------------------------------------------------------------------


async def test_a_ticket_from_filing_to_rating_through_the_simulator(env: Env) -> None:
    me = env.resident
    filed = await env.file(me, itemCode=ITEM)
    assert filed["status"] == "accepted"
    assert filed["statusName"] == "受理"
    assert filed["number"].startswith("HN12345")
    assert filed["centre"] == "430100"  # 芙蓉区 → the 长沙 sub-centre
    assert (filed["desk"], filed["priority"]) == ("centre", "normal")
    # 5 working days for a complaint, filed the evening before 国庆: 9, 10, 11 (调休), 13, 14.
    assert filed["deadline"] == "2025-10-14T23:59:59.999999+08:00"
    assert filed["deadlineEstimated"] is False
    assert filed["card"] is None
    assert filed["onTime"] is None
    assert [h["seq"] for h in filed["history"]] == [1]
    number = filed["number"]
    # The sub-centre works on it: 派单, 办理, 回复 (with its answer), 办结, 回访.
    env.clock.now = datetime(2025, 10, 9, 10, 0, tzinfo=TZ)
    for note in (None, None, "已联系路灯所，今日修复", None, None):
        await env.advance(number, **({"note": note} if note else {}))
    done = await env.until(me, filed["id"], lambda t: len(t["history"]) == 6)
    assert [h["status"] for h in done["history"]] == [
        "accepted",
        "dispatched",
        "handling",
        "replied",
        "closed",
        "revisited",
    ]
    assert [h["seq"] for h in done["history"]] == [1, 2, 3, 4, 5, 6]
    assert done["status"] == "revisited"
    assert done["reply"] == "已联系路灯所，今日修复"
    assert done["closedAt"] == "2025-10-09T10:00:00+08:00"
    assert done["onTime"] is True
    # 好差评: 不满意 is 差评, which opens a follow-up owned by the item's division.
    rated = await env.client.post(
        f"{GW}/tickets/{filed['id']}/rating",
        json={"level": "dissatisfied", "comment": "太慢"},
        headers=me.headers(),
    )
    assert rated.status_code == 201, rated.text
    rating = rated.json()
    assert (rating["level"], rating["levelName"]) == ("dissatisfied", "不满意")
    assert rating["followUp"]["division"] == "430100"
    # 10 working days from Thursday 9 October: 10, 11 (调休), 13-17, 20, 21, 22.
    assert rating["followUp"]["deadline"] == "2025-10-22T23:59:59.999999+08:00"
    final = await env.ticket(me, filed["id"])
    assert final["status"] == "rated"
    assert [h["seq"] for h in final["history"]] == [1, 2, 3, 4, 5, 6, 7]
    assert final["rating"]["id"] == rating["id"]
    # At the system, too: the loop is closed (评价).
    system = env.held(gdbh=number)
    assert system["zt"] == "07"
    assert system["pj"]["myd"] == "4"
    again = await env.client.post(
        f"{GW}/tickets/{filed['id']}/rating", json={"level": "satisfied"}, headers=me.headers()
    )
    problem_type(again, 409, "hotline-not-rateable")
    listed = await env.client.get(f"{GW}/ratings", headers=me.headers())
    assert rating["id"] in {r["id"] for r in listed.json()["items"]}


async def test_the_division_closes_the_follow_up_and_the_resident_sees_how(env: Env) -> None:
    filed = await env.file(env.resident)
    await env.advance(filed["number"], until="06", wait=True)
    await env.until(env.resident, filed["id"], lambda t: t["status"] == "revisited")
    rated = await env.client.post(
        f"{GW}/tickets/{filed['id']}/rating",
        json={"level": "very-dissatisfied"},
        headers=env.resident.headers(),
    )
    follow_up = rated.json()["followUp"]["id"]
    close = f"/ops/hotline/follow-ups/{follow_up}/close"
    refused = await env.client.post(close, json={"resolution": "a\u0000b"}, headers=env.admin)
    problem_type(refused, 422, "validation-failed")
    closed = await env.client.post(
        close, json={"resolution": "已上门致歉\r\n路灯已修复"}, headers=env.admin
    )
    assert closed.status_code == 200, closed.text
    mine = await env.client.get(f"{GW}/ratings", headers=env.resident.headers())
    [shown] = [
        r for r in mine.json()["items"] if r["followUp"] and r["followUp"]["id"] == follow_up
    ]
    assert shown["followUp"]["resolution"] == "已上门致歉\n路灯已修复"
    assert shown["followUp"]["closedAt"] is not None


async def test_a_ticket_not_closed_cannot_be_rated(env: Env) -> None:
    filed = await env.file(env.resident)
    answer = await env.client.post(
        f"{GW}/tickets/{filed['id']}/rating",
        json={"level": "satisfied"},
        headers=env.resident.headers(),
    )
    assert problem_type(answer, 409, "hotline-not-rateable")["status"] == 409


async def test_a_ticket_closed_at_the_system_can_be_rated_before_its_callbacks_arrive(
    env: Env,
) -> None:
    await env.sim("POST", "/_sim/outbox/hold", {"hold": True})
    try:
        filed = await env.file(env.resident)
        await env.advance(filed["number"], until="06")
        assert (await env.ticket(env.resident, filed["id"]))["status"] == "accepted"
        rated = await env.client.post(
            f"{GW}/tickets/{filed['id']}/rating",
            json={"level": "very-satisfied"},
            headers=env.resident.headers(),
        )
        assert rated.status_code == 201, rated.text
        assert rated.json()["followUp"] is None
    finally:
        await env.sim("POST", "/_sim/outbox/hold", {"hold": False})
    ticket = await env.ticket(env.resident, filed["id"])
    assert ticket["status"] == "rated"
    assert [h["seq"] for h in ticket["history"]] == [1, 2, 3, 4, 5, 6, 7]


# -- dispatch, 政企通, idempotency, privacy ----------------------------------------------------


@pytest.mark.parametrize(
    ("place", "centre"),
    [("430000", "430000"), ("430304", "430300"), ("433101", "433100"), ("431102", "431100")],
)
async def test_a_ticket_goes_to_the_sub_centre_of_its_place(
    env: Env, place: str, centre: str
) -> None:
    filed = await env.file(env.resident, division=place, category="help")
    assert filed["centre"] == centre
    assert filed["history"][0]["centre"] == centre


async def test_an_agent_files_for_the_enterprise_to_the_zqt_desk(env: Env) -> None:
    firm = seeded_enterprises(1)[0]
    person = await register(
        env.client, id_number=firm.legal_representative_id_number, phone=phone_number()
    )
    own = await login(env.client, env.app_client, person["raw"]["phone"])
    created = await register_company(env.client, own["access_token"], firm.uscc)
    assert created.status_code == 201, created.text
    agent = await login(
        env.client,
        env.app_client,
        person["raw"]["phone"],
        acting_for=str(created.json()["id"]),
    )
    headers = {**bearer(agent["access_token"]), "Idempotency-Key": key()}
    answer = await env.client.post(
        f"{GW}/tickets", json=ticket_body(content="审批窗口多次要求重复提交材料"), headers=headers
    )
    assert answer.status_code == 201, answer.text
    ticket = answer.json()
    assert (ticket["desk"], ticket["centre"], ticket["priority"]) == ("zqt", "ZQT", "urgent")
    held = env.held(gdbh=ticket["number"])
    assert (held["zqt"], held["tyshxydm"], held["yxj"]) == (True, firm.uscc, "1")
    # A suggestion from the enterprise is high, not urgent.
    headers["Idempotency-Key"] = key()
    answer = await env.client.post(
        f"{GW}/tickets", json=ticket_body(category="suggestion"), headers=headers
    )
    assert answer.json()["priority"] == "high"


async def test_the_same_idempotency_key_files_one_ticket(env: Env) -> None:
    headers = env.resident.headers(key())
    first = await env.client.post(f"{GW}/tickets", json=ticket_body(), headers=headers)
    assert first.status_code == 201, first.text
    again = await env.client.post(f"{GW}/tickets", json=ticket_body(), headers=headers)
    assert again.status_code == 200, again.text
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["number"] == first.json()["number"]
    assert env.held(wbbh=first.json()["id"])["gdbh"] == first.json()["number"]
    other = await env.client.post(
        f"{GW}/tickets", json=ticket_body(content="另一件事"), headers=headers
    )
    assert problem_type(other, 409, "hotline-idempotency-conflict")["ticket"] == first.json()["id"]
    # Concurrent retries with one key still make one ticket.
    concurrent_headers = env.resident.headers(key())
    answers = await asyncio.gather(
        *(
            env.client.post(f"{GW}/tickets", json=ticket_body(), headers=concurrent_headers)
            for _ in range(4)
        )
    )
    assert sorted(a.status_code for a in answers) == [200, 200, 200, 201], [a.text for a in answers]
    assert len({a.json()["id"] for a in answers}) == 1
    missing = await env.client.post(
        f"{GW}/tickets", json=ticket_body(), headers=env.resident.headers()
    )
    # The document requires the header: the gateway refuses before the connector.
    assert missing.status_code in (400, 422), missing.text


async def test_a_resident_sees_only_their_own_tickets(env: Env) -> None:
    mine = await env.file(env.resident)
    theirs = await env.client.get(f"{GW}/tickets/{mine['id']}", headers=env.other.headers())
    problem_type(theirs, 404, "hotline-ticket-not-found")
    listed = await env.client.get(f"{GW}/tickets", headers=env.other.headers())
    assert mine["id"] not in {t["id"] for t in listed.json()["items"]}
    own = await env.client.get(f"{GW}/tickets?pageSize=100", headers=env.resident.headers())
    assert mine["id"] in {t["id"] for t in own.json()["items"]}
    assert "history" not in own.json()["items"][0]
    rating = await env.client.post(
        f"{GW}/tickets/{mine['id']}/rating",
        json={"level": "satisfied"},
        headers=env.other.headers(),
    )
    problem_type(rating, 404, "hotline-ticket-not-found")


async def test_an_applications_token_is_refused(env: Env) -> None:
    token = await env.client.post(
        "/identity/token",
        data={"grant_type": "client_credentials"},
        auth=(env.app_client["client_id"], env.app_client["client_secret"]),
    )
    answer = await env.client.get(f"{GW}/tickets", headers=bearer(token.json()["access_token"]))
    problem_type(answer, 403, "hotline-resident-required")


async def test_a_ticket_the_system_refuses_leaves_nothing_behind(env: Env) -> None:
    headers = env.resident.headers(key())
    # A Hunan-shaped code that is no division: the gateway's connector refuses it first.
    answer = await env.client.post(
        f"{GW}/tickets", json=ticket_body(division="439999"), headers=headers
    )
    assert problem_type(answer, 422, "validation-failed")["errors"][0]["pointer"] == (
        "/body/division"
    )
    unknown_item = await env.client.post(
        f"{GW}/tickets", json=ticket_body(itemCode="NO-SUCH-ITEM"), headers=headers
    )
    problem_type(unknown_item, 422, "validation-failed")
    # The key is still free for a corrected ticket.
    fixed = await env.client.post(f"{GW}/tickets", json=ticket_body(), headers=headers)
    assert fixed.status_code == 201, fixed.text


async def test_a_number_the_system_gave_before_is_a_bad_answer_not_a_500(env: Env) -> None:
    """A system that forgot its tickets (the demo's, restarted) must not number a new one like
    an old one: the gateway refuses the answer (502) and keeps its old ticket as it was."""
    old = await env.file(env.resident)
    state = env.hotline.state.hotline.state
    day = old["number"][7:15]
    del state.tickets[old["number"]]
    state.counters[day] = int(old["number"][15:]) - 1
    answer = await env.client.post(
        f"{GW}/tickets", json=ticket_body(), headers=env.resident.headers(key())
    )
    assert problem_type(answer, 502, "upstream-bad-response")["detail"]
    assert (await env.ticket(env.resident, old["id"]))["number"] == old["number"]


# -- callbacks ----------------------------------------------------------------------------------


async def test_callbacks_delivered_3_1_2_and_again_leave_the_systems_final_state(
    env: Env,
) -> None:
    me = env.resident
    held = await env.sim("POST", "/_sim/outbox/hold", {"hold": True})
    assert held.json() == {"held": True}
    try:
        filed = await env.file(me)
        number = filed["number"]
        await env.advance(number)  # 2 派单
        await env.advance(number)  # 3 办理
        await env.advance(number, note="已处理")  # 4 回复
        outbox = (await env.sim("GET", "/_sim/outbox")).json()["events"]
        events = {e["xh"]: e["sjid"] for e in outbox if e["gdbh"] == number}
        assert sorted(events) == [1, 2, 3, 4]
        order = [events[4], events[2], events[3], events[1], events[4]]
        delivered = (await env.sim("POST", "/_sim/outbox/deliver", {"events": order})).json()
    finally:
        await env.sim("POST", "/_sim/outbox/hold", {"hold": False})
    assert [d["status"] for d in delivered] == [200] * 5, delivered
    assert [d["body"]["duplicate"] for d in delivered] == [False, False, False, True, True]
    ticket = await env.ticket(me, filed["id"])
    assert ticket["status"] == "replied"
    assert ticket["reply"] == "已处理"
    assert [(h["seq"], h["status"]) for h in ticket["history"]] == [
        (1, "accepted"),
        (2, "dispatched"),
        (3, "handling"),
        (4, "replied"),
    ]


def signed(body: Json, *, at: float, secret: str = SECRET) -> tuple[bytes, dict[str, str]]:
    return signed_callback(body, at=at, secret=secret)


async def test_callbacks_are_authenticated_and_a_replay_is_refused(env: Env) -> None:
    filed = await env.file(env.resident)
    body = {
        "sjid": f"{filed['number']}-2",
        "gdbh": filed["number"],
        "wbbh": filed["id"],
        "xh": 2,
        "zt": "02",
        "ztmc": "派单",
        "sj": "2025-09-30T18:00:00+08:00",
        "cbdw": "430100",
        "sm": "",
    }
    now = env.clock().timestamp()
    raw, headers = signed(body, at=now)
    post = env.client.post
    forged_raw, forged = signed(body, at=now, secret="not-the-secret")
    problem_type(
        await post("/callbacks/hotline", content=forged_raw, headers=forged),
        401,
        "hotline-callback-unauthenticated",
    )
    tampered = raw.replace(b'"02"', b'"05"')
    problem_type(
        await post("/callbacks/hotline", content=tampered, headers=headers),
        401,
        "hotline-callback-unauthenticated",
    )
    old_raw, old = signed(body, at=now - 301)
    problem_type(
        await post("/callbacks/hotline", content=old_raw, headers=old),
        401,
        "hotline-callback-unauthenticated",
    )
    unsigned = {"Content-Type": "application/json"}
    problem_type(
        await post("/callbacks/hotline", content=raw, headers=unsigned),
        401,
        "hotline-callback-unauthenticated",
    )
    accepted = await post("/callbacks/hotline", content=raw, headers=headers)
    assert accepted.status_code == 200, accepted.text
    assert accepted.json() == {"ticket": filed["id"], "applied": True, "duplicate": False}
    replayed = await post("/callbacks/hotline", content=raw, headers=headers)
    problem_type(replayed, 409, "hotline-callback-replayed")
    # Signed afresh (a redelivery), the same transition is acknowledged and changes nothing.
    again_raw, again = signed(body, at=now + 1)
    redelivered = await post("/callbacks/hotline", content=again_raw, headers=again)
    assert redelivered.json() == {"ticket": filed["id"], "applied": False, "duplicate": True}
    stranger_raw, stranger = signed({**body, "wbbh": "f" * 32}, at=now)
    problem_type(
        await post("/callbacks/hotline", content=stranger_raw, headers=stranger),
        404,
        "hotline-callback-unknown-ticket",
    )
    bad_raw, bad = signed({**body, "zt": "99"}, at=now)
    problem_type(
        await post("/callbacks/hotline", content=bad_raw, headers=bad),
        422,
        "hotline-callback-bad-body",
    )
    ticket = await env.ticket(env.resident, filed["id"])
    assert [h["seq"] for h in ticket["history"]] == [1, 2]


@pytest.mark.parametrize(
    ("change", "raw"),
    [
        ({"zt": ["02"]}, None),
        ({"zt": None}, None),
        ({"xh": True}, None),
        ({"sj": "9999-12-31T23:59:59-14:00"}, None),
        ({"sj": "0001-01-01T00:00:00+14:00"}, None),
        ({"sj": "2025-09-30T18:00:00"}, None),  # no offset
        ({}, b"[" * 100_000 + b"]" * 100_000),
    ],
)
async def test_a_signed_callback_outside_the_protocol_is_422_not_a_retry(
    env: Env, change: Json, raw: bytes | None
) -> None:
    """What the sender would retry (5xx) must be what can succeed later: a body that never can
    is 422, final, and changes nothing."""
    filed = await env.file(env.resident)
    body = {
        "sjid": f"{filed['number']}-2",
        "gdbh": filed["number"],
        "wbbh": filed["id"],
        "xh": 2,
        "zt": "02",
        "ztmc": "派单",
        "sj": "2025-09-30T18:00:00+08:00",
        "cbdw": "430100",
        "sm": "",
        **change,
    }
    content, headers = signed(body, at=env.clock().timestamp())
    if raw is not None:
        stamp = headers["X-Hotline-Timestamp"]
        mac = hmac.new(SECRET.encode(), stamp.encode() + b"." + raw, hashlib.sha256)
        content, headers["X-Hotline-Signature"] = raw, f"sha256={mac.hexdigest()}"
    answer = await env.client.post("/callbacks/hotline", content=content, headers=headers)
    problem_type(answer, 422, "hotline-callback-bad-body")
    assert [h["seq"] for h in (await env.ticket(env.resident, filed["id"]))["history"]] == [1]


async def test_a_ticket_the_system_reopens_is_open_until_closed_again(env: Env) -> None:
    filed = await env.file(env.resident)
    env.clock.now = datetime(2025, 10, 9, 10, 0, tzinfo=TZ)
    await env.advance(filed["number"], until="06", wait=True)
    closed = await env.until(env.resident, filed["id"], lambda t: t["status"] == "revisited")
    assert closed["onTime"] is True

    async def told(seq: int, code: str, at: str) -> None:
        body = {
            "sjid": f"{filed['number']}-{seq}",
            "gdbh": filed["number"],
            "wbbh": filed["id"],
            "xh": seq,
            "zt": code,
            "ztmc": "",
            "sj": at,
            "cbdw": "430100",
            "sm": "重办",
        }
        raw, headers = signed(body, at=env.clock().timestamp())
        answer = await env.client.post("/callbacks/hotline", content=raw, headers=headers)
        assert answer.status_code == 200, answer.text

    # The system sends it back to the unit (重办) after it was closed and visited back.
    await told(7, "03", "2025-10-10T09:00:00+08:00")
    reopened = await env.ticket(env.resident, filed["id"])
    assert (reopened["status"], reopened["closedAt"], reopened["onTime"]) == (
        "handling",
        None,
        None,
    )
    env.clock.now = datetime(2025, 10, 15, 9, 0, tzinfo=TZ)
    assert (await env.ticket(env.resident, filed["id"]))["card"] == "red"
    await told(8, "05", "2025-10-15T10:00:00+08:00")
    again = await env.ticket(env.resident, filed["id"])
    assert (again["status"], again["closedAt"], again["onTime"]) == (
        "closed",
        "2025-10-15T10:00:00+08:00",
        False,
    )


async def test_text_keeps_line_breaks_and_emoji_and_refuses_what_rearranges_it(
    env: Env,
) -> None:
    family = "\U0001f468\u200d\U0001f469\u200d\U0001f467"
    written = await env.file(env.resident, content=f"第一行\r\n第二行 {family}")
    assert written["content"] == f"第一行\n第二行 {family}"
    for bad in ("abc\u202edef", "zero\u200bwidth", "nul\u0000"):
        answer = await env.client.post(
            f"{GW}/tickets", json=ticket_body(content=bad), headers=env.resident.headers(key())
        )
        assert problem_type(answer, 422, "validation-failed")["errors"][0]["pointer"] == (
            "/body/content"
        )


async def test_a_callback_while_the_database_is_down_is_retried_not_lost(env: Env) -> None:
    from app.core.db import create_engine, create_sessionmaker

    filed = await env.file(env.resident)
    resources = env.app.state.resources
    broken = create_engine(
        env.settings, "sqlite+aiosqlite:////nonexistent-directory/for/a/database.db"
    )
    env.app.state.resources = dataclasses.replace(
        resources, engine=broken, sessionmaker=create_sessionmaker(broken)
    )
    try:
        await env.advance(filed["number"])  # 2 派单: the sender meets a database that is down
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline:
            outbox = (await env.sim("GET", "/_sim/outbox")).json()["events"]
            event = next(e for e in outbox if e["sjid"] == f"{filed['number']}-2")
            if event["attempts"] >= 2:
                break
            await asyncio.sleep(0.05)
        assert event["lastStatus"] == 503, event
        assert event["state"] == "queued"
    finally:
        env.app.state.resources = resources
        await broken.dispose()
    ticket = await env.until(env.resident, filed["id"], lambda t: len(t["history"]) == 2)
    assert ticket["status"] == "dispatched"


async def test_a_callback_503_says_retry(env: Env) -> None:
    from app.core.db import create_engine, create_sessionmaker

    filed = await env.file(env.resident)
    body = {
        "sjid": f"{filed['number']}-9",
        "gdbh": filed["number"],
        "wbbh": filed["id"],
        "xh": 9,
        "zt": "02",
        "ztmc": "派单",
        "sj": "2025-09-30T18:00:00+08:00",
        "cbdw": "430100",
        "sm": "",
    }
    raw, headers = signed(body, at=env.clock().timestamp())
    resources = env.app.state.resources
    broken = create_engine(env.settings, "sqlite+aiosqlite:////nonexistent-directory/x.db")
    env.app.state.resources = dataclasses.replace(
        resources, engine=broken, sessionmaker=create_sessionmaker(broken)
    )
    try:
        answer = await env.client.post("/callbacks/hotline", content=raw, headers=headers)
    finally:
        env.app.state.resources = resources
        await broken.dispose()
    problem = problem_type(answer, 503, "hotline-callback-not-applied")
    assert answer.headers["retry-after"] == "5"
    assert "retry" in problem["detail"].lower() or "again" in problem["detail"].lower()
    # Nothing was applied, and the same message is not a replay once the database is back.
    applied = await env.client.post("/callbacks/hotline", content=raw, headers=headers)
    assert applied.status_code == 200, applied.text


# -- deadlines and cards --------------------------------------------------------------------


async def test_cards_yellow_near_the_deadline_red_past_it(env: Env) -> None:
    filed = await env.file(env.resident)  # due 14 October, end of day
    assert filed["card"] is None
    moments: list[tuple[datetime, str | None]] = [
        (datetime(2025, 10, 10, 9, 0, tzinfo=TZ), None),  # 11 (调休), 13, 14 still ahead
        (datetime(2025, 10, 13, 9, 0, tzinfo=TZ), "yellow"),
        (datetime(2025, 10, 14, 22, 0, tzinfo=TZ), "yellow"),
        (datetime(2025, 10, 15, 0, 1, tzinfo=TZ), "red"),
    ]
    for moment, expected in moments:
        env.clock.now = moment
        assert (await env.ticket(env.resident, filed["id"]))["card"] == expected, moment
    listed = await env.client.get(f"{GW}/tickets?pageSize=100", headers=env.resident.headers())
    assert {t["id"]: t["card"] for t in listed.json()["items"]}[filed["id"]] == "red"
    # Closed after its deadline: no card, and not on time.
    env.clock.now = datetime(2025, 10, 16, 9, 0, tzinfo=TZ)
    await env.advance(filed["number"], until="05", wait=True)
    closed = await env.until(env.resident, filed["id"], lambda t: t["status"] == "closed")
    assert (closed["card"], closed["onTime"]) == (None, False)


async def test_a_consultation_is_due_the_next_working_day(env: Env) -> None:
    env.clock.now = datetime(2025, 9, 26, 16, 0, tzinfo=TZ)  # a Friday; Sunday 28 is 调休
    filed = await env.file(env.resident, category="consultation")
    assert filed["deadline"] == "2025-09-28T23:59:59.999999+08:00"


# -- rating a completed call ----------------------------------------------------------------


async def _rate_call(env: Env, resident: Resident, body: Json) -> httpx.Response:
    """POST /ratings, retried while the call is not yet in the audit log (it is written within
    a flush interval of the answer)."""
    deadline = time.monotonic() + WAIT_S
    while True:
        answer = await env.client.post(f"{GW}/ratings", json=body, headers=resident.headers())
        if answer.status_code != 404 or time.monotonic() > deadline:
            return answer
        await asyncio.sleep(0.1)


async def test_a_completed_call_is_rated_once_by_whoever_made_it(env: Env) -> None:
    call = await env.client.get(f"{GW}/tickets", headers=env.resident.headers())
    assert call.status_code == 200
    event = call.headers["xyb-event-id"]
    assert len(event) == 32
    # Another resident cannot rate it (found or not, the same 404).
    body = {"eventId": event, "level": "very-dissatisfied", "comment": "页面打不开"}
    mine = await _rate_call(env, env.resident, body)
    assert mine.status_code == 201, mine.text
    rating = mine.json()
    assert rating["subject"] == {"kind": "call", "id": event}
    assert (rating["itemCode"], rating["division"]) == (ITEM, "430100")
    assert rating["followUp"]["division"] == "430100"
    twice = await env.client.post(f"{GW}/ratings", json=body, headers=env.resident.headers())
    problem_type(twice, 409, "hotline-not-rateable")
    theirs = await env.client.post(f"{GW}/ratings", json=body, headers=env.other.headers())
    problem_type(theirs, 404, "hotline-call-not-found")
    # A call bound to no item (reading one ticket) cannot be rated.
    filed = await env.file(env.resident)
    unbound = await env.client.get(f"{GW}/tickets/{filed['id']}", headers=env.resident.headers())
    answer = await _rate_call(
        env, env.resident, {"eventId": unbound.headers["xyb-event-id"], "level": "satisfied"}
    )
    problem_type(answer, 409, "hotline-not-rateable")
