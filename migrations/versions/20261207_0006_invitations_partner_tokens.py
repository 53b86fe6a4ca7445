"""Agent invitations (by the keyed hash of the invited ID number) and the partner ID tokens
already exchanged (by a hash of their issuer and jti, until they expire); private key members
are removed from partner key sets stored before registration refused them.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07 03:40:54.099260
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# JWK members holding private or secret key material (RFC 7518 §6.2.2, §6.3.2, §6.4.1).
_PRIVATE_MEMBERS = ("d", "p", "q", "dp", "dq", "qi", "oth", "k")


def _public_only(jwks: object) -> object:
    if not isinstance(jwks, dict) or not isinstance(jwks.get("keys"), list):
        return jwks
    keys = [
        {k: v for k, v in key.items() if k not in _PRIVATE_MEMBERS}
        if isinstance(key, dict)
        else key
        for key in jwks["keys"]
    ]
    return {**jwks, "keys": keys}


def _strip_private_partner_keys() -> None:
    clients = sa.table(
        "clients",
        sa.column("id", sa.String()),
        sa.column(
            "partner_jwks",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
        ),
    )
    bind = op.get_bind()
    rows = bind.execute(
        sa.select(clients.c.id, clients.c.partner_jwks).where(clients.c.partner_jwks.is_not(None))
    ).all()
    for client_id, jwks in rows:
        cleaned = _public_only(jwks)
        if cleaned != jwks:
            bind.execute(
                clients.update().where(clients.c.id == client_id).values(partner_jwks=cleaned)
            )


def upgrade() -> None:
    _strip_private_partner_keys()
    op.create_table(
        "partner_token_uses",
        sa.Column("token_key", sa.String(length=64), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("token_key", name=op.f("pk_partner_token_uses")),
    )
    with op.batch_alter_table("partner_token_uses", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_partner_token_uses_expires_at"), ["expires_at"], unique=False
        )

    op.create_table(
        "agent_invitations",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "legal_person_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "invited_by", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("id_number_hash", sa.String(length=64), nullable=False),
        sa.Column("id_number_masked", sa.String(length=18), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["invited_by"],
            ["persons.id"],
            name=op.f("fk_agent_invitations_invited_by_persons"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["legal_person_id"],
            ["legal_persons.id"],
            name=op.f("fk_agent_invitations_legal_person_id_legal_persons"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agent_invitations")),
    )
    with op.batch_alter_table("agent_invitations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_agent_invitations_id_number_hash"), ["id_number_hash"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_agent_invitations_legal_person_id"), ["legal_person_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("agent_invitations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_agent_invitations_legal_person_id"))
        batch_op.drop_index(batch_op.f("ix_agent_invitations_id_number_hash"))
    op.drop_table("agent_invitations")

    with op.batch_alter_table("partner_token_uses", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_partner_token_uses_expires_at"))
    op.drop_table("partner_token_uses")
