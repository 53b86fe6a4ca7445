"""Latency quantiles from the roll-ups' histogram buckets (``le_5`` … ``le_inf``).

Linear interpolation inside the bucket that holds the quantile, as Prometheus'
``histogram_quantile`` does: the first bucket spans 0-5 ms, and a quantile that falls in the
open-ended last bucket is reported as the largest finite bound (10,000 ms: "at least that").
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from app.models.counting import LATENCY_BOUNDS_MS

BUCKET_COLUMNS = (*(f"le_{bound}" for bound in LATENCY_BOUNDS_MS), "le_inf")


def histogram_quantile(q: float, buckets: Sequence[int]) -> float | None:
    """The ``q``-quantile (0 < q <= 1) of calls counted per bucket (non-cumulative counts)."""
    if len(buckets) != len(BUCKET_COLUMNS):
        raise ValueError(f"expected {len(BUCKET_COLUMNS)} buckets, got {len(buckets)}")
    total = sum(buckets)
    if total <= 0:
        return None
    rank = q * total
    seen = 0
    lower = 0.0
    for index, count in enumerate(buckets):
        if index == len(LATENCY_BOUNDS_MS):  # the +Inf bucket
            return float(LATENCY_BOUNDS_MS[-1])
        upper = float(LATENCY_BOUNDS_MS[index])
        if count > 0 and seen + count >= rank:
            return lower + (upper - lower) * (rank - seen) / count
        seen += count
        lower = upper
    return float(LATENCY_BOUNDS_MS[-1])  # pragma: no cover - the loop returns


def in_open_bucket(q: float, buckets: Sequence[int]) -> bool:
    """Whether the ``q``-quantile falls in the open-ended last bucket: then
    :func:`histogram_quantile` gives the largest finite bound, and the truth is at least that."""
    total = sum(buckets)
    return total > 0 and q * total > total - buckets[-1]


def bucket_of(ms: float) -> int:
    """The index of the bucket a latency of ``ms`` falls in (for tests and benchmarks)."""
    for index, bound in enumerate(LATENCY_BOUNDS_MS):
        if ms <= bound:
            return index
    return len(LATENCY_BOUNDS_MS)


def exact_quantile(q: float, values: Sequence[float]) -> float | None:
    """Nearest-rank quantile of raw values (recent in-memory events have exact latencies)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q * len(ordered) - 1e-9))  # the epsilon: 0.95 * 20 may be 19.0000…1
    return ordered[min(rank, len(ordered)) - 1]
