"""Onboarded services, their document history, their operations, and the change sequence."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.db import Base

DocumentJSON = JSON().with_variant(JSONB(), "postgresql")


def utcnow() -> datetime:
    return datetime.now(UTC)


class ServiceStatus(StrEnum):
    ACTIVE = "active"
    RETIRED = "retired"


class DataClassification(StrEnum):
    """How sensitive the data a service handles is (数据分级分类); decides what upstreams learn."""

    PUBLIC = "public"  # open information; no personal data
    INTERNAL = "internal"  # government-internal, no personal data beyond pseudonyms
    PERSONAL = "personal"  # personal information: the verified ID number may be passed
    SENSITIVE = "sensitive"  # sensitive personal information (health, finance, minors)


class Service(Base):
    """An upstream API onboarded from its OpenAPI document, routed at /gw/{division}/{slug}."""

    __tablename__ = "services"
    __table_args__ = (UniqueConstraint("division", "slug"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    division: Mapped[str] = mapped_column(String(6))
    slug: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(200))
    connector: Mapped[str] = mapped_column(String(40))
    upstream_url: Mapped[str] = mapped_column(String(2000))
    data_classification: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(10), default=ServiceStatus.ACTIVE)
    version: Mapped[int] = mapped_column(Integer, default=1)
    # Resilience policy (per service).
    timeout_s: Mapped[float] = mapped_column(Float)
    retries: Mapped[int] = mapped_column(Integer)
    breaker_threshold: Mapped[int] = mapped_column(Integer)
    breaker_cooldown_s: Mapped[float] = mapped_column(Float)
    max_concurrency: Mapped[int] = mapped_column(Integer)
    # The least assurance level a person's token needs (0: applications alone may call).
    min_assurance: Mapped[int] = mapped_column(Integer, default=0)
    # Credentials the gateway presents upstream ({header: value}, encrypted; never shown).
    upstream_auth_enc: Mapped[str | None] = mapped_column(Text, default=None)
    # The current document, as parsed (JSON), and the digest of the bytes that were submitted.
    openapi_version: Mapped[str] = mapped_column(String(8))
    document: Mapped[dict[str, Any]] = mapped_column(DocumentJSON)
    document_sha256: Mapped[str] = mapped_column(String(64))
    # Non-fatal findings of the analysis of the current document ([{pointer, message}]).
    warnings: Mapped[list[dict[str, str]]] = mapped_column(DocumentJSON)
    # Every change takes the next value of gateway_state.change_seq: instances poll for it.
    change_seq: Mapped[int] = mapped_column(BigInteger, index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    retired_at: Mapped[datetime | None] = mapped_column(default=None)

    operations: Mapped[list[Operation]] = relationship(
        back_populates="service",
        lazy="raise",
        cascade="all, delete-orphan",
        order_by="Operation.id",
    )


class ServiceVersion(Base):
    """Every document a service has had, kept for history and contract comparison."""

    __tablename__ = "service_versions"
    __table_args__ = (UniqueConstraint("service_id", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    upstream_url: Mapped[str] = mapped_column(String(2000))
    openapi_version: Mapped[str] = mapped_column(String(8))
    document: Mapped[dict[str, Any]] = mapped_column(DocumentJSON)
    document_sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Operation(Base):
    """One method + path of a service's current version, optionally bound to a catalog item."""

    __tablename__ = "operations"
    __table_args__ = (
        UniqueConstraint("service_id", "method", "path"),
        UniqueConstraint("service_id", "operation_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id", ondelete="CASCADE"))
    method: Mapped[str] = mapped_column(String(10))
    path: Mapped[str] = mapped_column(String(1000))
    operation_id: Mapped[str] = mapped_column(String(200))
    item_code: Mapped[str | None] = mapped_column(String(64), index=True)
    # Where the binding came from: "x-xyb-item" in the document or the "bindings" list.
    item_source: Mapped[str | None] = mapped_column(String(20))
    summary: Mapped[str | None] = mapped_column(String(500))

    service: Mapped[Service] = relationship(back_populates="operations", lazy="raise")


class ServiceContract(Base):
    """A contract recorded with a service: every new version of its document must keep it."""

    __tablename__ = "service_contracts"
    __table_args__ = (UniqueConstraint("service_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))  # connector/provider
    # The contract as submitted (YAML or JSON text), re-read with the contract loader.
    content: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class GatewayState(Base):
    """One row: the sequence number of the latest change to the route table."""

    __tablename__ = "gateway_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    change_seq: Mapped[int] = mapped_column(BigInteger)
