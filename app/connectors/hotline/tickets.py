"""A ticket's state in the gateway: transitions applied exactly once and in the system's order,
and the canonical views of tickets and ratings.

The hotline system numbers each transition of a ticket (``xh``: 1 is 受理). The gateway keeps one
row per number, so a transition told twice (the filing's answer and a callback, a callback
redelivered) is kept once; the ticket's status is the one of the highest number received, so
transitions told out of order (3, 1, 2) leave it where the system left it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.connectors.hotline import words
from app.connectors.hotline.text import shown
from app.core.config import Settings
from app.models.hotline import (
    HotlineFollowUp,
    HotlineRating,
    HotlineTicket,
    HotlineTicketEvent,
)
from app.services.hotline.deadlines import card, on_time

MAX_SEQ = 100_000
FIRST_YEAR, LAST_YEAR = 2000, 2200
MAX_NOTE = 2000
MAX_CENTRE = 10


class BadSystemData(ValueError):
    """What the hotline system sent is not a transition of its protocol."""


@dataclass(frozen=True, slots=True)
class Transition:
    seq: int
    status: str  # canonical (words.STATUSES' values)
    at: datetime
    centre: str | None
    note: str | None


def _text(value: object, limit: int, name: str) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > limit:
        raise BadSystemData(f"{name} is not a text of at most {limit} characters")
    # Shown to residents and operators: no control or format characters but line breaks.
    return shown(value)


def transition(entry: object) -> Transition:
    """One history entry (``lsjl``) or callback body of the system as a transition."""
    if not isinstance(entry, dict):
        raise BadSystemData("a transition is not an object")
    seq = entry.get("xh")
    if not isinstance(seq, int) or isinstance(seq, bool) or not 1 <= seq <= MAX_SEQ:
        raise BadSystemData(f"xh is not a number from 1 to {MAX_SEQ}")
    code = entry.get("zt")
    status = words.STATUSES.get(code) if isinstance(code, str) else None
    if status is None:
        raise BadSystemData("zt is not one of the system's status codes 01-07")
    raw_at = entry.get("sj")
    try:
        at = datetime.fromisoformat(raw_at) if isinstance(raw_at, str) else None
    except ValueError:
        at = None
    if at is None or at.tzinfo is None:
        raise BadSystemData("sj is not a date and time with its offset (ISO 8601)")
    if not FIRST_YEAR <= at.year <= LAST_YEAR or at.astimezone(UTC).year < FIRST_YEAR:
        # Beyond what a database's timestamp holds, and no 12345 ticket's time anyway.
        raise BadSystemData(f"sj is not between {FIRST_YEAR} and {LAST_YEAR}")
    return Transition(
        seq,
        status,
        at,
        _text(entry.get("cbdw"), MAX_CENTRE, "cbdw"),
        _text(entry.get("sm"), MAX_NOTE, "sm"),
    )


async def apply(session: AsyncSession, ticket: HotlineTicket, step: Transition) -> bool:
    """Record ``step`` of ``ticket`` unless it is recorded; True when it was new. The caller holds
    the ticket's row (FOR UPDATE, or SQLite's write lock)."""
    if await session.get(HotlineTicketEvent, (ticket.id, step.seq)) is not None:
        return False
    session.add(
        HotlineTicketEvent(
            ticket_id=ticket.id,
            seq=step.seq,
            status=step.status,
            at=step.at,
            centre=step.centre,
            note=step.note,
        )
    )
    if step.seq > ticket.last_seq:
        ticket.last_seq = step.seq
        ticket.status = step.status
        if step.centre is not None:
            ticket.centre = step.centre
    if step.status == "replied":
        await session.flush()
        ticket.reply = await session.scalar(
            select(HotlineTicketEvent.note)
            .where(HotlineTicketEvent.ticket_id == ticket.id)
            .where(HotlineTicketEvent.status == "replied")
            .order_by(HotlineTicketEvent.seq.desc())
            .limit(1)
        )
    if step.status == "closed" or (ticket.closed_at is not None) != (ticket.status in words.DONE):
        # Closed is where the latest transition left it: a ticket the system reopens (重办) is
        # open again until it is closed again, and then it is on time or not by that close.
        await session.flush()
        ticket.closed_at = (
            await session.scalar(
                select(HotlineTicketEvent.at)
                .where(HotlineTicketEvent.ticket_id == ticket.id)
                .where(HotlineTicketEvent.status == "closed")
                .where(HotlineTicketEvent.seq <= ticket.last_seq)
                .order_by(HotlineTicketEvent.seq.desc())
                .limit(1)
            )
            if ticket.status in words.DONE
            else None
        )
    return True


def _iso(value: datetime | None, settings: Settings) -> str | None:
    return None if value is None else value.astimezone(settings.tz).isoformat()


def rating_view(
    rating: HotlineRating, follow_up: HotlineFollowUp | None, settings: Settings
) -> dict[str, Any]:
    view: dict[str, Any] = {
        "id": rating.id,
        "subject": {"kind": rating.subject_kind, "id": rating.subject_id},
        "level": words.LEVEL_OF[rating.level],
        "levelName": words.LEVEL_NAMES[rating.level],
        "comment": rating.comment,
        "itemCode": rating.item_code,
        "division": rating.division,
        "ratedAt": _iso(rating.rated_at, settings),
        "followUp": None,
    }
    if follow_up is not None:
        view["followUp"] = {
            "id": follow_up.id,
            "division": follow_up.division,
            "deadline": _iso(follow_up.deadline_at, settings),
            "closedAt": _iso(follow_up.closed_at, settings),
            "resolution": follow_up.resolution,
        }
    return view


def ticket_view(
    ticket: HotlineTicket,
    settings: Settings,
    now: datetime,
    *,
    events: list[HotlineTicketEvent] | None = None,
    rating: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The canonical ticket; ``events`` (its history) only for one ticket, not in lists."""
    view: dict[str, Any] = {
        "id": ticket.id,
        "number": ticket.number,
        "channel": ticket.channel,
        "category": ticket.category,
        "categoryName": words.CATEGORY_NAMES[ticket.category],
        "content": ticket.content,
        "division": ticket.division,
        "itemCode": ticket.item_code,
        "desk": ticket.desk,
        "priority": ticket.priority,
        "status": ticket.status,
        "statusName": words.STATUS_NAMES.get(ticket.status, ticket.status),
        "centre": ticket.centre,
        "reply": ticket.reply,
        "filedAt": _iso(ticket.filed_at, settings),
        "deadline": _iso(ticket.deadline_at, settings),
        "deadlineEstimated": ticket.deadline_estimated,
        "card": card(settings, ticket.deadline_at, ticket.closed_at, now),
        "closedAt": _iso(ticket.closed_at, settings),
        "onTime": on_time(ticket.deadline_at, ticket.closed_at),
    }
    if events is not None:
        view["history"] = [
            {
                "seq": e.seq,
                "status": e.status,
                "statusName": words.STATUS_NAMES[e.status],
                "at": _iso(e.at, settings),
                "centre": e.centre,
                "note": e.note,
            }
            for e in sorted(events, key=lambda e: e.seq)
        ]
        view["rating"] = rating
    return view
