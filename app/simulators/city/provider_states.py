"""``/_sim/*``: what contract tests and demos use to arrange a city simulator's data.

``POST /_sim/provider-state`` with ``{"state": "<name>", "params": {...}}`` makes the named state
true (creating what is missing) and answers the parameters it used, so an interaction can name an
ID number or let the simulator pick one. ``POST /_sim/reset`` restores the seeded data;
``GET /_sim/residents`` lists the residents with what they hold. None of this is in the city's
OpenAPI document.
"""

from __future__ import annotations

import dataclasses
import json
import random
from collections.abc import Callable
from datetime import date
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from app.core.identifiers import make_resident_id
from app.simulators.city import data as d
from app.simulators.city.api import (
    PERMIT_TIME_LIMIT,
    CityError,
    CityState,
    checked_id_number,
    city_error,
)
from app.simulators.city.fields import (
    APPLICATION_ID_PATTERN,
    RECORD_ID_PATTERN,
    REGISTRATION_ID_PATTERN,
    matches,
)

Params = dict[str, Any]
StateHandler = Callable[[CityState, Params], Params]


def _rng(*parts: object) -> random.Random:
    """A generator seeded from the request's own values, so the same state gives the same data."""
    return random.Random("|".join(str(part) for part in parts))  # noqa: S311 - synthetic data


def _param(params: Params, name: str, pattern: str | None = None) -> str | None:
    value = params.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or (pattern is not None and not matches(pattern, value)):
        raise CityError(
            400, f"参数{name}格式不正确", [{"field": f"params.{name}", "message": "格式不正确"}]
        )
    return value.strip()


def _id_param(state: CityState, params: Params, name: str = "id_number") -> str | None:
    value = _param(params, name)
    return None if value is None else checked_id_number(value, f"params.{name}", state.today())


def _new_resident(state: CityState, id_number: str, name: str | None) -> d.Resident:
    """A resident for an ID number the seed does not have, drawn from the number itself."""
    rng = _rng(state.division, id_number)
    sex = "男" if int(id_number[16]) % 2 else "女"
    counties = state.seed.counties
    county = next((c for c in counties if c.code == id_number[:6]), counties[0])
    return d.Resident(
        id_number=id_number,
        name=name or d.resident_name(rng, sex),
        sex=sex,
        birth_date=date(int(id_number[6:10]), int(id_number[10:12]), int(id_number[12:14])),
        phone=d.phone_number(rng),
        county_code=id_number[:6],
        address=d.street_address(rng, state.seed.division, county),
        employer=rng.choice(state.seed.employers),
        insured_since=date(2015, 1, 1),
        base_2023=rng.randrange(3000, 25001, 100),
    )


def _resident(
    state: CityState, params: Params, wanted: Callable[[d.Resident], bool] = lambda r: True
) -> d.Resident:
    """The resident named by ``params["id_number"]`` (created if unknown), or a seeded one."""
    id_number = _id_param(state, params)
    name = _param(params, "name")
    if id_number is None:
        for resident in state.residents.values():
            if wanted(resident) and (name is None or resident.name == name):
                return resident
        id_number = make_resident_id(state.seed.counties[0].code, date(1988, 8, 8), 357)
    resident = state.residents.get(id_number) or _new_resident(state, id_number, name)
    if name is not None and resident.name != name:
        resident = dataclasses.replace(resident, name=name)
    state.residents[id_number] = resident
    return resident


def _employed(state: CityState, resident: d.Resident) -> d.Resident:
    if resident.employer is not None and resident.insured_since is not None:
        return resident
    employer = resident.employer or _rng(state.division, resident.id_number).choice(
        state.seed.employers
    )
    employed = dataclasses.replace(
        resident, employer=employer, insured_since=resident.insured_since or date(2015, 1, 1)
    )
    state.residents[resident.id_number] = employed
    return employed


def a_resident_exists(state: CityState, params: Params) -> Params:
    """A resident of the city (by ``id_number``, optionally ``name``)."""
    resident = _resident(state, params)
    return {"id_number": resident.id_number, "name": resident.name}


