"""``/_sim/provider-state`` and ``/_sim/reset``: what contract tests and demos use to arrange the
hotline's tickets.

``POST /_sim/provider-state`` with ``{"state": "<name>", "params": {...}}`` makes the named state
true and answers the parameters it used; ``POST /_sim/reset`` forgets every ticket and event.
Parameters use the hotline's own names. An arranged ticket's history is written as it would have
happened, but queues no callbacks (it did not happen now). None of this is in the hotline's
OpenAPI document.

- ``a ticket exists``: the ticket ``gdbh`` (the next number of today when not given) with the
  reference ``wbbh`` (``XYB-STATE-000001``... when not given) exists at status ``zt`` (01 by
  default; every earlier step in its history; 07 rated ``myd``, 2 by default), filed with the
  create fields given (``qdly`` APP, ``sqlx`` ZX, ``nr``, ``xzqh`` 430100, ``zqt`` false,
  ``yxj`` 3, ``sxbm``/``qymc``/``tyshxydm`` none by default); a ticket with that number or
  reference is replaced.
- ``a closed ticket exists``: the same, 办结 and waiting for the resident's rating: at 06 回访
  by default (or ``zt`` 05 办结).
- ``no ticket with this reference``: no ticket has the number ``gdbh`` or the reference ``wbbh``
  (a reference is made up when neither is given).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from app.simulators.hotline.app import Hotline, HotlineError, Refused, filing_of
from app.simulators.hotline.state import (
    ACCEPTED,
    CLOSED,
    RATED,
    REVISITED,
    STATUS_NAMES,
    HotlineState,
)

Params = dict[str, Any]
StateHandler = Callable[[HotlineState, Params], Params]

_NUMBER = re.compile(r"HN12345[0-9]{14}")
_FILING_DEFAULTS: Params = {
    "qdly": "APP",
    "sqlx": "ZX",
    "nr": "咨询在长沙市办理居住证需要准备哪些材料。",
    "xzqh": "430100",
    "sxbm": None,
    "zqt": False,
    "yxj": "3",
    "qymc": None,
    "tyshxydm": None,
}


def _string(params: Params, name: str) -> str | None:
    value = params.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise HotlineError(400, f"params.{name}应为非空字符串")
    return value


def _number(params: Params) -> str | None:
    gdbh = _string(params, "gdbh")
    if gdbh is not None and not _NUMBER.fullmatch(gdbh):
        raise HotlineError(400, "params.gdbh应为HN12345加yyyymmdd加6位数字")
    return gdbh


def _unused_reference(state: HotlineState) -> str:
    number = 1
    while f"XYB-STATE-{number:06d}" in state.by_wbbh:
        number += 1
    return f"XYB-STATE-{number:06d}"


def _arranged(
    state: HotlineState, params: Params, default_status: str, allowed: set[str]
) -> Params:
    """A ticket built along the path up to the status asked for, without callbacks."""
    status = params.get("zt", default_status)
    if status not in allowed:
        raise HotlineError(400, f"params.zt应为{'、'.join(sorted(allowed))}之一")
    gdbh = _number(params)
    wbbh = _string(params, "wbbh") or _unused_reference(state)
    fields = {name: params.get(name, default) for name, default in _FILING_DEFAULTS.items()}
    try:
        filing = filing_of({**fields, "wbbh": wbbh})
    except Refused as refused:
        raise HotlineError(400, f"params：{refused.message}") from None
    myd = params.get("myd", "2")
    if status == RATED and myd not in ("1", "2", "3", "4", "5"):
        raise HotlineError(400, "params.myd应为1至5")
    for existing in (state.find(gdbh=gdbh), state.find(wbbh=wbbh)):
        if existing is not None:
            state.remove(existing)
    ticket = state.create(filing, gdbh=gdbh, notify=False)
    while ticket.zt < min(status, REVISITED):  # 07 only by the rating below
        state.advance(ticket, notify=False)
    if status == RATED:
        state.evaluate(ticket, myd, _string(params, "pjnr") or "", notify=False)
    return {"gdbh": ticket.gdbh, "wbbh": ticket.wbbh, "zt": ticket.zt, "cbdw": ticket.cbdw}


def a_ticket_exists(state: HotlineState, params: Params) -> Params:
    """The ticket ``gdbh``/``wbbh`` exists at status ``zt`` (01 by default)."""
    return _arranged(state, params, ACCEPTED, set(STATUS_NAMES))


def a_closed_ticket_exists(state: HotlineState, params: Params) -> Params:
    """The ticket ``gdbh``/``wbbh`` is 办结 and waits for its rating (06 by default, or 05)."""
    return _arranged(state, params, REVISITED, {CLOSED, REVISITED})


def no_ticket_with_this_reference(state: HotlineState, params: Params) -> Params:
    """No ticket has the number ``gdbh`` or the reference ``wbbh``."""
    gdbh = _number(params)
    wbbh = _string(params, "wbbh")
    if gdbh is None and wbbh is None:
        wbbh = _unused_reference(state)
    for existing in (state.find(gdbh=gdbh), state.find(wbbh=wbbh)):
        if existing is not None:
            state.remove(existing)
    return {name: value for name, value in (("gdbh", gdbh), ("wbbh", wbbh)) if value is not None}


PROVIDER_STATES: dict[str, StateHandler] = {
    "a ticket exists": a_ticket_exists,
    "a closed ticket exists": a_closed_ticket_exists,
    "no ticket with this reference": no_ticket_with_this_reference,
}


def _system(request: Request) -> Hotline:
    hotline: Hotline = request.app.state.hotline
    return hotline


async def set_provider_state(request: Request) -> Response:
    """Make a named provider state true; 400 (listing the known states) for an unknown name."""
    try:
        body = json.loads(await request.body())
    except ValueError:
        raise HotlineError(400, "请求体不是合法的JSON") from None
    if not isinstance(body, dict):
        raise HotlineError(400, "请求体应为JSON对象")
    params = body.get("params")
    if params is None:
        params = {}
    name = body.get("state")
    handler = PROVIDER_STATES.get(name) if isinstance(name, str) else None
    if handler is None or not isinstance(params, dict):
        return JSONResponse(
            {
                "code": "9400",
                "msg": f"未知的提供方状态：{name}",
                "data": None,
                "known_states": list(PROVIDER_STATES),
            },
            status_code=400,
        )
    hotline = _system(request)
    used = handler(hotline.state, params)
    hotline.kick()
    return JSONResponse({"state": name, "params": used})


async def reset(request: Request) -> Response:
    _system(request).reset()
    return Response(status_code=204)


def provider_state_routes() -> list[BaseRoute]:
    """``/_sim/provider-state`` and ``/_sim/reset``."""
    return [
        Route("/_sim/provider-state", set_provider_state, methods=["POST"]),
        Route("/_sim/reset", reset, methods=["POST"]),
    ]
