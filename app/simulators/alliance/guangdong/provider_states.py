"""``/_sim/*``: what contract tests and demos use to arrange 粤省事's state.

``POST /_sim/provider-state`` with ``{"state": "<name>", "params": {...}}`` makes the named state
true (creating what is missing) and answers the parameters it used; ``POST /_sim/reset`` restores
the seed (no filings, no transfers, no installed credential, no pending hang);
``GET /_sim/commit-then-hang`` and ``PUT /_sim/commit-then-hang`` ``{"writes": n}`` read and set
how many of the next writes are applied and then never answered (0 switches it off). None of
this is in 粤省事's OpenAPI document. Parameters use 粤省事's own names (camelCase).

Every state that concerns a resident installs the fixed test credential
(``CONTRACT_CREDENTIAL``, ``Authorization: Bearer ysx-contract-test-credential``) for them, or
for ``signedInAs`` when given (to show a credential of one resident refused for another's
filing): contract interactions present it, since a minted credential expires in ten minutes.

- ``a signed-in resident insured in Guangdong``: ``idNumber`` (the first seeded one when not
  given; made up when nobody seeded has it) is insured in Guangdong, named ``name`` when given,
  with a provident-fund account unless ``hasFundAccount`` is false.
- ``a signed-in resident with no history in Guangdong``: ``idNumber`` has no insurance there.
- ``a filing exists``: the resident's filing ``baNo`` (made up when not given) with
  ``requestNo``, ``insuranceType``, ``filingType``, ``destCode``, ``startDate``, ``endDate``,
  ``contactPhone``, ``remark`` and ``status`` (1 有效, 2 已撤销), defaults for what is not given.
- ``no filing with this number``: nothing has the number ``baNo``.
- ``a transfer exists``: the resident's transfer ``transferNo`` with ``requestNo``,
  ``inCenterCode``, ``inAccountNo`` and ``contactPhone``.
- ``the next write commits then hangs``: the next ``writes`` (1) writes are applied, then never
  answered.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import date, datetime, time
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from app.core.divisions import divisions
from app.simulators.alliance.guangdong.app import (
    CONTRACT_CREDENTIAL,
    FILING_STATUSES,
    FILING_TYPES,
    INSURANCE_TYPES,
    Filing,
    GuangdongState,
    Transfer,
)
from app.simulators.alliance.guangdong.data import Insured, fund_balance, made_up
from app.simulators.alliance.sim_control import (
    StateRefused,
    id_number_param,
    json_object,
    provider_state_endpoint,
    reset_endpoint,
    sign_in_endpoint,
    text_param,
)
from app.simulators.city.api import SHANGHAI

Params = dict[str, Any]
StateHandler = Callable[[GuangdongState, Params], Params]
DEFAULT_PHONE = "13800138000"


def _id_number(params: Params, name: str = "idNumber") -> str | None:
    return id_number_param(params, name)


def _date(params: Params, name: str) -> date | None:
    value = text_param(params, name)
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise StateRefused(f"params.{name}应为yyyy-MM-dd格式的日期") from None


def _coded(params: Params, name: str, table: dict[str, str], default: str) -> str:
    value = params.get(name, default)
    if value not in table:
        raise StateRefused(f"params.{name}应为{'、'.join(table)}之一")
    assert isinstance(value, str)
    return value


def _sign_in(state: GuangdongState, params: Params, owner: str) -> str:
    """Install the test credential for ``signedInAs`` (or the owner); whom it is bound to."""
    user = _id_number(params, "signedInAs") or owner
    state.credentials = {CONTRACT_CREDENTIAL: user}
    return user


def _ensure_insured(state: GuangdongState, params: Params) -> Insured:
    id_number = _id_number(params)
    if id_number is None:
        id_number = next(iter(state.insured))
    name = text_param(params, "name")
    insured = state.insured.get(id_number) or made_up(id_number, state.seed, name)
    if name is not None and insured.name != name:
        insured = replace(insured, name=name)
    state.insured[id_number] = insured
    return insured


def a_signed_in_resident(state: GuangdongState, params: Params) -> Params:
    """``idNumber`` is insured in Guangdong (with a fund account unless told otherwise)."""
    insured = _ensure_insured(state, params)
    has_fund = params.get("hasFundAccount", True)
    if not isinstance(has_fund, bool):
        raise StateRefused("params.hasFundAccount应为true或false")
    if not has_fund and insured.fund is not None:
        insured = replace(insured, fund=None)
    elif has_fund and insured.fund is None:
        insured = replace(insured, fund=made_up(insured.id_number, state.seed).fund)
    state.insured[insured.id_number] = insured
    user = _sign_in(state, params, insured.id_number)
    return {
        "idNumber": insured.id_number,
        "name": insured.name,
        "insuredCity": insured.city,
        "accountNo": insured.fund.account_no if insured.fund else None,
        "balance": fund_balance(insured),
        "signedInAs": user,
        "credential": CONTRACT_CREDENTIAL,
    }


def a_resident_with_no_history(state: GuangdongState, params: Params) -> Params:
    """``idNumber`` has no insurance in Guangdong."""
    id_number = _id_number(params)
    if id_number is None:
        raise StateRefused("缺少params.idNumber")
    state.insured.pop(id_number, None)
    user = _sign_in(state, params, id_number)
    return {"idNumber": id_number, "signedInAs": user, "credential": CONTRACT_CREDENTIAL}


def _moment(day: date) -> datetime:
    return datetime.combine(day, time(9, 30), SHANGHAI)


def a_filing_exists(state: GuangdongState, params: Params) -> Params:
    """The resident's filing ``baNo`` exists as the parameters describe it."""
    insured = _ensure_insured(state, params)
    today = state.now().date()
    ba_no = text_param(params, "baNo") or state.next_number("YDBA")
    state.remove_filing(ba_no)
    request_no = text_param(params, "requestNo") or f"SIM-{ba_no}"
    previous = state.filing_requests.get((insured.id_number, request_no))
    if previous is not None:
        state.remove_filing(previous)
    dest = text_param(params, "destCode") or "430100"
    if not dest.startswith("43") or dest not in divisions():
        raise StateRefused("params.destCode应为湖南省的行政区划代码")
    filing_type = _coded(params, "filingType", FILING_TYPES, "1")
    start = _date(params, "startDate") or today
    end = _date(params, "endDate")
    status = _coded(params, "status", FILING_STATUSES, "1")
    filing = Filing(
        ba_no=ba_no,
        request_no=request_no,
        id_number=insured.id_number,
        name=insured.name,
        insurance_type=_coded(params, "insuranceType", INSURANCE_TYPES, "1"),
        filing_type=filing_type,
        insured_city=insured.city,
        dest_code=dest,
        start=start,
        end=end,
        phone=text_param(params, "contactPhone") or DEFAULT_PHONE,
        remark=text_param(params, "remark"),
        applied_at=_moment(today),
    )
    if status == "2":
        filing = replace(
            filing, status="2", cancelled_at=_moment(today), cancel_reason="本人申请撤销"
        )
    state.add_filing(filing)
    user = _sign_in(state, params, insured.id_number)
    return {
        "baNo": ba_no,
        "requestNo": request_no,
        "idNumber": insured.id_number,
        "name": insured.name,
        "status": status,
        "signedInAs": user,
        "credential": CONTRACT_CREDENTIAL,
    }