def a_resident_with_a_fund_account(state: CityState, params: Params) -> Params:
    """A resident with a provident fund account."""
    resident = _employed(
        state, _resident(state, params, lambda r: r.id_number in state.fund_accounts)
    )
    account = state.fund_accounts.get(resident.id_number)
    if account is None:
        assert resident.employer is not None
        number = int(state.division) * 10**6 + 900_000 + len(state.fund_accounts)
        account = d.fund_account(_rng(resident.id_number), resident, resident.employer, number)
        account = dataclasses.replace(account, status=d.FUND_STATUSES[0], sealed_on=None)
        state.fund_accounts[resident.id_number] = account
    return {
        "id_number": resident.id_number,
        "name": resident.name,
        "account_no": account.account_no,
    }


def _add_estate(state: CityState, owner: d.Resident, record_id: str | None) -> d.EstateRecord:
    rng = _rng(state.division, owner.id_number, record_id, len(state.estates))
    serial = int(record_id[-7:]) if record_id else rng.randrange(1, 10**7)
    record = d.estate_record(rng, state.seed.division, state.seed.counties, owner, serial)
    if record_id is not None:
        year = record_id[10:14]
        record = dataclasses.replace(
            record,
            record_id=record_id,
            cert_no=f"湘({year}){state.seed.short_name}不动产权第{serial:07d}号",
        )
    state.estates[record.record_id] = record
    return record


def a_resident_with_estate_records(state: CityState, params: Params) -> Params:
    """A resident with at least one real-estate record."""
    resident = _resident(state, params, lambda r: bool(state.estates_of(r.id_number)))
    if not state.estates_of(resident.id_number):
        _add_estate(state, resident, None)
    records = [r.record_id for r in state.estates_of(resident.id_number)]
    return {"id_number": resident.id_number, "name": resident.name, "record_ids": records}


def an_estate_record_exists(state: CityState, params: Params) -> Params:
    """A real-estate record (by ``record_id``, optionally owned by ``id_number``)."""
    record_id = _param(params, "record_id", RECORD_ID_PATTERN)
    record = state.estates.get(record_id or "")
    if record is None and record_id is None and "id_number" not in params:
        record = next(iter(state.estates.values()), None)
    if record is None:
        record = _add_estate(state, _resident(state, params), record_id)
    return {"record_id": record.record_id, "id_number": record.owner_id_number}


def a_resident_with_contributions(state: CityState, params: Params) -> Params:
    """A resident with social-insurance contributions."""
    resident = _employed(state, _resident(state, params, lambda r: r.insured_since is not None))
    assert resident.insured_since is not None
    return {
        "id_number": resident.id_number,
        "name": resident.name,
        "insured_since": d.month_key(resident.insured_since),
    }


def no_resident_with_this_id_number(state: CityState, params: Params) -> Params:
    """Nothing at all is held for an ID number (picked when not given)."""
    id_number = _id_param(state, params)
    if id_number is None:
        sequence = 0
        while True:
            id_number = make_resident_id(state.seed.counties[-1].code, date(1977, 7, 7), sequence)
            if id_number not in state.residents:
                break
            sequence += 1
    state.residents.pop(id_number, None)
    state.fund_accounts.pop(id_number, None)
    for record in state.estates_of(id_number):
        del state.estates[record.record_id]
    return {"id_number": id_number}


def an_application_exists(state: CityState, params: Params) -> Params:
    """A residence permit application (by ``application_id``, optionally with ``status``)."""
    application_id = _param(params, "application_id", APPLICATION_ID_PATTERN)
    status = _param(params, "status") or d.APPLICATION_STATUSES[0]
    if status not in d.APPLICATION_STATUSES:
        raise CityError(400, f"status应为{'、'.join(d.APPLICATION_STATUSES)}之一")
    # Applicants come from elsewhere: a resident of Jiangxi unless told otherwise.
    id_number = _id_param(state, params) or make_resident_id("360102", date(1992, 3, 14), 246)
    application_id = application_id or state.next_id("JZZ")
    now = state.clock()
    rng = _rng(state.division, application_id)
    county = state.seed.counties[0]
    state.applications[application_id] = {
        "application_id": application_id,
        "status": status,
        "submitted_at": now.isoformat(timespec="seconds"),
        "promised_by": (now.date() + PERMIT_TIME_LIMIT).isoformat(),
        "applicant_name": _param(params, "name") or d.resident_name(rng, "女"),
        "id_number": id_number,
        "phone": d.phone_number(rng),
        "address": d.street_address(rng, state.seed.division, county),
        "reason": "就业",
        "residence_since": date(now.year - 1, 1, 1).isoformat(),
        "employer_name": state.seed.employers[0].name,
    }
    return {"application_id": application_id, "id_number": id_number, "status": status}


