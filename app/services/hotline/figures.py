"""The operators' figures of the 12345 hotline and 好差评, and their lists of tickets and
follow-ups.

Everything is counted in the database (GROUP BY, conditional sums), the same SQL on SQLite and
PostgreSQL; no function loads every row. Cards are counted in SQL too: an open item is red once
``now`` has passed its deadline, and yellow while its deadline lies before :func:`yellow_before`,
the start of the first local day that is more than ``hotline_yellow_days`` working days away.
That is exactly what ``deadlines.card`` says of each row (working days left only grows with the
deadline's date), without asking the calendar once per row; the tests hold the two together.

"now" is always a parameter (the routes' injectable clock), so the tests fix it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from app.connectors.hotline import words
from app.core.config import Settings
from app.core.divisions import HUNAN, divisions
from app.core.divisions import division as known_division
from app.core.errors import ValidationFailed
from app.core.workdays import add_working_days
from app.models.catalog import Item
from app.models.hotline import HotlineFollowUp, HotlineRating, HotlineTicket
from app.services.hotline.deadlines import card as card_at
from app.services.hotline.deadlines import on_time as closed_on_time
from app.services.ops.clock import aware
from app.services.ops.counts import comma_list, division_codes

# The canonical words of the hotline API (app/connectors/hotline/words.py), in the closed loop's
# order, with the names an operator reads.
STATUS_LABELS: dict[str, str] = {s: words.STATUS_NAMES[s] for s in words.STATUSES.values()}
STATUSES = tuple(STATUS_LABELS)
CHANNEL_LABELS: dict[str, str] = words.CHANNEL_NAMES
CHANNELS = tuple(CHANNEL_LABELS)
# 好差评's five levels as stored (1-5), by canonical name; 1-3 count as satisfied.
LEVEL_NAMES: dict[int, str] = words.LEVEL_OF
LEVEL_LABELS: dict[int, str] = words.LEVEL_NAMES
SATISFIED_LEVELS = tuple(sorted(words.SATISFIED))
CARDS = ("yellow", "red")
STATES = ("open", "closed", "all")
DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
# The summary's items, the most rated first (there may be thousands; the lists are the API).
ITEM_ROWS = 100


def _hunan_codes() -> list[str]:
    return sorted(c for c, d in divisions().items() if d.level != "partner")


# What the list routes accept, for the OpenAPI document (plain strings, checked by the parsers
# below so that one 422 names every bad parameter with its allowed values).
TICKET_PARAMETER_SCHEMAS: dict[str, dict[str, Any]] = {
    "status": {"schema": {"type": "string", "pattern": comma_list("|".join(STATUSES))}},
    "state": {"schema": {"type": "string", "enum": list(STATES)}},
    "division": {"schema": {"type": "string", "pattern": comma_list("|".join(_hunan_codes()))}},
    "card": {"schema": {"type": "string", "enum": list(CARDS)}},
    "limit": {"schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT}},
}
FOLLOW_UP_PARAMETER_SCHEMAS: dict[str, dict[str, Any]] = {
    "state": TICKET_PARAMETER_SCHEMAS["state"],
    "division": TICKET_PARAMETER_SCHEMAS["division"],
    "card": TICKET_PARAMETER_SCHEMAS["card"],
    "limit": TICKET_PARAMETER_SCHEMAS["limit"],
}


# -- cards ------------------------------------------------------------------------------------


def yellow_before(settings: Settings, now: datetime) -> datetime:
    """Open items due from ``now`` up to (not including) this moment hold a yellow card.

    ``deadlines.card`` gives yellow when the working days from today (excluded) to the
    deadline's date (included) are at most ``hotline_yellow_days``: every date before the
    (yellow_days + 1)-th working day after today, so the start of that day in the local zone."""
    first_clear = add_working_days(now, settings.hotline_yellow_days + 1, settings.tz).at
    return datetime.combine(first_clear.date(), time.min, tzinfo=settings.tz)


def _card_condition(
    deadline: InstrumentedAttribute[datetime],
    closed: InstrumentedAttribute[datetime | None],
    card: str,
    now: datetime,
    yellow_end: datetime,
) -> ColumnElement[bool]:
    if card == "red":
        return and_(closed.is_(None), deadline < now)
    return and_(closed.is_(None), deadline >= now, deadline < yellow_end)


def _count(condition: ColumnElement[bool]) -> ColumnElement[int]:
    """SUM(CASE WHEN condition THEN 1 ELSE 0 END): a count of the group's matching rows."""
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _division_name(code: str | None) -> str | None:
    found = known_division(code) if code else None
    return found.name if found else None


