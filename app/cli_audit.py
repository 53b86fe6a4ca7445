"""``xyb audit``: verify the audit log's chains, export them, purge what retention allows.

``verify`` and ``export`` read the gateway's database (``app/cli_common.py`` refuses where there
is none); ``verify --file`` reads only an export file, with no database and no settings beyond
the defaults. A chain that does not verify is one sentence naming the record and why, exit 1.
"""

from __future__ import annotations

import getpass
import sys
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich import box
from rich.table import Table
from rich.text import Text

from app.cli_common import err, fail, in_transaction, out, print_table, progress, settings_or_exit

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from app.core.config import Settings
    from app.services.audit.retention import PurgePlan
    from app.services.audit.verify import Report

audit_cli = typer.Typer(
    help="The audit log: verify its chains, export them, purge old records.",
    no_args_is_help=True,
)

Since = Annotated[
    str | None,
    typer.Option(metavar="WHEN", help="Local date YYYY-MM-DD or ISO datetime (from, included)."),
]
Until = Annotated[
    str | None,
    typer.Option(metavar="WHEN", help="Local date (included) or ISO datetime (excluded)."),
]


def _n(count: int, noun: str) -> str:
    """``1 record``, ``2,000 records``."""
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


def _moment(text: str | None, settings: Settings, option: str, *, end: bool) -> datetime | None:
    """A local date (its start; for --until the next day's) or an ISO datetime, as UTC."""
    if text is None:
        return None
    value = text.strip()
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            start = datetime.combine(day + timedelta(days=1 if end else 0), time(), settings.tz)
            return start.astimezone(UTC)
        moment = datetime.fromisoformat(value)
    except ValueError:
        fail(f"{option}: {text!r} is neither a date (YYYY-MM-DD) nor an ISO datetime", 2)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=settings.tz)
    return moment.astimezone(UTC)


def _window(
    settings: Settings, since: str | None, until: str | None
) -> tuple[datetime | None, datetime | None]:
    start = _moment(since, settings, "--since", end=False)
    stop = _moment(until, settings, "--until", end=True)
    if start is not None and stop is not None and stop <= start:
        fail("--until must come after --since", 2)
    return start, stop


def _print_report(report: Report) -> None:
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("writer", overflow="fold")
    for name in ("records", "seqs", "last record at", "checkpointed to", "after it"):
        table.add_column(name, justify="right" if name != "last record at" else "left")
    for w in report.writers:
        seqs = "–" if w.first_seq is None else f"{w.first_seq}-{w.last_seq}"
        table.add_row(
            Text(w.writer),
            f"{w.records:,}",
            seqs,
            w.last_at or "–",
            "–" if w.covered_to is None else str(w.covered_to),
            f"{w.uncovered:,}",
        )
    print_table(out, table)


def _conclude(report: Report) -> None:
    first = report.first
    if first is not None:
        others = len(report.breaks) - 1
        more = f" ({others} other writer{'s' if others != 1 else ''} broken too)" if others else ""
        fail(first.sentence() + more)
    writers = len(report.writers)
    unproven = [w.writer for w in report.writers if not w.anchored]
    out.print(
        f"verified {_n(report.records, 'record')} and {_n(report.checkpoints, 'checkpoint')}"
        f" of {_n(writers, 'writer')}: every chain verifies",
        markup=False,
        highlight=False,
    )
    tails = sum(1 for w in report.writers if w.uncovered)
    if tails:
        out.print(
            "'after it': records after a writer's last checkpoint; a chain that stops there"
            " (a crash) is not a break",
            style="dim",
            markup=False,
        )
    if unproven and report.window:
        out.print(
            f"{len(unproven)} writer(s) have no checkpoint after the window's start: their first"
            " record's link to the one before the window is unproven",
            style="dim",
            markup=False,
        )


