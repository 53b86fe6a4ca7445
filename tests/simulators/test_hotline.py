"""The simulated 12345 hotline: its own protocol (create, query, evaluate), the status path with a
send-back, its signed callbacks (order, hold and deliver, retries), the automatic schedule, the
gateway's assertion, faults, provider states, and its contract, verified the way a user verifies
it (`xyb contracts verify ... --target simulator`)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from starlette.applications import Starlette

from app.contracts.replay import verify
from app.identity.keys import KeyRing
from app.simulators import Faults, simulator_for
from app.simulators.hotline import (
    DEFAULT_AUDIENCE,
    DEMO_PORT,
    PROVIDER_STATES,
    HotlineServer,
    Outbox,
    create_hotline_app,
    openapi_document,
)
from app.simulators.hotline.outbox import retry_after_seconds
from tests.log_guard import secret
from tests.simulators.alliance_support import (
    ISSUER,
    ROOT,
    assert_contract_passes,
    assert_document_anchored,
    fresh_keys,
    gateway_assertion,
)
from tests.simulators.clock import NOW, fixed_clock

CONTRACT = ROOT / "contracts" / "hotline" / "hotline.contract.yaml"
CALLBACK_URL = "http://gateway.example/callbacks/hotline"
SECRET = secret("hotline-callback-secret-for-tests")
FIRM = "91430102MA4L7X2K8U"  # a valid GB 32100 form of nobody
TODAY = NOW.strftime("%Y%m%d")
NOW_SECONDS = int(NOW.timestamp())
# Polls end long before this on an idle machine; the margin is for a slow, busy one.
PATIENCE = 20.0


def _filing(wbbh: str = "XYB-T-0001", **changes: Any) -> dict[str, Any]:
    """A complete create request: a complaint from the app, in 芙蓉区 (长沙市)."""
    body: dict[str, Any] = {
        "wbbh": wbbh,
        "qdly": "APP",
        "sqlx": "TS",
        "nr": "小区旁工地夜间施工噪音扰民，请协调处理。",
        "xzqh": "430102",
        "sxbm": None,
        "zqt": False,
        "yxj": "3",
    }
    body.update(changes)
    return body


def _hotline_tasks() -> list[asyncio.Task[Any]]:
    return [t for t in asyncio.all_tasks() if t.get_name().startswith("hotline") and not t.done()]


@asynccontextmanager
async def running(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    """A client of ``app``; afterwards the hotline's background tasks are stopped, and gone."""
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://hotline.example"
        ) as c:
            yield c
    finally:
        await app.state.hotline.aclose()
    assert _hotline_tasks() == []


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with running(create_hotline_app(clock=fixed_clock)) as c:
        yield c


async def call(client: httpx.AsyncClient, path: str, body: object) -> dict[str, Any]:
    """POST ``body``; the envelope of a 200 answer."""
    answer = await client.post(path, json=body)
    assert answer.status_code == 200, answer.text
    envelope: dict[str, Any] = answer.json()
    assert set(envelope) == {"code", "msg", "data"}
    return envelope


async def create(client: httpx.AsyncClient, wbbh: str = "XYB-T-0001", **changes: Any) -> Any:
    """File a ticket; its data."""
    created = await call(client, "/api/12345/gd/create", _filing(wbbh, **changes))
    assert created["code"] == "0000", created
    return created["data"]


async def advance(client: httpx.AsyncClient, gdbh: str, **body: Any) -> httpx.Response:
    return await client.post(f"/_sim/tickets/{gdbh}/advance", json=body)


async def until(condition: Callable[[], bool], what: str) -> None:
    """Wait for ``condition`` (polling; no fixed sleeps), failing after :data:`PATIENCE`."""
    deadline = time.monotonic() + PATIENCE
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.005)


# -- the gateway's callback endpoint -----------------------------------------------------------


@dataclass(frozen=True)
class Delivery:
    headers: httpx.Headers
    raw: bytes

    @property
    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = json.loads(self.raw)
        return body

    @property
    def timestamp(self) -> int:
        return int(self.headers["X-Hotline-Timestamp"])


# What the gateway answers a delivery: given its body and how often that event came (1, 2, ...),
# a response, or None for 200.
Answer = Callable[[dict[str, Any], int], httpx.Response | None]


class Gateway:
    """The gateway's ``/callbacks/hotline`` as an httpx transport: records every delivery and
    answers as ``answer`` says (200 ``{"applied", "duplicate", "ticket"}`` by default)."""

    def __init__(self, answer: Answer | None = None) -> None:
        self.deliveries: list[Delivery] = []
        self.answer = answer
        self.seen: Counter[str] = Counter()
        self.transport = httpx.MockTransport(self.handle)

    def handle(self, request: httpx.Request) -> httpx.Response:
        assert str(request.url) == CALLBACK_URL
        delivery = Delivery(request.headers, request.content)
        self.deliveries.append(delivery)
        sjid = delivery.body["sjid"]
        self.seen[sjid] += 1
        answer = self.answer(delivery.body, self.seen[sjid]) if self.answer else None
        if answer is not None:
            return answer
        duplicate = self.seen[sjid] > 1
        return httpx.Response(
            200, json={"applied": not duplicate, "duplicate": duplicate, "ticket": "t-1"}
        )

    def sjids(self) -> list[str]:
        return [d.body["sjid"] for d in self.deliveries]


def with_callbacks(gateway: Gateway, **options: Any) -> Starlette:
    """A hotline on the fixed clock that calls ``gateway`` back, retrying quickly."""
    settings: dict[str, Any] = {
        "clock": fixed_clock,
        "callback_url": CALLBACK_URL,
        "callback_secret": SECRET,
        "callback_transport": gateway.transport,
        "retry_delays": (0.01,),
        **options,
    }
    return create_hotline_app(**settings)


