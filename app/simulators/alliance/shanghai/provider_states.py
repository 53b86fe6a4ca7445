"""``/_sim/*``: what contract tests, demos and tests use to arrange 随申办's state.

``POST /_sim/provider-state`` with ``{"state": "<name>", "params": {...}}`` makes the named state
true and answers the parameters it used; ``POST /_sim/reset`` restores the seeded people (no
filings, no transfers, no installed credentials, no pending hang); ``POST /_sim/commit-then-hang``
with ``{"times": n}`` (default 1; 0 clears) makes the next n writes commit, then never answer.
None of this is in the partner's OpenAPI document.

Contract replay is plain HTTP and cannot ask the token endpoint first (each interaction starts
from a reset), so every state that concerns a resident also *installs a fixed credential* for
them: ``token`` (default :data:`TEST_TOKEN`) is then accepted in ``X-SSB-Token`` as that
resident's credential, exactly like a minted one (no expiry), until the next reset.
``signed_in`` (an ID number; default the state's resident) binds the token to someone else, for
the "another resident's filing" refusals. Parameters use the partner's own names:

- ``a resident signed in``: ``id_number`` (default the first seeded resident) holds ``token``.
- ``a resident with a history in Shanghai``: ``id_number`` worked in Shanghai (a seeded resident
  as seeded; any other valid ID number is given a made-up history, named ``name``), and their
  fund account has ``account_status`` (NORMAL, SEALED, TRANSFERRING, CLOSED) when given.
- ``a filing exists``: the filing ``filing_id`` / ``request_id`` of ``id_number`` with
  ``status`` (VALID or REVOKED), ``insurance_type``, ``filing_type``, ``start_date``,
  ``end_date``, ``contact_phone``.
- ``no filing with this id``: nothing has ``filing_id`` (nor ``request_id``).
- ``a transfer exists``: the transfer ``transfer_id`` / ``request_id`` of ``id_number`` (who gets
  a history when they have none) to ``target_division_code``; their account is 转移中.
- ``the next write commits then hangs``: ``times`` (default 1).
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from dataclasses import replace
from datetime import date
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from app.core.identifiers import normalise_resident_id, validate_resident_id
from app.simulators.alliance.shanghai.app import (
    FILING_STATUSES,
    FILING_TYPES,
    INSURANCE_KINDS,
    PROCESSING,
    REVOKED,
    VALID,
    Filing,
    ShanghaiState,
    SsbError,
    Transfer,
)
from app.simulators.alliance.shanghai.data import (
    ACCOUNT_STATUSES,
    TRANSFERRING,
    Person,
    date_to_ms,
    is_local_midnight,
    ms_to_date,
)
from app.simulators.alliance.sim_control import (
    provider_state_endpoint,
    reset_endpoint,
    sign_in_endpoint,
)
from app.simulators.city.data import resident_name

Params = dict[str, Any]
StateHandler = Callable[[ShanghaiState, Params], Params]

# The credential contract interactions present (installed by the provider states).
TEST_TOKEN = "ssb-contract-test-token"  # noqa: S105 - a fixed test credential of the simulator


def _refused(message: str) -> SsbError:
    return SsbError(400, "SSB-4000", message)


def _param(params: Params, name: str) -> str | None:
    value = params.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise _refused(f"params.{name}应为非空字符串")
    return value.strip()


def _id(params: Params, name: str = "id_number") -> str | None:
    value = _param(params, name)
    if value is None:
        return None
    if validate_resident_id(value):
        raise _refused(f"params.{name}不是有效的居民身份证号码")
    return normalise_resident_id(value)


def _resident(state: ShanghaiState, params: Params) -> str:
    """The state's resident: ``id_number``, or the first seeded one."""
    return _id(params) or min(state.people)


def _day(params: Params, name: str, default: date | None) -> date | None:
    value = params.get(name)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or not is_local_midnight(value):
        raise _refused(f"params.{name}应为北京时间零点的毫秒时间戳")
    return ms_to_date(value)


