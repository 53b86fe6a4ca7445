"""What every ``xyb`` command group shares: consoles, settings, and a database transaction."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import typer
from pydantic import ValidationError
from rich.console import Console
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.core.config import Settings, get_settings
from app.core.db import create_engine, create_sessionmaker
from app.core.migrations import schema_state, upgrade

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)
T = TypeVar("T")


def settings_or_exit() -> Settings:
    """Settings from the environment, or a readable refusal naming each bad variable."""
    try:
        return get_settings()
    except ValidationError as exc:
        for e in exc.errors():
            message = str(e["msg"]).removeprefix("Value error, ")
            where = f"XYB_{str(e['loc'][0]).upper()}: " if e["loc"] else ""
            err.print(f"[red]error[/red] {where}{message}")
        raise typer.Exit(2) from None


class NotAtHead(Exception):
    """Production refuses a database that is not migrated."""


async def ensure_ready(settings: Settings, engine: AsyncEngine) -> None:
    """Migrate a development database to head; refuse a production one behind it."""
    current, head = await schema_state(engine)
    if current == head:
        return
    if settings.is_production:
        raise NotAtHead(
            f"the database schema is at {current or 'none'}, the code expects {head}:"
            " run `xyb db upgrade` first"
        )
    reached = await upgrade(engine)
    err.print(f"database migrated: {current or 'empty'} -> {reached}")


def in_transaction(settings: Settings, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run ``work(session)`` in one committed transaction on the configured database.

    In development a database not at head is migrated first (as ``xyb serve`` does); production
    refuses it.
    """

    async def run() -> T:
        engine = create_engine(settings)
        try:
            await ensure_ready(settings, engine)
            async with create_sessionmaker(engine)() as session, session.begin():
                return await work(session)
        finally:
            await engine.dispose()

    try:
        return asyncio.run(run())
    except NotAtHead as exc:
        err.print(f"[red]error[/red] {exc}")
        raise typer.Exit(1) from None
    except OSError as exc:
        err.print(f"[red]error[/red] cannot reach the database: {exc}")
        raise typer.Exit(1) from None
