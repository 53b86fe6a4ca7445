"""``xyb ops`` (targets, access counts, the 12345 hotline and its follow-ups) and ``xyb operators``
(dashboard accounts).

Both read and write the gateway's database directly, through the same functions as the /ops API
(``app.services.ops``, ``app.services.hotline``); no gateway needs to be running, but its
database must be there (``app/cli_common.py`` refuses otherwise, and never creates one).
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
    help="The operators' view: year-end targets, access counts, the 12345 hotline.",
    no_args_is_help=True,
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


# -- xyb ops hotline, xyb ops follow-ups --------------------------------------------------------

follow_ups_cli = typer.Typer(
    help="Follow-ups of bad ratings (好差评): list and close them.", no_args_is_help=True
)
ops_cli.add_typer(follow_ups_cli, name="follow-ups")


def _rate(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.1f}%"


def _card(card: str | None) -> str:
    return {"red": "[red]red[/red]", "yellow": "[yellow]yellow[/yellow]"}.get(card or "", "")


def _options_or_exit(result: dict[str, Any] | ValidationFailed) -> dict[str, Any]:
    """A list query's 422 named by the command's options (exit 2), else the answer."""
    from app.core.errors import ValidationFailed

    if isinstance(result, ValidationFailed):
        for e in result.extensions.get("errors", []):
            option = "--" + e["pointer"].removeprefix("/query/").replace("_", "-")
            error(f"{option}: {e['detail']}")
        raise typer.Exit(2)
    return result


@ops_cli.command("hotline")
def ops_hotline(
    as_json: Annotated[bool, typer.Option("--json", help="Print the JSON of GET /ops/hotline.")] = (
        False
    ),
) -> None:
    """The 12345 hotline and 好差评 at a glance.

    Tickets by status and division, on-time completion, satisfaction by channel, division and
    item, open yellow and red cards, follow-ups of bad ratings."""
    from app.services.hotline.figures import LEVEL_LABELS, LEVEL_NAMES, hotline_summary
    from app.services.ops import clock

    settings = settings_or_exit()

    async def work(session: AsyncSession) -> dict[str, Any]:
        return await hotline_summary(session, settings, now=clock.system_clock())

    data = in_transaction(settings, work)
    if as_json:
        out.print_json(json.dumps(data, ensure_ascii=False))
        return
    tickets, on_time, cards = data["tickets"], data["on_time"], data["cards"]
    follow_ups, satisfaction = data["follow_ups"], data["satisfaction"]
    out.print(
        f"12345 hotline as of {data['as_of']}: {tickets['total']:,} tickets, {tickets['open']:,}"
        f" open, {tickets['closed']:,} closed; on time {_rate(on_time['rate'])}"
        f" ({on_time['closed_on_time']:,} of {on_time['closed']:,}), {on_time['open_late']:,}"
        f" open past their deadline; satisfaction {_rate(satisfaction['rate'])}"
        f" ({satisfaction['satisfied']:,} of {satisfaction['ratings']:,} ratings)",
        markup=False,
        highlight=False,
    )
    out.print(
        f"cards: {cards['red']:,} red, {cards['yellow']:,} yellow (tickets"
        f" {cards['tickets']['red']:,} red, {cards['tickets']['yellow']:,} yellow; follow-ups"
        f" {cards['follow_ups']['red']:,} red, {cards['follow_ups']['yellow']:,} yellow);"
        f" follow-ups: {follow_ups['open']:,} open, {follow_ups['overdue']:,} overdue",
        markup=False,
        highlight=False,
    )

    def table(title: str, *columns: str) -> Table:
        made = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
        for i, name in enumerate(columns):
            made.add_column(name, justify="left" if i < 2 else "right", overflow="fold")
        return made

    statuses = table("Tickets by status", "status", "状态", "tickets")
    for row in tickets["by_status"]:
        statuses.add_row(row["status"], row["label"], _number(row["tickets"]))
    print_table(out, statuses)

    by_division = table(
        "Tickets by division",
        "division",
        "name",
        "total",
        "open",
        "closed",
        "closed on time",
        "yellow",
        "red",
    )
    for row in tickets["by_division"]:
        by_division.add_row(
            row["division"],
            Text(row["division_name"] or ""),
            *(_number(row[k]) for k in ("total", "open", "closed", "closed_on_time")),
            _number(row["yellow"]),
            _number(row["red"]),
        )
    print_table(out, by_division)

    levels = list(LEVEL_NAMES.items())
    for key, title in (
        ("by_channel", "Satisfaction by channel"),
        ("by_division", "Satisfaction by division"),
        ("by_item", "Satisfaction by item (the most rated first)"),
    ):
        shown = table(
            title,
            key.removeprefix("by_"),
            "name",
            "ratings",
            "satisfied",
            *(LEVEL_LABELS[level] for level, _name in levels),
        )
        for group in satisfaction[key]:
            shown.add_row(
                Text(group["key"] or "(none)"),
                Text(group["name"] or ""),
                _number(group["ratings"]),
                _rate(group["rate"]),
                *(_number(group["levels"][name]) for _level, name in levels),
            )
        print_table(out, shown)
    if satisfaction["items_truncated"]:
        out.print("[yellow]more items were rated than are shown[/yellow]")

    owed = table(
        "Follow-ups by division", "division", "name", "open", "overdue", "yellow", "closed"
    )
    for row in follow_ups["by_division"]:
        owed.add_row(
            row["division"],
            Text(row["division_name"] or ""),
            *(_number(row[k]) for k in ("open", "overdue", "yellow", "closed")),
        )
    print_table(out, owed)
    out.print(
        "satisfied: 非常满意, 满意 or 基本满意; on time: closed by the deadline (working days on"
        f" the official calendar, {settings.timezone}); yellow: {data['yellow_days']} working"
        " day(s) or less left; red: past the deadline",
        style="dim",
        markup=False,
    )


@follow_ups_cli.command("list")
def follow_ups_list(
    state: Annotated[
        str, typer.Option(metavar="STATE", help="open (default), closed or all.")
    ] = "open",
    division: Annotated[
        str | None,
        typer.Option(metavar="CODES", help="Division codes (a prefecture includes its counties)."),
    ] = None,
    card: Annotated[
        str | None, typer.Option(metavar="CARD", help="yellow or red: open ones with that card.")
    ] = None,
    limit: Annotated[
        int | None, typer.Option(metavar="N", help="Follow-ups at most (1-1000, default 100).")
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the JSON of GET /ops/hotline/follow-ups.")
    ] = False,
) -> None:
    """Follow-ups of bad ratings, the nearest deadline first."""
    from app.core.errors import ValidationFailed
    from app.services.hotline.figures import follow_up_list, parse_list_query
    from app.services.ops import clock

    settings = settings_or_exit()

    async def work(session: AsyncSession) -> dict[str, Any] | ValidationFailed:
        try:
            query = parse_list_query(
                state=state,
                division=division,
                card=card,
                limit=None if limit is None else str(limit),
                default_state="open",
            )
        except ValidationFailed as exc:
            return exc
        return await follow_up_list(session, settings, query, now=clock.system_clock())

    data = _options_or_exit(in_transaction(settings, work))
    if as_json:
        out.print_json(json.dumps(data, ensure_ascii=False))
        return
    shown = Table(
        title=f"Follow-ups ({data['filters']['state']}): {data['total']:,}",
        title_justify="left",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
    )
    for name in ("id", "division", "item", "level", "opened", "deadline", "card", "closed by"):
        shown.add_column(name, overflow="fold")
    for f in data["follow_ups"]:
        shown.add_row(
            Text(f["id"]),
            Text(f"{f['division']} {f['division_name'] or ''}".strip()),
            Text(f["item_code"] or ""),
            Text(f["level_label"] or ""),
            f["opened_at"][:16].replace("T", " "),
            f["deadline"][:10],
            _card(f["card"]),
            Text(f["closed_by"] or ""),
        )
    print_table(out, shown)
    if data["truncated"]:
        out.print(f"[yellow]only the first {data['limit']} are shown (--limit)[/yellow]")


@follow_ups_cli.command("close")
def follow_ups_close(
    follow_up_id: Annotated[str, typer.Argument(metavar="ID", help="The follow-up's id.")],
    resolution: Annotated[
        str,
        typer.Option(metavar="TEXT", help="What was done about the rating (1-2000 characters)."),
    ],
) -> None:
    """Close a follow-up with its resolution (recorded in the audit log)."""
    from app.cli_common import cli_actor
    from app.core.errors import ValidationFailed
    from app.services.hotline.closing import check_resolution, close_follow_up
    from app.services.ops import clock

    settings = settings_or_exit()
    try:
        check_resolution(resolution)
    except ValidationFailed as exc:
        fail(f"--resolution: {exc.extensions['errors'][0]['detail']}", 2)
    actor = cli_actor()

    async def work(session: AsyncSession) -> dict[str, Any]:
        return await close_follow_up(
            session,
            settings,
            follow_up_id,
            resolution=resolution,
            closed_by=actor,
            now=clock.system_clock(),
        )

    closed = in_transaction(settings, work)
    record_cli_change(
        settings,
        action="follow-up.close",
        object=f"follow-up:{follow_up_id}",
        summary={"rating": closed["rating_id"], "on_time": closed["on_time"]},
        division=closed["division"],
    )
    when = "on time" if closed["on_time"] else "late"
    out.print(
        f"follow-up {follow_up_id} closed {when} (due {closed['deadline'][:10]})",
        markup=False,
        highlight=False,
    )


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
