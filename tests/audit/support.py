"""Helpers for audit tests: events, and checks of a stored chain with ``app.services.audit.chain``
directly (independent of the verifier, which has tests of its own)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.config import Settings
from app.core.db import create_engine
from app.events import AccessEvent, outcome_of
from app.models.audit import AuditCheckpoint, AuditKey, AuditRecord
from app.services.audit.chain import fields_of, genesis, record_hash, verify_checkpoint


def event(
    *,
    at: datetime,
    status: int = 200,
    client_id: str | None = "c-test",
    personal_data_of: int | None = None,
    purpose: str | None = None,
    request_id: str | None = None,
) -> AccessEvent:
    return AccessEvent(
        event_id=uuid.uuid4().hex,
        request_id=request_id or uuid.uuid4().hex,
        at=at,
        client_id=client_id,
        division="430100",
        service_id=7,
        service="430100/zwfw",
        operation_id="getFundAccount",
        item_code=None,
        method="GET",
        status=status,
        outcome=outcome_of(status, from_upstream=True),
        from_upstream=True,
        upstream_ms=2.0,
        total_ms=3.25,
        subject="pairwise-subject",
        request_digest="a" * 64,
        response_digest="b" * 64,
        personal_data_of=personal_data_of,
        purpose=purpose,
    )


def assert_chain(records: Sequence[AuditRecord], writer: str) -> None:
    """``records`` (one writer's, in seq order) are that writer's whole chain from seq 1: no
    gap, no duplicate, each linked to the one before, each hash what its fields give."""
    previous = genesis(writer)
    for expected_seq, record in enumerate(records, start=1):
        assert record.writer == writer
        assert record.seq == expected_seq, f"seq {record.seq} where {expected_seq} was due"
        assert record.prev_hash == previous, f"seq {record.seq} does not link to the one before"
        assert record.hash == record_hash(fields_of(record)), f"seq {record.seq} was altered"
        previous = record.hash


def assert_checkpoints(
    checkpoints: Sequence[AuditCheckpoint],
    records: Sequence[AuditRecord],
    keys: Mapping[str, str],
) -> None:
    """Every checkpoint signs the hash of the record at its seq, with a key of ``keys``."""
    by_seq = {record.seq: record for record in records}
    for checkpoint in checkpoints:
        assert checkpoint.head_hash == by_seq[checkpoint.seq].hash, checkpoint.seq
        assert checkpoint.kid in keys, f"key {checkpoint.kid} is not in audit_keys"
        assert verify_checkpoint(
            keys[checkpoint.kid],
            writer=checkpoint.writer,
            seq=checkpoint.seq,
            head_hash=checkpoint.head_hash,
            at=checkpoint.at,
            signature=checkpoint.signature,
        ), f"checkpoint {checkpoint.writer}/{checkpoint.seq} does not verify"


async def stored(url: str, data_dir: Path) -> dict[str, Any]:
    """Everything in the audit tables of the database at ``url`` (a live server's): records and
    checkpoints by writer (seq order), and audit_keys (kid: JWK text)."""
    engine = create_engine(Settings(data_dir=data_dir), url)
    records: dict[str, list[AuditRecord]] = {}
    checkpoints: dict[str, list[AuditCheckpoint]] = {}
    try:
        async with AsyncSession(engine) as session:
            for record in await session.scalars(
                select(AuditRecord).order_by(AuditRecord.writer, AuditRecord.seq)
            ):
                records.setdefault(record.writer, []).append(record)
            for checkpoint in await session.scalars(
                select(AuditCheckpoint).order_by(AuditCheckpoint.writer, AuditCheckpoint.seq)
            ):
                checkpoints.setdefault(checkpoint.writer, []).append(checkpoint)
            keys = {
                kid: jwk for kid, jwk in await session.execute(select(AuditKey.kid, AuditKey.jwk))
            }
    finally:
        await engine.dispose()
    return {"records": records, "checkpoints": checkpoints, "keys": keys}
