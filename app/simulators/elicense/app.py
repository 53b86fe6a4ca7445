"""``create_registry_app``: the provincial e-license registry (电子证照库) as an ASGI app.

=======  ====================  ============================================================
POST     /api/v2/zzlx/query    the license types, a page at a time (``queryLicenseTypes``)
POST     /api/v2/zz/query      a holder's licenses, by ID number or credit code
POST     /api/v2/zz/detail     one license by identifier, with its data items (``zzsj``)
POST     /api/v2/zz/issue      制发: a department issues a license (the identifier checked)
POST     /api/v2/zz/revoke     注销: a department revokes one
GET      /openapi.yaml, .json  its OpenAPI document
POST     /_sim/provider-state  ``{"state": ..., "params": {...}}``: make a state true
POST     /_sim/reset           back to the seeded licenses
=======  ====================  ============================================================

The protocol is the registry's own, not the gateway's canonical API (the gateway's e-license
connector translates): POST with a JSON object, the envelope ``{"resultCode", "resultMsg",
"data"}``, pinyin-initial field names, dates as yyyyMMdd, status codes 01/02/03. A request the
registry reads is answered 200 with its outcome in ``resultCode`` (0000 success; 1001 a bad
parameter, 1002 an unknown type, 2001 no such license, 2002 already issued, 2003 a status that
does not allow it); anything else has its HTTP status and ``resultCode`` "9" + the status, the
injected faults included. Its document (``openapi.yaml``) says the same.

Given the gateway's public keys (``gateway_jwks``), every ``/api/`` call must carry the gateway's
signed assertion (``X-XYB-Assertion``, audience ``assertion_audience``), verified offline as a
real upstream would: a missing, forged, expired or mis-addressed one is 401 (9401). Without keys
(contract replay, which has no gateway) nothing is checked. ``/_sim/*`` is not in the document.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import date, datetime
from functools import cache
from importlib.resources import files
from typing import Any

import yaml
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from app.core.identifiers import (
    PROVINCE_PREFIXES,
    normalise_resident_id,
    parse_license_id,
    validate_license_id,
    validate_resident_id,
    validate_uscc,
)
from app.simulators.assertions import (
    ASSERTION_HEADER,
    AssertionRefused,
    GatewayAssertions,
    JwksSource,
    gateway_assertions,
)
from app.simulators.city.api import Clock, shanghai_now
from app.simulators.elicense.data import (
    CREDIT_CODE,
    ID_CARD,
    INDEFINITE,
    REVOKED,
    STATUSES,
    License,
    seeded_licenses,
)
from app.simulators.elicense.types import LEGAL_PERSON, PERSON, RegistryType, registry_types
from app.simulators.faults import FaultMiddleware, Faults, Received

Params = dict[str, Any]

OK = "0000"
BAD_PARAMETER = "1001"
UNKNOWN_TYPE = "1002"
NO_SUCH_LICENSE = "2001"
ALREADY_ISSUED = "2002"
WRONG_STATUS = "2003"
# The audience of the gateway's assertions for the registry: its service key (division/slug).
DEFAULT_AUDIENCE = "430000/elicense"
MAX_PAGE_SIZE = 100
MAX_TEXT = 200
_YMD = re.compile(r"[0-9]{8}")
_INTEGER = re.compile(r"-?[0-9]+")
_DECIMAL = re.compile(r"-?[0-9]+(\.[0-9]+)?")
_BOOLEANS = ("true", "false", "是", "否")
_HTTP_MESSAGES = {
    400: "请求体应为JSON对象",
    401: "网关断言缺失或无效",
    404: "接口不存在",
    405: "不支持的请求方法",
    500: "系统内部错误",
    503: "系统繁忙，请稍后再试",
}


@cache
def openapi_document() -> str:
    """The registry's OpenAPI document (YAML), as served at ``/openapi.yaml``."""
    return files("app.simulators.elicense").joinpath("openapi.yaml").read_text(encoding="utf-8")


@cache
def _openapi_json() -> str:
    return json.dumps(yaml.safe_load(openapi_document()), ensure_ascii=False)


def envelope(result_code: str, message: str, data: object = None, status: int = 200) -> Response:
    """An answer in the registry's envelope."""
    body = {"resultCode": result_code, "resultMsg": message, "data": data}
    return JSONResponse(body, status_code=status)


def registry_error(status: int, message: str | None = None) -> Response:
    """An HTTP error in the registry's envelope: ``resultCode`` "9" + the status."""
    text = message or _HTTP_MESSAGES.get(status, "服务异常")
    response = envelope(f"9{status:03d}", text, None, status)
    if status == 401:
        response.headers["WWW-Authenticate"] = "Bearer"
    return response