def assert_signed(delivery: Delivery) -> None:
    """The signature is HMAC-SHA256(secret, timestamp + "." + body), computed here afresh."""
    timestamp = delivery.headers["X-Hotline-Timestamp"]
    mac = hmac.new(SECRET.encode(), timestamp.encode() + b"." + delivery.raw, hashlib.sha256)
    assert hmac.compare_digest(delivery.headers["X-Hotline-Signature"], f"sha256={mac.hexdigest()}")
    assert delivery.headers["X-Hotline-Event"] == delivery.body["sjid"]
    assert delivery.headers["Content-Type"] == "application/json"


def outbox_states(app: Starlette) -> list[str]:
    return [event.state for event in app.state.hotline.outbox.events.values()]


# -- the protocol ------------------------------------------------------------------------------


async def test_filing_a_ticket(client: httpx.AsyncClient) -> None:
    created = await call(client, "/api/12345/gd/create", _filing(sxbm="430100-ZJ-001"))
    assert (created["code"], created["msg"]) == ("0000", "受理成功")
    ticket = created["data"]
    assert ticket["gdbh"] == f"HN12345{TODAY}000001"
    assert {k: ticket[k] for k in ("wbbh", "qdly", "sqlx", "xzqh", "sxbm", "zqt", "yxj")} == {
        "wbbh": "XYB-T-0001",
        "qdly": "APP",
        "sqlx": "TS",
        "xzqh": "430102",
        "sxbm": "430100-ZJ-001",
        "zqt": False,
        "yxj": "3",
    }
    assert (ticket["qymc"], ticket["tyshxydm"], ticket["pj"]) == (None, None, None)
    assert (ticket["cbdw"], ticket["zt"], ticket["ztmc"]) == ("430100", "01", "受理")
    assert ticket["slsj"] == "2023-11-20T10:00:00+08:00"
    assert ticket["lsjl"] == [
        {
            "xh": 1,
            "zt": "01",
            "ztmc": "受理",
            "sj": "2023-11-20T10:00:00+08:00",
            "cbdw": "430100",
            "sm": "工单已受理（湘易办，投诉）",
        }
    ]
    second = await create(client, "XYB-T-0002", xzqh="433101")  # 吉首市, 湘西州
    assert second["gdbh"] == f"HN12345{TODAY}000002"
    assert second["cbdw"] == "433100"
    provincial = await create(client, "XYB-T-0003", xzqh="430000", qdly="SZXX", sqlx="JY")
    assert provincial["cbdw"] == "430000"
    firm = await create(
        client, "XYB-T-0004", zqt=True, qymc="长沙麓山信息技术有限公司", tyshxydm=FIRM.lower()
    )
    assert (firm["cbdw"], firm["zqt"], firm["tyshxydm"]) == ("ZQT", True, FIRM)
    # A firm's ticket off the 政企通 desk goes to its division's sub-centre.
    plain_firm = await create(client, "XYB-T-0005", xzqh="430200", tyshxydm=FIRM)
    assert plain_firm["cbdw"] == "430200"


async def test_the_same_reference_again(client: httpx.AsyncClient) -> None:
    first = await create(client)
    again = await call(client, "/api/12345/gd/create", _filing())
    assert (again["code"], again["msg"]) == ("0000", "工单已存在")
    assert again["data"] == first
    # Absent, null and blank optional fields are the same filing.
    same = {k: v for k, v in _filing().items() if k != "sxbm"}
    assert (await call(client, "/api/12345/gd/create", same))["data"]["gdbh"] == first["gdbh"]
    assert (await call(client, "/api/12345/gd/create", {**same, "qymc": " "}))["code"] == "0000"
    for changes in ({"nr": "另一件事"}, {"yxj": "1"}, {"xzqh": "430103"}, {"sxbm": "X-1"}):
        reused = await call(client, "/api/12345/gd/create", _filing(**changes))
        assert (reused["code"], reused["data"]) == ("2002", None), changes
        assert "XYB-T-0001" in reused["msg"]
    assert (await create(client, "XYB-T-0002"))["gdbh"] == f"HN12345{TODAY}000002"


@pytest.mark.parametrize(
    ("changes", "says"),
    [
        ({"wbbh": None}, "wbbh"),
        ({"wbbh": ""}, "wbbh"),
        ({"wbbh": "X" * 65}, "wbbh"),
        ({"wbbh": "工单1"}, "wbbh"),
        ({"qdly": "QQ"}, "qdly"),
        ({"sqlx": None}, "sqlx"),
        ({"nr": ""}, "nr"),
        ({"nr": "长" * 2001}, "nr"),
        ({"nr": 12}, "nr"),
        ({"xzqh": "110101"}, "xzqh"),
        ({"xzqh": "440000"}, "xzqh"),
        ({"xzqh": "4301"}, "xzqh"),
        ({"xzqh": None}, "xzqh"),
        ({"sxbm": "X" * 65}, "sxbm"),
        ({"zqt": "true"}, "zqt"),
        ({"zqt": None}, "zqt"),
        ({"yxj": 1}, "yxj"),
        ({"yxj": "4"}, "yxj"),
        ({"zqt": True}, "tyshxydm"),
        ({"tyshxydm": "91430102MA4L7X2K8X"}, "tyshxydm"),
        ({"qymc": 5}, "qymc"),
    ],
)
async def test_a_bad_filing_is_refused(
    client: httpx.AsyncClient, changes: dict[str, Any], says: str
) -> None:
    refused = await call(client, "/api/12345/gd/create", _filing(**changes))
    assert (refused["code"], refused["data"]) == ("1001", None), refused
    assert says in refused["msg"]


