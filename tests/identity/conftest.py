"""The identity tests' upstreams: the enterprise register answers from its contract.

Every test here runs with ``XYB_ENTERPRISE_REGISTER_URL`` and ``XYB_ENTERPRISE_REGISTER_TOKEN`` set
(the consumer token the contract presents); unless a module stubs its own
upstreams (its ``transport_factory``), the register is ``contract_stub("registers/enterprise")``
and any other upstream answers 501.
"""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
import respx
from pydantic import SecretStr

from app.core.config import Settings
from app.gateway.routetable import TransportFactory
from tests.contract_stubs import transport_for
from tests.identity.api_support import REGISTER_TOKEN, REGISTER_URL


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "enterprise_register_url": REGISTER_URL,
            "enterprise_register_token": SecretStr(REGISTER_TOKEN),
        }
    )


@pytest.fixture
def register_stub(contract_stub: Callable[..., respx.MockRouter]) -> respx.MockRouter:
    """The enterprise register, answering its contract's interactions."""
    return contract_stub("registers/enterprise")


def _no_upstream(request: httpx.Request) -> httpx.Response:
    return httpx.Response(501, json={"detail": "no upstream is stubbed for this test"})


@pytest.fixture
def transport_factory(register_stub: respx.MockRouter) -> TransportFactory:
    def factory(base_url: str, max_connections: int) -> httpx.AsyncBaseTransport:
        if base_url == REGISTER_URL:
            return transport_for(register_stub)
        return httpx.MockTransport(_no_upstream)

    return factory
