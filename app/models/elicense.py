"""E-license state the gateway keeps itself: holders' consents and scan-to-show presentations.

The licenses live in the registry; these tables hold only what the gateway decides (who may read
which type, for what and until when) and what it vouched for (a presentation's disclosed fields,
its expiry and its single use).
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, Date, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base
from app.models.service import utcnow


class LicenseConsent(Base):
    """A holder lets a client read licenses of one type, for one purpose, until a date (inclusive).

    The holder is a resident (``person_id``) or a legal person an agent consented for
    (``legal_person_id``); exactly one is set. Withdrawn consents stay, with ``withdrawn_at``, so
    a resident can see what they once allowed.
    """

    __tablename__ = "license_consents"
    __table_args__ = (
        Index("ix_license_consents_lookup", "client_id", "license_type", "person_id"),
        Index("ix_license_consents_legal_person", "legal_person_id"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    person_id: Mapped[int | None] = mapped_column(
        ForeignKey("persons.id", ondelete="CASCADE"), index=True
    )
    legal_person_id: Mapped[int | None] = mapped_column(
        ForeignKey("legal_persons.id", ondelete="CASCADE")
    )
    # Who granted it: the resident, or the agent acting for the legal person.
    granted_by: Mapped[int] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"))
    client_id: Mapped[str] = mapped_column(String(64))
    license_type: Mapped[str] = mapped_column(String(21))
    purpose: Mapped[str] = mapped_column(String(200))
    until: Mapped[date] = mapped_column(Date)
    granted_at: Mapped[datetime] = mapped_column(default=utcnow)
    withdrawn_at: Mapped[datetime | None] = mapped_column(default=None)


class LicensePresentation(Base):
    """One scan-to-show presentation: the SD-JWT the verifier will see, and its life."""

    __tablename__ = "license_presentations"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    license_id: Mapped[str] = mapped_column(String(160))
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"), index=True)
    # The issuer-signed JWT and the disclosures the holder chose: what a verifier receives.
    sd_jwt: Mapped[str] = mapped_column(Text)
    # The holder's name and code, already masked, for the verifier's answer.
    holder_masked: Mapped[str] = mapped_column(String(300))
    disclosed: Mapped[str] = mapped_column(String(2000))  # comma-separated field names
    single_use: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    used_at: Mapped[datetime | None] = mapped_column(default=None)
