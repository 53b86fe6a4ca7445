"""Operators' dashboard sign-outs, kept until the signed-out session would have expired.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07 04:30:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "operator_session_ends",
        sa.Column("session_id", sa.String(length=32), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("session_id", name=op.f("pk_operator_session_ends")),
    )
    op.create_index(
        op.f("ix_operator_session_ends_expires_at"),
        "operator_session_ends",
        ["expires_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_operator_session_ends_expires_at"), table_name="operator_session_ends")
    op.drop_table("operator_session_ends")
