"""``/metrics``: this instance's figures for Prometheus, the same whichever worker answers.

Each worker process knows only its own figures: the access counter's cumulative totals, its own
breakers, its own flusher. So every worker writes its figures into a directory the workers share
(``XYB_METRICS_DIR``: ``xyb serve`` makes a fresh, private one at each start and removes it at
the end), in prometheus_client's multiprocess file format, once a second and again just before
it answers a scrape; the answering worker merges every worker's file with prometheus_client's
``MultiProcessCollector``. Nothing is written on the request path.

- Counters (calls and latency by service and outcome, the counter's drops, duplicates and failed
  flushes, the audit log's drops and failed flushes) are sums over every worker of this server
  start. A worker writes only cumulative values, which never go down, and a worker that exits
  leaves its file behind, so a counter never goes backwards whichever worker answers. A new
  server start begins again at 0 (Prometheus reads that as a reset, as for any restart).
- Gauges are per worker and combined honestly: a service's breaker state is the most open of
  the workers' breakers (each worker has its own), pending batches and audit records are summed,
  the flush lag is the oldest worker's, and ``xyb_gateway_workers`` says how many live workers
  the figures cover.
  A worker that has exited drops out of every gauge.

Why files rather than the roll-ups in the database: the database holds every instance's calls,
so every instance would report the same cluster-wide totals (summing targets in Prometheus would
multiply them), its totals only grow by a full aggregate per scrape, and the counter's own
figures (drops, flush failures) are never stored at all. The files are exact for this instance
(every event counted, written or not), cost a few memory writes a second, and a scrape reads
one small file per worker.

Without ``XYB_METRICS_DIR`` (one process: the tests, ``xyb demo``) an app keeps its files in a
temporary directory of its own, removed when its lifespan ends. Whoever starts several workers
some other way (``uvicorn --workers``) must name an empty directory, private to that start, in
``XYB_METRICS_DIR``, or each worker reports only its own figures again.

Label values are bounded: a service is its key ``division/slug`` (``none`` when the call was
refused before a service was matched) and an outcome is one of four; clients and users never
become labels.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import shutil
import signal
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any, Protocol

from prometheus_client.exposition import generate_latest
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.mmap_dict import MmapedDict, mmap_key
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from prometheus_client.samples import Sample
from prometheus_client.utils import floatToGoString

if TYPE_CHECKING:  # ``xyb serve`` imports this module for shared_directory only: keep it light
    from app.services.audit.log import AuditLog
    from app.services.counting import Counter

log = logging.getLogger("xyb.metrics")

METRICS_DIR_ENV = "XYB_METRICS_DIR"
PUBLISH_INTERVAL = 1.0
# app.gateway.resilience.BreakerState's values.
BREAKER_VALUES = {"closed": 0, "half_open": 1, "open": 2}
_TMP_SUFFIX = ".tmp"


@dataclass(frozen=True, slots=True)
class Family:
    """A metric family: its name (counters without ``_total``), type, help and, for a gauge,
    how the workers' values combine (a prometheus_client multiprocess mode)."""

    name: str
    kind: str  # counter, histogram or gauge
    help: str
    mode: str = ""

    @property
    def file_kind(self) -> str:
        return f"gauge_{self.mode}" if self.kind == "gauge" else self.kind


