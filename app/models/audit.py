"""The audit log: hash-chained records of calls and admin actions, signed checkpoints, the public
keys that verify them, and residents' personal-data reads.

Each writer (one per process start: a worker, an instance, a CLI run) keeps its own chain, so
writers never contend: ``(writer, seq)`` is a record's place, ``prev_hash`` the hash of the
writer's record before it. The hash covers every column but ``hash`` itself, in the canonical
form of ``app.services.audit.chain``. ``summary`` is kept as that canonical JSON text (not a JSON
column): PostgreSQL's jsonb reorders keys, which would change what the hash covers.

On PostgreSQL ``audit_records`` is partitioned by day on ``at`` (the migration creates it so, and
the writer adds each day's partition): retention drops whole partitions. The primary key
includes ``at`` because a partitioned table's unique keys must include the partition key.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base


class AuditRecord(Base):
    """One gateway call (``kind`` "call") or one admin action (``kind`` "admin")."""

    __tablename__ = "audit_records"
    __table_args__ = (
        Index("ix_audit_records_at", "at"),
        Index("ix_audit_records_service_at", "service", "at"),
        Index("ix_audit_records_client_at", "client_id", "at"),
        Index("ix_audit_records_subject_at", "subject", "at"),
        # A resident rates a completed call by its event id (好差评, app/services/hotline).
        Index("ix_audit_records_event_id", "event_id"),
        {"postgresql_partition_by": "RANGE (at)"},
    )

    writer: Mapped[str] = mapped_column(String(40), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    at: Mapped[datetime] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))  # "call" | "admin"
    event_id: Mapped[str | None] = mapped_column(String(40))
    request_id: Mapped[str | None] = mapped_column(String(100))
    client_id: Mapped[str | None] = mapped_column(String(64))
    subject: Mapped[str | None] = mapped_column(String(100))  # pairwise subject for the service
    division: Mapped[str | None] = mapped_column(String(6))
    service: Mapped[str | None] = mapped_column(String(100))  # "division/slug"
    operation_id: Mapped[str | None] = mapped_column(String(200))
    item_code: Mapped[str | None] = mapped_column(String(64))
    method: Mapped[str | None] = mapped_column(String(10))
    status: Mapped[int | None] = mapped_column(Integer)
    outcome: Mapped[str | None] = mapped_column(String(20))
    latency_us: Mapped[int | None] = mapped_column(BigInteger)
    request_digest: Mapped[str | None] = mapped_column(String(64))  # SHA-256, hex
    response_digest: Mapped[str | None] = mapped_column(String(64))  # SHA-256, hex
    actor: Mapped[str | None] = mapped_column(String(100))
    action: Mapped[str | None] = mapped_column(String(64))
    object: Mapped[str | None] = mapped_column(String(200))
    summary: Mapped[str | None] = mapped_column(Text)  # canonical JSON text
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditCheckpoint(Base):
    """A writer's chain head, signed: records up to ``seq`` are covered by ``signature``."""

    __tablename__ = "audit_checkpoints"

    writer: Mapped[str] = mapped_column(String(40), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    head_hash: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(index=True)
    kid: Mapped[str] = mapped_column(String(40))
    signature: Mapped[str] = mapped_column(String(200))  # base64url Ed25519 signature


class AuditKey(Base):
    """The public key (JWK) of every key that signed a checkpoint: kept after the signing key
    itself is rotated out and pruned, so old checkpoints still verify."""

    __tablename__ = "audit_keys"

    kid: Mapped[str] = mapped_column(String(40), primary_key=True)
    jwk: Mapped[str] = mapped_column(Text)  # canonical JSON text of the public JWK
    first_used_at: Mapped[datetime] = mapped_column()


class PersonalDataRead(Base):
    """A read of a resident's personal data: who (client), through what (service), why (purpose),
    when, and how (kind: "identity-lookup", "gateway-call", "license-read")."""

    __tablename__ = "personal_data_reads"
    __table_args__ = (
        Index("ix_personal_data_reads_person_at", "person_id", "at"),
        Index("ix_personal_data_reads_client_at", "client_id", "at"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    at: Mapped[datetime] = mapped_column()
    person_id: Mapped[int] = mapped_column(BigInteger)
    client_id: Mapped[str | None] = mapped_column(String(64))
    service: Mapped[str | None] = mapped_column(String(100))
    purpose: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20))
    request_id: Mapped[str | None] = mapped_column(String(100))
    event_id: Mapped[str | None] = mapped_column(String(40))
