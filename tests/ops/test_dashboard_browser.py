"""THE BROWSER TEST: sign in through the form and read the dashboard in headless Chromium.

Against a real `xyb serve` with data (a service onboarded over HTTP, catalog items, users,
snapshots, roll-ups and 12345 tickets, 好差评 ratings and follow-ups written to its database), the
figures the page shows must equal what the API answers. Debian's /usr/bin/chromium driven by
Playwright for Python; Playwright never downloads a browser. With CI=true a missing browser fails
the test; otherwise it is skipped.

The browser runs in another zone than the gateway (New York against Shanghai): every time on the
page is the gateway's and says so. The page also tells what a reader would otherwise guess:
items by name, the chart's axes and legend (calls by outcome), calls refused before routing as
such, and a p95 past the histogram's last bound as "≥ 10 s".
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.config import Settings
from app.core.db import create_engine, create_sessionmaker
from app.models.catalog import TargetSnapshot
from app.models.hotline import HotlineFollowUp, HotlineRating, HotlineTicket
from app.models.identity import AccountCount, Person
from app.services.hotline.deadlines import follow_up_deadline, ticket_deadline
from app.services.ops.operators import create_operator
from app.services.ops.sessions import COOKIE_NAME
from tests.conftest import ADMIN_TOKEN
from tests.contract_stubs import CONTRACTS
from tests.ops.support import CHANGSHA_ITEMS, count_row, item
from tests.servers import LiveServer, live_gateway

pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PASSWORD = "dashboard password"
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
SHANGHAI = ZoneInfo("Asia/Shanghai")


def _require_browser() -> None:
    """Fail under CI=true, skip elsewhere, when the browser or Playwright is missing."""
    problem = None
    if not CHROMIUM.exists():
        problem = f"{CHROMIUM} is missing (apt-get install chromium)"
    else:
        try:
            import playwright.async_api  # noqa: F401
        except ImportError:
            problem = "Playwright for Python is not installed (pip install -e '.[dev]')"
    if problem is None:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"the dashboard browser test cannot run and CI=true: {problem}")
    pytest.skip(f"the dashboard browser test needs a browser: {problem}")


def _local(day: date, hour: int = 10) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=SHANGHAI)


# 好差评 ratings per item (levels 1 非常满意 … 5 非常不满意), as tests/ops/test_hotline.py writes
# them: thirteen groups, so the panel shows the ten most rated (by ratings, the unnamed last, then
# by code); items in the catalog (CHANGSHA_ITEMS) show its name, the others their code alone.
RATED: dict[str | None, tuple[int, ...]] = {
    "430100-GJJ-001": (1, 2, 5, 4),
    "430100-BDC-001": (1, 1, 3),
    "430100-SB-001": (4, 5),
    "430500-XZ-001": (3, 4),
    None: (5, 2),
    "430100-GJJ-002": (1,),
    "430100-JZZ-001": (2,),
    "430100-CSDJ-001": (4,),
    **{f"430200-ZZ-00{k}": (k % 5 + 1,) for k in range(1, 6)},
}
CHANNELS = ("app", "phone", "web", "governor-mailbox")


async def _seed_hotline(session: AsyncSession, settings: Settings) -> None:
    """Four tickets (closed on time, closed late, open past its deadline, open since now), the
    ratings of RATED, and two follow-ups."""
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
    d = date
    tickets = [
        ("tk-1", "430100", "app", "help", "rated", _local(d(2025, 9, 26)), _local(d(2025, 9, 29))),
        (
            "tk-2",
            "430100",
            "phone",
            "complaint",
            "closed",
            _local(d(2025, 9, 15)),
            _local(d(2025, 9, 25)),
        ),
        (
            "tk-3",
            "430500",
            "governor-mailbox",
            "complaint",
            "handling",
            _local(d(2025, 9, 22)),
            None,
        ),
        ("tk-4", "430500", "web", "consultation", "accepted", datetime.now(SHANGHAI), None),
    ]
    for n, (ticket_id, division, channel, category, status, filed, closed) in enumerate(tickets):
        deadline = ticket_deadline(settings, category, filed)
        session.add(
            HotlineTicket(
                id=ticket_id,
                service="430000/hotline",
                person_id=resident.id,
                client_id="app-xyb",
                idempotency_key=ticket_id.ljust(64, "0"),
                request_digest="0" * 64,
                number=f"HN12345{filed:%Y%m%d}{n:0>6}",
                channel=channel,
                category=category,
                content="楼下烧烤店油烟扰民",
                division=division,
                item_code=None,
                desk="centre",
                priority="normal",
                centre=division[:4] + "00",
                status=status,
                last_seq=1,
                filed_at=filed,
                deadline_at=deadline.at,
                deadline_estimated=deadline.estimated,
                closed_at=closed,
            )
        )
    ratings: list[HotlineRating] = []
    for code, levels in RATED.items():
        for level in levels:
            n = len(ratings) + 1
            ratings.append(
                HotlineRating(
                    id=f"rt-{n}",
                    person_id=resident.id,
                    subject_kind="call",
                    subject_id=f"ev-{n}",
                    item_code=code,
                    division=code[:6] if code else "430500",
                    channel=CHANNELS[n % len(CHANNELS)],
                    level=level,
                    comment=None,
                    rated_at=_local(d(2025, 9, 12)),
                )
            )
    session.add_all(ratings)
    await session.flush()
    for rating, opened, closed in (
        (ratings[2], _local(d(2025, 9, 12)), None),  # past its deadline: overdue
        (ratings[3], _local(d(2025, 9, 15)), _local(d(2025, 9, 26))),
    ):
        deadline = follow_up_deadline(settings, opened)
        session.add(
            HotlineFollowUp(
                id=f"fu-{rating.id}",
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
        )


async def _seed(server: LiveServer, url: str, data_dir: Path) -> dict[str, Any]:
    """Onboard Changsha over HTTP, then write items, users, snapshots, roll-ups and the 12345
    hotline's tickets, ratings and follow-ups."""
    document = (CONTRACTS / "municipal" / "changsha.openapi.yaml").read_text(encoding="utf-8")
    async with httpx.AsyncClient(base_url=server.url, headers=ADMIN) as http:
        created = await http.post(
            "/admin/services",
            json={
                "division": "430100",
                "slug": "zwfw",
                "name": "长沙市政务服务",
                "upstream_url": "http://127.0.0.1:9",
                "document": document,
            },
        )
        assert created.status_code == 201, created.text
    service_id = int(created.json()["id"])
    now = datetime.now(SHANGHAI)
    hours = [now - timedelta(hours=k) for k in (0, 1, 3)]
    settings = Settings(database_url=url, data_dir=data_dir)
    engine = create_engine(settings)
    try:
        async with create_sessionmaker(engine)() as session, session.begin():
            await create_operator(session, "ops.zhang", PASSWORD, ["operator"])
            await _seed_hotline(session, settings)
            session.add_all(
                [
                    item(code, online=True, one_network=i % 2 == 0)
                    for i, code in enumerate(CHANGSHA_ITEMS)
                ]
            )
            await session.execute(
                update(AccountCount).where(AccountCount.kind == "persons").values(n=123_456)
            )
            await session.execute(
                update(AccountCount).where(AccountCount.kind == "legal_persons").values(n=789)
            )
            week_ago = (now - timedelta(days=7)).date()
            session.add_all(
                [
                    TargetSnapshot(day=week_ago, target="items_online", value=2),
                    TargetSnapshot(day=week_ago, target="users", value=100_000),
                ]
            )
            session.add_all(
                [
                    count_row(
                        hours[0].date(),
                        hours[0].hour,
                        service_id,
                        "getFundAccount_430100",
                        latencies={10: 30, 50: 5},
                    ),
                    count_row(
                        hours[1].date(),
                        hours[1].hour,
                        service_id,
                        "listEstateRecords_430100",
                        latencies={25: 12},
                    ),
                    count_row(  # timeouts: 10 s and more, the histogram's open last bucket
                        hours[2].date(),
                        hours[2].hour,
                        service_id,
                        "listEstateRecords_430100",
                        outcome="upstream_error",
                        latencies={0: 3},
                    ),
                    count_row(  # no token or an unknown service: refused before routing
                        hours[0].date(),
                        hours[0].hour,
                        0,
                        "",
                        client_id="",
                        outcome="caller_error",
                        latencies={5: 4},
                    ),
                ]
            )
    finally:
        await engine.dispose()
    return {"service_id": service_id, "calls": 35 + 12 + 3 + 4, "hours": hours}


