"""The market-supervision enterprise register (市场监管 企业登记), simulated.

An upstream the gateway *consults* when a legal person registers (``app.identity.
enterprise_register`` calls it over HTTP; the product never imports this package), not a service
reached through ``/gw``. Its contract is ``contracts/registers/enterprise.contract.yaml``.

- ``create_register_app(seed=1, consumer_token=...)``: the register as an ASGI app (``GET
  /enterprises/{uscc}``; the legal representative's ID number only for the bearer of
  ``consumer_token``), with ``/_sim/*`` to add enterprises and set provider states;
- ``seeded_enterprises(seed)``: its data, deterministic per seed;
- ``openapi_document()``: its OpenAPI document, also served at ``/openapi.yaml``;
- ``RegisterServer``: the app on a real socket (``xyb demo`` serves it next to the cities).
"""

from app.simulators.enterprise.app import (
    PROVIDER_STATES,
    RegisterState,
    create_register_app,
    openapi_document,
)
from app.simulators.enterprise.data import (
    ACTIVE_STATUSES,
    STATUSES,
    Enterprise,
    seeded_enterprises,
)
from app.simulators.enterprise.serve import RegisterServer

# Where `xyb demo` serves the register: the port after the 14 cities' (9001-9014).
DEMO_PORT = 9015
# The consumer token the register's contract presents (contracts/registers/): the simulator that
# contract replay builds accepts it. Not a secret, so never a real register's: `xyb demo` gives
# its register and its gateway a token of their own (XYB_ENTERPRISE_REGISTER_TOKEN).
CONTRACT_CONSUMER_TOKEN = "contract-replay-consumer-token"  # noqa: S105 -- public by design

__all__ = [
    "ACTIVE_STATUSES",
    "CONTRACT_CONSUMER_TOKEN",
    "DEMO_PORT",
    "PROVIDER_STATES",
    "STATUSES",
    "Enterprise",
    "RegisterServer",
    "RegisterState",
    "create_register_app",
    "openapi_document",
    "seeded_enterprises",
]
