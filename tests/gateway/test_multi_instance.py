"""Two gateway processes on one database: onboarding through one reaches the other in 2 s."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import httpx
import pytest

from app.simulators import SimulatorHost, city_data, openapi_document
from tests.gateway.support import service_body
from tests.servers import live_gateway

pytestmark = pytest.mark.slow
TOKEN = "multi-instance-admin-token-0123456789abcdef"


async def test_onboard_through_one_instance_call_through_the_other(
    tmp_path: Path, fresh_database_url: str
) -> None:
    env = {
        "XYB_DATABASE_URL": fresh_database_url,
        "XYB_ADMIN_TOKEN": TOKEN,
        "XYB_DATA_KEY": os.environ["XYB_DATA_KEY"],
    }
    async with SimulatorHost(divisions=["430200"], control=False) as simulator:
        with (
            live_gateway(tmp_path / "a", env) as first,
            live_gateway(tmp_path / "b", env) as second,
        ):
            async with httpx.AsyncClient(timeout=10) as client:
                admin = {"Authorization": f"Bearer {TOKEN}"}
                # A client, its grant and its token, all made through the first instance.
                created = (
                    await client.post(
                        first.url + "/admin/clients",
                        json={"name": "app", "kind": "app"},
                        headers=admin,
                    )
                ).json()
                granted = await client.post(
                    first.url + f"/admin/clients/{created['client_id']}/grants",
                    json={"division": "430200", "slug": "zwfw"},
                    headers=admin,
                )
                assert granted.status_code == 201, granted.text
                issued = await client.post(
                    first.url + "/identity/token",
                    data={"grant_type": "client_credentials"},
                    auth=(created["client_id"], created["client_secret"]),
                )
                assert issued.status_code == 200, issued.text
                caller = {"Authorization": f"Bearer {issued.json()['access_token']}"}
                resident = next(iter(city_data("430200").fund_accounts))
                path = f"/gw/430200/zwfw/gjj/accounts/{resident}"
                # The second instance learns the client within the poll interval.
                deadline = time.monotonic() + 10
                while (await client.get(second.url + path, headers=caller)).status_code != 404:
                    assert time.monotonic() < deadline
                    await asyncio.sleep(0.05)

                response = await client.post(
                    first.url + "/admin/services",
                    json=service_body(
                        division="430200",
                        slug="zwfw",
                        upstream_url=simulator.url("430200"),
                        document=openapi_document("430200"),
                    ),
                    headers={"Authorization": f"Bearer {TOKEN}"},
                )
                assert response.status_code == 201, response.text
                onboarded_at = time.monotonic()
                while True:
                    answer = await client.get(second.url + path, headers=caller)
                    if answer.status_code == 200:
                        break
                    assert time.monotonic() - onboarded_at < 10, answer.text
                    await asyncio.sleep(0.05)
                noticed_after = time.monotonic() - onboarded_at
                assert answer.headers["x-xyb-upstream"] == "430200/zwfw"

                retired = await client.delete(
                    first.url + f"/admin/services/{response.json()['id']}",
                    headers={"Authorization": f"Bearer {TOKEN}"},
                )
                assert retired.status_code == 200
                while (await client.get(second.url + path, headers=caller)).status_code != 404:
                    assert time.monotonic() - onboarded_at < 20
                    await asyncio.sleep(0.05)
    # The promise is 2 s; the poll interval is 1 s, so this holds with room on a busy machine.
    assert noticed_after < 2.0 + 1.0
