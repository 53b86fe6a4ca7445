"""The counter in memory: buckets in the configured time zone, latency histograms, one count per
event id, batches that never change once cut, and the memory bound while the database is down."""

from __future__ import annotations

import inspect
import logging
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from app.core.config import Settings
from app.events import Outcome
from app.models.counting import LATENCY_BOUNDS_MS
from app.services.counting import Counter, bucket_index, bucket_of
from app.services.counting.tally import CALLS, FIRST_BUCKET, TOTAL_MS, UPSTREAM_MS
from tests.counting.support import FixedClock, event

SHANGHAI = ZoneInfo("Asia/Shanghai")


def counter(clock: FixedClock | None = None, **kw: object) -> Counter:
    return Counter(tz=SHANGHAI, clock=clock or FixedClock(), **kw)  # type: ignore[arg-type]


def test_an_instant_falls_in_its_local_day_and_hour() -> None:
    # 16:30 UTC on 1 January is half past midnight on 2 January in Shanghai (UTC+8).
    assert bucket_of(datetime(2026, 1, 1, 16, 30, tzinfo=UTC), SHANGHAI) == (date(2026, 1, 2), 0)
    assert bucket_of(datetime(2026, 1, 1, 15, 59, 59, tzinfo=UTC), SHANGHAI) == (
        date(2026, 1, 1),
        23,
    )


def test_events_are_keyed_by_local_hour_service_operation_client_and_outcome() -> None:
    clock = FixedClock()
    c = counter(clock)
    c.emit(event(at=clock.now))  # 2026-01-02 00:30 local
    c.emit(event(at=clock.now - timedelta(minutes=31)))  # 2026-01-01 23:59 local
    c.emit(event(at=clock.now, status=404))
    c.emit(event(at=clock.now, status=404, from_upstream=False, client_id=None))
    c.emit(
        event(at=clock.now, status=404, service_id=None, service=None, operation_id=None)
    )  # no service matched
    keys = set(c.pending_rows())
    assert keys == {
        (date(2026, 1, 2), 0, 7, "getFundAccount", "c-test", Outcome.SUCCESS),
        (date(2026, 1, 1), 23, 7, "getFundAccount", "c-test", Outcome.SUCCESS),
        (date(2026, 1, 2), 0, 7, "getFundAccount", "c-test", Outcome.CALLER_ERROR),
        (date(2026, 1, 2), 0, 7, "getFundAccount", "", Outcome.CALLER_ERROR),
        (date(2026, 1, 2), 0, 0, "", "c-test", Outcome.CALLER_ERROR),
    }


def test_the_configured_time_zone_is_used() -> None:
    settings = Settings(timezone="Europe/London", count_flush_interval=0.5)
    c = Counter.from_settings(settings)
    assert c.interval == 0.5
    c.emit(event(at=datetime(2026, 7, 1, 23, 30, tzinfo=UTC)))  # 00:30 BST on 2 July
    [key] = c.pending_rows()
    assert key[:2] == (date(2026, 7, 2), 0)


def test_the_cached_hour_changes_exactly_at_the_local_hour() -> None:
    c = counter()
    base = datetime(2026, 1, 1, 15, 59, 59, 999999, tzinfo=UTC)  # 23:59:59.999999 local
    c.emit(event(at=base))
    c.emit(event(at=base + timedelta(microseconds=1)))  # 00:00 local, the next day
    c.emit(event(at=base - timedelta(seconds=30)))
    hours = sorted((k[0], k[1], int(r[CALLS])) for k, r in c.pending_rows().items())
    assert hours == [(date(2026, 1, 1), 23, 2), (date(2026, 1, 2), 0, 1)]


@pytest.mark.parametrize(
    ("total_ms", "column"),
    [
        (0.0, 0),
        (5.0, 0),  # a bound is inclusive ("le")
        (5.001, 1),
        (10.0, 1),
        (99.9, 4),
        (10000.0, len(LATENCY_BOUNDS_MS) - 1),
        (10000.5, len(LATENCY_BOUNDS_MS)),  # le_inf
        (1e9, len(LATENCY_BOUNDS_MS)),
    ],
)
def test_a_call_lands_in_the_first_bucket_whose_bound_holds_it(
    total_ms: float, column: int
) -> None:
    assert bucket_index(total_ms) == column


