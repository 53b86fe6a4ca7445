"""Catalog of service items and synonyms, access-count roll-ups and applied batches, target
snapshots, operator accounts (with the common synonyms seeded).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27 12:52:39.848412
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "access_counts",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("hour", sa.Integer(), nullable=False),
        sa.Column("service_id", sa.Integer(), nullable=False),
        sa.Column("operation_id", sa.String(length=200), nullable=False),
        sa.Column("client_id", sa.String(length=40), nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("calls", sa.BigInteger(), nullable=False),
        sa.Column("total_ms", sa.Float(), nullable=False),
        sa.Column("upstream_ms", sa.Float(), nullable=False),
        sa.Column("le_5", sa.BigInteger(), nullable=False),
        sa.Column("le_10", sa.BigInteger(), nullable=False),
        sa.Column("le_25", sa.BigInteger(), nullable=False),
        sa.Column("le_50", sa.BigInteger(), nullable=False),
        sa.Column("le_100", sa.BigInteger(), nullable=False),
        sa.Column("le_250", sa.BigInteger(), nullable=False),
        sa.Column("le_500", sa.BigInteger(), nullable=False),
        sa.Column("le_1000", sa.BigInteger(), nullable=False),
        sa.Column("le_2500", sa.BigInteger(), nullable=False),
        sa.Column("le_5000", sa.BigInteger(), nullable=False),
        sa.Column("le_10000", sa.BigInteger(), nullable=False),
        sa.Column("le_inf", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(
            "day",
            "hour",
            "service_id",
            "operation_id",
            "client_id",
            "outcome",
            name=op.f("pk_access_counts"),
        ),
    )
    with op.batch_alter_table("access_counts", schema=None) as batch_op:
        batch_op.create_index("ix_access_counts_client_day", ["client_id", "day"], unique=False)
        batch_op.create_index(
            "ix_access_counts_operation_day", ["service_id", "operation_id", "day"], unique=False
        )

    synonyms = op.create_table(
        "catalog_synonyms",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("term", sa.String(length=40), nullable=False),
        sa.Column("expansion", sa.String(length=80), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_catalog_synonyms")),
        sa.UniqueConstraint("term", "expansion", name=op.f("uq_catalog_synonyms_term_expansion")),
    )
    with op.batch_alter_table("catalog_synonyms", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_catalog_synonyms_term"), ["term"], unique=False)
    # The abbreviations people type most; operators add more through the admin API.
    op.bulk_insert(
        synonyms,
        [
            {"term": term, "expansion": expansion}
            for term, expansion in (
                ("社保", "社会保险"),
                ("医保", "医疗保险"),
                ("公积金", "住房公积金"),
                ("身份证", "居民身份证"),
                ("户口", "户籍"),
                ("营业执照", "营业执照"),
                ("驾照", "驾驶证"),
                ("结婚证", "婚姻登记"),
                ("出生证", "出生医学证明"),
                ("退休", "养老保险"),
                ("低保", "最低生活保障"),
                ("残疾证", "残疾人证"),
                ("不动产", "不动产登记"),
                ("房产证", "不动产权证书"),
                ("居住证", "居住证"),
            )
            if term != expansion
        ],
    )

    op.create_table(
        "counter_batches",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("flushed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_counter_batches")),
    )
    with op.batch_alter_table("counter_batches", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_counter_batches_flushed_at"), ["flushed_at"], unique=False
        )

    op.create_table(
        "items",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("type", sa.String(length=20), nullable=False),
        sa.Column("legal_basis", sa.Text(), nullable=False),
        sa.Column("service_object", sa.String(length=20), nullable=False),
        sa.Column("acceptance_conditions", sa.Text(), nullable=False),
        sa.Column(
            "materials",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("time_limit_days", sa.Integer(), nullable=False),
        sa.Column("result", sa.String(length=200), nullable=False),
        sa.Column("division", sa.String(length=6), nullable=False),
        sa.Column("department", sa.String(length=100), nullable=False),
        sa.Column("online", sa.Boolean(), nullable=False),
        sa.Column("one_network", sa.Boolean(), nullable=False),
        sa.Column("cross_province", sa.Boolean(), nullable=False),
        sa.Column("search_text", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_items")),
        sa.UniqueConstraint("code", name=op.f("uq_items_code")),
    )
    with op.batch_alter_table("items", schema=None) as batch_op:
        batch_op.create_index("ix_items_division_type", ["division", "type"], unique=False)
        batch_op.create_index(
            "ix_items_flags", ["online", "one_network", "cross_province"], unique=False
        )

    op.create_table(
        "operators",
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("password_hash", sa.String(length=200), nullable=False),
        sa.Column(
            "roles",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("username", name=op.f("pk_operators")),
    )
    op.create_table(
        "target_snapshots",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("target", sa.String(length=30), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("day", "target", name=op.f("pk_target_snapshots")),
    )


def downgrade() -> None:
    op.drop_table("target_snapshots")
    op.drop_table("operators")
    with op.batch_alter_table("items", schema=None) as batch_op:
        batch_op.drop_index("ix_items_flags")
        batch_op.drop_index("ix_items_division_type")

    op.drop_table("items")
    with op.batch_alter_table("counter_batches", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_counter_batches_flushed_at"))

    op.drop_table("counter_batches")
    with op.batch_alter_table("catalog_synonyms", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_catalog_synonyms_term"))

    op.drop_table("catalog_synonyms")
    with op.batch_alter_table("access_counts", schema=None) as batch_op:
        batch_op.drop_index("ix_access_counts_operation_day")
        batch_op.drop_index("ix_access_counts_client_day")

    op.drop_table("access_counts")
