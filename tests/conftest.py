"""Fixtures: one migrated throwaway database per session, one rolled-back transaction per test.

The backend is SQLite unless ``XYB_TEST_DATABASE_URL`` names a PostgreSQL server (any database
on it: the suite creates and drops its own).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Awaitable, Callable, Generator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from fastapi import FastAPI
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

from app.core.config import Settings
from app.core.db import create_engine
from app.core.deps import AFTER_COMMIT, get_session, run_after_commit
from app.core.migrations import upgrade
from app.gateway.routetable import TransportFactory
from app.main import create_app
from tests.contract_stubs import load as load_contract_named
from tests.contract_stubs import stub_router
from tests.databases import BACKEND, create_database, drop_database
from tests.log_guard import LogGuard, secret

LOG_GUARD = pytest.StashKey[LogGuard]()


def pytest_report_header() -> str:
    return f"xyb database backend: {BACKEND}"


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests see only the settings they pass, not the developer's XYB_* variables."""
    for name in list(os.environ):
        if name.startswith("XYB_") and not name.startswith("XYB_TEST_"):
            monkeypatch.delenv(name)
    # One data key for the whole run: the session database's signing keys are sealed with it.
    monkeypatch.setenv("XYB_DATA_KEY", DATA_KEY)


@pytest.fixture(autouse=True)
def log_guard(request: pytest.FixtureRequest) -> Iterator[LogGuard]:
    """Fails a test whose log records carry personal data or a secret (see tests/log_guard.py)."""
    guard = LogGuard(request.node.nodeid)
    request.node.stash[LOG_GUARD] = guard
    with guard.installed():
        yield guard
    found = guard.take_report()
    if found:
        pytest.fail(found, pytrace=False)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    """A leak found while the test ran fails the test itself (not only its teardown)."""
    yield
    guard = item.stash.get(LOG_GUARD, None)
    found = guard.take_report() if guard is not None else None
    if found:
        pytest.fail(found, pytrace=False)


@pytest.fixture(scope="session")
def session_tmp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("xyb")


@pytest.fixture(scope="session")
async def database_url(session_tmp: Path) -> AsyncIterator[str]:
    """The session's database, migrated to head once."""
    url = await create_database(session_tmp)
    engine = create_engine(Settings(data_dir=session_tmp), url)
    try:
        await upgrade(engine)
    finally:
        await engine.dispose()
    yield url
    await drop_database(url)


@pytest.fixture
async def fresh_database_url(tmp_path: Path) -> AsyncIterator[str]:
    """An empty database of the test's own, for tests that need several connections or processes."""
    url = await create_database(tmp_path)
    yield url
    await drop_database(url)


@pytest.fixture(scope="session")
async def engine(database_url: str, session_tmp: Path) -> AsyncIterator[AsyncEngine]:
    eng = create_engine(Settings(data_dir=session_tmp), database_url)
    yield eng
    await eng.dispose()


@pytest.fixture
async def connection(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A connection inside a transaction that is rolled back when the test ends."""
    async with engine.connect() as conn:
        transaction = await conn.begin()
        try:
            yield conn
        finally:
            if transaction.is_active:
                await transaction.rollback()


@pytest.fixture
async def session(connection: AsyncConnection) -> AsyncIterator[AsyncSession]:
    """The test's session: commits become savepoint releases inside the test's transaction."""
    async with AsyncSession(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    ) as s:
        yield s


ADMIN_TOKEN = secret("test-admin-token-0123456789abcdef0123")
# 32 bytes, base64url: the data key of production-mode settings in tests.
DATA_KEY = secret("dGVzdC1kYXRhLWtleS0wMTIzNDU2Nzg5YWJjZGVmMDE")


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    # The route table is refreshed after each committed change; the poller stays out of the way
    # (it would share the test's connection).
    return Settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        admin_token=ADMIN_TOKEN,
        routes_poll_interval=3600,
        identity_poll_interval=3600,
        target_snapshot_interval=0,
    )


@pytest.fixture
def transport_factory() -> TransportFactory | None:
    """The upstream transport; None is production's (aiohttp). Override to stub upstreams."""
    return None


@pytest.fixture
def admin_headers() -> dict[str, str]:
    return {"Authorization": f"Bearer {ADMIN_TOKEN}"}


@pytest.fixture
async def app(
    settings: Settings,
    connection: AsyncConnection,
    session: AsyncSession,
    transport_factory: TransportFactory | None,
) -> AsyncIterator[FastAPI]:
    """The gateway with its lifespan running and sessions bound to the test's transaction."""
    for value in vars(settings).values():  # the metrics token, a test's own admin token, ...
        if isinstance(value, SecretStr):
            secret(value.get_secret_value())
    application = create_app(settings, transport_factory=transport_factory)

    async def test_session() -> AsyncIterator[AsyncSession]:
        try:
            yield session
        except BaseException:
            session.info.pop(AFTER_COMMIT, None)
            await session.rollback()
            raise
        else:
            await session.commit()
            await run_after_commit(session)

    application.dependency_overrides[get_session] = test_session
    async with application.router.lifespan_context(application):
        # The route table and identity state read what the test's transaction holds, too.
        shared = async_sessionmaker(
            bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
        )
        application.state.routes.sessionmaker = shared
        application.state.identity.sessionmaker = shared
        # The counter writes into the test's transaction too, and only when stopped or flushed by
        # the test: a background flusher must not share the test's connection.
        counter = application.state.counter
        if counter is not None:
            await counter.stop()
            counter.sessionmaker = shared
        # The audit log likewise: tests flush it (``await app.state.audit.flush()``).
        audit = application.state.audit
        if audit is not None:
            audit.sessionmaker = shared
            await audit.stop()
        await application.state.identity.reload()
        yield application


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as c:
        yield c


GrantAccess = Callable[..., Awaitable[dict[str, str]]]


@pytest.fixture
def grant_access(client: httpx.AsyncClient, admin_headers: dict[str, str]) -> GrantAccess:
    """``await grant_access(("430100", "bdc"), ...)``: headers of a client granted them."""

    async def make(*services: tuple[str, str], **fields: Any) -> dict[str, str]:
        body = {"name": "test integrator", "kind": "integrator", **fields}
        created = await client.post("/admin/clients", json=body, headers=admin_headers)
        assert created.status_code == 201, created.text
        info = created.json()
        secret(info["client_secret"])
        for division, slug in services:
            granted = await client.post(
                f"/admin/clients/{info['client_id']}/grants",
                json={"division": division, "slug": slug},
                headers=admin_headers,
            )
            assert granted.status_code == 201, granted.text
        return await client_token(client, info["client_id"], info["client_secret"])

    return make


async def client_token(client: httpx.AsyncClient, client_id: str, secret: str) -> dict[str, str]:
    """Authorization headers from the client_credentials grant."""
    issued = await client.post(
        "/identity/token",
        data={"grant_type": "client_credentials"},
        auth=(client_id, secret),
    )
    assert issued.status_code == 200, issued.text
    return {"Authorization": f"Bearer {issued.json()['access_token']}"}


@pytest.fixture
def contract_stub() -> Callable[..., respx.MockRouter]:
    """``contract_stub("municipal/changsha", state=...)``: respx routes from contracts/."""

    def make(name: str, *, state: str | None = None) -> respx.MockRouter:
        return stub_router(load_contract_named(name), state=state)

    return make


@pytest.fixture
def repo_root() -> Path:
    return Path(__file__).resolve().parent.parent
