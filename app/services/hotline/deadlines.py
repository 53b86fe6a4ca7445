"""Deadlines and red/yellow cards (湖南省行政审批电子监察) for tickets and follow-ups.

A ticket has its category's working days from filing (``Settings.hotline_deadlines``); a
follow-up of a bad rating has ``hotline_follow_up_days`` from the rating. While open, one gets a
yellow card when its deadline is ``hotline_yellow_days`` working days away or less (today
included), a red card once the deadline has passed. A closed one has no card: it was closed on
time or it was not.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from app.core.config import Settings
from app.core.workdays import Deadline, add_working_days, working_days_left

Card = Literal["yellow", "red"]


def ticket_deadline(settings: Settings, category: str, filed_at: datetime) -> Deadline:
    return add_working_days(filed_at, settings.hotline_deadlines[category], settings.tz)


def follow_up_deadline(settings: Settings, opened_at: datetime) -> Deadline:
    return add_working_days(opened_at, settings.hotline_follow_up_days, settings.tz)


def card(
    settings: Settings, deadline: datetime, closed_at: datetime | None, now: datetime
) -> Card | None:
    """The card an item due at ``deadline`` holds at ``now``."""
    if closed_at is not None:
        return None
    if now > deadline:
        return "red"
    if working_days_left(now, deadline, settings.tz) <= settings.hotline_yellow_days:
        return "yellow"
    return None


def on_time(deadline: datetime, closed_at: datetime | None) -> bool | None:
    """Whether it was closed by its deadline (None while open)."""
    return None if closed_at is None else closed_at <= deadline