@audit_cli.command("verify")
def audit_verify(
    since: Since = None,
    until: Until = None,
    file: Annotated[
        Path | None,
        typer.Option(
            "--file", metavar="EXPORT", help="Verify an export file instead (no database)."
        ),
    ] = None,
) -> None:
    """Recompute every chain and check every checkpoint; name the first record that does not
    verify (exit 1)."""
    if file is not None:
        if since is not None or until is not None:
            fail("--file verifies the whole file: export a window with --since/--until", 2)
        from app.services.audit.export import ExportError, verify_file

        if not file.is_file():
            fail(f"there is no file {file}", 2)
        with progress() as shown:
            task = shown.add_task("verifying", total=None)
            try:
                report = verify_file(file, lambda n: shown.update(task, completed=n))
            except ExportError as exc:
                fail(str(exc), 2)
        _print_report(report)
        _conclude(report)
        return
    from app.services.audit.verify import verify_database

    settings = settings_or_exit()
    start, stop = _window(settings, since, until)

    with progress() as shown:
        task = shown.add_task("verifying", total=None)

        async def work(session: AsyncSession) -> Report:
            return await verify_database(
                session,
                since=start,
                until=stop,
                on_record=lambda n: shown.update(task, completed=n),
            )

        report = in_transaction(settings, work)
    _print_report(report)
    _conclude(report)


@audit_cli.command("export")
def audit_export(
    output: Annotated[
        Path | None,
        typer.Option("-o", "--output", metavar="FILE", help="Write here (default: stdout)."),
    ] = None,
    since: Since = None,
    until: Until = None,
) -> None:
    """Write the records, checkpoints and public keys as JSON Lines (verifiable offline with
    xyb audit verify --file)."""
    from app.services.audit.export import export_database

    settings = settings_or_exit()
    start, stop = _window(settings, since, until)
    target = output.open("w", encoding="utf-8") if output is not None else sys.stdout
    try:
        with progress() as shown:
            task = shown.add_task("exporting", total=None)

            async def work(session: AsyncSession) -> tuple[int, int]:
                return await export_database(
                    session,
                    target,
                    since=start,
                    until=stop,
                    on_record=lambda n: shown.update(task, completed=n),
                )

            records, checkpoints = in_transaction(settings, work)
    finally:
        if output is not None:
            target.close()
    where = f" to {output}" if output is not None else ""
    err.print(
        f"exported {_n(records, 'record')} and {_n(checkpoints, 'checkpoint')}{where}",
        markup=False,
        highlight=False,
    )


@audit_cli.command("purge")
def audit_purge(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Say what would be purged; change nothing.")
    ] = False,
) -> None:
    """Purge records older than XYB_AUDIT_RETENTION_DAYS that a checkpoint covers (the purge is
    itself an audit record)."""
    from app.services.audit.retention import plan_purge, purge, record_purge

    settings = settings_or_exit()
    now = datetime.now(UTC)
    days = settings.audit_retention_days

    async def work(session: AsyncSession) -> PurgePlan:
        plan = await plan_purge(session, days=days, now=now)
        return plan if dry_run else await purge(session, plan)

    plan = in_transaction(settings, work)
    verb = "would purge" if dry_run else "purged"
    span = ""
    if plan.oldest is not None and plan.newest is not None:
        span = f" (from {plan.oldest:%Y-%m-%d %H:%M:%S} to {plan.newest:%Y-%m-%d %H:%M:%S} UTC)"
    dropped = f", {_n(len(plan.partitions), 'partition')} dropped whole" if plan.partitions else ""
    out.print(
        f"{verb} {_n(plan.records, 'record')} older than {_n(days, 'day')}{span}"
        f" of {_n(len(plan.upto), 'writer')} and {_n(plan.checkpoints, 'checkpoint')}{dropped}",
        markup=False,
        highlight=False,
    )
    if plan.kept_uncovered:
        out.print(
            f"kept {_n(plan.kept_uncovered, 'old record')} no checkpoint covers (a writer's tail"
            " after its last checkpoint)",
            markup=False,
            highlight=False,
        )
    if dry_run or not plan.records:
        return

    from app.cli_common import open_database, run_database
    from app.core.db import create_sessionmaker

    async def write_record() -> None:
        engine = await open_database(settings)
        try:
            await record_purge(
                plan,
                actor=_operator(),
                settings=settings,
                sessionmaker=create_sessionmaker(engine),
            )
        finally:
            await engine.dispose()

    run_database(settings, write_record)


def _operator() -> str:
    """Who ran the command, as the audit record's actor (the OS account, or just "cli")."""
    try:
        return f"cli:{getpass.getuser()}"[:100]
    except (KeyError, OSError):  # no account name in this container
        return "cli"
