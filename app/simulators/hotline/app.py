"""``create_hotline_app``: the 12345 hotline's ticket system (12345热线工单系统) as an ASGI app.

=======  ===============================  =====================================================
POST     /api/12345/gd/create             file a ticket (``wbbh``: the gateway's reference)
POST     /api/12345/gd/query              one ticket, by ``gdbh`` or ``wbbh``, with its history
POST     /api/12345/gd/evaluate           the resident's rating of a closed ticket (05/06 → 07)
GET      /openapi.yaml, .json             its OpenAPI document
POST     /_sim/reset                      no tickets, no events, the schedule as configured
POST     /_sim/provider-state             ``{"state", "params"}``: make a state true
POST     /_sim/tickets/{gdbh}/advance     one transition now (``sendBack`` from 03)
GET      /_sim/outbox                     the callbacks and what became of them
POST     /_sim/outbox/hold                ``{"hold": bool}``: hold the automatic sender
POST     /_sim/outbox/deliver             ``{"events": [sjid, ...]}``: deliver these, in order
GET|POST /_sim/schedule                   the automatic schedule (read / change)
=======  ===============================  =====================================================

The protocol is the hotline's own (the gateway's ``hotline`` connector translates): POST with a
JSON object, the envelope ``{"code", "msg", "data"}``, pinyin-initial field names, two-digit
status codes. A request the hotline reads is answered 200 with its outcome in ``code`` (0000
success; 1001 a bad parameter, the message naming it; 2001 no such ticket; 2002 a ``wbbh`` reused
with other fields; 2003 a status that does not allow it); anything else has its HTTP status and
``code`` "9" + the status (9400, 9401, 9404, 9405, 9500, 9503), injected faults included.

Given the gateway's public keys (``gateway_jwks``), every ``/api/`` call must carry the gateway's
signed assertion (``X-XYB-Assertion`` for ``audience``), checked offline as the e-license
registry checks it; without keys (contract replay) nothing is checked. ``/_sim/*`` is neither in
the document nor checked nor faulted.

The hotline calls the gateway back on every transition (``outbox.py``) and, with ``auto``, moves
tickets along by itself (``schedule.py``). Both run as background tasks of the event loop that
serves the app, started on first use (or by the app's lifespan) and stopped by
``app.state.hotline.aclose()`` (the lifespan's shutdown and ``HotlineServer`` call it).
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from functools import cache
from importlib.resources import files
from typing import Any

import httpx
import yaml
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from app.core.identifiers import validate_uscc
from app.simulators.assertions import (
    ASSERTION_HEADER,
    AssertionRefused,
    GatewayAssertions,
    JwksSource,
    gateway_assertions,
)
from app.simulators.city.api import Clock, shanghai_now
from app.simulators.faults import FaultMiddleware, Faults, Received
from app.simulators.hotline.outbox import (
    DEFAULT_MAX_ATTEMPTS,
    DEFAULT_RETRY_DELAYS,
    DEFAULT_TIMEOUT,
    Outbox,
)
from app.simulators.hotline.schedule import DEFAULT_LATE, Scheduler, ScheduleSettings
from app.simulators.hotline.state import (
    BAD_PARAMETER,
    CATEGORIES,
    CHANNELS,
    LEVELS,
    NO_SUCH_TICKET,
    OK,
    PRIORITIES,
    REFERENCE_REUSED,
    WRONG_STATUS,
    CannotAdvance,
    Filing,
    HotlineState,
    Ticket,
    is_hunan_division,
)

Params = dict[str, Any]

# The audience of the gateway's assertions for the hotline: its service key (division/slug).
DEFAULT_AUDIENCE = "430000/hotline"
MAX_CONTENT = 2000
MAX_RATING_TEXT = 500
MAX_TEXT = 200
MAX_ITEM_CODE = 64
_REFERENCE = re.compile(r"[\x20-\x7e]{1,64}")
_HTTP_MESSAGES = {
    400: "请求体应为JSON对象",
    401: "网关断言缺失或无效",
    404: "接口不存在",
    405: "不支持的请求方法",
    409: "当前状态不允许该操作",
    500: "系统内部错误",
    503: "系统繁忙，请稍后再试",
}


@cache
def openapi_document() -> str:
    """The hotline's OpenAPI document (YAML), as served at ``/openapi.yaml``."""
    return files("app.simulators.hotline").joinpath("openapi.yaml").read_text(encoding="utf-8")


