"""Reading the audit log back: writers, a writer's records and checkpoints in chain order, the
public keys of audit_keys. Small building blocks for verification, export and the views."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models.audit import AuditCheckpoint, AuditKey, AuditRecord

__all__ = ["checkpoints_of", "iter_records", "load_keys", "records_of", "writers"]


async def writers(session: AsyncSession) -> list[str]:
    """Every writer with a record or a checkpoint, sorted."""
    found = set(await session.scalars(select(AuditRecord.writer).distinct()))
    found.update(await session.scalars(select(AuditCheckpoint.writer).distinct()))
    return sorted(found)


async def records_of(
    session: AsyncSession,
    writer: str,
    *,
    after_seq: int = 0,
    through_seq: int | None = None,
    limit: int | None = None,
) -> Sequence[AuditRecord]:
    """The writer's records with ``after_seq < seq [<= through_seq]``, in seq order."""
    query = select(AuditRecord).where(AuditRecord.writer == writer, AuditRecord.seq > after_seq)
    if through_seq is not None:
        query = query.where(AuditRecord.seq <= through_seq)
    query = query.order_by(AuditRecord.seq)
    if limit is not None:
        query = query.limit(limit)
    return (await session.scalars(query)).all()


async def iter_records(
    session: AsyncSession, writer: str, *, after_seq: int = 0, page: int = 5000
) -> AsyncIterator[AuditRecord]:
    """All of the writer's records after ``after_seq`` in seq order, read ``page`` at a time
    (a chain of millions is never held in memory at once)."""
    while True:
        rows = await records_of(session, writer, after_seq=after_seq, limit=page)
        for row in rows:
            yield row
        if len(rows) < page:
            return
        after_seq = rows[-1].seq
        session.expunge_all()  # what was read is done with: keep the identity map small


async def checkpoints_of(
    session: AsyncSession, writer: str | None = None, *, since: datetime | None = None
) -> Sequence[AuditCheckpoint]:
    """Checkpoints (of one writer, or all), by writer then seq."""
    query = select(AuditCheckpoint)
    if writer is not None:
        query = query.where(AuditCheckpoint.writer == writer)
    if since is not None:
        query = query.where(AuditCheckpoint.at >= since)
    return (
        await session.scalars(query.order_by(AuditCheckpoint.writer, AuditCheckpoint.seq))
    ).all()


async def load_keys(session: AsyncSession) -> dict[str, dict[str, Any]]:
    """The public JWK of every key that signed a checkpoint, by kid."""
    rows = (await session.execute(select(AuditKey.kid, AuditKey.jwk))).all()
    return {kid: json.loads(jwk) for kid, jwk in rows}
