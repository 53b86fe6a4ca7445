"""``xyb ops`` (targets, access counts) and ``xyb operators`` (dashboard accounts).

Both read and write the gateway's database directly, through the same functions as the /ops API
(``app.services.ops``); no gateway needs to be running, but its database must be there
(``app/cli_common.py`` refuses otherwise, and never creates one).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich import box
from rich.table import Table
from rich.text import Text

from app.cli_common import (
    error,
    fail,
    in_transaction,
    out,
    print_table,
    record_cli_change,
    settings_or_exit,
)

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from app.core.config import Settings
    from app.core.errors import ValidationFailed

ops_cli = typer.Typer(
    help="The operators' view: year-end targets and access counts.", no_args_is_help=True
)
operators_cli = typer.Typer(
    help="Operator accounts (who may sign in to /ops/dashboard).", no_args_is_help=True
)


def _number(value: float | int | None, digits: int = 0) -> str:
    if value is None:
        return "–"
    return f"{value:,.{digits}f}"


# -- xyb ops ----------------------------------------------------------------------------------


@ops_cli.command("targets")
def ops_targets(
    as_json: Annotated[bool, typer.Option("--json", help="Print the JSON of GET /ops/targets.")] = (
        False
    ),
) -> None:
    """The four year-end targets: current value, 7-day rate, projection, on track.

    Like GET /ops/targets, this records today's snapshots."""
    from app.identity.accounts import lock_for_write
    from app.services.ops.clock import system_clock
    from app.services.ops.targets import TargetsReport, compute_targets

    settings = settings_or_exit()

    async def work(session: AsyncSession) -> TargetsReport:
        await lock_for_write(session)
        return await compute_targets(session, settings, now=system_clock())

    report = in_transaction(settings, work)
    if as_json:
        out.print_json(json.dumps(report.as_json(), ensure_ascii=False))
        return
    table = Table(
        title=f"Year-end targets (as of {report.as_of:%Y-%m-%d %H:%M %Z}; due {report.year_end},"
        f" {report.days_left} days left)",
        title_justify="left",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
    )
    table.add_column("target", overflow="fold")
    for name in ("current", "goal", "ratio", "rate/day", "projected"):
        table.add_column(name, justify="right", no_wrap=True)
    table.add_column("on track", no_wrap=True)
    for t in report.targets:
        table.add_row(
            Text(t.name),
            _number(t.current),
            _number(t.target),
            f"{t.ratio * 100:.1f}%",
            f"{t.rate_per_day:+,.2f}" if t.rate_days else "–",
            _number(t.projected),
            "[green]yes[/green]" if t.on_track else "[red]no[/red]",
        )
    print_table(out, table)
    if any(t.rate_days == 0 for t in report.targets):
        out.print("[dim]rate/day over the last 7 days; –: no snapshot from them yet[/dim]")
    for t in report.targets:
        out.print(f"{t.name} — {t.label}: {t.source}", style="dim", markup=False)


@ops_cli.command("counts")
def ops_counts(
    group_by: Annotated[
        str,
        typer.Option(
            "--group-by",
            metavar="DIMENSIONS",
            help="One or two of service, operation, item, division,"
            " client, day, hour (comma-separated).",
        ),
    ],
    since: Annotated[
        str | None,
        typer.Option(
            metavar="WHEN", help="Local date YYYY-MM-DD or ISO datetime (default: 7 days ago)."
        ),
    ] = None,
    until: Annotated[
        str | None,
        typer.Option(metavar="WHEN", help="Local date (included) or ISO datetime (excluded)."),
    ] = None,
    division: Annotated[
        str | None,
        typer.Option(metavar="CODES", help="Division codes (a prefecture includes its counties)."),
    ] = None,
    service: Annotated[
        str | None, typer.Option(metavar="SERVICES", help="division/slug or id, comma-separated.")
    ] = (None),
    outcome: Annotated[
        str | None,
        typer.Option(
            metavar="OUTCOMES",
            help="success, caller_error, upstream_error, gateway_error (comma-separated).",
        ),
    ] = None,
    limit: Annotated[
        int | None, typer.Option(metavar="N", help="Groups at most (1-10000, default 1000).")
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the JSON of GET /ops/access-counts.")
    ] = False,
) -> None:
    """Calls, errors and p50/p95 latency per group, from the hourly roll-ups."""
    from app.services.ops.clock import system_clock
    from app.services.ops.counts import CountsResult, access_counts, counts_json

    settings = settings_or_exit()

    from app.core.errors import ValidationFailed

    async def work(session: AsyncSession) -> CountsResult | ValidationFailed:
        try:
            return await access_counts(
                session,
                settings,
                now=system_clock(),
                group_by=group_by,
                since=since,
                until=until,
                division=division,
                service=service,
                outcome=outcome,
                limit=None if limit is None else str(limit),
            )
        except ValidationFailed as exc:  # named by the option, not by the API's query pointer
            return exc

    result = in_transaction(settings, work)
    if isinstance(result, ValidationFailed):
        for e in result.extensions.get("errors", []):
            option = "--" + e["pointer"].removeprefix("/query/").replace("_", "-")
            error(f"{option}: {e['detail']}")
        raise typer.Exit(2)
    data = counts_json(result, settings)
    if as_json:
        out.print_json(json.dumps(data, ensure_ascii=False))
        return
    until_text = data["until"] or "now"
    table = Table(
        title=f"Access counts by {', '.join(data['group_by'])} ({data['since']} to {until_text})",
        title_justify="left",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
    )
    table.add_column(" · ".join(data["group_by"]), overflow="fold")
    for name in ("calls", "errors", "error rate", "p50 ms", "p95 ms"):
        table.add_column(name, justify="right")
    for group in data["groups"]:
        table.add_row(*_count_cells(Text(str(group["label"])), group))
    totals = data["totals"]
    table.add_section()
    table.add_row(
        *_count_cells("[bold]total[/bold]" + (" (shown)" if data["truncated"] else ""), totals)
    )
    print_table(out, table)
    if data["truncated"]:
        out.print(f"[yellow]only the first {data['limit']} groups are shown (--limit)[/yellow]")
    out.print("latency quantiles: " + data["quantiles"], style="dim", markup=False)