REQUESTS = Family(
    "xyb_gateway_requests",
    "counter",
    "Calls through /gw, by service (division/slug; none: refused before a service was matched)"
    " and outcome.",
)
DURATION = Family(
    "xyb_gateway_request_duration_seconds",
    "histogram",
    "Whole-call latency of calls through /gw, by service and outcome (the last bucket is"
    " open-ended: over 10 s).",
)
DROPPED = Family(
    "xyb_access_events_dropped",
    "counter",
    "Access events dropped because the database stayed down too long (pending cap).",
)
DUPLICATES = Family(
    "xyb_access_events_duplicates",
    "counter",
    "Access events ignored because their event id had already been counted.",
)
FLUSH_FAILURES = Family(
    "xyb_access_counts_flush_failures",
    "counter",
    "Failed attempts to write a batch of access counts to the database (each retried later).",
)
PENDING = Family(
    "xyb_access_counts_pending_batches",
    "gauge",
    "Batches of access counts cut but not yet written, summed over the workers (the database is"
    " slow or down).",
    "livesum",
)
# Written by each worker, read as FLUSH_LAG: a worker whose loop is stuck keeps its old stamp,
# so its lag grows instead of freezing at the last value it wrote.
LAST_FLUSH = Family(
    "xyb_access_counts_last_flush_timestamp_seconds",
    "gauge",
    "When the longest-waiting worker last had nothing left to write.",
    "livemin",
)
FLUSH_LAG = Family(
    "xyb_access_counts_flush_lag_seconds",
    "gauge",
    "Seconds since the longest-waiting worker last had nothing left to write to the database.",
)
BREAKER = Family(
    "xyb_gateway_breaker_state",
    "gauge",
    "Circuit breaker per service, the most open among the workers' own breakers: 0 closed,"
    " 1 half-open, 2 open.",
    "livemax",
)
WORKERS = Family(
    "xyb_gateway_workers",
    "gauge",
    "Live worker processes of this instance whose figures these are.",
    "livesum",
)
COUNTER_FAMILIES = (REQUESTS, DURATION, DROPPED, DUPLICATES, FLUSH_FAILURES, PENDING, FLUSH_LAG)
AUDIT_DROPPED = Family(
    "xyb_audit_records_dropped",
    "counter",
    "Audit records dropped because the audit buffer was full (the database stayed down too long);"
    " the chain records each loss as an audit.dropped record.",
)
AUDIT_FLUSH_FAILURES = Family(
    "xyb_audit_flush_failures",
    "counter",
    "Failed attempts to write a batch of audit records (each retried unchanged).",
)
AUDIT_PENDING = Family(
    "xyb_audit_pending_records",
    "gauge",
    "Audit records handed over but not yet written, summed over the workers.",
    "livesum",
)
AUDIT_FAMILIES = (AUDIT_DROPPED, AUDIT_FLUSH_FAILURES, AUDIT_PENDING)

Labels = tuple[tuple[str, str], ...]
Figure = tuple[Family, str, Labels, float]  # family, sample name, labels, value


@functools.cache
def _bucket_bounds() -> list[str]:
    """The ``le`` of each latency bucket, in seconds (the roll-ups' bounds, and +Inf)."""
    from app.models.counting import LATENCY_BOUNDS_MS

    as_text: Callable[[float], str] = floatToGoString
    return [as_text(bound / 1000) for bound in LATENCY_BOUNDS_MS] + ["+Inf"]


class _Breaker(Protocol):
    @property
    def state(self) -> str: ...


class _Entry(Protocol):
    @property
    def key(self) -> str: ...
    @property
    def breaker(self) -> _Breaker: ...


class BreakerTable(Protocol):
    """What the figures read of the gateway's route table (app.gateway.routetable.RouteTable),
    described here so that services need not import the /gw path."""

    @property
    def services(self) -> Mapping[Any, _Entry]: ...


