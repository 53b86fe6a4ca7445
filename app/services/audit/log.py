"""The audit log writer: an access-event sink that chains, signs and stores records in batches.

``emit`` runs on the request path: it appends the event to a bounded buffer and returns (no I/O,
no hashing). ``record_admin`` and ``record_personal_read`` buffer the same way. Every
``interval`` seconds the flusher *cuts* a batch from the buffer: it gives each record the
writer's next ``seq`` and the previous record's hash, hashes it (``app.services.audit.chain``),
and adds a signed checkpoint when one is due (every ``checkpoint_records`` records, or
``checkpoint_seconds`` after the last one, and at shutdown). One batch is one transaction:
records, personal-data reads, the signing key's public JWK the first time it signs, the
checkpoint.

A cut batch is immutable: when its write fails it is retried as it is (same seqs, same hashes,
same checkpoint), and nothing is cut behind it until it is written, so the stored chain never has
a gap or a duplicate. A retry whose earlier attempt did commit (the answer was lost) finds its
records and adds nothing. A crash loses the buffer and the unwritten batch: the stored chain just
ends there, which verification reports as where the chain stopped, not as a break.

When the buffer is full (the database down for long) new calls are dropped and counted, never
waited for (admin actions and reads have a reserve beyond that bound, then are dropped too); the
next batch starts with an ``audit.dropped`` record saying how many and when.

On PostgreSQL, ``audit_records`` is partitioned by day (UTC): before a batch is written the
writer creates the partitions of its records' days, today's and tomorrow's, once per process.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
import uuid
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.sql.sqltypes import String

from app.core.config import Settings
from app.core.db import take_write_lock
from app.core.logging import describe_exception
from app.events import AccessEvent
from app.identity.keys import SigningKey
from app.models.audit import AuditCheckpoint, AuditKey, AuditRecord, PersonalDataRead
from app.services.audit.chain import canonical, fields_of, genesis, record_hash, sign_checkpoint

__all__ = ["AuditBatch", "AuditLog", "AuditStats", "Signer", "new_writer_id"]

log = logging.getLogger("xyb.audit")

Clock = Callable[[], datetime]
# The gateway's current signing key (LookupError when it has none that can sign).
Signer = Callable[[], SigningKey]

WRITER_MAX = 40
GATEWAY_ACTOR = "gateway"
GATEWAY_CALL = "gateway-call"
UNSPECIFIED_PURPOSE = "unspecified"
_DAY = timedelta(days=1)
# Column widths: longer values (a caller's request id, say) are cut to fit before hashing, so a
# batch can never fail for good on a value its column refuses.
_WIDTHS: dict[str, int] = {
    column.name: column.type.length
    for column in AuditRecord.__table__.columns
    if isinstance(column.type, String) and column.type.length is not None
}
_READ_WIDTHS: dict[str, int] = {
    column.name: column.type.length
    for column in PersonalDataRead.__table__.columns
    if isinstance(column.type, String) and column.type.length is not None
}


def utc_now() -> datetime:
    return datetime.now(UTC)


def new_writer_id(instance: str) -> str:
    """A fresh writer id: ``<instance>-<host>-<12 hex>`` (at most 40 characters). A new one per
    process start, so a restart starts a new chain and processes never share one."""
    host = "".join(ch for ch in socket.gethostname() if ch.isalnum() or ch in "-.")[:13]
    prefix = "-".join(part for part in (instance[:13], host) if part)
    return f"{prefix}-{uuid.uuid4().hex[:12]}"[-WRITER_MAX:]


@dataclass(frozen=True, slots=True)
class _Admin:
    at: datetime
    actor: str
    action: str
    object: str
    summary: str | None
    request_id: str | None
    division: str | None
    outcome: str
    client_id: str | None


@dataclass(frozen=True, slots=True)
class _Read:
    at: datetime
    person_id: int
    purpose: str
    kind: str
    client_id: str | None
    service: str | None
    request_id: str | None
    event_id: str | None


@dataclass(eq=False)
class AuditBatch:
    """Records (seqs ``first_seq..last_seq``), reads, a checkpoint: immutable once cut."""

    records: list[dict[str, Any]]
    reads: list[dict[str, Any]]
    checkpoint: dict[str, Any] | None
    key: dict[str, Any] | None  # an audit_keys row: the checkpoint's key, the first time it signs
    first_seq: int
    last_seq: int
    days: frozenset[date]
    attempts: int = 0


@dataclass(frozen=True)
class AuditStats:
    """What the audit log has done since it was created."""

    writer: str
    buffered: int  # handed over, not yet cut into a batch
    pending_records: int  # cut, not yet written
    written_seq: int  # the last record written (0: none)
    checkpoint_seq: int  # the last record a written checkpoint covers (0: none)
    batches_written: int
    checkpoints_written: int
    flush_failures: int
    dropped: int  # items refused because the buffer was full
    last_flush_at: datetime


@dataclass
class _Chain:
    seq: int
    head: str
    since_checkpoint: int = 0
    checkpoint_at: datetime = field(default_factory=utc_now)


class AuditLog:
    """The audit log of one process (one writer, one chain); see the module's docstring."""

    def __init__(
        self,
        *,
        writer: str,
        interval: float = 1.0,
        batch_max: int = 2000,
        max_pending: int = 100_000,
        checkpoint_records: int = 1000,
        checkpoint_seconds: float = 60.0,
        clock: Clock = utc_now,
        sessionmaker: async_sessionmaker[AsyncSession] | None = None,
        signer: Signer | None = None,
        write_timeout: float = 15.0,
        shutdown_grace: float = 10.0,
    ) -> None:
        if not writer or len(writer) > WRITER_MAX:
            raise ValueError(f"a writer id has 1 to {WRITER_MAX} characters")
        if interval <= 0 or checkpoint_seconds <= 0:
            raise ValueError("interval and checkpoint_seconds must be > 0")
        if batch_max < 1 or max_pending < 1 or checkpoint_records < 1:
            raise ValueError("batch_max, max_pending and checkpoint_records must be >= 1")
        self.writer = writer
        self.interval = interval
        self.batch_max = batch_max
        self.max_pending = max_pending
        # Admin actions and personal-data reads are rare and matter more: a buffer full of
        # calls still takes this many of them before dropping those too.
        self.reserve = max(100, max_pending // 10)
        self.checkpoint_records = checkpoint_records
        self.checkpoint_seconds = timedelta(seconds=checkpoint_seconds)
        self.clock = clock
        self.sessionmaker = sessionmaker
        self.signer = signer
        self.write_timeout = write_timeout
        self.shutdown_grace = shutdown_grace
        # What emit touches: AccessEvent, _Admin or _Read, in the order handed over.
        self._buffer: deque[AccessEvent | _Admin | _Read] = deque()
        self._dropped = 0
        self._dropped_reported = 0
        self._unrecordable = 0
        self._first_drop_at: datetime | None = None
        # The chain as cut (the pending batch included) and as written.
        self._chain = _Chain(seq=0, head=genesis(writer), checkpoint_at=clock())
        self._pending: AuditBatch | None = None
        self._written_seq = 0
        self._checkpoint_seq = 0
        self._stored_kids: set[str] = set()
        self._unsigned_warned = False
        self._dialect: str | None = None
        self._partitions: set[date] = set()
        # The flusher.
        self._lock = asyncio.Lock()
        self._stopping = asyncio.Event()
        self._ticker: asyncio.Task[None] | None = None
        self._last_flush_at = clock()
        self._batches = 0
        self._checkpoints = 0
        self._failures = 0

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        clock: Clock = utc_now,
        sessionmaker: async_sessionmaker[AsyncSession] | None = None,
        signer: Signer | None = None,
    ) -> AuditLog:
        """An audit log with a new writer id, configured by the XYB_AUDIT_* settings."""
        return cls(
            writer=new_writer_id(settings.gateway_id),
            interval=settings.audit_flush_interval,
            batch_max=settings.audit_batch_max,
            max_pending=settings.audit_max_pending,
            checkpoint_records=settings.audit_checkpoint_records,
            checkpoint_seconds=settings.audit_checkpoint_seconds,
            clock=clock,
            sessionmaker=sessionmaker,
            signer=signer,
        )

    # -- handing things over (synchronous, no I/O) -------------------------------------------------

    def emit(self, event: AccessEvent) -> None:
        """Buffer one call's record. Runs on the request path: an append, nothing else."""
        if len(self._buffer) >= self.max_pending:
            self._drop()
            return
        self._buffer.append(event)

    def record_admin(
        self,
        *,
        actor: str,
        action: str,
        object: str,
        summary: Mapping[str, Any] | None = None,
        request_id: str | None = None,
        division: str | None = None,
        outcome: str = "success",
        client_id: str | None = None,
    ) -> None:
        """Buffer one admin action. ``summary`` (before/after, overridden breaks...) must hold
        no secret and no ID number; values JSON cannot hold are kept as their ``str``."""
        text_summary = None
        if summary is not None:
            text_summary = json.dumps(
                summary, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
            )
        self._put(
            _Admin(
                self.clock(),
                actor,
                action,
                object,
                text_summary,
                request_id,
                division,
                outcome,
                client_id,
            )
        )

    def record_personal_read(
        self,
        *,
        person_id: int,
        purpose: str,
        kind: str,
        client_id: str | None,
        service: str | None,
        request_id: str | None,
        event_id: str | None = None,
        at: datetime | None = None,
    ) -> None:
        """Buffer one read of a resident's personal data (for personal_data_reads)."""
        self._put(
            _Read(
                at or self.clock(),
                person_id,
                purpose,
                kind,
                client_id,
                service,
                request_id,
                event_id,
            )
        )

    def _put(self, item: _Admin | _Read) -> None:
        if len(self._buffer) >= self.max_pending + self.reserve:
            self._drop()
            return
        self._buffer.append(item)

    def _drop(self) -> None:
        # Counted only: the flusher logs it and records it in the chain (no logging here, where
        # a flood of calls would turn into a flood of log lines).
        if self._dropped == self._dropped_reported:
            self._first_drop_at = self.clock()
        self._dropped += 1

    # -- cutting batches -------------------------------------------------------------------------

    def _cut(self, *, final: bool = False) -> AuditBatch | None:
        """The next batch from the buffer (None when there is nothing to write)."""
        now = self.clock()
        chain = self._chain
        room = max(1, min(self.batch_max, self.checkpoint_records - chain.since_checkpoint))
        records: list[dict[str, Any]] = []
        reads: list[dict[str, Any]] = []
        first_seq = chain.seq + 1
        if self._dropped > self._dropped_reported:
            self._append(records, self._dropped_record(now))
        buffer = self._buffer
        taken = 0
        while buffer and taken < room:
            item = buffer.popleft()
            taken += 1
            try:
                if isinstance(item, AccessEvent):
                    self._append(records, self._call_fields(item))
                    if item.personal_data_of is not None:
                        reads.append(_read_row(_read_of_call(item)))
                elif isinstance(item, _Admin):
                    self._append(records, _admin_fields(item))
                else:
                    reads.append(_read_row(item))
            except Exception:
                # An item that cannot be recorded (a bug: a value JSON cannot hold) is skipped
                # before it takes a seq, so the chain stays whole; the log says so.
                self._unrecordable += 1
                log.exception(
                    "an item could not be made an audit record; it is skipped",
                    extra={"item": type(item).__name__},
                )
        chain.since_checkpoint += len(records)
        checkpoint, key = None, None
        if chain.since_checkpoint and (
            chain.since_checkpoint >= self.checkpoint_records
            or now - chain.checkpoint_at >= self.checkpoint_seconds
            or (final and not buffer)
        ):
            checkpoint, key = self._checkpoint(now)
        if not records and not reads and checkpoint is None:
            return None
        days = {row["at"].date() for row in records}
        today = now.astimezone(UTC).date()
        days.update((today, today + _DAY))
        return AuditBatch(
            records=records,
            reads=reads,
            checkpoint=checkpoint,
            key=key,
            first_seq=first_seq,
            last_seq=chain.seq,
            days=frozenset(days),
        )

    def _append(self, records: list[dict[str, Any]], row: dict[str, Any]) -> None:
        chain = self._chain
        row["writer"] = self.writer
        row["seq"] = chain.seq + 1
        row["prev_hash"] = chain.head
        digest = record_hash(fields_of(row))  # first: if it raises, the chain has not moved
        chain.seq += 1
        chain.head = row["hash"] = digest
        records.append(row)

    def _call_fields(self, event: AccessEvent) -> dict[str, Any]:
        return _fit(
            {
                "at": _utc(event.at),
                "kind": "call",
                "event_id": event.event_id,
                "request_id": event.request_id,
                "client_id": event.client_id,
                "subject": event.subject,
                "division": event.division,
                "service": event.service,
                "operation_id": event.operation_id,
                "item_code": event.item_code,
                "method": event.method,
                "status": event.status,
                "outcome": str(event.outcome),
                "latency_us": round(event.total_ms * 1000),
                "request_digest": event.request_digest,
                "response_digest": event.response_digest,
                "actor": None,
                "action": None,
                "object": None,
                "summary": None,
            },
            _WIDTHS,
        )

    def _dropped_record(self, now: datetime) -> dict[str, Any]:
        count = self._dropped - self._dropped_reported
        since = self._first_drop_at or now
        self._dropped_reported = self._dropped
        log.error(
            "audit records were dropped: the audit buffer was full (is the database down?)",
            extra={"dropped": count, "dropped_total": self._dropped, "since": since.isoformat()},
        )
        summary = {"dropped": count, "since": since.isoformat(), "until": now.isoformat()}
        return _admin_fields(
            _Admin(
                now,
                GATEWAY_ACTOR,
                "audit.dropped",
                self.writer,
                canonical(summary).decode(),
                None,
                None,
                "failure",
                None,
            )
        )

    def _checkpoint(self, now: datetime) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
        """The checkpoint of the chain's head as cut (and its key's row if new), or (None, None)
        when there is no key to sign with (the records are written all the same)."""
        chain = self._chain
        try:
            if self.signer is None:
                raise LookupError("the audit log was given no signing key")
            key = self.signer()
            signature = sign_checkpoint(
                key, writer=self.writer, seq=chain.seq, head_hash=chain.head, at=now
            )
        except Exception as exc:  # no key (LookupError), no identity state yet, ...
            if not self._unsigned_warned:
                self._unsigned_warned = True
                log.warning(
                    "audit checkpoints cannot be signed yet; records are written unsigned",
                    extra={"error": describe_exception(exc)},
                )
            return None, None
        self._unsigned_warned = False  # a later failure is news again
        chain.since_checkpoint = 0
        chain.checkpoint_at = now
        checkpoint = {
            "writer": self.writer,
            "seq": chain.seq,
            "head_hash": chain.head,
            "at": now,
            "kid": key.kid,
            "signature": signature,
        }
        key_row = None
        if key.kid not in self._stored_kids:
            key_row = {
                "kid": key.kid,
                "jwk": canonical(dict(key.public_jwk)).decode(),
                "first_used_at": now,
            }
        return checkpoint, key_row

    # -- writing ---------------------------------------------------------------------------------

    async def flush(self, *, final: bool = False) -> bool:
        """Write everything handed over so far, batch by batch; False when a write failed (the
        batch is kept for the next try). ``final`` ends with a checkpoint (at shutdown)."""
        sessionmaker = self.sessionmaker
        if sessionmaker is None:
            raise RuntimeError("the audit log needs a sessionmaker")
        async with self._lock:
            while True:
                batch = self._pending
                if batch is None:
                    batch = self._pending = self._cut(final=final)
                    if batch is None:
                        self._last_flush_at = self.clock()
                        return True
                try:
                    await self._write(batch, sessionmaker)
                except Exception as exc:  # the database is down, a timeout, a lost connection…
                    batch.attempts += 1
                    self._failures += 1
                    if batch.attempts == 1 or batch.attempts % 60 == 0:
                        log.warning(
                            "audit records not written yet; the batch is kept and retried",
                            extra={
                                "writer": self.writer,
                                "first_seq": batch.first_seq,
                                "last_seq": batch.last_seq,
                                "attempts": batch.attempts,
                                "buffered": len(self._buffer),
                                "error": describe_exception(exc),
                            },
                        )
                    return False
                self._pending = None
                self._batches += 1
                if batch.records:
                    self._written_seq = batch.last_seq
                if batch.checkpoint is not None:
                    self._checkpoints += 1
                    self._checkpoint_seq = batch.checkpoint["seq"]
                if batch.key is not None:
                    self._stored_kids.add(batch.key["kid"])

    async def _write(
        self, batch: AuditBatch, sessionmaker: async_sessionmaker[AsyncSession]
    ) -> None:
        async with asyncio.timeout(self.write_timeout):
            if self._dialect is None:
                async with sessionmaker() as session:
                    self._dialect = session.get_bind().dialect.name
            if self._dialect == "postgresql" and not batch.days <= self._partitions:
                await self._ensure_partitions(sessionmaker, batch.days - self._partitions)
            async with sessionmaker() as session:
                # Read (on a retry), then write: on SQLite take the write lock first.
                await take_write_lock(session)
                if batch.attempts and await self._already_written(session, batch):
                    log.info(
                        "an audit batch retried was written already; the retry added nothing",
                        extra={"first_seq": batch.first_seq, "last_seq": batch.last_seq},
                    )
                    return
                if batch.records:
                    await session.execute(insert(AuditRecord), batch.records)
                if batch.reads:
                    await session.execute(insert(PersonalDataRead), batch.reads)
                if batch.key is not None:
                    dialect = postgresql if self._dialect == "postgresql" else sqlite
                    await session.execute(
                        dialect.insert(AuditKey)
                        .values(**batch.key)
                        .on_conflict_do_nothing(index_elements=["kid"])
                    )
                if batch.checkpoint is not None:
                    await session.execute(insert(AuditCheckpoint).values(**batch.checkpoint))
                await session.commit()

    async def _already_written(self, session: AsyncSession, batch: AuditBatch) -> bool:
        """Whether an earlier attempt of ``batch`` committed (its answer lost on the way)."""
        if batch.records:
            found = await session.scalar(
                select(func.count())
                .select_from(AuditRecord)
                .where(
                    AuditRecord.writer == self.writer,
                    AuditRecord.seq.between(batch.first_seq, batch.last_seq),
                )
            )
            return bool(found)
        if batch.checkpoint is not None:
            found = await session.scalar(
                select(func.count())
                .select_from(AuditCheckpoint)
                .where(
                    AuditCheckpoint.writer == self.writer,
                    AuditCheckpoint.seq == batch.checkpoint["seq"],
                )
            )
            return bool(found)
        first = batch.reads[0]
        found = await session.scalar(
            select(func.count())
            .select_from(PersonalDataRead)
            .where(
                PersonalDataRead.person_id == first["person_id"],
                PersonalDataRead.at == first["at"],
                PersonalDataRead.kind == first["kind"],
            )
        )
        return bool(found)

    async def _ensure_partitions(
        self, sessionmaker: async_sessionmaker[AsyncSession], days: frozenset[date]
    ) -> None:
        """Create the daily partitions of ``days`` that do not exist (each in its own short
        transaction: creating one locks the parent table)."""
        async with sessionmaker() as session:
            for day in sorted(days):
                name = partition_name(day)
                exists = await session.scalar(text("SELECT to_regclass(:name)"), {"name": name})
                await session.commit()
                if exists is None:
                    try:
                        await session.execute(text(_create_partition_sql(day)))
                        await session.commit()
                    except Exception as exc:
                        await session.rollback()
                        # Another writer created it meanwhile (fine), or the default partition
                        # already holds rows of that day (records of that day then stay there).
                        exists = await session.scalar(
                            text("SELECT to_regclass(:name)"), {"name": name}
                        )
                        await session.commit()
                        if exists is None:
                            log.warning(
                                "the audit partition of a day could not be created; its records"
                                " go to the default partition",
                                extra={"partition": name, "error": describe_exception(exc)},
                            )
                    else:
                        log.info("audit partition created", extra={"partition": name})
                self._partitions.add(day)

    # -- the flusher -----------------------------------------------------------------------------

    async def start(
        self,
        sessionmaker: async_sessionmaker[AsyncSession] | None = None,
        *,
        signer: Signer | None = None,
    ) -> None:
        """Start the background flusher (with ``sessionmaker`` and ``signer``, or those given
        earlier)."""
        if sessionmaker is not None:
            self.sessionmaker = sessionmaker
        if signer is not None:
            self.signer = signer
        if self.sessionmaker is None:
            raise RuntimeError("the audit log needs a sessionmaker")
        if self._ticker is None or self._ticker.done():
            self._stopping = asyncio.Event()
            self._last_flush_at = self.clock()
            self._ticker = asyncio.create_task(self._tick(), name="xyb-audit-flusher")

    @property
    def running(self) -> bool:
        return self._ticker is not None and not self._ticker.done()

    async def _tick(self) -> None:
        while not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self.interval)
            if self._stopping.is_set():
                return
            try:
                await self.flush()
            except Exception:  # a bug, not the database: keep the flusher alive
                log.exception("the audit flusher failed; trying again", extra={})

    async def stop(self, *, grace: float | None = None) -> bool:
        """Stop the flusher, then write everything and a final checkpoint, retrying for
        ``grace`` seconds (default ``shutdown_grace``); True when everything was written."""
        if self._ticker is not None:
            # The flusher finishes the write it is in (never cut off between commit and answer).
            self._stopping.set()
            with contextlib.suppress(Exception):
                await self._ticker
            self._ticker = None
        if self.sessionmaker is None:
            return not self._buffer and self._pending is None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + (self.shutdown_grace if grace is None else grace)
        flushed = False
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout_at(deadline):
                while True:
                    flushed = await self.flush(final=True)
                    if flushed:
                        break
                    await asyncio.sleep(min(0.5, self.interval))
        if flushed:
            log.info(
                "audit log flushed",
                extra={
                    "writer": self.writer,
                    "seq": self._written_seq,
                    "checkpoint_seq": self._checkpoint_seq,
                },
            )
        else:
            log.error(
                "audit records could not be written before shutdown; they are lost if the"
                " process exits (the stored chain ends at the last record written)",
                extra={
                    "writer": self.writer,
                    "written_seq": self._written_seq,
                    "buffered": len(self._buffer),
                    "pending_records": self._pending_records(),
                },
            )
        return flushed

    # -- what operators and tests see ------------------------------------------------------------

    def _pending_records(self) -> int:
        return len(self._pending.records) if self._pending is not None else 0

    @property
    def head(self) -> tuple[int, str]:
        """(seq, hash) of the last record cut (written or pending); (0, genesis) at first."""
        return self._chain.seq, self._chain.head

    def stats(self) -> AuditStats:
        return AuditStats(
            writer=self.writer,
            buffered=len(self._buffer),
            pending_records=self._pending_records(),
            written_seq=self._written_seq,
            checkpoint_seq=self._checkpoint_seq,
            batches_written=self._batches,
            checkpoints_written=self._checkpoints,
            flush_failures=self._failures,
            dropped=self._dropped,
            last_flush_at=self._last_flush_at,
        )