def no_filing_with_this_number(state: GuangdongState, params: Params) -> Params:
    """Nothing has the filing number ``baNo``."""
    ba_no = text_param(params, "baNo")
    if ba_no is None:
        raise StateRefused("缺少params.baNo")
    state.remove_filing(ba_no)
    answer: Params = {"baNo": ba_no}
    owner = _id_number(params) or _id_number(params, "signedInAs")
    if owner is not None:
        answer["signedInAs"] = _sign_in(state, params, owner)
        answer["credential"] = CONTRACT_CREDENTIAL
    return answer


def a_transfer_exists(state: GuangdongState, params: Params) -> Params:
    """The resident's transfer ``transferNo`` (of their whole balance) exists."""
    insured = _ensure_insured(state, params)
    if insured.fund is None:
        insured = replace(insured, fund=made_up(insured.id_number, state.seed).fund)
        state.insured[insured.id_number] = insured
    assert insured.fund is not None
    transfer_no = text_param(params, "transferNo") or state.next_number("GJJZY")
    for old in [t for t in state.transfers.values() if t.id_number == insured.id_number]:
        state.transfers.pop(old.transfer_no)
        state.transfer_requests.pop((old.id_number, old.request_no), None)
    state.transfers.pop(transfer_no, None)
    in_code = text_param(params, "inCenterCode") or "430100"
    if not in_code.startswith("43") or in_code not in divisions():
        raise StateRefused("params.inCenterCode应为湖南省的行政区划代码")
    transfer = Transfer(
        transfer_no=transfer_no,
        request_no=text_param(params, "requestNo") or f"SIM-{transfer_no}",
        id_number=insured.id_number,
        name=insured.name,
        account_no=insured.fund.account_no,
        out_centre=insured.fund_centre,
        in_code=in_code,
        in_account_no=text_param(params, "inAccountNo"),
        phone=text_param(params, "contactPhone") or DEFAULT_PHONE,
        amount=fund_balance(insured),
        applied_at=_moment(state.now().date()),
    )
    state.add_transfer(transfer)
    user = _sign_in(state, params, insured.id_number)
    return {
        "transferNo": transfer_no,
        "requestNo": transfer.request_no,
        "idNumber": insured.id_number,
        "amount": transfer.amount,
        "signedInAs": user,
        "credential": CONTRACT_CREDENTIAL,
    }