class RegistryError(Exception):
    """An HTTP error (the request was not read as one of the registry's)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class Refused(Exception):
    """A request the registry read and refused: HTTP 200 with a result code."""

    def __init__(self, result_code: str, message: str) -> None:
        super().__init__(message)
        self.result_code = result_code
        self.message = message


# -- state -------------------------------------------------------------------------------------


class RegistryState:
    """The licenses one simulator instance holds: the seeded ones plus what requests changed."""

    def __init__(self, seed: int, clock: Clock) -> None:
        self.seed = seed
        self.clock = clock
        self.licenses: dict[str, License] = {}
        self.by_holder: dict[str, list[str]] = {}
        self.reset()

    def reset(self) -> None:
        """Back to the seeded licenses."""
        self.licenses = {}
        self.by_holder = {}
        for license in seeded_licenses(self.seed):
            self.put(license)

    def today(self) -> date:
        """Today in China."""
        return self.clock().date()

    def put(self, license: License) -> None:
        """Add or replace a license."""
        if license.identifier not in self.licenses:
            self.by_holder.setdefault(license.holder_code, []).append(license.identifier)
        else:
            old = self.licenses[license.identifier]
            if old.holder_code != license.holder_code:
                self.by_holder[old.holder_code].remove(license.identifier)
                self.by_holder.setdefault(license.holder_code, []).append(license.identifier)
        self.licenses[license.identifier] = license

    def remove(self, identifier: str) -> None:
        """Forget a license (if held)."""
        license = self.licenses.pop(identifier, None)
        if license is not None:
            self.by_holder[license.holder_code].remove(identifier)

    def of_holder(self, code: str) -> list[License]:
        """A holder's licenses, newest first."""
        found = [self.licenses[i] for i in self.by_holder.get(code, [])]
        return sorted(found, key=lambda lic: (lic.issued_on, lic.identifier), reverse=True)


def _state(request: Request) -> RegistryState:
    state: RegistryState = request.app.state.registry
    return state


# -- the gateway's assertion -------------------------------------------------------------------


async def _read(request: Request) -> Params:
    """The request's JSON object, after the gateway's assertion (when checked)."""
    assertions: GatewayAssertions | None = request.app.state.assertion
    if assertions is not None:
        try:
            request.state.assertion = assertions.verify(request.headers.get(ASSERTION_HEADER))
        except AssertionRefused as refused:
            raise RegistryError(401, refused.reason) from None
    try:
        body = json.loads(await request.body())
    except ValueError:
        raise RegistryError(400, "请求体不是合法的JSON") from None
    if not isinstance(body, dict):
        raise RegistryError(400, "请求体应为JSON对象")
    return body


# -- parameters --------------------------------------------------------------------------------


def _optional(body: Params, name: str) -> str | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_TEXT:
        raise Refused(BAD_PARAMETER, f"参数{name}应为1至{MAX_TEXT}个字符的字符串")
    return value.strip()


def _required(body: Params, name: str) -> str:
    value = _optional(body, name)
    if value is None:
        raise Refused(BAD_PARAMETER, f"缺少参数{name}")
    return value


def _page_number(body: Params, name: str, default: int, largest: int | None = None) -> int:
    value = body.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise Refused(BAD_PARAMETER, f"参数{name}应为正整数")
    if largest is not None and value > largest:
        raise Refused(BAD_PARAMETER, f"参数{name}不能大于{largest}")
    return value


def _ymd(value: str, name: str) -> date:
    if not _YMD.fullmatch(value):
        raise Refused(BAD_PARAMETER, f"参数{name}应为yyyyMMdd格式的日期")
    try:
        return datetime.strptime(value, "%Y%m%d").date()
    except ValueError:
        raise Refused(BAD_PARAMETER, f"参数{name}不是有效的日期") from None


def checked_holder(code: str, kind: str) -> str:
    """The holder code, normalised, after the check its kind calls for (1001 otherwise)."""
    if kind == ID_CARD:
        reasons = validate_resident_id(code)
        if reasons:
            raise Refused(
                BAD_PARAMETER, f"持证主体代码不是有效的居民身份证号码：{'；'.join(reasons)}"
            )
        return normalise_resident_id(code)
    if kind == CREDIT_CODE:
        reasons = validate_uscc(code)
        if reasons:
            raise Refused(
                BAD_PARAMETER, f"持证主体代码不是有效的统一社会信用代码：{'；'.join(reasons)}"
            )
        return code.strip().upper()
    raise Refused(
        BAD_PARAMETER,
        f"持证主体代码类型应为{ID_CARD}（居民身份证）或{CREDIT_CODE}（统一社会信用代码）",
    )


def _holder(body: Params) -> tuple[str, str]:
    kind = _required(body, "czztdmlx")
    return checked_holder(_required(body, "czztdm"), kind), kind


