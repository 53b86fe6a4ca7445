"""``xyb catalog``: import, export and generate the catalog of service items.

Import and export work directly on the configured database (``XYB_DATABASE_URL``), with the same
checks and report as the admin API. In development a database not at head is migrated first (as
``xyb serve`` does); production refuses it.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from app.cli_common import err, in_transaction, out, settings_or_exit
from app.services.catalog.files import (
    FileFormat,
    ImportRejected,
    RawRow,
    RowError,
    validate_rows,
    write_items,
)
from app.services.catalog.generator import generate as generate_items
from app.services.catalog.store import ImportCounts, export_rows, import_file, save_items

catalog_cli = typer.Typer(
    help="The catalog of service items: import, export, generate.", no_args_is_help=True
)


def _format_of(path: Path, given: str | None) -> FileFormat:
    """json or csv: --format, else the file's suffix."""
    if given is not None:
        if given not in ("json", "csv"):
            err.print("[red]error[/red] --format is json or csv")
            raise typer.Exit(2)
        return "json" if given == "json" else "csv"
    suffix = path.suffix.lower()
    if suffix in (".json", ".csv"):
        return "json" if suffix == ".json" else "csv"
    err.print(f"[red]error[/red] cannot tell the format of {path.name}: pass --format json|csv")
    raise typer.Exit(2)


def render_problems(console: Console, errors: list[RowError]) -> None:
    """Every bad row as a table: row, line (CSV), column, reason."""
    table = Table(title=f"{len(errors)} problem{'s' if len(errors) != 1 else ''}; nothing saved")
    for column in ("row", "line", "column", "reason"):
        table.add_column(column, overflow="fold")
    for e in errors:
        table.add_row(str(e.row), "" if e.line is None else str(e.line), e.column, e.reason)
    console.print(table)


def _report(counts: ImportCounts, seconds: float) -> None:
    """Print what an import did."""
    out.print(
        f"imported {counts.total} items: {counts.created} created, {counts.updated} updated"
        f" ({seconds:.2f} s)"
    )


@catalog_cli.command("import")
def import_command(
    file: Annotated[Path, typer.Argument(help="A JSON array of items or a CSV file.")],
    format: Annotated[
        str | None, typer.Option("--format", help="json | csv (default: by the file's suffix)")
    ] = None,
) -> None:
    """Import a file of items: all or nothing; every bad row is listed (exit 1)."""
    fmt = _format_of(file, format)
    try:
        data = file.read_bytes()
    except OSError as exc:
        err.print(f"[red]error[/red] cannot read {file}: {exc.strerror}")
        raise typer.Exit(2) from None
    settings = settings_or_exit()
    started = time.perf_counter()
    try:
        counts = in_transaction(settings, lambda session: import_file(session, data, fmt))
    except ImportRejected as exc:
        render_problems(out, exc.errors)
        err.print(f"[red]error[/red] {file.name}: {len(exc.errors)} problem(s); nothing saved")
        raise typer.Exit(1) from None
    _report(counts, time.perf_counter() - started)


def _write(text: str, output: Path | None) -> None:
    """Write to the file, or to stdout."""
    if output is None:
        sys.stdout.write(text)
        sys.stdout.flush()
    else:
        output.write_text(text, encoding="utf-8")


@catalog_cli.command("export")
def export_command(
    format: Annotated[str, typer.Option("--format", help="json | csv")] = "json",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write here (default: stdout).")
    ] = None,
) -> None:
    """Export every item, in the columns an import reads."""
    fmt = _format_of(Path("x"), format)
    rows = in_transaction(settings_or_exit(), export_rows)
    _write(write_items(rows, fmt), output)
    if output is not None:
        err.print(f"exported {len(rows)} items to {output}")


@catalog_cli.command("generate")
def generate_command(
    items: Annotated[int, typer.Option("--items", min=0, help="How many items.")] = 10_000,
    seed: Annotated[int, typer.Option("--seed", help="Same seed, same catalog.")] = 1,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write a file (default: stdout).")
    ] = None,
    load: Annotated[
        bool, typer.Option("--load", help="Load into the configured database instead.")
    ] = False,
    format: Annotated[
        str | None, typer.Option("--format", help="json | csv (default: by --output's suffix)")
    ] = None,
) -> None:
    """Generate a realistic synthetic catalog (the city simulators' 84 items included)."""
    if load and output is not None:
        err.print("[red]error[/red] --output and --load exclude each other")
        raise typer.Exit(2)
    fmt: FileFormat = "json"
    if output is not None or format is not None:
        fmt = _format_of(output or Path("x"), format)
    started = time.perf_counter()
    try:
        generated = generate_items(items, seed)
    except ValueError as exc:
        err.print(f"[red]error[/red] {exc}")
        raise typer.Exit(2) from None
    made = time.perf_counter() - started
    if not load:
        _write(write_items(generated, fmt), output)
        err.print(f"generated {len(generated)} items (seed {seed}) in {made:.2f} s")
        return
    rows = [RawRow(index + 1, None, values) for index, values in enumerate(generated)]
    checked = validate_rows(rows)
    counts = in_transaction(settings_or_exit(), lambda session: save_items(session, checked))
    err.print(
        f"generated {len(generated)} items (seed {seed}) in {made:.2f} s; loaded in"
        f" {time.perf_counter() - started:.2f} s: {counts.created} created,"
        f" {counts.updated} updated"
    )


if __name__ == "__main__":  # pragma: no cover - `xyb catalog` is the way in
    catalog_cli()
