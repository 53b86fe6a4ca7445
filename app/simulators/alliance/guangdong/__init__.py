"""粤省事 (Guangdong, 440000), the alliance partner app, simulated (connector ``alliance``,
provider ``guangdong``).

Its protocol is its own (JSON camelCase, yyyy-MM-dd dates, the envelope ``{code, msg, data}``
with HTTP 200 and a non-zero ``code`` for a refusal, ``Authorization: Bearer <credential>``,
paths under ``/api/ysx/v1/``): the gateway's alliance adapter translates. Its contract is
``contracts/alliance/guangdong.contract.yaml``. The product never imports this package.

- ``create_guangdong_app(seed=1, ...)``: the partner as an ASGI app (the token endpoint for the
  gateway, 医保异地备案 create/read/find/cancel, 社保缴费记录, 公积金账户, 公积金转移
  create/read/find), with fault injection, "commit, then hang" and ``/_sim/*`` provider states;
- ``openapi_document()``: its OpenAPI document, also served at ``/openapi.yaml``;
- ``GuangdongServer``: the app on a real socket; ``DEMO_PORT`` where ``xyb demo`` serves it;
- ``simulator_provider()``: its registration (``app.simulators.providers``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from app.simulators.alliance.guangdong.app import (
    BAD_PARAMETER,
    CONTRACT_CREDENTIAL,
    CREDENTIAL_INVALID,
    DEFAULT_AUDIENCE,
    DUPLICATE,
    FORBIDDEN,
    NOT_FOUND,
    OK,
    PREFIX,
    GuangdongState,
    create_guangdong_app,
    openapi_document,
)
from app.simulators.alliance.guangdong.data import Insured, seeded_insured
from app.simulators.alliance.guangdong.provider_states import PROVIDER_STATES
from app.simulators.alliance.guangdong.serve import GuangdongServer
from app.simulators.assertions import ASSERTION_HEADER

if TYPE_CHECKING:
    from app.simulators.providers import SimulatorProvider

# Where `xyb demo` serves it, after the e-license registry (9016).
DEMO_PORT = 9017
DIVISION = "440000"


def simulator_provider() -> SimulatorProvider:
    """粤省事 as a simulated provider (connector ``alliance``, provider ``guangdong``)."""
    # Imported here: app.simulators.providers imports this package while it builds its registry.
    from app.simulators.providers import ALLIANCE, SimulatorProvider

    return SimulatorProvider(
        connector=ALLIANCE,
        provider="guangdong",
        division=DIVISION,
        # Replay has no gateway: given no keys, the token endpoint takes idNumber from the body.
        create=create_guangdong_app,
        document=openapi_document,
        url=f"http://127.0.0.1:{DEMO_PORT}",
    )


__all__ = [
    "ASSERTION_HEADER",
    "BAD_PARAMETER",
    "CONTRACT_CREDENTIAL",
    "CREDENTIAL_INVALID",
    "DEFAULT_AUDIENCE",
    "DEMO_PORT",
    "DIVISION",
    "DUPLICATE",
    "FORBIDDEN",
    "NOT_FOUND",
    "OK",
    "PREFIX",
    "PROVIDER_STATES",
    "GuangdongServer",
    "GuangdongState",
    "Insured",
    "create_guangdong_app",
    "openapi_document",
    "seeded_insured",
    "simulator_provider",
]
