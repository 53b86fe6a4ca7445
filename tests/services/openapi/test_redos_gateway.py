"""Patterns from onboarded documents, through the admin API and /gw.

A backtracking pattern and a 5,000-character attack used to hold the event loop for good; RE2
answers 422 at once. A pattern RE2 cannot run is refused at onboarding with its pointer; one in a
document stored before that check is listed in the service's warnings and fails closed.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
import respx

from app.gateway.routetable import TransportFactory
from app.services.openapi import analysis as analysis_module
from tests.conftest import GrantAccess
from tests.gateway.support import UPSTREAM, respx_transport

ATTACK = {"v": "a" * 5000 + "!"}


def document(pattern: str) -> str:
    return json.dumps(
        {
            "openapi": "3.1.0",
            "info": {"title": "patterns", "version": "1"},
            "paths": {
                "/items": {
                    "post": {
                        "operationId": "createItem",
                        "requestBody": {
                            "required": True,
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/Item"}
                                }
                            },
                        },
                        "responses": {"201": {"description": "created"}},
                    }
                }
            },
            "components": {
                "schemas": {
                    "Item": {
                        "type": "object",
                        "properties": {"v": {"type": "string", "pattern": pattern}},
                    }
                }
            },
        }
    )


def submission(pattern: str) -> dict[str, Any]:
    return {
        "division": "430100",
        "slug": "patterns",
        "name": "patterns",
        "upstream_url": UPSTREAM,
        "document": document(pattern),
    }


@pytest.fixture
def upstream() -> respx.MockRouter:
    router = respx.MockRouter(assert_all_called=False, base_url=UPSTREAM)
    router.post("/items").mock(return_value=httpx.Response(201, json={"ok": True}))
    return router


@pytest.fixture
def transport_factory(upstream: respx.MockRouter) -> TransportFactory:
    return respx_transport(upstream)


async def test_a_redos_body_gets_422_through_the_gateway(
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    grant_access: GrantAccess,
    upstream: respx.MockRouter,
) -> None:
    created = await client.post(
        "/admin/services", json=submission("^(a+)+$"), headers=admin_headers
    )
    assert created.status_code == 201, created.text
    headers = await grant_access(("430100", "patterns"))
    answer = await client.post(
        "/gw/430100/patterns/items", json=ATTACK, headers=headers, timeout=120
    )
    assert answer.status_code == 422, answer.text
    assert answer.json()["errors"] == [
        {"pointer": "/body/v", "detail": "must match the pattern ^(a+)+$"}
    ]
    assert not upstream.calls
    fine = await client.post(
        "/gw/430100/patterns/items", json={"v": "aaaa"}, headers=headers, timeout=120
    )
    assert fine.status_code == 201


async def test_a_look_ahead_is_refused_at_onboarding_with_its_pointer(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    refused = await client.post(
        "/admin/services", json=submission("^(?=.*[0-9]).+$"), headers=admin_headers
    )
    assert refused.status_code == 422
    errors = refused.json()["errors"]
    assert [e["pointer"] for e in errors] == [
        "/body/document/components/schemas/Item/properties/v/pattern"
    ]
    assert "look-ahead assertion" in errors[0]["detail"]


async def test_a_stored_look_ahead_is_a_warning_and_fails_closed(
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    grant_access: GrantAccess,
    upstream: respx.MockRouter,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # As a gateway before the pattern check would have stored it:
    monkeypatch.setattr(analysis_module, "pattern_problems", lambda document, refs: [])
    created = await client.post(
        "/admin/services", json=submission("^(?=.*[0-9]).+$"), headers=admin_headers
    )
    assert created.status_code == 201, created.text
    monkeypatch.undo()

    shown = await client.get(f"/admin/services/{created.json()['id']}", headers=admin_headers)
    warnings = [w for w in shown.json()["warnings"] if w["pointer"].endswith("/pattern")]
    assert [w["pointer"] for w in warnings] == ["/components/schemas/Item/properties/v/pattern"]
    assert "is refused (422) until a corrected version is onboarded" in warnings[0]["message"]

    headers = await grant_access(("430100", "patterns"))
    answer = await client.post("/gw/430100/patterns/items", json={"v": "abc1"}, headers=headers)
    assert answer.status_code == 422
    assert answer.json()["errors"][0]["pointer"] == "/body/v"
    assert "the gateway does not run" in answer.json()["errors"][0]["detail"]
    assert not upstream.calls
    without = await client.post("/gw/430100/patterns/items", json={}, headers=headers)
    assert without.status_code == 201


async def test_a_path_template_with_several_parameters_in_a_segment_matches_in_linear_time(
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    grant_access: GrantAccess,
    upstream: respx.MockRouter,
) -> None:
    """`/reports/{year}-{month}-{day}.json` became a regex of three lazy groups: with Python's re
    a 4,000-character segment that does not fit took six minutes (n^3), on the event loop."""
    doc = {
        "openapi": "3.1.0",
        "info": {"title": "reports", "version": "1"},
        "paths": {
            "/reports/{year}-{month}-{day}.json": {
                "get": {
                    "operationId": "report",
                    "parameters": [
                        {"name": n, "in": "path", "required": True, "schema": {"type": "string"}}
                        for n in ("year", "month", "day")
                    ],
                    "responses": {"200": {"description": "the report"}},
                }
            }
        },
    }
    body = {**submission("x"), "slug": "reports", "document": json.dumps(doc)}
    created = await client.post("/admin/services", json=body, headers=admin_headers)
    assert created.status_code == 201, created.text
    headers = await grant_access(("430100", "reports"))
    upstream.get("/reports/2024-05-01.json").mock(return_value=httpx.Response(200, json={}))

    missing = await client.get(
        "/gw/430100/reports/reports/" + "a-" * 4000 + "x", headers=headers, timeout=120
    )
    assert missing.status_code == 404, missing.text
    found = await client.get("/gw/430100/reports/reports/2024-05-01.json", headers=headers)
    assert found.status_code == 200, found.text