def checked_identifier(value: object) -> str:
    """The identifier in its written form, or 1001 naming each part that is wrong."""
    if not isinstance(value, str) or not value.strip():
        raise Refused(BAD_PARAMETER, "缺少参数zzbs")
    reasons = validate_license_id(value)
    if reasons:
        raise Refused(BAD_PARAMETER, f"证照标识不正确：{'; '.join(reasons)}")
    return str(parse_license_id(value))


def _license(state: RegistryState, body: Params) -> License:
    identifier = checked_identifier(body.get("zzbs"))
    license = state.licenses.get(identifier)
    if license is None:
        raise Refused(NO_SUCH_LICENSE, "未查询到该证照标识对应的证照")
    return license


def _type(code: str) -> RegistryType:
    kind = registry_types().get(code)
    if kind is None:
        raise Refused(UNKNOWN_TYPE, f"证照类型{code}不存在")
    return kind


# -- operations --------------------------------------------------------------------------------


async def query_types(request: Request) -> Response:
    body = await _read(request)
    page = _page_number(body, "pageNo", 1)
    size = _page_number(body, "pageSize", 20, MAX_PAGE_SIZE)
    holder_kind = body.get("czztlx")
    if holder_kind is not None and holder_kind not in (PERSON, LEGAL_PERSON):
        raise Refused(BAD_PARAMETER, f"参数czztlx应为{PERSON}（自然人）或{LEGAL_PERSON}（法人）")
    kinds = [
        k for k in registry_types().values() if holder_kind is None or k.holder_kind == holder_kind
    ]
    shown = kinds[(page - 1) * size : page * size]
    data = {
        "total": len(kinds),
        "pageNo": page,
        "pageSize": size,
        "list": [k.as_json() for k in shown],
    }
    return envelope(OK, "成功", data)


async def query_holder(request: Request) -> Response:
    body = await _read(request)
    state = _state(request)
    code, _ = _holder(body)
    type_code = _optional(body, "zzlxdm")
    if type_code is not None:
        _type(type_code.upper())
    status = body.get("zzzt")
    if status is not None and status not in STATUSES:
        raise Refused(BAD_PARAMETER, "参数zzzt应为01（有效）、02（注销）或03（过期）")
    today = state.today()
    found = [
        license
        for license in state.of_holder(code)
        if (type_code is None or license.type_code == type_code.upper())
        and (status is None or license.status(today) == status)
    ]
    data = {"total": len(found), "list": [lic.as_json(today, data=False) for lic in found]}
    return envelope(OK, "成功", data)


async def get_license(request: Request) -> Response:
    body = await _read(request)
    state = _state(request)
    license = _license(state, body)
    return envelope(OK, "成功", license.as_json(state.today(), data=True))


def checked_issuer_segment(code: str) -> None:
    """A division code must be in a province (a credit code is checked by GB 32100 already)."""
    if len(code) == 6 and code[:2] not in PROVINCE_PREFIXES:
        raise Refused(BAD_PARAMETER, f"证照标识不正确：issuer code {code} is not a division code")


def _data_items(kind: RegistryType, value: object) -> dict[str, str]:
    if not isinstance(value, dict):
        raise Refused(BAD_PARAMETER, "参数zzsj应为对象")
    names = [item.name for item in kind.fields]
    missing = [name for name in names if name not in value]
    unknown = sorted(set(value) - set(names))
    if missing or unknown:
        parts = ([f"缺少数据项{'、'.join(missing)}"] if missing else []) + (
            [f"{kind.name}没有数据项{'、'.join(unknown)}"] if unknown else []
        )
        raise Refused(BAD_PARAMETER, "；".join(parts))
    data: dict[str, str] = {}
    for item in kind.fields:
        item_value = value[item.name]
        if not isinstance(item_value, str) or len(item_value) > 1000:
            raise Refused(BAD_PARAMETER, f"数据项{item.name}应为字符串")
        if item.kind == "date" and not (item.name == "valid_until" and item_value == INDEFINITE):
            _ymd(item_value, f"zzsj.{item.name}")
        elif item.kind == "integer" and not _INTEGER.fullmatch(item_value):
            raise Refused(BAD_PARAMETER, f"数据项{item.name}应为整数")
        elif item.kind == "decimal" and not _DECIMAL.fullmatch(item_value):
            raise Refused(BAD_PARAMETER, f"数据项{item.name}应为数值")
        elif item.kind == "boolean" and item_value not in _BOOLEANS:
            raise Refused(BAD_PARAMETER, f"数据项{item.name}应为是或否")
        data[item.name] = item_value
    return data


