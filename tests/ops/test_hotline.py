"""The operators' view of the 12345 hotline and 好差评: /ops/hotline, its lists, closing a
follow-up, and `xyb ops hotline` / `xyb ops follow-ups`.

Rows are written straight into the hotline tables at a fixed clock, on the last working day
before 国庆 2025 (Tuesday 30 September, 16:00 in Shanghai): 1-8 October are holidays, Sunday
28 September and Saturday 11 October are make-up working days (调休). Every figure is checked
exactly.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from typer.testing import CliRunner

from app.cli_ops import ops_cli
from app.core.config import Settings
from app.core.db import create_engine, create_sessionmaker
from app.core.migrations import upgrade
from app.models.hotline import HotlineFollowUp, HotlineRating, HotlineTicket
from app.models.identity import Person
from app.services.hotline.deadlines import card, follow_up_deadline, ticket_deadline
from app.services.hotline.figures import hotline_summary, yellow_before
from app.services.ops.operators import create_operator
from app.services.ops.sessions import COOKIE_NAME
from tests.conftest import client_token
from tests.ops.conftest import FixedClock
from tests.ops.support import item, role_token

SHANGHAI = ZoneInfo("Asia/Shanghai")
RESIDENT_WORDS = (
    "楼下烧烤店油烟扰民，电话 13800000000"  # a ticket's content: never shown to operators
)
RATING_WORDS = "窗口态度差"  # a rating's comment: likewise


def local(day: date, hour: int = 10, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=SHANGHAI)


def end_of(day: date) -> datetime:
    return datetime.combine(day, time.max, tzinfo=SHANGHAI)


NOW = local(date(2025, 9, 30), 16)  # Tuesday, the last working day before 国庆


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW.astimezone(UTC))


# -- seeding ------------------------------------------------------------------------------------


def _ticket(
    settings: Settings,
    person_id: int,
    ticket_id: str,
    *,
    division: str,
    channel: str,
    category: str,
    status: str,
    filed: datetime,
    closed: datetime | None = None,
    desk: str = "centre",
    priority: str = "normal",
) -> HotlineTicket:
    deadline = ticket_deadline(settings, category, filed)
    return HotlineTicket(
        id=ticket_id,
        service="430000/hotline",
        person_id=person_id,
        client_id="app-xyb",
        idempotency_key=ticket_id.ljust(64, "0"),
        request_digest="0" * 64,
        number=f"HN12345{filed:%Y%m%d}{ticket_id[-1]:0>6}",
        channel=channel,
        category=category,
        content=RESIDENT_WORDS,
        division=division,
        item_code=None,
        desk=desk,
        priority=priority,
        centre="ZQT" if desk == "zqt" else division[:4] + "00",
        status=status,
        last_seq=1,
        filed_at=filed,
        deadline_at=deadline.at,
        deadline_estimated=deadline.estimated,
        closed_at=closed,
    )


def _rating(
    person_id: int,
    rating_id: str,
    *,
    division: str,
    channel: str,
    item_code: str | None,
    level: int,
    subject: str,
    kind: str = "call",
) -> HotlineRating:
    return HotlineRating(
        id=rating_id,
        person_id=person_id,
        subject_kind=kind,
        subject_id=subject,
        item_code=item_code,
        division=division,
        channel=channel,
        level=level,
        comment=RATING_WORDS,
        rated_at=local(date(2025, 9, 12)),
    )


def _follow_up(
    settings: Settings,
    follow_up_id: str,
    rating: HotlineRating,
    opened: datetime,
    *,
    closed: datetime | None = None,
) -> HotlineFollowUp:
    deadline = follow_up_deadline(settings, opened)
    return HotlineFollowUp(
        id=follow_up_id,
        rating_id=rating.id,
        division=rating.division,
        item_code=rating.item_code,
        opened_at=opened,
        deadline_at=deadline.at,
        deadline_estimated=deadline.estimated,
        closed_at=closed,
        closed_by="ops.li" if closed else None,
        resolution="已整改" if closed else None,
    )


GJJ, SB, XZ = "430100-GJJ-001", "430100-SB-001", "430500-XZ-001"


async def seed(session: AsyncSession, settings: Settings) -> None:
    """Five tickets, seven ratings, four follow-ups (see the expected figures in the tests)."""
    resident = Person(
        name="张三",
        id_number_enc="sealed",
        id_number_hash="h" * 64,
        id_number_masked="430*************1X",
        assurance=2,
        source="registered",
    )
    session.add(resident)
    await session.flush()
    pid = resident.id
    session.add(item(GJJ))
    d = date
    session.add_all(
        [
            # help, 5 working days from Friday 26 Sep: 28 (调休 Sunday), 29, 30, 9 and 10 Oct.
            _ticket(
                settings,
                pid,
                "tk-1",
                division="430100",
                channel="app",
                category="help",
                status="rated",
                filed=local(d(2025, 9, 26)),
                closed=local(d(2025, 9, 29), 15),
            ),
            # complaint from Monday 15 Sep: due Monday 22 Sep; closed on the 25th, late.
            _ticket(
                settings,
                pid,
                "tk-2",
                division="430100",
                channel="phone",
                category="complaint",
                status="closed",
                filed=local(d(2025, 9, 15)),
                closed=local(d(2025, 9, 25)),
            ),
            # consultation on 30 Sep: due the next working day, 9 Oct, after the holiday: yellow.
            _ticket(
                settings,
                pid,
                "tk-3",
                division="430500",
                channel="web",
                category="consultation",
                status="accepted",
                filed=local(d(2025, 9, 30), 9),
            ),
            # complaint from Monday 22 Sep: due Sunday 28 Sep (调休), past: red.
            _ticket(
                settings,
                pid,
                "tk-4",
                division="430500",
                channel="governor-mailbox",
                category="complaint",
                status="handling",
                filed=local(d(2025, 9, 22)),
            ),
            # suggestion, 10 working days from 29 Sep (11 Oct counts): due 20 Oct, no card.
            _ticket(
                settings,
                pid,
                "tk-5",
                division="430102",
                channel="app",
                category="suggestion",
                status="dispatched",
                filed=local(d(2025, 9, 29)),
                desk="zqt",
                priority="high",
            ),
        ]
    )
    ratings = [
        _rating(
            pid,
            "rt-1",
            division="430100",
            channel="app",
            item_code=GJJ,
            level=1,
            subject="tk-1",
            kind="ticket",
        ),
        _rating(
            pid, "rt-2", division="430100", channel="app", item_code=GJJ, level=2, subject="ev-2"
        ),
        _rating(
            pid, "rt-3", division="430100", channel="web", item_code=SB, level=4, subject="ev-3"
        ),
        _rating(
            pid, "rt-4", division="430500", channel="phone", item_code=None, level=5, subject="ev-4"
        ),
        _rating(
            pid, "rt-5", division="430500", channel="app", item_code=XZ, level=3, subject="ev-5"
        ),
        _rating(
            pid, "rt-6", division="430500", channel="app", item_code=XZ, level=4, subject="ev-6"
        ),
        _rating(
            pid, "rt-7", division="430100", channel="app", item_code=GJJ, level=5, subject="ev-7"
        ),
    ]
    session.add_all(ratings)
    await session.flush()
    by_id = {r.id: r for r in ratings}
    session.add_all(
        [
            # 10 working days from Friday 12 Sep: due Friday 26 Sep, past: red.
            _follow_up(settings, "fu-red", by_id["rt-4"], local(d(2025, 9, 12))),
            # from 26 Sep: 28, 29, 30 Sep, 9, 10, 11 (调休), 13-16 Oct: due 16 Oct, no card.
            _follow_up(settings, "fu-later", by_id["rt-3"], local(d(2025, 9, 26))),
            # from 17 Sep: due today, 30 Sep: yellow.
            _follow_up(settings, "fu-yellow", by_id["rt-6"], local(d(2025, 9, 17))),
            # from 15 Sep: due 28 Sep (调休); closed on the 26th, on time.
            _follow_up(
                settings,
                "fu-closed",
                by_id["rt-7"],
                local(d(2025, 9, 15)),
                closed=local(d(2025, 9, 26)),
            ),
        ]
    )
    await session.flush()


@pytest.fixture
async def seeded(session: AsyncSession, settings: Settings) -> None:
    await seed(session, settings)
    await session.commit()


# -- the calendar ---------------------------------------------------------------------------------


def test_the_seeded_deadlines_cross_national_day(settings: Settings) -> None:
    d = date
    assert ticket_deadline(settings, "consultation", local(d(2025, 9, 30), 9)).at == end_of(
        d(2025, 10, 9)
    )
    assert ticket_deadline(settings, "complaint", local(d(2025, 9, 22))).at == end_of(
        d(2025, 9, 28)
    )
    assert ticket_deadline(settings, "help", local(d(2025, 9, 26))).at == end_of(d(2025, 10, 10))
    assert ticket_deadline(settings, "suggestion", local(d(2025, 9, 29))).at == end_of(
        d(2025, 10, 20)
    )
    assert follow_up_deadline(settings, local(d(2025, 9, 26))).at == end_of(d(2025, 10, 16))
    assert follow_up_deadline(settings, local(d(2025, 9, 17))).at == end_of(d(2025, 9, 30))


def test_yellow_before_skips_the_holiday_and_counts_the_make_up_saturday(
    settings: Settings,
) -> None:
    # On 30 Sep one working day is left until 9 Oct: due by the end of 9 Oct is yellow.
    assert yellow_before(settings, NOW) == local(date(2025, 10, 10), 0)
    # On Friday 10 Oct, Saturday the 11th is a working day: due the 13th is two days away.
    assert yellow_before(settings, local(date(2025, 10, 10), 12)) == local(date(2025, 10, 13), 0)


@pytest.mark.parametrize("yellow_days", [0, 1, 2])
def test_the_sql_cards_are_the_cards_of_deadlines_card(yellow_days: int) -> None:
    """red: deadline < now; yellow: now <= deadline < yellow_before: deadlines.card's verdicts
    for every deadline around 国庆 and every moment of the check."""
    settings = Settings(hotline_yellow_days=yellow_days)
    moments = [local(date(2025, 9, 26) + timedelta(days=k), h) for k in range(20) for h in (0, 16)]
    deadlines = [end_of(date(2025, 9, 20) + timedelta(days=k)) for k in range(40)]
    deadlines += [local(date(2025, 9, 30), 12), local(date(2025, 10, 11), 9)]
    for now in moments:
        limit = yellow_before(settings, now)
        for deadline in deadlines:
            sql = "red" if deadline < now else "yellow" if deadline < limit else None
            assert sql == card(settings, deadline, None, now), (now, deadline)


# -- the summary ----------------------------------------------------------------------------------


async def test_the_summary_counts_every_figure(
    client: httpx.AsyncClient, admin_headers: dict[str, str], seeded: None
) -> None:
    response = await client.get("/ops/hotline", headers=admin_headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["as_of"] == "2025-09-30T16:00:00+08:00"
    assert body["yellow_days"] == 1

    tickets = body["tickets"]
    assert (tickets["total"], tickets["open"], tickets["closed"]) == (5, 3, 2)
    assert [(s["status"], s["label"], s["tickets"]) for s in tickets["by_status"]] == [
        ("accepted", "受理", 1),
        ("dispatched", "派单", 1),
        ("handling", "办理", 1),
        ("replied", "回复", 0),
        ("closed", "办结", 1),
        ("revisited", "回访", 0),
        ("rated", "评价", 1),
    ]
    assert tickets["by_division"] == [
        {
            "division": "430100",
            "division_name": "长沙市",
            "total": 2,
            "open": 0,
            "closed": 2,
            "closed_on_time": 1,
            "yellow": 0,
            "red": 0,
        },
        {
            "division": "430102",
            "division_name": "芙蓉区",
            "total": 1,
            "open": 1,
            "closed": 0,
            "closed_on_time": 0,
            "yellow": 0,
            "red": 0,
        },
        {
            "division": "430500",
            "division_name": "邵阳市",
            "total": 2,
            "open": 2,
            "closed": 0,
            "closed_on_time": 0,
            "yellow": 1,
            "red": 1,
        },
    ]

    assert body["on_time"] == {"closed": 2, "closed_on_time": 1, "rate": 0.5, "open_late": 1}
    assert body["cards"] == {
        "yellow": 2,
        "red": 2,
        "tickets": {"yellow": 1, "red": 1},
        "follow_ups": {"yellow": 1, "red": 1},
    }

    satisfaction = body["satisfaction"]
    assert (satisfaction["ratings"], satisfaction["satisfied"]) == (7, 3)
    assert satisfaction["rate"] == 3 / 7
    assert satisfaction["levels"] == {
        "very-satisfied": 1,
        "satisfied": 1,
        "basically-satisfied": 1,
        "dissatisfied": 2,
        "very-dissatisfied": 2,
    }

    def groups(key: str) -> list[tuple[Any, ...]]:
        return [
            (g["key"], g["name"], g["ratings"], g["satisfied"], g["rate"])
            for g in satisfaction[key]
        ]

    # The most rated first; the catalog names the item it knows.
    assert groups("by_item") == [
        (GJJ, f"事项 {GJJ}", 3, 2, 2 / 3),
        (XZ, None, 2, 1, 0.5),
        (SB, None, 1, 0, 0.0),
        (None, None, 1, 0, 0.0),
    ]
    assert satisfaction["items_truncated"] is False
    assert satisfaction["by_item"][0]["levels"] == {
        "very-satisfied": 1,
        "satisfied": 1,
        "basically-satisfied": 0,
        "dissatisfied": 0,
        "very-dissatisfied": 1,
    }
    assert groups("by_division") == [
        ("430100", "长沙市", 4, 2, 0.5),
        ("430500", "邵阳市", 3, 1, 1 / 3),
    ]
    assert groups("by_channel") == [
        ("app", "湘易办", 5, 3, 0.6),
        ("phone", "12345 热线电话", 1, 0, 0.0),
        ("web", "网站", 1, 0, 0.0),
    ]

    follow_ups = body["follow_ups"]
    assert {k: v for k, v in follow_ups.items() if k != "by_division"} == {
        "open": 3,
        "overdue": 1,
        "yellow": 1,
        "closed": 1,
        "closed_on_time": 1,
    }
    assert follow_ups["by_division"] == [
        {
            "division": "430100",
            "division_name": "长沙市",
            "open": 1,
            "overdue": 0,
            "yellow": 0,
            "closed": 1,
            "closed_on_time": 1,
        },
        {
            "division": "430500",
            "division_name": "邵阳市",
            "open": 2,
            "overdue": 1,
            "yellow": 1,
            "closed": 0,
            "closed_on_time": 0,
        },
    ]
    assert RESIDENT_WORDS not in response.text
    assert RATING_WORDS not in response.text


async def test_after_the_holiday_the_cards_move(
    session: AsyncSession, settings: Settings, seeded: None
) -> None:
    """On Friday 10 Oct: the consultation due 9 Oct is red; the suggestion due 20 Oct still has
    no card; the follow-up due 16 Oct has none either (11 Oct is a working day)."""
    later = await hotline_summary(session, settings, now=local(date(2025, 10, 10), 12))
    assert later["on_time"]["open_late"] == 2
    assert later["cards"]["tickets"] == {"yellow": 0, "red": 2}
    assert later["cards"]["follow_ups"] == {"yellow": 0, "red": 2}
    # On Wednesday 15 Oct, the follow-up due the 16th turns yellow.
    week = await hotline_summary(session, settings, now=local(date(2025, 10, 15), 9))
    assert week["cards"]["follow_ups"] == {"yellow": 1, "red": 2}


async def test_an_empty_hotline_has_no_rates(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    body = (await client.get("/ops/hotline", headers=admin_headers)).json()
    assert body["tickets"]["total"] == 0
    assert body["on_time"]["rate"] is None
    assert body["satisfaction"]["rate"] is None
    assert body["satisfaction"]["by_item"] == []
    assert body["follow_ups"]["open"] == 0


# -- the lists ------------------------------------------------------------------------------------


async def _ids(client: httpx.AsyncClient, headers: dict[str, str], path: str) -> list[str]:
    response = await client.get(path, headers=headers)
    assert response.status_code == 200, response.text
    key = "tickets" if "/tickets" in path else "follow_ups"
    return [row["id"] for row in response.json()[key]]


async def test_the_ticket_list_and_its_filters(
    client: httpx.AsyncClient, admin_headers: dict[str, str], seeded: None
) -> None:
    response = await client.get("/ops/hotline/tickets", headers=admin_headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert [t["id"] for t in body["tickets"]] == ["tk-3", "tk-5", "tk-1", "tk-4", "tk-2"]
    assert (body["total"], body["limit"], body["truncated"]) == (5, 100, False)
    assert RESIDENT_WORDS not in response.text
    rows = {t["id"]: t for t in body["tickets"]}
    assert "content" not in rows["tk-3"]
    assert rows["tk-3"] == {
        "id": "tk-3",
        "number": "HN1234520250930000003",
        "division": "430500",
        "division_name": "邵阳市",
        "category": "consultation",
        "channel": "web",
        "desk": "centre",
        "priority": "normal",
        "centre": "430500",
        "item_code": None,
        "status": "accepted",
        "status_label": "受理",
        "filed_at": "2025-09-30T09:00:00+08:00",
        "deadline": "2025-10-09T23:59:59.999999+08:00",
        "deadline_estimated": False,
        "closed_at": None,
        "card": "yellow",
        "on_time": None,
    }
    assert (rows["tk-4"]["card"], rows["tk-4"]["on_time"]) == ("red", None)
    assert (rows["tk-1"]["card"], rows["tk-1"]["on_time"]) == (None, True)
    assert (rows["tk-2"]["card"], rows["tk-2"]["on_time"]) == (None, False)
    assert rows["tk-5"]["desk"] == "zqt"
    assert rows["tk-5"]["centre"] == "ZQT"

    base = "/ops/hotline/tickets"
    assert await _ids(client, admin_headers, base + "?state=open") == ["tk-3", "tk-5", "tk-4"]
    assert await _ids(client, admin_headers, base + "?state=closed") == ["tk-1", "tk-2"]
    assert await _ids(client, admin_headers, base + "?card=red") == ["tk-4"]
    assert await _ids(client, admin_headers, base + "?card=yellow") == ["tk-3"]
    # A prefecture includes its counties.
    assert await _ids(client, admin_headers, base + "?division=430100") == ["tk-5", "tk-1", "tk-2"]
    assert await _ids(client, admin_headers, base + "?division=430102") == ["tk-5"]
    assert await _ids(client, admin_headers, base + "?division=430102,430500") == [
        "tk-3",
        "tk-5",
        "tk-4",
    ]
    assert await _ids(client, admin_headers, base + "?status=closed,rated") == ["tk-1", "tk-2"]
    assert await _ids(client, admin_headers, base + "?status=handling&division=430100") == []
    limited = (await client.get(base + "?limit=2", headers=admin_headers)).json()
    assert [t["id"] for t in limited["tickets"]] == ["tk-3", "tk-5"]
    assert (limited["total"], limited["truncated"]) == (5, True)


async def test_bad_list_parameters_are_one_422(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    response = await client.get(
        "/ops/hotline/tickets?status=done&state=half&division=999999&card=blue&limit=0",
        headers=admin_headers,
    )
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    errors = {e["pointer"]: e for e in response.json()["errors"]}
    assert set(errors) == {
        "/query/status",
        "/query/state",
        "/query/division",
        "/query/card",
        "/query/limit",
    }
    assert "accepted" in errors["/query/status"]["allowed"]
    assert errors["/query/card"]["allowed"] == ["yellow", "red"]
    partner = await client.get("/ops/hotline/follow-ups?division=440000", headers=admin_headers)
    assert partner.status_code == 422  # a partner province has no hotline divisions


async def test_the_follow_up_list(
    client: httpx.AsyncClient, admin_headers: dict[str, str], seeded: None
) -> None:
    response = await client.get("/ops/hotline/follow-ups", headers=admin_headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["filters"]["state"] == "open"
    assert body["divisions"] is None
    # The nearest deadline first.
    assert [f["id"] for f in body["follow_ups"]] == ["fu-red", "fu-yellow", "fu-later"]
    red = body["follow_ups"][0]
    assert red == {
        "id": "fu-red",
        "rating_id": "rt-4",
        "division": "430500",
        "division_name": "邵阳市",
        "item_code": None,
        "item_name": None,
        "subject_kind": "call",
        "channel": "phone",
        "level": "very-dissatisfied",
        "level_label": "非常不满意",
        "opened_at": "2025-09-12T10:00:00+08:00",
        "deadline": "2025-09-26T23:59:59.999999+08:00",
        "deadline_estimated": False,
        "card": "red",
        "closed_at": None,
        "closed_by": None,
        "resolution": None,
        "on_time": None,
    }
    assert body["follow_ups"][1]["card"] == "yellow"
    assert body["follow_ups"][2]["card"] is None
    assert RATING_WORDS not in response.text

    base = "/ops/hotline/follow-ups"
    assert await _ids(client, admin_headers, base + "?state=all") == [
        "fu-red",
        "fu-closed",
        "fu-yellow",
        "fu-later",
    ]
    closed = (await client.get(base + "?state=closed", headers=admin_headers)).json()
    [done] = closed["follow_ups"]
    assert (done["id"], done["closed_by"], done["resolution"]) == ("fu-closed", "ops.li", "已整改")
    assert (done["card"], done["on_time"], done["item_name"]) == (None, True, f"事项 {GJJ}")
    assert await _ids(client, admin_headers, base + "?card=yellow") == ["fu-yellow"]
    assert await _ids(client, admin_headers, base + "?division=430100") == ["fu-later"]


# -- who may read and close -----------------------------------------------------------------------


async def test_who_may_read_the_hotline_figures(
    client: httpx.AsyncClient, admin_headers: dict[str, str], seeded: None
) -> None:
    for path in ("/ops/hotline", "/ops/hotline/tickets", "/ops/hotline/follow-ups"):
        refused = await client.get(path)
        assert refused.status_code == 401, path
        assert refused.headers["content-type"].startswith("application/problem+json")
    operator = await role_token(client, admin_headers, "operator")
    for path in ("/ops/hotline", "/ops/hotline/tickets", "/ops/hotline/follow-ups"):
        assert (await client.get(path, headers=operator)).status_code == 200, path
    department = await role_token(client, admin_headers, "department")
    shaoyang = await role_token(client, admin_headers, "division_admin", division="430500")
    for path in ("/ops/hotline", "/ops/hotline/tickets"):
        assert (await client.get(path, headers=department)).status_code == 403, path
        assert (await client.get(path, headers=shaoyang)).status_code == 403, path
    assert (await client.get("/ops/hotline/follow-ups", headers=department)).status_code == 403
    # A division admin lists the follow-ups of its own divisions.
    own = (await client.get("/ops/hotline/follow-ups?state=all", headers=shaoyang)).json()
    assert [f["id"] for f in own["follow_ups"]] == ["fu-red", "fu-yellow"]
    assert "430500" in own["divisions"]
    assert "430502" in own["divisions"]  # and its counties
    assert "430100" not in own["divisions"]
    outside = await client.get("/ops/hotline/follow-ups?division=430100", headers=shaoyang)
    assert outside.json()["follow_ups"] == []


async def test_closing_a_follow_up(
    app: FastAPI,
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    seeded: None,
) -> None:
    path = "/ops/hotline/follow-ups/{}/close"
    body = {"resolution": "已约谈窗口负责人并回访群众，群众表示认可"}
    assert (await client.post(path.format("fu-red"), json=body)).status_code == 401
    department = await role_token(client, admin_headers, "department")
    assert (
        await client.post(path.format("fu-red"), json=body, headers=department)
    ).status_code == 403

    # A division admin of Changsha may not close Shaoyang's follow-up; Shaoyang's may.
    changsha = await role_token(client, admin_headers, "division_admin", division="430100")
    refused = await client.post(path.format("fu-red"), json=body, headers=changsha)
    assert refused.status_code == 403, refused.text
    assert refused.json()["division"] == "430500"
    shaoyang_client = await client.post(
        "/admin/clients",
        json={
            "name": "邵阳 admin",
            "kind": "integrator",
            "roles": ["division_admin"],
            "division": "430500",
        },
        headers=admin_headers,
    )
    assert shaoyang_client.status_code == 201, shaoyang_client.text
    info = shaoyang_client.json()
    shaoyang = await client_token(client, info["client_id"], info["client_secret"])
    closed = await client.post(path.format("fu-red"), json=body, headers=shaoyang)
    assert closed.status_code == 200, closed.text
    done = closed.json()
    assert done["closed_at"] == "2025-09-30T16:00:00+08:00"
    assert done["closed_by"] == info["client_id"]
    assert done["resolution"] == body["resolution"]
    assert (done["card"], done["on_time"]) == (None, False)  # due 26 Sep

    # Twice: 409, whoever asks; unknown: 404; the body is checked.
    again = await client.post(path.format("fu-red"), json=body, headers=admin_headers)
    assert again.status_code == 409, again.text
    assert again.headers["content-type"].startswith("application/problem+json")
    missing = await client.post(path.format("fu-nope"), json=body, headers=admin_headers)
    assert missing.status_code == 404
    for bad in (
        {"resolution": "   "},
        {"resolution": ""},
        {"resolution": "x" * 2001},
        {},
        {"resolution": "ok", "extra": 1},
    ):
        answer = await client.post(path.format("fu-yellow"), json=bad, headers=admin_headers)
        assert answer.status_code == 422, bad
    assert (
        await client.post(path.format("a b"), json=body, headers=admin_headers)
    ).status_code == 422

    # An operator's token closes any division's, on time here (due today).
    operator = await role_token(client, admin_headers, "operator")
    yellow = await client.post(path.format("fu-yellow"), json=body, headers=operator)
    assert yellow.status_code == 200, yellow.text
    assert (yellow.json()["on_time"], yellow.json()["card"]) == (True, None)

    figures = (await client.get("/ops/hotline", headers=admin_headers)).json()["follow_ups"]
    assert (figures["open"], figures["overdue"], figures["yellow"]) == (1, 0, 0)
    assert (figures["closed"], figures["closed_on_time"]) == (3, 2)

    # Both closings are admin actions in the audit log, without the resolution's text.
    await app.state.audit.flush()
    records = (await client.get("/ops/audit?action=follow-up.close", headers=admin_headers)).json()[
        "records"
    ]
    by_object = {r["object"]: r for r in records}
    assert sorted(by_object) == ["follow-up:fu-red", "follow-up:fu-yellow"]
    assert by_object["follow-up:fu-red"]["actor"] == info["client_id"]
    assert {r["division"] for r in records} == {"430500"}
    assert all(body["resolution"] not in json.dumps(r, ensure_ascii=False) for r in records)


async def test_a_signed_in_operator_closes_from_the_dashboard(
    client: httpx.AsyncClient, session: AsyncSession, seeded: None
) -> None:
    await create_operator(session, "wang.li", "correct horse battery", ["operator"])
    await session.commit()
    signed_in = await client.post(
        "/ops/login",
        data={"username": "wang.li", "password": "correct horse battery"},
        headers={"Origin": "http://testserver"},
    )
    assert signed_in.status_code == 303
    assert COOKIE_NAME in client.cookies
    # The dashboard has the hotline panel, drawn from /ops/hotline.
    page = await client.get("/ops/dashboard")
    assert 'data-testid="hotline"' in page.text
    assert "12345 热线 · 好差评" in page.text
    for table in ("channels", "satisfaction-divisions", "satisfaction-items", "divisions"):
        assert f'data-testid="hotline-{table}"' in page.text, table
    script = await client.get("/ops/static/dashboard.js")
    assert 'getJSON("/ops/hotline")' in script.text
    body = {"resolution": "已整改"}
    foreign = await client.post(
        "/ops/hotline/follow-ups/fu-later/close",
        json=body,
        headers={"Origin": "https://evil.example"},
    )
    assert foreign.status_code == 403
    closed = await client.post(
        "/ops/hotline/follow-ups/fu-later/close",
        json=body,
        headers={"Origin": "http://testserver"},
    )
    assert closed.status_code == 200, closed.text
    assert closed.json()["closed_by"] == "wang.li"
    stored = await session.scalar(
        select(HotlineFollowUp.closed_by).where(HotlineFollowUp.id == "fu-later")
    )
    assert stored == "wang.li"


async def test_the_routes_are_documented(client: httpx.AsyncClient) -> None:
    document = (await client.get("/openapi.json")).json()
    paths = document["paths"]
    assert paths["/ops/hotline"]["get"]["responses"]["200"]["content"]["application/json"]
    listed = paths["/ops/hotline/tickets"]["get"]
    status = next(p for p in listed["parameters"] if p["name"] == "status")
    assert "accepted" in status["schema"]["pattern"]
    closing = paths["/ops/hotline/follow-ups/{follow_up_id}/close"]["post"]
    assert {"401", "403", "404", "409", "422"} <= set(closing["responses"])
    assert {"opsSession": []} in closing["security"]
    assert "HotlineSummaryOut" in document["components"]["schemas"]


# -- the command line -----------------------------------------------------------------------------


@pytest.fixture
def cli_env(
    tmp_path: Path, fresh_database_url: str, monkeypatch: pytest.MonkeyPatch
) -> dict[str, str]:
    """A migrated database of its own with the seeded rows, and the CLI's clock at NOW."""
    settings = Settings(database_url=fresh_database_url, data_dir=tmp_path / "data")

    async def prepare() -> None:
        engine = create_engine(settings)
        try:
            await upgrade(engine)
            async with create_sessionmaker(engine)() as session, session.begin():
                await seed(session, settings)
        finally:
            await engine.dispose()

    asyncio.run(prepare())
    monkeypatch.setattr("app.services.ops.clock.system_clock", lambda: NOW)
    return {"XYB_DATABASE_URL": fresh_database_url, "XYB_DATA_DIR": str(tmp_path / "data")}


