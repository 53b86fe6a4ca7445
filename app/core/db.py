"""Storage: the async engine, sessions, and the typed declarative base.

SQLite (the embedded default) gets real transactions (``BEGIN`` emitted by us, so SAVEPOINTs and
transactional DDL work), foreign keys, WAL and a busy timeout. PostgreSQL gets a bounded pool with
pre-ping so a restarted server is noticed at checkout, not mid-request. Both hide bound
parameters from error messages and SQL logging (``hide_parameters``): they are ID-number hashes,
sealed values and whatever a request carried, and an error's text may end up in a log.
"""

from __future__ import annotations

import contextlib
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

from sqlalchemy import DateTime, MetaData, event
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator

from app.core.config import Settings

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every backend.

    PostgreSQL keeps the offset; SQLite keeps none and hands back naive values, which would leave
    the API emitting times without an offset. Naive values are refused on the way in.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: give the time zone (use datetime.now(UTC))")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    """Typed declarative base. Relationships are declared with ``lazy="raise"``, so a missing
    eager load fails in tests instead of issuing hidden queries (or failing under asyncio)."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UtcDateTime()}


# Execution option: ``{SQLITE_BEGIN: "immediate"}`` makes a SQLite transaction take the write lock
# when it begins. A deferred transaction that reads, then writes after another connection has
# committed (the access counter flushes every second) fails at once with "database is locked"
# (SQLITE_BUSY_SNAPSHOT); an immediate one waits its turn instead (busy_timeout).
SQLITE_BEGIN = "xyb_sqlite_begin"


async def take_write_lock(session: AsyncSession) -> None:
    """Begin the session's transaction as a writer: on SQLite ``BEGIN IMMEDIATE`` (see
    SQLITE_BEGIN), a no-op elsewhere. Call it before the transaction's first statement."""
    await session.connection(execution_options={SQLITE_BEGIN: "immediate"})


def sqlite_path(url: str) -> Path | None:
    """The file behind a SQLite URL (None for other backends or in-memory databases)."""
    parsed = make_url(url)
    if not parsed.drivername.startswith("sqlite") or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


def _configure_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide when transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in (
            "PRAGMA foreign_keys=ON",
            "PRAGMA journal_mode=WAL",
            "PRAGMA synchronous=NORMAL",
            "PRAGMA busy_timeout=10000",
        ):
            cursor.execute(pragma)
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        mode = connection.get_execution_options().get(SQLITE_BEGIN, "")
        connection.exec_driver_sql("BEGIN IMMEDIATE" if mode == "immediate" else "BEGIN")


def _private_file(path: Path) -> None:
    """Create the database file owner-only (0600) before SQLite does (SQLite would use the umask,
    typically 0644, and gives its -wal and -shm files the database file's mode). An existing file
    readable by others is narrowed: it holds encrypted ID numbers, hashes and signing keys."""
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        for part in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
            with contextlib.suppress(OSError):
                if part.stat().st_mode & 0o077:
                    part.chmod(0o600)
    except OSError:
        return  # a missing directory: SQLite reports it, with the path, when it connects
    else:
        os.close(fd)


def create_engine(settings: Settings, url: str | None = None) -> AsyncEngine:
    """The process's engine; ``url`` overrides the settings (tests, migrations of other DBs)."""
    url = url or settings.resolved_database_url
    if url.startswith("sqlite"):
        path = sqlite_path(url)
        if (
            path is not None
            and settings.database_url is None
            and url == settings.resolved_database_url
        ):
            # Only the default location is created; a configured path must already exist.
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        if path is not None:
            _private_file(path)
        engine = create_async_engine(
            url,
            pool_size=settings.db_pool_size,
            max_overflow=settings.db_max_overflow,
            pool_timeout=settings.db_pool_timeout,
            hide_parameters=True,
        )
        _configure_sqlite(engine)
        return engine
    return create_async_engine(
        url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_timeout=settings.db_pool_timeout,
        pool_pre_ping=True,
        connect_args={"timeout": settings.db_pool_timeout},
        hide_parameters=True,
    )


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)