def _iso(moment: datetime | None, settings: Settings) -> str | None:
    return aware(moment).astimezone(settings.tz).isoformat() if moment is not None else None


# -- the summary ------------------------------------------------------------------------------


async def _ticket_figures(
    session: AsyncSession, now: datetime, yellow_end: datetime
) -> dict[str, Any]:
    t = HotlineTicket
    rows = (
        await session.execute(
            select(
                t.division,
                t.status,
                func.count(),
                func.count(t.closed_at),
                _count(t.closed_at <= t.deadline_at),
                _count(_card_condition(t.deadline_at, t.closed_at, "yellow", now, yellow_end)),
                _count(_card_condition(t.deadline_at, t.closed_at, "red", now, yellow_end)),
            ).group_by(t.division, t.status)
        )
    ).all()
    by_status = dict.fromkeys(STATUSES, 0)
    by_division: dict[str, dict[str, Any]] = {}
    for division, status, total, closed, on_time, yellow, red in rows:
        by_status[status] = by_status.get(status, 0) + int(total)
        entry = by_division.setdefault(
            division,
            {
                "division": division,
                "division_name": _division_name(division),
                "total": 0,
                "open": 0,
                "closed": 0,
                "closed_on_time": 0,
                "yellow": 0,
                "red": 0,
            },
        )
        entry["total"] += int(total)
        entry["open"] += int(total) - int(closed)
        entry["closed"] += int(closed)
        entry["closed_on_time"] += int(on_time)
        entry["yellow"] += int(yellow)
        entry["red"] += int(red)
    divisions_out = [by_division[code] for code in sorted(by_division)]
    total = sum(d["total"] for d in divisions_out)
    closed = sum(d["closed"] for d in divisions_out)
    return {
        "total": total,
        "open": total - closed,
        "closed": closed,
        "closed_on_time": sum(d["closed_on_time"] for d in divisions_out),
        "yellow": sum(d["yellow"] for d in divisions_out),
        "red": sum(d["red"] for d in divisions_out),
        "by_status": [
            {"status": status, "label": STATUS_LABELS.get(status, status), "tickets": n}
            for status, n in by_status.items()
        ],
        "by_division": divisions_out,
    }


def _level_columns() -> list[ColumnElement[int]]:
    return [_count(HotlineRating.level == level) for level in LEVEL_NAMES]


def _rating_group(key: str | None, name: str | None, levels: Sequence[int]) -> dict[str, Any]:
    ratings = sum(levels)
    satisfied = sum(
        n for level, n in zip(LEVEL_NAMES, levels, strict=True) if level in SATISFIED_LEVELS
    )
    return {
        "key": key,
        "name": name,
        "ratings": ratings,
        "satisfied": satisfied,
        "rate": _rate(satisfied, ratings),
        "levels": {LEVEL_NAMES[level]: n for level, n in zip(LEVEL_NAMES, levels, strict=True)},
    }


async def _satisfaction(session: AsyncSession) -> dict[str, Any]:
    r = HotlineRating
    levels = _level_columns()
    overall = (await session.execute(select(*levels))).one()
    total = _rating_group(None, None, [int(n) for n in overall])

    ratings = func.count()
    item_rows = (
        await session.execute(
            select(r.item_code, func.max(Item.name), *levels)
            .outerjoin(Item, Item.code == r.item_code)
            .group_by(r.item_code)
            .order_by(ratings.desc(), r.item_code.is_(None), r.item_code)
            .limit(ITEM_ROWS + 1)
        )
    ).all()
    by_item = [
        _rating_group(code, name, [int(n) for n in counts]) for code, name, *counts in item_rows
    ]

    division_rows = (
        await session.execute(select(r.division, *levels).group_by(r.division).order_by(r.division))
    ).all()
    by_division = [
        _rating_group(code, _division_name(code), [int(n) for n in counts])
        for code, *counts in division_rows
    ]

    channel_rows = (await session.execute(select(r.channel, *levels).group_by(r.channel))).all()
    order = {channel: i for i, channel in enumerate(CHANNELS)}
    by_channel = [
        _rating_group(channel, CHANNEL_LABELS.get(channel), [int(n) for n in counts])
        for channel, *counts in sorted(
            channel_rows, key=lambda row: (order.get(row[0], len(order)), row[0])
        )
    ]
    return {
        "ratings": total["ratings"],
        "satisfied": total["satisfied"],
        "rate": total["rate"],
        "levels": total["levels"],
        "by_item": by_item[:ITEM_ROWS],
        "items_truncated": len(by_item) > ITEM_ROWS,
        "by_division": by_division,
        "by_channel": by_channel,
    }


