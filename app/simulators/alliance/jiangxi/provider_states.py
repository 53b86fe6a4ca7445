"""赣服通's ``/_sim/*`` routes: provider states for contract replay, a reset, and its own two
faults ("commit, then hang" and the hostile answers).

The control bodies are JSON (the simulator's machinery, not 赣服通's protocol), as for the other
simulators. Every state answers the values it settled (``params``), including ``PZ``: the replay
credential of the person it concerns (accepted only by a simulator without the gateway's keys).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import replace
from datetime import date, timedelta
from typing import Any, cast

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from app.core.identifiers import normalise_resident_id, validate_resident_id
from app.simulators.alliance.jiangxi.app import (
    CONTRACT_CREDENTIAL_PREFIX,
    Filing,
    JiangxiState,
    Transfer,
)
from app.simulators.alliance.jiangxi.data import (
    EMPLOYEE_MEDICAL,
    FILING_CANCELLED,
    FILING_KINDS,
    FILING_STATUSES,
    FILING_VALID,
    LONG_TERM_RESIDENCE,
    MEDICAL_TYPES,
    Insured,
    insured_from,
)
from app.simulators.alliance.jiangxi.xmlio import HOSTILE_MODES, Hostile
from app.simulators.alliance.sim_control import (
    StateRefused,
    json_object,
    provider_state_endpoint,
    reset_endpoint,
    sign_in_endpoint,
    text_param,
)
from app.simulators.city.data import resident_name

Params = dict[str, Any]
StateHandler = Callable[[JiangxiState, Params], Params]


def _person(state: JiangxiState, params: Params) -> Insured:
    """The person ``ZJHM`` (the first seeded one when not given), added with a made-up history
    in Jiangxi when 赣服通 does not know them; ``XM`` renames them."""
    id_number = text_param(params, "ZJHM")
    name = text_param(params, "XM")
    if id_number is None:
        person = next(iter(state.people.values()))
    else:
        if validate_resident_id(id_number):
            raise StateRefused("params.ZJHM不是有效的居民身份证号码")
        id_number = normalise_resident_id(id_number)
        known = state.people.get(id_number)
        if known is None:
            sex = "男" if int(id_number[16]) % 2 else "女"
            rng = random.Random(f"{state.seed}|{id_number}")  # noqa: S311 - synthetic data
            known = insured_from(
                state.seed,
                id_number,
                name or resident_name(rng, sex),
                date(2015, 3, 1),
                date(2020, 6, 1),
                "南昌市",
                8000,
            )
        person = known
    if name is not None and person.name != name:
        person = replace(person, name=name)
    state.people[person.id_number] = person
    return person


def _described(person: Insured) -> Params:
    return {
        "ZJHM": person.id_number,
        "XM": person.name,
        "GRZH": person.account,
        "PZ": CONTRACT_CREDENTIAL_PREFIX + person.id_number,
    }


def a_resident_with_a_history_in_jiangxi(state: JiangxiState, params: Params) -> Params:
    """The person ``ZJHM`` worked in Jiangxi (contributions and a provident-fund account)."""
    return _described(_person(state, params))


def a_filing_exists(state: JiangxiState, params: Params) -> Params:
    """The person ``ZJHM`` has the filing ``BABH`` (request serial ``QQLSH``) in status BAZT."""
    person = _person(state, params)
    status = text_param(params, "BAZT") or FILING_VALID
    insurance = text_param(params, "XZLX") or EMPLOYEE_MEDICAL
    kind = text_param(params, "BALX") or LONG_TERM_RESIDENCE
    if status not in FILING_STATUSES or insurance not in MEDICAL_TYPES or kind not in FILING_KINDS:
        raise StateRefused("params.BAZT、XZLX或BALX不是赣服通的代码")
    number = text_param(params, "BABH") or state.next_number("GFTBA")
    request_no = text_param(params, "QQLSH") or f"SIM{number}"
    now = state.now()
    filing = Filing(
        number=number,
        request_no=request_no,
        id_number=person.id_number,
        name=person.name,
        insurance=insurance,
        kind=kind,
        place=text_param(params, "JYDQH") or "430100",
        start=state.today() - timedelta(days=30),
        end=None,
        phone="13800000000",
        accepted_at=now - timedelta(days=30),
    )
    if status == FILING_CANCELLED:
        filing = replace(
            filing, status=FILING_CANCELLED, cancelled_at=now, cancel_reason="参保人申请撤销"
        )
    state.put_filing(filing)
    return {**_described(person), "BABH": number, "QQLSH": request_no, "BAZT": status}


def no_filing_with_this_number(state: JiangxiState, params: Params) -> Params:
    """Nothing has the filing number ``BABH`` (one is made up when not given)."""
    number = text_param(params, "BABH") or "GFTBA20000101999999"
    filing = state.filings.pop(number, None)
    if filing is not None:
        state.filing_requests.pop(filing.request_no, None)
    return {"BABH": number}


def a_transfer_exists(state: JiangxiState, params: Params) -> Params:
    """The person ``ZJHM`` asked for the transfer ``ZYBH`` (``QQLSH``) of their account."""
    person = _person(state, params)
    number = text_param(params, "ZYBH") or state.next_number("GFTZY")
    request_no = text_param(params, "QQLSH") or f"SIM{number}"
    transfer = Transfer(
        number=number,
        request_no=request_no,
        id_number=person.id_number,
        name=person.name,
        account=person.account,
        from_centre=person.fund_centre,
        to_city=text_param(params, "ZRCSDM") or "430100",
        to_centre="长沙住房公积金管理中心",
        phone="13800000000",
        amount=person.balance,
        applied_at=state.now(),
    )
    state.put_transfer(transfer)
    return {**_described(person), "ZYBH": number, "QQLSH": request_no}


def the_next_write_commits_then_hangs(state: JiangxiState, params: Params) -> Params:
    """The next add or cancel is applied, and its answer never comes (once)."""
    state.commit_then_hang = True
    return {"armed": True}


def answers_are_hostile(state: JiangxiState, params: Params) -> Params:
    """Every /gft/service/ call is answered with a hostile XML document (``mode``)."""
    mode = params.get("mode", "xxe")
    if mode not in HOSTILE_MODES:
        raise StateRefused(f"params.mode应为{'、'.join(HOSTILE_MODES)}之一")
    state.hostile = cast(Hostile, mode)
    return {"mode": mode}


PROVIDER_STATES: dict[str, StateHandler] = {
    "a resident with a history in Jiangxi": a_resident_with_a_history_in_jiangxi,
    "a filing exists": a_filing_exists,
    "no filing with this number": no_filing_with_this_number,
    "a transfer exists": a_transfer_exists,
    "the next write commits then hangs": the_next_write_commits_then_hangs,
    "answers are hostile": answers_are_hostile,
}


def _state(request: Request) -> JiangxiState:
    state: JiangxiState = request.app.state.jiangxi
    return state


def _refused(message: str, **extra: Any) -> Response:
    return JSONResponse({"RetCode": "9400", "RetMsg": message, **extra}, status_code=400)


async def _json_object(request: Request) -> Params | None:
    return await json_object(request, empty_ok=True)


async def commit_then_hang(request: Request) -> Response:
    """Arm (``{"armed": true}``, the default) or disarm "commit, then hang"."""
    body = await _json_object(request)
    armed = body.get("armed", True) if body is not None else None
    if not isinstance(armed, bool):
        return _refused('请求体应为{"armed": true|false}')
    _state(request).commit_then_hang = armed
    return JSONResponse({"armed": armed})


async def hostile_answer(request: Request) -> Response:
    """Set (``{"mode": "xxe"|"billion-laughs"}``) or clear (``{"mode": null}``) the hostile
    answers."""
    body = await _json_object(request)
    mode = body.get("mode") if body is not None else "?"
    if mode is not None and mode not in HOSTILE_MODES:
        return _refused(f"mode应为{'、'.join(HOSTILE_MODES)}或null")
    _state(request).hostile = cast(Hostile | None, mode)
    return JSONResponse({"mode": mode})


def provider_state_routes() -> list[BaseRoute]:
    """The ``/_sim/*`` routes."""
    set_provider_state = provider_state_endpoint(PROVIDER_STATES, _state, _json_object, _refused)
    return [
        Route("/_sim/provider-state", set_provider_state, methods=["POST"]),
        Route("/_sim/reset", reset_endpoint(_state), methods=["POST"]),
        Route("/_sim/sign-in", sign_in_endpoint("360000", _state), methods=["POST"]),
        Route("/_sim/commit-then-hang", commit_then_hang, methods=["POST"]),
        Route("/_sim/hostile-answer", hostile_answer, methods=["POST"]),
    ]
