"""随申办 (Shanghai, 310000), the alliance partner, simulated (provider ``shanghai`` of connector
``alliance``).

Its protocol is its own: JSON with snake_case names, epoch-millisecond dates and moments, amounts
in fen, the envelope ``{success, result, error_code, error_message}`` with meaningful HTTP
statuses and ``SSB-xxxx`` codes, the user's credential in ``X-SSB-Token``, paths under
``/ssb/open/`` (see app.py). Its contract is ``contracts/alliance/shanghai.contract.yaml``. The
product never imports this package.

- ``create_shanghai_app(seed=1, ...)``: the partner as an ASGI app (the token endpoint for the
  gateway, 医保异地备案, 社保缴费记录, 公积金账户 and 转移), with fault injection (the "commit, then
  hang" fault included) and ``/_sim/*`` provider states;
- ``openapi_document()``: its OpenAPI document, also served at ``/openapi.yaml``;
- ``ShanghaiServer``: the app on a real socket; ``DEMO_PORT``: where ``xyb demo`` serves it;
- ``simulator_provider()``: its entry in ``app.simulators.providers``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from app.simulators.alliance.shanghai.app import (
    DEFAULT_AUDIENCE,
    TOKEN_HEADER,
    Filing,
    ShanghaiState,
    SsbError,
    Transfer,
    create_shanghai_app,
    openapi_document,
)
from app.simulators.alliance.shanghai.data import (
    PARTNER_CODE,
    Person,
    date_to_ms,
    ms_to_date,
    payments,
    seeded_account,
    seeded_people,
)
from app.simulators.alliance.shanghai.provider_states import PROVIDER_STATES, TEST_TOKEN
from app.simulators.alliance.shanghai.serve import ShanghaiServer
from app.simulators.assertions import ASSERTION_HEADER

if TYPE_CHECKING:
    from app.simulators.providers import SimulatorProvider

# Where `xyb demo` serves it, after the e-license registry (9016) and 粤省事 (9017).
DEMO_PORT = 9018


def simulator_provider() -> SimulatorProvider:
    """随申办 as a simulated provider (connector ``alliance``, division 310000)."""
    # Imported here: app.simulators.providers imports this package while it lists providers.
    from app.simulators.providers import ALLIANCE, SimulatorProvider

    return SimulatorProvider(
        connector=ALLIANCE,
        provider="shanghai",
        division=PARTNER_CODE,
        create=create_shanghai_app,
        document=openapi_document,
        url=f"http://127.0.0.1:{DEMO_PORT}",
    )


__all__ = [
    "ASSERTION_HEADER",
    "DEFAULT_AUDIENCE",
    "DEMO_PORT",
    "PARTNER_CODE",
    "PROVIDER_STATES",
    "TEST_TOKEN",
    "TOKEN_HEADER",
    "Filing",
    "Person",
    "ShanghaiServer",
    "ShanghaiState",
    "SsbError",
    "Transfer",
    "create_shanghai_app",
    "date_to_ms",
    "ms_to_date",
    "openapi_document",
    "payments",
    "seeded_account",
    "seeded_people",
    "simulator_provider",
]
