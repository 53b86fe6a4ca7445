"""``create_register_app``: the market-supervision enterprise register as an ASGI app.

=======  ==========================  =========================================================
GET      /enterprises/{uscc}         the enterprise (200), a malformed code (400), none (404),
                                     a wrong credential (401)
GET      /openapi.yaml, .json        its OpenAPI document
POST     /_sim/provider-state        ``{"state": ..., "params": {...}}``: make a state true
POST     /_sim/reset                 back to the seeded enterprises
GET      /_sim/enterprises           every enterprise, as the register answers them
POST     /_sim/enterprises           add (or replace) one: any of ``uscc``, ``name``,
                                     ``legal_representative``, ``legal_representative_id_number``,
                                     ``status``; the rest is drawn (201, the enterprise)
=======  ==========================  =========================================================

Like a real register (国家企业信用信息公示系统 publishes a company's name, status and legal
representative, never an ID number), it gives the legal representative's ID number only to its
authenticated consumer, the gateway: a request with ``Authorization: Bearer <consumer_token>``
gets it; one without credentials gets the public fields; a wrong credential is 401. Without a
``consumer_token`` nobody gets ID numbers. Every answer that shows an enterprise, the ``/_sim/*``
ones included, follows the same rule.

Errors are ``{"code": "...", "message": "..."}``. ``/_sim/*`` is not in the OpenAPI document.
"""

from __future__ import annotations

import hmac
import json
import random
from collections.abc import Callable
from dataclasses import replace
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

from app.core.identifiers import normalise_resident_id, validate_resident_id, validate_uscc
from app.simulators.enterprise.data import STATUSES, Enterprise, new_enterprise, seeded_enterprises
from app.simulators.faults import FaultMiddleware, Faults, Received

Params = dict[str, Any]


@cache
def openapi_document() -> str:
    """The register's OpenAPI document (YAML), as served at ``/openapi.yaml``."""
    return files("app.simulators.enterprise").joinpath("openapi.yaml").read_text(encoding="utf-8")


@cache
def _openapi_json() -> str:
    return json.dumps(yaml.safe_load(openapi_document()), ensure_ascii=False)


def register_error(status: int, message: str | None = None) -> JSONResponse:
    """An answer in the register's error format."""
    codes = {400: "BAD_REQUEST", 401: "UNAUTHORIZED", 404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}
    text = message or {404: "未找到", 405: "不支持的方法"}.get(status, "服务异常")
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(
        {"code": codes.get(status, f"E{status}"), "message": text}, status, headers=headers
    )