@cache
def _openapi_json() -> str:
    return json.dumps(yaml.safe_load(openapi_document()), ensure_ascii=False)


def envelope(code: str, message: str, data: object = None, status: int = 200) -> Response:
    """An answer in the hotline's envelope."""
    return JSONResponse({"code": code, "msg": message, "data": data}, status_code=status)


def hotline_error(status: int, message: str | None = None) -> Response:
    """An HTTP error in the hotline's envelope: ``code`` "9" + the status."""
    response = envelope(
        f"9{status:03d}", message or _HTTP_MESSAGES.get(status, "服务异常"), None, status
    )
    if status == 401:
        response.headers["WWW-Authenticate"] = "Bearer"
    return response


class HotlineError(Exception):
    """An HTTP error (the request was not read as one of the hotline's)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class Refused(Exception):
    """A request the hotline read and refused: HTTP 200 with a result code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


# -- the system --------------------------------------------------------------------------------


class Hotline:
    """One hotline system: its tickets (``state``), its callbacks (``outbox``) and its schedule
    (``scheduler``)."""

    def __init__(self, state: HotlineState, outbox: Outbox, scheduler: Scheduler) -> None:
        self.state = state
        self.outbox = outbox
        self.scheduler = scheduler
        state.listeners.append(outbox.queue)

    def kick(self) -> None:
        """Start (or wake) the background tasks the configuration calls for."""
        self.outbox.kick()
        self.scheduler.kick()

    def reset(self) -> None:
        """No tickets, no events, not held, the schedule as it was made."""
        self.state.reset()
        self.outbox.reset()
        self.scheduler.reset()

    def advance(
        self,
        ticket: Ticket,
        *,
        send_back: bool = False,
        note: str | None = None,
        cbdw: str | None = None,
    ) -> Ticket:
        """One transition now (the control endpoint's); the schedule re-times the ticket."""
        self.state.advance(ticket, send_back=send_back, note=note, cbdw=cbdw)
        self.scheduler.touched(ticket.gdbh)
        return ticket

    async def aclose(self) -> None:
        """Stop the sender and the schedule."""
        await self.scheduler.aclose()
        await self.outbox.aclose()


def _hotline(request: Request) -> Hotline:
    hotline: Hotline = request.app.state.hotline
    hotline.kick()
    return hotline


# -- reading a request -------------------------------------------------------------------------


async def _read(request: Request) -> Params:
    """The request's JSON object, after the gateway's assertion (when checked)."""
    assertions: GatewayAssertions | None = request.app.state.assertion
    if assertions is not None:
        try:
            request.state.assertion = assertions.verify(request.headers.get(ASSERTION_HEADER))
        except AssertionRefused as refused:
            raise HotlineError(401, refused.reason) from None
    try:
        body = json.loads(await request.body())
    except ValueError:
        raise HotlineError(400, "请求体不是合法的JSON") from None
    if not isinstance(body, dict):
        raise HotlineError(400, "请求体应为JSON对象")
    return body


def _code(body: Params, name: str, allowed: dict[str, str]) -> str:
    value = body.get(name)
    if value is None:
        raise Refused(BAD_PARAMETER, f"缺少参数{name}")
    if value not in allowed:
        listed = "、".join(f"{code}（{label}）" for code, label in allowed.items())
        raise Refused(BAD_PARAMETER, f"参数{name}应为{listed}之一")
    assert isinstance(value, str)
    return value


def _text(body: Params, name: str, largest: int, *, required: bool) -> str | None:
    """A text parameter of 1..``largest`` characters (blank or absent: None when optional)."""
    value = body.get(name)
    if value is None or (not required and isinstance(value, str) and not value.strip()):
        if required:
            raise Refused(BAD_PARAMETER, f"缺少参数{name}")
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > largest:
        raise Refused(BAD_PARAMETER, f"参数{name}应为1至{largest}个字符的字符串")
    return value


def _reference(value: object, name: str) -> str:
    if value is None:
        raise Refused(BAD_PARAMETER, f"缺少参数{name}")
    if not isinstance(value, str) or not _REFERENCE.fullmatch(value):
        raise Refused(BAD_PARAMETER, f"参数{name}应为1至64个可打印ASCII字符")
    return value


