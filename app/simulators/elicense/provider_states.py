"""``/_sim/*``: what contract tests and demos use to arrange the registry's licenses.

``POST /_sim/provider-state`` with ``{"state": "<name>", "params": {...}}`` makes the named state
true (creating what is missing) and answers the parameters it used; ``POST /_sim/reset`` restores
the seeded licenses. Parameters use the registry's own names (``zzbs``, ``czztdm``, ``czzt``,
``zzzt``). None of this is in the registry's OpenAPI document.

- ``a holder with licenses``: the holder ``czztdm`` (an ID number or a credit code; a seeded
  resident when not given) holds at least one license (a 居民身份证 or a 营业执照 is issued when it
  holds none); ``czzt`` renames the holder on all of them.
- ``a license exists``: the license ``zzbs`` (a seeded one when not given) exists for the holder
  ``czztdm`` with the status ``zzzt`` (01 有效 by default, 02 注销, 03 过期).
- ``no license with this identifier``: nothing has the identifier ``zzbs`` (one is made up when
  not given).
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from dataclasses import replace
from datetime import date, timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from app.core.divisions import divisions
from app.core.identifiers import (
    make_license_id,
    normalise_resident_id,
    parse_license_id,
    validate_license_id,
    validate_resident_id,
    validate_uscc,
)
from app.simulators.city.data import city_data, resident_name
from app.simulators.elicense.app import RegistryError, RegistryState
from app.simulators.elicense.data import (
    CREDIT_CODE,
    ID_CARD,
    REVOKED,
    STATUSES,
    VALID,
    Holder,
    License,
    firm_holder,
    issuer_of,
    local_organ,
    new_license,
    person_holder,
)
from app.simulators.elicense.types import PERSON, RegistryType, registry_types, type_named
from app.simulators.enterprise.data import seeded_enterprises

Params = dict[str, Any]
StateHandler = Callable[[RegistryState, Params], Params]


def _rng(*parts: object) -> random.Random:
    """A generator seeded from the state's own values, so the same state gives the same data."""
    return random.Random("|".join(str(part) for part in parts))  # noqa: S311 - synthetic data


def _param(params: Params, name: str) -> str | None:
    value = params.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise RegistryError(400, f"params.{name}应为非空字符串")
    return value.strip()


def _known_holder(state: RegistryState, code: str) -> Holder | None:
    """The holder as the seeded data knows it (a city resident or an enterprise)."""
    city = divisions().get(code[:4] + "00")
    if city is not None and city.level == "prefecture":
        resident = city_data(city.code).residents.get(code)
        if resident is not None:
            return person_holder(resident)
    for enterprise in seeded_enterprises(state.seed):
        if enterprise.uscc == code:
            return firm_holder(enterprise)
    return None


def _holder(state: RegistryState, code: str, name: str | None) -> Holder:
    """The holder with this ID number or credit code (made up when nobody seeded has it)."""
    if not validate_resident_id(code):
        code, kind = normalise_resident_id(code), ID_CARD
    elif not validate_uscc(code):
        code, kind = code.strip().upper(), CREDIT_CODE
    else:
        raise RegistryError(400, "params.czztdm不是有效的居民身份证号码或统一社会信用代码")
    holder = _known_holder(state, code)
    if holder is None:
        rng = _rng(state.seed, code)
        place = divisions().get(code[:6] if kind == ID_CARD else code[2:8]) or divisions()["430100"]
        if kind == ID_CARD:
            sex = "男" if int(code[16]) % 2 else "女"
            born = date(int(code[6:10]), int(code[10:12]), int(code[12:14]))
            holder = Holder(resident_name(rng, sex), code, kind, place, sex, born, place.name)
        else:
            holder = Holder(f"{place.name}测试有限公司", code, kind, place, address=place.name)
    if name is not None:
        holder = replace(holder, name=name)
    return holder


def _default_holder(state: RegistryState, kind: RegistryType) -> Holder:
    if kind.holder_kind == PERSON:
        return person_holder(next(iter(city_data("430100").residents.values())))
    return firm_holder(seeded_enterprises(state.seed)[0])


def _rename(state: RegistryState, holder: Holder) -> None:
    for license in state.of_holder(holder.code):
        if license.holder_name != holder.name:
            state.put(replace(license, holder_name=holder.name))


def a_holder_with_licenses(state: RegistryState, params: Params) -> Params:
    """The holder ``czztdm`` holds at least one license."""
    code = _param(params, "czztdm")
    if code is None:
        first = next(iter(state.licenses.values()))
        code = first.holder_code
    holder = _holder(state, code, _param(params, "czzt"))
    _rename(state, holder)
    if not state.of_holder(holder.code):
        kind = type_named("居民身份证" if holder.kind == ID_CARD else "营业执照")
        if kind is None:
            raise RegistryError(400, "证照类型目录中没有居民身份证或营业执照")
        rng = _rng(state.seed, holder.code, "licenses")
        issued = state.today() - timedelta(days=400)
        license = new_license(
            kind,
            holder,
            rng,
            issued=issued,
            until=None,
            number=holder.code,
            issuer=issuer_of(holder.place, kind.department, rng),
        )
        state.put(license)
    return {
        "czztdm": holder.code,
        "czztdmlx": holder.kind,
        "czzt": holder.name,
        "total": len(state.of_holder(holder.code)),
    }


