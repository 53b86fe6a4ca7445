"""The audit log: hash-chained records (partitioned by day on PostgreSQL), signed checkpoints,
the public keys that verify them, and residents' personal-data reads.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 14:20:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    # On PostgreSQL one partition per day (the writer creates each day's ahead of use; a default
    # partition catches anything else), so retention drops partitions instead of deleting rows.
    partitioning: dict[str, Any] = {"postgresql_partition_by": "RANGE (at)"} if postgresql else {}
    op.create_table(
        "audit_records",
        sa.Column("writer", sa.String(length=40), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("event_id", sa.String(length=40), nullable=True),
        sa.Column("request_id", sa.String(length=100), nullable=True),
        sa.Column("client_id", sa.String(length=64), nullable=True),
        sa.Column("subject", sa.String(length=100), nullable=True),
        sa.Column("division", sa.String(length=6), nullable=True),
        sa.Column("service", sa.String(length=100), nullable=True),
        sa.Column("operation_id", sa.String(length=200), nullable=True),
        sa.Column("item_code", sa.String(length=64), nullable=True),
        sa.Column("method", sa.String(length=10), nullable=True),
        sa.Column("status", sa.Integer(), nullable=True),
        sa.Column("outcome", sa.String(length=20), nullable=True),
        sa.Column("latency_us", sa.BigInteger(), nullable=True),
        sa.Column("request_digest", sa.String(length=64), nullable=True),
        sa.Column("response_digest", sa.String(length=64), nullable=True),
        sa.Column("actor", sa.String(length=100), nullable=True),
        sa.Column("action", sa.String(length=64), nullable=True),
        sa.Column("object", sa.String(length=200), nullable=True),
        sa.Column("summary", sa.Text(), nullable=True),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("writer", "seq", "at", name=op.f("pk_audit_records")),
        **partitioning,
    )
    if postgresql:
        op.execute("CREATE TABLE audit_records_default PARTITION OF audit_records DEFAULT")
    op.create_index("ix_audit_records_at", "audit_records", ["at"], unique=False)
    op.create_index("ix_audit_records_service_at", "audit_records", ["service", "at"], unique=False)
    op.create_index(
        "ix_audit_records_client_at", "audit_records", ["client_id", "at"], unique=False
    )
    op.create_index("ix_audit_records_subject_at", "audit_records", ["subject", "at"], unique=False)
    op.create_table(
        "audit_checkpoints",
        sa.Column("writer", sa.String(length=40), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("head_hash", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kid", sa.String(length=40), nullable=False),
        sa.Column("signature", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("writer", "seq", name=op.f("pk_audit_checkpoints")),
    )
    op.create_index(op.f("ix_audit_checkpoints_at"), "audit_checkpoints", ["at"], unique=False)
    op.create_table(
        "audit_keys",
        sa.Column("kid", sa.String(length=40), nullable=False),
        sa.Column("jwk", sa.Text(), nullable=False),
        sa.Column("first_used_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("kid", name=op.f("pk_audit_keys")),
    )
    op.create_table(
        "personal_data_reads",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("person_id", sa.BigInteger(), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=True),
        sa.Column("service", sa.String(length=100), nullable=True),
        sa.Column("purpose", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("request_id", sa.String(length=100), nullable=True),
        sa.Column("event_id", sa.String(length=40), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_personal_data_reads")),
    )
    op.create_index("ix_personal_data_reads_person_at", "personal_data_reads", ["person_id", "at"])
    op.create_index("ix_personal_data_reads_client_at", "personal_data_reads", ["client_id", "at"])


def downgrade() -> None:
    op.drop_index("ix_personal_data_reads_client_at", table_name="personal_data_reads")
    op.drop_index("ix_personal_data_reads_person_at", table_name="personal_data_reads")
    op.drop_table("personal_data_reads")
    op.drop_table("audit_keys")
    op.drop_index(op.f("ix_audit_checkpoints_at"), table_name="audit_checkpoints")
    op.drop_table("audit_checkpoints")
    op.drop_index("ix_audit_records_subject_at", table_name="audit_records")
    op.drop_index("ix_audit_records_client_at", table_name="audit_records")
    op.drop_index("ix_audit_records_service_at", table_name="audit_records")
    op.drop_index("ix_audit_records_at", table_name="audit_records")
    op.drop_table("audit_records")  # on PostgreSQL its partitions go with it
