"""E-license: holders' consents and scan-to-show presentations.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 17:20:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "license_consents",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("person_id", _ID, nullable=True),
        sa.Column("legal_person_id", _ID, nullable=True),
        sa.Column("granted_by", _ID, nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("license_type", sa.String(length=21), nullable=False),
        sa.Column("purpose", sa.String(length=200), nullable=False),
        sa.Column("until", sa.Date(), nullable=False),
        sa.Column("granted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["person_id"], ["persons.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["legal_person_id"], ["legal_persons.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["granted_by"], ["persons.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_license_consents_lookup",
        "license_consents",
        ["client_id", "license_type", "person_id"],
    )
    op.create_index("ix_license_consents_legal_person", "license_consents", ["legal_person_id"])
    op.create_index("ix_license_consents_person_id", "license_consents", ["person_id"])
    op.create_table(
        "license_presentations",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("license_id", sa.String(length=160), nullable=False),
        sa.Column("person_id", _ID, nullable=False),
        sa.Column("sd_jwt", sa.Text(), nullable=False),
        sa.Column("holder_masked", sa.String(length=300), nullable=False),
        sa.Column("disclosed", sa.String(length=2000), nullable=False),
        sa.Column("single_use", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["person_id"], ["persons.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_license_presentations_person_id", "license_presentations", ["person_id"])


def downgrade() -> None:
    op.drop_index("ix_license_presentations_person_id", table_name="license_presentations")
    op.drop_table("license_presentations")
    op.drop_index("ix_license_consents_person_id", table_name="license_consents")
    op.drop_index("ix_license_consents_legal_person", table_name="license_consents")
    op.drop_index("ix_license_consents_lookup", table_name="license_consents")
    op.drop_table("license_consents")
