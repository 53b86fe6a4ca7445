"""Accounts (persons, legal persons, agents and invitations), client applications, grants,
tokens, used partner ID tokens, keys, and the change feed that lets every instance apply
identity changes within seconds."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base
from app.models.service import DocumentJSON, utcnow

# BIGINT ids on PostgreSQL (tens of millions of residents); SQLite's rowid is already 64-bit and
# only autoincrements as INTEGER PRIMARY KEY.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class Person(Base):
    """A natural person (自然人). The ID number and phone are stored encrypted, with keyed hashes
    for look-up and masked forms for display."""

    __tablename__ = "persons"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    id_number_enc: Mapped[str] = mapped_column(String(200))
    id_number_hash: Mapped[str] = mapped_column(String(64), unique=True)
    id_number_masked: Mapped[str] = mapped_column(String(18))
    phone_enc: Mapped[str | None] = mapped_column(String(200))
    phone_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    phone_masked: Mapped[str | None] = mapped_column(String(11))
    password_hash: Mapped[str | None] = mapped_column(String(200))  # none for partner accounts
    assurance: Mapped[int] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(String(20))  # registered | partner:440000 ...
    status: Mapped[str] = mapped_column(String(10), default="active")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    disabled_at: Mapped[datetime | None] = mapped_column(default=None)


class LegalPerson(Base):
    """A legal person (法人), by unified social credit code (public information, stored plain)."""

    __tablename__ = "legal_persons"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    uscc: Mapped[str] = mapped_column(String(18), unique=True)
    legal_representative: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Agent(Base):
    """A person who may act for a legal person."""

    __tablename__ = "agents"
    __table_args__ = (UniqueConstraint("person_id", "legal_person_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"))
    legal_person_id: Mapped[int] = mapped_column(
        ForeignKey("legal_persons.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AgentInvitation(Base):
    """An agent's invitation of a person, named by ID number, to become an agent too.

    Stored by the keyed look-up hash of the ID number, not by account: inviting answers the same
    whether or not the number has an account, and a person who registers later still finds it.
    """

    __tablename__ = "agent_invitations"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    legal_person_id: Mapped[int] = mapped_column(
        ForeignKey("legal_persons.id", ondelete="CASCADE"), index=True
    )
    invited_by: Mapped[int] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"))
    id_number_hash: Mapped[str] = mapped_column(String(64), index=True)
    id_number_masked: Mapped[str] = mapped_column(String(18))
    status: Mapped[str] = mapped_column(String(10))  # pending | accepted | declined | revoked
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    decided_at: Mapped[datetime | None] = mapped_column(default=None)


class Client(Base):
    """An application that calls the gateway (the app itself, a partner app, an integrator)."""

    __tablename__ = "clients"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)  # the client_id
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20))  # app | partner | integrator
    roles: Mapped[list[str]] = mapped_column(DocumentJSON)
    division: Mapped[str | None] = mapped_column(String(6))  # a division admin's division
    secret_hash: Mapped[str] = mapped_column(String(64))
    rate_per_s: Mapped[float] = mapped_column(Float)
    burst: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(10), default="active")
    # Partners (cross-province single sign-on): whose ID tokens this client may exchange.
    partner_province: Mapped[str | None] = mapped_column(String(6))
    partner_issuer: Mapped[str | None] = mapped_column(String(500))
    partner_jwks: Mapped[dict[str, Any] | None] = mapped_column(DocumentJSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class Grant(Base):
    """Which service (or which of its operations) a client may call. Deny by default."""

    __tablename__ = "grants"
    __table_args__ = (UniqueConstraint("client_id", "division", "slug"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"))
    division: Mapped[str] = mapped_column(String(6))
    slug: Mapped[str] = mapped_column(String(40))
    operations: Mapped[list[str] | None] = mapped_column(DocumentJSON)  # None: every operation
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class RefreshToken(Base):
    """One refresh token of a family, rotated on every use; reusing a used one revokes them all."""

    __tablename__ = "refresh_tokens"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    family: Mapped[str] = mapped_column(String(32), index=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"), index=True)
    client_id: Mapped[str] = mapped_column(String(40))
    secret_hash: Mapped[str] = mapped_column(String(64))
    acting_for: Mapped[int | None] = mapped_column(BigId)
    issued_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    used_at: Mapped[datetime | None] = mapped_column(default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)


class PartnerTokenUse(Base):
    """A partner ID token already exchanged, by a hash of its (issuer, jti), kept until it expires:
    the unique key refuses a second exchange on every instance and worker."""

    __tablename__ = "partner_token_uses"

    token_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(index=True)
    used_at: Mapped[datetime] = mapped_column(default=utcnow)


class SigningKeyRow(Base):
    """A JWT signing key; the private half encrypted with the data key."""

    __tablename__ = "signing_keys"

    kid: Mapped[str] = mapped_column(String(64), primary_key=True)
    algorithm: Mapped[str] = mapped_column(String(20))
    private_key: Mapped[str] = mapped_column(Text)
    public_jwk: Mapped[dict[str, Any]] = mapped_column(DocumentJSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    retired_at: Mapped[datetime | None] = mapped_column(default=None)


class IdentityEvent(Base):
    """The change feed: instances poll it to apply disables, revocations, grants and keys."""

    __tablename__ = "identity_events"

    seq: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)
    kind: Mapped[str] = mapped_column(String(30))
    subject: Mapped[str] = mapped_column(String(100))
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class AccountCount(Base):
    """Accounts by kind, kept exact by increments in the same transaction as each insert."""

    __tablename__ = "account_counts"

    kind: Mapped[str] = mapped_column(String(20), primary_key=True)
    n: Mapped[int] = mapped_column(BigInteger)
