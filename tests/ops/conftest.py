"""The operators' router in the test app, and a clock the tests set."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from fastapi import FastAPI


class FixedClock:
    """A settable "now" (aware); the ops routes read it from ``app.state.ops_clock``."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> FixedClock:
    # 2026-06-15 10:30 in Shanghai.
    return FixedClock(datetime(2026, 6, 15, 2, 30, tzinfo=UTC))


@pytest.fixture
async def app(app: FastAPI, clock: FixedClock) -> FastAPI:
    """The shared app fixture, its /ops routes reading the test's clock."""
    app.state.ops_clock = clock
    return app
