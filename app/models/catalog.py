"""Service items (政务服务事项), their search synonyms, and the daily snapshots of the targets."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Boolean, Date, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base
from app.models.identity import BigId
from app.models.service import DocumentJSON, utcnow


class Item(Base):
    """A government service item with its standard elements (GB/T 39554-style, codes opaque)."""

    __tablename__ = "items"
    __table_args__ = (
        Index("ix_items_division_type", "division", "type"),
        Index("ix_items_flags", "online", "one_network", "cross_province"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    type: Mapped[str] = mapped_column(String(20))  # 行政许可 … 公共服务
    legal_basis: Mapped[str] = mapped_column(Text)
    service_object: Mapped[str] = mapped_column(String(20))  # person | legal_person | both
    acceptance_conditions: Mapped[str] = mapped_column(Text)
    materials: Mapped[list[str]] = mapped_column(DocumentJSON)
    time_limit_days: Mapped[int] = mapped_column(Integer)  # working days; 0: on the spot
    result: Mapped[str] = mapped_column(String(200))
    division: Mapped[str] = mapped_column(String(6))
    department: Mapped[str] = mapped_column(String(100))
    online: Mapped[bool] = mapped_column(Boolean)
    one_network: Mapped[bool] = mapped_column(Boolean)
    cross_province: Mapped[bool] = mapped_column(Boolean)
    # Name, department and type folded for substring search (works alike on SQLite and PostgreSQL).
    search_text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class Synonym(Base):
    """What people type and what it stands for (社保 → 社会保险); operators extend the list."""

    __tablename__ = "catalog_synonyms"
    __table_args__ = (UniqueConstraint("term", "expansion"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    term: Mapped[str] = mapped_column(String(40), index=True)
    expansion: Mapped[str] = mapped_column(String(80))


class TargetSnapshot(Base):
    """One target's value at the end of a day (in the configured time zone)."""

    __tablename__ = "target_snapshots"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    target: Mapped[str] = mapped_column(String(30), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger)
