"""The canonical e-license API document (app/connectors/elicense/canonical.yaml).

It is what the gateway publishes at /gw/430000/elicense, so it must be a valid OpenAPI 3.1
document, hold exactly the operations of the design, and pass the gateway's own onboarding.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from fastapi import FastAPI
from openapi_spec_validator import validate

import app.connectors
from app.connectors.base import Connector, ConnectorConfig
from app.connectors.registry import ConnectorRegistry
from app.services.openapi import analyse, parse_document

DOCUMENT = Path(app.connectors.__file__).parent / "elicense" / "canonical.yaml"

OPERATIONS = {
    ("GET", "/license-types"): "listLicenseTypes",
    ("GET", "/licenses"): "listMyLicenses",
    ("GET", "/licenses/{licenseId}"): "getLicense",
    ("POST", "/licenses"): "issueLicense",
    ("POST", "/licenses/{licenseId}/revocation"): "revokeLicense",
    ("POST", "/presentations"): "createPresentation",
    ("GET", "/presentations/{presentationId}/qr.png"): "presentationQrPng",
    ("GET", "/presentations/{presentationId}/qr.svg"): "presentationQrSvg",
    ("POST", "/verifications"): "verifyPresentation",
    ("POST", "/consents"): "grantConsent",
    ("GET", "/consents"): "listConsents",
    ("DELETE", "/consents/{consentId}"): "withdrawConsent",
}
# The one thing the gateway says about the document: it authenticates callers itself.
EXPECTED_WARNINGS = {"/security"}


def document() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(DOCUMENT.read_text(encoding="utf-8"))
    return loaded


def test_it_is_a_valid_openapi_31_document() -> None:
    doc = document()
    assert doc["openapi"] == "3.1.0"
    assert doc["info"]["version"] == "1.0.0"
    validate(doc)


def test_it_has_exactly_the_designed_operations() -> None:
    found = {
        (method.upper(), path): operation["operationId"]
        for path, item in document()["paths"].items()
        for method, operation in item.items()
        if method != "parameters"
    }
    assert found == OPERATIONS


def test_every_operation_answers_errors_as_problems() -> None:
    doc = document()
    shared = doc["components"]["responses"]
    for item in doc["paths"].values():
        for method, operation in item.items():
            if method == "parameters":
                continue
            errors = {c: r for c, r in operation["responses"].items() if c.startswith(("4", "5"))}
            assert "401" in errors, operation["operationId"]
            for response in errors.values():
                response = shared[response["$ref"].rsplit("/", 1)[1]]
                assert list(response["content"]) == ["application/problem+json"]


def test_a_license_id_is_not_pattern_checked_by_the_gateway() -> None:
    """The connector checks GB/T 36904 itself and names the fault (a segment, the check
    character); a pattern would have the gateway refuse it first, saying only "does not match"."""
    schema = document()["components"]["parameters"]["LicenseId"]["schema"]
    assert schema == {"type": "string", "minLength": 1, "maxLength": 160}


def test_the_gateways_analysis_finds_no_problem() -> None:
    analysis = analyse(parse_document(DOCUMENT.read_bytes(), content_type=None))
    assert analysis.problems == []
    assert {w.pointer for w in analysis.warnings} == EXPECTED_WARNINGS
    assert {(o.method, o.path): o.operation_id for o in analysis.operations} == OPERATIONS
    assert not any(o.generated_id for o in analysis.operations)


def _placeholder(config: ConnectorConfig) -> Connector:
    """Stands in for the elicense connector where it is not installed yet: a dry run only looks
    the name up, it never creates the connector."""
    raise AssertionError("a dry run creates no connector")


async def test_it_onboards_at_430000_elicense(
    app: FastAPI,
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    routes = app.state.routes
    if "elicense" not in routes.registry.names:
        factories = {name: routes.registry.factory(name) for name in routes.registry.names}
        monkeypatch.setattr(
            routes, "registry", ConnectorRegistry({**factories, "elicense": _placeholder})
        )
    body = {
        "division": "430000",
        "slug": "elicense",
        "name": "湘易办 电子证照",
        "connector": "elicense",
        "upstream_url": "http://127.0.0.1:9016",
        "data_classification": "sensitive",
        "document": DOCUMENT.read_text(encoding="utf-8"),
    }
    answer = await client.post(
        "/admin/services", params={"dry_run": "true"}, json=body, headers=admin_headers
    )
    assert answer.status_code == 200, answer.text
    plan = answer.json()
    assert plan["gateway_path"] == "/gw/430000/elicense"
    assert plan["openapi_version"] == "3.1"
    assert {(r["method"], r["path"]): r["operation_id"] for r in plan["routes"]} == {
        (method, "/gw/430000/elicense" + path): op for (method, path), op in OPERATIONS.items()
    }
    assert [w["pointer"] for w in plan["warnings"]] == ["/security"]