def worker_figures(
    counter: Counter | None, table: BreakerTable | None, audit: AuditLog | None = None
) -> Iterator[Figure]:
    """This worker's figures, histogram buckets not cumulated (as the files keep them)."""
    if counter is not None:
        bounds = _bucket_bounds()
        for (service, outcome), totals in counter.totals().items():
            labels = (("outcome", str(outcome)), ("service", service))
            yield REQUESTS, REQUESTS.name + "_total", labels, totals.calls
            for bound, count in zip(bounds, totals.buckets, strict=True):
                yield DURATION, DURATION.name + "_bucket", (*labels, ("le", bound)), count
            yield DURATION, DURATION.name + "_sum", labels, totals.total_ms / 1000
        stats = counter.stats()
        yield DROPPED, DROPPED.name + "_total", (), stats.dropped_events
        yield DUPLICATES, DUPLICATES.name + "_total", (), stats.duplicates
        yield FLUSH_FAILURES, FLUSH_FAILURES.name + "_total", (), stats.flush_failures
        yield PENDING, PENDING.name, (), stats.pending_batches
        yield LAST_FLUSH, LAST_FLUSH.name, (), stats.last_flush_at.timestamp()
    if table is not None:
        for entry in table.services.values():
            yield (
                BREAKER,
                BREAKER.name,
                (("service", entry.key),),
                BREAKER_VALUES[entry.breaker.state],
            )
    if audit is not None:
        figures = audit.stats()
        yield AUDIT_DROPPED, AUDIT_DROPPED.name + "_total", (), figures.dropped
        yield AUDIT_FLUSH_FAILURES, AUDIT_FLUSH_FAILURES.name + "_total", (), figures.flush_failures
        yield AUDIT_PENDING, AUDIT_PENDING.name, (), figures.buffered + figures.pending_records
    yield WORKERS, WORKERS.name, (), 1


class _Mmap:
    """prometheus_client's mmapped dict of doubles (untyped), typed for this module."""

    def __init__(self, path: Path) -> None:
        self._dict = MmapedDict(str(path))  # type: ignore[no-untyped-call]

    def write(self, key: str, value: float) -> None:
        self._dict.write_value(key, value, 0.0)  # type: ignore[no-untyped-call]

    def close(self) -> None:
        self._dict.close()  # type: ignore[no-untyped-call]


def merge_files(files: list[str]) -> list[Metric]:
    """Every file's samples merged as prometheus_client's MultiProcessCollector merges them."""
    merged = MultiProcessCollector.merge(files, accumulate=True)  # type: ignore[no-untyped-call]
    return list(merged)