async def _follow_up_figures(
    session: AsyncSession, now: datetime, yellow_end: datetime
) -> dict[str, Any]:
    f = HotlineFollowUp
    rows = (
        await session.execute(
            select(
                f.division,
                func.count(),
                func.count(f.closed_at),
                _count(f.closed_at <= f.deadline_at),
                _count(_card_condition(f.deadline_at, f.closed_at, "yellow", now, yellow_end)),
                _count(_card_condition(f.deadline_at, f.closed_at, "red", now, yellow_end)),
            )
            .group_by(f.division)
            .order_by(f.division)
        )
    ).all()
    by_division: list[dict[str, Any]] = [
        {
            "division": division,
            "division_name": _division_name(division),
            "open": int(total) - int(closed),
            "overdue": int(red),
            "yellow": int(yellow),
            "closed": int(closed),
            "closed_on_time": int(on_time),
        }
        for division, total, closed, on_time, yellow, red in rows
    ]
    totals: dict[str, Any] = {
        key: sum(d[key] for d in by_division)
        for key in ("open", "overdue", "yellow", "closed", "closed_on_time")
    }
    return {**totals, "by_division": by_division}


async def hotline_summary(
    session: AsyncSession, settings: Settings, *, now: datetime
) -> dict[str, Any]:
    """Tickets by status and division, on-time completion, satisfaction by item, division and
    channel, the open cards and the follow-ups (GET /ops/hotline)."""
    now = aware(now)
    yellow_end = yellow_before(settings, now)
    tickets = await _ticket_figures(session, now, yellow_end)
    follow_ups = await _follow_up_figures(session, now, yellow_end)
    return {
        "as_of": _iso(now, settings),
        "yellow_days": settings.hotline_yellow_days,
        "tickets": {
            key: tickets[key] for key in ("total", "open", "closed", "by_status", "by_division")
        },
        "on_time": {
            "closed": tickets["closed"],
            "closed_on_time": tickets["closed_on_time"],
            "rate": _rate(tickets["closed_on_time"], tickets["closed"]),
            "open_late": tickets["red"],
        },
        "cards": {
            "yellow": tickets["yellow"] + follow_ups["yellow"],
            "red": tickets["red"] + follow_ups["overdue"],
            "tickets": {"yellow": tickets["yellow"], "red": tickets["red"]},
            "follow_ups": {"yellow": follow_ups["yellow"], "red": follow_ups["overdue"]},
        },
        "satisfaction": await _satisfaction(session),
        "follow_ups": follow_ups,
    }


# -- the lists --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ListQuery:
    """A checked list query; ``divisions`` None means every division."""

    state: str = "all"
    statuses: tuple[str, ...] | None = None
    divisions: frozenset[str] | None = None
    card: str | None = None
    limit: int = DEFAULT_LIMIT

    def as_json(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "status": list(self.statuses) if self.statuses is not None else None,
            "division": sorted(self.divisions) if self.divisions is not None else None,
            "card": self.card,
        }


def _error(parameter: str, detail: str, allowed: Sequence[Any] | None = None) -> dict[str, Any]:
    entry: dict[str, Any] = {"pointer": f"/query/{parameter}", "detail": detail}
    if allowed is not None:
        entry["allowed"] = list(allowed)
    return entry


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.split(",")]


def _one_of(
    errors: list[dict[str, Any]], parameter: str, raw: str | None, allowed: Sequence[str]
) -> str | None:
    if raw is None or not raw.strip():
        return None
    value = raw.strip()
    if value not in allowed:
        errors.append(
            _error(
                parameter,
                f"{parameter} is one of {', '.join(allowed)}, not {value[:40]!r}",
                allowed,
            )
        )
        return None
    return value


