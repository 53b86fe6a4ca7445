"""What the lifespan opens and every request may use: engine, sessions, Redis."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from starlette.requests import HTTPConnection

from app.core.config import Settings

if TYPE_CHECKING:
    from redis.asyncio import Redis


@dataclass(slots=True)
class Resources:
    """Shared clients, opened in the lifespan and closed there."""

    settings: Settings
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    redis: Redis | None


def resources_of(conn: HTTPConnection) -> Resources:
    """The running app's resources (set by the lifespan)."""
    res = getattr(conn.app.state, "resources", None)
    if not isinstance(res, Resources):
        raise RuntimeError("the app's lifespan has not run: resources are not open")
    return res
