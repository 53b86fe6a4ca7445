"""The identity change feed: every change an instance must apply without a restart.

Each event takes the next number from ``gateway_state`` row 2 with a row lock held until commit,
so numbers follow commit order and a polling instance never skips one.
"""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from app.models.identity import IdentityEvent
from app.models.service import GatewayState

IDENTITY_FEED = 2


class EventKind(StrEnum):
    CLIENT_CHANGED = "client_changed"  # created, edited, disabled, grants changed: reload it
    PERSON_DISABLED = "person_disabled"
    PERSON_ENABLED = "person_enabled"
    FAMILY_REVOKED = "family_revoked"  # a refresh-token family: its access tokens stop too
    KEYS_CHANGED = "keys_changed"


async def emit(session: AsyncSession, kind: EventKind, subject: str) -> int:
    """Record one change in the caller's transaction; returns its sequence number."""
    seq = await session.scalar(
        update(GatewayState)
        .where(GatewayState.id == IDENTITY_FEED)
        .values(change_seq=GatewayState.change_seq + 1)
        .returning(GatewayState.change_seq)
    )
    if seq is None:  # pragma: no cover - the migration inserts the row
        raise RuntimeError("gateway_state has no identity row: run `xyb db upgrade`")
    session.add(IdentityEvent(seq=int(seq), kind=kind.value, subject=subject))
    return int(seq)