async def _value(page: Any, testid: str) -> str:
    value = await page.get_attribute(f'[data-testid="{testid}"]', "data-value")
    assert value is not None, testid
    return str(value)


async def _rows(page: Any, rowid: str) -> list[dict[str, Any]]:
    """The rows with data-testid ``rowid``: their key, name cell, item label and code, and every
    figure's data-value by the rest of its test id (``rowid``-ratings: "ratings")."""
    rows: list[dict[str, Any]] = await page.locator(f'[data-testid="{rowid}"]').evaluate_all(
        """(rows, rowid) => rows.map(row => {
            const shown = {key: row.getAttribute("data-key")};
            const name = row.querySelector('[data-testid="' + rowid + '-name"]');
            shown.name = name ? name.textContent : null;
            const label = row.querySelector('[data-testid="' + rowid + '-label"]');
            shown.label = label ? label.textContent : null;
            const code = row.querySelector("code");
            shown.code = code ? code.textContent : null;
            row.querySelectorAll("[data-value]").forEach(cell => {
                const id = cell.getAttribute("data-testid");
                shown[id.slice(rowid.length + 1)] = cell.getAttribute("data-value");
            });
            return shown;
        })""",
        rowid,
    )
    return rows


def _rating_figures(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "key": row["key"],
        "ratings": int(row["ratings"]),
        "rate": float(row["rate"]) if row["rate"] else None,
        "bad": int(row["bad"]),
    }


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    _require_browser()
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        launched = await pw.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield launched
        finally:
            await launched.close()