def _count_cells(label: str | Text, stats: dict[str, Any]) -> list[str | Text]:
    return [
        label,
        _number(stats["calls"]),
        _number(stats["errors"]),
        f"{stats['error_rate'] * 100:.2f}%",
        _number(stats["p50_ms"], 1),
        _number(stats["p95_ms"], 1),
    ]


# -- xyb operators ----------------------------------------------------------------------------


def _change(
    settings: Settings,
    work: Callable[[AsyncSession], Awaitable[None]],
    done: str,
    *,
    action: str,
    username: str,
    summary: dict[str, Any] | None = None,
) -> None:
    """Run an account change in one transaction (a refusal is printed and exits 1), then record
    it in the audit log (never the password)."""
    from app.services.ops.operators import OperatorError

    try:
        in_transaction(settings, work)
    except OperatorError as exc:  # rolled back
        fail(str(exc))
    record_cli_change(settings, action=action, object=f"operator:{username}", summary=summary)
    out.print(done, markup=False, highlight=False)


# A new password, asked for twice without echo when not given on the command line.
NewPassword = Annotated[
    str,
    typer.Option(
        metavar="PASSWORD",
        prompt=True,
        hide_input=True,
        confirmation_prompt=True,
        help="At least 10 characters (asked for when not given).",
    ),
]


@operators_cli.command("create")
def operators_create(
    username: Annotated[
        str, typer.Option(metavar="NAME", help="2-64 characters of A-Z a-z 0-9 . _ -")
    ],
    password: NewPassword,
    role: Annotated[
        list[str] | None,
        typer.Option(metavar="ROLE", help="operator (default) or platform_admin; repeatable."),
    ] = None,
) -> None:
    """Create an operator account for the dashboard (argon2id password)."""
    from app.services.ops.operators import create_operator

    settings = settings_or_exit()

    async def work(session: AsyncSession) -> None:
        await create_operator(session, username, password, role or ["operator"])

    _change(
        settings,
        work,
        f"operator {username} created; sign in at /ops/login",
        action="operator.create",
        username=username,
        summary={"roles": role or ["operator"]},
    )


@operators_cli.command("list")
def operators_list() -> None:
    """Every operator account, its roles and status."""
    from app.services.ops.operators import OperatorView, list_operators

    settings = settings_or_exit()

    async def work(session: AsyncSession) -> list[OperatorView]:
        return await list_operators(session)

    table = Table("username", "roles", "status")
    for row in in_transaction(settings, work):
        table.add_row(Text(row.username), ", ".join(row.roles), row.status)
    print_table(out, table)


@operators_cli.command("set-password")
def operators_set_password(
    username: Annotated[str, typer.Option(metavar="NAME", help="The account.")],
    password: NewPassword,
) -> None:
    """A new password (ends the account's dashboard sessions)."""
    from app.services.ops.operators import set_password

    settings = settings_or_exit()

    async def work(session: AsyncSession) -> None:
        await set_password(session, username, password)

    _change(
        settings,
        work,
        f"password of {username} changed",
        action="operator.set-password",
        username=username,
    )


def _set_status(username: str, status: str) -> None:
    from app.services.ops.operators import set_status

    settings = settings_or_exit()

    async def work(session: AsyncSession) -> None:
        await set_status(session, username, status)

    _change(
        settings,
        work,
        f"operator {username} is {status}",
        action="operator.disable" if status == "disabled" else "operator.enable",
        username=username,
    )


@operators_cli.command("disable")
def operators_disable(
    username: Annotated[str, typer.Option(metavar="NAME", help="The account.")],
) -> None:
    """Disable an account (its sessions stop working at their next request)."""
    _set_status(username, "disabled")


@operators_cli.command("enable")
def operators_enable(
    username: Annotated[str, typer.Option(metavar="NAME", help="The account.")],
) -> None:
    """Re-enable a disabled account."""
    _set_status(username, "active")
