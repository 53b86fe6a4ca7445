"""``xyb``: the gateway's command line."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.table import Table

from app.cli_catalog import catalog_cli
from app.cli_common import err, out, settings_or_exit
from app.cli_ops import operators_cli, ops_cli
from app.core.config import Settings, read_secret
from app.core.db import create_engine
from app.core.http_server import uvicorn_options
from app.core.migrations import alembic_config, downgrade, head_revision, schema_state, upgrade

cli = typer.Typer(
    help="xyb-gateway: the back end of 湘易办.", no_args_is_help=True, add_completion=False
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

T = TypeVar("T")


def _with_engine(settings: Settings, action: Callable[..., Awaitable[T]]) -> T:
    async def run() -> T:
        engine = create_engine(settings)
        try:
            return await action(engine)
        finally:
            await engine.dispose()

    try:
        return asyncio.run(run())
    except OSError as exc:
        err.print(f"[red]error[/red] cannot reach the database: {exc}")
        raise typer.Exit(1) from None


@cli.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address [XYB_HOST].")] = None,
    port: Annotated[int | None, typer.Option(help="Port [XYB_PORT].")] = None,
    workers: Annotated[int | None, typer.Option(help="Worker processes [XYB_WORKERS].")] = None,
) -> None:
    """Serve the gateway with uvicorn (uvloop and httptools where available).

    In development the database is migrated first, once, before any worker starts; in
    production an unmigrated database is refused.
    """
    import uvicorn

    settings = settings_or_exit()
    current, head = _with_engine(settings, schema_state)
    if current != head:
        if settings.is_production:
            err.print(
                f"[red]error[/red] the database schema is at {current or 'none'}, the code expects"
                f" {head}: run `xyb db upgrade` first"
            )
            raise typer.Exit(1)
        reached = _with_engine(settings, upgrade)
        err.print(f"database migrated: {current or 'empty'} -> {reached}")
    if not settings.is_production and settings.admin_token is None:
        err.print(
            f"admin token (generated, kept in {settings.data_dir / 'admin_token'}):"
            f" {settings.resolved_admin_token}"
        )
    # The app is imported by uvicorn (in every worker) and reads its settings from the
    # environment: the flags given here reach it, and the default public URL, that way.
    if host:
        os.environ["XYB_HOST"] = host
    if port:
        os.environ["XYB_PORT"] = str(port)
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
    if token:
        return token
    if settings.admin_token is not None and settings.admin_token.get_secret_value():
        return settings.admin_token.get_secret_value()
    stored = read_secret(settings.data_dir, "admin_token")
    if stored is None:
        err.print(
            "[red]error[/red] no admin token: pass --token, set XYB_ADMIN_TOKEN, or run from the"
            f" directory of a development gateway (its token is in {settings.data_dir}/admin_token)"
        )
        raise typer.Exit(2)
    return stored


@cli.command()
def demo(
    host: Annotated[str, typer.Option(help="Bind address of the gateway.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port of the gateway.")] = 8000,
    simulator_port: Annotated[
        int,
        typer.Option(help="Control port of the simulators; cities take the next 14 ports."),
    ] = 9000,
) -> None:
    """Gateway + the 14 city simulators, all onboarded through the admin API, with curl examples."""
    from app.demo import run_demo

    settings = settings_or_exit()
    if settings.is_production:
        err.print("[red]error[/red] the demo runs in development mode only (XYB_ENV=development)")
        raise typer.Exit(2)
    current, head = _with_engine(settings, schema_state)
    if current != head:
        reached = _with_engine(settings, upgrade)
        err.print(f"database migrated: {current or 'empty'} -> {reached}")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(
            run_demo(
                settings,
                host=host,
                port=port,
                simulator_port=simulator_port,
                on_ready=lambda text: out.print(text, highlight=False, markup=False),
            )
        )


@cli.command()
def onboard(
    file: Annotated[
        typer.FileBinaryRead, typer.Argument(help="The OpenAPI document (JSON or YAML).")
    ],
    division: Annotated[str, typer.Option(help="GB/T 2260 division code, e.g. 430100.")],
    slug: Annotated[str, typer.Option(help="The service's slug: \\[a-z0-9-]{2,40}.")],
    upstream: Annotated[
        str | None, typer.Option(help="Upstream base URL (default: the document's server).")
    ] = None,
    name: Annotated[str | None, typer.Option(help="Display name (default: info.title).")] = None,
    connector: Annotated[str, typer.Option(help="Connector kind.")] = "municipal",
    classification: Annotated[
        str, typer.Option(help="Data classification: public|internal|personal|sensitive.")
    ] = "internal",
    timeout: Annotated[float | None, typer.Option(help="Upstream timeout in seconds.")] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show the plan, save nothing.")
    ] = False,
    replace_id: Annotated[
        int | None, typer.Option("--replace", help="Publish as a new version of service ID.")
    ] = None,
    contract: Annotated[
        list[Path] | None,
        typer.Option(help="A contract to check the document against and record (repeatable)."),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Publish even if a recorded contract breaks (logged).")
    ] = False,
    gateway: Annotated[str, typer.Option(help="The gateway's base URL.")] = "http://127.0.0.1:8000",
    token: Annotated[
        str | None, typer.Option(help="Admin token (default: XYB_ADMIN_TOKEN or the data dir's).")
    ] = None,
) -> None:
    """Submit an OpenAPI document to the gateway and print the plan or the problems."""
    import httpx
    import yaml

    from app.cli_render import render_plan, render_problem

    settings = settings_or_exit()
    raw = file.read()
    text = raw.decode("utf-8", errors="replace")
    title = name
    if title is None:
        try:
            loaded = yaml.safe_load(text)
            info = loaded.get("info", {}) if isinstance(loaded, dict) else {}
            title = str(info.get("title") or slug)
        except yaml.YAMLError:
            title = slug
    body = {
        "division": division,
        "slug": slug,
        "name": title[:200],
        "connector": connector,
        "upstream_url": upstream,
        "data_classification": classification,
        "timeout_s": timeout,
        "document": text,
        "contracts": [p.read_text(encoding="utf-8") for p in contract or []] or None,
        "force": force or None,
    }
    method, url = ("POST", f"{gateway.rstrip('/')}/admin/services")
    if replace_id is not None:
        method, url = ("PUT", f"{url}/{replace_id}")
    try:
        response = httpx.request(
            method,
            url,
            params={"dry_run": "true"} if dry_run else None,
            json={k: v for k, v in body.items() if v is not None},
            headers={"Authorization": f"Bearer {_admin_token(settings, token)}"},
            timeout=60,
        )
    except httpx.HTTPError as exc:
        err.print(f"[red]error[/red] cannot reach the gateway at {gateway}: {exc}")
        raise typer.Exit(1) from None
    if response.is_success:
        render_plan(out, response.json())
        return
    render_problem(err, response)
    raise typer.Exit(1)


@contracts_cli.command("verify")
def contracts_verify(
    files: Annotated[list[Path], typer.Argument(help="Contract files (*.contract.yaml).")],
    target: Annotated[
        str, typer.Option(help="'simulator' (the built-in simulator) or the provider's base URL.")
    ] = "simulator",
    allow_writes: Annotated[
        bool, typer.Option("--allow-writes", help="Replay non-GET interactions on a live URL.")
    ] = False,
    header: Annotated[
        list[str] | None, typer.Option(help="Extra request header 'Name: value' (repeatable).")
    ] = None,
    junit: Annotated[Path | None, typer.Option(help="Write a JUnit XML report here.")] = None,
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Write a JSON report here.")
    ] = None,
) -> None:
    """Check contracts statically, replay them against a provider, and report per interaction."""
    from app.contracts.replay import verify
    from app.contracts.report import render, write_json, write_junit

    headers: dict[str, str] = {}
    for item in header or []:
        name, sep, value = item.partition(":")
        if not sep or not name.strip():
            err.print(f"[red]error[/red] --header wants 'Name: value', not {item!r}")
            raise typer.Exit(2)
        headers[name.strip()] = value.strip()
    if target != "simulator" and not target.startswith(("http://", "https://")):
        err.print("[red]error[/red] --target is 'simulator' or an http(s) URL")
        raise typer.Exit(2)
    report = asyncio.run(verify(files, target=target, allow_writes=allow_writes, headers=headers))
    render(out, report)
    if junit is not None:
        write_junit(report, junit)
    if json_out is not None:
        write_json(report, json_out)
    if report.failed:
        raise typer.Exit(1)


def _in_transaction(settings: Settings, work: Callable[..., Awaitable[T]]) -> T:
    """Run ``work(session)`` in one committed transaction on the configured database."""
    from app.core.db import create_sessionmaker

    async def run(engine: Any) -> T:
        async with create_sessionmaker(engine)() as session, session.begin():
            return await work(session)

    return _with_engine(settings, run)


@clients_cli.command("create")
def clients_create(
    name: Annotated[str, typer.Option(help="What the client is.")],
    kind: Annotated[str, typer.Option(help="app | partner | integrator")] = "integrator",
    role: Annotated[
        list[str] | None,
        typer.Option(
            help="platform_admin | division_admin | operator | department | verifier (repeatable)"
        ),
    ] = None,
    division: Annotated[str | None, typer.Option(help="A division admin's division.")] = None,
    rate: Annotated[float | None, typer.Option(help="Requests per second through /gw.")] = None,
    burst: Annotated[int | None, typer.Option(help="Burst through /gw.")] = None,
) -> None:
    """Create a client application (prints its id and its secret, once)."""
    from app.core.errors import ValidationFailed
    from app.identity.events import EventKind, emit
    from app.routers.admin_clients import create_client_row

    settings = settings_or_exit()
    if kind not in ("app", "partner", "integrator"):
        err.print("[red]error[/red] --kind is app, partner or integrator")
        raise typer.Exit(2)
    if kind == "partner":
        err.print("[red]error[/red] partners need their keys: use POST /admin/clients")
        raise typer.Exit(2)

    async def work(session: Any) -> tuple[str, str]:
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

    try:
        client_id, secret = _in_transaction(settings, work)
    except ValidationFailed as exc:
        for e in exc.extensions.get("errors", []):
            err.print(f"[red]error[/red] {e['pointer']}: {e['detail']}")
        raise typer.Exit(1) from None
    out.print(f"client_id: {client_id}\nclient_secret: {secret}\n(the secret is shown once)")


@clients_cli.command("grant")
def clients_grant(
    client_id: Annotated[str, typer.Argument(help="The client.")],
    division: Annotated[str, typer.Option(help="The service's division.")],
    slug: Annotated[str, typer.Option(help="The service's slug.")],
    operation: Annotated[
        list[str] | None, typer.Option(help="Only this operationId (repeatable).")
    ] = None,
) -> None:
    """Grant a client a service, or some of its operations."""
    from app.identity.events import EventKind, emit
    from app.models.identity import Client, Grant

    settings = settings_or_exit()

    async def work(session: Any) -> int:
        if await session.get(Client, client_id) is None:
            raise LookupError(f"there is no client {client_id!r}")
        grant = Grant(
            client_id=client_id,
            division=division,
            slug=slug,
            operations=sorted(set(operation)) if operation else None,
        )
        session.add(grant)
        await session.flush()
        await emit(session, EventKind.CLIENT_CHANGED, client_id)
        return int(grant.id)

    try:
        grant_id = _in_transaction(settings, work)
    except LookupError as exc:
        err.print(f"[red]error[/red] {exc}")
        raise typer.Exit(1) from None
    out.print(f"grant {grant_id}: {client_id} may call {division}/{slug}")


@keys_cli.command("rotate")
def keys_rotate() -> None:
    """Add a signing key: new tokens use it; older keys verify until their tokens expire."""
    from app.identity.crypto import DataCipher
    from app.identity.state import add_signing_key

    settings = settings_or_exit()
    cipher = DataCipher.from_text(settings.resolved_data_key)
    kid = _in_transaction(settings, lambda session: add_signing_key(session, cipher))
    out.print(f"new signing key {kid}; instances switch to it within seconds")


@keys_cli.command("data-key")
def keys_data_key() -> None:
    """Print a new random data key (for XYB_DATA_KEY; store it like a password)."""
    from app.identity.crypto import DataCipher

    out.print(DataCipher.generate_text())


@db_cli.command("upgrade")
def db_upgrade(
    revision: Annotated[str, typer.Argument(help="Target revision.")] = "head",
) -> None:
    """Migrate the database to ``revision`` (default: head), holding the migration lock."""
    settings = settings_or_exit()
    before, _ = _with_engine(settings, schema_state)
    reached = _with_engine(settings, lambda engine: upgrade(engine, revision))
    out.print(f"database at {reached or 'empty'} (was {before or 'empty'})")


@db_cli.command("downgrade")
def db_downgrade(
    revision: Annotated[str, typer.Argument(help="Target revision, e.g. -1 or base.")],
) -> None:
    """Migrate the database down to ``revision``."""
    settings = settings_or_exit()
    reached = _with_engine(settings, lambda engine: downgrade(engine, revision))
    out.print(f"database at {reached or 'empty'}")


@db_cli.command("current")
def db_current() -> None:
    """Show the database's revision and whether it is at head (exit 1 if not)."""
    settings = settings_or_exit()
    current, head = _with_engine(settings, schema_state)
    state = "at head" if current == head else "behind: run `xyb db upgrade`"
    out.print(f"current: {current or 'none'}\nhead:    {head}\n{state}")
    if current != head:
        raise typer.Exit(1)


@db_cli.command("revision")
def db_revision(
    message: Annotated[str, typer.Option("-m", "--message", help="What the revision does.")],
    autogenerate: Annotated[bool, typer.Option(help="Diff the models against the DB.")] = True,
) -> None:
    """Write a new migration script (for developers; needs a database at head)."""
    from alembic import command

    settings = settings_or_exit()
    cfg = alembic_config(settings.resolved_database_url)
    command.revision(cfg, message=message, autogenerate=autogenerate)
    head_revision.cache_clear()


@config_cli.command("show")
def config_show() -> None:
    """Print the effective settings (secrets masked)."""
    settings = settings_or_exit()
    from sqlalchemy.engine import make_url

    table = Table("setting", "value")
    for name, value in settings.model_dump().items():
        shown: object = value
        if name == "admin_token":
            shown = "(set)" if value is not None else "(unset: generated into the data dir)"
        elif name in ("database_url", "redis_url") and value is not None:
            shown = make_url(value).render_as_string(hide_password=True)
        elif name == "database_url":
            shown = f"(default) {settings.resolved_database_url}"
        table.add_row(f"XYB_{name.upper()}", "" if shown is None else str(shown))
    out.print(table)


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
