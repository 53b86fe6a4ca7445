"""Scan-to-show presentations (扫码亮证): the reference a QR code carries, and its record.

The QR code holds a reference, not the presentation: ``XYB1.<id>.<mac>``, 48 characters of the
QR alphanumeric set (base32 id, hex MAC, upper case), which fits a version 3 code at error
correction M, easy to scan from a phone screen. The SD-JWT itself (hundreds of characters)
would need a version 15 or larger code. The verifier sends the text to the gateway, which checks
the MAC (a forged or mistyped code is refused without a database look-up), finds the record and
answers with what the holder chose to disclose.
"""

from __future__ import annotations

import base64
import hmac
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from app.models.elicense import LicensePresentation

PREFIX = "XYB1"
_MAC_CHARS = 16  # 64 bits of HMAC-SHA256: the id itself is 128 random bits
_TEXT = re.compile(r"XYB1\.([A-Z2-7]{26})\.([0-9A-F]{16})")
DEFAULT_TTL_S = 300
MAX_TEXT_CHARS = 4096
# presentation id -> its MAC (16 upper-case hex characters)
MacOf = Callable[[str], str]


def new_id() -> str:
    """128 random bits, base32 without padding (26 characters of the QR alphanumeric set)."""
    return base64.b32encode(secrets.token_bytes(16)).decode("ascii").rstrip("=")


def mac_with(keyed_hash: Callable[[str], str]) -> MacOf:
    """The reference's MAC from the gateway's keyed hash (the data cipher's HMAC under its own
    purpose): every instance computes the same one, and nobody without the data key can."""

    def mac_of(presentation_id: str) -> str:
        return keyed_hash(presentation_id)[:_MAC_CHARS].upper()

    return mac_of


def reference(presentation_id: str, mac_of: MacOf) -> str:
    return f"{PREFIX}.{presentation_id}.{mac_of(presentation_id)}"


@dataclass(frozen=True, slots=True)
class Scanned:
    """What a scanned text says: the presentation id when its MAC checks, else why not."""

    presentation_id: str | None
    reason: str | None  # "bad-signature"
    detail: str | None


def read_text(text: str, mac_of: MacOf) -> Scanned:
    match = _TEXT.fullmatch(text.strip())
    if match is None:
        return Scanned(
            None, "bad-signature", "The text is not a 湘易办 e-license presentation code."
        )
    presentation_id, mac = match.groups()
    if not hmac.compare_digest(mac, mac_of(presentation_id)):
        return Scanned(
            None,
            "bad-signature",
            "The code's signature does not check: it was altered, or not made by this gateway.",
        )
    return Scanned(presentation_id, None, None)


async def find(session: AsyncSession, presentation_id: str) -> LicensePresentation | None:
    found: LicensePresentation | None = await session.get(LicensePresentation, presentation_id)
    return found


async def claim(session: AsyncSession, presentation_id: str, now: datetime) -> bool:
    """Mark a single-use presentation used; False when another check used it first (one
    conditional UPDATE, so two verifiers scanning at once cannot both succeed)."""
    result = await session.execute(
        update(LicensePresentation)
        .where(LicensePresentation.id == presentation_id, LicensePresentation.used_at.is_(None))
        .values(used_at=now)
    )
    return bool(getattr(result, "rowcount", 0) == 1)