def partition_name(day: date) -> str:
    """The PostgreSQL partition of ``audit_records`` holding the records of ``day`` (UTC)."""
    return f"audit_records_{day:%Y%m%d}"


def _create_partition_sql(day: date) -> str:
    # Dates from date objects only: nothing from outside reaches this statement.
    return (
        f"CREATE TABLE IF NOT EXISTS {partition_name(day)} PARTITION OF audit_records"
        f" FOR VALUES FROM ('{day.isoformat()} 00:00:00+00')"
        f" TO ('{(day + _DAY).isoformat()} 00:00:00+00')"
    )


def _utc(at: datetime) -> datetime:
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def _fit(row: dict[str, Any], widths: Mapping[str, int]) -> dict[str, Any]:
    for name, width in widths.items():
        value = row.get(name)
        if isinstance(value, str) and len(value) > width:
            row[name] = value[:width]
    return row


def _admin_fields(item: _Admin) -> dict[str, Any]:
    return _fit(
        {
            "at": _utc(item.at),
            "kind": "admin",
            "event_id": None,
            "request_id": item.request_id,
            "client_id": item.client_id,
            "subject": None,
            "division": item.division,
            "service": None,
            "operation_id": None,
            "item_code": None,
            "method": None,
            "status": None,
            "outcome": item.outcome,
            "latency_us": None,
            "request_digest": None,
            "response_digest": None,
            "actor": item.actor,
            "action": item.action,
            "object": item.object,
            "summary": item.summary,
        },
        _WIDTHS,
    )


def _read_of_call(event: AccessEvent) -> _Read:
    assert event.personal_data_of is not None
    return _Read(
        event.at,
        event.personal_data_of,
        event.purpose or UNSPECIFIED_PURPOSE,
        event.read_kind or GATEWAY_CALL,
        event.client_id,
        event.service,
        event.request_id,
        event.event_id,
    )


def _read_row(item: _Read) -> dict[str, Any]:
    return _fit(
        {
            "at": _utc(item.at),
            "person_id": item.person_id,
            "client_id": item.client_id,
            "service": item.service,
            "purpose": item.purpose,
            "kind": item.kind,
            "request_id": item.request_id,
            "event_id": item.event_id,
        },
        _READ_WIDTHS,
    )
