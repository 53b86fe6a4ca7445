"""Readiness checks: is the database reachable and at head, does Redis answer (when configured)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Coroutine
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import text

from app.core.db import sqlite_path
from app.core.migrations import current_revision, head_revision
from app.core.resources import Resources


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    ok: bool
    detail: str


async def _database(res: Resources) -> Check:
    path = sqlite_path(str(res.engine.url))
    if path is not None and not path.exists():
        # An open SQLite connection keeps working on a deleted file; the data would be lost.
        return Check("database", False, f"the SQLite file {path} is missing")
    try:
        async with res.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
            current = await current_revision(conn)
    except Exception as exc:
        return Check("database", False, f"unreachable: {type(exc).__name__}: {_first_line(exc)}")
    head = head_revision()
    if current != head:
        return Check(
            "database",
            False,
            f"schema at revision {current or 'none'}, head is {head}: run `xyb db upgrade`",
        )
    return Check("database", True, f"reachable, schema at head ({head})")


async def _redis(res: Resources) -> Check:
    # Redis only makes limits cluster-wide: without it the gateway serves with per-instance
    # limits, so it stays ready and says so (taking every instance out would be an outage).
    if res.redis is None:
        return Check("redis", True, "not configured")
    try:
        await cast("Awaitable[bool]", res.redis.ping())
    except Exception as exc:
        return Check(
            "redis",
            True,
            f"degraded: unreachable ({type(exc).__name__}); rate limits and login throttles are"
            " per instance until it is back",
        )
    return Check("redis", True, "reachable; rate limits are cluster-wide")


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [""])[0][:200]


async def run_checks(res: Resources) -> list[Check]:
    """Every check, each bounded by the readiness timeout."""
    timeout = res.settings.readiness_timeout

    async def bounded(name: str, check: Coroutine[Any, Any, Check]) -> Check:
        try:
            return await asyncio.wait_for(check, timeout)
        except TimeoutError:
            return Check(name, False, f"no answer within {timeout:g} s")

    return list(
        await asyncio.gather(
            bounded("database", _database(res)),
            bounded("redis", _redis(res)),
        )
    )