class WorkerFiles:
    """One worker's files in the shared directory (``{kind}_{pid}-{token}.db``).

    The token keeps a new worker that happens to get a dead worker's pid from writing over the
    dead worker's counters. Only changed values are written. Counter series never disappear (the
    totals are cumulative); when a gauge series does (a service retired), that gauge file is
    written afresh and swapped in whole, so a reader sees the old file or the new one.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.ident = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._files: dict[str, _Mmap] = {}
        self._written: dict[str, dict[str, float]] = {}
        self._keys: dict[tuple[Family, str, Labels], str] = {}

    def _path(self, file_kind: str) -> Path:
        return self.directory / f"{file_kind}_{self.ident}.db"

    def _key(self, family: Family, sample: str, labels: Labels) -> str:
        key = self._keys.get((family, sample, labels))
        if key is None:
            names = [name for name, _ in labels]
            values = [value for _, value in labels]
            key = mmap_key(family.name, sample, names, values, family.help)
            self._keys[(family, sample, labels)] = key
        return key

    def write(self, figures: Iterable[Figure]) -> None:
        by_file: dict[str, dict[str, float]] = {}
        for family, sample, labels, value in figures:
            by_file.setdefault(family.file_kind, {})[self._key(family, sample, labels)] = value
        for file_kind, values in by_file.items():
            written = self._written.setdefault(file_kind, {})
            if file_kind.startswith("gauge_") and written.keys() - values.keys():
                self._replace(file_kind, values)
                continue
            mmap = self._files.get(file_kind)
            if mmap is None:
                mmap = self._files[file_kind] = _Mmap(self._path(file_kind))
            for key, value in values.items():
                if written.get(key) != value:
                    mmap.write(key, value)
                    written[key] = value
        for file_kind in [k for k in self._files if k.startswith("gauge_") and k not in by_file]:
            self._replace(file_kind, {})

    def _replace(self, file_kind: str, values: dict[str, float]) -> None:
        old = self._files.pop(file_kind, None)
        if old is not None:
            old.close()
        final = self._path(file_kind)
        if not values:
            final.unlink(missing_ok=True)
            self._written.pop(file_kind, None)
            return
        staging = final.with_name(final.name + _TMP_SUFFIX)  # not *.db: never read half-made
        staging.unlink(missing_ok=True)
        mmap = _Mmap(staging)
        for key, value in values.items():
            mmap.write(key, value)
        staging.replace(final)
        self._files[file_kind] = mmap
        self._written[file_kind] = dict(values)

    def close(self, *, exited: bool) -> None:
        """Close the files; ``exited``: also remove the gauges, which count live workers only
        (the counters stay: what this worker counted is part of the instance's totals)."""
        for mmap in self._files.values():
            mmap.close()
        self._files.clear()
        self._written.clear()
        if exited:
            for path in self.directory.glob(f"gauge_*_{self.ident}.db"):
                path.unlink(missing_ok=True)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _forget_dead_gauges(directory: Path) -> None:
    """Remove the gauge files of workers that are gone (killed, crashed) without saying so."""
    for path in directory.glob("gauge_*.db"):
        ident = path.stem.rsplit("_", 1)[-1]
        pid = ident.split("-", 1)[0]
        if pid.isdigit() and not _pid_alive(int(pid)):
            path.unlink(missing_ok=True)


class _Merged(Collector):
    def __init__(self, metrics: list[Metric]) -> None:
        self._metrics = metrics

    def collect(self) -> Iterable[Metric]:
        return self._metrics


def merged_metrics(directory: Path, expected: Iterable[Family], now: float) -> list[Metric]:
    """Every worker's figures in ``directory``, merged; families in ``expected`` that nobody
    has figures for yet are listed empty, so the exposition always names them."""
    _forget_dead_gauges(directory)
    files = sorted(str(p) for p in directory.glob("*.db"))
    merged: dict[str, Metric] = {}
    for metric in merge_files(files):
        if metric.name == LAST_FLUSH.name:
            oldest = min((s.value for s in metric.samples), default=None)
            lag = GaugeMetricFamily(FLUSH_LAG.name, FLUSH_LAG.help)
            if oldest is not None:
                lag.add_metric([], max(0.0, now - oldest))
            merged[lag.name] = lag
            continue
        metric.samples.sort(key=_sample_order)
        merged[metric.name] = metric
    for family in expected:
        if family.name not in merged:
            merged[family.name] = Metric(family.name, family.help, family.kind)
    return [merged[name] for name in sorted(merged)]


def _sample_order(sample: Sample) -> tuple[list[tuple[str, str]], str, float]:
    """Series by labels; within a histogram's series its buckets by bound, then count, sum."""
    labels = dict(sample.labels)
    le = labels.pop("le", None)
    return sorted(labels.items()), "" if le is not None else sample.name, float(le or 0)


def app_figures(state: Any) -> Callable[[], Iterable[Figure]]:
    """The figures of the app whose ``app.state`` this is (its counter, route table and audit
    log)."""

    def figures() -> Iterable[Figure]:
        routes: Any = getattr(state, "routes", None)
        counter: Counter | None = getattr(state, "counter", None)
        audit: AuditLog | None = getattr(state, "audit", None)
        return worker_figures(counter, routes.table if routes is not None else None, audit)

    return figures


class InstanceMetrics:
    """The app's side of ``/metrics``: publishes this worker's figures and merges everyone's."""

    def __init__(
        self,
        figures: Callable[[], Iterable[Figure]],
        *,
        counting: bool,
        audit: bool = False,
        directory: str | None = None,
    ) -> None:
        self._figures = figures
        self._counting = counting
        self._audit = audit
        shared = directory if directory is not None else os.environ.get(METRICS_DIR_ENV)
        self._shared = Path(shared) if shared else None
        self._private: Path | None = None
        self._files: WorkerFiles | None = None
        self._ticker: asyncio.Task[None] | None = None

    @property
    def shared(self) -> bool:
        """Whether several worker processes share the directory (``xyb serve``)."""
        return self._shared is not None

    def _worker_files(self) -> WorkerFiles:
        if self._files is None:
            directory = self._shared
            if directory is not None:
                directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            else:
                if self._private is None:
                    self._private = Path(tempfile.mkdtemp(prefix="xyb-metrics-"))
                directory = self._private
            self._files = WorkerFiles(directory)
        return self._files

    def publish(self) -> None:
        """Write this worker's current figures to its files."""
        self._worker_files().write(self._figures())

    async def start(self) -> None:
        """With a shared directory, publish this worker's figures every second."""
        if self._shared is not None and (self._ticker is None or self._ticker.done()):
            self.publish()
            self._ticker = asyncio.create_task(self._tick(), name="xyb-metrics-publisher")

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(PUBLISH_INTERVAL)
            try:
                self.publish()
            except Exception:  # a full disk must not stop the worker; the next tick retries
                log.warning("this worker's metrics could not be written", exc_info=True)

    async def stop(self) -> None:
        """Publish the last figures (the counters stay in the files); the gauges go."""
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
            self._ticker = None
        if self._files is not None:
            with contextlib.suppress(Exception):
                self.publish()
            # Closed, not forgotten: a second lifespan of this app writes its cumulative totals
            # into the same files again instead of adding them a second time.
            self._files.close(exited=True)
        if self._private is not None:
            shutil.rmtree(self._private, ignore_errors=True)
            self._private = None
            self._files = None

    def exposition(self) -> bytes:
        """The Prometheus text of every worker's figures, this worker's written just now."""
        files = self._worker_files()
        files.write(self._figures())
        expected = [
            *(COUNTER_FAMILIES if self._counting else ()),
            *(AUDIT_FAMILIES if self._audit else ()),
            BREAKER,
            WORKERS,
        ]
        metrics = merged_metrics(files.directory, expected, time.time())
        return generate_latest(_Merged(metrics))


@contextlib.contextmanager
def shared_directory() -> Iterator[Path]:
    """A fresh private directory for the workers' figures, named in ``XYB_METRICS_DIR`` for the
    worker processes started inside the block, and removed after it, also when SIGTERM ends
    the process (see :func:`_removed_on_sigterm`)."""
    directory = Path(tempfile.mkdtemp(prefix="xyb-metrics-"))
    previous = os.environ.get(METRICS_DIR_ENV)
    os.environ[METRICS_DIR_ENV] = str(directory)
    try:
        with _removed_on_sigterm(directory):
            yield directory
    finally:
        if previous is None:
            os.environ.pop(METRICS_DIR_ENV, None)
        else:
            os.environ[METRICS_DIR_ENV] = previous
        shutil.rmtree(directory, ignore_errors=True)


@contextlib.contextmanager
def _removed_on_sigterm(directory: Path) -> Iterator[None]:
    """Remove ``directory`` when SIGTERM ends the process inside the block.

    uvicorn answers SIGTERM with a graceful shutdown, then restores the handler it found and
    raises the signal again, so the process still ends "killed by SIGTERM". With Python's default
    handler that kills it on the spot and no ``finally`` runs: the directory would stay behind at
    every stop. This handler removes it first, then lets the signal do what it did before.
    """
    if threading.current_thread() is not threading.main_thread():  # signal.signal would refuse
        yield
        return
    before = signal.getsignal(signal.SIGTERM)

    def remove_then_terminate(signum: int, frame: FrameType | None) -> None:
        shutil.rmtree(directory, ignore_errors=True)
        signal.signal(signum, before if before is not None else signal.SIG_DFL)
        signal.raise_signal(signum)

    signal.signal(signal.SIGTERM, remove_then_terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, before if before is not None else signal.SIG_DFL)