def _sign_in(state: ShanghaiState, params: Params, resident: str) -> Params:
    """Install the state's fixed credential; what it answers about it."""
    token = _param(params, "token") or TEST_TOKEN
    holder = _id(params, "signed_in") or resident
    state.test_tokens[token] = holder
    return {"token": token, "signed_in": holder}


def _ensure_person(state: ShanghaiState, id_number: str, name: str | None) -> Person:
    """The resident's history in Shanghai (made up, deterministically, when they have none)."""
    person = state.people.get(id_number)
    if person is None:
        rng = random.Random(f"{state.seed}|history|{id_number}")  # noqa: S311 - synthetic
        since = date(rng.randint(2012, 2016), rng.randint(1, 12), 1)
        until = date(since.year + rng.randint(2, 5), rng.randint(1, 12), 1)
        sex = "男" if int(id_number[16]) % 2 else "女"
        made_up = state.name_of(id_number) or resident_name(rng, sex)
        person = Person(id_number, made_up, since, until, rng.randrange(5000, 20001, 100))
    if name is not None:
        person = replace(person, name=name)
    state.people[id_number] = person
    account = state.accounts.get(id_number)
    if account is not None and account.name != person.name:
        state.accounts[id_number] = replace(account, name=person.name)
    return person


def a_resident_signed_in(state: ShanghaiState, params: Params) -> Params:
    resident = _resident(state, params)
    return {
        "id_number": resident,
        "name": state.name_of(resident),
        **_sign_in(state, params, resident),
    }


def a_resident_with_a_history(state: ShanghaiState, params: Params) -> Params:
    resident = _resident(state, params)
    person = _ensure_person(state, resident, _param(params, "name"))
    status = params.get("account_status")
    if status is not None and status not in ACCOUNT_STATUSES:
        raise _refused(f"params.account_status应为{'、'.join(ACCOUNT_STATUSES)}之一")
    account = state.account(resident)
    assert account is not None
    if status is not None and status != account.status:
        if status == TRANSFERRING:
            account = replace(
                account,
                status=status,
                transferring_fen=account.balance_fen + account.transferring_fen,
                balance_fen=0,
            )
        elif status == "CLOSED":
            account = replace(account, status=status, balance_fen=0, transferring_fen=0)
        else:
            account = replace(
                account,
                status=status,
                balance_fen=account.balance_fen + account.transferring_fen,
                transferring_fen=0,
            )
        state.accounts[resident] = account
    return {
        "id_number": resident,
        "name": person.name,
        "since": date_to_ms(person.since),
        "until": date_to_ms(person.until),
        "account_no": account.account_no,
        "account_status": account.status,
        **_sign_in(state, params, resident),
    }


def a_filing_exists(state: ShanghaiState, params: Params) -> Params:
    resident = _resident(state, params)
    status = params.get("status", VALID)
    if status not in FILING_STATUSES:
        raise _refused("params.status应为VALID或REVOKED")
    insurance_type = params.get("insurance_type", "EMPLOYEE")
    filing_type = params.get("filing_type", "LONG_TERM_RESIDENCE")
    if insurance_type not in INSURANCE_KINDS or filing_type not in FILING_TYPES:
        raise _refused("params.insurance_type或params.filing_type不是随申办的代码")
    today = state.today()
    start = _day(params, "start_date", today)
    assert start is not None
    end = _day(params, "end_date", None)
    filing_id = _param(params, "filing_id") or state.new_id("YD")
    request_id = _param(params, "request_id") or f"sim-{filing_id}"
    # The request_id is the filing's alone, and a resident holds one valid filing at a time.
    for other in list(state.filings.values()):
        if other.filing_id != filing_id and (
            other.request_id == request_id or (status == VALID and other.id_number == resident)
        ):
            state.remove_filing(other.filing_id)
    now = state.now_ms()
    filing = Filing(
        filing_id=filing_id,
        request_id=request_id,
        id_number=resident,
        name=state.name_of(resident),
        insurance_type=insurance_type,
        filing_type=filing_type,
        start=start,
        end=end,
        contact_phone=_param(params, "contact_phone") or "13800138000",
        status=status,
        created_at=now - 86_400_000,
        revoked_at=now if status == REVOKED else None,
        revoke_reason="参保人申请撤销" if status == REVOKED else None,
    )
    state.put_filing(filing)
    return {**filing.as_json(), **_sign_in(state, params, resident)}


