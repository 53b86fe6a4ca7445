"""12345 hotline and 好差评: tickets, their transitions, callback receipts, ratings, follow-ups;
audit records found by event id (a resident rates a completed call by it).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-08 00:10:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_AT = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_index("ix_audit_records_event_id", "audit_records", ["event_id"])
    op.create_table(
        "hotline_tickets",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("service", sa.String(length=100), nullable=False),
        sa.Column("person_id", _ID, nullable=False),
        sa.Column("legal_person_id", _ID, nullable=True),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("idempotency_key", sa.String(length=64), nullable=False),
        sa.Column("request_digest", sa.String(length=64), nullable=False),
        sa.Column("number", sa.String(length=40), nullable=True),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("category", sa.String(length=20), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("division", sa.String(length=6), nullable=False),
        sa.Column("item_code", sa.String(length=64), nullable=True),
        sa.Column("desk", sa.String(length=10), nullable=False),
        sa.Column("priority", sa.String(length=10), nullable=False),
        sa.Column("centre", sa.String(length=10), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("last_seq", sa.Integer(), nullable=False),
        sa.Column("reply", sa.Text(), nullable=True),
        sa.Column("filed_at", _AT, nullable=False),
        sa.Column("deadline_at", _AT, nullable=False),
        sa.Column("deadline_estimated", sa.Boolean(), nullable=False),
        sa.Column("closed_at", _AT, nullable=True),
        sa.ForeignKeyConstraint(["person_id"], ["persons.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["legal_person_id"], ["legal_persons.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("number"),
        sa.UniqueConstraint("person_id", "idempotency_key", name="uq_hotline_tickets_idempotency"),
    )
    op.create_index("ix_hotline_tickets_person_filed", "hotline_tickets", ["person_id", "filed_at"])
    op.create_index("ix_hotline_tickets_status_division", "hotline_tickets", ["status", "division"])
    op.create_table(
        "hotline_ticket_events",
        sa.Column("ticket_id", sa.String(length=32), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("at", _AT, nullable=False),
        sa.Column("centre", sa.String(length=10), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("received_at", _AT, nullable=False),
        sa.ForeignKeyConstraint(["ticket_id"], ["hotline_tickets.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("ticket_id", "seq"),
    )
    op.create_table(
        "hotline_callback_receipts",
        sa.Column("signature", sa.String(length=80), nullable=False),
        sa.Column("event", sa.String(length=80), nullable=False),
        sa.Column("received_at", _AT, nullable=False),
        sa.PrimaryKeyConstraint("signature"),
    )
    op.create_index(
        "ix_hotline_callback_receipts_received_at", "hotline_callback_receipts", ["received_at"]
    )
    op.create_table(
        "hotline_ratings",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("person_id", _ID, nullable=False),
        sa.Column("subject_kind", sa.String(length=10), nullable=False),
        sa.Column("subject_id", sa.String(length=40), nullable=False),
        sa.Column("item_code", sa.String(length=64), nullable=True),
        sa.Column("division", sa.String(length=6), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("rated_at", _AT, nullable=False),
        sa.ForeignKeyConstraint(["person_id"], ["persons.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(
            "person_id", "subject_kind", "subject_id", name="uq_hotline_ratings_once"
        ),
    )
    op.create_index("ix_hotline_ratings_rated_at", "hotline_ratings", ["rated_at"])
    op.create_table(
        "hotline_follow_ups",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("rating_id", sa.String(length=32), nullable=False),
        sa.Column("division", sa.String(length=6), nullable=False),
        sa.Column("item_code", sa.String(length=64), nullable=True),
        sa.Column("opened_at", _AT, nullable=False),
        sa.Column("deadline_at", _AT, nullable=False),
        sa.Column("deadline_estimated", sa.Boolean(), nullable=False),
        sa.Column("closed_at", _AT, nullable=True),
        sa.Column("closed_by", sa.String(length=100), nullable=True),
        sa.Column("resolution", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["rating_id"], ["hotline_ratings.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("rating_id"),
    )
    op.create_index("ix_hotline_follow_ups_open", "hotline_follow_ups", ["closed_at", "division"])


def downgrade() -> None:
    op.drop_index("ix_hotline_follow_ups_open", table_name="hotline_follow_ups")
    op.drop_table("hotline_follow_ups")
    op.drop_index("ix_hotline_ratings_rated_at", table_name="hotline_ratings")
    op.drop_table("hotline_ratings")
    op.drop_index(
        "ix_hotline_callback_receipts_received_at", table_name="hotline_callback_receipts"
    )
    op.drop_table("hotline_callback_receipts")
    op.drop_table("hotline_ticket_events")
    op.drop_index("ix_hotline_tickets_status_division", table_name="hotline_tickets")
    op.drop_index("ix_hotline_tickets_person_filed", table_name="hotline_tickets")
    op.drop_table("hotline_tickets")
    op.drop_index("ix_audit_records_event_id", table_name="audit_records")