async def test_numbers_count_per_day() -> None:
    now = [NOW]
    async with running(create_hotline_app(clock=lambda: now[0])) as c:
        assert (await create(c, "A-1"))["gdbh"] == f"HN12345{TODAY}000001"
        made = await c.post(
            "/_sim/provider-state",
            json={"state": "a ticket exists", "params": {"gdbh": f"HN12345{TODAY}000002"}},
        )
        assert made.status_code == 200, made.text
        assert (await create(c, "A-2"))["gdbh"] == f"HN12345{TODAY}000003"  # 2 is taken
        now[0] = NOW + timedelta(days=1)
        tomorrow = (NOW + timedelta(days=1)).strftime("%Y%m%d")
        ticket = await create(c, "A-3")
        assert ticket["gdbh"] == f"HN12345{tomorrow}000001"
        assert ticket["slsj"] == "2023-11-21T10:00:00+08:00"
        assert (await c.post("/_sim/reset")).status_code == 204
        now[0] = NOW
        assert (await create(c, "A-1"))["gdbh"] == f"HN12345{TODAY}000001"


async def test_querying_a_ticket(client: httpx.AsyncClient) -> None:
    ticket = await create(client)
    other = await create(client, "XYB-T-0002")
    by_number = await call(client, "/api/12345/gd/query", {"gdbh": ticket["gdbh"]})
    assert (by_number["code"], by_number["data"]) == ("0000", ticket)
    by_reference = await call(client, "/api/12345/gd/query", {"wbbh": "XYB-T-0001"})
    assert by_reference["data"] == ticket
    both = await call(client, "/api/12345/gd/query", {"gdbh": ticket["gdbh"], "wbbh": "XYB-T-0001"})
    assert both["data"] == ticket
    for body in (
        {"gdbh": ticket["gdbh"], "wbbh": "XYB-T-0002"},  # two tickets' keys: neither
        {"gdbh": other["gdbh"][:-1] + "9"},
        {"wbbh": "XYB-NOBODY"},
    ):
        missing = await call(client, "/api/12345/gd/query", body)
        assert (missing["code"], missing["data"]) == ("2001", None), body
    for body, says in (({}, "gdbh"), ({"gdbh": 5}, "gdbh"), ({"wbbh": "工单"}, "wbbh")):
        refused = await call(client, "/api/12345/gd/query", body)
        assert refused["code"] == "1001"
        assert says in refused["msg"]


async def test_the_status_path_with_a_send_back(client: httpx.AsyncClient) -> None:
    gdbh = (await create(client))["gdbh"]
    assert (await advance(client, gdbh)).json()["zt"] == "02"
    refused = await advance(client, gdbh, sendBack=True)
    assert (refused.status_code, refused.json()["code"]) == (409, "9409")
    assert (await advance(client, gdbh)).json()["zt"] == "03"
    sent_back = await advance(client, gdbh, sendBack=True, note="属湘潭市管辖", cbdw="430300")
    assert sent_back.status_code == 200, sent_back.text
    ticket = sent_back.json()
    assert (ticket["zt"], ticket["cbdw"]) == ("02", "430300")
    assert ticket["lsjl"][-1]["sm"] == "退回：属湘潭市管辖"
    assert ticket["lsjl"][-1]["cbdw"] == "430300"
    assert (await advance(client, gdbh)).json()["lsjl"][-1][
        "sm"
    ] == "湘潭市12345热线分中心已签收，正在办理"
    replied = (await advance(client, gdbh, note="已协调施工单位停止夜间作业。")).json()
    assert (replied["zt"], replied["lsjl"][-1]["sm"]) == ("04", "已协调施工单位停止夜间作业。")
    assert (await advance(client, gdbh)).json()["zt"] == "05"
    assert (await advance(client, gdbh)).json()["zt"] == "06"
    waiting = await advance(client, gdbh)
    assert (waiting.status_code, waiting.json()["code"]) == (409, "9409")
    assert "评价" in waiting.json()["msg"]
    ticket = (await call(client, "/api/12345/gd/query", {"gdbh": gdbh}))["data"]
    assert [e["zt"] for e in ticket["lsjl"]] == ["01", "02", "03", "02", "03", "04", "05", "06"]
    assert [e["xh"] for e in ticket["lsjl"]] == list(range(1, 9))
    assert [e["cbdw"] for e in ticket["lsjl"]] == ["430100"] * 3 + ["430300"] * 5
    assert [e["ztmc"] for e in ticket["lsjl"]][-3:] == ["回复", "办结", "回访"]
    # The control endpoint's refusals.
    assert (await advance(client, "HN1234520231120999999")).status_code == 404
    for body in ({"sendBack": "yes"}, {"note": ""}, {"cbdw": "430102"}, {"cbdw": "110000"}):
        assert (await advance(client, gdbh, **body)).status_code == 400, body
    other = (await create(client, "XYB-T-0002"))["gdbh"]
    assert (await advance(client, other, cbdw="430300")).status_code == 409  # only with a send-back
    not_json = await client.post(f"/_sim/tickets/{other}/advance", content=b"[1]")
    assert not_json.status_code == 400


