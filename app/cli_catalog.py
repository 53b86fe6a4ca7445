"""``xyb catalog``: import, export and generate the catalog of service items.

Import and export work directly on the gateway's database (``XYB_DATABASE_URL``), with the same
checks and report as the admin API, and refuse where there is none (``app/cli_common.py``). A
file's format is its suffix (``.json``, ``.csv``) unless ``--format`` says otherwise, for all
three commands; on a terminal the long steps show their progress.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

from app.cli_common import (
    err,
    fail,
    in_transaction,
    out,
    print_table,
    progress,
    record_cli_change,
    settings_or_exit,
    working,
)

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from app.schemas.catalog import ItemIn
    from app.services.catalog.files import FileFormat, RowError
    from app.services.catalog.store import ImportCounts

catalog_cli = typer.Typer(
    help="The catalog of service items: import, export, generate.", no_args_is_help=True
)
FORMAT_HELP = "json or csv (default: the file's suffix; json on stdout)."
# Items saved per transaction step when a progress bar is shown (one transaction either way).
PROGRESS_CHUNK = 1000


def _format_of(path: Path | None, given: str | None) -> FileFormat:
    """json or csv: --format, else the file's suffix, else (stdout) json."""
    if given is not None:
        if given not in ("json", "csv"):
            fail("--format is json or csv", 2)
        return "json" if given == "json" else "csv"
    if path is None:
        return "json"
    suffix = path.suffix.lower()
    if suffix in (".json", ".csv"):
        return "json" if suffix == ".json" else "csv"
    fail(f"cannot tell the format of {path.name}: pass --format json or --format csv", 2)


def render_problems(console: Console, errors: list[RowError]) -> None:
    """Every bad row as a table: row, line (CSV), column, reason."""
    from rich.table import Table
    from rich.text import Text

    table = Table(title=f"{len(errors)} problem{'s' if len(errors) != 1 else ''}; nothing saved")
    for column in ("row", "line", "column", "reason"):
        table.add_column(column, overflow="fold")
    for e in errors:
        table.add_row(
            str(e.row), "" if e.line is None else str(e.line), Text(e.column), Text(e.reason)
        )
    print_table(console, table)


def _report(counts: ImportCounts, seconds: float) -> None:
    """Print what an import did."""
    out.print(
        f"imported {counts.total} items: {counts.created} created, {counts.updated} updated"
        f" ({seconds:.2f} s)",
        markup=False,
    )


def _save_with_progress(items: Sequence[ItemIn], label: str) -> Callable[[AsyncSession], Any]:
    """The transaction's work: save ``items`` in chunks, advancing a bar on a terminal."""
    from app.services.catalog.store import ImportCounts, save_items

    async def work(session: AsyncSession) -> ImportCounts:
        created = updated = 0
        with progress() as bar:
            task = bar.add_task(label, total=len(items))
            for start in range(0, len(items), PROGRESS_CHUNK):
                chunk = items[start : start + PROGRESS_CHUNK]
                counts = await save_items(session, chunk)
                created, updated = created + counts.created, updated + counts.updated
                bar.advance(task, len(chunk))
        return ImportCounts(created=created, updated=updated)

    return work


@catalog_cli.command("import")
def import_command(
    file: Annotated[
        Path, typer.Argument(metavar="FILE", help="A JSON array of items or a CSV file.")
    ],
    format: Annotated[
        str | None, typer.Option("--format", metavar="FORMAT", help=FORMAT_HELP)
    ] = None,
) -> None:
    """Import a file of items: all or nothing; every bad row is listed (exit 1)."""
    from app.services.catalog.files import ImportRejected, RowError, parse_items

    fmt = _format_of(file, format)
    try:
        data = file.read_bytes()
    except OSError as exc:
        fail(f"cannot read {file}: {exc.strerror}", 2)
    settings = settings_or_exit()
    started = time.perf_counter()
    try:
        with working(f"checking {file.name}"):
            items = parse_items(data, fmt)
        if not items:
            raise ImportRejected([RowError(0, "", "the file has no items")])
    except ImportRejected as exc:
        render_problems(out, exc.errors)
        fail(f"{file.name}: {len(exc.errors)} problem(s); nothing saved")
    counts = in_transaction(settings, _save_with_progress(items, f"importing {file.name}"))
    record_cli_change(
        settings,
        action="catalog.import",
        object="catalog",
        summary={
            "format": fmt,
            "file": file.name,
            "created": counts.created,
            "updated": counts.updated,
            "total": counts.total,
        },
    )
    _report(counts, time.perf_counter() - started)


def _write(text: str, output: Path | None) -> None:
    """Write to the file, or to stdout."""
    if output is None:
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        fail(f"cannot write {output}: {exc.strerror}", 2)


@catalog_cli.command("export")
def export_command(
    format: Annotated[
        str | None, typer.Option("--format", metavar="FORMAT", help=FORMAT_HELP)
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", metavar="FILE", help="Write here (default: stdout)."),
    ] = None,
) -> None:
    """Export every item, in the columns an import reads (import reads the file back)."""
    from app.services.catalog.files import write_items
    from app.services.catalog.store import export_rows

    fmt = _format_of(output, format)
    rows = in_transaction(settings_or_exit(), export_rows)
    _write(write_items(rows, fmt), output)
    if output is not None:
        err.print(f"exported {len(rows)} items to {output} ({fmt})", markup=False)


@catalog_cli.command("generate")
def generate_command(
    items: Annotated[int, typer.Option("--items", metavar="N", min=0, help="How many items.")] = (
        10_000
    ),
    seed: Annotated[int, typer.Option("--seed", metavar="N", help="Same seed, same catalog.")] = 1,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", metavar="FILE", help="Write a file (default: stdout)."),
    ] = None,
    load: Annotated[
        bool, typer.Option("--load", help="Load into the gateway's database instead.")
    ] = False,
    format: Annotated[
        str | None, typer.Option("--format", metavar="FORMAT", help=FORMAT_HELP)
    ] = None,
) -> None:
    """Generate a realistic synthetic catalog (the city simulators' 84 items included)."""
    from app.services.catalog.files import RawRow, validate_rows, write_items
    from app.services.catalog.generator import generate as generate_items

    # The catalog `xyb demo` serves: its city simulators' items first, so a generated catalog
    # loaded beside the demo binds their operations (the product itself knows no simulator).
    from app.simulators.city.catalog import simulated_items

    if load and output is not None:
        fail("--output and --load exclude each other", 2)
    fmt = _format_of(output, format)
    settings = settings_or_exit() if load else None
    started = time.perf_counter()
    try:
        with working(f"generating {items:,} items"):
            generated = generate_items(items, seed, first=simulated_items())
    except ValueError as exc:
        fail(str(exc), 2)
    made = time.perf_counter() - started
    if settings is None:
        _write(write_items(generated, fmt), output)
        err.print(f"generated {len(generated)} items (seed {seed}) in {made:.2f} s", markup=False)
        return
    rows = [RawRow(index + 1, None, values) for index, values in enumerate(generated)]
    with working(f"checking {len(rows):,} items"):
        checked = validate_rows(rows)
    counts = in_transaction(settings, _save_with_progress(checked, "loading"))
    err.print(
        f"generated {len(generated)} items (seed {seed}) in {made:.2f} s; loaded in"
        f" {time.perf_counter() - started:.2f} s: {counts.created} created,"
        f" {counts.updated} updated",
        markup=False,
    )


if __name__ == "__main__":  # pragma: no cover - `xyb catalog` is the way in
    catalog_cli()