def _identifier(params: Params) -> str | None:
    value = _param(params, "zzbs")
    if value is None:
        return None
    reasons = validate_license_id(value)
    if reasons:
        raise RegistryError(400, f"params.zzbs不是有效的证照标识：{'; '.join(reasons)}")
    return str(parse_license_id(value))


def _described(state: RegistryState, license: License) -> Params:
    return {
        "zzbs": license.identifier,
        "zzlxdm": license.type_code,
        "czztdm": license.holder_code,
        "czzt": license.holder_name,
        "zzzt": license.status(state.today()),
    }


def _with_status(license: License, status: str, today: date) -> License:
    """``license`` made 有效, 注销 or 过期 as of ``today``."""
    if status == VALID:
        return replace(license, revoked_on=None, revoke_reason=None, valid_until=None)
    if status == REVOKED:
        return replace(license, revoked_on=today - timedelta(days=10), revoke_reason="依申请注销")
    issued = today - timedelta(days=6 * 365)
    return replace(
        license,
        issued_on=issued,
        valid_from=issued,
        valid_until=today - timedelta(days=30),
        revoked_on=None,
        revoke_reason=None,
    )


def a_license_exists(state: RegistryState, params: Params) -> Params:
    """The license ``zzbs`` of the holder ``czztdm`` exists with the status ``zzzt``."""
    status = params.get("zzzt", VALID)
    if status not in STATUSES:
        raise RegistryError(400, "params.zzzt应为01、02或03")
    identifier = _identifier(params)
    code = _param(params, "czztdm")
    name = _param(params, "czzt")
    today = state.today()
    if identifier is None:
        candidates = (
            state.of_holder(_holder(state, code, None).code)
            if code is not None
            else list(state.licenses.values())
        )
        chosen = next((lic for lic in candidates if lic.status(today) == status), None)
        if chosen is None and candidates:
            chosen = _with_status(candidates[0], status, today)
        if chosen is not None:
            if name is not None:
                chosen = replace(chosen, holder_name=name)
            state.put(chosen)
            return _described(state, chosen)
        kind = type_named("居民身份证")
        if kind is None:
            raise RegistryError(400, "证照类型目录中没有居民身份证")
        assert code is not None
        holder = _holder(state, code, name)
        issuer = (local_organ(holder.place, kind.department), holder.place.code)
        identifier = make_license_id(kind.code, issuer[1], holder.code, 1)
    parts = parse_license_id(identifier)
    kind = registry_types().get(parts.license_type_code)
    if kind is None:
        raise RegistryError(400, f"证照类型{parts.license_type_code}不存在")
    holder = _holder(state, code, name) if code is not None else _default_holder(state, kind)
    if (holder.kind == ID_CARD) != (kind.holder_kind == PERSON):
        raise RegistryError(400, f"{kind.name}的持证主体与params.czztdm的类型不符")
    place = holder.place
    if len(parts.issuer_code) == 6 and parts.issuer_code in divisions():
        place = divisions()[parts.issuer_code]
    rng = _rng(state.seed, identifier)
    license = new_license(
        kind,
        holder,
        rng,
        issued=today - timedelta(days=365),
        until=None,
        number=parts.license_number,
        issuer=(local_organ(place, kind.department), parts.issuer_code),
        version=parts.version,
    )
    license = _with_status(license, status, today)
    state.put(license)
    return _described(state, license)


def no_license_with_this_identifier(state: RegistryState, params: Params) -> Params:
    """Nothing has the identifier ``zzbs`` (one is made up when not given)."""
    identifier = _identifier(params)
    if identifier is None:
        kind = next(iter(registry_types().values()))
        number = 1
        identifier = make_license_id(kind.code, "430100", f"NOTISSUED{number:06d}", 1)
        while identifier in state.licenses:
            number += 1
            identifier = make_license_id(kind.code, "430100", f"NOTISSUED{number:06d}", 1)
    state.remove(identifier)
    return {"zzbs": identifier}


PROVIDER_STATES: dict[str, StateHandler] = {
    "a holder with licenses": a_holder_with_licenses,
    "a license exists": a_license_exists,
    "no license with this identifier": no_license_with_this_identifier,
}


def _state(request: Request) -> RegistryState:
    state: RegistryState = request.app.state.registry
    return state


async def set_provider_state(request: Request) -> Response:
    """Make a named provider state true; 400 (listing the known states) for an unknown name."""
    try:
        body = json.loads(await request.body())
    except ValueError:
        raise RegistryError(400, "请求体不是合法的JSON") from None
    if not isinstance(body, dict):
        raise RegistryError(400, "请求体应为JSON对象")
    params = body.get("params") or {}
    name = body.get("state")
    handler = PROVIDER_STATES.get(name) if isinstance(name, str) else None
    if handler is None or not isinstance(params, dict):
        return JSONResponse(
            {
                "resultCode": "9400",
                "resultMsg": f"未知的提供方状态：{name}",
                "data": None,
                "known_states": list(PROVIDER_STATES),
            },
            status_code=400,
        )
    return JSONResponse({"state": name, "params": handler(_state(request), params)})


async def reset(request: Request) -> Response:
    _state(request).reset()
    return Response(status_code=204)


def provider_state_routes() -> list[BaseRoute]:
    """The ``/_sim/*`` routes."""
    return [
        Route("/_sim/provider-state", set_provider_state, methods=["POST"]),
        Route("/_sim/reset", reset, methods=["POST"]),
    ]
