"""Deadlines in working days on China's official calendar (chinese-calendar), Asia/Shanghai.

2025's 国庆 and 中秋: 1-8 October are holidays; Sunday 28 September and Saturday 11 October are
make-up working days (调休) (国务院办公厅关于2025年部分节假日安排的通知)."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from app.core.config import HOTLINE_DEADLINES, Settings
from app.core.workdays import add_working_days, working_day, working_days_left
from app.services.hotline.deadlines import card, follow_up_deadline, on_time, ticket_deadline

TZ = ZoneInfo("Asia/Shanghai")


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=TZ)


def end_of(day: str) -> datetime:
    return at(f"{day}T23:59:59.999999")


def test_the_official_calendar_knows_holidays_and_make_up_days() -> None:
    assert working_day(date(2025, 10, 1)).working is False  # 国庆
    assert working_day(date(2025, 10, 8)).working is False  # 中秋, joined to 国庆
    assert working_day(date(2025, 9, 28)).working is True  # a Sunday, 调休
    assert working_day(date(2025, 10, 11)).working is True  # a Saturday, 调休
    assert working_day(date(2025, 10, 12)).working is False  # an ordinary Sunday


def test_a_ticket_filed_just_before_guoqing_skips_the_holiday() -> None:
    # Tuesday 30 September 2025, 17:30: day 1 is Thursday 9 October (after eight days off).
    filed = at("2025-09-30T17:30:00")
    assert add_working_days(filed, 1, TZ).at == end_of("2025-10-09")
    # 5 working days: 9 (Thu), 10 (Fri), 11 (Sat, 调休), 13 (Mon), 14 (Tue).
    five = add_working_days(filed, 5, TZ)
    assert five.at == end_of("2025-10-14")
    assert five.estimated is False


def test_a_make_up_weekend_counts_and_an_ordinary_one_does_not() -> None:
    # Friday 26 September: Saturday 27 is off, Sunday 28 is a 调休 working day.
    assert add_working_days(at("2025-09-26T09:00:00"), 1, TZ).at == end_of("2025-09-28")
    # Friday 17 October: an ordinary weekend is skipped.
    assert add_working_days(at("2025-10-17T09:00:00"), 1, TZ).at == end_of("2025-10-20")


def test_the_local_date_decides_not_utc() -> None:
    # 16:30 UTC on 30 September is 00:30 on 1 October in Shanghai: already the holiday.
    filed = datetime(2025, 9, 30, 16, 30, tzinfo=UTC)
    assert add_working_days(filed, 1, TZ).at == end_of("2025-10-09")
    # ...and 15:59 UTC on 28 September (23:59 local, a 调休 Sunday) starts the next day.
    assert add_working_days(datetime(2025, 9, 28, 15, 59, tzinfo=UTC), 1, TZ).at == end_of(
        "2025-09-29"
    )


def test_a_year_the_package_does_not_know_is_estimated_on_weekdays(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Far enough ahead that no chinese-calendar release will know its holidays.
    with caplog.at_level(logging.WARNING, logger="xyb.core.workdays"):
        deadline = add_working_days(at("2099-01-02T10:00:00"), 1, TZ)  # a Friday
    assert deadline.at == end_of("2099-01-05")
    assert deadline.estimated is True
    assert "pip install -U chinese-calendar" in caplog.text


def test_working_days_left_counts_the_deadline_day_and_not_today() -> None:
    deadline = end_of("2025-10-14")
    assert working_days_left(at("2025-09-30T10:00:00"), deadline, TZ) == 5
    assert working_days_left(at("2025-10-13T10:00:00"), deadline, TZ) == 1
    assert working_days_left(at("2025-10-14T23:00:00"), deadline, TZ) == 0
    assert working_days_left(at("2025-10-15T00:00:00"), deadline, TZ) == -1


def test_deadlines_per_category_are_configurable() -> None:
    filed = at("2025-09-30T17:30:00")
    settings = Settings()
    assert settings.hotline_deadlines == HOTLINE_DEADLINES
    assert ticket_deadline(settings, "complaint", filed).at == end_of("2025-10-14")
    assert ticket_deadline(settings, "consultation", filed).at == end_of("2025-10-09")
    faster = Settings(hotline_deadlines={"complaint": 2})
    assert faster.hotline_deadlines["report"] == HOTLINE_DEADLINES["report"]
    assert ticket_deadline(faster, "complaint", filed).at == end_of("2025-10-10")
    assert follow_up_deadline(settings, filed).at == end_of("2025-10-21")
    with pytest.raises(ValueError, match="unknown ticket categories"):
        Settings(hotline_deadlines={"gossip": 3})
    with pytest.raises(ValueError, match="1 to 120"):
        Settings(hotline_deadlines={"complaint": 0})


def test_yellow_near_the_deadline_red_past_it_none_once_closed() -> None:
    settings = Settings()  # yellow one working day ahead
    deadline = end_of("2025-10-14")
    assert card(settings, deadline, None, at("2025-09-30T10:00:00")) is None
    # Friday 10 October: Saturday 11 (调休) and Monday 13 lie between; not yet yellow.
    assert card(settings, deadline, None, at("2025-10-10T10:00:00")) is None
    assert card(settings, deadline, None, at("2025-10-13T10:00:00")) == "yellow"
    assert card(settings, deadline, None, at("2025-10-14T20:00:00")) == "yellow"
    assert card(settings, deadline, None, at("2025-10-15T00:00:01")) == "red"
    closed = at("2025-10-15T09:00:00")
    assert card(settings, deadline, closed, at("2025-10-20T10:00:00")) is None
    assert on_time(deadline, closed) is False
    assert on_time(deadline, at("2025-10-14T09:00:00")) is True
    assert on_time(deadline, None) is None
