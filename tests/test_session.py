"""The session dependency commits on success and rolls back on error (no test override here)."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.config import Settings
from app.core.db import sqlite_path
from app.core.deps import SessionDep
from app.main import create_app


@pytest.fixture
async def real_app(tmp_path: Path, database_url: str) -> AsyncIterator[tuple[FastAPI, str]]:
    table = f"t_{uuid.uuid4().hex[:10]}"
    application = create_app(Settings(data_dir=tmp_path, database_url=database_url))

    @application.post("/t/notes/{value}")
    async def add(value: str, session: SessionDep, fail: bool = False) -> dict[str, str]:
        await session.execute(text(f"INSERT INTO {table} (v) VALUES (:v)"), {"v": value})
        if fail:
            raise RuntimeError("after the insert")
        return {"v": value}

    @application.get("/t/notes")
    async def count(session: SessionDep) -> list[str]:
        rows = await session.execute(text(f"SELECT v FROM {table} ORDER BY v"))
        return [r[0] for r in rows]

    async with application.router.lifespan_context(application):
        engine = application.state.resources.engine
        async with engine.begin() as conn:
            await conn.execute(text(f"CREATE TABLE {table} (v VARCHAR(20))"))
        try:
            yield application, table
        finally:
            async with engine.begin() as conn:
                await conn.execute(text(f"DROP TABLE {table}"))


async def test_a_failed_commit_is_never_reported_as_success(
    real_app: tuple[FastAPI, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    application, _ = real_app

    async def failing_commit(self: AsyncSession) -> None:
        raise RuntimeError("commit failed")

    monkeypatch.setattr(AsyncSession, "commit", failing_commit)
    transport = httpx.ASGITransport(app=application)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        response = await c.post("/t/notes/never")
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"


async def test_commit_on_success_rollback_on_error(real_app: tuple[FastAPI, str]) -> None:
    application, _ = real_app
    transport = httpx.ASGITransport(app=application)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        assert (await c.post("/t/notes/kept")).status_code == 200
        failed = await c.post("/t/notes/lost", params={"fail": "true"})
        assert failed.status_code == 500
        assert (await c.get("/t/notes")).json() == ["kept"]


async def test_a_sqlite_write_request_holds_the_lock_from_its_first_read(
    tmp_path: Path, database_url: str
) -> None:
    """Another connection committing between a write request's read and its write would make
    SQLite refuse the write at once (SQLITE_BUSY_SNAPSHOT); the request's transaction therefore
    begins IMMEDIATE, and the other writer is the one that waits."""
    path = sqlite_path(database_url)
    if path is None:
        pytest.skip("SQLite's locking")
    table = f"t_{uuid.uuid4().hex[:10]}"
    application = create_app(Settings(data_dir=tmp_path, database_url=database_url))
    other_writer: list[str] = []

    def write_elsewhere() -> None:
        # A connection of its own that gives up after 0.2 s instead of waiting.
        with contextlib.closing(sqlite3.connect(path, timeout=0.2)) as other:
            try:
                other.execute(f"INSERT INTO {table} (v) VALUES ('other')")
                other.commit()
                other_writer.append("committed")
            except sqlite3.OperationalError as exc:
                other_writer.append(str(exc))

    @application.post("/t/read-then-write")
    async def read_then_write(session: SessionDep) -> dict[str, int]:
        seen = await session.scalar(text(f"SELECT count(*) FROM {table}"))
        await asyncio.to_thread(write_elsewhere)
        await session.execute(text(f"INSERT INTO {table} (v) VALUES ('mine')"))
        return {"seen": int(seen or 0)}

    async with application.router.lifespan_context(application):
        engine = application.state.resources.engine
        async with engine.begin() as conn:
            await conn.execute(text(f"CREATE TABLE {table} (v VARCHAR(20))"))
        try:
            transport = httpx.ASGITransport(app=application)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
                response = await c.post("/t/read-then-write")
            assert response.status_code == 200, response.text
            assert other_writer == ["database is locked"]
            async with engine.connect() as conn:
                rows = (await conn.execute(text(f"SELECT v FROM {table}"))).scalars().all()
            assert rows == ["mine"]
        finally:
            async with engine.begin() as conn:
                await conn.execute(text(f"DROP TABLE {table}"))


async def test_the_embedded_database_and_its_wal_are_readable_by_the_owner_only(
    tmp_path: Path,
) -> None:
    from app.core.db import create_engine

    settings = Settings(data_dir=tmp_path / "data")
    engine = create_engine(settings)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("CREATE TABLE t (x INTEGER)"))
            await conn.execute(text("INSERT INTO t VALUES (1)"))
        path = tmp_path / "data" / "xyb.db"
        modes = {
            p.name: p.stat().st_mode & 0o777
            for p in (path, path.with_name("xyb.db-wal"), path.with_name("xyb.db-shm"))
            if p.exists()
        }
        assert modes.get("xyb.db") == 0o600, modes
        assert set(modes.values()) == {0o600}, modes
        assert (tmp_path / "data").stat().st_mode & 0o077 == 0
    finally:
        await engine.dispose()


async def test_an_existing_world_readable_database_file_is_narrowed(tmp_path: Path) -> None:
    from app.core.db import create_engine

    path = tmp_path / "given.db"
    sqlite3.connect(path).close()
    path.chmod(0o644)
    engine = create_engine(Settings(data_dir=tmp_path), f"sqlite+aiosqlite:///{path}")
    try:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    finally:
        await engine.dispose()
    assert path.stat().st_mode & 0o777 == 0o600


def test_a_cli_transaction_holds_the_lock_from_its_first_read(tmp_path: Path) -> None:
    """The CLI's commands (and the demo's catalog load) read, then write, beside a gateway that
    writes every second (its counts, its audit log): their transactions begin IMMEDIATE too, so
    a write committed between their read and their write cannot make SQLite refuse theirs (the
    demo failed about one start in two on a busy machine before)."""
    from app.cli_common import in_transaction
    from app.core.db import create_engine
    from app.core.migrations import upgrade

    settings = Settings(data_dir=tmp_path)
    path = sqlite_path(settings.resolved_database_url)
    assert path is not None

    async def migrate() -> None:
        engine = create_engine(settings)
        try:
            await upgrade(engine)
            async with engine.begin() as conn:
                await conn.execute(text("CREATE TABLE t_cli (v VARCHAR(20))"))
        finally:
            await engine.dispose()

    asyncio.run(migrate())
    other_writer: list[str] = []

    def write_elsewhere() -> None:
        with contextlib.closing(sqlite3.connect(path, timeout=0.2)) as other:
            try:
                other.execute("INSERT INTO t_cli (v) VALUES ('other')")
                other.commit()
                other_writer.append("committed")
            except sqlite3.OperationalError as exc:
                other_writer.append(str(exc))

    async def work(session: AsyncSession) -> int:
        seen = await session.scalar(text("SELECT count(*) FROM t_cli"))
        await asyncio.to_thread(write_elsewhere)
        await session.execute(text("INSERT INTO t_cli (v) VALUES ('mine')"))
        return int(seen or 0)

    assert in_transaction(settings, work) == 0
    assert other_writer == ["database is locked"]
    with contextlib.closing(sqlite3.connect(path)) as check:
        assert [r[0] for r in check.execute("SELECT v FROM t_cli")] == ["mine"]
