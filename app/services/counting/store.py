"""Writing a batch: its id recorded and its increments upserted, in the caller's transaction.

A batch is applied at most once: its id goes into ``counter_batches`` first (``ON CONFLICT DO
NOTHING``); when the id is already there — a retry of a batch whose commit went through but whose
acknowledgement was lost — nothing else is written. Otherwise every row is an atomic increment
(``INSERT … ON CONFLICT (key) DO UPDATE SET calls = access_counts.calls + excluded.calls, …``), so
any number of processes can add to the same rows concurrently and the totals stay exact. Rows are
written in key order, so two instances updating overlapping rows take their locks in the same
order (no deadlocks on PostgreSQL).

The statements come from SQLAlchemy's dialect-specific ``insert`` (PostgreSQL and SQLite, the
two supported backends).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, delete
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.dml import Insert

from app.models.counting import AccessCount, CounterBatch
from app.services.counting.tally import (
    CLIENT_ID_MAX,
    KEY_COLUMNS,
    OPERATION_ID_MAX,
    VALUE_COLUMNS,
    Tally,
    add_row,
    row_values,
)

# Rows per executemany call (keeps each round trip reasonable on either backend).
CHUNK = 500


def _increments(excluded: Any) -> dict[str, ColumnElement[Any]]:
    table = AccessCount.__table__.c
    return {name: table[name] + excluded[name] for name in VALUE_COLUMNS}


def _statements(dialect: str) -> tuple[Insert, Insert]:
    """(record the batch id unless present, RETURNING it; upsert increments) for ``dialect``."""
    if dialect == "postgresql":
        pg_batch = postgresql.insert(CounterBatch).on_conflict_do_nothing(index_elements=["id"])
        pg_rows = postgresql.insert(AccessCount)
        pg_rows = pg_rows.on_conflict_do_update(
            index_elements=list(KEY_COLUMNS), set_=_increments(pg_rows.excluded)
        )
        return pg_batch.returning(CounterBatch.id), pg_rows
    if dialect == "sqlite":
        lite_batch = sqlite.insert(CounterBatch).on_conflict_do_nothing(index_elements=["id"])
        lite_rows = sqlite.insert(AccessCount)
        lite_rows = lite_rows.on_conflict_do_update(
            index_elements=list(KEY_COLUMNS), set_=_increments(lite_rows.excluded)
        )
        return lite_batch.returning(CounterBatch.id), lite_rows
    raise RuntimeError(f"access counting supports PostgreSQL and SQLite, not {dialect}")


_CACHE: dict[str, tuple[Insert, Insert]] = {}


def statements_for(session: AsyncSession) -> tuple[Insert, Insert]:
    dialect = session.get_bind().dialect.name
    cached = _CACHE.get(dialect)
    if cached is None:
        cached = _CACHE[dialect] = _statements(dialect)
    return cached


def rows_to_write(rows: Tally) -> list[dict[str, Any]]:
    """Parameter sets in key order, with over-long identifiers cut to their columns' widths (rows
    that then coincide are merged: one statement never touches a row twice)."""
    fitted: Tally = {}
    for key, row in rows.items():
        day, hour, service_id, operation_id, client_id, outcome = key
        if len(operation_id) > OPERATION_ID_MAX or len(client_id) > CLIENT_ID_MAX:
            key = (
                day,
                hour,
                service_id,
                operation_id[:OPERATION_ID_MAX],
                client_id[:CLIENT_ID_MAX],
                outcome,
            )
        existing = fitted.get(key)
        if existing is None:
            fitted[key] = list(row)
        else:
            add_row(existing, row)
    out: list[dict[str, Any]] = []
    for key in sorted(fitted):
        params: dict[str, Any] = dict(zip(KEY_COLUMNS, key, strict=True))
        params["outcome"] = str(params["outcome"])
        params.update(row_values(fitted[key]))
        out.append(params)
    return out


def _chunks(items: Sequence[dict[str, Any]], size: int) -> Iterator[Sequence[dict[str, Any]]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


async def write_batch(session: AsyncSession, batch_id: str, rows: Tally, *, now: datetime) -> bool:
    """Record ``batch_id`` and add ``rows`` in ``session``'s transaction (the caller commits).

    Returns False, having written nothing, when the batch id is already recorded.
    """
    record, upsert = statements_for(session)
    recorded = await session.execute(record, {"id": batch_id, "flushed_at": now})
    if recorded.scalar_one_or_none() is None:
        return False
    params = rows_to_write(rows)
    for chunk in _chunks(params, CHUNK):
        await session.execute(upsert, list(chunk))
    return True


async def prune_batches(session: AsyncSession, *, before: datetime) -> int:
    """Forget the ids of batches flushed before ``before``; returns how many were removed."""
    result = await session.execute(delete(CounterBatch).where(CounterBatch.flushed_at < before))
    return int(getattr(result, "rowcount", 0) or 0)