async def test_rating_a_ticket(client: httpx.AsyncClient) -> None:
    gdbh = (await create(client))["gdbh"]
    early = await call(client, "/api/12345/gd/evaluate", {"gdbh": gdbh, "myd": "1"})
    assert (early["code"], early["data"]) == ("2003", None)
    for _ in range(4):
        await advance(client, gdbh)
    for body, says in (
        ({"gdbh": gdbh, "myd": "6"}, "myd"),
        ({"gdbh": gdbh, "myd": 2}, "myd"),
        ({"gdbh": gdbh}, "myd"),
        ({"gdbh": gdbh, "myd": "2", "pjnr": "长" * 501}, "pjnr"),
        ({"myd": "2"}, "gdbh"),
    ):
        refused = await call(client, "/api/12345/gd/evaluate", body)
        assert refused["code"] == "1001", body
        assert says in refused["msg"]
    # At 05 办结 (before 回访) a rating is taken too.
    rated = await call(
        client, "/api/12345/gd/evaluate", {"gdbh": gdbh, "myd": "5", "pjnr": "没有解决问题"}
    )
    assert (rated["code"], rated["msg"]) == ("0000", "评价成功")
    ticket = rated["data"]
    assert (ticket["zt"], ticket["ztmc"]) == ("07", "评价")
    assert ticket["pj"] == {"myd": "5", "pjnr": "没有解决问题", "sj": "2023-11-20T10:00:00+08:00"}
    assert ticket["lsjl"][-1]["xh"] == 6
    assert ticket["lsjl"][-1]["sm"] == "诉求人评价：非常不满意。没有解决问题"
    twice = await call(client, "/api/12345/gd/evaluate", {"gdbh": gdbh, "myd": "1"})
    assert (twice["code"], twice["msg"]) == ("2003", "该工单已评价")
    assert (await advance(client, gdbh)).status_code == 409
    unknown = await call(client, "/api/12345/gd/evaluate", {"gdbh": gdbh[:-1] + "9", "myd": "1"})
    assert unknown["code"] == "2001"
    # From 06 回访, without a text.
    other = (await create(client, "XYB-T-0002"))["gdbh"]
    for _ in range(5):
        await advance(client, other)
    plain = await call(client, "/api/12345/gd/evaluate", {"gdbh": other, "myd": "2"})
    assert plain["data"]["pj"]["pjnr"] == ""
    assert plain["data"]["lsjl"][-1] == {
        "xh": 7,
        "zt": "07",
        "ztmc": "评价",
        "sj": "2023-11-20T10:00:00+08:00",
        "cbdw": "430100",
        "sm": "诉求人评价：满意",
    }


async def test_what_is_not_a_request_has_an_http_status(client: httpx.AsyncClient) -> None:
    for content in (b"not json", b"[1, 2]"):
        answer = await client.post("/api/12345/gd/query", content=content)
        assert answer.status_code == 400
        assert answer.json()["code"] == "9400"
        assert answer.json()["data"] is None
    wrong_method = await client.get("/api/12345/gd/query")
    assert (wrong_method.status_code, wrong_method.json()["code"]) == (405, "9405")
    nowhere = await client.post("/api/12345/gd/nowhere", json={})
    assert (nowhere.status_code, nowhere.json()["code"]) == (404, "9404")


async def test_its_document_is_served(client: httpx.AsyncClient) -> None:
    as_yaml = await client.get("/openapi.yaml")
    assert as_yaml.text == openapi_document()
    assert as_yaml.headers["content-type"].startswith("application/yaml")
    as_json = await client.get("/openapi.json")
    assert as_json.json() == yaml.safe_load(openapi_document())
    assert set(as_json.json()["paths"]) == {
        "/api/12345/gd/create",
        "/api/12345/gd/query",
        "/api/12345/gd/evaluate",
        "/openapi.yaml",
        "/openapi.json",
    }


# -- faults and the gateway's assertion --------------------------------------------------------


async def test_faults_are_injected_in_the_hotlines_envelope() -> None:
    faults = Faults(error_rate=1.0, error_status=503)
    app = create_hotline_app(faults=faults, clock=fixed_clock)
    async with running(app) as c:
        failed = await c.post("/api/12345/gd/query", json={"wbbh": "X"})
        assert failed.status_code == 503
        assert failed.json() == {"code": "9503", "msg": "系统繁忙，请稍后再试", "data": None}
        faults.update(error_rate=0.0, malformed="json")
        broken = await c.post("/api/12345/gd/query", json={"wbbh": "X"})
        assert broken.status_code == 200
        with pytest.raises(ValueError, match=r"Expecting|Unterminated|Extra"):
            broken.json()
        faults.clear()
        assert (await c.post("/api/12345/gd/query", json={"wbbh": "X"})).status_code == 200
        assert (await c.get("/_sim/outbox")).status_code == 200  # never faulted nor counted
    assert app.state.received[("POST", "/api/12345/gd/query")] == 3


def _assertion(keys: KeyRing, **changes: Any) -> str:
    return gateway_assertion(keys, **{"audience": DEFAULT_AUDIENCE, "id_number": None, **changes})


async def test_given_the_gateways_keys_it_requires_its_assertion(gateway_keys: KeyRing) -> None:
    assert DEFAULT_AUDIENCE == "430000/hotline"
    app = create_hotline_app(
        clock=fixed_clock, gateway_jwks=gateway_keys.jwks(), assertion_issuer=ISSUER
    )
    other = fresh_keys()
    async with running(app) as c:

        async def with_header(token: str | None) -> httpx.Response:
            headers = {} if token is None else {"X-XYB-Assertion": token}
            return await c.post("/api/12345/gd/create", json=_filing(), headers=headers)

        refused = {
            "none": None,
            "garbage": "not-a-jwt",
            "another key": _assertion(other),
            "another audience": _assertion(gateway_keys, audience="430000/elicense"),
            "another issuer": _assertion(gateway_keys, issuer="https://elsewhere.example"),
            "expired": _assertion(gateway_keys, now=time.time() - 3600),
        }
        for why, token in refused.items():
            answer = await with_header(token)
            assert answer.status_code == 401, why
            assert answer.json()["code"] == "9401", why
            assert answer.json()["data"] is None
        assert app.state.hotline.state.tickets == {}  # nothing was filed
        accepted = await with_header(_assertion(gateway_keys))
        assert accepted.status_code == 200
        assert accepted.json()["code"] == "0000"
        # The document and the simulator's own endpoints need none.
        assert (await c.get("/openapi.yaml")).status_code == 200
        assert (await c.post("/_sim/reset")).status_code == 204


