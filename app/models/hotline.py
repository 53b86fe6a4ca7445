"""12345 hotline and 好差评 state the gateway keeps itself.

The hotline system owns a ticket's handling; the gateway keeps what residents and operators ask
of it without calling the system: who filed what (a ticket is its submitter's alone), the
deadline it computed on the official calendar, and the ticket's history as the system's signed
callbacks told it, one row per transition. Ratings (好差评) of tickets and of completed calls, and
the follow-ups a bad rating opens, are the gateway's own.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base
from app.models.service import utcnow


class HotlineTicket(Base):
    """A ticket filed through the gateway, and its state as the hotline system last reported it.

    ``status`` is the status of the highest ``seq`` received: callbacks may arrive in any order,
    and the latest transition decides, not the latest delivery.
    """

    __tablename__ = "hotline_tickets"
    __table_args__ = (
        # One ticket per submitter and Idempotency-Key (the key is the caller's; the digest is
        # of the key, so a key of any length fits).
        UniqueConstraint("person_id", "idempotency_key", name="uq_hotline_tickets_idempotency"),
        Index("ix_hotline_tickets_person_filed", "person_id", "filed_at"),
        Index("ix_hotline_tickets_status_division", "status", "division"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    service: Mapped[str] = mapped_column(String(100))  # "division/slug" it was filed through
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"))
    # The legal person an agent filed for (the 政企通 desk), else None.
    legal_person_id: Mapped[int | None] = mapped_column(
        ForeignKey("legal_persons.id", ondelete="SET NULL")
    )
    client_id: Mapped[str] = mapped_column(String(64))
    idempotency_key: Mapped[str] = mapped_column(String(64))  # SHA-256 hex of the caller's key
    request_digest: Mapped[str] = mapped_column(String(64))  # of the canonical filing
    # The hotline system's ticket number (工单编号), once it accepted the ticket.
    number: Mapped[str | None] = mapped_column(String(40), unique=True)
    channel: Mapped[str] = mapped_column(String(20))
    category: Mapped[str] = mapped_column(String(20))
    content: Mapped[str] = mapped_column(Text)
    division: Mapped[str] = mapped_column(String(6))
    item_code: Mapped[str | None] = mapped_column(String(64))
    desk: Mapped[str] = mapped_column(String(10))  # "centre" | "zqt" (政企通)
    priority: Mapped[str] = mapped_column(String(10))  # "urgent" | "high" | "normal"
    centre: Mapped[str | None] = mapped_column(String(10))  # the unit handling it (承办单位)
    status: Mapped[str] = mapped_column(String(20))
    last_seq: Mapped[int] = mapped_column(Integer, default=0)
    reply: Mapped[str | None] = mapped_column(Text)  # the unit's answer (回复)
    filed_at: Mapped[datetime] = mapped_column(default=utcnow)
    deadline_at: Mapped[datetime] = mapped_column()
    # True when the deadline reaches a year the calendar package has no data for (weekends only).
    deadline_estimated: Mapped[bool] = mapped_column(Boolean, default=False)
    closed_at: Mapped[datetime | None] = mapped_column(default=None)  # 办结


class HotlineTicketEvent(Base):
    """One transition of a ticket, as the hotline system numbered it (seq 1 is 受理)."""

    __tablename__ = "hotline_ticket_events"

    ticket_id: Mapped[str] = mapped_column(
        ForeignKey("hotline_tickets.id", ondelete="CASCADE"), primary_key=True
    )
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    status: Mapped[str] = mapped_column(String(20))
    at: Mapped[datetime] = mapped_column()
    centre: Mapped[str | None] = mapped_column(String(10))
    note: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)


class HotlineCallbackReceipt(Base):
    """A callback signature already accepted: the same signed message again is a replay."""

    __tablename__ = "hotline_callback_receipts"

    signature: Mapped[str] = mapped_column(String(80), primary_key=True)
    event: Mapped[str] = mapped_column(String(80))
    received_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class HotlineRating(Base):
    """One 好差评 rating: of a closed ticket, or of a completed call (an access event)."""

    __tablename__ = "hotline_ratings"
    __table_args__ = (
        UniqueConstraint("person_id", "subject_kind", "subject_id", name="uq_hotline_ratings_once"),
        Index("ix_hotline_ratings_rated_at", "rated_at"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"))
    subject_kind: Mapped[str] = mapped_column(String(10))  # "ticket" | "call"
    subject_id: Mapped[str] = mapped_column(String(40))  # ticket id or access event id
    item_code: Mapped[str | None] = mapped_column(String(64))
    division: Mapped[str] = mapped_column(String(6))  # whose service was rated
    channel: Mapped[str] = mapped_column(String(20))
    level: Mapped[int] = mapped_column(Integer)  # 1 非常满意 … 5 非常不满意
    comment: Mapped[str | None] = mapped_column(Text)
    rated_at: Mapped[datetime] = mapped_column(default=utcnow)


class HotlineFollowUp(Base):
    """The follow-up a bad rating (不满意, 非常不满意) opens, owned by the rated item's division."""

    __tablename__ = "hotline_follow_ups"
    __table_args__ = (Index("ix_hotline_follow_ups_open", "closed_at", "division"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    rating_id: Mapped[str] = mapped_column(
        ForeignKey("hotline_ratings.id", ondelete="CASCADE"), unique=True
    )
    division: Mapped[str] = mapped_column(String(6))
    item_code: Mapped[str | None] = mapped_column(String(64))
    opened_at: Mapped[datetime] = mapped_column(default=utcnow)
    deadline_at: Mapped[datetime] = mapped_column()
    deadline_estimated: Mapped[bool] = mapped_column(Boolean, default=False)
    closed_at: Mapped[datetime | None] = mapped_column(default=None)
    closed_by: Mapped[str | None] = mapped_column(String(100))
    resolution: Mapped[str | None] = mapped_column(Text)
