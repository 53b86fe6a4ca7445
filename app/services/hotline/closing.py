"""Closing a follow-up of a bad rating: what was done about it, by whom, and when.

Shared by POST /ops/hotline/follow-ups/{id}/close and ``xyb ops follow-ups close``. A follow-up
is closed once: the UPDATE only matches an open one, so two operators closing it at the same
moment get one success and one 409, never two resolutions.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from app.connectors.hotline.text import plain
from app.core.config import Settings
from app.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from app.models.hotline import HotlineFollowUp
from app.services.hotline.figures import follow_up_by_id
from app.services.ops.clock import aware

MAX_RESOLUTION = 2000


def check_resolution(resolution: str, pointer: str = "/body/resolution") -> str:
    """The resolution without surrounding blanks: 1 to 2,000 printable characters (CRLF kept
    as LF; app.connectors.hotline.text)."""
    written = plain(resolution)
    text = "" if written is None else written.strip()
    if written is None or not 1 <= len(text) <= MAX_RESOLUTION:
        raise ValidationFailed(
            f"The resolution is 1 to {MAX_RESOLUTION} printable characters (line breaks"
            " allowed): what was done about the rating.",
            errors=[
                {
                    "pointer": pointer,
                    "detail": f"resolution is 1 to {MAX_RESOLUTION} printable characters"
                    " (not blank)",
                }
            ],
        )
    return text


def _closed_already(follow_up_id: str) -> Conflict:
    return Conflict(
        f"The follow-up {follow_up_id!r} is closed already.",
        extensions={"follow_up": follow_up_id},
    )


async def close_follow_up(
    session: AsyncSession,
    settings: Settings,
    follow_up_id: str,
    *,
    resolution: str,
    closed_by: str,
    now: datetime,
    reach: frozenset[str] | None = None,
) -> dict[str, Any]:
    """Close the follow-up (404 unknown; 403 outside ``reach``, a division admin's divisions;
    409 closed already); answers it as the lists show it."""
    text = check_resolution(resolution)
    found = await session.get(HotlineFollowUp, follow_up_id)
    if found is None:
        raise NotFound(f"There is no follow-up {follow_up_id!r}.")
    if reach is not None and found.division not in reach:
        raise Forbidden(
            f"The follow-up belongs to division {found.division}, outside this division"
            " admin's divisions.",
            extensions={"division": found.division},
        )
    if found.closed_at is not None:
        raise _closed_already(follow_up_id)
    closed = await session.execute(
        update(HotlineFollowUp)
        .where(HotlineFollowUp.id == follow_up_id, HotlineFollowUp.closed_at.is_(None))
        .values(closed_at=aware(now), closed_by=closed_by[:100], resolution=text)
        .execution_options(synchronize_session=False)
    )
    if getattr(closed, "rowcount", 0) != 1:  # closed by someone else since it was read
        raise _closed_already(follow_up_id)
    session.expire(found)
    view = await follow_up_by_id(session, settings, follow_up_id, now=now)
    assert view is not None  # updated just now, in this transaction
    return view