def test_checking_assertions_needs_the_issuer(gateway_keys: KeyRing) -> None:
    with pytest.raises(ValueError, match="issuer"):
        create_hotline_app(gateway_jwks=gateway_keys.jwks())


# -- callbacks ---------------------------------------------------------------------------------


async def test_one_signed_callback_per_transition_in_order() -> None:
    gateway = Gateway()
    app = with_callbacks(gateway)
    async with running(app) as c:
        ticket = await create(c)
        gdbh = ticket["gdbh"]
        await advance(c, gdbh)
        await advance(c, gdbh)
        await advance(c, gdbh, sendBack=True, note="请重新派单")
        await advance(c, gdbh)
        await until(lambda: len(gateway.deliveries) == 5, "five callbacks")
        assert gateway.sjids() == [f"{gdbh}-{xh}" for xh in range(1, 6)]
        history = (await call(c, "/api/12345/gd/query", {"gdbh": gdbh}))["data"]["lsjl"]
        for delivery, entry in zip(gateway.deliveries, history, strict=True):
            assert_signed(delivery)
            assert delivery.body == {
                "sjid": f"{gdbh}-{entry['xh']}",
                "gdbh": gdbh,
                "wbbh": "XYB-T-0001",
                **entry,
            }
            assert delivery.timestamp == NOW_SECONDS  # the clock's second, the first attempt
        assert gateway.deliveries[3].body["sm"] == "退回：请重新派单"
        outbox = (await c.get("/_sim/outbox")).json()
        assert outbox["held"] is False
        assert outbox["events"][0] == {
            "sjid": f"{gdbh}-1",
            "gdbh": gdbh,
            "xh": 1,
            "attempts": 1,
            "state": "delivered",
            "lastStatus": 200,
        }
        assert {e["state"] for e in outbox["events"]} == {"delivered"}
        # A rating is one more transition, called back too; a repeated filing is none.
        await call(c, "/api/12345/gd/create", _filing())
        for _ in range(3):
            await advance(c, gdbh)
        await call(c, "/api/12345/gd/evaluate", {"gdbh": gdbh, "myd": "1"})
        await until(lambda: len(gateway.deliveries) == 9, "the rating's callback")
        assert [d.body["zt"] for d in gateway.deliveries][-4:] == ["04", "05", "06", "07"]


async def test_the_callback_timestamp_comes_from_its_own_clock() -> None:
    gateway = Gateway()
    app = with_callbacks(gateway, timestamp=lambda: 1_800_000_000.75)
    async with running(app) as c:
        await create(c)
        await until(lambda: len(gateway.deliveries) == 1, "a callback")
    assert gateway.deliveries[0].timestamp == 1_800_000_000
    assert_signed(gateway.deliveries[0])


async def test_held_events_are_delivered_in_the_order_asked_with_a_redelivery() -> None:
    gateway = Gateway()
    app = with_callbacks(gateway)
    async with running(app) as c:
        assert (await c.post("/_sim/outbox/hold", json={"hold": True})).json() == {"held": True}
        gdbh = (await create(c))["gdbh"]
        await advance(c, gdbh)
        await advance(c, gdbh)
        await asyncio.sleep(0.05)  # the sender's chance to (wrongly) send; none is needed
        assert gateway.deliveries == []
        outbox = (await c.get("/_sim/outbox")).json()
        assert outbox["held"] is True
        assert [(e["xh"], e["state"], e["attempts"]) for e in outbox["events"]] == [
            (1, "queued", 0),
            (2, "queued", 0),
            (3, "queued", 0),
        ]
        order = [f"{gdbh}-3", f"{gdbh}-1", f"{gdbh}-2", f"{gdbh}-3"]
        answered = await c.post("/_sim/outbox/deliver", json={"events": order})
        assert answered.status_code == 200, answered.text
        answers = answered.json()
        assert [(a["sjid"], a["status"]) for a in answers] == [(sjid, 200) for sjid in order]
        assert answers[0]["body"] == {"applied": True, "duplicate": False, "ticket": "t-1"}
        assert answers[3]["body"]["duplicate"] is True
        assert gateway.sjids() == order
        for delivery in gateway.deliveries:
            assert_signed(delivery)
        first, again = gateway.deliveries[0], gateway.deliveries[3]
        # The same event, signed afresh: a later timestamp, so another signature (no replay).
        assert first.raw == again.raw
        assert again.timestamp > first.timestamp
        assert again.headers["X-Hotline-Signature"] != first.headers["X-Hotline-Signature"]
        outbox = (await c.get("/_sim/outbox")).json()
        assert [(e["state"], e["attempts"]) for e in outbox["events"]] == [
            ("delivered", 1),
            ("delivered", 1),
            ("delivered", 2),
        ]
        assert (await c.post("/_sim/outbox/hold", json={"hold": False})).json() == {"held": False}
        assert app.state.hotline.outbox.heads() == []  # nothing is left to send
        # The control endpoint's refusals.
        unknown = await c.post("/_sim/outbox/deliver", json={"events": [f"{gdbh}-9"]})
        assert unknown.status_code == 404
        assert f"{gdbh}-9" in unknown.json()["msg"]
        for body in ({"events": "x"}, {"events": [1]}, {}):
            assert (await c.post("/_sim/outbox/deliver", json=body)).status_code == 400
        assert (await c.post("/_sim/outbox/hold", json={"hold": "yes"})).status_code == 400
        assert len(gateway.deliveries) == 4


