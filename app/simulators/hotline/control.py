"""``/_sim/*`` beyond provider states: move a ticket, hold and deliver callbacks, run the schedule.

=======  ===============================  =====================================================
POST     /_sim/tickets/{gdbh}/advance     ``{"sendBack"?, "note"?, "cbdw"?}``: one transition;
                                          ``{"until": "06", "wait": true}``: transitions up to a
                                          status, answered once their callbacks are delivered
                                          now (the next on the path; ``sendBack`` from 03 only,
                                          to ``cbdw`` or the same unit); answers the ticket; 404
                                          no such ticket, 409 nothing can advance (06/07 wait
                                          for the resident); ``{"until": "06", "wait": true}``:
                                          transitions up to that status (none when it is there),
                                          answered once their callbacks are delivered
GET      /_sim/outbox                     ``{"held", "events": [{"sjid", "gdbh", "xh",
                                          "attempts", "state", "lastStatus"}]}``
POST     /_sim/outbox/hold                ``{"hold": bool}``: while held, events queue unsent
POST     /_sim/outbox/deliver             ``{"events": [sjid, ...]}``: delivered now, once each,
                                          in this order; answers ``[{"sjid", "status",
                                          "body"}]``, what the gateway answered each
GET      /_sim/schedule                   the automatic schedule's settings
POST     /_sim/schedule                   ``{"auto", "stepSeconds", "late", "lateFactor",
                                          "sendBackEvery"}`` (any of them): change it
=======  ===============================  =====================================================

Errors are the hotline's envelope with ``code`` "9" + the status (400 a bad body, 404, 409).
None of this is in the hotline's OpenAPI document.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from app.simulators.hotline.app import Hotline, HotlineError
from app.simulators.hotline.outbox import QUEUED, NoCallbackUrl, UnknownEvents
from app.simulators.hotline.state import CannotAdvance, is_unit

# The statuses a ticket can be moved up to by hand (07 评价 is the resident's).
UNTIL = ("02", "03", "04", "05", "06")
# How long ``wait`` waits for a ticket's callbacks to be delivered.
WAIT_S = 15.0


def _hotline(request: Request) -> Hotline:
    hotline: Hotline = request.app.state.hotline
    hotline.kick()
    return hotline


async def control_body(request: Request) -> dict[str, Any]:
    """The control request's JSON object (an empty body: ``{}``); 400 otherwise."""
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except ValueError:
        raise HotlineError(400, "请求体不是合法的JSON") from None
    if not isinstance(body, dict):
        raise HotlineError(400, "请求体应为JSON对象")
    return body


async def advance_ticket(request: Request) -> Response:
    hotline = _hotline(request)
    body = await control_body(request)
    gdbh: str = request.path_params["gdbh"]
    ticket = hotline.state.find(gdbh=gdbh)
    if ticket is None:
        raise HotlineError(404, f"工单{gdbh}不存在")
    send_back = body.get("sendBack", False)
    note = body.get("note")
    cbdw = body.get("cbdw")
    if not isinstance(send_back, bool):
        raise HotlineError(400, "sendBack应为true或false")
    if note is not None and (not isinstance(note, str) or not note.strip() or len(note) > 500):
        raise HotlineError(400, "note应为1至500个字符的字符串")
    if cbdw is not None and (not isinstance(cbdw, str) or not is_unit(cbdw)):
        raise HotlineError(400, "cbdw应为承办单位代码（湖南省的市州、430000或ZQT）")
    until = body.get("until")
    wait = body.get("wait", False)
    if until is not None and until not in UNTIL:
        raise HotlineError(400, f"until应为{'、'.join(UNTIL)}之一")
    if not isinstance(wait, bool):
        raise HotlineError(400, "wait应为true或false")
    if until is not None and (send_back or cbdw is not None):
        raise HotlineError(400, "until不能与sendBack或cbdw同用")
    try:
        if until is None:
            hotline.advance(ticket, send_back=send_back, note=note, cbdw=cbdw)
        else:
            # Step by step, as the units would, each step called back; a ticket already there
            # (the schedule got there first) is left as it is.
            while ticket.zt < until:
                hotline.advance(ticket, send_back=False, note=note, cbdw=None)
    except CannotAdvance as refused:
        raise HotlineError(409, refused.reason) from None
    if wait:
        await _delivered(hotline, gdbh)
    return JSONResponse(ticket.as_json())


async def _delivered(hotline: Hotline, gdbh: str) -> None:
    """Until the ticket's callbacks are delivered (or given up on), at most WAIT_S."""
    deadline = asyncio.get_running_loop().time() + WAIT_S
    while asyncio.get_running_loop().time() < deadline:
        pending = [
            e for e in hotline.outbox.events.values() if e.gdbh == gdbh and e.state == QUEUED
        ]
        if not pending or hotline.outbox.held:
            return
        await asyncio.sleep(0.05)


async def get_outbox(request: Request) -> Response:
    outbox = _hotline(request).outbox
    return JSONResponse(
        {"held": outbox.held, "events": [event.as_json() for event in outbox.events.values()]}
    )


async def hold_outbox(request: Request) -> Response:
    outbox = _hotline(request).outbox
    hold = (await control_body(request)).get("hold")
    if not isinstance(hold, bool):
        raise HotlineError(400, "hold应为true或false")
    outbox.hold(hold)
    return JSONResponse({"held": outbox.held})


async def deliver_events(request: Request) -> Response:
    outbox = _hotline(request).outbox
    events = (await control_body(request)).get("events")
    if not isinstance(events, list) or not all(isinstance(e, str) for e in events):
        raise HotlineError(400, "events应为事件编号（sjid）的列表")
    try:
        attempts = await outbox.deliver(events)
    except UnknownEvents as unknown:
        raise HotlineError(404, f"没有这些事件：{', '.join(unknown.sjids)}") from None
    except NoCallbackUrl:
        raise HotlineError(409, "未配置回调地址，无法投递") from None
    return JSONResponse([attempt.as_json() for attempt in attempts])


async def get_schedule(request: Request) -> Response:
    return JSONResponse(_hotline(request).scheduler.settings.as_json())


async def set_schedule(request: Request) -> Response:
    scheduler = _hotline(request).scheduler
    try:
        settings = scheduler.settings.updated(await control_body(request))
    except ValueError as refused:
        raise HotlineError(400, str(refused)) from None
    scheduler.configure(settings)
    return JSONResponse(settings.as_json())


def control_routes() -> list[BaseRoute]:
    """The ``/_sim/*`` routes that drive tickets, callbacks and the schedule."""
    return [
        Route("/_sim/tickets/{gdbh}/advance", advance_ticket, methods=["POST"]),
        Route("/_sim/outbox", get_outbox, methods=["GET"]),
        Route("/_sim/outbox/hold", hold_outbox, methods=["POST"]),
        Route("/_sim/outbox/deliver", deliver_events, methods=["POST"]),
        Route("/_sim/schedule", get_schedule, methods=["GET"]),
        Route("/_sim/schedule", set_schedule, methods=["POST"]),
    ]
