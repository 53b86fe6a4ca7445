"""Import and export files of the catalog: JSON arrays and CSV, checked row by row.

Row numbers are 1-based data rows in both formats (the first item of a JSON array, the first
record after a CSV header, is row 1); problems of the file as a whole, or of the CSV header, are
row 0. For CSV, ``line`` also gives the line of the file a record starts on (the header is line 1).
In CSV, materials are joined with '；' (U+FF1B), booleans are true/false (1/0, yes/no, 是/否 are
read too).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import ValidationError

from app.schemas.catalog import MATERIALS_SEPARATOR, ItemIn

FileFormat = Literal["json", "csv"]

# The columns of a file, in the order exports write them.
COLUMNS: tuple[str, ...] = (
    "code",
    "name",
    "type",
    "service_object",
    "division",
    "department",
    "legal_basis",
    "acceptance_conditions",
    "materials",
    "time_limit_days",
    "result",
    "online",
    "one_network",
    "cross_province",
)
COLUMN_ORDER = {column: index for index, column in enumerate(COLUMNS)}
_BOOLEANS = ("online", "one_network", "cross_province")
JSON_NOT_CSV = (
    "this is JSON, not CSV: import it as JSON (a .json file, --format json, or Content-Type:"
    " application/json)"
)
CSV_NOT_JSON = (
    "this is CSV, not JSON: import it as CSV (a .csv file, --format csv, or Content-Type: text/csv)"
)


@dataclass(frozen=True, slots=True)
class RowError:
    """One problem of an import file."""

    row: int  # 1-based data row; 0: the file as a whole or the CSV header
    column: str  # "" when the problem is the whole row or file
    reason: str
    line: int | None = None  # CSV: the line the record starts on (the header is line 1)

    def as_problem_entry(self) -> dict[str, Any]:
        """The entry of a 422 problem's ``errors``: a pointer plus row, column and reason."""
        parts = ["/body"]
        if self.row > 0:
            parts.append(str(self.row - 1))
        if self.column:
            parts.append(self.column)
        entry: dict[str, Any] = {
            "pointer": "/".join(parts),
            "detail": f"row {self.row}{f', {self.column}' if self.column else ''}: {self.reason}",
            "row": self.row,
            "column": self.column,
            "reason": self.reason,
        }
        if self.line is not None:
            entry["line"] = self.line
        return entry


class ImportRejected(Exception):
    """A file with bad rows: nothing of it is saved."""

    def __init__(self, errors: Sequence[RowError]) -> None:
        super().__init__(f"{len(errors)} problem(s) in the file")
        self.errors = list(errors)


class MalformedFile(ImportRejected):
    """A file that does not parse at all (not UTF-8, not JSON)."""


@dataclass(frozen=True, slots=True)
class RawRow:
    """One row as read, before validation."""

    row: int
    line: int | None
    values: Any


def read_json(data: bytes) -> list[RawRow]:
    """The rows of a JSON array of items; ImportRejected if it is not one."""
    try:
        document = json.loads(data.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise MalformedFile([RowError(0, "", "not UTF-8")]) from None
    except json.JSONDecodeError as exc:
        if data.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"code,"):
            raise MalformedFile([RowError(0, "", CSV_NOT_JSON)]) from None
        reason = f"not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
        raise MalformedFile([RowError(0, "", reason)]) from None
    if not isinstance(document, list):
        raise ImportRejected([RowError(0, "", "the file must be a JSON array of items")])
    return [RawRow(index + 1, None, values) for index, values in enumerate(document)]


