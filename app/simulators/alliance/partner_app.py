"""How each partner simulator (粤省事, 随申办, 赣服通) is assembled into an ASGI app, apart from
its dialect: its OpenAPI document at ``/openapi.yaml`` and ``/openapi.json``, the ``/_sim/*``
routes, fault injection over every route, the errors that never reached an operation (404, 405,
500) in the partner's own envelope, and the gateway's assertion checker in ``app.state``.

What a partner says and how (paths, envelopes, codes, its own middleware) stays in its
``app.py``; this module only wires it.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from functools import cache
from importlib.resources import files

import yaml
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from app.simulators.assertions import GatewayAssertions
from app.simulators.faults import ErrorResponder, FaultMiddleware, Faults, Received

ExceptionHandler = Callable[[Request, Exception], Awaitable[Response]]


@cache
def openapi_document(package: str) -> str:
    """The OpenAPI document (YAML) of the partner simulator ``package``."""
    return files(package).joinpath("openapi.yaml").read_text(encoding="utf-8")


@cache
def _openapi_json(package: str) -> str:
    return json.dumps(yaml.safe_load(openapi_document(package)), ensure_ascii=False)


def openapi_routes(package: str) -> list[BaseRoute]:
    """``GET /openapi.yaml`` and ``GET /openapi.json``: ``package``'s document."""

    async def openapi_as_yaml(request: Request) -> Response:
        return Response(openapi_document(package), media_type="application/yaml")

    async def openapi_as_json(request: Request) -> Response:
        return Response(_openapi_json(package), media_type="application/json")

    return [
        Route("/openapi.yaml", openapi_as_yaml, methods=["GET"]),
        Route("/openapi.json", openapi_as_json, methods=["GET"]),
    ]


def http_error_handlers(error_response: ErrorResponder) -> dict[type[Exception], ExceptionHandler]:
    """What never reached an operation, answered by ``error_response`` with its status: an
    unknown path or method (404, 405), or an error of the simulator itself (500)."""

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        return error_response(exc.status_code)

    async def server_error(request: Request, exc: Exception) -> Response:
        return error_response(500)

    return {HTTPException: http_error, Exception: server_error}


def partner_app(
    *,
    package: str,
    routes: Sequence[BaseRoute],
    sim_routes: Sequence[BaseRoute] | None,
    error_response: ErrorResponder,
    exception_handlers: dict[type[Exception], ExceptionHandler],
    state_name: str,
    state: object,
    assertions: GatewayAssertions | None,
    faults: Faults | None,
    received: Received | None,
    outer: Sequence[Middleware] = (),
    inner: Sequence[Middleware] = (),
) -> Starlette:
    """The partner's app: its operations (``routes``), then its document and its ``/_sim/*``
    routes (``sim_routes``; None: not mounted), behind ``outer`` middleware, fault injection
    (answering with ``error_response``) and ``inner`` middleware. ``exception_handlers`` map
    the partner's own refusals; 404/405/500 go to ``error_response``. ``app.state`` holds
    ``state`` under ``state_name``, ``assertion`` (the checker, None without the gateway's
    keys), ``faults`` and ``received``."""
    faults = faults if faults is not None else Faults()
    received = received if received is not None else Received()
    every_route = [*routes, *openapi_routes(package), *(sim_routes or ())]
    app = Starlette(
        routes=every_route,
        middleware=[
            *outer,
            Middleware(
                FaultMiddleware,
                faults=faults,
                received=received,
                routes=every_route,
                error_response=error_response,
            ),
            *inner,
        ],
        exception_handlers={**exception_handlers, **http_error_handlers(error_response)},
    )
    setattr(app.state, state_name, state)
    app.state.assertion = assertions
    app.state.faults = faults
    app.state.received = received
    return app