def test_rows_sum_calls_latencies_and_histogram() -> None:
    clock = FixedClock()
    c = counter(clock)
    for total, upstream in [(1.0, 0.5), (7.0, 6.0), (7.5, None), (30000.0, 29999.0)]:
        c.emit(event(at=clock.now, total_ms=total, upstream_ms=upstream))
    [row] = c.pending_rows().values()
    assert row[CALLS] == 4
    assert row[TOTAL_MS] == pytest.approx(30015.5)
    assert row[UPSTREAM_MS] == pytest.approx(30005.5)
    histogram = [int(v) for v in row[FIRST_BUCKET:]]
    assert histogram == [1, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]
    assert sum(histogram) == row[CALLS]


def test_a_repeated_event_id_is_counted_once() -> None:
    clock = FixedClock()
    c = counter(clock)
    once = event(at=clock.now)
    c.emit(once)
    c.emit(once)
    c.emit(event(at=clock.now, event_id=once.event_id, status=500))  # same id, other content
    assert c.stats().events == 1
    assert c.stats().duplicates == 2
    c.cut()  # the id is still remembered in the next window
    c.emit(once)
    assert c.stats().events == 1
    assert c.stats().duplicates == 3


def test_emit_is_synchronous_and_cut_makes_an_immutable_batch() -> None:
    clock = FixedClock()
    c = counter(clock)
    # A plain function, not a coroutine: the request path has nothing to await.
    assert not inspect.iscoroutinefunction(c.emit)
    c.emit(event(at=clock.now))
    first = c.cut()
    assert first is not None
    assert first.calls == 1
    c.emit(event(at=clock.now))
    c.emit(event(at=clock.now))
    second = c.cut()
    assert second is not None
    assert second.id != first.id
    assert [b.calls for b in c.pending()] == [1, 2]
    assert first.rows[next(iter(first.rows))][CALLS] == 1  # nothing merged into the first batch
    assert c.cut() is None  # an empty buffer makes no batch


def test_pending_batches_are_bounded_and_drops_are_logged_and_counted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = FixedClock()
    c = counter(clock, max_pending_batches=3)
    for n in range(1, 6):  # batches of 1, 2, 3, 4, 5 calls; nothing is written
        for _ in range(n):
            c.emit(event(at=clock.now))
        with caplog.at_level(logging.ERROR, logger="xyb.counting"):
            c.cut()
    assert [b.calls for b in c.pending()] == [3, 4, 5]
    stats = c.stats()
    assert stats.dropped_batches == 2
    assert stats.dropped_events == 3  # the oldest two: 1 + 2 calls
    dropped = [r for r in caplog.records if r.getMessage().startswith("access counts dropped")]
    assert [getattr(r, "calls", None) for r in dropped] == [1, 2]
    assert getattr(dropped[0], "hours", None) == "2026-01-02T00..2026-01-02T00"


def test_batches_pending_longer_than_the_age_limit_are_dropped() -> None:
    clock = FixedClock()
    c = counter(clock, max_batch_age=timedelta(hours=1), prune_after=timedelta(hours=2))
    c.emit(event(at=clock.now))
    c.cut()
    clock.advance(minutes=61)
    c.emit(event(at=clock.now))
    c.cut()
    assert [b.calls for b in c.pending()] == [1]
    assert c.stats().dropped_events == 1


def test_prometheus_totals_are_per_service_key_and_outcome_and_include_the_buffer() -> None:
    clock = FixedClock()
    c = counter(clock)
    c.emit(event(at=clock.now, total_ms=4.0))
    c.cut()
    c.emit(event(at=clock.now, total_ms=20.0))
    c.emit(event(at=clock.now, service_id=None, service=None, status=404, from_upstream=False))
    totals = c.totals()
    assert set(totals) == {("430100/zwfw", "success"), ("none", "caller_error")}
    success = totals[("430100/zwfw", "success")]
    assert success.calls == 2
    assert success.total_ms == pytest.approx(24.0)
    assert success.buckets[:3] == [1, 0, 1]


def test_flush_lag_follows_the_clock() -> None:
    clock = FixedClock()
    c = counter(clock)
    clock.advance(seconds=42)
    assert c.flush_lag() == pytest.approx(42.0)


def test_settings_bounds_are_checked() -> None:
    with pytest.raises(ValueError, match="interval"):
        Counter(tz=SHANGHAI, interval=0)
    with pytest.raises(ValueError, match="max_batch_age"):
        Counter(tz=SHANGHAI, max_batch_age=timedelta(days=2))
