"""The gateway's own OpenAPI document is honest: Schemathesis finds nothing undocumented.

The app under test has a city service onboarded (with its contract) whose upstream is stubbed
from contracts/, so the admin endpoints answer with real data while they are fuzzed.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import schemathesis
from hypothesis import HealthCheck, given, settings

from app.core.config import Settings
from app.core.errors import PROBLEM_MEDIA_TYPE
from app.main import create_app
from tests.conftest import ADMIN_TOKEN
from tests.contract_stubs import CONTRACTS, load, stub_router, transport_for

AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


async def _onboard_changsha(application: Any) -> None:
    async with (
        application.router.lifespan_context(application),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=application), base_url="http://t"
        ) as client,
    ):
        response = await client.post(
            "/admin/services",
            json={
                "division": "430100",
                "slug": "zwfw",
                "name": "长沙市政务服务",
                "upstream_url": "http://127.0.0.1:9001",
                "document": (CONTRACTS / "municipal" / "changsha.openapi.yaml").read_text(
                    encoding="utf-8"
                ),
                "contracts": [
                    (CONTRACTS / "municipal" / "changsha.contract.yaml").read_text(encoding="utf-8")
                ],
            },
            headers=AUTH,
        )
        assert response.status_code == 201, response.text


def test_gateway_api_conforms_to_its_openapi(tmp_path: Path, fresh_database_url: str) -> None:
    """Every operation fuzzed in-process as the admin, with valid and invalid input: no 5xx,
    only documented statuses and content types, and invalid input is refused."""
    stub = stub_router(load("municipal/changsha"))
    application = create_app(
        Settings(data_dir=tmp_path, database_url=fresh_database_url, admin_token=ADMIN_TOKEN),
        transport_factory=lambda base_url, max_connections: transport_for(stub),
    )
    asyncio.run(_onboard_changsha(application))
    # An OpenAPI document's validity (and a division's existence) cannot be said in JSON Schema:
    # 401/403: the fuzzer is the platform admin; /identity/me wants a resident, the token
    # endpoint real client credentials.
    # onboarding answers 422 to schema-valid submissions whose document is not an OpenAPI one.
    # 400: a catalog cursor that fits its parameter but was not issued by the gateway.
    config = schemathesis.Config.from_dict(
        {
            "generation": {"mode": "all"},
            "checks": {
                "positive_data_acceptance": {
                    "expected-statuses": ["2xx", "400", "401", "403", "404", "409", "422"]
                }
            },
        }
    )
    schema = schemathesis.openapi.from_asgi("/openapi.json", application, config=config)
    operations: list[Any] = [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]
    assert len(operations) >= 12
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
        def check(case: Any) -> None:
            case.call_and_validate(headers=AUTH)

        check()


async def test_errors_are_documented_as_problems(client: httpx.AsyncClient) -> None:
    document = (await client.get("/openapi.json")).json()
    schemas = document["components"]["schemas"]
    assert "HTTPValidationError" not in schemas
    assert {"Problem", "ValidationProblem"} <= schemas.keys()
    for path, item in document["paths"].items():
        for method, operation in item.items():
            responses = operation["responses"]
            assert PROBLEM_MEDIA_TYPE in responses["default"]["content"], (method, path)
            for status, response in responses.items():
                if not status.startswith(("4", "5")):
                    continue
                media = list(response["content"])
                if path == "/identity/token" and status in ("400", "401", "429"):
                    # RFC 6749 §5.2: the token endpoint's errors are application/json.
                    assert media == ["application/json"], (method, path, status)
                else:
                    assert media == [PROBLEM_MEDIA_TYPE], (method, path, status)
