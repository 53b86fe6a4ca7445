"""Liveness and readiness, including readiness failing for each dependency."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from app.core.config import Settings
from app.core.db import create_engine
from app.core.migrations import downgrade
from app.main import create_app
from tests.databases import BACKEND, TEST_REDIS_URL, drop_database


async def test_healthz(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readyz_when_ready(client: httpx.AsyncClient) -> None:
    response = await client.get("/readyz")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "ready"
    assert "at head" in body["checks"]["database"]
    assert body["checks"]["redis"] == "not configured"


async def _client_for(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")


@pytest.fixture
async def own_app(tmp_path: Path, fresh_database_url: str) -> AsyncIterator[tuple[FastAPI, str]]:
    """An app on a database of its own, which the test may break."""
    application = create_app(Settings(data_dir=tmp_path / "data", database_url=fresh_database_url))
    async with application.router.lifespan_context(application):
        yield application, fresh_database_url


async def test_readyz_fails_when_the_database_is_gone(own_app: tuple[FastAPI, str]) -> None:
    application, url = own_app
    async with await _client_for(application) as c:
        assert (await c.get("/readyz")).status_code == 200
        await drop_database(url)  # SQLite: the file is deleted; PostgreSQL: DROP ... WITH (FORCE)
        response = await c.get("/readyz")
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["type"] == "/problems/not-ready"
    assert body["detail"].startswith("database:")
    assert body["instance"] == response.headers["x-request-id"]
    expected = "missing" if BACKEND == "sqlite" else "unreachable"
    assert expected in body["checks"]["database"]


async def test_readyz_fails_when_the_schema_is_behind(
    own_app: tuple[FastAPI, str], tmp_path: Path
) -> None:
    application, url = own_app
    engine = create_engine(Settings(data_dir=tmp_path), url)
    try:
        await downgrade(engine, "base")
    finally:
        await engine.dispose()
    async with await _client_for(application) as c:
        response = await c.get("/readyz")
    assert response.status_code == 503
    assert "xyb db upgrade" in response.json()["checks"]["database"]


async def test_readyz_stays_ready_but_says_when_redis_is_down(
    tmp_path: Path, database_url: str
) -> None:
    application = create_app(
        Settings(data_dir=tmp_path, database_url=database_url, redis_url="redis://127.0.0.1:1/0")
    )
    async with (
        application.router.lifespan_context(application),
        await _client_for(application) as c,
    ):
        response = await c.get("/readyz")
    assert response.status_code == 200
    body = response.json()
    assert body["checks"]["redis"].startswith("degraded: unreachable")
    assert "per instance" in body["checks"]["redis"]
    assert "at head" in body["checks"]["database"]


@pytest.mark.skipif(TEST_REDIS_URL is None, reason="XYB_TEST_REDIS_URL not set")
async def test_readyz_with_redis(tmp_path: Path, database_url: str) -> None:
    application = create_app(
        Settings(data_dir=tmp_path, database_url=database_url, redis_url=TEST_REDIS_URL)
    )
    async with (
        application.router.lifespan_context(application),
        await _client_for(application) as c,
    ):
        response = await c.get("/readyz")
    assert response.status_code == 200, response.text
    assert response.json()["checks"]["redis"].startswith("reachable")