def test_xyb_ops_hotline_and_follow_ups(
    cli_env: dict[str, str], fresh_database_url: str, tmp_path: Path
) -> None:
    runner = CliRunner()
    shown = runner.invoke(ops_cli, ["hotline"], env=cli_env)
    assert shown.exit_code == 0, shown.output
    text = shown.output
    assert "5 tickets, 3 open, 2 closed; on time 50.0% (1 of 2)" in text
    assert "satisfaction 42.9% (3 of 7 ratings)" in text
    assert "cards: 2 red, 2 yellow" in text
    assert "follow-ups: 3 open, 1 overdue" in text
    for words in (
        "Tickets by status",
        "邵阳市",
        "芙蓉区",
        "Satisfaction by channel",
        "湘易办",
        f"事项 {GJJ}",
        "Follow-ups by division",
        "非常不满意",
    ):
        assert words in text, words
    assert RESIDENT_WORDS not in text

    as_json = runner.invoke(ops_cli, ["hotline", "--json"], env=cli_env)
    assert as_json.exit_code == 0, as_json.output
    data = json.loads(as_json.output)
    assert data["on_time"] == {"closed": 2, "closed_on_time": 1, "rate": 0.5, "open_late": 1}
    assert data["as_of"] == "2025-09-30T16:00:00+08:00"

    listed = runner.invoke(ops_cli, ["follow-ups", "list"], env=cli_env)
    assert listed.exit_code == 0, listed.output
    assert "fu-red" in listed.output
    assert "fu-closed" not in listed.output
    assert "非常不满意" in listed.output
    listed_json = runner.invoke(
        ops_cli, ["follow-ups", "list", "--state", "all", "--json"], env=cli_env
    )
    assert [f["id"] for f in json.loads(listed_json.output)["follow_ups"]] == [
        "fu-red",
        "fu-closed",
        "fu-yellow",
        "fu-later",
    ]
    bad = runner.invoke(
        ops_cli, ["follow-ups", "list", "--state", "half", "--card", "blue"], env=cli_env
    )
    assert bad.exit_code == 2
    assert "--state" in bad.output
    assert "--card" in bad.output

    closed = runner.invoke(
        ops_cli, ["follow-ups", "close", "fu-red", "--resolution", "已回访，已整改"], env=cli_env
    )
    assert closed.exit_code == 0, closed.output
    assert "follow-up fu-red closed late (due 2025-09-26)" in closed.output
    again = runner.invoke(
        ops_cli, ["follow-ups", "close", "fu-red", "--resolution", "again"], env=cli_env
    )
    assert again.exit_code == 1
    assert "closed already" in again.output
    unknown = runner.invoke(
        ops_cli, ["follow-ups", "close", "fu-nope", "--resolution", "x"], env=cli_env
    )
    assert unknown.exit_code == 1
    assert "no follow-up" in unknown.output
    blank = runner.invoke(
        ops_cli, ["follow-ups", "close", "fu-later", "--resolution", "  "], env=cli_env
    )
    assert blank.exit_code == 2
    assert "--resolution" in blank.output

    async def stored() -> tuple[str | None, str | None]:
        engine = create_engine(Settings(database_url=fresh_database_url, data_dir=tmp_path))
        try:
            async with create_sessionmaker(engine)() as session:
                row = await session.get(HotlineFollowUp, "fu-red")
                assert row is not None
                return row.closed_by, row.resolution
        finally:
            await engine.dispose()

    closed_by, resolution = asyncio.run(stored())
    assert closed_by is not None
    assert closed_by.startswith("cli")
    assert resolution == "已回访，已整改"
