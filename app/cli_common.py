"""What every ``xyb`` command group shares: consoles, settings, refusals, the gateway's database.

One model for the admin commands (``clients``, ``keys``, ``catalog``, ``ops``, ``operators``):
they work on the gateway's own database (``XYB_DATABASE_URL``, else the SQLite file in
``XYB_DATA_DIR``), like ``xyb db``, on the machine the gateway runs on, with the same checks as
the admin API. They never create a database: where there is none, or one without the gateway's
tables, they refuse and say where they looked. (``xyb onboard`` is the exception: a city
developer onboards from their own machine, so it talks to the admin API over HTTP.)

Every refusal is one sentence on stderr and a non-zero exit (2: the command line or the setup;
1: what was asked was refused), never a traceback. Text that comes from a user, a file or a
server is printed as it is, never read as rich markup (``[a-z0-9-]`` stays on screen).

Importing this module is cheap (rich only): settings, SQLAlchemy and the app are imported inside
the functions, so ``xyb --help`` starts without them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

if TYPE_CHECKING:
    from rich.progress import Progress
    from rich.table import Table
    from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

    from app.core.config import Settings

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)
T = TypeVar("T")
# The widest a table is printed when the output is not a terminal (a file, a pipe).
PIPED_MAX_WIDTH = 1000


def error(message: str, console: Console | None = None) -> None:
    """Print ``error <message>`` (the message verbatim, not markup)."""
    (console or err).print(f"[red]error[/red] {escape(message)}", highlight=False)


def fail(message: str, code: int = 1) -> NoReturn:
    """Refuse in one sentence and exit with ``code``."""
    error(message)
    raise typer.Exit(code)


def print_table(console: Console, table: Table) -> None:
    """A table whole: on a terminal its columns fold; piped, it is as wide as its content."""
    for column in table.columns:
        if column.overflow == "ellipsis":  # rich's default cuts a long name short with "…"
            column.overflow = "fold"
    if console.is_terminal:
        console.print(table)
        return
    # Not a terminal: rich would assume 80 columns and cut names short, so the console is
    # widened to the table's natural width for this one print.
    from rich.measure import Measurement

    natural = Measurement.get(console, console.options.update_width(PIPED_MAX_WIDTH), table)
    before = console.width
    console.width = max(before, natural.maximum)
    try:
        console.print(table)
    finally:
        console.width = before


def progress(console: Console | None = None) -> Progress:
    """A progress display on a terminal (stderr by default); nothing at all when piped."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    shown = console or err
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=shown,
        transient=True,
        disable=not shown.is_terminal,
    )


@contextmanager
def working(description: str, console: Console | None = None) -> Iterator[None]:
    """A spinner for one long step on a terminal; nothing when piped."""
    shown = console or err
    if not shown.is_terminal:
        yield
        return
    with shown.status(escape(description)):
        yield


def settings_or_exit() -> Settings:
    """Settings from the environment, or a readable refusal naming each bad variable."""
    from pydantic import ValidationError

    from app.core.config import get_settings

    try:
        return get_settings()
    except ValidationError as exc:
        for e in exc.errors():
            message = str(e["msg"]).removeprefix("Value error, ")
            where = f"XYB_{str(e['loc'][0]).upper()}: " if e["loc"] else ""
            error(f"{where}{message}")
        raise typer.Exit(2) from None


def shown_url(url: str) -> str:
    """A database URL fit to print: the file of a SQLite database, a password hidden."""
    from sqlalchemy.engine import make_url

    from app.core.db import sqlite_path

    path = sqlite_path(url)
    if path is not None:
        return str(path)
    return make_url(url).render_as_string(hide_password=True)


class NoDatabase(Exception):
    """There is no migrated gateway database where the settings point."""


def missing_sqlite_file(settings: Settings) -> str | None:
    """The SQLite file the settings name when it does not exist (opening it would create it)."""
    from app.core.db import sqlite_path

    path = sqlite_path(settings.resolved_database_url)
    if path is not None and not path.is_file():
        return str(path)
    return None


def no_file(path: str) -> str:
    """The refusal for a SQLite database file that is not there."""
    return (
        f"there is no gateway database at {path}: run xyb in the gateway's folder, or set"
        " XYB_DATA_DIR or XYB_DATABASE_URL to the gateway's (`xyb db upgrade` creates a new one)"
    )


