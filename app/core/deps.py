"""Dependencies as ``Annotated`` aliases, so a route's signature reads like its purpose."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.config import Settings
from app.core.db import take_write_lock
from app.core.resources import Resources, resources_of

AFTER_COMMIT = "xyb.after_commit"


def after_commit(session: AsyncSession, callback: Callable[[], Awaitable[None]]) -> None:
    """Run ``callback`` once the route's transaction has committed (before the response)."""
    session.info.setdefault(AFTER_COMMIT, []).append(callback)


async def run_after_commit(session: AsyncSession) -> None:
    callbacks: list[Callable[[], Awaitable[None]]] = session.info.pop(AFTER_COMMIT, [])
    for callback in callbacks:
        await callback()


_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """A session that commits when the route succeeds and rolls back when it raises."""
    res = resources_of(request)
    async with res.sessionmaker() as session:
        if request.method not in _SAFE_METHODS and res.engine.dialect.name == "sqlite":
            # A write takes SQLite's lock up front: see app.core.db.SQLITE_BEGIN.
            await take_write_lock(session)
        try:
            yield session
        except BaseException:
            session.info.pop(AFTER_COMMIT, None)
            await session.rollback()
            raise
        else:
            await session.commit()
            await run_after_commit(session)


def get_settings_dep(request: Request) -> Settings:
    settings = request.app.state.settings
    assert isinstance(settings, Settings)
    return settings


def get_resources(request: Request) -> Resources:
    return resources_of(request)


# scope="function": the session commits before the response is sent, so a client never sees
# success for a write that then fails to commit (FastAPI's default exits after sending).
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
ResourcesDep = Annotated[Resources, Depends(get_resources)]
