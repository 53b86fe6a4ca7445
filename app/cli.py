"""``xyb``: the gateway's command line.

Starting it must be quick (``xyb --help`` under 0.3 s): this module and the command groups it
adds import only typer and rich at the top; settings, SQLAlchemy, FastAPI and the rest are
imported inside the commands that use them (``tests/test_cli_startup.py`` checks it). The admin
commands work on the gateway's database and refuse without one (``app/cli_common.py``); every
refusal is one sentence and a non-zero exit, never a traceback (:func:`main`).
"""

from __future__ import annotations

import contextlib
import os
import shlex
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from app.cli_audit import audit_cli
from app.cli_catalog import catalog_cli
from app.cli_common import (
    err,
    error,
    fail,
    in_transaction,
    missing_sqlite_file,
    no_file,
    out,
    print_table,
    progress,
    record_cli_change,
    settings_or_exit,
    working,
)
from app.cli_ops import operators_cli, ops_cli
from app.cli_persons import persons_cli

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

    from app.core.config import Settings


def _tidy_help() -> None:
    """Help that reads like the README: ``xyb onboard [OPTIONS] FILE``, ``--slug SLUG``.

    typer 0.29 prints a type beside every parameter (``--dry-run <bool>``, ``--slug <str>``) and
    required arguments in braces (``{file}``). Our parameters name their values with metavars and
    flags take no value, so: a metavar when there is one, nothing for a flag, and arguments as
    click writes them. Should typer rename these hooks, help shows its own style again (a test
    reads the help texts).
    """
    from typer import core

    option = getattr(core, "TyperOption", None)
    argument = getattr(core, "TyperArgument", None)
    if option is not None and hasattr(option, "display_type_rich"):
        typed = option.display_type_rich

        def option_type(self: Any, ctx: Any) -> str | None:
            if self.metavar is not None:
                return str(self.metavar)
            if getattr(self, "is_flag", False):
                return None
            shown = typed(self, ctx)
            return None if shown is None else str(shown).strip("<>").upper()

        option.display_type_rich = option_type
    if argument is not None and hasattr(argument, "_usage_display_name"):

        def argument_type(self: Any, ctx: Any) -> str | None:
            return None  # the argument's name column already says what it is

        def usage_name(self: Any) -> str:
            name = str(self.metavar or self.name).upper()
            if not self.required:
                name = f"[{name}]"
            return name + ("..." if self.nargs != 1 else "")

        argument.display_type_rich = argument_type
        argument._usage_display_name = usage_name


_tidy_help()

cli = typer.Typer(
    help="xyb-gateway: the back end of 湘易办.",
    no_args_is_help=True,
    add_completion=False,
    # rich's tracebacks print every local variable (tokens, passwords); main() prints one line.
    pretty_exceptions_enable=False,
)
db_cli = typer.Typer(help="Database schema (alembic migrations).", no_args_is_help=True)
config_cli = typer.Typer(help="Configuration.", no_args_is_help=True)
contracts_cli = typer.Typer(help="Contracts with providers (contracts/).", no_args_is_help=True)
clients_cli = typer.Typer(help="Client applications and their grants.", no_args_is_help=True)
keys_cli = typer.Typer(help="Signing keys and the data key.", no_args_is_help=True)
cli.add_typer(db_cli, name="db")
cli.add_typer(config_cli, name="config")
cli.add_typer(contracts_cli, name="contracts")
cli.add_typer(clients_cli, name="clients")
cli.add_typer(keys_cli, name="keys")
cli.add_typer(catalog_cli, name="catalog")
cli.add_typer(ops_cli, name="ops")
cli.add_typer(operators_cli, name="operators")
cli.add_typer(audit_cli, name="audit")
cli.add_typer(persons_cli, name="persons")

T = TypeVar("T")
DEFAULT_GATEWAY_HELP = "The gateway's base URL (default: XYB_PUBLIC_URL, else XYB_HOST:XYB_PORT)."


def _with_engine(settings: Settings, action: Callable[[AsyncEngine], Awaitable[T]]) -> T:
    from app.cli_common import run_database
    from app.core.db import create_engine

    async def run() -> T:
        engine = create_engine(settings)
        try:
            return await action(engine)
        finally:
            await engine.dispose()

    return run_database(settings, run)