def read_csv(data: bytes) -> tuple[list[RawRow], list[RowError]]:
    """The rows of a CSV file, and its records of the wrong width; ImportRejected: a bad header."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise MalformedFile([RowError(0, "", "not UTF-8")]) from None
    if text.lstrip().startswith(("[", "{")):
        # One sentence instead of a problem for every column the "header" lacks.
        raise MalformedFile([RowError(0, "", JSON_NOT_CSV, line=1)])
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader, None)
    except csv.Error as exc:
        raise ImportRejected([RowError(0, "", f"not valid CSV: {exc}", line=1)]) from None
    if header is None or not any(cell.strip() for cell in header):
        raise ImportRejected([RowError(0, "", "the file is empty: a header row is needed", 1)])
    names = [cell.strip() for cell in header]
    problems: list[RowError] = []
    seen: set[str] = set()
    for name in names:
        if name not in COLUMNS:
            problems.append(RowError(0, name, "unknown column", 1))
        elif name in seen:
            problems.append(RowError(0, name, "column given twice", 1))
        seen.add(name)
    problems.extend(RowError(0, c, "missing column", 1) for c in COLUMNS if c not in seen)
    if problems:
        raise ImportRejected(problems)
    rows: list[RawRow] = []
    line = reader.line_num + 1
    number = 0
    while True:
        try:
            record = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            problems.append(RowError(number + 1, "", f"not valid CSV: {exc}", line))
            break
        start, line = line, reader.line_num + 1
        if not any(cell.strip() for cell in record):
            continue  # blank lines are not rows
        number += 1
        if len(record) != len(names):
            reason = f"{len(record)} cells where the header has {len(names)}"
            problems.append(RowError(number, "", reason, start))
            continue
        rows.append(RawRow(number, start, _csv_values(dict(zip(names, record, strict=True)))))
    return rows, problems


def _csv_values(record: Mapping[str, str]) -> dict[str, Any]:
    """A CSV record as item fields: materials split at '；'."""
    values: dict[str, Any] = dict(record)
    materials = record["materials"]
    values["materials"] = [m.strip() for m in materials.split(MATERIALS_SEPARATOR) if m.strip()]
    return values


def read_file(data: bytes, fmt: FileFormat) -> tuple[list[RawRow], list[RowError]]:
    """The rows of an import file in either format, and the records that are not rows."""
    return (read_json(data), []) if fmt == "json" else read_csv(data)


def _reason(error: Mapping[str, Any]) -> str:
    """A pydantic error as a sentence (which material, for an entry of a list)."""
    message = str(error.get("msg", "invalid"))
    loc = error.get("loc", ())
    if len(loc) > 1 and isinstance(loc[1], int):
        message = f"entry {loc[1] + 1}: {message}"
    return message.removeprefix("Value error, ")


def validate_rows(rows: Iterable[RawRow], known: Iterable[RowError] = ()) -> list[ItemIn]:
    """Every row checked; ImportRejected lists every problem (``known`` ones, repeated codes)."""
    items: list[ItemIn] = []
    problems: list[RowError] = list(known)
    first_row: dict[str, int] = {}
    for raw in rows:
        if not isinstance(raw.values, dict):
            problems.append(RowError(raw.row, "", "an item must be a JSON object", raw.line))
            continue
        try:
            item = ItemIn.model_validate(raw.values)
        except ValidationError as exc:
            for error in exc.errors():
                loc = error.get("loc", ())
                column = str(loc[0]) if loc else ""
                problems.append(RowError(raw.row, column, _reason(error), raw.line))
            code = raw.values.get("code")
            if isinstance(code, str):
                first_row.setdefault(code.strip(), raw.row)
            continue
        earlier = first_row.setdefault(item.code, raw.row)
        if earlier != raw.row:
            problems.append(
                RowError(raw.row, "code", f"code {item.code} is also in row {earlier}", raw.line)
            )
            continue
        items.append(item)
    if problems:
        raise ImportRejected(
            sorted(problems, key=lambda p: (p.row, COLUMN_ORDER.get(p.column, -1)))
        )
    return items


def parse_items(data: bytes, fmt: FileFormat) -> list[ItemIn]:
    """Read and check a whole import file; ImportRejected lists every problem."""
    rows, problems = read_file(data, fmt)
    return validate_rows(rows, problems)


def _export_value(column: str, value: Any) -> str:
    """One CSV cell: materials joined with '；', booleans true/false."""
    if column == "materials":
        return MATERIALS_SEPARATOR.join(value)
    if column in _BOOLEANS:
        return "true" if value else "false"
    return str(value)


def to_csv(rows: Iterable[Mapping[str, Any]]) -> str:
    """A CSV export: the header, then one record per item (materials joined with '；')."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for row in rows:
        writer.writerow([_export_value(c, row[c]) for c in COLUMNS])
    return buffer.getvalue()


def to_json(rows: Iterable[Mapping[str, Any]]) -> str:
    """A JSON export: an array of items with exactly the columns an import reads, one a line."""
    lines = [json.dumps({c: row[c] for c in COLUMNS}, ensure_ascii=False) for row in rows]
    return "[\n" + ",\n".join(lines) + "\n]\n" if lines else "[]\n"


def write_items(rows: Iterable[Mapping[str, Any]], fmt: FileFormat) -> str:
    """An export file in either format."""
    return to_json(rows) if fmt == "json" else to_csv(rows)