async def test_without_a_callback_url_events_are_kept(client: httpx.AsyncClient) -> None:
    gdbh = (await create(client))["gdbh"]
    outbox = (await client.get("/_sim/outbox")).json()
    assert outbox["events"][0]["state"] == "queued"
    refused = await client.post("/_sim/outbox/deliver", json={"events": [f"{gdbh}-1"]})
    assert (refused.status_code, refused.json()["code"]) == (409, "9409")
    assert (await client.post("/_sim/reset")).status_code == 204
    assert (await client.get("/_sim/outbox")).json() == {"held": False, "events": []}


async def test_a_callback_is_retried_until_taken_and_the_next_waits() -> None:
    def answer(body: dict[str, Any], nth: int) -> httpx.Response | None:
        if body["xh"] == 1 and nth == 1:
            raise httpx.ConnectError("the gateway is down")
        if body["xh"] == 1 and nth == 2:
            return httpx.Response(503, headers={"Retry-After": "0"}, json={"detail": "retry"})
        if body["xh"] == 1 and nth == 3:
            return httpx.Response(429)
        return None

    gateway = Gateway(answer)
    app = with_callbacks(gateway)
    async with running(app) as c:
        gdbh = (await create(c))["gdbh"]
        await advance(c, gdbh)
        await until(lambda: outbox_states(app) == ["delivered"] * 2, "both delivered")
    assert gateway.sjids() == [f"{gdbh}-1"] * 4 + [f"{gdbh}-2"]
    stamps = [d.timestamp for d in gateway.deliveries[:4]]
    assert stamps == sorted(set(stamps))  # each attempt signed afresh
    events = list(app.state.hotline.outbox.events.values())
    assert [(e.attempts, e.last_status) for e in events] == [(4, 200), (1, 200)]


async def test_a_refusal_is_final_and_attempts_are_bounded() -> None:
    def answer(body: dict[str, Any], nth: int) -> httpx.Response | None:
        if body["xh"] == 1:
            return httpx.Response(404, json={"title": "unknown wbbh"})
        if body["xh"] == 2:
            return httpx.Response(500)
        return None

    gateway = Gateway(answer)
    app = with_callbacks(gateway, max_attempts=3)
    async with running(app) as c:
        gdbh = (await create(c))["gdbh"]
        await advance(c, gdbh)
        await advance(c, gdbh)
        await until(lambda: outbox_states(app) == ["failed", "failed", "delivered"], "the end")
        outbox = (await c.get("/_sim/outbox")).json()["events"]
    assert [(e["attempts"], e["lastStatus"]) for e in outbox] == [(1, 404), (3, 500), (1, 200)]
    assert gateway.sjids() == [f"{gdbh}-1", f"{gdbh}-2", f"{gdbh}-2", f"{gdbh}-2", f"{gdbh}-3"]


def test_retry_delays() -> None:
    outbox = Outbox(url=None, secret=None, retry_delays=(1, 2, 4))
    assert [outbox.retry_delay(n) for n in (1, 2, 3, 4, 10)] == [1, 2, 4, 4, 4]
    assert outbox.retry_delay(1, retry_after=3.5) == 3.5
    assert outbox.retry_delay(1, retry_after=600) == 4  # capped at the longest delay
    default = Outbox(url=None, secret=None)
    assert [default.retry_delay(n) for n in range(1, 9)] == [1, 2, 4, 8, 16, 30, 30, 30]
    assert default.max_attempts == 20
    assert retry_after_seconds("7") == 7
    assert retry_after_seconds(None) is None
    assert retry_after_seconds("soon") is None
    later = format_datetime(datetime.now().astimezone() + timedelta(seconds=90), usegmt=False)
    assert 60 < (retry_after_seconds(later) or 0) <= 90
    with pytest.raises(ValueError, match="secret"):
        Outbox(url=CALLBACK_URL, secret=None)
    with pytest.raises(ValueError, match="retry_delays"):
        Outbox(url=None, secret=None, retry_delays=())
    with pytest.raises(ValueError, match="max_attempts"):
        Outbox(url=None, secret=None, max_attempts=0)


# -- the automatic schedule --------------------------------------------------------------------


def _statuses(app: Starlette, gdbh: str) -> list[str]:
    return [entry.zt for entry in app.state.hotline.state.tickets[gdbh].lsjl]


async def test_the_schedule_moves_tickets_to_their_revisit() -> None:
    gateway = Gateway()
    app = with_callbacks(
        gateway,
        auto=True,
        step_seconds=0.02,
        late=["430500"],
        late_factor=10_000,
        send_back_every=2,
    )
    tickets = app.state.hotline.state.tickets
    async with running(app) as c:
        first = (await create(c, "XYB-S-1"))["gdbh"]
        second = (await create(c, "XYB-S-2", xzqh="430104"))["gdbh"]  # the 2nd: sent back once
        late = (await create(c, "XYB-S-3", xzqh="430502"))["gdbh"]  # 邵阳: late
        await until(lambda: tickets[first].zt == tickets[second].zt == "06", "both at 06 回访")
        path = ["01", "02", "03", "04", "05", "06"]
        assert _statuses(app, first) == path
        assert _statuses(app, second) == ["01", "02", "03", "02", "03", "04", "05", "06"]
        assert tickets[second].lsjl[3].sm.startswith("退回：")
        assert tickets[late].zt == "01"  # a step of its unit takes 200 s
        await until(lambda: len(gateway.deliveries) == 6 + 8 + 1, "their callbacks")

        # The late unit catches up once it is no longer late; nothing passes 06 by itself.
        changed = await c.post("/_sim/schedule", json={"late": []})
        assert changed.json()["late"] == []
        await until(lambda: tickets[late].zt == "06", "the late ticket at 06")
        assert _statuses(app, late) == path
        assert _statuses(app, first) == path
        await until(lambda: len(gateway.deliveries) == 6 + 8 + 6, "all callbacks")
        for gdbh in (first, second, late):
            xhs = [d.body["xh"] for d in gateway.deliveries if d.body["gdbh"] == gdbh]
            assert xhs == list(range(1, len(tickets[gdbh].lsjl) + 1))
        rated = await call(c, "/api/12345/gd/evaluate", {"gdbh": first, "myd": "2"})
        assert rated["data"]["zt"] == "07"

        # Off: the schedule's task ends.
        assert (await c.post("/_sim/schedule", json={"auto": False})).json()["auto"] is False
        await until(
            lambda: [t for t in _hotline_tasks() if "schedule" in t.get_name()] == [],
            "the schedule's task to end",
        )


