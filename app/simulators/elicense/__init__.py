"""The provincial e-license registry (电子证照库), simulated.

The upstream behind the gateway's e-license API: the gateway's ``elicense`` connector
(app/connectors/elicense) speaks its protocol, which is the registry's own (POST, an envelope
with ``resultCode``, pinyin field names, yyyyMMdd dates), not the canonical API's. Its contract is
``contracts/elicense/registry.contract.yaml``. The product never imports this package.

- ``create_registry_app(seed=1, gateway_jwks=..., assertion_issuer=...)``: the registry as an
  ASGI app (license types, a holder's licenses, one license, 制发, 注销), with fault injection
  and ``/_sim/*`` provider states; given the gateway's keys it checks its signed assertion;
- ``seeded_licenses(seed)``: its licenses, deterministic per seed, for the city simulators'
  residents and the firms the cities and the enterprise register know;
- ``registry_types()``: the license types it lists (the product's catalogue,
  ``app/data/license_types.csv``);
- ``openapi_document()``: its OpenAPI document, also served at ``/openapi.yaml``;
- ``RegistryServer``: the app on a real socket.
"""

from app.simulators.assertions import ASSERTION_HEADER
from app.simulators.elicense.app import (
    DEFAULT_AUDIENCE,
    RegistryState,
    create_registry_app,
    openapi_document,
)
from app.simulators.elicense.data import (
    CREDIT_CODE,
    EXPIRED,
    ID_CARD,
    REVOKED,
    STATUSES,
    VALID,
    License,
    seeded_licenses,
)
from app.simulators.elicense.provider_states import PROVIDER_STATES
from app.simulators.elicense.serve import RegistryServer
from app.simulators.elicense.types import RegistryType, registry_types

# Where `xyb demo` serves it, next to the cities (9001-9014) and the enterprise register (9015).
DEMO_PORT = 9016

__all__ = [
    "ASSERTION_HEADER",
    "CREDIT_CODE",
    "DEFAULT_AUDIENCE",
    "DEMO_PORT",
    "EXPIRED",
    "ID_CARD",
    "PROVIDER_STATES",
    "REVOKED",
    "STATUSES",
    "VALID",
    "License",
    "RegistryServer",
    "RegistryState",
    "RegistryType",
    "create_registry_app",
    "openapi_document",
    "registry_types",
    "seeded_licenses",
]