def filing_of(body: Params) -> Filing:
    """A create request's fields, checked (1001 naming the first that is wrong)."""
    wbbh = _reference(body.get("wbbh"), "wbbh")
    qdly = _code(body, "qdly", CHANNELS)
    sqlx = _code(body, "sqlx", CATEGORIES)
    nr = _text(body, "nr", MAX_CONTENT, required=True)
    assert nr is not None
    xzqh = body.get("xzqh")
    if xzqh is None:
        raise Refused(BAD_PARAMETER, "缺少参数xzqh")
    if not isinstance(xzqh, str) or not is_hunan_division(xzqh):
        raise Refused(BAD_PARAMETER, f"参数xzqh应为湖南省的行政区划代码（GB/T 2260），不是{xzqh}")
    sxbm = _text(body, "sxbm", MAX_ITEM_CODE, required=False)
    zqt = body.get("zqt")
    if not isinstance(zqt, bool):
        raise Refused(BAD_PARAMETER, "缺少参数zqt" if zqt is None else "参数zqt应为true或false")
    yxj = _code(body, "yxj", PRIORITIES)
    qymc = _text(body, "qymc", MAX_TEXT, required=False)
    tyshxydm = _text(body, "tyshxydm", MAX_TEXT, required=False)
    if tyshxydm is not None:
        reasons = validate_uscc(tyshxydm)
        if reasons:
            raise Refused(
                BAD_PARAMETER, f"参数tyshxydm不是有效的统一社会信用代码：{'；'.join(reasons)}"
            )
        tyshxydm = tyshxydm.strip().upper()
    elif zqt:
        raise Refused(BAD_PARAMETER, "政企通工单（zqt为true）须提供参数tyshxydm")
    return Filing(wbbh, qdly, sqlx, nr, xzqh, sxbm, zqt, yxj, qymc, tyshxydm)


def _ticket_by_number(hotline: Hotline, body: Params) -> Ticket:
    gdbh = body.get("gdbh")
    if gdbh is None:
        raise Refused(BAD_PARAMETER, "缺少参数gdbh")
    if not isinstance(gdbh, str) or not gdbh:
        raise Refused(BAD_PARAMETER, "参数gdbh应为字符串")
    ticket = hotline.state.find(gdbh=gdbh)
    if ticket is None:
        raise Refused(NO_SUCH_TICKET, f"工单{gdbh}不存在")
    return ticket


# -- operations --------------------------------------------------------------------------------


async def create_ticket(request: Request) -> Response:
    body = await _read(request)
    hotline = _hotline(request)
    filing = filing_of(body)
    existing = hotline.state.find(wbbh=filing.wbbh)
    if existing is not None:
        if existing.filing != filing:
            raise Refused(REFERENCE_REUSED, f"外部编号{filing.wbbh}已用于另一张内容不同的工单")
        return envelope(OK, "工单已存在", existing.as_json())
    ticket = hotline.state.create(filing)
    hotline.scheduler.kick()
    return envelope(OK, "受理成功", ticket.as_json())


async def query_ticket(request: Request) -> Response:
    body = await _read(request)
    hotline = _hotline(request)
    gdbh, wbbh = body.get("gdbh"), body.get("wbbh")
    if gdbh is None and wbbh is None:
        raise Refused(BAD_PARAMETER, "缺少参数gdbh或wbbh")
    if gdbh is not None and (not isinstance(gdbh, str) or not gdbh):
        raise Refused(BAD_PARAMETER, "参数gdbh应为字符串")
    if wbbh is not None:
        wbbh = _reference(wbbh, "wbbh")
    ticket = hotline.state.find(gdbh=gdbh, wbbh=wbbh)
    if ticket is None:
        raise Refused(NO_SUCH_TICKET, "未查询到该工单")
    return envelope(OK, "成功", ticket.as_json())


async def evaluate_ticket(request: Request) -> Response:
    body = await _read(request)
    hotline = _hotline(request)
    ticket = _ticket_by_number(hotline, body)
    myd = _code(body, "myd", LEVELS)
    pjnr = body.get("pjnr", "")
    if pjnr is None:
        pjnr = ""
    if not isinstance(pjnr, str) or len(pjnr) > MAX_RATING_TEXT:
        raise Refused(BAD_PARAMETER, f"参数pjnr应为不超过{MAX_RATING_TEXT}个字符的字符串")
    try:
        hotline.state.evaluate(ticket, myd, pjnr)
    except CannotAdvance as refused:
        raise Refused(WRONG_STATUS, refused.reason) from None
    return envelope(OK, "评价成功", ticket.as_json())


