"""GET /ops/targets on a fixed clock: current values, 7-day rates from snapshots, projections."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, async_sessionmaker

from app.core.config import Settings
from app.models.catalog import TargetSnapshot
from app.services.ops.targets import (
    TargetSnapshotTask,
    compute_targets,
    project,
    seconds_until_next_run,
)
from tests.ops.conftest import FixedClock
from tests.ops.support import CHANGSHA_ITEMS, add_items, item, onboard_city, set_accounts

YEAR_END = date(2026, 12, 31)
TODAY = date(2026, 6, 15)  # the clock fixture: 2026-06-15 10:30 in Shanghai
DAYS_LEFT = (YEAR_END - TODAY).days  # 199


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "target_items_online": 100,
            "target_one_network": 50,
            "target_license_types": 200,
            "target_users": 20_000,
        }
    )


def snapshot(day: date, target: str, value: int) -> TargetSnapshot:
    return TargetSnapshot(day=day, target=target, value=value)


async def catalog(session: AsyncSession, client: httpx.AsyncClient, headers: dict[str, str]) -> int:
    """Changsha onboarded (its operations bind six items); returns the service id.

    Items: five of its six online (two of them 一网通办) and one offline; plus an online item no
    operation binds and an item of another city: neither counts."""
    created = await onboard_city(client, headers)
    online = [
        item(code, online=code != "430100-CSDJ-001", one_network=code.endswith("GJJ-001"))
        for code in CHANGSHA_ITEMS
    ]
    online[-2].one_network = True  # 430100-JZZ-001
    await add_items(
        session,
        *online,
        item("430100-UNBOUND-001", online=True, one_network=True),
        item("430200-BDC-001", online=True),
    )
    service_id: int = created["id"]
    return service_id


def by_name(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {t["name"]: t for t in body["targets"]}


async def test_rates_projections_and_on_track_from_snapshots(
    client: httpx.AsyncClient, session: AsyncSession, admin_headers: dict[str, str]
) -> None:
    await catalog(session, client, admin_headers)
    await set_accounts(session, persons=1_000, legal_persons=200)
    session.add_all(
        [
            snapshot(date(2026, 6, 1), "items_online", 0),  # before the window: ignored
            snapshot(date(2026, 6, 8), "items_online", 1),  # exactly 7 days before
            snapshot(date(2026, 6, 10), "items_online", 3),
            snapshot(date(2026, 6, 8), "one_network", 2),
            snapshot(date(2026, 6, 12), "users", 900),  # the oldest in the window
            snapshot(date(2026, 6, 14), "users", 1_100),
        ]
    )
    await session.flush()

    response = await client.get("/ops/targets", headers=admin_headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["today"] == "2026-06-15"
    assert body["year_end"] == "2026-12-31"
    assert body["days_left"] == DAYS_LEFT == 199
    assert body["as_of"].startswith("2026-06-15T10:30:00+08:00")
    targets = by_name(body)
    assert list(targets) == ["items_online", "one_network", "license_types", "users"]

    items = targets["items_online"]
    assert (items["current"], items["target"]) == (5, 100)
    assert items["ratio"] == pytest.approx(0.05)
    assert items["rate_per_day"] == pytest.approx(4 / 7)
    assert (items["rate_since"], items["rate_days"]) == ("2026-06-08", 7)
    assert items["projected"] == 5 + (4 * 199) // 7 == 118
    assert items["on_track"] is True

    one = targets["one_network"]
    assert (one["current"], one["rate_per_day"], one["projected"]) == (2, 0.0, 2)
    assert one["on_track"] is False

    licenses = targets["license_types"]
    assert (licenses["current"], licenses["rate_days"], licenses["projected"]) == (0, 0, 0)
    assert licenses["rate_since"] is None
    assert "e-license" in licenses["source"]
    assert licenses["on_track"] is False

    users = targets["users"]
    assert users["current"] == 1_200
    assert (users["rate_since"], users["rate_days"]) == ("2026-06-12", 3)
    assert users["rate_per_day"] == pytest.approx(100.0)
    assert users["projected"] == 1_200 + 100 * 199 == 21_100
    assert users["on_track"] is True
    assert "persons + legal persons" in users["source"]

    # Computing the targets recorded today's values.
    today = await session.execute(
        select(TargetSnapshot.target, TargetSnapshot.value).where(TargetSnapshot.day == TODAY)
    )
    assert {t: v for t, v in today} == {
        "items_online": 5,
        "one_network": 2,
        "license_types": 0,
        "users": 1_200,
    }


async def test_retiring_a_service_lowers_the_rate_below_zero(
    client: httpx.AsyncClient,
    session: AsyncSession,
    admin_headers: dict[str, str],
    clock: FixedClock,
) -> None:
    service_id = await catalog(session, client, admin_headers)
    session.add(snapshot(date(2026, 6, 8), "items_online", 5))
    await session.flush()
    before = by_name((await client.get("/ops/targets", headers=admin_headers)).json())
    assert (before["items_online"]["current"], before["items_online"]["rate_per_day"]) == (5, 0.0)

    retired = await client.delete(f"/admin/services/{service_id}", headers=admin_headers)
    assert retired.status_code == 200, retired.text
    clock.now = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)  # later the same local day
    after = by_name((await client.get("/ops/targets", headers=admin_headers)).json())
    items = after["items_online"]
    assert items["current"] == 0  # no live operation binds them any more
    assert items["rate_per_day"] == pytest.approx(-5 / 7)
    assert items["projected"] == 0  # never below zero
    assert items["on_track"] is False
    assert after["one_network"]["current"] == 0
    # The day's snapshot holds the day's latest value.
    value = await session.scalar(
        select(TargetSnapshot.value).where(
            TargetSnapshot.day == TODAY, TargetSnapshot.target == "items_online"
        )
    )
    assert value == 0


async def test_a_falling_value_projects_downwards(session: AsyncSession) -> None:
    status = project(
        name="users",
        target=1_000,
        current=2_000,
        baseline=(date(2026, 6, 8), 2_070),
        today=TODAY,
        year_end=YEAR_END,
        source="test",
    )
    assert status.rate_per_day == pytest.approx(-10.0)
    assert status.projected == 2_000 - 10 * 199 == 10
    assert status.on_track is False
    exactly = project(
        name="users",
        target=10,
        current=2_000,
        baseline=(date(2026, 6, 8), 2_070),
        today=TODAY,
        year_end=YEAR_END,
        source="test",
    )
    assert exactly.on_track is True  # projected == target is on track


def test_projection_edge_cases() -> None:
    common: dict[str, Any] = {"name": "items_online", "source": "t", "today": TODAY}
    none = project(target=100, current=40, baseline=None, year_end=YEAR_END, **common)
    assert (none.rate_per_day, none.rate_days, none.projected) == (0.0, 0, 40)
    past = project(
        target=100, current=40, baseline=(date(2026, 6, 8), 0), year_end=date(2026, 1, 1), **common
    )
    assert past.projected == 40  # the year end has passed: no days left to grow
    zero = project(target=0, current=0, baseline=None, year_end=YEAR_END, **common)
    assert (zero.ratio, zero.on_track) == (1.0, True)
    # 7 per day for 199 days is exactly 1393: no binary-fraction shortfall.
    exact = project(
        target=1_400,
        current=7,
        baseline=(date(2026, 6, 8), 7 - 49),
        year_end=YEAR_END,
        **common,
    )
    assert exact.projected == 7 + 7 * 199 == 1_400
    assert exact.on_track is True


async def test_the_year_end_defaults_to_31_december_local(
    session: AsyncSession, settings: Settings
) -> None:
    # 2026-12-31 20:00 UTC is already 2027-01-01 in Shanghai.
    report = await compute_targets(
        session, settings, now=datetime(2026, 12, 31, 20, 0, tzinfo=UTC), record=False
    )
    assert (report.today, report.year_end, report.days_left) == (
        date(2027, 1, 1),
        date(2027, 12, 31),
        364,
    )
    fixed = settings.model_copy(update={"target_year_end": date(2027, 6, 30)})
    report = await compute_targets(
        session, fixed, now=datetime(2027, 1, 1, tzinfo=UTC), record=False
    )
    assert (report.year_end, report.days_left) == (date(2027, 6, 30), 180)


async def test_the_daily_task_upserts_the_days_snapshots(
    connection: AsyncConnection, session: AsyncSession, settings: Settings
) -> None:
    await set_accounts(session, persons=7, legal_persons=3)
    await session.commit()
    shared = async_sessionmaker(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    clock = FixedClock(datetime(2026, 6, 15, 15, 59, tzinfo=UTC))  # 23:59 in Shanghai
    task = TargetSnapshotTask(shared, settings, clock=clock)
    assert await task.run_once() == {
        "items_online": 0,
        "one_network": 0,
        "license_types": 0,
        "users": 10,
    }
    await set_accounts(session, persons=8, legal_persons=3)
    await session.commit()
    await task.run_once()  # the same day again: the latest value wins
    rows = await session.execute(
        select(TargetSnapshot.target, TargetSnapshot.value).where(TargetSnapshot.day == TODAY)
    )
    assert {t: v for t, v in rows}["users"] == 11


def test_the_task_wakes_for_the_days_last_value(settings: Settings) -> None:
    at = datetime(2026, 6, 15, 15, 50, tzinfo=UTC)  # 23:50 local: 9 minutes to 23:59
    assert seconds_until_next_run(at, settings, 900) == 540
    noon = datetime(2026, 6, 15, 4, 0, tzinfo=UTC)
    assert seconds_until_next_run(noon, settings, 900) == 900
    after = datetime(2026, 6, 15, 15, 59, 30, tzinfo=UTC)
    assert seconds_until_next_run(after, settings, 900) == 900
