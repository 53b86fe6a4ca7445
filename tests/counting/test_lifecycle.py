"""The counter in the app's lifespan: started with the app, flushed when it shuts down (nothing
buffered is lost), absent when counting is switched off. Each test has a database of its own."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

import httpx
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.config import Settings
from app.core.db import create_engine
from app.events import FanOut
from app.main import create_app
from app.services.counting import Counter
from tests.conftest import ADMIN_TOKEN
from tests.counting.support import event, sums

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


@asynccontextmanager
async def database(settings: Settings) -> AsyncIterator[AsyncSession]:
    engine = create_engine(settings)
    try:
        async with AsyncSession(engine) as session:
            yield session
    finally:
        await engine.dispose()


def _app(tmp_path: Path, url: str, **overrides: object) -> tuple[FastAPI, Settings]:
    settings = Settings(
        data_dir=tmp_path,
        database_url=url,
        admin_token=ADMIN_TOKEN,
        count_flush_interval=60,  # only the shutdown flush writes in these tests
        **overrides,  # type: ignore[arg-type]
    )
    return create_app(settings), settings


async def test_shutdown_flushes_everything_buffered(
    tmp_path: Path, fresh_database_url: str
) -> None:
    app, settings = _app(tmp_path, fresh_database_url)
    now = datetime.now(UTC)
    async with app.router.lifespan_context(app):
        counter = app.state.counter
        assert isinstance(counter, Counter)
        assert counter.running
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://t"
        ) as client:
            for _ in range(3):  # through the real /gw path: refused, no token (401)
                assert (await client.get("/gw/430100/zwfw/x")).status_code == 401
        for _ in range(7):  # and straight into the app's sink, as the proxy does
            app.state.events.emit(event(at=now, service_id=None, service=None, client_id="c1"))
        assert counter.stats().buffered_events == 10
        async with database(settings) as session:
            assert await sums(session) == {}  # nothing written yet
    assert not counter.running
    async with database(settings) as session:
        assert await sums(session) == {"success": 7, "caller_error": 3}
        assert await sums(session, client_id="") == {"caller_error": 3}


async def test_a_second_lifespan_on_the_same_app_counts_on(
    tmp_path: Path, fresh_database_url: str
) -> None:
    app, settings = _app(tmp_path, fresh_database_url)
    now = datetime.now(UTC)
    for _ in range(2):
        async with app.router.lifespan_context(app):
            app.state.events.emit(event(at=now))
    async with database(settings) as session:
        assert await sums(session) == {"success": 2}


async def test_counting_can_be_switched_off(tmp_path: Path, fresh_database_url: str) -> None:
    app, settings = _app(tmp_path, fresh_database_url, counting=False, audit=False)
    assert app.state.counter is None
    assert not isinstance(app.state.events, FanOut)  # only the recent-events ring
    async with app.router.lifespan_context(app):
        app.state.events.emit(event(at=datetime.now(UTC)))
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://t"
        ) as client:
            answer = await client.get("/metrics", headers=ADMIN)
    assert answer.status_code == 200
    assert "xyb_gateway_breaker_state" in answer.text
    assert "xyb_gateway_requests_total" not in answer.text
    async with database(settings) as session:
        assert await sums(session) == {}


async def test_an_extra_sink_still_gets_every_event(
    tmp_path: Path, fresh_database_url: str
) -> None:
    received: list[str] = []

    class Sink:
        def emit(self, e: object) -> None:
            received.append(getattr(e, "event_id", ""))

    settings = Settings(data_dir=tmp_path, database_url=fresh_database_url)
    app = create_app(settings, sink=Sink())
    one = event(at=datetime.now(UTC))
    app.state.events.emit(one)
    assert received == [one.event_id]
    assert app.state.counter.stats().buffered_events == 1
    assert app.state.recent_events.snapshot() == [one]
