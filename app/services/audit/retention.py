"""Retention: purge audit records older than XYB_AUDIT_RETENTION_DAYS that a checkpoint covers.

Per writer, the records purged are a prefix of its chain: seqs ``1..s`` where ``s`` is the
largest seq that is (a) covered by the writer's last checkpoint (``seq <= checkpoint``) and
(b) before the writer's first record that is not old enough (so a record whose time is a little
out of order never leaves a hole in the middle of a chain). Records after a writer's last
checkpoint are never purged: a crashed writer's uncovered tail is kept (and counted).

The checkpoints before ``s`` go with the records; the ones from ``s`` on stay, so what remains
still verifies: the first remaining record (``s + 1``) names the purged record ``s`` as its
``prev_hash``, and the checkpoint at ``s`` (its head hash is that hash) or a later one (the
chain recomputed from ``s + 1`` reaches its head hash) proves the link
(``app.services.audit.verify``). A checkpoint before ``s`` still standing would show that
records went some other way, which verification reports as deleted.

On PostgreSQL the records live in daily partitions (``audit_records_YYYYMMDD``, UTC days): a
partition whose day ended before the cutoff and whose every record is purged is dropped whole
(no row-by-row delete, no bloat); the rest (a partition holding an uncovered tail, the default
partition) lose their purged rows by ``DELETE``. On SQLite rows are deleted.

The purge is itself an audit record (action ``audit.purge``: the cutoff, counts, the time range
of what went, the partitions dropped).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, delete, func, select, text

from app.models.audit import AuditCheckpoint, AuditRecord

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

    from app.core.config import Settings

__all__ = ["PURGE_ACTION", "PurgePlan", "plan_purge", "purge", "record_purge"]

PURGE_ACTION = "audit.purge"
_PARTITION = re.compile(r"^audit_records_(\d{8})$")


@dataclass
class PurgePlan:
    """What a purge removes (or, in a dry run, would remove)."""

    cutoff: datetime
    upto: dict[str, int] = field(default_factory=dict)  # writer -> records with seq <= this go
    records: int = 0
    kept_uncovered: int = 0  # old enough, but after their writer's last checkpoint
    oldest: datetime | None = None
    newest: datetime | None = None
    partitions: list[str] = field(default_factory=list)  # PostgreSQL partitions dropped whole
    delete_from: list[str] | None = None  # PostgreSQL partitions whose purged rows are deleted
    checkpoints: int = 0

    def summary(self) -> dict[str, Any]:
        """The audit.purge record's summary."""
        return {
            "cutoff": self.cutoff.astimezone(UTC).isoformat(),
            "records": self.records,
            "writers": len(self.upto),
            "from": None if self.oldest is None else self.oldest.astimezone(UTC).isoformat(),
            "to": None if self.newest is None else self.newest.astimezone(UTC).isoformat(),
            "partitions_dropped": self.partitions,
            "checkpoints": self.checkpoints,
            "kept_uncovered": self.kept_uncovered,
        }


def _utc(at: datetime) -> datetime:
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


async def plan_purge(session: AsyncSession, *, days: int, now: datetime) -> PurgePlan:
    """Work out, per writer, which records a purge at ``now`` removes (nothing is changed)."""
    cutoff = _utc(now) - timedelta(days=days)
    plan = PurgePlan(cutoff=cutoff)
    old = await session.execute(
        select(AuditRecord.writer, func.max(AuditRecord.seq), func.count())
        .where(AuditRecord.at < cutoff)
        .group_by(AuditRecord.writer)
    )
    for writer, max_old, old_count in old.all():
        covered = await session.scalar(
            select(func.max(AuditCheckpoint.seq)).where(AuditCheckpoint.writer == writer)
        )
        first_new = await session.scalar(
            select(func.min(AuditRecord.seq)).where(
                AuditRecord.writer == writer, AuditRecord.at >= cutoff
            )
        )
        upto = min(int(covered or 0), int(max_old))
        if first_new is not None:
            upto = min(upto, int(first_new) - 1)
        purged = 0
        if upto > 0:
            row = (
                await session.execute(
                    select(func.count(), func.min(AuditRecord.at), func.max(AuditRecord.at)).where(
                        AuditRecord.writer == writer, AuditRecord.seq <= upto
                    )
                )
            ).one()
            purged = int(row[0])
            if purged:
                plan.upto[writer] = upto
                low, high = _utc(row[1]), _utc(row[2])
                plan.oldest = low if plan.oldest is None else min(plan.oldest, low)
                plan.newest = high if plan.newest is None else max(plan.newest, high)
                plan.checkpoints += int(
                    await session.scalar(
                        select(func.count())
                        .select_from(AuditCheckpoint)
                        .where(AuditCheckpoint.writer == writer, AuditCheckpoint.seq < upto)
                    )
                    or 0
                )
        plan.records += purged
        plan.kept_uncovered += int(old_count) - purged
    if session.get_bind().dialect.name == "postgresql":
        plan.partitions, plan.delete_from = await _partitions(session, plan)
    return plan


