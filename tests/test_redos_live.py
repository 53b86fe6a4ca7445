"""A backtracking pattern against a real `xyb serve` (issue 9, item 1).

Before patterns ran on RE2, ``^(a+)+$`` and a body of 5,000 a's and a "!" held the event loop for
good: /healthz stopped answering and SIGTERM was ignored. Now the attack is a 422 in milliseconds,
and /healthz answers all along.
"""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import httpx
import pytest

from tests.gateway.recorder import recording_upstream
from tests.servers import live_gateway

pytestmark = pytest.mark.slow
TOKEN = "redos-live-admin-token-0123456789abcdef0123"
DOCUMENT = {
    "openapi": "3.1.0",
    "info": {"title": "a pattern", "version": "1"},
    "paths": {
        "/items": {
            "post": {
                "operationId": "createItem",
                "requestBody": {
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "properties": {"v": {"type": "string", "pattern": "^(a+)+$"}},
                            }
                        }
                    }
                },
                "responses": {"200": {"description": "created"}},
            }
        }
    },
}


async def test_a_redos_body_never_stalls_the_gateway(
    tmp_path: Path, fresh_database_url: str
) -> None:
    env = {
        "XYB_DATABASE_URL": fresh_database_url,
        "XYB_ADMIN_TOKEN": TOKEN,
        "XYB_DATA_KEY": os.environ["XYB_DATA_KEY"],
    }
    admin = {"Authorization": f"Bearer {TOKEN}"}
    async with recording_upstream() as upstream:
        with live_gateway(tmp_path, env) as server:
            async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
                created = await client.post(
                    "/admin/services",
                    json={
                        "division": "430100",
                        "slug": "patterns",
                        "name": "patterns",
                        "upstream_url": upstream.url + "/api",
                        "document": json.dumps(DOCUMENT),
                    },
                    headers=admin,
                )
                assert created.status_code == 201, created.text
                app = await client.post(
                    "/admin/clients", json={"name": "app", "kind": "app"}, headers=admin
                )
                assert app.status_code == 201, app.text
                client_id, secret = app.json()["client_id"], app.json()["client_secret"]
                granted = await client.post(
                    f"/admin/clients/{client_id}/grants",
                    json={"division": "430100", "slug": "patterns"},
                    headers=admin,
                )
                assert granted.status_code == 201, granted.text
                issued = await client.post(
                    "/identity/token",
                    data={"grant_type": "client_credentials"},
                    auth=(client_id, secret),
                )
                assert issued.status_code == 200, issued.text
                bearer = {"Authorization": f"Bearer {issued.json()['access_token']}"}

                attack = asyncio.create_task(
                    client.post(
                        "/gw/430100/patterns/items",
                        json={"v": "a" * 5000 + "!"},
                        headers=bearer,
                        timeout=120,
                    )
                )
                polls = 0
                try:
                    while not attack.done() or polls < 3:
                        # With Python's re the attack holds the event loop: this times out.
                        health = await client.get("/healthz", timeout=10)
                        assert health.status_code == 200
                        polls += 1
                        await asyncio.sleep(0.02)
                finally:
                    if not attack.done():
                        attack.cancel()
                answer = await attack
                assert answer.status_code == 422, answer.text
                assert answer.json()["errors"] == [
                    {"pointer": "/body/v", "detail": "must match the pattern ^(a+)+$"}
                ]
                fine = await client.post(
                    "/gw/430100/patterns/items", json={"v": "aaa"}, headers=bearer
                )
                assert fine.status_code == 200, fine.text
        assert [r.target for r in upstream.requests] == [b"/api/items"]