async def issue_license(request: Request) -> Response:
    body = await _read(request)
    state = _state(request)
    identifier = checked_identifier(body.get("zzbs"))
    parts = parse_license_id(identifier)
    checked_issuer_segment(parts.issuer_code)
    kind = _type(parts.license_type_code)
    code, code_kind = _holder(body)
    if (code_kind == ID_CARD) != (kind.holder_kind == PERSON):
        whose = "自然人" if kind.holder_kind == PERSON else "法人"
        raise Refused(BAD_PARAMETER, f"{kind.name}的持证主体应为{whose}")
    holder_name = _required(body, "czzt")
    issuer = _required(body, "bfjg")
    today = state.today()
    issued_text = _optional(body, "bfrq")
    issued = _ymd(issued_text, "bfrq") if issued_text else today
    start, end_text = _ymd(_required(body, "yxqq"), "yxqq"), _required(body, "yxqz")
    end = None if end_text == INDEFINITE else _ymd(end_text, "yxqz")
    if end is not None and end < start:
        raise Refused(BAD_PARAMETER, "有效期截止日期早于起始日期")
    data = _data_items(kind, body.get("zzsj"))
    if identifier in state.licenses:
        raise Refused(ALREADY_ISSUED, "该证照标识的证照已制发")
    license = License(
        identifier=identifier,
        type_code=kind.code,
        number=parts.license_number,
        version=parts.version,
        holder_name=holder_name,
        holder_code=code,
        holder_code_kind=code_kind,
        issuer=issuer,
        issuer_code=parts.issuer_code,
        issued_on=issued,
        valid_from=start,
        valid_until=end,
        data=data,
    )
    state.put(license)
    return envelope(OK, "制发成功", license.as_json(today, data=True))


async def revoke_license(request: Request) -> Response:
    body = await _read(request)
    state = _state(request)
    license = _license(state, body)
    reason = _required(body, "zxyy")
    today = state.today()
    if license.status(today) == REVOKED:
        raise Refused(WRONG_STATUS, "该证照已注销")
    revoked = replace(license, revoked_on=today, revoke_reason=reason)
    state.put(revoked)
    return envelope(OK, "注销成功", revoked.as_json(today, data=True))


# -- the app -----------------------------------------------------------------------------------


async def _refused_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Refused)
    return envelope(exc.result_code, exc.message)


async def _registry_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RegistryError)
    return registry_error(exc.status, exc.message)


async def _http_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return registry_error(exc.status_code)


async def _server_error_handler(request: Request, exc: Exception) -> Response:
    return registry_error(500)


def create_registry_app(
    *,
    seed: int = 1,
    faults: Faults | None = None,
    received: Received | None = None,
    provider_states: bool = True,
    clock: Clock = shanghai_now,
    gateway_jwks: JwksSource | None = None,
    assertion_issuer: str | None = None,
    assertion_audience: str = DEFAULT_AUDIENCE,
) -> Starlette:
    """The simulated e-license registry, seeded with ``seed``'s licenses.

    ``app.state`` holds ``registry`` (the data), ``faults`` and ``received``; ``provider_states``
    mounts ``/_sim/*``. ``gateway_jwks`` (the gateway's JWK Set, or a function returning the
    current one) makes every ``/api/`` call need an assertion by ``assertion_issuer`` for
    ``assertion_audience``; ``clock`` decides what has expired.
    """
    from app.simulators.elicense.provider_states import provider_state_routes

    faults = faults if faults is not None else Faults()
    received = received if received is not None else Received()
    assertions = gateway_assertions(gateway_jwks, assertion_issuer, assertion_audience)
    document_yaml = openapi_document()

    async def openapi_as_yaml(request: Request) -> Response:
        return Response(document_yaml, media_type="application/yaml")

    async def openapi_as_json(request: Request) -> Response:
        return Response(_openapi_json(), media_type="application/json")

    routes: list[BaseRoute] = [
        Route("/api/v2/zzlx/query", query_types, methods=["POST"]),
        Route("/api/v2/zz/query", query_holder, methods=["POST"]),
        Route("/api/v2/zz/detail", get_license, methods=["POST"]),
        Route("/api/v2/zz/issue", issue_license, methods=["POST"]),
        Route("/api/v2/zz/revoke", revoke_license, methods=["POST"]),
        Route("/openapi.yaml", openapi_as_yaml, methods=["GET"]),
        Route("/openapi.json", openapi_as_json, methods=["GET"]),
    ]
    if provider_states:
        routes += provider_state_routes()
    app = Starlette(
        routes=routes,
        middleware=[
            Middleware(
                FaultMiddleware,
                faults=faults,
                received=received,
                routes=routes,
                error_response=registry_error,
            )
        ],
        exception_handlers={
            Refused: _refused_handler,
            RegistryError: _registry_error_handler,
            HTTPException: _http_error_handler,
            Exception: _server_error_handler,
        },
    )
    app.state.registry = RegistryState(seed, clock)
    app.state.assertion = assertions
    app.state.faults = faults
    app.state.received = received
    return app
