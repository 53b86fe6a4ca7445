"""Onboarding a city simulator's own document: what a dry run says before anything is saved.

The simulators' documents once named ``http://127.0.0.1:8000`` as their server: the gateway's own
address in development, so a newcomer who onboarded one without an upstream URL made a service
that called the gateway itself. They now name the city's own address under ``xyb demo``; and an
upstream that is the gateway, or a document whose ``x-xyb-division`` is another division, is
pointed out by the dry run, through the admin API and through ``xyb onboard --dry-run``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.simulators import openapi_document, openapi_json, openapi_version
from tests.servers import live_gateway

GATEWAY_ITSELF = "this gateway's own address"
TOKEN = "city-onboarding-admin-token-0123456789abcdef"


async def dry_run(
    client: httpx.AsyncClient, headers: dict[str, str], **body: Any
) -> dict[str, Any]:
    answer = await client.post(
        "/admin/services",
        params={"dry_run": "true"},
        json={"slug": "city", "name": "城市", **body},
        headers=headers,
    )
    assert answer.status_code == 200, answer.text
    plan: dict[str, Any] = answer.json()
    return plan


def upstream_warnings(plan: dict[str, Any]) -> list[dict[str, str]]:
    return [w for w in plan["warnings"] if w["pointer"] == "/body/upstream_url"]


@pytest.mark.parametrize(
    ("division", "port"), [("430100", 9001), ("430200", 9002), ("433100", 9014)]
)
async def test_a_simulator_document_without_an_upstream_leads_to_its_city(
    client: httpx.AsyncClient, admin_headers: dict[str, str], division: str, port: int
) -> None:
    assert {openapi_version("430100"), openapi_version("430200")} == {"3.0.3", "3.1.0"}
    plan = await dry_run(
        client, admin_headers, division=division, document=openapi_document(division)
    )
    # Where `xyb demo` serves that city (the gateway's settings here: 127.0.0.1:8000).
    assert plan["upstream_url"] == f"http://127.0.0.1:{port}"
    assert upstream_warnings(plan) == []


@pytest.mark.parametrize("division", ["430100", "430200"])
async def test_an_upstream_that_is_the_gateway_itself_is_pointed_out(
    client: httpx.AsyncClient, admin_headers: dict[str, str], division: str
) -> None:
    plan = await dry_run(
        client,
        admin_headers,
        division=division,
        document=openapi_document(division),
        upstream_url="http://localhost:8000/",
    )
    assert upstream_warnings(plan) == [
        {
            "pointer": "/body/upstream_url",
            "message": "the upstream URL http://localhost:8000 is this gateway's own address:"
            " every call would come back to the gateway and be refused as a loop (508)",
        }
    ]


async def test_a_document_of_another_division_is_pointed_out(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    common = {"upstream_url": "http://127.0.0.1:9001", "document": openapi_json("430100")}
    warnings = (await dry_run(client, admin_headers, division="430200", **common))["warnings"]
    division = [w for w in warnings if w["pointer"] == "/body/document/x-xyb-division"]
    assert division == [
        {
            "pointer": "/body/document/x-xyb-division",
            "message": "the document is for 430100 (长沙市), but it is being onboarded for 430200"
            " (株洲市): check the division (or the document)",
        }
    ]
    same = (await dry_run(client, admin_headers, division="430100", **common))["warnings"]
    assert not [w for w in same if "x-xyb-division" in w["pointer"]]


@pytest.mark.slow
def test_xyb_onboard_dry_run_shows_both_warnings(tmp_path: Path, fresh_database_url: str) -> None:
    document = tmp_path / "changsha.openapi.yaml"
    document.write_text(openapi_document("430100"), encoding="utf-8")
    env = {"XYB_DATABASE_URL": fresh_database_url, "XYB_ADMIN_TOKEN": TOKEN}
    with live_gateway(tmp_path, env) as server:
        shown = subprocess.run(
            [
                sys.executable,
                "-m",
                "app.cli",
                "onboard",
                str(document),
                "--division",
                "430200",
                "--slug",
                "city",
                # A newcomer's slip: the gateway's address given as the upstream.
                "--upstream",
                server.url,
                "--gateway",
                server.url,
                "--dry-run",
            ],
            env={**os.environ, **env, "COLUMNS": "400"},
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert shown.returncode == 0, shown.stderr
    assert "plan (dry run, nothing saved)" in shown.stdout
    assert "/body/upstream_url" in shown.stdout
    assert GATEWAY_ITSELF in shown.stdout
    assert "/body/document/x-xyb-division" in shown.stdout
    assert "the document is for 430100 (长沙市)" in shown.stdout