class RegisterError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class RegisterState:
    """The enterprises one simulator instance serves: the seeded ones plus those added."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.enterprises: dict[str, Enterprise] = {}
        self.reset()

    def reset(self) -> None:
        self.enterprises = {e.uscc: e for e in seeded_enterprises(self.seed)}

    def add(self, params: Params) -> Enterprise:
        """Add or replace an enterprise: the values given, the rest drawn from the code."""
        given = params.get("uscc")
        uscc = _code(given, "params.uscc") if given is not None else None
        rng = random.Random(f"{self.seed}|{uscc}|{len(self.enterprises)}")  # noqa: S311
        drawn = new_enterprise(rng, status="存续")
        if uscc is None:
            while drawn.uscc in self.enterprises:
                drawn = new_enterprise(rng, status="存续")
            uscc = drawn.uscc
        changes: dict[str, Any] = {"uscc": uscc}
        for field, key in (("name", "name"), ("legal_representative", "legal_representative")):
            if params.get(key) is not None:
                changes[field] = _text(params[key], f"params.{key}")
        if params.get("legal_representative_id_number") is not None:
            changes["legal_representative_id_number"] = _id_number(
                params["legal_representative_id_number"], "params.legal_representative_id_number"
            )
        if params.get("status") is not None:
            if params["status"] not in STATUSES:
                raise RegisterError(400, f"status应为{'、'.join(STATUSES)}之一")
            changes["status"] = params["status"]
        enterprise = replace(self.enterprises.get(uscc, drawn), **changes)
        self.enterprises[uscc] = enterprise
        return enterprise


def _code(value: object, where: str) -> str:
    if not isinstance(value, str) or validate_uscc(value):
        raise RegisterError(400, f"{where}不是有效的统一社会信用代码")
    return value.strip().upper()


def _text(value: object, where: str) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > 200:
        raise RegisterError(400, f"{where}应为非空字符串")
    return value.strip()


def _id_number(value: object, where: str) -> str:
    if not isinstance(value, str) or validate_resident_id(value):
        raise RegisterError(400, f"{where}不是有效的居民身份证号码")
    return normalise_resident_id(value)


def _state(request: Request) -> RegisterState:
    state: RegisterState = request.app.state.register
    return state


def _authenticated(request: Request) -> bool:
    """Whether the caller is the register's consumer; no credential is the public (False), a
    wrong one is refused (401)."""
    presented = request.headers.get("authorization")
    if presented is None:
        return False
    expected: str | None = request.app.state.consumer_token
    scheme, _, credential = presented.partition(" ")
    if (
        expected is not None
        and scheme.lower() == "bearer"
        and hmac.compare_digest(credential.strip().encode(), expected.encode())
    ):
        return True
    raise RegisterError(401, "凭证无效：法定代表人身份证号码仅向经认证的使用方提供")


def _shown(request: Request, enterprise: Enterprise) -> dict[str, object]:
    return enterprise.as_json(id_number=_authenticated(request))


async def get_enterprise(request: Request) -> Response:
    uscc: str = request.path_params["uscc"]
    if validate_uscc(uscc) or uscc != uscc.strip().upper():
        return register_error(400, "统一社会信用代码格式不正确")
    enterprise = _state(request).enterprises.get(uscc)
    if enterprise is None:
        return register_error(404, "未查询到该统一社会信用代码的企业登记信息")
    return JSONResponse(_shown(request, enterprise))


# --- /_sim/*: provider states and the control endpoints --------------------------------------


def an_enterprise_exists(state: RegisterState, params: Params) -> Enterprise:
    """An enterprise (by ``uscc``, with the values given; status 存续 unless given)."""
    return state.add({"status": "存续", **params})


def no_enterprise_with_this_code(state: RegisterState, params: Params) -> Params:
    """No enterprise has the credit code ``uscc`` (one is picked when not given)."""
    if params.get("uscc") is not None:
        uscc = _code(params["uscc"], "params.uscc")
    else:
        rng = random.Random(f"{state.seed}|absent")  # noqa: S311
        uscc = new_enterprise(rng).uscc
        while uscc in state.enterprises:
            uscc = new_enterprise(rng).uscc
    state.enterprises.pop(uscc, None)
    return {"uscc": uscc}


def _described(enterprise: Enterprise, *, id_number: bool) -> Params:
    """An enterprise in provider-state terms (the ID number only for the consumer)."""
    described: Params = {
        "uscc": enterprise.uscc,
        "name": enterprise.name,
        "legal_representative": enterprise.legal_representative,
        "status": enterprise.status,
    }
    if id_number:
        described["legal_representative_id_number"] = enterprise.legal_representative_id_number
    return described


PROVIDER_STATES: dict[str, Callable[[RegisterState, Params], Params | Enterprise]] = {
    "an enterprise exists": an_enterprise_exists,
    "no enterprise with this code": no_enterprise_with_this_code,
}


async def _json_object(request: Request) -> dict[str, Any]:
    try:
        body = json.loads(await request.body())
    except ValueError:
        raise RegisterError(400, "请求体不是合法的JSON") from None
    if not isinstance(body, dict):
        raise RegisterError(400, "请求体应为JSON对象")
    return body


async def set_provider_state(request: Request) -> Response:
    """Make a named provider state true; 400 (listing the known states) for an unknown name."""
    with_id_number = _authenticated(request)
    body = await _json_object(request)
    params = body.get("params") or {}
    name = body.get("state")
    handler = PROVIDER_STATES.get(name) if isinstance(name, str) else None
    if handler is None or not isinstance(params, dict):
        return JSONResponse(
            {
                "code": "BAD_REQUEST",
                "message": f"未知的提供方状态：{body.get('state')}",
                "known_states": list(PROVIDER_STATES),
            },
            status_code=400,
        )
    made = handler(_state(request), params)
    shown = _described(made, id_number=with_id_number) if isinstance(made, Enterprise) else made
    return JSONResponse({"state": body["state"], "params": shown})


async def reset(request: Request) -> Response:
    _state(request).reset()
    return Response(status_code=204)


async def list_enterprises(request: Request) -> Response:
    return JSONResponse([_shown(request, e) for e in _state(request).enterprises.values()])


async def add_enterprise(request: Request) -> Response:
    with_id_number = _authenticated(request)  # before anything changes
    enterprise = _state(request).add(await _json_object(request))
    return JSONResponse(enterprise.as_json(id_number=with_id_number), status_code=201)


async def _register_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RegisterError)
    return register_error(exc.status, exc.message)


async def _http_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return register_error(exc.status_code)


async def _server_error_handler(request: Request, exc: Exception) -> Response:
    return register_error(500)


def create_register_app(
    *,
    seed: int = 1,
    faults: Faults | None = None,
    received: Received | None = None,
    provider_states: bool = True,
    consumer_token: str | None = None,
) -> Starlette:
    """The simulated enterprise register, seeded with ``seed``'s enterprises.

    ``app.state`` holds ``register`` (the data), ``faults`` and ``received``; ``provider_states``
    mounts ``/_sim/*`` for contract tests, the test suite and the demo. ``consumer_token`` is the
    bearer token of the one consumer given ID numbers (None: nobody).
    """
    faults = faults if faults is not None else Faults()
    received = received if received is not None else Received()
    document_yaml = openapi_document()

    async def openapi_as_yaml(request: Request) -> Response:
        return Response(document_yaml, media_type="application/yaml")

    async def openapi_as_json(request: Request) -> Response:
        return Response(_openapi_json(), media_type="application/json")

    routes: list[BaseRoute] = [
        Route("/enterprises/{uscc}", get_enterprise, methods=["GET"]),
        Route("/openapi.yaml", openapi_as_yaml, methods=["GET"]),
        Route("/openapi.json", openapi_as_json, methods=["GET"]),
    ]
    if provider_states:
        routes += [
            Route("/_sim/provider-state", set_provider_state, methods=["POST"]),
            Route("/_sim/reset", reset, methods=["POST"]),
            Route("/_sim/enterprises", list_enterprises, methods=["GET"]),
            Route("/_sim/enterprises", add_enterprise, methods=["POST"]),
        ]
    app = Starlette(
        routes=routes,
        middleware=[
            Middleware(
                FaultMiddleware,
                faults=faults,
                received=received,
                routes=routes,
                error_response=register_error,
            )
        ],
        exception_handlers={
            RegisterError: _register_error_handler,
            HTTPException: _http_error_handler,
            Exception: _server_error_handler,
        },
    )
    app.state.register = RegisterState(seed)
    app.state.consumer_token = consumer_token
    app.state.faults = faults
    app.state.received = received
    return app
