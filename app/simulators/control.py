"""The control app of a ``SimulatorHost``: list the simulators, set their faults, read counts.

=======  ===================================  ==============================================
GET      /simulators                          every simulator: division, name, url, faults
GET      /simulators/{division}               one of them
GET      /simulators/{division}/faults        its faults
PUT      /simulators/{division}/faults        replace them (fields left out are switched off)
PATCH    /simulators/{division}/faults        change only the fields given
DELETE   /simulators/{division}/faults        switch every fault off
GET      /simulators/{division}/received      requests received per (method, path template)
DELETE   /simulators/{division}/received      forget the counts
=======  ===================================  ==============================================

Errors are ``{"detail": "..."}``: 400 a body that is not a JSON object, 404 a division not
hosted, 422 a fault field unknown or out of range.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from app.simulators.city.data import prefecture
from app.simulators.faults import Faults, received_as_list

if TYPE_CHECKING:
    from app.simulators.host import Simulator, SimulatorHost


class _ControlError(Exception):
    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


async def _control_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, _ControlError)
    return JSONResponse({"detail": exc.detail}, status_code=exc.status)


def create_control_app(host: SimulatorHost) -> Starlette:
    """The control app of ``host``."""

    def simulator(request: Request) -> Simulator:
        division: str = request.path_params["division"]
        try:
            return host.simulator(division)
        except KeyError:
            raise _ControlError(404, f"no simulator for {division} is hosted here") from None

    def describe(sim: Simulator) -> dict[str, Any]:
        url = host.url(sim.name)
        return {
            "division": sim.name,
            "name": prefecture(sim.name).name,
            "url": url,
            "openapi": f"{url}/openapi.yaml",
            "listening": sim.proxy.listening,
            "faults": sim.faults.as_dict(),
            "received": sum(sim.received.values()),
        }

    async def changes(request: Request) -> dict[str, Any]:
        try:
            body = json.loads(await request.body())
        except ValueError:
            raise _ControlError(400, "the body is not JSON") from None
        if not isinstance(body, dict):
            raise _ControlError(400, "the body must be a JSON object of fault fields")
        return body

    async def apply(division: str, fields: dict[str, Any]) -> Response:
        try:
            faults = await host.set_faults(division, **fields)
        except ValueError as exc:
            raise _ControlError(422, str(exc)) from None
        return JSONResponse(faults.as_dict())

    async def list_simulators(request: Request) -> Response:
        return JSONResponse([describe(sim) for sim in host.simulators()])

    async def get_simulator(request: Request) -> Response:
        return JSONResponse(describe(simulator(request)))

    async def get_faults(request: Request) -> Response:
        return JSONResponse(simulator(request).faults.as_dict())

    async def put_faults(request: Request) -> Response:
        sim = simulator(request)
        return await apply(sim.name, {**asdict(Faults()), **await changes(request)})

    async def patch_faults(request: Request) -> Response:
        sim = simulator(request)
        return await apply(sim.name, await changes(request))

    async def delete_faults(request: Request) -> Response:
        sim = simulator(request)
        return JSONResponse((await host.clear_faults(sim.name)).as_dict())

    async def get_received(request: Request) -> Response:
        sim = simulator(request)
        return JSONResponse(
            {
                "division": sim.name,
                "total": sum(sim.received.values()),
                "requests": received_as_list(sim.received),
            }
        )

    async def delete_received(request: Request) -> Response:
        simulator(request).received.clear()
        return Response(status_code=204)

    return Starlette(
        routes=[
            Route("/simulators", list_simulators, methods=["GET"]),
            Route("/simulators/{division}", get_simulator, methods=["GET"]),
            Route("/simulators/{division}/faults", get_faults, methods=["GET"]),
            Route("/simulators/{division}/faults", put_faults, methods=["PUT"]),
            Route("/simulators/{division}/faults", patch_faults, methods=["PATCH"]),
            Route("/simulators/{division}/faults", delete_faults, methods=["DELETE"]),
            Route("/simulators/{division}/received", get_received, methods=["GET"]),
            Route("/simulators/{division}/received", delete_received, methods=["DELETE"]),
        ],
        exception_handlers={_ControlError: _control_error},
    )
