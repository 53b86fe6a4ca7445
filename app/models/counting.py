"""Access counts: hourly roll-ups of access events, and the batches already applied."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Date, Float, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base
from app.models.service import DocumentJSON, utcnow

JSONList = DocumentJSON

# Upper bounds (ms) of the latency histogram's buckets; the last column counts the rest.
LATENCY_BOUNDS_MS = (5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000)


class AccessCount(Base):
    """Calls in one local hour for one operation, client and outcome, with their latencies.

    The key stays bounded: an operation implies its service, item and division, so those are not
    repeated. Calls that matched no service count under service_id 0 and operation "" (never
    NULL: NULLs would not collide in the unique key, and upserts would insert duplicates).
    """

    __tablename__ = "access_counts"
    __table_args__ = (
        Index("ix_access_counts_operation_day", "service_id", "operation_id", "day"),
        Index("ix_access_counts_client_day", "client_id", "day"),
    )

    day: Mapped[date] = mapped_column(Date, primary_key=True)  # local date (XYB_TIMEZONE)
    hour: Mapped[int] = mapped_column(Integer, primary_key=True)  # local hour, 0-23
    service_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    operation_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    client_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    outcome: Mapped[str] = mapped_column(String(20), primary_key=True)
    calls: Mapped[int] = mapped_column(BigInteger)
    total_ms: Mapped[float] = mapped_column(Float)  # sum of whole-call latencies
    upstream_ms: Mapped[float] = mapped_column(Float)  # sum of upstream latencies
    le_5: Mapped[int] = mapped_column(BigInteger)
    le_10: Mapped[int] = mapped_column(BigInteger)
    le_25: Mapped[int] = mapped_column(BigInteger)
    le_50: Mapped[int] = mapped_column(BigInteger)
    le_100: Mapped[int] = mapped_column(BigInteger)
    le_250: Mapped[int] = mapped_column(BigInteger)
    le_500: Mapped[int] = mapped_column(BigInteger)
    le_1000: Mapped[int] = mapped_column(BigInteger)
    le_2500: Mapped[int] = mapped_column(BigInteger)
    le_5000: Mapped[int] = mapped_column(BigInteger)
    le_10000: Mapped[int] = mapped_column(BigInteger)
    le_inf: Mapped[int] = mapped_column(BigInteger)


class CounterBatch(Base):
    """A flushed batch, recorded in the flush's own transaction: a retried batch is not counted
    twice (the retry finds its id and adds nothing)."""

    __tablename__ = "counter_batches"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    flushed_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class Operator(Base):
    """A person who signs in to the operators' dashboard (the login form)."""

    __tablename__ = "operators"

    username: Mapped[str] = mapped_column(String(64), primary_key=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    roles: Mapped[list[str]] = mapped_column(JSONList)
    status: Mapped[str] = mapped_column(String(10), default="active")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class OperatorSessionEnd(Base):
    """A dashboard session signed out before its expiry. Sessions are signed cookies, so sign-out
    is the one thing about them kept server-side: in the database, so that it holds on every
    worker and instance and across restarts. A row may go once the session would have expired."""

    __tablename__ = "operator_session_ends"

    session_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    username: Mapped[str] = mapped_column(String(64))
    ended_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)
