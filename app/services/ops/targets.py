"""The four year-end targets: where each stands, how fast it moves, and whether it will make it.

- Current values: items online and 一网通办 from the catalog (online *and* bound to an operation
  of an active service), kinds of e-license (the types the onboarded e-license registry lists,
  measured by the caller before any lock: app.gateway.license_types), and
  users (persons + legal persons, from identity's exact counters).
- Daily snapshots (``target_snapshots``, one row per local day and target) hold each day's latest
  value: they are upserted whenever the targets are computed (``GET /ops/targets``, ``xyb ops
  targets``) and by :class:`TargetSnapshotTask`, which the app schedules.
- The rate is per day over the last 7 days: (today's value - the snapshot 7 days ago, or the
  oldest snapshot in those 7 days) / the days between them. Values can fall (a retired service
  takes its items offline), so the rate can be negative.
- The projection extends the rate to the year end (``XYB_TARGET_YEAR_END``, default 31 December
  of the current year in ``XYB_TIMEZONE``): ``floor(current + rate * days_left)``, never below 0;
  on track means projected >= target.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.core.config import Settings
from app.core.db import take_write_lock
from app.core.logging import describe_exception
from app.identity.accounts import account_totals
from app.models.catalog import TargetSnapshot
from app.services.ops.clock import Clock, aware, system_clock

log = logging.getLogger("xyb.ops.targets")

TARGET_NAMES = ("items_online", "one_network", "license_types", "users")
LABELS = {
    "items_online": "事项上线 (service items online)",
    "one_network": "一网通办 (items handled fully online)",
    "license_types": "电子证照 (kinds of e-license)",
    "users": "用户 (persons and legal persons)",
}
RATE_WINDOW_DAYS = 7


@dataclass(frozen=True, slots=True)
class Measured:
    """A target's value measured outside the database (the e-license registry's type count)."""

    value: int
    source: str


# Measures the e-license target; called before any database lock is taken (it may call out).
LicenseTypeSource = Callable[[], Awaitable[Measured]]
NOT_MEASURED = Measured(0, "not measured: no e-license registry is connected to this process")


@dataclass(frozen=True, slots=True)
class TargetStatus:
    name: str
    label: str
    target: int
    current: int
    ratio: float  # current / target (1.0 when the target is 0)
    rate_per_day: float  # over the last RATE_WINDOW_DAYS days; 0 without history
    rate_since: date | None  # the snapshot the rate is measured from (None: no history yet)
    rate_days: int  # days between that snapshot and today
    projected: int  # at the year end
    on_track: bool
    source: str


@dataclass(frozen=True, slots=True)
class TargetsReport:
    as_of: datetime  # local time
    today: date
    year_end: date
    days_left: int
    window_days: int
    targets: list[TargetStatus]

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["as_of"] = self.as_of.isoformat()
        data["today"] = self.today.isoformat()
        data["year_end"] = self.year_end.isoformat()
        for target in data["targets"]:
            since = target["rate_since"]
            target["rate_since"] = since.isoformat() if since is not None else None
        return data


def target_of(settings: Settings, name: str) -> int:
    targets = {
        "items_online": settings.target_items_online,
        "one_network": settings.target_one_network,
        "license_types": settings.target_license_types,
        "users": settings.target_users,
    }
    return targets[name]


def year_end_of(settings: Settings, today: date) -> date:
    """XYB_TARGET_YEAR_END, or 31 December of ``today``'s year."""
    return settings.target_year_end or date(today.year, 12, 31)


def local_now(settings: Settings, clock: Clock) -> datetime:
    return aware(clock()).astimezone(settings.tz)


def project(
    *,
    name: str,
    target: int,
    current: int,
    baseline: tuple[date, int] | None,
    today: date,
    year_end: date,
    source: str,
) -> TargetStatus:
    """One target's status from its current value and its baseline snapshot (pure)."""
    rate_days = (today - baseline[0]).days if baseline is not None else 0
    if baseline is not None and rate_days > 0:
        rate = (current - baseline[1]) / rate_days
    else:
        rate, rate_days = 0.0, 0
    days_left = max(0, (year_end - today).days)
    # A tiny epsilon keeps 9999.999999... (binary fractions) from flooring to 9999.
    projected = max(0, math.floor(current + rate * days_left + 1e-9))
    return TargetStatus(
        name=name,
        label=LABELS[name],
        target=target,
        current=current,
        ratio=current / target if target > 0 else 1.0,
        rate_per_day=rate,
        rate_since=baseline[0] if baseline is not None and rate_days > 0 else None,
        rate_days=rate_days,
        projected=projected,
        on_track=projected >= target,
        source=source,
    )


async def current_values(
    session: AsyncSession, license_types: Measured = NOT_MEASURED
) -> tuple[dict[str, int], dict[str, str]]:
    """Each target's value now, and where it came from (``license_types`` measured already)."""
    from app.services.catalog.targets import catalog_target_values

    catalog = await catalog_target_values(session)
    accounts = await account_totals(session)
    values = {
        "items_online": int(catalog["items_online"]),
        "one_network": int(catalog["one_network"]),
        "license_types": license_types.value,
        "users": int(accounts.get("persons", 0)) + int(accounts.get("legal_persons", 0)),
    }
    sources = {
        "items_online": "catalog: items online and bound to an operation of an active service",
        "one_network": "catalog: items online, bound to an operation of an active service,"
        " and 一网通办",
        "license_types": license_types.source,
        "users": "identity: persons + legal persons (exact counters)",
    }
    return values, sources