def parse_list_query(
    *,
    status: str | None = None,
    state: str | None = None,
    division: str | None = None,
    card: str | None = None,
    limit: str | None = None,
    default_state: str = "all",
) -> ListQuery:
    """Check every parameter; one 422 lists each bad one with the values it may take.

    A division includes the divisions under it (430000: all of Hunan; a prefecture: its
    counties); several are comma-separated, as are statuses."""
    errors: list[dict[str, Any]] = []
    statuses: tuple[str, ...] | None = None
    if status is not None and status.strip():
        asked = _split(status)
        bad = [s for s in asked if s not in STATUSES]
        if bad:
            errors.append(
                _error(
                    "status",
                    f"unknown status {bad[0][:40]!r}; allowed: {', '.join(STATUSES)}",
                    STATUSES,
                )
            )
        else:
            statuses = tuple(dict.fromkeys(asked))
    chosen_state = _one_of(errors, "state", state, STATES) or default_state
    chosen_card = _one_of(errors, "card", card, CARDS)
    codes: set[str] | None = None
    if division is not None and division.strip():
        known = divisions()
        codes = set()
        for code in _split(division):
            place = known.get(code)
            if place is None or place.level == "partner":
                errors.append(
                    _error(
                        "division",
                        f"unknown division {code[:12]!r}; allowed: a Hunan GB/T 2260 code"
                        f" ({HUNAN} for the whole province, a prefecture such as 430100 with its"
                        " counties, or a county)",
                        _hunan_codes(),
                    )
                )
                codes = None
                break
            codes |= division_codes(code)
    chosen_limit = DEFAULT_LIMIT
    if limit is not None and limit.strip():
        text = limit.strip()
        if text.isascii() and text.isdigit() and len(text) <= 6 and 1 <= int(text) <= MAX_LIMIT:
            chosen_limit = int(text)
        else:
            errors.append(_error("limit", f"limit is a whole number from 1 to {MAX_LIMIT}", None))
    if errors:
        raise ValidationFailed(
            "Some query parameters are not valid: " + "; ".join(e["detail"] for e in errors),
            errors=errors,
        )
    return ListQuery(
        state=chosen_state,
        statuses=statuses,
        divisions=frozenset(codes) if codes is not None else None,
        card=chosen_card,
        limit=chosen_limit,
    )


def _within(
    column: InstrumentedAttribute[str], *reaches: frozenset[str] | None
) -> list[ColumnElement[bool]]:
    """Conditions keeping ``column`` inside every given reach (None: no limit)."""
    return [column.in_(sorted(reach)) for reach in reaches if reach is not None]


def _state_condition(
    closed: InstrumentedAttribute[datetime | None], state: str
) -> list[ColumnElement[bool]]:
    if state == "open":
        return [closed.is_(None)]
    if state == "closed":
        return [closed.is_not(None)]
    return []


def ticket_view(ticket: HotlineTicket, settings: Settings, now: datetime) -> dict[str, Any]:
    """A ticket as operators see it: never its content (the resident's words) nor the reply."""
    return {
        "id": ticket.id,
        "number": ticket.number,
        "division": ticket.division,
        "division_name": _division_name(ticket.division),
        "category": ticket.category,
        "channel": ticket.channel,
        "desk": ticket.desk,
        "priority": ticket.priority,
        "centre": ticket.centre,
        "item_code": ticket.item_code,
        "status": ticket.status,
        "status_label": STATUS_LABELS.get(ticket.status, ticket.status),
        "filed_at": _iso(ticket.filed_at, settings),
        "deadline": _iso(ticket.deadline_at, settings),
        "deadline_estimated": ticket.deadline_estimated,
        "closed_at": _iso(ticket.closed_at, settings),
        "card": card_at(settings, aware(ticket.deadline_at), ticket.closed_at, now),
        "on_time": closed_on_time(aware(ticket.deadline_at), ticket.closed_at),
    }


