"""Fixtures of the simulator tests: a city app on a fixed clock, and a client for it; the
gateway's keys for the simulators that check its assertion."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.applications import Starlette

from app.identity.keys import KeyRing
from app.simulators import create_city_app
from tests.simulators.alliance_support import fresh_keys
from tests.simulators.clock import fixed_clock


@pytest.fixture
def city() -> Starlette:
    """长沙's system, on the fixed clock."""
    return create_city_app("430100", clock=fixed_clock)


@pytest.fixture
async def city_client(city: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=city), base_url="http://changsha.example"
    ) as c:
        yield c


@pytest.fixture(scope="module")
def gateway_keys() -> KeyRing:
    """The gateway's keys (one new key per test module)."""
    return fresh_keys()
