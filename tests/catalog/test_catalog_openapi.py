"""The catalog's part of the gateway's OpenAPI is honest: Schemathesis finds nothing undocumented.

The same checks as tests/test_openapi.py, on the catalog's operations, with a catalog loaded.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings

from app.core.config import Settings
from app.core.errors import PROBLEM_MEDIA_TYPE
from app.main import create_app
from app.services.catalog.generator import generate
from app.simulators.city.catalog import simulated_items
from tests.conftest import ADMIN_TOKEN

AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


async def _load(application: FastAPI) -> None:
    async with (
        application.router.lifespan_context(application),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=application), base_url="http://t"
        ) as client,
    ):
        response = await client.post(
            "/admin/catalog/import",
            json=generate(200, seed=3, first=simulated_items()),
            headers=AUTH,
        )
        assert response.status_code == 200, response.text


def test_catalog_api_conforms_to_its_openapi(tmp_path: Path, fresh_database_url: str) -> None:
    """Every catalog operation fuzzed as the admin: no 5xx, only documented statuses and
    content types, invalid input refused."""
    application = create_app(
        Settings(data_dir=tmp_path, database_url=fresh_database_url, admin_token=ADMIN_TOKEN)
    )
    asyncio.run(_load(application))
    config = schemathesis.Config.from_dict(
        {
            "generation": {"mode": "all"},
            "checks": {
                "positive_data_acceptance": {
                    # 400: a cursor that fits the parameter's pattern but was not issued by us.
                    "expected-statuses": ["2xx", "400", "401", "403", "404", "409", "422"]
                }
            },
        }
    )
    schema = schemathesis.openapi.from_asgi("/openapi.json", application, config=config)
    operations: list[Any] = [
        result.ok()  # type: ignore[union-attr]
        for result in schema.get_all_operations()
        if "/catalog" in result.ok().path  # type: ignore[union-attr]
    ]
    assert len(operations) == 9
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
        def check(case: Any) -> None:
            case.call_and_validate(headers=AUTH)

        check()


async def test_catalog_errors_are_documented_as_problems(client: httpx.AsyncClient) -> None:
    document = (await client.get("/openapi.json")).json()
    paths = {p: item for p, item in document["paths"].items() if "/catalog" in p}
    assert set(paths) == {
        "/catalog/items",
        "/catalog/items/{code}",
        "/admin/catalog/items",
        "/admin/catalog/items/{code}",
        "/admin/catalog/export",
        "/admin/catalog/import",
        "/admin/catalog/synonyms",
    }
    for path, item in paths.items():
        for method, operation in item.items():
            responses = operation["responses"]
            assert PROBLEM_MEDIA_TYPE in responses["default"]["content"], (method, path)
            if operation.get("parameters") or operation.get("requestBody"):
                assert "422" in responses, (method, path)
            for status, response in responses.items():
                if status.startswith(("4", "5")):
                    assert list(response["content"]) == [PROBLEM_MEDIA_TYPE], (method, path)
    body = paths["/admin/catalog/import"]["post"]["requestBody"]["content"]
    assert set(body) == {"application/json", "text/csv"}
    assert "400" in paths["/catalog/items"]["get"]["responses"]