def a_registration_exists(state: CityState, params: Params) -> Params:
    """A birth registration (by ``registration_id``) of a seeded mother's newborn."""
    registration_id = _param(params, "registration_id", REGISTRATION_ID_PATTERN)
    registration_id = registration_id or state.next_id("CSDJ")
    mother = next(
        r for r in state.seed.residents.values() if r.sex == "女" and r.birth_date.year < 1995
    )
    now = state.clock()
    rng = _rng(state.division, registration_id)
    state.registrations[registration_id] = {
        "registration_id": registration_id,
        "status": d.REGISTRATION_STATUSES[0],
        "registered_at": now.isoformat(timespec="seconds"),
        "baby_name": mother.name[0] + d.resident_name(rng, "男")[-2:],
        "sex": "男",
        "birth_date": now.date().isoformat(),
        "mother_id_number": mother.id_number,
        "hospital": f"{state.seed.division.name}妇幼保健院",
        "birth_certificate_no": f"R{rng.randrange(10**9):09d}",
        "household_address": mother.address,
    }
    return {"registration_id": registration_id, "mother_id_number": mother.id_number}


PROVIDER_STATES: dict[str, StateHandler] = {
    "a resident exists": a_resident_exists,
    "a resident with a provident fund account": a_resident_with_a_fund_account,
    "a resident with real-estate records": a_resident_with_estate_records,
    "a real-estate record exists": an_estate_record_exists,
    "a resident with social-insurance contributions": a_resident_with_contributions,
    "no resident with this ID number": no_resident_with_this_id_number,
    "a residence permit application exists": an_application_exists,
    "a birth registration exists": a_registration_exists,
}


def _state(request: Request) -> CityState:
    state: CityState = request.app.state.city
    return state


async def set_provider_state(request: Request) -> Response:
    """Make a named provider state true; 400 (listing the known states) for an unknown name."""
    try:
        body = json.loads(await request.body())
    except ValueError:
        return city_error(400, "请求体不是合法的JSON")
    if not isinstance(body, dict) or not isinstance(body.get("state"), str):
        return city_error(400, '请求体应为{"state": "...", "params": {...}}')
    params = body.get("params")
    params = {} if params is None else params
    if not isinstance(params, dict):
        return city_error(400, "params应为JSON对象")
    handler = PROVIDER_STATES.get(body["state"])
    if handler is None:
        unknown = {
            "code": "E400",
            "message": f"未知的提供方状态：{body['state']}",
            "known_states": list(PROVIDER_STATES),
        }
        return JSONResponse(unknown, status_code=400)
    return JSONResponse({"state": body["state"], "params": handler(_state(request), params)})


async def reset(request: Request) -> Response:
    """Back to the seeded data."""
    _state(request).reset()
    return Response(status_code=204)


async def list_residents(request: Request) -> Response:
    """Every resident, with what they hold (for demos and tests)."""
    state = _state(request)
    return JSONResponse(
        [
            {
                "id_number": r.id_number,
                "name": r.name,
                "sex": r.sex,
                "birth_date": r.birth_date.isoformat(),
                "phone": r.phone,
                "county_code": r.county_code,
                "address": r.address,
                "employer_name": r.employer.name if r.employer else None,
                "insured": r.insured_since is not None,
                "fund_account": r.id_number in state.fund_accounts,
                "estate_records": len(state.estates_of(r.id_number)),
            }
            for r in state.residents.values()
        ]
    )


def provider_state_routes() -> list[BaseRoute]:
    """The ``/_sim/*`` routes."""
    return [
        Route("/_sim/provider-state", set_provider_state, methods=["POST"]),
        Route("/_sim/reset", reset, methods=["POST"]),
        Route("/_sim/residents", list_residents, methods=["GET"]),
    ]