def _migrate_for_development(settings: Settings) -> None:
    """Bring the database to head before serving (development), or refuse (production)."""
    from app.core.migrations import schema_state, upgrade

    current, head = _with_engine(settings, schema_state)
    if current == head:
        return
    if settings.is_production:
        fail(
            f"the database schema is at {current or 'none'}, the code expects {head}:"
            " run `xyb db upgrade` first"
        )
    reached = _with_engine(settings, upgrade)
    err.print(f"database migrated: {current or 'empty'} -> {reached}", markup=False)


@cli.command()
def serve(
    host: Annotated[
        str | None, typer.Option(metavar="ADDRESS", help="Bind address [XYB_HOST].")
    ] = None,
    port: Annotated[int | None, typer.Option(metavar="PORT", help="Port [XYB_PORT].")] = None,
    workers: Annotated[
        int | None, typer.Option(metavar="N", help="Worker processes [XYB_WORKERS].")
    ] = None,
) -> None:
    """Serve the gateway with uvicorn (uvloop and httptools where available).

    In development the database is migrated first, once, before any worker starts; in
    production an unmigrated database is refused.
    """
    import uvicorn

    from app.core.http_server import uvicorn_options

    settings = settings_or_exit()
    _migrate_for_development(settings)
    if not settings.is_production and settings.admin_token is None:
        err.print(
            f"admin token (generated, kept in {settings.data_dir / 'admin_token'}):"
            f" {settings.resolved_admin_token}",
            markup=False,
        )
    # The app is imported by uvicorn (in every worker) and reads its settings from the
    # environment: the flags given here reach it, and the default public URL, that way.
    if host:
        os.environ["XYB_HOST"] = host
    if port:
        os.environ["XYB_PORT"] = str(port)
    from app.services.metrics import shared_directory

    # The workers write their figures into one directory, so /metrics is the same whichever
    # worker answers (app.services.metrics).
    with shared_directory():
        uvicorn.run(
            "app.main:app",
            host=host or settings.host,
            port=port or settings.port,
            workers=workers or settings.workers,
            loop="auto",
            timeout_graceful_shutdown=15,
            **uvicorn_options(settings),
        )


def _admin_token(settings: Settings, token: str | None) -> str:
    """--token, XYB_ADMIN_TOKEN, or the one a local gateway generated; never a new one."""
    from app.core.config import read_secret

    if token:
        return token
    if settings.admin_token is not None and settings.admin_token.get_secret_value():
        return settings.admin_token.get_secret_value()
    stored = read_secret(settings.data_dir, "admin_token")
    if stored is None:
        fail(
            "no admin token: pass --token, set XYB_ADMIN_TOKEN, or run from the directory of a"
            f" development gateway (its token is in {settings.data_dir}/admin_token)",
            2,
        )
    return stored


