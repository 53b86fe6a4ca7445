"""GET /ops/services: breakers from the route table, recent errors, the last hour of roll-ups."""

from __future__ import annotations

from datetime import date
from typing import Any

import httpx
import pytest
import respx
from sqlalchemy.ext.asyncio import AsyncSession

from app.gateway.routetable import TransportFactory
from app.services.ops.services_view import redact_url
from tests.conftest import GrantAccess
from tests.gateway.support import UPSTREAM, onboard, respx_transport
from tests.ops.support import add_counts, count_row

TODAY = date(2026, 6, 15)  # the clock: 10:30 local, so the last hour is 09:00 onwards


@pytest.fixture
def upstream() -> respx.MockRouter:
    return respx.MockRouter(assert_all_called=False, base_url=UPSTREAM)


@pytest.fixture
def transport_factory(upstream: respx.MockRouter) -> TransportFactory:
    return respx_transport(upstream)


def find(body: dict[str, Any], key: str) -> dict[str, Any]:
    matches = [s for s in body["services"] if s["service"] == key]
    assert len(matches) == 1, body
    found: dict[str, Any] = matches[0]
    return found


async def test_breakers_recent_errors_and_retired_services(
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    grant_access: GrantAccess,
    upstream: respx.MockRouter,
    session: AsyncSession,
) -> None:
    bdc = await onboard(
        client, admin_headers, breaker_threshold=2, breaker_cooldown_s=60, retries=0
    )
    healthy = await onboard(client, admin_headers, slug="healthy")
    old = await onboard(client, admin_headers, slug="old")
    retired = await client.delete(f"/admin/services/{old['id']}", headers=admin_headers)
    assert retired.status_code == 200, retired.text
    caller = await grant_access(("430100", "bdc"), ("430100", "healthy"))

    upstream.get("/records/latest").mock(side_effect=httpx.ConnectError("connection refused"))
    statuses = [
        (await client.get("/gw/430100/bdc/records/latest", headers=caller)).status_code
        for _ in range(3)
    ]
    assert statuses == [503, 503, 503]  # refused twice, then the breaker is open
    upstream.get("/records/latest").respond(200, json={"id": "r1"})

    # The last hour of roll-ups (all instances): 09:00 and 10:00 count, 08:00 does not.
    await add_counts(
        session,
        [
            count_row(TODAY, 9, healthy["id"], "listRecords", latencies={10: 8, 50: 2}),
            count_row(
                TODAY,
                10,
                healthy["id"],
                "listRecords",
                outcome="caller_error",
                latencies={5: 5},
            ),
            count_row(
                TODAY,
                10,
                healthy["id"],
                "listRecords",
                outcome="upstream_error",
                latencies={1000: 5},
            ),
            count_row(TODAY, 8, healthy["id"], "listRecords", latencies={5: 1000}),
        ],
    )

    response = await client.get("/ops/services", headers=admin_headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["last_hour_since"] == "2026-06-15T09:00:00+08:00"
    keys = [s["service"] for s in body["services"]]
    assert keys == ["430100/bdc", "430100/healthy", "430100/old"]  # open breakers first

    broken = find(body, "430100/bdc")
    assert broken["id"] == bdc["id"]
    assert broken["status"] == "active"
    assert broken["version"] == 1
    assert broken["upstream"] == UPSTREAM
    assert broken["breaker"]["state"] == "open"
    assert broken["breaker"]["failures"] == 2
    assert broken["breaker"]["threshold"] == 2
    assert broken["last_error"] == broken["breaker"]["last_error"]
    assert broken["last_error"]
    recent = broken["recent"]
    assert (recent["calls"], recent["errors"], recent["faults"]) == (3, 3, 3)
    assert recent["error_rate"] == 1.0
    assert recent["last_failure"]["status"] == 503
    assert recent["last_failure"]["outcome"] == "upstream_error"
    assert recent["p95_ms"] is not None
    assert broken["last_hour"]["calls"] == 0

    fine = find(body, "430100/healthy")
    assert fine["breaker"]["state"] == "closed"
    assert fine["last_error"] is None
    assert fine["recent"]["calls"] == 0
    hour = fine["last_hour"]
    assert (hour["calls"], hour["errors"], hour["faults"]) == (20, 10, 5)
    assert hour["error_rate"] == 0.5
    assert hour["fault_rate"] == 0.25
    # 20 calls: 5 at <=5 ms, 8 at <=10, 2 at <=50, 5 at <=1000; p95 (rank 19) in 500-1000 ms.
    assert hour["p95_ms"] == pytest.approx(500 + 500 * 4 / 5, abs=1e-3)
    assert hour["p50_ms"] == pytest.approx(5 + 5 * 5 / 8, abs=1e-3)

    gone = find(body, "430100/old")
    assert gone["status"] == "retired"
    assert gone["retired_at"] is not None
    assert gone["breaker"] is None
    assert gone["operations"] > 0

    # A successful probe after the cool-down would close it; meanwhile the breaker stays open.
    again = (await client.get("/ops/services", headers=admin_headers)).json()
    assert find(again, "430100/bdc")["breaker"]["state"] == "open"


def test_upstream_credentials_are_not_shown() -> None:
    assert redact_url("http://user:secret@10.1.2.3:8080/api") == "http://10.1.2.3:8080/api"
    assert redact_url("https://host.gov.cn/api?x=1") == "https://host.gov.cn/api?x=1"
    assert redact_url("http://user@[::1]:81/") == "http://[::1]:81/"
