"""Onboarding keeps recorded contracts: static checks on submission, no breaks in new versions."""

from __future__ import annotations

import copy
import logging
from typing import Any

import httpx
import pytest

from app.services.openapi import parse_document
from tests.contract_stubs import CONTRACTS
from tests.gateway.support import document_text

pytestmark = pytest.mark.usefixtures("app")

DOCUMENT_TEXT = (CONTRACTS / "municipal" / "changsha.openapi.yaml").read_text(encoding="utf-8")
CONTRACT_TEXT = (CONTRACTS / "municipal" / "changsha.contract.yaml").read_text(encoding="utf-8")


def document() -> dict[str, Any]:
    return copy.deepcopy(parse_document(DOCUMENT_TEXT.encode()))


def body(doc: str | dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "division": "430100",
        "slug": "zwfw",
        "name": "长沙市政务服务",
        "upstream_url": "http://127.0.0.1:9001",
        "document": doc,
        **extra,
    }


async def onboard_with_contract(client: httpx.AsyncClient, headers: dict[str, str]) -> int:
    response = await client.post(
        "/admin/services", json=body(DOCUMENT_TEXT, contracts=[CONTRACT_TEXT]), headers=headers
    )
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


async def test_a_contract_that_does_not_fit_the_document_is_refused(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    response = await client.post(
        "/admin/services",
        json=body(document_text(), slug="bdc", contracts=[CONTRACT_TEXT]),
        headers=admin_headers,
    )
    assert response.status_code == 422
    pointers = [e["pointer"] for e in response.json()["errors"]]
    assert pointers
    assert all(p.startswith("/body/contracts/0/interactions/") for p in pointers), pointers


async def test_a_malformed_contract_is_refused_with_pointers(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    response = await client.post(
        "/admin/services",
        json=body(DOCUMENT_TEXT, contracts=["format: 1\nconnector: municipal\n"]),
        headers=admin_headers,
    )
    assert response.status_code == 422
    assert all(e["pointer"].startswith("/body/contracts/0") for e in response.json()["errors"])


def breaking_document() -> dict[str, Any]:
    doc = document()
    schemas = doc["components"]["schemas"]
    schemas["FundAccount"]["properties"]["balance"]["type"] = "string"  # retyped
    del doc["paths"]["/gjj/accounts/{id_number}/deposits"]  # an operation removed
    records = doc["paths"]["/bdc/records"]["get"]
    records["parameters"].append(
        {"name": "channel", "in": "query", "required": True, "schema": {"type": "string"}}
    )  # a newly required request field
    return doc


async def test_a_breaking_version_is_refused_listing_each_break(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    service_id = await onboard_with_contract(client, admin_headers)
    response = await client.put(
        f"/admin/services/{service_id}", json=body(breaking_document()), headers=admin_headers
    )
    assert response.status_code == 409, response.text
    problem = response.json()
    assert problem["type"] == "/problems/contract-broken"
    details = [b["detail"] for b in problem["breaks"]]
    assert all(b["contract"] == "municipal/changsha" for b in problem["breaks"])
    assert any("balance" in d for d in details), details
    assert any("listFundDeposits_430100" in d for d in details), details
    assert any("channel" in d for d in details), details
    same = (await client.get(f"/admin/services/{service_id}", headers=admin_headers)).json()
    assert same["version"] == 1


async def test_a_dry_run_of_a_breaking_version_is_refused_like_the_real_one(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    service_id = await onboard_with_contract(client, admin_headers)
    dry = await client.put(
        f"/admin/services/{service_id}",
        params={"dry_run": "true"},
        json=body(breaking_document()),
        headers=admin_headers,
    )
    assert dry.status_code == 409, dry.text
    assert dry.json()["type"] == "/problems/contract-broken"
    forced = await client.put(
        f"/admin/services/{service_id}",
        params={"dry_run": "true"},
        json=body(breaking_document(), force=True),
        headers=admin_headers,
    )
    assert forced.status_code == 200, forced.text
    assert forced.json()["status"] == "planned"
    same = (await client.get(f"/admin/services/{service_id}", headers=admin_headers)).json()
    assert same["version"] == 1


async def test_force_publishes_anyway_and_logs_the_override(
    client: httpx.AsyncClient, admin_headers: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    service_id = await onboard_with_contract(client, admin_headers)
    with caplog.at_level(logging.WARNING, logger="xyb.onboarding"):
        response = await client.put(
            f"/admin/services/{service_id}",
            json=body(breaking_document(), force=True),
            headers=admin_headers,
        )
    assert response.status_code == 200, response.text
    assert response.json()["version"] == 2
    overrides = [
        r for r in caplog.records if r.getMessage() == "contract breaks overridden by force"
    ]
    assert len(overrides) == 1
    assert overrides[0].service == "430100/zwfw"  # type: ignore[attr-defined]
    assert len(overrides[0].breaks) >= 3  # type: ignore[attr-defined]


async def test_a_compatible_version_passes(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    service_id = await onboard_with_contract(client, admin_headers)
    doc = document()
    doc["components"]["schemas"]["FundAccount"]["properties"]["note"] = {"type": "string"}
    response = await client.put(
        f"/admin/services/{service_id}", json=body(doc), headers=admin_headers
    )
    assert response.status_code == 200, response.text
    assert response.json()["version"] == 2