def no_filing_with_this_id(state: ShanghaiState, params: Params) -> Params:
    resident = _resident(state, params)
    filing_id = _param(params, "filing_id") or "SSBYD2000010100000000"
    request_id = _param(params, "request_id")
    state.remove_filing(filing_id)
    if request_id is not None and request_id in state.filing_requests:
        state.remove_filing(state.filing_requests[request_id])
    return {
        "filing_id": filing_id,
        "request_id": request_id,
        "id_number": resident,
        **_sign_in(state, params, resident),
    }


def a_transfer_exists(state: ShanghaiState, params: Params) -> Params:
    resident = _resident(state, params)
    _ensure_person(state, resident, _param(params, "name"))
    account = state.account(resident)
    assert account is not None
    target = _param(params, "target_division_code") or "430100"
    transfer_id = _param(params, "transfer_id") or state.new_id("GJ")
    request_id = _param(params, "request_id") or f"sim-{transfer_id}"
    old = state.transfers.get(state.transfer_requests.get(request_id, ""))
    if old is not None and old.transfer_id != transfer_id:
        del state.transfers[old.transfer_id]
    amount = account.balance_fen + account.transferring_fen
    state.accounts[resident] = replace(
        account, status=TRANSFERRING, balance_fen=0, transferring_fen=amount
    )
    transfer = Transfer(
        transfer_id=transfer_id,
        request_id=request_id,
        id_number=resident,
        name=account.name,
        account_no=account.account_no,
        amount_fen=amount,
        target_division_code=target,
        status=PROCESSING,
        created_at=state.now_ms() - 3_600_000,
    )
    state.put_transfer(transfer)
    return {**transfer.as_json(), **_sign_in(state, params, resident)}


def _times(params: Params) -> int:
    times = params.get("times", 1)
    if isinstance(times, bool) or not isinstance(times, int) or not 0 <= times <= 100:
        raise _refused("times应为0至100的整数")
    return times


def the_next_write_commits_then_hangs(state: ShanghaiState, params: Params) -> Params:
    state.hang_writes = _times(params)
    return {"times": state.hang_writes}


PROVIDER_STATES: dict[str, StateHandler] = {
    "a resident signed in": a_resident_signed_in,
    "a resident with a history in Shanghai": a_resident_with_a_history,
    "a filing exists": a_filing_exists,
    "no filing with this id": no_filing_with_this_id,
    "a transfer exists": a_transfer_exists,
    "the next write commits then hangs": the_next_write_commits_then_hangs,
}


def _state(request: Request) -> ShanghaiState:
    state: ShanghaiState = request.app.state.shanghai
    return state


async def _json(request: Request) -> Params:
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except ValueError:
        raise _refused("请求体不是合法的JSON") from None
    if not isinstance(body, dict):
        raise _refused("请求体应为JSON对象")
    return body


def _unknown_state(message: str, **extra: Any) -> Response:
    body = {"success": False, "result": None, "error_code": "SSB-4000", "error_message": message}
    return JSONResponse({**body, **extra}, status_code=400)


async def commit_then_hang(request: Request) -> Response:
    state = _state(request)
    state.hang_writes = _times(await _json(request))
    return JSONResponse({"times": state.hang_writes})


def provider_state_routes() -> list[BaseRoute]:
    """The ``/_sim/*`` routes."""
    set_provider_state = provider_state_endpoint(PROVIDER_STATES, _state, _json, _unknown_state)
    return [
        Route("/_sim/provider-state", set_provider_state, methods=["POST"]),
        Route("/_sim/reset", reset_endpoint(_state), methods=["POST"]),
        Route("/_sim/sign-in", sign_in_endpoint("310000", _state), methods=["POST"]),
        Route("/_sim/commit-then-hang", commit_then_hang, methods=["POST"]),
    ]