@cli.command()
def demo(
    host: Annotated[
        str, typer.Option(metavar="ADDRESS", help="Bind address of the gateway.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(metavar="PORT", help="Port of the gateway.")] = 8000,
    simulator_port: Annotated[
        int,
        typer.Option(
            metavar="PORT",
            help="Fault-control port of the simulators; the 14 cities take the next 14 ports,"
            " the enterprise register the one after.",
        ),
    ] = 9000,
) -> None:
    """Gateway + the 14 city simulators, all onboarded through the admin API, with curl examples."""
    import asyncio

    from app.demo import run_demo

    settings = settings_or_exit()
    if settings.is_production:
        fail("the demo runs in development mode only (XYB_ENV=development)", 2)
    _migrate_for_development(settings)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(
            run_demo(
                settings,
                host=host,
                port=port,
                simulator_port=simulator_port,
                on_ready=lambda text: out.print(text, highlight=False, markup=False),
                on_step=_demo_step,
            )
        )


def _demo_step(text: str) -> None:
    """What the demo is doing while it starts (a line on a terminal; nothing when piped)."""
    if err.is_terminal:
        err.print(text, style="dim", markup=False, highlight=False)


@cli.command()
def onboard(
    file: Annotated[
        typer.FileBinaryRead,
        typer.Argument(metavar="FILE", help="The OpenAPI document (JSON or YAML)."),
    ],
    division: Annotated[
        str, typer.Option(metavar="CODE", help="GB/T 2260 division code, e.g. 430100.")
    ],
    slug: Annotated[
        str, typer.Option(metavar="SLUG", help="The service's slug: 2-40 of a-z, 0-9 and -.")
    ],
    upstream: Annotated[
        str | None,
        typer.Option(metavar="URL", help="Upstream base URL (default: the document's server)."),
    ] = None,
    name: Annotated[
        str | None, typer.Option(metavar="TEXT", help="Display name (default: info.title).")
    ] = None,
    connector: Annotated[str, typer.Option(metavar="KIND", help="Connector kind.")] = "municipal",
    classification: Annotated[
        str,
        typer.Option(
            metavar="CLASS", help="Data classification: public, internal, personal or sensitive."
        ),
    ] = "internal",
    timeout: Annotated[
        float | None, typer.Option(metavar="SECONDS", help="Upstream timeout in seconds.")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show the plan, save nothing.")
    ] = False,
    replace_id: Annotated[
        int | None,
        typer.Option("--replace", metavar="ID", help="Publish as a new version of service ID."),
    ] = None,
    contract: Annotated[
        list[Path] | None,
        typer.Option(
            metavar="FILE",
            help="A contract to check the document against and record (repeatable).",
        ),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Publish even if a recorded contract breaks (logged).")
    ] = False,
    gateway: Annotated[str | None, typer.Option(metavar="URL", help=DEFAULT_GATEWAY_HELP)] = None,
    token: Annotated[
        str | None,
        typer.Option(
            metavar="TOKEN", help="Admin token (default: XYB_ADMIN_TOKEN or the data dir's)."
        ),
    ] = None,
) -> None:
    """Submit an OpenAPI document to the gateway and print the plan or the problems."""
    import httpx

    from app.cli_render import render_plan, render_problem
    from app.services.openapi.parsing import document_title

    settings = settings_or_exit()
    gateway_given = gateway is not None
    gateway = gateway or settings.resolved_public_url
    raw = file.read()
    text = raw.decode("utf-8", errors="replace")
    title = name
    if title is None:
        title = document_title(raw) or slug
    try:
        contracts = [p.read_text(encoding="utf-8") for p in contract or []] or None
    except OSError as exc:
        fail(f"cannot read the contract {exc.filename}: {exc.strerror}", 2)
    body = {
        "division": division,
        "slug": slug,
        "name": title[:200],
        "connector": connector,
        "upstream_url": upstream,
        "data_classification": classification,
        "timeout_s": timeout,
        "document": text,
        "contracts": contracts,
        "force": force or None,
    }
    method, url = ("POST", f"{gateway.rstrip('/')}/admin/services")
    if replace_id is not None:
        method, url = ("PUT", f"{url}/{replace_id}")
    admin_token = _admin_token(settings, token)
    try:
        with working(f"{'checking' if dry_run else 'onboarding'} {file.name} at {gateway}"):
            response = httpx.request(
                method,
                url,
                params={"dry_run": "true"} if dry_run else None,
                json={k: v for k, v in body.items() if v is not None},
                headers={"Authorization": f"Bearer {admin_token}"},
                timeout=60,
            )
    except httpx.HTTPError as exc:
        fail(f"cannot reach the gateway at {gateway}: {exc}")
    if response.is_success:
        render_plan(out, response.json())
        return
    again = [
        *("xyb", "onboard", file.name, "--division", division, "--slug", slug),
        *(("--upstream", upstream) if upstream else ()),
        *(("--name", name) if name else ()),
        *(("--connector", connector) if connector != "municipal" else ()),
        *(("--classification", classification) if classification != "internal" else ()),
        *(("--timeout", str(timeout)) if timeout is not None else ()),
        *(part for path in contract or [] for part in ("--contract", str(path))),
        *(("--gateway", gateway) if gateway_given else ()),
        *(("--replace", str(replace_id)) if replace_id is not None else ()),
    ]
    render_problem(err, response, again=shlex.join(again))
    raise typer.Exit(1)


@contracts_cli.command("verify")
def contracts_verify(
    files: Annotated[
        list[Path], typer.Argument(metavar="FILE", help="Contract files (*.contract.yaml).")
    ],
    target: Annotated[
        str,
        typer.Option(
            metavar="TARGET",
            help="'simulator' (the built-in simulator) or the provider's base URL.",
        ),
    ] = "simulator",
    allow_writes: Annotated[
        bool, typer.Option("--allow-writes", help="Replay non-GET interactions on a live URL.")
    ] = False,
    header: Annotated[
        list[str] | None,
        typer.Option(metavar="'NAME: VALUE'", help="Extra request header (repeatable)."),
    ] = None,
    junit: Annotated[
        Path | None, typer.Option(metavar="FILE", help="Write a JUnit XML report here.")
    ] = None,
    json_out: Annotated[
        Path | None, typer.Option("--json", metavar="FILE", help="Write a JSON report here.")
    ] = None,
) -> None:
    """Check contracts statically, replay them against a provider, and report per interaction."""
    import asyncio

    from rich.markup import escape

    from app.contracts.replay import ResponseChecksUnavailable, verify
    from app.contracts.report import render, write_json, write_junit

    headers: dict[str, str] = {}
    for item in header or []:
        name, sep, value = item.partition(":")
        if not sep or not name.strip():
            fail(f"--header wants 'Name: value', not {item!r}", 2)
        headers[name.strip()] = value.strip()
    if target != "simulator" and not target.startswith(("http://", "https://")):
        fail("--target is 'simulator' or an http(s) URL", 2)
    missing = [str(path) for path in files if not path.is_file()]
    if missing:
        fail(f"there is no contract file {', '.join(missing)}", 2)
    with progress() as bar:
        task = bar.add_task("verifying", total=len(files))

        def started(done: int, path: Path) -> None:
            bar.update(task, completed=done, description=escape(f"verifying {path.name}"))

        try:
            report = asyncio.run(
                verify(
                    files,
                    target=target,
                    allow_writes=allow_writes,
                    headers=headers,
                    on_file=started,
                )
            )
        except ResponseChecksUnavailable as exc:  # nothing ran: never a pass, never a traceback
            err.print(f"[red]error[/red] {escape(str(exc))}")
            raise typer.Exit(2) from None
    render(out, report, print_table)
    if junit is not None:
        write_junit(report, junit)
    if json_out is not None:
        write_json(report, json_out)
    if report.failed:
        raise typer.Exit(1)


@clients_cli.command("create")
def clients_create(
    name: Annotated[str, typer.Option(metavar="TEXT", help="What the client is.")],
    kind: Annotated[
        str, typer.Option(metavar="KIND", help="app, partner or integrator.")
    ] = "integrator",
    role: Annotated[
        list[str] | None,
        typer.Option(
            metavar="ROLE",
            help="platform_admin, division_admin, operator, department or verifier (repeatable).",
        ),
    ] = None,
    division: Annotated[
        str | None, typer.Option(metavar="CODE", help="A division admin's division.")
    ] = None,
    rate: Annotated[
        float | None, typer.Option(metavar="N", help="Requests per second through /gw.")
    ] = None,
    burst: Annotated[int | None, typer.Option(metavar="N", help="Burst through /gw.")] = None,
) -> None:
    """Create a client application (prints its id and its secret, once)."""
    from app.identity.events import EventKind, emit
    from app.routers.admin_clients import create_client_row

    settings = settings_or_exit()
    if kind not in ("app", "partner", "integrator"):
        fail("--kind is app, partner or integrator", 2)
    if kind == "partner":
        fail("partners need their keys: use POST /admin/clients", 2)

    async def work(session: AsyncSession) -> tuple[str, str]:
        row, secret = await create_client_row(
            session,
            name=name,
            kind=kind,
            roles=role or [],
            division=division,
            rate_per_s=rate or settings.default_client_rate,
            burst=burst or settings.default_client_burst,
            partner=None,
        )
        await emit(session, EventKind.CLIENT_CHANGED, row.id)
        return row.id, secret

    client_id, secret = in_transaction(settings, work)
    record_cli_change(
        settings,
        action="client.create",
        object=f"client:{client_id}",
        summary={
            "name": name,
            "kind": kind,
            "roles": sorted(set(role or [])),
            "division": division,
        },
        division=division,
    )
    out.print(
        f"client_id: {client_id}\nclient_secret: {secret}\n(the secret is shown once)",
        markup=False,
        highlight=False,
    )


@clients_cli.command("grant")
def clients_grant(
    client_id: Annotated[str, typer.Argument(metavar="CLIENT", help="The client's id.")],
    division: Annotated[str, typer.Option(metavar="CODE", help="The service's division.")],
    slug: Annotated[str, typer.Option(metavar="SLUG", help="The service's slug.")],
    operation: Annotated[
        list[str] | None,
        typer.Option(metavar="OPERATION_ID", help="Only this operationId (repeatable)."),
    ] = None,
) -> None:
    """Grant a client an onboarded service, or some of its operations."""
    from sqlalchemy import select

    from app.core.errors import NotFound, ValidationFailed
    from app.identity.events import EventKind, emit
    from app.models.service import Operation, Service, ServiceStatus
    from app.routers.admin_clients import create_grant

    settings = settings_or_exit()

    async def work(session: AsyncSession) -> tuple[int, str]:
        service = await session.scalar(
            select(Service).where(Service.division == division, Service.slug == slug)
        )
        if service is None:
            raise NotFound(
                f"there is no service {division}/{slug}: onboard it first (xyb onboard), or"
                " check --division and --slug"
            )
        if operation:
            known = set(
                await session.scalars(
                    select(Operation.operation_id).where(Operation.service_id == service.id)
                )
            )
            unknown = sorted(set(operation) - known)
            if unknown:
                raise ValidationFailed(
                    "Unknown operations.",
                    errors=[
                        {
                            "pointer": "--operation",
                            "detail": f"{division}/{slug} has no operation {name!r}",
                        }
                        for name in unknown
                    ],
                )
        grant = await create_grant(session, client_id, division, slug, operation or None)
        await emit(session, EventKind.CLIENT_CHANGED, client_id)
        return int(grant.id), service.status

    grant_id, status = in_transaction(settings, work)
    record_cli_change(
        settings,
        action="grant.give",
        object=f"client:{client_id}",
        summary={
            "grant_id": grant_id,
            "service": f"{division}/{slug}",
            "operations": sorted(set(operation)) if operation else None,
        },
        division=division,
    )
    what = ", ".join(sorted(set(operation))) if operation else "every operation"
    out.print(
        f"grant {grant_id}: {client_id} may call {division}/{slug} ({what})",
        markup=False,
        highlight=False,
    )
    if status != ServiceStatus.ACTIVE.value:
        out.print(
            f"note: {division}/{slug} is {status}; the grant applies when it is onboarded again",
            markup=False,
            highlight=False,
        )


@keys_cli.command("rotate")
def keys_rotate() -> None:
    """Add a signing key: new tokens use it; older keys verify until their tokens expire."""
    from app.identity.crypto import DataCipher
    from app.identity.state import add_signing_key

    settings = settings_or_exit()

    async def work(session: AsyncSession) -> str:
        # The data key is read only once the database is known to be there.
        kid: str = await add_signing_key(session, DataCipher.from_text(settings.resolved_data_key))
        return kid

    kid = in_transaction(settings, work)
    record_cli_change(
        settings, action="keys.rotate", object=f"signing-key:{kid}", summary={"kid": kid}
    )
    out.print(f"new signing key {kid}; instances switch to it within seconds", markup=False)


@keys_cli.command("data-key")
def keys_data_key() -> None:
    """Print a new random data key (for XYB_DATA_KEY; store it like a password)."""
    from app.identity.crypto import DataCipher

    out.print(DataCipher.generate_text(), markup=False, highlight=False)


@db_cli.command("upgrade")
def db_upgrade(
    revision: Annotated[
        str, typer.Argument(metavar="REVISION", help="Target revision (default: head).")
    ] = "head",
) -> None:
    """Migrate the database to REVISION (a new SQLite database is created), holding the lock."""
    from app.core.migrations import schema_state, upgrade

    settings = settings_or_exit()
    before, _ = _with_engine(settings, schema_state)
    reached = _with_engine(settings, lambda engine: upgrade(engine, revision))
    out.print(f"database at {reached or 'empty'} (was {before or 'empty'})", markup=False)


def _existing_database(settings: Settings) -> None:
    """Refuse to open a SQLite file that is not there (opening would create it)."""
    path = missing_sqlite_file(settings)
    if path is not None:
        fail(no_file(path), 2)


# "-1" is a revision, not an option: unknown options fall through to the argument.
@db_cli.command("downgrade", context_settings={"ignore_unknown_options": True})
def db_downgrade(
    revision: Annotated[
        str, typer.Argument(metavar="REVISION", help="Target revision, e.g. -1 or base.")
    ],
) -> None:
    """Migrate the database down to REVISION."""
    from app.core.migrations import downgrade

    settings = settings_or_exit()
    _existing_database(settings)
    reached = _with_engine(settings, lambda engine: downgrade(engine, revision))
    out.print(f"database at {reached or 'empty'}", markup=False)


@db_cli.command("current")
def db_current() -> None:
    """Show the database's revision and whether it is at head (exit 1 if not)."""
    from app.core.migrations import schema_state

    settings = settings_or_exit()
    _existing_database(settings)
    current, head = _with_engine(settings, schema_state)
    state = "at head" if current == head else "behind: run `xyb db upgrade`"
    out.print(f"current: {current or 'none'}\nhead:    {head}\n{state}", markup=False)
    if current != head:
        raise typer.Exit(1)


@db_cli.command("revision")
def db_revision(
    message: Annotated[
        str, typer.Option("-m", "--message", metavar="TEXT", help="What the revision does.")
    ],
    autogenerate: Annotated[bool, typer.Option(help="Diff the models against the DB.")] = True,
) -> None:
    """Write a new migration script (for developers; needs a database at head)."""
    from alembic import command

    from app.core.migrations import alembic_config, head_revision

    settings = settings_or_exit()
    cfg = alembic_config(settings.resolved_database_url)
    command.revision(cfg, message=message, autogenerate=autogenerate)
    head_revision.cache_clear()


def _shown_setting(settings: Settings, name: str, value: object) -> str:
    """One setting as `xyb config show` prints it: secrets masked, defaults resolved."""
    from datetime import datetime

    from pydantic import SecretStr

    from app.cli_common import shown_url

    generated = f"(unset: generated into {settings.data_dir})"
    if isinstance(value, SecretStr) or name in ("admin_token", "data_key", "metrics_token"):
        if value is not None:
            return "(set)"
        if name in ("admin_token", "data_key") and not settings.is_production:
            return generated
        return "(unset)"
    if name == "database_url":
        if value is None:
            return f"(default) {shown_url(settings.resolved_database_url)}"
        return shown_url(str(value))
    if name == "redis_url" and value is not None:
        from sqlalchemy.engine import make_url

        return make_url(str(value)).render_as_string(hide_password=True)
    if value is None:
        if name == "public_url":
            return f"(default) {settings.resolved_public_url}"
        if name == "issuer" and hasattr(settings, "resolved_issuer"):
            return f"(default) {settings.resolved_issuer}"
        if name == "target_year_end":
            from app.services.ops.targets import year_end_of

            return f"(default) {year_end_of(settings, datetime.now(settings.tz).date())}"
        return "(unset)"
    if value == "":
        return "(none)"  # a list setting left empty, e.g. no trusted proxies
    return str(value)


@config_cli.command("show")
def config_show() -> None:
    """Print the effective settings (secrets masked)."""
    from rich.table import Table
    from rich.text import Text

    settings = settings_or_exit()
    table = Table("setting", "value")
    for name in type(settings).model_fields:
        shown = _shown_setting(settings, name, getattr(settings, name))
        table.add_row(f"XYB_{name.upper()}", Text(shown))
    print_table(out, table)


def main() -> None:
    """Run ``xyb``; anything unexpected ends as one line, not a traceback.

    ``XYB_LOG_LEVEL=debug`` lets the traceback through (for developers).
    """
    try:
        cli()
    except Exception as exc:
        if os.environ.get("XYB_LOG_LEVEL", "").lower() == "debug":
            raise
        message = (str(exc).strip().splitlines() or [""])[0][:300]
        error(
            f"xyb stopped on an unexpected {type(exc).__name__}"
            + (f": {message}" if message else "")
            + " (XYB_LOG_LEVEL=debug shows where)"
        )
        sys.exit(1)


if __name__ == "__main__":
    main()
