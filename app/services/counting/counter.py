"""The counter: an access-event sink that tallies in memory and flushes batches in the background.

``emit`` runs on the request path: it returns at once (no I/O, no awaits, about a microsecond).
Each event is counted once by its event id (an id seen again in the current or the previous
buffer window is ignored) into a buffer keyed by (local day, local hour, service, operation,
client, outcome). Every ``interval`` seconds the flusher swaps the buffer out as a *batch* with a
fresh id and writes the pending batches, oldest first, each in one transaction
(``app.services.counting.store``). A batch whose write fails stays pending with the same id and
contents — nothing is ever merged into a batch after it was cut — and is retried on the next
tick; a retry of a batch whose commit did land finds its id recorded and adds nothing. So a count
is never applied twice, and a graceful stop (``await counter.stop()``) writes everything; a crash
loses at most what was not yet written (the last interval, or more while the database is down).

If the database stays down, at most ``max_pending_batches`` batches are kept (the oldest is
dropped first and the log says what it held), and none older than ``max_batch_age`` (ids of
applied batches are pruned from ``counter_batches`` after ``prune_after``; a batch pending longer
than that could no longer be recognised as applied).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.core.config import Settings
from app.core.logging import describe_exception
from app.events import AccessEvent
from app.services.counting.store import prune_batches, write_batch
from app.services.counting.tally import (
    CALLS,
    FIRST_BUCKET,
    ROW_WIDTH,
    TOTAL_MS,
    UPSTREAM_MS,
    Tally,
    add_row,
    bucket_index,
)

log = logging.getLogger("xyb.counting")

Clock = Callable[[], datetime]
NO_SERVICE = "none"
_MINUTE = timedelta(minutes=1)


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(eq=False)
class Batch:
    """Increments cut from the buffer at one moment; immutable once cut."""

    id: str
    rows: Tally
    calls: int
    cut_at: datetime
    attempts: int = 0

    def hours(self) -> str:
        """The local hours the batch covers, for log lines (``2026-01-02T00..2026-01-02T01``)."""
        if not self.rows:
            return ""
        stamps = sorted({(k[0], k[1]) for k in self.rows})
        first, last = stamps[0], stamps[-1]
        return f"{first[0].isoformat()}T{first[1]:02d}..{last[0].isoformat()}T{last[1]:02d}"


@dataclass(frozen=True)
class CounterStats:
    """What the counter has done since it was created."""

    events: int  # counted (duplicates excluded)
    duplicates: int  # events ignored because their id was already counted
    buffered_events: int  # counted, not yet cut into a batch
    pending_batches: int  # cut, not yet written
    pending_events: int
    batches_written: int
    batches_already_applied: int  # retries that found their id recorded
    flush_failures: int
    dropped_batches: int
    dropped_events: int
    last_flush_at: datetime  # the last time nothing was left to write
    flush_lag_seconds: float


@dataclass
class ServiceTotals:
    """Cumulative calls and latency of one (service, outcome), for /metrics."""

    calls: int = 0
    total_ms: float = 0.0
    buckets: list[int] = field(default_factory=lambda: [0] * (ROW_WIDTH - FIRST_BUCKET))


class Counter:
    """Counts access events exactly once into ``access_counts`` (see the module's docstring)."""

    def __init__(
        self,
        *,
        tz: tzinfo,
        interval: float = 1.0,
        clock: Clock = utc_now,
        sessionmaker: async_sessionmaker[AsyncSession] | None = None,
        max_pending_batches: int = 3600,
        max_batch_age: timedelta = timedelta(hours=12),
        prune_after: timedelta = timedelta(days=1),
        prune_every: timedelta = timedelta(hours=1),
        write_timeout: float = 15.0,
        shutdown_grace: float = 10.0,
        max_seen_ids: int = 200_000,
    ) -> None:
        if interval <= 0:
            raise ValueError("interval must be > 0")
        if max_pending_batches < 1:
            raise ValueError("max_pending_batches must be >= 1")
        if max_batch_age >= prune_after:
            raise ValueError("max_batch_age must be shorter than prune_after")
        self.tz = tz
        self.interval = interval
        self.clock = clock
        self.sessionmaker = sessionmaker
        self.max_pending_batches = max_pending_batches
        self.max_batch_age = max_batch_age
        self.prune_after = prune_after
        self.prune_every = prune_every
        self.write_timeout = write_timeout
        self.shutdown_grace = shutdown_grace
        self.max_seen_ids = max_seen_ids
        # The buffer (what emit touches).
        self._rows: Tally = {}
        self._buffered = 0
        self._seen: set[str] = set()
        self._seen_before: set[str] = set()
        self._minute_start = self._minute_end = datetime.min.replace(tzinfo=UTC)
        self._hour: tuple[date, int] = (date.min, 0)
        self._service_keys: dict[int, str] = {0: NO_SERVICE}
        # Cut batches and the flusher.
        self._pending: deque[Batch] = deque()
        self._in_flight: Batch | None = None
        self._lock = asyncio.Lock()
        self._ticker: asyncio.Task[None] | None = None
        self._writer: asyncio.Task[bool] | None = None
        self._last_prune: datetime | None = None
        self._last_flush_at = clock()
        # Cumulative figures for /metrics.
        self._totals: dict[tuple[str, str], ServiceTotals] = {}
        self._events = 0
        self._duplicates = 0
        self._written = 0
        self._already = 0
        self._failures = 0
        self._dropped_batches = 0
        self._dropped_events = 0

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        clock: Clock = utc_now,
        sessionmaker: async_sessionmaker[AsyncSession] | None = None,
    ) -> Counter:
        """A counter in the configured time zone, flushing every ``count_flush_interval``."""
        return cls(
            tz=settings.tz,
            interval=settings.count_flush_interval,
            clock=clock,
            sessionmaker=sessionmaker,
        )

    # -- the request path -----------------------------------------------------------------------

    def emit(self, event: AccessEvent) -> None:
        """Count one access event (once per event id). Synchronous: no I/O, no awaits."""
        event_id = event.event_id
        if event_id in self._seen or event_id in self._seen_before:
            self._duplicates += 1
            return
        seen = self._seen
        seen.add(event_id)
        if len(seen) >= self.max_seen_ids:
            self._seen_before, self._seen = seen, set()
        at = event.at
        # Local hours change only on whole UTC minutes in every zone in use since 1972, so the
        # (day, hour) of the previous event's minute is reused without a time-zone conversion.
        if not self._minute_start <= at < self._minute_end:
            local = at.astimezone(self.tz)
            self._hour = (local.date(), local.hour)
            self._minute_start = at.replace(second=0, microsecond=0)
            self._minute_end = self._minute_start + _MINUTE
        day, hour = self._hour
        service_id = event.service_id
        if service_id is None:
            service_id = 0
        elif service_id not in self._service_keys:
            self._service_keys[service_id] = event.service or str(service_id)
        key = (
            day,
            hour,
            service_id,
            event.operation_id or "",
            event.client_id or "",
            event.outcome,
        )
        row = self._rows.get(key)
        if row is None:
            row = self._rows[key] = [0] * ROW_WIDTH
        total_ms = event.total_ms
        row[CALLS] += 1
        row[TOTAL_MS] += total_ms
        if event.upstream_ms is not None:
            row[UPSTREAM_MS] += event.upstream_ms
        row[FIRST_BUCKET + bucket_index(total_ms)] += 1
        self._buffered += 1

    # -- batches ----------------------------------------------------------------------------------

    def cut(self) -> Batch | None:
        """Swap the buffer out as a new pending batch (None when it is empty)."""
        if not self._rows:
            return None
        rows, calls = self._rows, self._buffered
        self._rows, self._buffered = {}, 0
        self._seen_before, self._seen = self._seen, set()
        self._events += calls
        self._fold(rows)
        batch = Batch(id=uuid.uuid4().hex, rows=rows, calls=calls, cut_at=self.clock())
        self._pending.append(batch)
        self._enforce_bounds()
        return batch

    def _fold(self, rows: Tally) -> None:
        for key, row in rows.items():
            name = self._service_keys.get(key[2], str(key[2]))
            totals = self._totals.get((name, key[5]))
            if totals is None:
                totals = self._totals[(name, key[5])] = ServiceTotals()
            totals.calls += int(row[CALLS])
            totals.total_ms += row[TOTAL_MS]
            buckets = totals.buckets
            for i in range(len(buckets)):
                buckets[i] += int(row[FIRST_BUCKET + i])

    def _enforce_bounds(self) -> None:
        oldest_allowed = self.clock() - self.max_batch_age
        for batch in list(self._pending):  # oldest first
            if batch.cut_at >= oldest_allowed:
                break
            if batch is not self._in_flight:
                self._drop(batch, f"it was not written within {self.max_batch_age}")
        while len(self._pending) > self.max_pending_batches:
            victim = next((b for b in self._pending if b is not self._in_flight), None)
            if victim is None:
                break
            self._drop(victim, f"more than {self.max_pending_batches} batches are pending")

    def _drop(self, batch: Batch, reason: str) -> None:
        self._pending.remove(batch)
        self._dropped_batches += 1
        self._dropped_events += batch.calls
        log.error(
            "access counts dropped: the database stayed unreachable",
            extra={
                "batch_id": batch.id,
                "calls": batch.calls,
                "rows": len(batch.rows),
                "hours": batch.hours(),
                "attempts": batch.attempts,
                "reason": reason,
                "dropped_events_total": self._dropped_events,
            },
        )

    # -- writing ----------------------------------------------------------------------------------

    async def flush(self) -> bool:
        """Cut the buffer and write every pending batch now; True when nothing is left pending."""
        self.cut()
        return await self._write_pending()

    async def _write_pending(self) -> bool:
        async with self._lock:
            if self.sessionmaker is None:
                raise RuntimeError("the counter has no sessionmaker: start() it first")
            written = 0
            while self._pending:
                batch = self._pending[0]
                self._in_flight = batch
                try:
                    applied = await self._write(batch, self.sessionmaker)
                except Exception as exc:  # the database is down, a timeout, a lost connection …
                    batch.attempts += 1
                    self._failures += 1
                    if batch.attempts == 1 or batch.attempts % 60 == 0:
                        log.warning(
                            "access counts not flushed yet; the batch is kept and retried",
                            extra={
                                "batch_id": batch.id,
                                "calls": batch.calls,
                                "attempts": batch.attempts,
                                "pending_batches": len(self._pending),
                                "error": describe_exception(exc),
                            },
                        )
                    return False
                finally:
                    self._in_flight = None
                with contextlib.suppress(ValueError):  # dropped meanwhile, yet written after all
                    self._pending.remove(batch)
                if applied:
                    self._written += 1
                    written += 1
                else:
                    self._already += 1
                    log.info(
                        "access count batch was already applied; the retry added nothing",
                        extra={"batch_id": batch.id, "calls": batch.calls},
                    )
            self._last_flush_at = self.clock()
            if written:
                await self._maybe_prune(self.sessionmaker)
            return True

    async def _write(self, batch: Batch, sessionmaker: async_sessionmaker[AsyncSession]) -> bool:
        async with asyncio.timeout(self.write_timeout), sessionmaker() as session:
            applied = await write_batch(session, batch.id, batch.rows, now=self.clock())
            await session.commit()
            return applied

    async def _maybe_prune(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        now = self.clock()
        if self._last_prune is not None and now - self._last_prune < self.prune_every:
            return
        self._last_prune = now
        try:
            async with asyncio.timeout(self.write_timeout), sessionmaker() as session:
                removed = await prune_batches(session, before=now - self.prune_after)
                await session.commit()
        except Exception:
            log.warning("pruning counter_batches failed; trying again later", exc_info=True)
            return
        if removed:
            log.info("counter batches pruned", extra={"removed": removed})

    # -- the flusher ------------------------------------------------------------------------------

    async def start(self, sessionmaker: async_sessionmaker[AsyncSession] | None = None) -> None:
        """Start the background flusher (with ``sessionmaker``, or the one given earlier)."""
        if sessionmaker is not None:
            self.sessionmaker = sessionmaker
        if self.sessionmaker is None:
            raise RuntimeError("the counter needs a sessionmaker")
        if self._ticker is None or self._ticker.done():
            self._last_flush_at = self.clock()
            self._ticker = asyncio.create_task(self._tick(), name="xyb-counter-flusher")

    @property
    def running(self) -> bool:
        return self._ticker is not None and not self._ticker.done()

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            self.cut()
            if self._writer is not None and not self._writer.done():
                continue  # still writing: the new batch waits its turn
            if self._pending:
                self._writer = asyncio.create_task(self._write_pending(), name="xyb-counter-writer")
                self._writer.add_done_callback(_report_crash)
            else:
                self._last_flush_at = self.clock()

    async def stop(self, *, grace: float | None = None) -> bool:
        """Stop the flusher and write everything buffered and pending, retrying for ``grace``
        seconds (default ``shutdown_grace``); True when everything was written (the log says
        what was not)."""
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
            self._ticker = None
        if self.sessionmaker is None:
            return not self._rows and not self._pending
        loop = asyncio.get_running_loop()
        deadline = loop.time() + (self.shutdown_grace if grace is None else grace)
        flushed = False
        try:
            async with asyncio.timeout_at(deadline):
                if self._writer is not None:
                    with contextlib.suppress(Exception):
                        await self._writer
                while True:
                    flushed = await self.flush()
                    if flushed:
                        break
                    await asyncio.sleep(min(0.5, self.interval))
        except TimeoutError:
            pass
        finally:
            if self._writer is not None and not self._writer.done():
                self._writer.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await self._writer
            self._writer = None
        if flushed:
            log.info("access counts flushed", extra={"batches_written": self._written})
        else:
            self.cut()
            log.error(
                "access counts could not be written before shutdown; they are lost if the"
                " process exits",
                extra={
                    "pending_batches": len(self._pending),
                    "calls": sum(b.calls for b in self._pending),
                    "batch_ids": [b.id for b in self._pending][:20],
                },
            )
        return flushed

    # -- what operators see -----------------------------------------------------------------------

    def flush_lag(self) -> float:
        """Seconds since the counter last had nothing left to write."""
        return max(0.0, (self.clock() - self._last_flush_at).total_seconds())

    def stats(self) -> CounterStats:
        return CounterStats(
            events=self._events + self._buffered,
            duplicates=self._duplicates,
            buffered_events=self._buffered,
            pending_batches=len(self._pending),
            pending_events=sum(b.calls for b in self._pending),
            batches_written=self._written,
            batches_already_applied=self._already,
            flush_failures=self._failures,
            dropped_batches=self._dropped_batches,
            dropped_events=self._dropped_events,
            last_flush_at=self._last_flush_at,
            flush_lag_seconds=self.flush_lag(),
        )

    def totals(self) -> dict[tuple[str, str], ServiceTotals]:
        """Cumulative calls and latency per (service key or "none", outcome), the buffer
        included: monotonic, for Prometheus counters."""
        out = {
            key: ServiceTotals(t.calls, t.total_ms, list(t.buckets))
            for key, t in self._totals.items()
        }
        for key, row in self._rows.items():
            name = self._service_keys.get(key[2], str(key[2]))
            totals = out.get((name, key[5]))
            if totals is None:
                totals = out[(name, key[5])] = ServiceTotals()
            totals.calls += int(row[CALLS])
            totals.total_ms += row[TOTAL_MS]
            for i in range(len(totals.buckets)):
                totals.buckets[i] += int(row[FIRST_BUCKET + i])
        return out

    def pending(self) -> tuple[Batch, ...]:
        """The batches cut but not yet written, oldest first."""
        return tuple(self._pending)

    def pending_rows(self) -> Tally:
        """Everything counted but not yet written (buffer and pending batches), merged."""
        merged: Tally = {}
        for rows in [*(b.rows for b in self._pending), self._rows]:
            for key, row in rows.items():
                existing = merged.get(key)
                if existing is None:
                    merged[key] = list(row)
                else:
                    add_row(existing, row)
        return merged


def _report_crash(task: asyncio.Task[bool]) -> None:
    if task.cancelled():
        return
    exc = task.exception()
    if exc is not None:
        log.error("the access-count writer failed", exc_info=exc)