def the_next_write_hangs(state: GuangdongState, params: Params) -> Params:
    """The next ``writes`` writes are applied, then never answered."""
    writes = params.get("writes", 1)
    try:
        state.commit_then_hang(writes)
    except ValueError as exc:
        raise StateRefused(f"params.{exc}") from None
    answer: Params = {"writes": writes}
    owner = _id_number(params)
    if owner is not None:
        answer["signedInAs"] = _sign_in(state, params, owner)
        answer["credential"] = CONTRACT_CREDENTIAL
    return answer


PROVIDER_STATES: dict[str, StateHandler] = {
    "a signed-in resident insured in Guangdong": a_signed_in_resident,
    "a signed-in resident with no history in Guangdong": a_resident_with_no_history,
    "a filing exists": a_filing_exists,
    "no filing with this number": no_filing_with_this_number,
    "a transfer exists": a_transfer_exists,
    "the next write commits then hangs": the_next_write_hangs,
}


def _state(request: Request) -> GuangdongState:
    state: GuangdongState = request.app.state.guangdong
    return state


def _refused(msg: str, **extra: Any) -> Response:
    return JSONResponse({"code": 400, "msg": msg, "data": None, **extra}, status_code=400)


async def commit_then_hang(request: Request) -> Response:
    """GET: how many writes will hang; PUT ``{"writes": n}``: set it."""
    state = _state(request)
    if request.method == "PUT":
        body = await json_object(request)
        if body is None:
            return _refused("请求体应为JSON对象")
        try:
            state.commit_then_hang(body.get("writes", 1))
        except ValueError as exc:
            return _refused(str(exc))
    return JSONResponse({"writes": state.hang_writes})


def provider_state_routes() -> list[BaseRoute]:
    """The ``/_sim/*`` routes."""
    set_provider_state = provider_state_endpoint(PROVIDER_STATES, _state, json_object, _refused)
    return [
        Route("/_sim/provider-state", set_provider_state, methods=["POST"]),
        Route("/_sim/reset", reset_endpoint(_state), methods=["POST"]),
        Route("/_sim/sign-in", sign_in_endpoint("440000", _state), methods=["POST"]),
        Route("/_sim/commit-then-hang", commit_then_hang, methods=["GET", "PUT"]),
    ]
