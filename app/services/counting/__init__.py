"""Exact access counting: access events tallied in memory, flushed as idempotent batches of
atomic upserts into the hourly roll-up table ``access_counts``.

- ``Counter``: the access-event sink (``emit`` is synchronous and does no I/O) with its flusher;
- ``bucket_of``: the local (day, hour) an instant falls in;
- ``write_batch`` / ``prune_batches``: the storage side, one transaction per batch.
"""

from app.services.counting.counter import Batch, Counter, CounterStats, ServiceTotals
from app.services.counting.store import prune_batches, write_batch
from app.services.counting.tally import (
    HISTOGRAM_COLUMNS,
    KEY_COLUMNS,
    VALUE_COLUMNS,
    Key,
    Tally,
    bucket_index,
    bucket_of,
)

__all__ = [
    "HISTOGRAM_COLUMNS",
    "KEY_COLUMNS",
    "VALUE_COLUMNS",
    "Batch",
    "Counter",
    "CounterStats",
    "Key",
    "ServiceTotals",
    "Tally",
    "bucket_index",
    "bucket_of",
    "prune_batches",
    "write_batch",
]