# -- the app -----------------------------------------------------------------------------------


async def _refused_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Refused)
    return envelope(exc.code, exc.message)


async def _hotline_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HotlineError)
    return hotline_error(exc.status, exc.message)


async def _http_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return hotline_error(exc.status_code)


async def _server_error_handler(request: Request, exc: Exception) -> Response:
    return hotline_error(500)


def create_hotline_app(
    *,
    callback_url: str | None = None,
    callback_secret: str | None = None,
    gateway_jwks: JwksSource | None = None,
    assertion_issuer: str | None = None,
    audience: str = DEFAULT_AUDIENCE,
    clock: Clock = shanghai_now,
    timestamp: Callable[[], float] | None = None,
    callback_transport: httpx.AsyncBaseTransport | None = None,
    callback_timeout: float = DEFAULT_TIMEOUT,
    auto: bool = False,
    step_seconds: float = 5.0,
    late: Sequence[str] = DEFAULT_LATE,
    late_factor: float = 20.0,
    send_back_every: int = 4,
    retry_delays: Sequence[float] = DEFAULT_RETRY_DELAYS,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    faults: Faults | None = None,
    received: Received | None = None,
    provider_states: bool = True,
    first_serial: int = 1,
) -> Starlette:
    """The simulated 12345 hotline, with no tickets.

    ``callback_url`` (with ``callback_secret``, the HMAC key) is where every transition is
    called back, through ``callback_transport`` when given (tests: an ``httpx.ASGITransport``
    into the gateway); without it events are kept in the outbox and never sent. ``clock``
    stamps the tickets; ``timestamp`` (epoch seconds; default: ``clock``'s) stamps and signs the
    callbacks. ``auto``, ``step_seconds``, ``late``, ``late_factor`` and ``send_back_every`` are
    the schedule (``/_sim/reset`` returns to them). ``gateway_jwks`` (with ``assertion_issuer``)
    makes every ``/api/`` call need the gateway's assertion for ``audience``. Each day's ticket
    numbers start at ``first_serial``.
    ``provider_states`` mounts ``/_sim/*``. ``app.state.hotline`` is the :class:`Hotline`.
    """
    from app.simulators.hotline.control import control_routes
    from app.simulators.hotline.provider_states import provider_state_routes

    faults = faults if faults is not None else Faults()
    received = received if received is not None else Received()
    assertions = gateway_assertions(gateway_jwks, assertion_issuer, audience)
    settings = ScheduleSettings(
        auto=auto,
        step_seconds=step_seconds,
        late=tuple(late),
        late_factor=late_factor,
        send_back_every=send_back_every,
    )
    state = HotlineState(clock, first_serial=first_serial)
    outbox = Outbox(
        url=callback_url,
        secret=callback_secret,
        transport=callback_transport,
        timestamp=timestamp or (lambda: clock().timestamp()),
        retry_delays=retry_delays,
        max_attempts=max_attempts,
        timeout=callback_timeout,
    )
    hotline = Hotline(state, outbox, Scheduler(state, settings))
    document_yaml = openapi_document()

    async def openapi_as_yaml(request: Request) -> Response:
        return Response(document_yaml, media_type="application/yaml")

    async def openapi_as_json(request: Request) -> Response:
        return Response(_openapi_json(), media_type="application/json")

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        hotline.kick()
        try:
            yield
        finally:
            await hotline.aclose()

    routes: list[BaseRoute] = [
        Route("/api/12345/gd/create", create_ticket, methods=["POST"]),
        Route("/api/12345/gd/query", query_ticket, methods=["POST"]),
        Route("/api/12345/gd/evaluate", evaluate_ticket, methods=["POST"]),
        Route("/openapi.yaml", openapi_as_yaml, methods=["GET"]),
        Route("/openapi.json", openapi_as_json, methods=["GET"]),
    ]
    if provider_states:
        routes += provider_state_routes() + control_routes()
    app = Starlette(
        routes=routes,
        middleware=[
            Middleware(
                FaultMiddleware,
                faults=faults,
                received=received,
                routes=routes,
                error_response=hotline_error,
            )
        ],
        exception_handlers={
            Refused: _refused_handler,
            HotlineError: _hotline_error_handler,
            HTTPException: _http_error_handler,
            Exception: _server_error_handler,
        },
        lifespan=lifespan,
    )
    app.state.hotline = hotline
    app.state.assertion = assertions
    app.state.faults = faults
    app.state.received = received
    return app