async def ticket_list(
    session: AsyncSession, settings: Settings, query: ListQuery, *, now: datetime
) -> dict[str, Any]:
    """Tickets matching ``query``, newest first (GET /ops/hotline/tickets)."""
    now = aware(now)
    t = HotlineTicket
    conditions = [
        *_state_condition(t.closed_at, query.state),
        *_within(t.division, query.divisions),
    ]
    if query.statuses is not None:
        conditions.append(t.status.in_(query.statuses))
    if query.card is not None:
        yellow_end = yellow_before(settings, now)
        conditions.append(_card_condition(t.deadline_at, t.closed_at, query.card, now, yellow_end))
    total = int(await session.scalar(select(func.count()).select_from(t).where(*conditions)) or 0)
    rows = await session.scalars(
        select(t).where(*conditions).order_by(t.filed_at.desc(), t.id.desc()).limit(query.limit)
    )
    tickets = [ticket_view(row, settings, now) for row in rows]
    return {
        "as_of": _iso(now, settings),
        "filters": query.as_json(),
        "limit": query.limit,
        "total": total,
        "truncated": total > len(tickets),
        "tickets": tickets,
    }


def follow_up_view(
    follow_up: HotlineFollowUp,
    rating: HotlineRating | None,
    item_name: str | None,
    settings: Settings,
    now: datetime,
) -> dict[str, Any]:
    """A follow-up with the rating that opened it (its level and channel, never its comment:
    the resident's words)."""
    deadline = aware(follow_up.deadline_at)
    return {
        "id": follow_up.id,
        "rating_id": follow_up.rating_id,
        "division": follow_up.division,
        "division_name": _division_name(follow_up.division),
        "item_code": follow_up.item_code,
        "item_name": item_name,
        "subject_kind": rating.subject_kind if rating else None,
        "channel": rating.channel if rating else None,
        "level": LEVEL_NAMES.get(rating.level) if rating else None,
        "level_label": LEVEL_LABELS.get(rating.level) if rating else None,
        "opened_at": _iso(follow_up.opened_at, settings),
        "deadline": _iso(deadline, settings),
        "deadline_estimated": follow_up.deadline_estimated,
        "card": card_at(settings, deadline, follow_up.closed_at, now),
        "closed_at": _iso(follow_up.closed_at, settings),
        "closed_by": follow_up.closed_by,
        "resolution": follow_up.resolution,
        "on_time": closed_on_time(deadline, follow_up.closed_at),
    }


def _follow_up_select() -> Any:
    f = HotlineFollowUp
    return (
        select(f, HotlineRating, Item.name)
        .outerjoin(HotlineRating, HotlineRating.id == f.rating_id)
        .outerjoin(Item, Item.code == f.item_code)
    )


async def follow_up_list(
    session: AsyncSession,
    settings: Settings,
    query: ListQuery,
    *,
    now: datetime,
    reach: frozenset[str] | None = None,
) -> dict[str, Any]:
    """Follow-ups matching ``query`` within ``reach`` (a division admin's divisions; None: all),
    the most urgent first: by deadline (GET /ops/hotline/follow-ups)."""
    now = aware(now)
    f = HotlineFollowUp
    conditions = [
        *_state_condition(f.closed_at, query.state),
        *_within(f.division, query.divisions, reach),
    ]
    if query.card is not None:
        yellow_end = yellow_before(settings, now)
        conditions.append(_card_condition(f.deadline_at, f.closed_at, query.card, now, yellow_end))
    total = int(await session.scalar(select(func.count()).select_from(f).where(*conditions)) or 0)
    rows = (
        await session.execute(
            _follow_up_select().where(*conditions).order_by(f.deadline_at, f.id).limit(query.limit)
        )
    ).all()
    follow_ups = [follow_up_view(fu, rating, name, settings, now) for fu, rating, name in rows]
    return {
        "as_of": _iso(now, settings),
        "filters": query.as_json(),
        "divisions": sorted(reach) if reach is not None else None,
        "limit": query.limit,
        "total": total,
        "truncated": total > len(follow_ups),
        "follow_ups": follow_ups,
    }


async def follow_up_by_id(
    session: AsyncSession, settings: Settings, follow_up_id: str, *, now: datetime
) -> dict[str, Any] | None:
    row = (
        await session.execute(_follow_up_select().where(HotlineFollowUp.id == follow_up_id))
    ).first()
    if row is None:
        return None
    follow_up, rating, name = row
    return follow_up_view(follow_up, rating, name, settings, aware(now))


def reach_of(division: str | None) -> frozenset[str]:
    """A division admin's reach: its division and the divisions under it."""
    return frozenset(division_codes(division)) if division else frozenset()
