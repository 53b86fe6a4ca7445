"""Schemathesis over /gw/openapi.json: the gateway and two city systems, fuzzed end to end.

The merged document is what an app developer reads; every answer through /gw, the gateway's
own problems included, must be one it documents.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import schemathesis
from hypothesis import HealthCheck, given, settings
from openapi_spec_validator import validate

from app.core.config import Settings
from app.main import create_app
from app.simulators import create_city_app, openapi_document
from tests.conftest import ADMIN_TOKEN

CITIES = {"430100": 9001, "430200": 9002}  # a 3.1 city and a 3.0 city


async def _onboard(application: Any) -> tuple[dict[str, Any], dict[str, str]]:
    async with (
        application.router.lifespan_context(application),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=application), base_url="http://testserver"
        ) as client,
    ):
        for division, port in CITIES.items():
            response = await client.post(
                "/admin/services",
                json={
                    "division": division,
                    "slug": "zwfw",
                    "name": f"{division} 政务服务",
                    "upstream_url": f"http://127.0.0.1:{port}",
                    "document": openapi_document(division),
                },
                headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
            )
            assert response.status_code == 201, response.text
        merged: dict[str, Any] = (await client.get("/gw/openapi.json")).json()
        created = (
            await client.post(
                "/admin/clients",
                json={
                    "name": "fuzzer",
                    "kind": "integrator",
                    "rate_per_s": 100000,
                    "burst": 100000,
                },
                headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
            )
        ).json()
        for division in CITIES:
            await client.post(
                f"/admin/clients/{created['client_id']}/grants",
                json={"division": division, "slug": "zwfw"},
                headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
            )
        issued = await client.post(
            "/identity/token",
            data={"grant_type": "client_credentials"},
            auth=(created["client_id"], created["client_secret"]),
        )
        return merged, {"Authorization": f"Bearer {issued.json()['access_token']}"}


def test_everything_through_gw_is_documented(tmp_path: Path, fresh_database_url: str) -> None:
    apps = {f"http://127.0.0.1:{port}": create_city_app(d) for d, port in CITIES.items()}
    application = create_app(
        Settings(data_dir=tmp_path, database_url=fresh_database_url, admin_token=ADMIN_TOKEN),
        transport_factory=lambda base_url, _: httpx.ASGITransport(app=apps[base_url]),
    )
    merged, auth = asyncio.run(_onboard(application))
    validate(merged)  # a valid OpenAPI 3.1 document
    one = merged["paths"]["/gw/430100/zwfw/gjj/accounts/{id_number}"]["get"]["responses"]
    assert "application/problem+json" in one["504"]["content"]
    assert "application/problem+json" in one["404"]["content"]
    # Business rules (ID check digits, six months of residence) are not in JSON Schema.
    config = schemathesis.Config.from_dict(
        {
            "checks": {
                "positive_data_acceptance": {"expected-statuses": ["2xx", "400", "404", "422"]}
            }
        }
    )
    schema = schemathesis.openapi.from_dict(merged, config=config)
    operations: list[Any] = [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]
    assert len(operations) == 18
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=10, deadline=None, suppress_health_check=list(HealthCheck))
        def check(case: Any) -> None:
            case.call_and_validate(app=application, base_url="http://testserver", headers=auth)

        check()
    calls = application.state.recent_events.snapshot()
    assert len(calls) > 100  # the fuzzing went through the gateway
    assert {e.service for e in calls} == {"430100/zwfw", "430200/zwfw"}
    assert any(e.from_upstream for e in calls)  # answers of the city systems, relayed
