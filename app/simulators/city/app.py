"""``create_city_app``: one prefecture's simulated government system as an ASGI app."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from app.simulators.city import data as d
from app.simulators.city.api import (
    SERVICE_ROUTES,
    CityError,
    CityState,
    Clock,
    city_error,
    shanghai_now,
)
from app.simulators.city.drift import checked_drift, drifted_endpoint
from app.simulators.city.openapi import openapi_document, openapi_json
from app.simulators.city.provider_states import provider_state_routes
from app.simulators.faults import FaultMiddleware, Faults, Received


async def _city_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, CityError)
    return city_error(exc.status, exc.message, exc.errors)


async def _http_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    response = city_error(exc.status_code)
    if exc.headers:
        response.headers.update(exc.headers)
    return response


async def _server_error_handler(request: Request, exc: Exception) -> Response:
    return city_error(500)


def create_city_app(
    division: str,
    *,
    faults: Faults | None = None,
    provider_states: bool = True,
    received: Received | None = None,
    clock: Clock = shanghai_now,
    drift: frozenset[str] = frozenset(),
) -> Starlette:
    """The simulated government system of prefecture ``division`` (430100 .. 433100).

    ``app.state`` holds ``faults``, ``received`` (requests per (method, path template)) and
    ``city`` (the data). ``provider_states`` mounts ``/_sim/*`` (provider states, reset,
    residents) for contract tests and demos. ``drift`` names ways the app departs from its
    document, for tests of contract verification (``app.simulators.city.drift.DRIFTS``; an
    unknown name is a ``ValueError``); the document it serves stays the same.
    """
    d.prefecture(division)  # refuses anything but the 14 prefectures
    drift = checked_drift(drift)
    faults = faults if faults is not None else Faults()
    received = received if received is not None else Received()
    document_yaml = openapi_document(division)
    document_json = openapi_json(division)

    async def openapi_as_yaml(request: Request) -> Response:
        return Response(document_yaml, media_type="application/yaml")

    async def openapi_as_json(request: Request) -> Response:
        return Response(document_json, media_type="application/json")

    routes: list[BaseRoute] = [
        Route(path, drifted_endpoint(endpoint, drift) if drift else endpoint, methods=[method])
        for path, endpoint, method in SERVICE_ROUTES
    ]
    routes += [
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
                error_response=city_error,
            )
        ],
        exception_handlers={
            CityError: _city_error_handler,
            HTTPException: _http_error_handler,
            Exception: _server_error_handler,
        },
    )
    app.state.faults = faults
    app.state.received = received
    app.state.city = CityState(division, clock)
    return app