async def test_the_schedules_steps_late_units_send_backs_and_manual_steps() -> None:
    """The schedule's arithmetic, ticked by hand at chosen times (the schedule itself is off)."""
    app = create_hotline_app(
        clock=fixed_clock, step_seconds=10, late=["430500"], late_factor=3, send_back_every=1
    )
    scheduler = app.state.hotline.scheduler
    async with running(app) as c:
        gdbh = (await create(c))["gdbh"]
        late = (await create(c, "XYB-T-0002", xzqh="430502"))["gdbh"]
        assert scheduler.tick(100.0) == 110.0  # both timed from now: 110 and 130 (late)
        assert scheduler.tick(109.9) == 110.0
        assert _statuses(app, gdbh) == ["01"]
        assert scheduler.tick(110.0) == 120.0
        assert (_statuses(app, gdbh), _statuses(app, late)) == (["01", "02"], ["01"])
        # A step by hand: the ticket's next scheduled step is a full step later.
        assert (await advance(c, gdbh)).json()["zt"] == "03"
        assert scheduler.tick(115.0) == 125.0
        assert scheduler.tick(125.0) == 130.0  # every ticket is sent back once, from 03
        assert _statuses(app, gdbh) == ["01", "02", "03", "02"]
        assert scheduler.tick(130.0) == 135.0
        assert _statuses(app, late) == ["01", "02"]
        for now in (135.0, 145.0, 155.0, 165.0, 175.0):
            scheduler.tick(now)
        assert _statuses(app, gdbh) == ["01", "02", "03", "02", "03", "04", "05", "06"]
        assert scheduler.tick(300.0) == 330.0  # only the late ticket is still open
        assert _statuses(app, gdbh)[-1] == "06"


async def test_the_schedule_settings(client: httpx.AsyncClient) -> None:
    defaults = {
        "auto": False,
        "stepSeconds": 5.0,
        "late": ["430500", "431300"],
        "lateFactor": 20.0,
        "sendBackEvery": 4,
    }
    assert (await client.get("/_sim/schedule")).json() == defaults
    for body in (
        {"stepSeconds": 0},
        {"stepSeconds": "1"},
        {"lateFactor": -1},
        {"late": ["110000"]},
        {"late": ["430102"]},
        {"late": "430500"},
        {"sendBackEvery": -1},
        {"sendBackEvery": 1.5},
        {"auto": "yes"},
        {"speed": 2},
    ):
        refused = await client.post("/_sim/schedule", json=body)
        assert refused.status_code == 400, body
        assert refused.json()["code"] == "9400"
    changed = await client.post(
        "/_sim/schedule", json={"stepSeconds": 1, "late": ["ZQT", "430000"], "sendBackEvery": 0}
    )
    assert changed.json() == {
        **defaults,
        "stepSeconds": 1,
        "late": ["ZQT", "430000"],
        "sendBackEvery": 0,
    }
    assert (await client.post("/_sim/reset")).status_code == 204
    assert (await client.get("/_sim/schedule")).json() == defaults


async def test_the_lifespan_starts_and_stops_its_tasks() -> None:
    gateway = Gateway()
    app = with_callbacks(gateway, auto=True, step_seconds=0.01, late=[])
    async with app.router.lifespan_context(app):
        names = sorted(t.get_name() for t in _hotline_tasks())
        assert names == ["hotline outbox", "hotline schedule"]
    assert _hotline_tasks() == []


async def test_it_serves_on_a_socket() -> None:
    gateway = Gateway()
    async with HotlineServer(
        clock=fixed_clock,
        callback_url=CALLBACK_URL,
        callback_secret=SECRET,
        callback_transport=gateway.transport,
        auto=True,
        step_seconds=0.01,
        late=[],
    ) as server:
        async with httpx.AsyncClient(base_url=server.url) as c:
            gdbh = (await create(c))["gdbh"]
        tickets = server.hotline.state.tickets
        await until(lambda: tickets[gdbh].zt == "06", "the ticket at 06")
        await until(lambda: len(gateway.deliveries) == 6, "its callbacks")
        assert server.url.startswith("http://127.0.0.1:")
    assert _hotline_tasks() == []


# -- provider states ---------------------------------------------------------------------------


async def _state(client: httpx.AsyncClient, state: str, **params: Any) -> dict[str, Any]:
    answer = await client.post("/_sim/provider-state", json={"state": state, "params": params})
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    assert body["state"] == state
    used: dict[str, Any] = body["params"]
    return used