async def open_database(settings: Settings) -> AsyncEngine:
    """An engine on the gateway's database, at head; NoDatabase when there is none to use.

    A development database behind head is migrated (as ``xyb serve`` does); production refuses
    it. A database without the gateway's tables is refused everywhere: it is not the gateway's.
    """
    from app.core.db import create_engine
    from app.core.migrations import schema_state, upgrade

    path = missing_sqlite_file(settings)
    if path is not None:
        raise NoDatabase(no_file(path))
    engine = create_engine(settings)
    try:
        current, head = await schema_state(engine)
        if current is None:
            raise NoDatabase(
                f"the database at {shown_url(settings.resolved_database_url)} has no gateway"
                " tables: point XYB_DATABASE_URL (or XYB_DATA_DIR) at the gateway's database, or"
                " create them with `xyb db upgrade`"
            )
        if current != head:
            if settings.is_production:
                raise NoDatabase(
                    f"the database schema is at {current}, the code expects {head}:"
                    " run `xyb db upgrade` first"
                )
            reached = await upgrade(engine)
            err.print(f"database migrated: {current} -> {reached}", markup=False)
    except BaseException:
        await engine.dispose()
        raise
    return engine


def run_database(settings: Settings, action: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run ``action`` with every database failure turned into a one-sentence refusal."""
    import asyncio

    from sqlalchemy.exc import SQLAlchemyError

    from app.core.errors import GatewayError

    where = shown_url(settings.resolved_database_url)
    try:
        return asyncio.run(action())
    except NoDatabase as exc:
        fail(str(exc), 2)
    except GatewayError as exc:
        # The same refusal the admin API would answer (404, 409, 422), as sentences.
        entries: list[dict[str, Any]] = list(exc.extensions.get("errors", []))
        if not entries:
            fail(exc.detail)
        for entry in entries:
            error(f"{entry.get('pointer', '')}: {entry.get('detail', '')}".removeprefix(": "))
        raise typer.Exit(1) from None
    except OSError as exc:
        fail(f"cannot reach the database at {where}: {exc.strerror or exc}")
    except SQLAlchemyError as exc:
        cause = getattr(exc, "orig", None) or exc
        first = (str(cause).strip().splitlines() or [type(cause).__name__])[0]
        fail(f"the database at {where} failed: {first}")


def in_transaction(settings: Settings, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run ``work(session)`` in one committed transaction on the gateway's database.

    Refuses (one sentence, exit 2) where there is no migrated database; see the module docstring.
    """
    from app.core.db import create_sessionmaker, take_write_lock

    async def run() -> T:
        engine = await open_database(settings)
        try:
            async with create_sessionmaker(engine)() as session, session.begin():
                # A command reads, then writes, beside a gateway that writes every second (its
                # counts and audit log): on SQLite take the write lock first, or the upgrade of
                # the read fails at once (see app.core.db.SQLITE_BEGIN).
                await take_write_lock(session)
                return await work(session)
        finally:
            await engine.dispose()

    return run_database(settings, run)


def cli_actor() -> str:
    """Who ran the command, as an audit record's actor (the OS account, or just "cli")."""
    import getpass

    try:
        return f"cli:{getpass.getuser()}"[:100]
    except (KeyError, OSError):  # no account name in this container
        return "cli"


def record_cli_change(
    settings: Settings,
    *,
    action: str,
    object: str,
    summary: dict[str, Any] | None = None,
    division: str | None = None,
) -> None:
    """Record a change a command made (after it committed) in the audit log, as a chain of its
    own (``app.services.audit.actions.record_standalone``). The change is made already: a
    record that cannot be written is a warning, not a failed command. Nothing with XYB_AUDIT
    off."""
    import asyncio

    if not settings.audit:
        return
    from app.core.db import create_engine, create_sessionmaker
    from app.services.audit.actions import record_standalone

    async def run() -> bool:
        engine = create_engine(settings)
        try:
            return await record_standalone(
                settings,
                create_sessionmaker(engine),
                actor=cli_actor(),
                action=action,
                object=object,
                summary=summary,
                division=division,
            )
        finally:
            await engine.dispose()

    try:
        written = asyncio.run(run())
    except Exception as exc:  # the change is committed: say so, and why the record is missing
        err.print(
            f"warning: the audit record of {action} could not be written ({type(exc).__name__})",
            markup=False,
        )
        return
    if not written:
        err.print(f"warning: the audit record of {action} could not be written", markup=False)
