"""Throwaway databases for tests: a SQLite file, or a fresh PostgreSQL database."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from app.core.config import Settings

TEST_PG_URL = os.environ.get("XYB_TEST_DATABASE_URL") or None
TEST_REDIS_URL = os.environ.get("XYB_TEST_REDIS_URL") or None
BACKEND = "postgresql" if TEST_PG_URL else "sqlite"


def _normalised(url: str) -> str:
    # The same normalisation the gateway applies (postgresql:// becomes postgresql+asyncpg://).
    return Settings(database_url=url).resolved_database_url


async def create_database(tmp_dir: Path) -> str:
    """A new, empty database on the backend under test; returns its URL."""
    if TEST_PG_URL is None:
        return f"sqlite+aiosqlite:///{tmp_dir / f'xyb-{uuid.uuid4().hex[:8]}.db'}"
    base = make_url(_normalised(TEST_PG_URL))
    name = f"xyb_test_{uuid.uuid4().hex[:12]}"
    admin = create_async_engine(base, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as conn:
            await conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        await admin.dispose()
    return base.set(database=name).render_as_string(hide_password=False)


def _remove_sqlite_files(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", ".migrate.lock"):
        Path(str(path) + suffix).unlink(missing_ok=True)


async def drop_database(url: str) -> None:
    """Drop a database made by :func:`create_database` (closing anyone still connected)."""
    parsed = make_url(url)
    if parsed.drivername.startswith("sqlite"):
        _remove_sqlite_files(Path(parsed.database or ""))
        return
    assert TEST_PG_URL is not None
    admin = create_async_engine(make_url(_normalised(TEST_PG_URL)), isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)'))
    finally:
        await admin.dispose()
