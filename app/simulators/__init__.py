"""Simulated upstreams: the 14 city systems, with fault injection, served in-process or on sockets.

- ``create_city_app(division)``: one prefecture's system as an ASGI app (``app.simulators.city``);
- ``openapi_document(division)``: its OpenAPI document (YAML), also served at ``/openapi.yaml``;
- ``Faults``: what a simulator does wrong, changed at run time (``app.simulators.faults``);
- ``SimulatorHost``: the simulators on real sockets behind a fault proxy (``app.simulators.host``),
  with a control app (``app.simulators.control``);
- ``simulator_for(connector, provider)``, ``simulators()``: the simulated providers by the names
  their contracts use (``app.simulators.providers``);
- ``app.simulators.enterprise`` and ``app.simulators.elicense``: the enterprise register the
  gateway consults and the e-license registry (电子证照库), each with its own protocol;
- ``DRIFTS``: ways a city app can be made to depart from its document (``drift=``), for tests of
  contract verification (``app.simulators.city.drift``).
"""

from app.simulators.city import (
    CITY_DIVISIONS,
    DRIFTS,
    PROVIDER_STATES,
    CityItem,
    city_data,
    city_items,
    create_city_app,
    item_code,
    openapi_document,
    openapi_json,
    openapi_version,
)
from app.simulators.control import create_control_app
from app.simulators.faults import FaultMiddleware, Faults, Received
from app.simulators.host import SimulatorHost
from app.simulators.providers import (
    SimulatorProvider,
    UnknownSimulator,
    simulator_for,
    simulators,
)

__all__ = [
    "CITY_DIVISIONS",
    "DRIFTS",
    "PROVIDER_STATES",
    "CityItem",
    "FaultMiddleware",
    "Faults",
    "Received",
    "SimulatorHost",
    "SimulatorProvider",
    "UnknownSimulator",
    "city_data",
    "city_items",
    "create_city_app",
    "create_control_app",
    "item_code",
    "openapi_document",
    "openapi_json",
    "openapi_version",
    "simulator_for",
    "simulators",
]
