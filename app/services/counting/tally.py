"""The shape of a tally: the roll-up key, the row of increments, the latency buckets.

A row is a plain list (cheap to update on the request path):
``[calls, total_ms, upstream_ms, le_5, le_10, …, le_10000, le_inf]``. Each call lands in exactly
one latency column, the first whose bound is >= its whole-call latency (``le_inf`` takes the
rest), so the columns of a row add up to its ``calls``.
"""

from __future__ import annotations

from bisect import bisect_left
from datetime import date, datetime, tzinfo

from app.models.counting import LATENCY_BOUNDS_MS

# (local day, local hour, service_id or 0, operation_id or "", client_id or "", outcome)
Key = tuple[date, int, int, str, str, str]
Tally = dict[Key, list[float]]

KEY_COLUMNS = ("day", "hour", "service_id", "operation_id", "client_id", "outcome")
HISTOGRAM_COLUMNS = (*(f"le_{bound}" for bound in LATENCY_BOUNDS_MS), "le_inf")
VALUE_COLUMNS = ("calls", "total_ms", "upstream_ms", *HISTOGRAM_COLUMNS)
# Positions in a row.
CALLS, TOTAL_MS, UPSTREAM_MS, FIRST_BUCKET = 0, 1, 2, 3
ROW_WIDTH = len(VALUE_COLUMNS)
# Columns whose values are counts (stored as integers); the two *_ms columns are sums.
COUNT_POSITIONS = (CALLS, *range(FIRST_BUCKET, ROW_WIDTH))
# The widths of the key's text columns in access_counts.
OPERATION_ID_MAX = 200
CLIENT_ID_MAX = 40


def bucket_index(total_ms: float) -> int:
    """The latency column (0 = le_5 … len(bounds) = le_inf) a call of ``total_ms`` lands in."""
    return bisect_left(LATENCY_BOUNDS_MS, total_ms)


def bucket_of(at: datetime, tz: tzinfo) -> tuple[date, int]:
    """The local day and hour of an aware instant in ``tz``."""
    local = at.astimezone(tz)
    return local.date(), local.hour


def new_row() -> list[float]:
    return [0] * ROW_WIDTH


def add_row(into: list[float], row: list[float]) -> None:
    for i in range(ROW_WIDTH):
        into[i] += row[i]


def merge(into: Tally, other: Tally) -> None:
    """Add ``other``'s rows into ``into``."""
    for key, row in other.items():
        existing = into.get(key)
        if existing is None:
            into[key] = list(row)
        else:
            add_row(existing, row)


def row_values(row: list[float]) -> dict[str, float | int]:
    """A row as column values (counts as integers)."""
    values: dict[str, float | int] = dict(zip(VALUE_COLUMNS, row, strict=True))
    for i in COUNT_POSITIONS:
        values[VALUE_COLUMNS[i]] = int(row[i])
    return values
