"""The canonical alliance API document (app/connectors/alliance/canonical.yaml).

It is what the gateway publishes at /gw/<partner>/alliance for each partner, so it must be a valid
OpenAPI 3.1 document, hold exactly the operations of the design, pass the gateway's own analysis,
and carry the schemas of the pydantic models the connector answers with, as generated.
"""

from __future__ import annotations

from typing import Any

import yaml
from openapi_spec_validator import validate

from app.connectors.alliance import canonical_document
from app.connectors.alliance.document import PATH, render, schemas
from app.services.openapi import analyse, parse_document

OPERATIONS = {
    ("POST", "/medical-filings"): "createMedicalFiling",
    ("GET", "/medical-filings/{filingId}"): "getMedicalFiling",
    ("POST", "/medical-filings/{filingId}/cancellation"): "cancelMedicalFiling",
    ("GET", "/social-insurance/records"): "getSocialInsuranceRecords",
    ("GET", "/provident-fund/account"): "getProvidentFundAccount",
    ("POST", "/provident-fund/transfers"): "createProvidentFundTransfer",
    ("GET", "/provident-fund/transfers/{transferId}"): "getProvidentFundTransfer",
}
WRITES = {"createMedicalFiling", "createProvidentFundTransfer"}


def document() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(canonical_document())
    return loaded


def test_it_is_a_valid_openapi_31_document() -> None:
    doc = document()
    assert doc["openapi"] == "3.1.0"
    validate(doc)


def test_its_schemas_are_the_models_as_generated() -> None:
    """After changing a model: python -m app.connectors.alliance.document."""
    text = PATH.read_text(encoding="utf-8")
    assert render(text) == text
    assert document()["components"]["schemas"] == schemas()


def test_it_has_exactly_the_designed_operations_and_writes_need_a_key() -> None:
    analysis = analyse(parse_document(canonical_document().encode(), content_type=None))
    assert analysis.problems == []
    assert {w.pointer for w in analysis.warnings} == {"/security"}
    assert {(o.method, o.path): o.operation_id for o in analysis.operations} == OPERATIONS
    doc = document()
    for item in doc["paths"].values():
        for operation in item.values():
            refs = [p.get("$ref", "") for p in operation.get("parameters", [])]
            keyed = "#/components/parameters/IdempotencyKey" in refs
            assert keyed == (operation["operationId"] in WRITES), operation["operationId"]


def test_every_operation_answers_errors_as_problems() -> None:
    doc = document()
    shared = doc["components"]["responses"]
    for item in doc["paths"].values():
        for operation in item.values():
            errors = {c: r for c, r in operation["responses"].items() if c.startswith(("4", "5"))}
            assert {"401", "403", "502", "503", "504"} <= set(errors), operation["operationId"]
            for response in errors.values():
                response = shared[response["$ref"].rsplit("/", 1)[1]]
                assert list(response["content"]) == ["application/problem+json"]


def test_no_partner_protocol_shows_through() -> None:
    """No schema names a field of a partner's protocol (nor the caller's ID number)."""
    names = str(schemas())
    for word in ("requestNo", "request_id", "QQLSH", "idNumber", "id_number", "_fen", "BABH"):
        assert word not in names, word