async def upsert_snapshots(session: AsyncSession, day: date, values: dict[str, int]) -> None:
    """Record ``values`` as ``day``'s snapshots (the day's latest value wins)."""
    rows = [{"day": day, "target": name, "value": value} for name, value in values.items()]
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        pg = pg_insert(TargetSnapshot).values(rows)
        await session.execute(
            pg.on_conflict_do_update(
                index_elements=["day", "target"], set_={"value": pg.excluded.value}
            )
        )
    else:
        lite = sqlite_insert(TargetSnapshot).values(rows)
        await session.execute(
            lite.on_conflict_do_update(
                index_elements=["day", "target"], set_={"value": lite.excluded.value}
            )
        )


async def baselines(session: AsyncSession, today: date) -> dict[str, tuple[date, int]]:
    """Per target, the snapshot 7 days before ``today``, or the oldest one since then."""
    start = today - timedelta(days=RATE_WINDOW_DAYS)
    rows = await session.execute(
        select(TargetSnapshot.target, TargetSnapshot.day, TargetSnapshot.value)
        .where(TargetSnapshot.day >= start, TargetSnapshot.day < today)
        .order_by(TargetSnapshot.day)
    )
    oldest: dict[str, tuple[date, int]] = {}
    for target, day, value in rows:
        oldest.setdefault(target, (day, int(value)))
    return oldest


async def compute_targets(
    session: AsyncSession,
    settings: Settings,
    *,
    now: datetime,
    record: bool = True,
    license_types: Measured = NOT_MEASURED,
) -> TargetsReport:
    """The four targets as of ``now``; with ``record`` today's snapshots are upserted too."""
    local = aware(now).astimezone(settings.tz)
    today = local.date()
    values, sources = await current_values(session, license_types)
    if record:
        try:
            async with session.begin_nested():
                await upsert_snapshots(session, today, values)
        except OperationalError as exc:
            # Reading the targets must not fail because another writer holds the database
            # (SQLite): the snapshot task records today's values anyway.
            log.warning(
                "today's target snapshots were not recorded",
                extra={"error": describe_exception(exc)},
            )
    base = await baselines(session, today)
    year_end = year_end_of(settings, today)
    statuses = [
        project(
            name=name,
            target=target_of(settings, name),
            current=values[name],
            baseline=base.get(name),
            today=today,
            year_end=year_end,
            source=sources[name],
        )
        for name in TARGET_NAMES
    ]
    return TargetsReport(
        as_of=local,
        today=today,
        year_end=year_end,
        days_left=max(0, (year_end - today).days),
        window_days=RATE_WINDOW_DAYS,
        targets=statuses,
    )


async def record_snapshots(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    *,
    now: datetime,
    license_types: Measured = NOT_MEASURED,
) -> dict[str, int]:
    """Upsert today's snapshots in a transaction of their own (the daily task's unit of work)."""
    local = aware(now).astimezone(settings.tz)
    async with sessionmaker() as session:
        # Read, then write: on SQLite take the write lock first (see app.core.db.SQLITE_BEGIN).
        await take_write_lock(session)
        values, _ = await current_values(session, license_types)
        await upsert_snapshots(session, local.date(), values)
        await session.commit()
    return values


def seconds_until_next_run(now: datetime, settings: Settings, interval: float) -> float:
    """Sleep ``interval``, but wake at 23:59 local if that comes first (the day's last value)."""
    local = aware(now).astimezone(settings.tz)
    day_end = datetime.combine(local.date(), datetime.min.time(), settings.tz) + timedelta(
        hours=23, minutes=59
    )
    until_day_end = (day_end - local).total_seconds()
    if 0 < until_day_end < interval:
        return until_day_end
    return interval


class TargetSnapshotTask:
    """Writes the day's snapshots at start, every ``interval`` seconds and at 23:59 local.

    Upserts are idempotent, so several instances may run it. Schedule it in the lifespan::

        snapshots = TargetSnapshotTask(res.sessionmaker, settings)
        await snapshots.start()
        ...
        await snapshots.stop()
    """

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        settings: Settings,
        *,
        clock: Clock = system_clock,
        interval: float = 900.0,
        license_types: LicenseTypeSource | None = None,
    ) -> None:
        self.license_types = license_types
        self.sessionmaker = sessionmaker
        self.settings = settings
        self.clock = clock
        self.interval = interval
        self._task: asyncio.Task[None] | None = None

    async def run_once(self) -> dict[str, int]:
        measured = await self.license_types() if self.license_types else NOT_MEASURED
        return await record_snapshots(
            self.sessionmaker, self.settings, now=self.clock(), license_types=measured
        )

    async def _loop(self) -> None:
        while True:
            try:
                await self.run_once()
            except Exception:
                log.exception("recording the targets' daily snapshots failed; retrying later")
            await asyncio.sleep(seconds_until_next_run(self.clock(), self.settings, self.interval))

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name="xyb-target-snapshots")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
