"""Helpers for counting tests: a fixed clock, events, sessions that fail on purpose, row sums."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, async_sessionmaker

from app.core.config import Settings
from app.core.db import create_engine
from app.events import AccessEvent, Outcome, outcome_of
from app.models.counting import AccessCount
from app.services.counting.tally import HISTOGRAM_COLUMNS
from app.simulators import openapi_document
from tests.gateway.support import service_body


@dataclass
class FixedClock:
    """A clock that moves only when told to."""

    now: datetime = field(default_factory=lambda: datetime(2026, 1, 1, 16, 30, tzinfo=UTC))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def event(
    *,
    at: datetime,
    status: int = 200,
    from_upstream: bool = True,
    total_ms: float = 3.0,
    upstream_ms: float | None = 2.0,
    service_id: int | None = 7,
    service: str | None = "430100/zwfw",
    operation_id: str | None = "getFundAccount",
    client_id: str | None = "c-test",
    event_id: str | None = None,
) -> AccessEvent:
    return AccessEvent(
        event_id=event_id or uuid.uuid4().hex,
        request_id=uuid.uuid4().hex,
        at=at,
        client_id=client_id,
        division="430100",
        service_id=service_id,
        service=service,
        operation_id=operation_id,
        item_code=None,
        method="GET",
        status=status,
        outcome=outcome_of(status, from_upstream=from_upstream),
        from_upstream=from_upstream,
        upstream_ms=upstream_ms,
        total_ms=total_ms,
    )


def outcome_of_answer(answer: httpx.Response) -> Outcome:
    """The outcome a call's answer implies, as its caller can tell: an upstream's own answer
    (``X-XYB-Upstream``) by its status, the gateway's problem by its ``fault``."""
    from_upstream = "x-xyb-upstream" in answer.headers
    fault = None
    if not from_upstream and answer.headers.get("content-type", "").startswith(
        "application/problem+json"
    ):
        fault = answer.json()["fault"]
    return outcome_of(answer.status_code, from_upstream=from_upstream, fault=fault)


class DatabaseDown(OperationalError):
    def __init__(self) -> None:
        super().__init__("COMMIT", {}, ConnectionRefusedError("the database is down"))


class FlakySession(AsyncSession):
    """A session whose commits follow ``plan``: "fail" (nothing committed), "lose-ack" (committed,
    then the acknowledgement is lost), anything else or an empty plan: commit normally."""

    plan: list[str] = []  # noqa: RUF012  (replaced per test by ``flaky_sessionmaker``)
    commits: list[str] = []  # noqa: RUF012

    async def commit(self) -> None:
        action = self.plan.pop(0) if self.plan else "ok"
        self.commits.append(action)
        if action == "fail":
            raise DatabaseDown()
        await super().commit()
        if action == "lose-ack":
            raise ConnectionResetError("the connection dropped before COMMIT was acknowledged")


def shared_sessionmaker(connection: AsyncConnection) -> async_sessionmaker[AsyncSession]:
    """Sessions inside the test's transaction (commits become savepoint releases)."""
    return async_sessionmaker(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )


def flaky_sessionmaker(
    connection: AsyncConnection, plan: list[str]
) -> tuple[async_sessionmaker[AsyncSession], type[FlakySession]]:
    session_class = type("Flaky", (FlakySession,), {"plan": list(plan), "commits": []})
    maker: async_sessionmaker[AsyncSession] = async_sessionmaker(
        bind=connection,
        class_=session_class,
        join_transaction_mode="create_savepoint",
        expire_on_commit=False,
    )
    return maker, session_class


async def sums(session: AsyncSession, **where: Any) -> dict[str, int]:
    """calls per outcome among access_counts rows matching ``where`` (column=value)."""
    query = select(AccessCount.outcome, func.sum(AccessCount.calls)).group_by(AccessCount.outcome)
    for name, value in where.items():
        query = query.where(getattr(AccessCount, name) == value)
    rows = (await session.execute(query)).all()
    return {outcome: int(total) for outcome, total in rows}


async def rows(session: AsyncSession, **where: Any) -> list[AccessCount]:
    query = select(AccessCount).execution_options(populate_existing=True)
    for name, value in where.items():
        query = query.where(getattr(AccessCount, name) == value)
    return list((await session.scalars(query)).all())


def histogram(row: AccessCount) -> list[int]:
    return [int(getattr(row, name)) for name in HISTOGRAM_COLUMNS]


OUTCOMES = [o.value for o in Outcome]
LOCAL_DAY = date(2026, 1, 2)


async def onboard_live(
    client: httpx.AsyncClient,
    base: str,
    admin: Mapping[str, str],
    *,
    division: str,
    upstream: str,
    **policy: Any,
) -> dict[str, str]:
    """Onboard a city's service ``zwfw`` on a live gateway, and return the headers of a client
    granted it (an integrator with a limit far above any test's load)."""
    onboarded = await client.post(
        base + "/admin/services",
        json=service_body(
            division=division,
            slug="zwfw",
            upstream_url=upstream,
            document=openapi_document(division),
            **policy,
        ),
        headers=dict(admin),
    )
    assert onboarded.status_code == 201, onboarded.text
    created = (
        await client.post(
            base + "/admin/clients",
            json={"name": "load", "kind": "integrator", "rate_per_s": 100000, "burst": 100000},
            headers=dict(admin),
        )
    ).json()
    granted = await client.post(
        base + f"/admin/clients/{created['client_id']}/grants",
        json={"division": division, "slug": "zwfw"},
        headers=dict(admin),
    )
    assert granted.status_code == 201, granted.text
    issued = await client.post(
        base + "/identity/token",
        data={"grant_type": "client_credentials"},
        auth=(created["client_id"], created["client_secret"]),
    )
    assert issued.status_code == 200, issued.text
    return {"Authorization": f"Bearer {issued.json()['access_token']}"}


async def database_calls(url: str, data_dir: Path) -> dict[str, int]:
    """Calls per outcome in ``access_counts`` of the database at ``url`` (a live server's)."""
    engine = create_engine(Settings(data_dir=data_dir), url)
    try:
        async with engine.connect() as conn:
            query = select(AccessCount.outcome, func.sum(AccessCount.calls)).group_by(
                AccessCount.outcome
            )
            return {outcome: int(total) for outcome, total in (await conn.execute(query)).all()}
    finally:
        await engine.dispose()
