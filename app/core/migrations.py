"""Schema management with alembic: where the scripts are, what head is, and upgrading safely.

Upgrades hold a lock so several instances starting together do not race: a transaction-scoped
advisory lock on PostgreSQL, an exclusive file lock beside the database on SQLite. Every upgrade
runs in one transaction (SQLite gets transactional DDL from :mod:`app.core.db`).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from functools import cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.core.db import sqlite_path

# Any fixed 64-bit number works; this one spells "xyb-migr" in ASCII.
ADVISORY_LOCK_KEY = 0x7879622D6D696772 - (1 << 63)


# Tables the schema makes at run time rather than in a migration: the daily partitions of a table
# partitioned on PostgreSQL (``<table>_<yyyymmdd>`` and ``<table>_default``). Autogenerate would
# read them as tables the models lack.
PARTITIONED_TABLES = ("audit_records",)


def is_partition(name: str | None) -> bool:
    """Whether ``name`` is a partition of one of the ``PARTITIONED_TABLES``."""
    return name is not None and any(name.startswith(t + "_") for t in PARTITIONED_TABLES)


def include_name(name: str | None, type_: str, parent_names: object) -> bool:
    """Alembic's ``include_name`` hook: everything but the partitions and their indexes."""
    if type_ == "table":
        return not is_partition(name)
    return True


def migrations_dir() -> Path:
    """The alembic script directory: inside the installed package, or at the repository root."""
    package = Path(__file__).resolve().parent.parent
    for candidate in (package / "migrations", package.parent / "migrations"):
        if (candidate / "env.py").is_file():
            return candidate
    raise RuntimeError("alembic scripts not found (expected app/migrations or ./migrations)")


def alembic_config(url: str | None = None) -> Config:
    """An alembic Config built in code; ``url`` is injected into ``env.py`` when given."""
    cfg = Config()
    cfg.set_main_option("script_location", str(migrations_dir()))
    cfg.set_main_option("file_template", "%%(year)d%%(month).2d%%(day).2d_%%(rev)s_%%(slug)s")
    cfg.set_main_option("path_separator", "os")
    if url is not None:
        cfg.attributes["url"] = url
    return cfg


@cache
def head_revision() -> str | None:
    """The newest revision among the scripts (read once per process)."""
    heads = ScriptDirectory.from_config(alembic_config()).get_heads()
    if len(heads) > 1:
        raise RuntimeError(f"migrations have several heads {heads}: merge them")
    return heads[0] if heads else None


def _current(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


async def current_revision(conn: AsyncConnection) -> str | None:
    """The revision the database is at (None for an empty database)."""
    return await conn.run_sync(_current)


@contextlib.asynccontextmanager
async def _file_lock(path: Path) -> AsyncIterator[None]:
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: one embedded instance is the norm there
        yield
        return
    lock_path = path.with_name(path.name + ".migrate.lock")
    with lock_path.open("a") as fh:
        await asyncio.to_thread(fcntl.flock, fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def _run(connection: Connection, cfg: Config, action: str, revision: str) -> None:
    cfg.attributes["connection"] = connection
    if action == "upgrade":
        command.upgrade(cfg, revision)
    else:
        command.downgrade(cfg, revision)


async def _migrate(engine: AsyncEngine, action: str, revision: str) -> str | None:
    cfg = alembic_config()
    path = sqlite_path(str(engine.url)) if engine.dialect.name == "sqlite" else None
    lock = _file_lock(path) if path is not None else contextlib.nullcontext()
    async with lock, engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            await conn.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK_KEY}
            )
        # Whoever held the lock before us may already have done the work; alembic sees that.
        await conn.run_sync(_run, cfg, action, revision)
        return await current_revision(conn)


async def upgrade(engine: AsyncEngine, revision: str = "head") -> str | None:
    """Upgrade to ``revision`` under the migration lock; returns the revision reached."""
    return await _migrate(engine, "upgrade", revision)


async def downgrade(engine: AsyncEngine, revision: str) -> str | None:
    """Downgrade to ``revision`` under the migration lock; returns the revision reached."""
    return await _migrate(engine, "downgrade", revision)


async def schema_state(engine: AsyncEngine) -> tuple[str | None, str | None]:
    """(current, head) revisions."""
    async with engine.connect() as conn:
        return await current_revision(conn), head_revision()