async def test_provider_states(client: httpx.AsyncClient) -> None:
    assert list(PROVIDER_STATES) == [
        "a ticket exists",
        "a closed ticket exists",
        "no ticket with this reference",
    ]
    made = await _state(
        client, "a ticket exists", gdbh="HN1234520251201000001", wbbh="XYB-P-1", zt="04"
    )
    assert made == {
        "gdbh": "HN1234520251201000001",
        "wbbh": "XYB-P-1",
        "zt": "04",
        "cbdw": "430100",
    }
    found = (await call(client, "/api/12345/gd/query", {"wbbh": "XYB-P-1"}))["data"]
    assert [e["zt"] for e in found["lsjl"]] == ["01", "02", "03", "04"]
    # The arranged history queued no callbacks.
    assert (await client.get("/_sim/outbox")).json()["events"] == []
    # The same filing again is that ticket; the state's defaults are the filing's fields.
    again = await call(
        client, "/api/12345/gd/create", _filing("XYB-P-1", sqlx="ZX", nr=found["nr"], xzqh="430100")
    )
    assert (again["code"], again["data"]["gdbh"]) == ("0000", "HN1234520251201000001")

    closed = await _state(client, "a closed ticket exists", wbbh="XYB-P-2", xzqh="431302")
    assert (closed["zt"], closed["cbdw"]) == ("06", "431300")
    assert closed["gdbh"] == f"HN12345{TODAY}000001"
    at_05 = await _state(client, "a closed ticket exists", wbbh="XYB-P-3", zt="05")
    assert at_05["zt"] == "05"
    firm = await _state(
        client, "a ticket exists", wbbh="XYB-P-4", zqt=True, tyshxydm=FIRM, qymc="某公司"
    )
    assert firm["cbdw"] == "ZQT"
    rated = await _state(client, "a ticket exists", wbbh="XYB-P-5", zt="07", myd="4")
    ticket = (await call(client, "/api/12345/gd/query", {"gdbh": rated["gdbh"]}))["data"]
    assert (ticket["zt"], ticket["pj"]["myd"], len(ticket["lsjl"])) == ("07", "4", 7)
    default = await _state(client, "a ticket exists")
    assert (default["wbbh"], default["zt"]) == ("XYB-STATE-000001", "01")

    # Replacing: the same number with another reference.
    await _state(client, "a ticket exists", gdbh="HN1234520251201000001", wbbh="XYB-P-9")
    assert (await call(client, "/api/12345/gd/query", {"wbbh": "XYB-P-1"}))["code"] == "2001"
    gone = await _state(client, "no ticket with this reference", gdbh="HN1234520251201000001")
    assert gone == {"gdbh": "HN1234520251201000001"}
    assert (await call(client, "/api/12345/gd/query", {"wbbh": "XYB-P-9"}))["code"] == "2001"
    made_up = await _state(client, "no ticket with this reference")
    assert made_up["wbbh"].startswith("XYB-STATE-")

    assert (await client.post("/_sim/reset")).status_code == 204
    assert (await call(client, "/api/12345/gd/query", {"wbbh": "XYB-P-2"}))["code"] == "2001"


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        b'{"state": "a unicorn exists"}',
        b'{"state": "a ticket exists", "params": []}',
        b'{"state": "a ticket exists", "params": {"gdbh": "HN123"}}',
        b'{"state": "a ticket exists", "params": {"zt": "08"}}',
        b'{"state": "a ticket exists", "params": {"xzqh": "110101"}}',
        b'{"state": "a ticket exists", "params": {"zt": "07", "myd": "9"}}',
        b'{"state": "a closed ticket exists", "params": {"zt": "04"}}',
        b'{"state": "no ticket with this reference", "params": {"wbbh": ""}}',
    ],
)
async def test_bad_provider_state_requests(client: httpx.AsyncClient, body: bytes) -> None:
    answer = await client.post(
        "/_sim/provider-state", content=body, headers={"content-type": "application/json"}
    )
    assert answer.status_code == 400
    assert answer.json()["code"] == "9400"
    if b"unicorn" in body:
        assert answer.json()["known_states"] == list(PROVIDER_STATES)


# -- registration, document and contract -------------------------------------------------------


def test_it_is_registered_as_a_simulated_provider() -> None:
    provider = simulator_for("hotline", "hotline")
    assert provider.document() == openapi_document()
    assert provider.demo_url == f"http://127.0.0.1:{DEMO_PORT}" == "http://127.0.0.1:9020"
    assert (provider.connector, provider.division) == ("hotline", "430000")


def test_the_contract_anchors_the_simulators_document() -> None:
    """contracts/hotline/hotline.openapi.yaml is the simulator's document, byte for byte."""
    assert_document_anchored(CONTRACT, openapi_document())


def test_the_contract_passes_against_the_simulator() -> None:
    """The done criterion, as a user types it."""
    assert_contract_passes(CONTRACT, "15 passed, 0 failed, 0 skipped")


async def test_a_contract_the_hotline_does_not_keep_fails(tmp_path: Path) -> None:
    """Replay really asks the simulator: an expectation it does not meet fails, by name."""
    text = CONTRACT.read_text(encoding="utf-8")
    broken_text = text.replace("          cbdw: ZQT\n", '          cbdw: "430100"\n', 1)
    assert broken_text != text
    (tmp_path / "hotline.openapi.yaml").write_text(openapi_document(), encoding="utf-8")
    broken = tmp_path / "hotline.contract.yaml"
    broken.write_text(broken_text, encoding="utf-8")
    report = await verify([broken], target="simulator")
    failed = {r.interaction: r for r in report.results if r.outcome == "fail"}
    assert set(failed) == {"file-an-enterprise-ticket"}
    assert any(m.path == "$.data.cbdw" for m in failed["file-an-enterprise-ticket"].mismatches)
    assert sum(r.outcome == "pass" for r in report.results) == 14
