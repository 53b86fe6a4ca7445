"""Holders' consents: a client may read licenses of one type, for one purpose, until a date."""

from __future__ import annotations

import secrets
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import ColumnElement, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.models.elicense import LicenseConsent

# A consent lasts at most this many years; the holder grants it again after.
LONGEST_YEARS = 3


def latest_until(today: date) -> date:
    """The last day a consent granted ``today`` may run to (29 February: 28 February)."""
    try:
        return today.replace(year=today.year + LONGEST_YEARS)
    except ValueError:
        return today.replace(year=today.year + LONGEST_YEARS, day=28)


def new_id() -> str:
    return "cns_" + secrets.token_hex(12)


def view(consent: LicenseConsent, type_name: str | None = None) -> dict[str, Any]:
    return {
        "id": consent.id,
        "clientId": consent.client_id,
        "licenseType": consent.license_type,
        "licenseTypeName": type_name,
        "purpose": consent.purpose,
        "until": consent.until.isoformat(),
        "grantedAt": consent.granted_at.isoformat(),
        "withdrawnAt": consent.withdrawn_at.isoformat() if consent.withdrawn_at else None,
    }


def _of_holder(person_id: int | None, legal_person_id: int | None) -> Any:
    if legal_person_id is not None:
        return LicenseConsent.legal_person_id == legal_person_id
    return (LicenseConsent.person_id == person_id) & LicenseConsent.legal_person_id.is_(None)


async def grant(
    session: AsyncSession,
    *,
    person_id: int | None,
    legal_person_id: int | None,
    granted_by: int,
    client_id: str,
    license_type: str,
    purpose: str,
    until: date,
    today: date,
) -> tuple[LicenseConsent, bool]:
    """The holder's live consent for this client, type and purpose, now running to ``until``
    (granting it again renews it rather than piling up copies), or a new one; and whether it is
    new."""
    same = await live_for(
        session,
        client_id=client_id,
        license_type=license_type,
        purpose=purpose,
        today=today,
        person_id=person_id,
        legal_person_id=legal_person_id,
    )
    if same is not None and (same.legal_person_id is None) == (legal_person_id is None):
        same.until = until
        await session.flush()
        return same, False
    consent = LicenseConsent(
        id=new_id(),
        person_id=person_id,
        legal_person_id=legal_person_id,
        granted_by=granted_by,
        client_id=client_id,
        license_type=license_type,
        purpose=purpose,
        until=until,
        granted_at=datetime.now(UTC),
    )
    session.add(consent)
    await session.flush()
    return consent, True


async def of_holder(
    session: AsyncSession, *, person_id: int | None, legal_person_id: int | None
) -> list[LicenseConsent]:
    rows = await session.scalars(
        select(LicenseConsent)
        .where(_of_holder(person_id, legal_person_id))
        .order_by(LicenseConsent.granted_at.desc(), LicenseConsent.id)
        .limit(500)
    )
    return list(rows)


async def withdraw(
    session: AsyncSession, consent_id: str, *, person_id: int | None, legal_person_id: int | None
) -> LicenseConsent | None:
    """The holder's consent, withdrawn now (unchanged when it already was); None when the holder
    has no consent of this id."""
    consent = await session.scalar(
        select(LicenseConsent).where(
            LicenseConsent.id == consent_id, _of_holder(person_id, legal_person_id)
        )
    )
    if consent is None:
        return None
    if consent.withdrawn_at is None:
        now = datetime.now(UTC)
        await session.execute(
            update(LicenseConsent)
            .where(LicenseConsent.id == consent_id, LicenseConsent.withdrawn_at.is_(None))
            .values(withdrawn_at=now)
        )
        consent.withdrawn_at = now
    return consent


def _live(client_id: str, license_type: str, purpose: str, today: date) -> list[Any]:
    """A consent of this client, type and purpose, not withdrawn, whose date has not passed."""
    return [
        LicenseConsent.client_id == client_id,
        LicenseConsent.license_type == license_type,
        LicenseConsent.purpose == purpose,
        LicenseConsent.until >= today,
        LicenseConsent.withdrawn_at.is_(None),
    ]


async def any_live(
    session: AsyncSession, *, client_id: str, license_type: str, purpose: str, today: date
) -> bool:
    """Whether any holder's live consent lets the client read this type for this purpose (asked
    before the registry is, so a client without one learns nothing of which licenses exist)."""
    found = await session.scalar(
        select(LicenseConsent.id).where(*_live(client_id, license_type, purpose, today)).limit(1)
    )
    return found is not None


async def live_for(
    session: AsyncSession,
    *,
    client_id: str,
    license_type: str,
    purpose: str,
    today: date,
    person_id: int | None,
    legal_person_id: int | None,
) -> LicenseConsent | None:
    """The live consent of this holder for this client, type and purpose, if any."""
    holder: list[ColumnElement[bool]] = []
    if person_id is not None:
        holder.append(
            (LicenseConsent.person_id == person_id) & LicenseConsent.legal_person_id.is_(None)
        )
    if legal_person_id is not None:
        holder.append(LicenseConsent.legal_person_id == legal_person_id)
    if not holder:
        return None
    result: LicenseConsent | None = await session.scalar(
        select(LicenseConsent)
        .where(or_(*holder), *_live(client_id, license_type, purpose, today))
        .limit(1)
    )
    return result