async def test_the_dashboard_shows_what_the_api_says(
    browser: Any, tmp_path: Path, fresh_database_url: str
) -> None:
    env = {"XYB_DATABASE_URL": fresh_database_url, "XYB_ADMIN_TOKEN": ADMIN_TOKEN}
    with live_gateway(tmp_path, env) as server:
        seeded = await _seed(server, fresh_database_url, tmp_path / "data")
        # The browser's zone is not the gateway's.
        context = await browser.new_context(base_url=server.url, timezone_id="America/New_York")
        page = await context.new_page()
        requests: list[str] = []
        problems: list[str] = []
        page.on("request", lambda request: requests.append(request.url))
        page.on("pageerror", lambda error: problems.append(str(error)))
        page.on(
            "console",
            lambda message: problems.append(message.text) if message.type == "error" else None,
        )

        # Not signed in: the dashboard sends us to the form.
        await page.goto("/ops/dashboard")
        assert page.url.endswith("/ops/login")
        await page.fill('[data-testid="username"]', "ops.zhang")
        await page.fill('[data-testid="password"]', "not the password")
        await page.click('[data-testid="sign-in"]')
        assert "Wrong username or password." in (
            await page.text_content('[data-testid="login-message"]') or ""
        )
        await page.fill('[data-testid="username"]', "ops.zhang")
        await page.fill('[data-testid="password"]', PASSWORD)
        await page.click('[data-testid="sign-in"]')
        await page.wait_for_url("**/ops/dashboard")
        problems.clear()  # the refused sign-in above logged its 401
        await page.wait_for_selector('body[data-state="ready"]', timeout=15_000)

        cookies = {c["name"]: c for c in await context.cookies()}
        session_cookie = cookies[COOKIE_NAME]
        assert session_cookie["httpOnly"] is True
        assert session_cookie["sameSite"] == "Strict"
        assert session_cookie["path"] == "/ops"
        assert await page.evaluate("document.cookie") == ""  # HttpOnly: invisible to scripts

        async with httpx.AsyncClient(
            base_url=server.url, cookies={COOKIE_NAME: session_cookie["value"]}
        ) as api:
            answered = await api.get("/ops/targets")
            assert answered.status_code == 200, answered.text
            targets = answered.json()
            since = (datetime.now(SHANGHAI) - timedelta(hours=23)).isoformat()
            hourly = (
                await api.get("/ops/access-counts", params={"group_by": "hour", "since": since})
            ).json()
            top_services = (
                await api.get(
                    "/ops/access-counts",
                    params={"group_by": "service", "since": since, "limit": "10"},
                )
            ).json()
            top_items = (
                await api.get(
                    "/ops/access-counts", params={"group_by": "item", "since": since, "limit": "10"}
                )
            ).json()
            services = (await api.get("/ops/services")).json()
            hotline = (await api.get("/ops/hotline")).json()

        # The 12345 panel shows /ops/hotline's figures.
        assert int(await _value(page, "hotline-tickets-total")) == hotline["tickets"]["total"]
        assert int(await _value(page, "hotline-tickets-open")) == hotline["tickets"]["open"]
        assert int(await _value(page, "hotline-follow-ups-open")) == hotline["follow_ups"]["open"]
        statuses = page.locator('[data-testid="hotline-status"]')
        assert await statuses.count() == len(hotline["tickets"]["by_status"])
        # Satisfaction by channel, division and item (the ten most rated, in the API's order),
        # each row's figures the API's.
        satisfaction = hotline["satisfaction"]
        assert len(satisfaction["by_item"]) == len(RATED) > 10
        assert satisfaction["items_truncated"] is False
        for rowid, groups in (
            ("hotline-channel", satisfaction["by_channel"]),
            ("hotline-satisfaction-division", satisfaction["by_division"]),
            ("hotline-satisfaction-item", satisfaction["by_item"][:10]),
        ):
            shown_rows = await _rows(page, rowid)
            assert [_rating_figures(r) for r in shown_rows] == [
                {
                    "key": g["key"] or "",
                    "ratings": g["ratings"],
                    "rate": g["rate"],
                    "bad": g["levels"]["dissatisfied"] + g["levels"]["very-dissatisfied"],
                }
                for g in groups
            ], rowid
        assert [g["key"] for g in satisfaction["by_division"]] == ["430100", "430200", "430500"]
        assert satisfaction["by_item"][0] == {
            "key": "430100-GJJ-001",
            "name": "事项 430100-GJJ-001",
            "ratings": 4,
            "satisfied": 2,
            "rate": 0.5,
            "levels": {
                "very-satisfied": 1,
                "satisfied": 1,
                "basically-satisfied": 0,
                "dissatisfied": 1,
                "very-dissatisfied": 1,
            },
        }
        # Items by the catalog's name, then the code; those not in it by code; none as such.
        items_shown = await _rows(page, "hotline-satisfaction-item")
        assert [(r["label"], r["code"]) for r in items_shown] == [
            (g["name"], g["key"]) for g in satisfaction["by_item"][:10]
        ]
        assert {r["name"] for r in items_shown if not r["key"]} == {"no item"}
        assert "430500-XZ-001" in [r["code"] for r in items_shown if r["label"] is None]
        more = page.locator('[data-testid="hotline-satisfaction-items-more"]')
        assert await more.get_attribute("data-value") == "10"
        assert await more.is_visible()
        assert f"10 most rated of {len(RATED)}" in (await more.text_content() or "")
        # Tickets (and follow-ups) by division: open, red, yellow and closed on time.
        tickets_by = {d["division"]: d for d in hotline["tickets"]["by_division"]}
        follow_ups_by = {d["division"]: d for d in hotline["follow_ups"]["by_division"]}
        assert sorted(tickets_by) == ["430100", "430500"]
        assert sum(d["red"] for d in tickets_by.values()) >= 1
        assert sum(d["closed_on_time"] for d in tickets_by.values()) == 1
        division_rows = await _rows(page, "hotline-division")
        assert [r["key"] for r in division_rows] == sorted({*tickets_by, *follow_ups_by})
        for r in division_rows:
            t = tickets_by.get(r["key"], {})
            f = follow_ups_by.get(r["key"], {})
            assert {
                name: r[name] for name in ("open", "red", "yellow", "follow-ups", "overdue")
            } == {
                "open": str(t.get("open", 0)),
                "red": str(t.get("red", 0)),
                "yellow": str(t.get("yellow", 0)),
                "follow-ups": str(f.get("open", 0)),
                "overdue": str(f.get("overdue", 0)),
            }, r["key"]
            on_time = t["closed_on_time"] / t["closed"] if t.get("closed") else None
            assert (float(r["on-time"]) if r["on-time"] else None) == on_time, r["key"]

        # The four targets: every figure equals the API's.
        assert [t["name"] for t in targets["targets"]] == [
            "items_online",
            "one_network",
            "license_types",
            "users",
        ]
        shown_targets = await page.locator('[data-testid="targets"] > article').count()
        assert shown_targets == 4
        for t in targets["targets"]:
            name = t["name"]
            assert int(await _value(page, f"target-{name}-current")) == t["current"], name
            assert int(await _value(page, f"target-{name}-target")) == t["target"], name
            assert int(await _value(page, f"target-{name}-projected")) == t["projected"], name
            assert float(await _value(page, f"target-{name}-ratio")) == pytest.approx(t["ratio"])
            assert float(await _value(page, f"target-{name}-rate")) == pytest.approx(
                t["rate_per_day"]
            )
            assert await _value(page, f"target-{name}-on-track") == str(t["on_track"]).lower()
            shown = await page.text_content(f'[data-testid="target-{name}-current"]')
            assert shown == f"{t['current']:,}"
        by_name = {t["name"]: t for t in targets["targets"]}
        assert by_name["items_online"]["current"] == len(CHANGSHA_ITEMS)
        assert by_name["users"]["current"] == 123_456 + 789
        assert by_name["users"]["rate_per_day"] == pytest.approx((124_245 - 100_000) / 7)
        assert await _value(page, "days-left") == str(targets["days_left"])

        # Calls per hour: the total, the errors and the bars.
        assert hourly["totals"]["calls"] == seeded["calls"]
        assert int(await _value(page, "calls-24h-total")) == hourly["totals"]["calls"]
        assert int(await _value(page, "errors-24h-total")) == hourly["totals"]["errors"] == 3 + 4
        assert float(await _value(page, "error-rate-24h")) == pytest.approx(
            hourly["totals"]["error_rate"]
        )
        bars = page.locator('[data-testid="hour-bar"]')
        assert await bars.count() == 24
        drawn = [int(await bars.nth(i).get_attribute("data-calls") or 0) for i in range(24)]
        assert sum(drawn) == seeded["calls"]

        # Top services and items, in the API's order.
        rows = page.locator('[data-testid="top-service"]')
        assert await rows.count() == len(top_services["groups"]) == 2
        assert await rows.nth(0).get_attribute("data-key") == "430100/zwfw"
        calls = (
            await rows.nth(0)
            .locator('[data-testid="top-service-calls"]')
            .get_attribute("data-value")
        )
        assert int(calls or 0) == top_services["groups"][0]["calls"] == seeded["calls"] - 4
        item_rows = page.locator('[data-testid="top-item"]')
        assert await item_rows.count() == len(top_items["groups"])
        for i, group in enumerate(top_items["groups"]):
            assert await item_rows.nth(i).get_attribute("data-key") == (group["key"]["item"] or "")
            shown_calls = (
                await item_rows.nth(i)
                .locator('[data-testid="top-item-calls"]')
                .get_attribute("data-value")
            )
            assert int(shown_calls or 0) == group["calls"]

        # Calls that matched no service are shown as what they are.
        refused = rows.nth(1)
        assert await refused.get_attribute("data-key") == ""
        name = await refused.locator('[data-testid="top-service-name"]').text_content()
        assert name == "refused before routing"
        assert "no service matched" not in (await page.content())
        # Items by name (the catalog's), then code.
        for i, group in enumerate(top_items["groups"]):
            if group["key"]["item"] is None:
                continue
            shown_name = (
                await item_rows.nth(i).locator('[data-testid="top-item-name"]').inner_text()
            )
            assert shown_name.startswith(f"事项 {group['key']['item']}"), shown_name
            assert group["key"]["item"] in shown_name
        # The calls tied to no item (here the refused ones) say what they may be.
        [no_item] = [i for i, g in enumerate(top_items["groups"]) if g["key"]["item"] is None]
        no_item_cell = item_rows.nth(no_item).locator('[data-testid="top-item-name"]')
        assert "refused before routing" in (await no_item_cell.get_attribute("title") or "")

        # The p95 past the histogram's last bound (the timeouts) says "at least 10 s".
        assert hourly["totals"]["p95_at_least"] is True
        for testid in ("p95-24h",):
            shown = page.locator(f'[data-testid="{testid}"]')
            assert (await shown.text_content(), await shown.get_attribute("data-at-least")) == (
                "≥ 10 s",
                "true",
            )
        service_p95 = rows.nth(0).locator('[data-testid="top-service-p95"]')
        assert await service_p95.text_content() == "≥ 10 s"
        assert "10 s" in (await service_p95.get_attribute("title") or "")

        # The chart: axis values, axis titles in the gateway's zone, and a legend whose figures
        # (calls by outcome) are the API's; the bars are stacked by the same outcomes.
        y_ticks = [
            int(v or 0)
            for v in await page.locator('[data-testid="y-tick"]').evaluate_all(
                "ticks => ticks.map(t => t.getAttribute('data-value'))"
            )
        ]
        tallest = max(drawn)
        assert y_ticks[0] == 0
        assert len(y_ticks) >= 3
        assert y_ticks[-1] >= tallest
        x_ticks = await page.locator('[data-testid="x-tick"]').all_text_contents()
        assert len(x_ticks) == 8
        assert all(t.endswith(":00") for t in x_ticks), x_ticks
        assert await page.text_content('[data-testid="y-title"]') == "calls per hour"
        assert await page.text_content('[data-testid="x-title"]') == "hour (Asia/Shanghai)"
        legend = page.locator('[data-testid="chart-legend"] li')
        assert await legend.count() == 4
        for outcome, calls_of in hourly["totals"]["outcomes"].items():
            assert int(await _value(page, f"legend-{outcome}")) == calls_of, outcome
        assert hourly["totals"]["outcomes"]["upstream_error"] == 3
        legend_text = await page.locator('[data-testid="chart-legend"]').inner_text()
        for words in ("caller errors", "upstream errors", "gateway errors", "city"):
            assert words in legend_text
        stacked = [
            int(await bars.nth(i).get_attribute("data-upstream-error") or 0) for i in range(24)
        ]
        assert sum(stacked) == 3

        # One zone on the page, named: the gateway's, though the browser is in New York.
        assert await page.evaluate("Intl.DateTimeFormat().resolvedOptions().timeZone") == (
            "America/New_York"
        )
        stamp = page.locator('[data-testid="updated-at"]')
        moment = datetime.fromisoformat(
            (await stamp.get_attribute("datetime") or "").replace("Z", "+00:00")
        )
        assert await stamp.text_content() == moment.astimezone(SHANGHAI).strftime("%H:%M:%S")
        for testid in ("updated-zone", "chart-zone", "footer-zone"):
            assert await page.text_content(f'[data-testid="{testid}"]') == "Asia/Shanghai"

        # The services table: the breaker and error rate the API reports.
        service_rows = page.locator('[data-testid="service-row"]')
        assert await service_rows.count() == len(services["services"]) == 1
        row = service_rows.nth(0)
        assert await row.get_attribute("data-service") == "430100/zwfw"
        breaker = await row.locator('[data-testid="service-breaker"]').text_content()
        assert breaker == services["services"][0]["breaker"]["state"] == "closed"

        # It refreshes itself: a new roll-up shows up without reloading the page.
        engine = create_engine(Settings(database_url=fresh_database_url, data_dir=tmp_path))
        try:
            async with create_sessionmaker(engine)() as session, session.begin():
                hour = seeded["hours"][1]
                session.add(
                    count_row(
                        hour.date(),
                        hour.hour,
                        seeded["service_id"],
                        "getFundAccount_430100",
                        client_id="app-9",
                        latencies={5: 7},
                    )
                )
        finally:
            await engine.dispose()
        await page.wait_for_selector('body[data-refreshes="2"]', timeout=30_000)
        assert int(await _value(page, "calls-24h-total")) == seeded["calls"] + 7

        # Everything came from the gateway itself (no CDN), without script or CSP errors.
        assert requests
        assert all(url.startswith(server.url) for url in requests), requests
        assert problems == []

        # The audit page, linked from the dashboard: the records /ops/audit answers (the
        # onboarding and the sign-ins above, once the log has written them).
        cookie = {COOKIE_NAME: session_cookie["value"]}
        async with httpx.AsyncClient(base_url=server.url, cookies=cookie) as api:
            for _ in range(300):  # the log writes every second; a slow machine gets 30 s
                audit = (await api.get("/ops/audit", params={"kind": "admin"})).json()
                if len(audit["records"]) >= 3:
                    break
                await asyncio.sleep(0.1)
        actions = [r["action"] for r in audit["records"]]
        assert actions[-1] == "service.onboard", actions
        assert actions.count("operator.sign-in") == 2, actions
        await page.click('[data-testid="audit-link"]')
        await page.wait_for_url("**/ops/dashboard/audit")
        await page.wait_for_selector('body[data-state="ready"]')
        await page.select_option('[data-testid="filter-kind"]', "admin")
        await page.click('[data-testid="filter-apply"]')
        # The submit handler marks the page loading at once (the page's CSP allows no eval, so
        # no wait_for_function): ready again means the filtered records are in.
        await page.wait_for_selector('body[data-state="ready"]')
        assert page.url.endswith("/ops/dashboard/audit?kind=admin"), page.url
        shown = page.locator('[data-testid="audit-row"]')
        assert await shown.count() >= len(audit["records"])
        last = shown.nth(len(audit["records"]) - 1)
        assert await last.get_attribute("data-kind") == "admin"
        assert await last.locator('[data-testid="audit-what"]').text_content() == "service.onboard"
        await page.fill('[data-testid="filter-since"]', "yesterday")
        await page.click('[data-testid="filter-apply"]')
        await page.wait_for_selector('body[data-state="error"]')
        error = await page.text_content('[data-testid="audit-error"]') or ""
        assert error.startswith("since:"), error
        problems.clear()  # the refused filter above logged its 422
        assert all(url.startswith(server.url) for url in requests), requests

        # Sign out: back to the form, and the dashboard is closed again.
        await page.click('[data-testid="sign-out"]')
        await page.wait_for_url("**/ops/login")
        await page.goto("/ops/dashboard")
        assert page.url.endswith("/ops/login")
        await context.close()


