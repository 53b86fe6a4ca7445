"""赣服通 (Jiangxi, 360000), simulated: a partner app of the cross-province alliance.

The gateway's ``alliance`` connector calls it in 赣服通's own protocol (XML bodies, the envelope
``<Response><Head><RetCode/><RetMsg/></Head><Body/></Response>``, its own code tables, the user's
credential in ``X-GFT-Credential``), described in ``app.py`` and in its OpenAPI document. Its
contract is ``contracts/alliance/jiangxi.contract.yaml``. The product never imports this package.

- ``create_jiangxi_app(seed=1, ...)``: the ASGI app (token endpoint, 医保异地备案, 社保缴费记录,
  公积金账户, 公积金转移), with fault injection, "commit, then hang", hostile answers (XXE,
  billion laughs) and ``/_sim/*`` provider states;
- ``openapi_document()``: its OpenAPI document, also served at ``/openapi.yaml``;
- ``JiangxiServer``: the app on a real socket; ``DEMO_PORT``: where ``xyb demo`` serves it;
- ``simulator_provider()``: its registration (connector ``alliance``, provider ``jiangxi``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from app.simulators.alliance.jiangxi.app import (
    ASSERTION_HEADER,
    CONTRACT_CREDENTIAL_PREFIX,
    CREDENTIAL_HEADER,
    DEFAULT_AUDIENCE,
    Filing,
    JiangxiState,
    Transfer,
    create_jiangxi_app,
    openapi_document,
)
from app.simulators.alliance.jiangxi.data import PARTNER_CODE, Insured, seeded_people
from app.simulators.alliance.jiangxi.provider_states import PROVIDER_STATES
from app.simulators.alliance.jiangxi.serve import JiangxiServer
from app.simulators.alliance.jiangxi.xmlio import HOSTILE_DOCUMENTS, HOSTILE_MODES, Hostile

if TYPE_CHECKING:
    from app.simulators.providers import SimulatorProvider

# Where `xyb demo` serves it, after 粤省事 (9017) and 随申办 (9018).
DEMO_PORT = 9019


def simulator_provider() -> SimulatorProvider:
    """Its registration for contracts (connector ``alliance``, provider ``jiangxi``). Replay
    creates it without the gateway's keys: the token endpoint takes ZJHM from the request and the
    replay credential ``gft-contract.<ID number>`` is accepted."""
    from app.simulators.providers import ALLIANCE, SimulatorProvider

    return SimulatorProvider(
        connector=ALLIANCE,
        provider="jiangxi",
        division=PARTNER_CODE,
        create=create_jiangxi_app,
        document=openapi_document,
        url=f"http://127.0.0.1:{DEMO_PORT}",
    )


__all__ = [
    "ASSERTION_HEADER",
    "CONTRACT_CREDENTIAL_PREFIX",
    "CREDENTIAL_HEADER",
    "DEFAULT_AUDIENCE",
    "DEMO_PORT",
    "HOSTILE_DOCUMENTS",
    "HOSTILE_MODES",
    "PARTNER_CODE",
    "PROVIDER_STATES",
    "Filing",
    "Hostile",
    "Insured",
    "JiangxiServer",
    "JiangxiState",
    "Transfer",
    "create_jiangxi_app",
    "openapi_document",
    "seeded_people",
    "simulator_provider",
]
