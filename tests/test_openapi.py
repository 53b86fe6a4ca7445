"""The gateway's own OpenAPI document is honest: Schemathesis finds nothing undocumented."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import schemathesis
from hypothesis import HealthCheck, given, settings

from app.core.config import Settings
from app.core.errors import PROBLEM_MEDIA_TYPE
from app.main import create_app
from tests.conftest import ADMIN_TOKEN


def test_gateway_api_conforms_to_its_openapi(tmp_path: Path, fresh_database_url: str) -> None:
    """Every operation, fuzzed in-process as the admin: no 5xx, only documented statuses."""
    application = create_app(
        Settings(data_dir=tmp_path, database_url=fresh_database_url, admin_token=ADMIN_TOKEN)
    )
    # An OpenAPI document's validity (and a division's existence) cannot be said in JSON Schema:
    # onboarding answers 422 to schema-valid submissions whose document is not an OpenAPI one.
    config = schemathesis.Config.from_dict(
        {
            "checks": {
                "positive_data_acceptance": {"expected-statuses": ["2xx", "404", "409", "422"]}
            }
        }
    )
    schema = schemathesis.openapi.from_asgi("/openapi.json", application, config=config)
    operations: list[Any] = [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]
    assert len(operations) >= 5
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
        def check(case: Any) -> None:
            case.call_and_validate(headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})

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
                if status.startswith(("4", "5")):
                    assert list(response["content"]) == [PROBLEM_MEDIA_TYPE], (method, path)