async def _shown_offline(browser: Any, base: str, path: str, selector: str) -> int:
    """How many ``selector`` the page at ``path`` shows when nothing but the gateway answers."""
    context = await browser.new_context(base_url=base)
    outside: list[str] = []
    problems: list[str] = []

    async def offline(route: Any) -> None:
        if route.request.url.startswith(base + "/"):
            await route.continue_()
        else:
            outside.append(route.request.url)
            await route.abort("internetdisconnected")

    await context.route("**/*", offline)
    page = await context.new_page()
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    try:
        await page.goto(path)
        await page.wait_for_selector(selector, timeout=30_000)
        shown: int = await page.locator(selector).count()
    finally:
        await context.close()
    assert outside == [], path
    # Redoc's "API docs by Redocly" footer names a logo on a CDN: the page's
    # Content-Security-Policy stops it before it is requested.
    assert [p for p in problems if "cdn.redoc.ly" not in p] == [], path
    return shown


async def test_the_api_docs_work_offline(
    browser: Any, tmp_path: Path, fresh_database_url: str
) -> None:
    """/docs (Swagger UI) and /redoc list every operation with every request to anywhere but
    the gateway refused: their assets are the gateway's own, not a CDN's."""
    env = {"XYB_DATABASE_URL": fresh_database_url, "XYB_ADMIN_TOKEN": ADMIN_TOKEN}
    with live_gateway(tmp_path, env) as server:
        async with httpx.AsyncClient(base_url=server.url) as http:
            document = (await http.get("/openapi.json")).json()
        operations = sum(len(item) for item in document["paths"].values())
        assert operations >= 40
        swagger = await _shown_offline(browser, server.url, "/docs", ".opblock")
        assert swagger == operations
        redoc = await _shown_offline(
            browser, server.url, "/redoc", "[data-section-id^='operation/']"
        )
        assert redoc == operations
