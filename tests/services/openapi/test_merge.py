"""merge_documents / service_document: one valid OpenAPI 3.1 document of what the gateway serves."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import pytest
from openapi_spec_validator import validate
from openapi_spec_validator.validation import OpenAPIV31SpecValidator

from app.services.openapi import (
    MergeInput,
    analyse,
    compile_validator,
    merge_documents,
    service_document,
)
from app.services.openapi.refs import iter_refs, resolve_local
from tests.services.openapi.conftest import SERVICES, analysed

GATEWAY = "https://gw.xyb.hunan.gov.cn"


def inputs() -> list[MergeInput]:
    found = []
    for name, division, slug, title in SERVICES:
        document, analysis = analysed(name)
        assert analysis.problems == []
        found.append(MergeInput(division, slug, title, document, analysis.operations))
    return found


@pytest.fixture(scope="module")
def merged() -> dict[str, Any]:
    return merge_documents(inputs(), title="湘易办网关", server_url=GATEWAY)


def refs_of(document: dict[str, Any]) -> Iterator[str]:
    for ref in iter_refs(document):
        yield ref.value


def assert_valid_31(document: dict[str, Any]) -> None:
    validate(document, cls=OpenAPIV31SpecValidator)
    analysis = analyse(document)
    assert analysis.version == "3.1"
    assert analysis.problems == []
    for ref in refs_of(document):
        assert ref.startswith("#/components/"), ref
        resolve_local(document, ref)  # raises when it does not resolve


def test_the_merge_is_valid_openapi_31(merged: dict[str, Any]) -> None:
    assert merged["openapi"] == "3.1.0"
    assert merged["info"] == {"title": "湘易办网关", "version": "1.0.0"}
    assert merged["servers"] == [{"url": GATEWAY}]
    assert_valid_31(merged)


def test_paths_are_prefixed_with_division_and_slug(merged: dict[str, Any]) -> None:
    assert sorted(merged["paths"]) == sorted(
        [
            "/gw/430100/bdc/certificates",
            "/gw/430100/bdc/certificates/{certNo}",
            "/gw/430100/bdc/applications",
            "/gw/430100/bdc/applications/{applicationId}/materials",
            "/gw/430100/bdc/status",
            "/gw/430100/bdc/health",
            "/gw/430000/hotline/tickets",
            "/gw/430000/hotline/tickets/{ticketId}",
            "/gw/430000/hotline/status",
            "/gw/430000/elicense/licenses/{licenseType}/{holderId}",
            "/gw/430000/elicense/licenses/{licenseType}",
            "/gw/430000/elicense/verifications",
            "/gw/430000/elicense/status",
            "/gw/430200/shebao/insured/{idNo}/records",
            "/gw/430200/shebao/payments",
        ]
    )
    # Path-level parameters stay where they were.
    item = merged["paths"]["/gw/430100/bdc/certificates/{certNo}"]
    assert item["parameters"][0]["name"] == "certNo"
    assert merged["paths"]["/gw/430000/hotline/tickets/{ticketId}"]["parameters"] == [
        {"$ref": "#/components/parameters/c430000_hotline_TicketId"}
    ]


def test_operation_ids_are_unique_and_qualified(merged: dict[str, Any]) -> None:
    ids = [
        op["operationId"]
        for item in merged["paths"].values()
        for key, op in item.items()
        if key in ("get", "put", "post", "delete", "patch")
    ]
    assert len(ids) == len(set(ids)) == 17
    status_ids = {
        path: item["get"]["operationId"]
        for path, item in merged["paths"].items()
        if path.endswith(("/status", "/records"))
    }
    # four services each call an operation getStatus
    assert status_ids == {
        "/gw/430100/bdc/status": "gw430100_bdc_getStatus",
        "/gw/430000/hotline/status": "gw430000_hotline_getStatus",
        "/gw/430000/elicense/status": "gw430000_elicense_getStatus",
        "/gw/430200/shebao/insured/{idNo}/records": "gw430200_shebao_getStatus",
    }
    assert (
        merged["paths"]["/gw/430100/bdc/health"]["get"]["operationId"] == "gw430100_bdc_get_health"
    )


def test_colliding_component_names_are_prefixed(merged: dict[str, Any]) -> None:
    schemas = merged["components"]["schemas"]
    errors = sorted(name for name in schemas if name.endswith("_Error"))
    assert errors == [
        "c430000_elicense_Error",
        "c430000_hotline_Error",
        "c430100_bdc_Error",
        "c430200_shebao_Error",
    ]
    assert schemas["c430100_bdc_Error"]["required"] == ["code", "message"]
    assert schemas["c430000_hotline_Error"]["properties"]["status"] == {"type": "integer"}
    assert merged["components"]["responses"]["c430100_bdc_NotFound"]["content"]["application/json"][
        "schema"
    ] == {"$ref": "#/components/schemas/c430100_bdc_Error"}
    assert set(merged["components"]) == {"schemas", "responses", "parameters", "requestBodies"}


def test_one_tag_per_service(merged: dict[str, Any]) -> None:
    assert merged["tags"] == [
        {"name": "430000/elicense", "description": "电子证照 — 湖南省电子证照共享服务"},
        {
            "name": "430000/hotline",
            "description": "12345热线 — 湖南省12345政务服务便民热线工单接口",
        },
        {"name": "430100/bdc", "description": "长沙不动产登记 — 长沙市不动产登记服务"},
        {"name": "430200/shebao", "description": "株洲社保 — 株洲市社会保险参保查询"},
    ]
    for path, item in merged["paths"].items():
        tag = "/".join(path.split("/")[2:4])
        for key, op in item.items():
            if key in ("get", "post", "patch"):
                assert op["tags"] == [tag]


def test_servers_and_security_of_the_services_are_dropped(merged: dict[str, Any]) -> None:
    text = json.dumps(merged)
    assert "securitySchemes" not in merged["components"]
    assert '"security"' not in text
    assert "bdc.changsha.gov.cn" not in text
    assert "10.43.2.15" not in text
    assert merged["servers"] == [{"url": GATEWAY}]


def test_item_codes_are_kept(merged: dict[str, Any]) -> None:
    assert merged["paths"]["/gw/430100/bdc/certificates"]["get"]["x-xyb-item"] == (
        "11430100MB1574587X4430111001"
    )
    assert merged["paths"]["/gw/430000/elicense/verifications"]["post"]["x-xyb-item"] == "DZZZ-002"


def test_openapi_30_schemas_become_31(merged: dict[str, Any]) -> None:
    schemas = merged["components"]["schemas"]
    certificate = schemas["c430100_bdc_Certificate"]["properties"]
    assert certificate["mortgagee"] == {"type": ["string", "null"]}
    assert certificate["area"] == {"type": "number", "exclusiveMinimum": 0, "example": 89.5}
    assert certificate["issuedOn"]["example"] == "2023-11-20"
    owner = schemas["c430100_bdc_Owner"]["properties"]["share"]
    assert owner == {"type": "number", "maximum": 1, "exclusiveMinimum": 0}
    record = schemas["c430200_shebao_Record"]["properties"]
    assert record["amount"] == {"type": "number", "maximum": 100000}
    # OpenAPI 3.0.3: nullable does not add null to an enum (the gateway refuses null there too).
    assert record["kind"] == {"type": ["string", "null"], "enum": ["pension", "medical"]}
    assert record["detail"] == {
        "$ref": "#/components/schemas/c430200_shebao_Error",
        "description": "nullable is ignored next to $ref in 3.0",
    }
    price = schemas["c430100_bdc_Application"]["allOf"][1]["properties"]["price"]
    assert price == {"type": ["integer", "null"], "minimum": 0}
    insurance = merged["paths"]["/gw/430200/shebao/insured/{idNo}/records"]["get"]["parameters"][2]
    assert insurance["schema"]["type"] == ["string", "null"]
    material = merged["paths"]["/gw/430100/bdc/applications/{applicationId}/materials"]["post"]
    notes = material["requestBody"]["content"]["application/x-www-form-urlencoded"]["schema"][
        "properties"
    ]["notes"]
    assert notes == {"type": ["string", "null"], "maxLength": 200}
    assert '"nullable":' not in json.dumps(merged)


def test_references_beyond_schemas_are_rewritten(merged: dict[str, Any]) -> None:
    pet = merged["components"]["schemas"]["c430000_hotline_Pet"]
    assert pet["discriminator"]["mapping"] == {
        "cat": "#/components/schemas/c430000_hotline_Cat",
        "dog": "#/components/schemas/c430000_hotline_Dog",
    }
    payments = merged["paths"]["/gw/430200/shebao/payments"]["post"]
    assert payments["responses"]["202"]["links"]["records"]["operationId"] == (
        "gw430200_shebao_getStatus"
    )
    callback = payments["callbacks"]["paid"]["{$request.body#/notifyUrl}"]["post"]
    assert callback["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/c430200_shebao_Record"
    }
    # A reference outside components (#/x-defs/Address) is copied in place.
    location = merged["components"]["schemas"]["c430000_hotline_NewTicket"]["properties"][
        "location"
    ]
    assert location["oneOf"][0]["required"] == ["city"]


def test_only_the_given_operations_are_merged() -> None:
    document, analysis = analysed("bdc-changsha-3.0.yaml")
    chosen = [
        op for op in analysis.operations if op.operation_id in ("getCertificate", "getStatus")
    ]
    merged = merge_documents(
        [MergeInput("430100", "bdc", "不动产", document, chosen)], title="t", server_url=GATEWAY
    )
    assert sorted(merged["paths"]) == [
        "/gw/430100/bdc/certificates/{certNo}",
        "/gw/430100/bdc/status",
    ]
    assert_valid_31(merged)


def test_the_inputs_are_not_changed() -> None:
    services = inputs()
    before = [copy.deepcopy(s.document) for s in services]
    merge_documents(services, title="t", server_url=GATEWAY)
    assert [s.document for s in services] == before


def test_a_service_given_twice_is_refused() -> None:
    service = inputs()[0]
    with pytest.raises(ValueError, match="430100/bdc is given twice"):
        merge_documents([service, service], title="t", server_url=GATEWAY)


def test_the_same_document_under_two_slugs() -> None:
    document, analysis = analysed("hotline-hunan-3.1.json")
    services = [
        MergeInput("430000", "hotline", "热线", document, analysis.operations),
        MergeInput("430100", "hotline", "长沙热线", document, analysis.operations),
    ]
    merged = merge_documents(services, title="t", server_url=GATEWAY)
    assert_valid_31(merged)
    assert "c430100_hotline_Ticket" in merged["components"]["schemas"]
    assert "c430000_hotline_Ticket" in merged["components"]["schemas"]


def test_operation_ids_that_collide_once_sanitised() -> None:
    document: dict[str, Any] = {
        "openapi": "3.0.3",
        "info": {"title": "t", "version": "1"},
        "paths": {
            "/a": {"get": {"operationId": "get-a", "responses": {"200": {"description": "ok"}}}},
            "/b": {"get": {"operationId": "get_a", "responses": {"200": {"description": "ok"}}}},
            "/c": {"get": {"operationId": "get.a", "responses": {"200": {"description": "ok"}}}},
        },
    }
    analysis = analyse(document)
    merged = merge_documents(
        [MergeInput("430100", "x-y", "x", document, analysis.operations)],
        title="t",
        server_url=GATEWAY,
    )
    ids = [item["get"]["operationId"] for item in merged["paths"].values()]
    assert ids == ["gw430100_x_y_get_a", "gw430100_x_y_get_a_2", "gw430100_x_y_get_a_3"]
    assert_valid_31(merged)


def test_service_document_keeps_the_services_names() -> None:
    for name, division, slug, title in SERVICES:
        document, analysis = analysed(name)
        single = service_document(
            MergeInput(division, slug, title, document, analysis.operations), GATEWAY
        )
        assert_valid_31(single)
        assert single["info"]["title"] == title
        assert single["info"]["version"] == document["info"]["version"]
        assert single["servers"] == [{"url": GATEWAY}]
        assert all(p.startswith(f"/gw/{division}/{slug}/") for p in single["paths"])
        assert set(single["components"]["schemas"]) == set(document["components"]["schemas"])


def test_merged_operations_validate_requests_like_the_originals(merged: dict[str, Any]) -> None:
    """The 3.0 → 3.1 conversion keeps meaning: the same requests pass and fail."""
    analysis = analyse(merged)
    assert analysis.version == "3.1"
    by_id = {op.operation_id: op for op in analysis.operations}
    submit = compile_validator(merged, by_id["gw430100_bdc_submitApplication"], "3.1")
    original_doc, original = analysed("bdc-changsha-3.0.yaml")
    (original_op,) = [op for op in original.operations if op.operation_id == "submitApplication"]
    original_submit = compile_validator(original_doc, original_op, "3.0")
    bodies = [
        {
            "applicant": {"name": "王五", "idNo": "43010219900101123X"},
            "kind": "mortgage",
            "parcel": "430102-7",
        },
        {
            "applicant": {"name": "王五", "idNo": "43010219900101123X", "share": 0},
            "kind": "transfer",
            "parcel": "430102-7",
            "price": None,
        },
        {"applicant": {"name": "", "idNo": "1"}, "kind": "gift", "parcel": "1", "price": "x"},
    ]
    for body, valid in zip(bodies, [True, False, False], strict=True):
        raw = json.dumps(body, ensure_ascii=False).encode()
        request: dict[str, Any] = {
            "path_params": {},
            "query": [],
            "headers": {},
            "content_type": "application/json",
            "body": raw,
        }
        merged_errors = [(e.pointer, e.detail) for e in submit.validate(**request)]
        original_errors = [(e.pointer, e.detail) for e in original_submit.validate(**request)]
        assert sorted(merged_errors) == sorted(original_errors)
        assert (merged_errors == []) == valid
