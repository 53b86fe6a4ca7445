"""China's official working-day calendar, for deadlines counted in working days.

The State Council publishes each year's public holidays and the make-up working days (调休) that
move weekends, usually in November for the next year. The ``chinese-calendar`` package (PyPI)
ships them year by year; a deadline is only as right as the installed release, so updating it
(``pip install -U chinese-calendar``) is how a new year's holidays arrive. For a day in a year the
installed release does not cover, the calendar falls back to Monday to Friday and says so
(``estimated``), so a deadline is never refused and never silently wrong.

A deadline of N working days from a moment is the end (23:59:59.999999 local) of the Nth working
day after that moment's local date: a ticket filed on the evening before 国庆 gets its first
working day after the holiday, and one filed on a make-up Saturday counts the following days as
any other.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import chinese_calendar

log = logging.getLogger("xyb.core.workdays")

# Far beyond any deadline here; bounds the walk should a calendar say no day is a working day.
MAX_SPAN_DAYS = 3660
_warned_years: set[int] = set()


@dataclass(frozen=True, slots=True)
class WorkingDay:
    """Whether a date is a working day, and whether the official calendar said so."""

    working: bool
    estimated: bool


def working_day(day: date) -> WorkingDay:
    """Is ``day`` a working day on China's official calendar (holidays off, 调休 days on)?"""
    try:
        return WorkingDay(chinese_calendar.is_workday(day), estimated=False)
    except NotImplementedError:
        if day.year not in _warned_years:
            _warned_years.add(day.year)
            log.warning(
                "the installed chinese-calendar has no holidays for this year: Monday to Friday"
                " are taken as working days (pip install -U chinese-calendar)",
                extra={"year": day.year},
            )
        return WorkingDay(day.weekday() < 5, estimated=True)


@dataclass(frozen=True, slots=True)
class Deadline:
    at: datetime  # timezone-aware, the zone of the calculation
    estimated: bool  # a day on the way was outside the installed calendar


def add_working_days(start: datetime, days: int, tz: ZoneInfo) -> Deadline:
    """The end of the ``days``-th working day after ``start``'s local date (``days`` ≥ 1)."""
    if days < 1:
        raise ValueError("a deadline is at least one working day")
    local = start.astimezone(tz).date()
    estimated = False
    counted = 0
    for offset in range(1, MAX_SPAN_DAYS + 1):
        day = local + timedelta(days=offset)
        verdict = working_day(day)
        estimated = estimated or verdict.estimated
        if verdict.working:
            counted += 1
            if counted == days:
                return Deadline(datetime.combine(day, time.max, tzinfo=tz), estimated)
    raise ValueError(f"no {days} working days within {MAX_SPAN_DAYS} days of {local}")


def working_days_left(now: datetime, deadline: datetime, tz: ZoneInfo) -> int:
    """Working days from ``now``'s local date to the deadline's, the deadline's day counted and
    today not: 0 when the deadline is today, negative (-1) once it has passed."""
    if now > deadline:
        return -1
    today = now.astimezone(tz).date()
    last = deadline.astimezone(tz).date()
    left = 0
    day = today + timedelta(days=1)
    while day <= last and left <= MAX_SPAN_DAYS:
        if working_day(day).working:
            left += 1
        day += timedelta(days=1)
    return left


__all__ = ["Deadline", "WorkingDay", "add_working_days", "working_day", "working_days_left"]
