"""Chains built with ``app.services.audit.chain`` directly: records, checkpoints, keys (no app)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from app.identity.keys import SigningKey, generate_key
from app.services.audit.chain import fields_of, format_at, genesis, record_hash, sign_checkpoint

T0 = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)


class Chain:
    """One writer's records and checkpoints, as the writer would store them."""

    def __init__(self, writer: str = "test-writer-1", key: SigningKey | None = None) -> None:
        self.writer = writer
        self.key = key or generate_key(T0)
        self.keys: dict[str, str] = {self.key.kid: json.dumps(self.key.public_jwk)}
        self.records: list[dict[str, Any]] = []
        self.checkpoints: list[dict[str, Any]] = []

    @property
    def head(self) -> str:
        return self.records[-1]["hash"] if self.records else genesis(self.writer)

    def add(
        self, n: int = 1, *, start: datetime = T0, step: timedelta = timedelta(seconds=1)
    ) -> Chain:
        for _ in range(n):
            seq = len(self.records) + 1
            row: dict[str, Any] = {
                "writer": self.writer,
                "seq": seq,
                "at": start + step * seq,
                "kind": "call" if seq % 5 else "admin",
                "event_id": f"ev-{seq:06d}",
                "request_id": f"req-{seq}",
                "client_id": "demo-client",
                "subject": "sub-abc",
                "division": "430100",
                "service": "430100/bdc",
                "operation_id": "getRecord",
                "item_code": None,
                "method": "GET",
                "status": 200,
                "outcome": "success",
                "latency_us": 1200 + seq,
                "request_digest": "a" * 64,
                "response_digest": "b" * 64,
                "actor": None if seq % 5 else "admin",
                "action": None if seq % 5 else "clients.create",
                "object": None,
                "summary": None if seq % 5 else '{"after":{"name":"x"}}',
                "prev_hash": self.head,
            }
            row["hash"] = record_hash(fields_of(row))
            self.records.append(row)
        return self

    def checkpoint(self, key: SigningKey | None = None) -> Chain:
        key = key or self.key
        self.keys[key.kid] = json.dumps(key.public_jwk)
        last = self.records[-1]
        at = last["at"] + timedelta(milliseconds=1)
        self.checkpoints.append(
            {
                "writer": self.writer,
                "seq": last["seq"],
                "head_hash": last["hash"],
                "at": at,
                "kid": key.kid,
                "signature": sign_checkpoint(
                    key, writer=self.writer, seq=last["seq"], head_hash=last["hash"], at=at
                ),
            }
        )
        return self

    def seq(self, seq: int) -> dict[str, Any]:
        return next(r for r in self.records if r["seq"] == seq)


def at_text(row: dict[str, Any]) -> str:
    return format_at(row["at"])


async def migrated(url: str, data_dir: Any) -> None:
    """Bring a fresh database to head."""
    from app.core.config import Settings
    from app.core.db import create_engine
    from app.core.migrations import upgrade

    engine = create_engine(Settings(data_dir=data_dir), url)
    try:
        await upgrade(engine)
    finally:
        await engine.dispose()


async def store(url: str, data_dir: Any, *chains: Chain) -> None:
    """Write chains into a database as the writer would (records, checkpoints, keys), creating
    the day partitions on PostgreSQL."""
    from sqlalchemy import insert, text

    from app.core.config import Settings
    from app.core.db import create_engine
    from app.models.audit import AuditCheckpoint, AuditKey, AuditRecord
    from app.services.audit.log import _create_partition_sql

    engine = create_engine(Settings(data_dir=data_dir), url)
    try:
        async with engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                days = {r["at"].astimezone(UTC).date() for c in chains for r in c.records}
                for day in sorted(days):
                    await conn.execute(text(_create_partition_sql(day)))
            keys: dict[str, str] = {}
            for chain in chains:
                keys.update(chain.keys)
                if chain.records:
                    await conn.execute(insert(AuditRecord), chain.records)
                if chain.checkpoints:
                    await conn.execute(insert(AuditCheckpoint), chain.checkpoints)
            for kid, jwk in keys.items():
                await conn.execute(insert(AuditKey).values(kid=kid, jwk=jwk, first_used_at=T0))
    finally:
        await engine.dispose()