async def _partitions(session: AsyncSession, plan: PurgePlan) -> tuple[list[str], list[str]]:
    """The daily partitions that ended before the cutoff and hold only records being purged
    (dropped whole), and the ones that may hold old records besides (their rows are deleted:
    the day the cutoff falls in, a day holding an uncovered tail, the default partition)."""
    names = await session.scalars(
        text(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
            " WHERE i.inhparent = 'audit_records'::regclass ORDER BY c.relname"
        )
    )
    droppable: list[str] = []
    others: list[str] = []
    for name in names.all():
        match = _PARTITION.match(name)
        if match is None:
            if name == "audit_records_default":
                others.append(name)
            continue
        day = date(int(match[1][:4]), int(match[1][4:6]), int(match[1][6:]))
        start = datetime(day.year, day.month, day.day, tzinfo=UTC)
        if start >= plan.cutoff:
            continue  # nothing in it is old enough
        if start + timedelta(days=1) > plan.cutoff:
            others.append(name)
            continue
        # The name matched the pattern above: safe to put in the statement.
        rows = await session.execute(
            text(f"SELECT writer, max(seq) FROM {name} GROUP BY writer")  # noqa: S608
        )
        if all(plan.upto.get(writer, 0) >= int(top) for writer, top in rows.all()):
            droppable.append(name)
        else:
            others.append(name)
    return droppable, others


async def purge(session: AsyncSession, plan: PurgePlan) -> PurgePlan:
    """Carry out ``plan`` in the session's transaction: delete the rows that go from the
    partitions that stay, then drop the partitions that go whole.

    The drops come last: dropping a partition locks the whole table (the writers' inserts
    wait), so that lock is held only for the moment before the commit, and given up (the purge
    fails, to be run again) rather than queueing the writers behind a long reader."""
    tables = plan.delete_from if plan.delete_from is not None else ["audit_records"]
    for writer, upto in plan.upto.items():
        for table in tables:
            # Table names come from the catalog, checked against the partition names.
            await session.execute(
                text(
                    f"DELETE FROM {table} WHERE writer = :writer AND seq <= :upto"  # noqa: S608
                    " AND at < :cutoff"
                ).bindparams(bindparam("cutoff", type_=AuditRecord.__table__.c.at.type)),
                {"writer": writer, "upto": upto, "cutoff": plan.cutoff},
            )
        await session.execute(
            delete(AuditCheckpoint).where(
                AuditCheckpoint.writer == writer, AuditCheckpoint.seq < upto
            )
        )
    if plan.partitions:
        await session.execute(text("SET LOCAL lock_timeout = '10s'"))
        for name in plan.partitions:
            # Checked against the partition pattern when planned.
            await session.execute(text(f"DROP TABLE {name}"))
    return plan


RecordAdmin = Callable[..., None]


async def record_purge(
    plan: PurgePlan,
    *,
    actor: str,
    record_admin: RecordAdmin | None = None,
    settings: Settings | None = None,
    sessionmaker: async_sessionmaker[AsyncSession] | None = None,
) -> None:
    """Write the audit.purge record: through the running gateway's audit log
    (``record_admin``), or, from the command line (``settings`` and ``sessionmaker``), through
    a writer of its own: a chain of one record and its checkpoint, signed with the gateway's
    current signing key."""
    summary: Mapping[str, Any] = plan.summary()
    if record_admin is not None:
        record_admin(actor=actor, action=PURGE_ACTION, object="audit_records", summary=summary)
        return
    if settings is None or sessionmaker is None:
        raise ValueError("record_purge needs record_admin, or settings and a sessionmaker")
    from app.services.audit.actions import record_standalone

    written = await record_standalone(
        settings,
        sessionmaker,
        actor=actor,
        action=PURGE_ACTION,
        object="audit_records",
        summary=summary,
    )
    if not written:
        raise RuntimeError("the audit.purge record could not be written")
