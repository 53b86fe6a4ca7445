"""Fixtures of the simulator tests: a city app on a fixed clock, and a client for it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.applications import Starlette

from app.simulators import create_city_app
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
