"""Identity: persons, legal persons, agents, clients, grants, refresh tokens, signing keys,
the identity change feed and account counts; services get min_assurance and upstream credentials.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27 11:45:05.098931
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    account_counts = op.create_table(
        "account_counts",
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("n", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("kind", name=op.f("pk_account_counts")),
    )
    op.bulk_insert(account_counts, [{"kind": "persons", "n": 0}, {"kind": "legal_persons", "n": 0}])
    # Row 2 of gateway_state numbers the identity change feed (row 1 numbers route changes).
    op.execute("INSERT INTO gateway_state (id, change_seq) VALUES (2, 0)")
    op.create_table(
        "clients",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column(
            "roles",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("division", sa.String(length=6), nullable=True),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("rate_per_s", sa.Float(), nullable=False),
        sa.Column("burst", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("partner_province", sa.String(length=6), nullable=True),
        sa.Column("partner_issuer", sa.String(length=500), nullable=True),
        sa.Column(
            "partner_jwks",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_clients")),
    )
    op.create_table(
        "identity_events",
        sa.Column(
            "seq",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=False,
            nullable=False,
        ),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("subject", sa.String(length=100), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_identity_events")),
    )
    with op.batch_alter_table("identity_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_identity_events_at"), ["at"], unique=False)

    op.create_table(
        "legal_persons",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("uscc", sa.String(length=18), nullable=False),
        sa.Column("legal_representative", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_legal_persons")),
        sa.UniqueConstraint("uscc", name=op.f("uq_legal_persons_uscc")),
    )
    op.create_table(
        "persons",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("id_number_enc", sa.String(length=200), nullable=False),
        sa.Column("id_number_hash", sa.String(length=64), nullable=False),
        sa.Column("id_number_masked", sa.String(length=18), nullable=False),
        sa.Column("phone_enc", sa.String(length=200), nullable=True),
        sa.Column("phone_hash", sa.String(length=64), nullable=True),
        sa.Column("phone_masked", sa.String(length=11), nullable=True),
        sa.Column("password_hash", sa.String(length=200), nullable=True),
        sa.Column("assurance", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_persons")),
        sa.UniqueConstraint("id_number_hash", name=op.f("uq_persons_id_number_hash")),
        sa.UniqueConstraint("phone_hash", name=op.f("uq_persons_phone_hash")),
    )
    op.create_table(
        "signing_keys",
        sa.Column("kid", sa.String(length=64), nullable=False),
        sa.Column("algorithm", sa.String(length=20), nullable=False),
        sa.Column("private_key", sa.Text(), nullable=False),
        sa.Column(
            "public_jwk",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("kid", name=op.f("pk_signing_keys")),
    )
    op.create_table(
        "agents",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "person_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "legal_person_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["legal_person_id"],
            ["legal_persons.id"],
            name=op.f("fk_agents_legal_person_id_legal_persons"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["persons.id"],
            name=op.f("fk_agents_person_id_persons"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agents")),
        sa.UniqueConstraint(
            "person_id", "legal_person_id", name=op.f("uq_agents_person_id_legal_person_id")
        ),
    )
    with op.batch_alter_table("agents", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_agents_legal_person_id"), ["legal_person_id"], unique=False
        )

    op.create_table(
        "grants",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("client_id", sa.String(length=40), nullable=False),
        sa.Column("division", sa.String(length=6), nullable=False),
        sa.Column("slug", sa.String(length=40), nullable=False),
        sa.Column(
            "operations",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["clients.id"],
            name=op.f("fk_grants_client_id_clients"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_grants")),
        sa.UniqueConstraint(
            "client_id", "division", "slug", name=op.f("uq_grants_client_id_division_slug")
        ),
    )
    op.create_table(
        "refresh_tokens",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("family", sa.String(length=32), nullable=False),
        sa.Column(
            "person_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("client_id", sa.String(length=40), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column(
            "acting_for", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["persons.id"],
            name=op.f("fk_refresh_tokens_person_id_persons"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_refresh_tokens")),
    )
    with op.batch_alter_table("refresh_tokens", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_refresh_tokens_family"), ["family"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_refresh_tokens_person_id"), ["person_id"], unique=False
        )

    with op.batch_alter_table("services", schema=None) as batch_op:
        # Existing services keep letting applications call them (0), as they did before.
        batch_op.add_column(
            sa.Column("min_assurance", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(sa.Column("upstream_auth_enc", sa.Text(), nullable=True))

    with op.batch_alter_table("services", schema=None) as batch_op:
        batch_op.alter_column("min_assurance", server_default=None)


def downgrade() -> None:
    op.execute("DELETE FROM gateway_state WHERE id = 2")
    with op.batch_alter_table("services", schema=None) as batch_op:
        batch_op.drop_column("upstream_auth_enc")
        batch_op.drop_column("min_assurance")

    with op.batch_alter_table("refresh_tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_refresh_tokens_person_id"))
        batch_op.drop_index(batch_op.f("ix_refresh_tokens_family"))

    op.drop_table("refresh_tokens")
    op.drop_table("grants")
    with op.batch_alter_table("agents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_agents_legal_person_id"))

    op.drop_table("agents")
    op.drop_table("signing_keys")
    op.drop_table("persons")
    op.drop_table("legal_persons")
    with op.batch_alter_table("identity_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_identity_events_at"))

    op.drop_table("identity_events")
    op.drop_table("clients")
    op.drop_table("account_counts")
