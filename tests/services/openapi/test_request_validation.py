"""compile_validator / RequestValidator: each parameter location and body kind, and the 415 case."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from app.services.openapi import (
    MAX_REQUEST_ERRORS,
    FieldError,
    RequestValidator,
    analyse,
    body_kind,
    compile_validator,
    compile_validators,
    error_status,
    match_media_type,
)
from tests.services.openapi.conftest import SERVICES, analysed

Errors = list[tuple[str, str]]


@pytest.fixture(scope="module")
def validators() -> dict[str, RequestValidator]:
    """Every operation of every sample document, by operationId (qualified by file when taken)."""
    found: dict[str, RequestValidator] = {}
    for name, _, slug, _ in SERVICES:
        document, analysis = analysed(name)
        assert analysis.version is not None
        for op_id, validator in compile_validators(
            document, analysis.operations, analysis.version
        ).items():
            found[op_id if op_id not in found else f"{slug}.{op_id}"] = validator
    return found


def run(
    validator: RequestValidator,
    *,
    path: Mapping[str, str] | None = None,
    query: Sequence[tuple[str, str]] = (),
    headers: Mapping[str, str] | None = None,
    content_type: str | None = None,
    body: bytes = b"",
) -> list[FieldError]:
    return validator.validate(
        path_params=path or {},
        query=list(query),
        headers=headers or {},
        content_type=content_type,
        body=body,
    )


def pairs(errors: list[FieldError]) -> Errors:
    return [(e.pointer, e.detail) for e in errors]


def inline(
    operation: dict[str, Any], *, version: str = "3.1.0", path: str = "/x"
) -> RequestValidator:
    document = {
        "openapi": version,
        "info": {"title": "t", "version": "1"},
        "paths": {path: {"post": {"operationId": "op", **operation}}},
        "components": {
            "schemas": {
                "Point": {
                    "type": "object",
                    "properties": {"lat": {"type": "number"}, "lng": {"type": "number"}},
                }
            }
        },
    }
    operation.setdefault("responses", {"200": {"description": "ok"}})
    analysis = analyse(document)
    assert analysis.problems == [], analysis.problems
    assert analysis.version is not None
    return compile_validator(document, analysis.operations[0], analysis.version)


# --- query and header parameters (bdc listCertificates) -----------------------------------------

ID_NO = "43010219900101123X"
LIST_OK: dict[str, Any] = {"query": [("ownerIdNo", ID_NO)], "headers": {"x-trace-id": "trace-0001"}}


@pytest.mark.parametrize(
    ("query", "headers", "expected"),
    [
        ([("ownerIdNo", ID_NO)], {"x-trace-id": "trace-0001"}, []),
        ([("ownerIdNo", ID_NO), ("unknown", "fine"), ("x", "")], {"x-trace-id": "trace-0001"}, []),
        ([], {"x-trace-id": "trace-0001"}, [("/query/ownerIdNo", "is required")]),
        ([("ownerIdNo", ID_NO)], {}, [("/header/x-trace-id", "is required")]),
        (
            [("ownerIdNo", ID_NO)],
            {"x-trace-id": "short"},
            [("/header/x-trace-id", "must be at least 8 characters long")],
        ),
        (
            [("ownerIdNo", "4301021990")],
            {"x-trace-id": "trace-0001"},
            [("/query/ownerIdNo", r"must match the pattern ^\d{17}[\dX]$")],
        ),
        (
            [("ownerIdNo", ID_NO), ("ownerIdNo", ID_NO)],
            {"x-trace-id": "trace-0001"},
            [("/query/ownerIdNo", "must be given only once")],
        ),
        (
            [("ownerIdNo", ID_NO), ("pageSize", "abc")],
            {"x-trace-id": "trace-0001"},
            [("/query/pageSize", "must be an integer")],
        ),
        (
            [("ownerIdNo", ID_NO), ("pageSize", "101"), ("page", "0")],
            {"x-trace-id": "trace-0001"},
            [("/query/pageSize", "must be at most 100"), ("/query/page", "must be at least 1")],
        ),
        (
            [("ownerIdNo", ID_NO), ("page", "1.5")],
            {"x-trace-id": "trace-0001"},
            [("/query/page", "must be an integer")],
        ),
        (
            [("ownerIdNo", ID_NO), ("status", "valid,mortgaged")],
            {"x-trace-id": "trace-0001"},
            [],
        ),
        (
            [("ownerIdNo", ID_NO), ("status", "valid,lost")],
            {"x-trace-id": "trace-0001"},
            [("/query/status/1", 'must be one of "valid", "mortgaged", "sealed", "cancelled"')],
        ),
        (
            [("ownerIdNo", ID_NO), ("district", "430102"), ("district", "430103")],
            {"x-trace-id": "trace-0001"},
            [],
        ),
        (
            [("ownerIdNo", ID_NO), ("district", "430102"), ("district", "43010x")],
            {"x-trace-id": "trace-0001"},
            [("/query/district/1", r"must match the pattern ^4301\d{2}$")],
        ),
        (
            [("ownerIdNo", ID_NO), *[("district", "430102")] * 6],
            {"x-trace-id": "trace-0001"},
            [("/query/district", "must have at most 5 items")],
        ),
    ],
)
def test_bdc_list_certificates(
    validators: dict[str, RequestValidator],
    query: list[tuple[str, str]],
    headers: dict[str, str],
    expected: Errors,
) -> None:
    errors = run(validators["listCertificates"], query=query, headers=headers)
    assert pairs(errors) == expected
    assert error_status(errors) == (422 if expected else None)


@pytest.mark.parametrize(
    ("operation", "path", "expected"),
    [
        ("getCertificate", {"certNo": "BDC2023000123"}, []),
        (
            "getCertificate",
            {"certNo": "bdc-1"},
            [("/path/certNo", "must match the pattern ^[A-Z0-9]{10,20}$")],
        ),
        ("getCertificate", {}, [("/path/certNo", "is required")]),
    ],
)
def test_path_parameters(
    validators: dict[str, RequestValidator], operation: str, path: dict[str, str], expected: Errors
) -> None:
    errors = run(validators[operation], path=path, headers={"x-trace-id": "trace-0001"})
    assert pairs(errors) == expected


def test_path_parameter_format(validators: dict[str, RequestValidator]) -> None:
    body = b"materialType=idCard&pageCount=1"
    form = "application/x-www-form-urlencoded"
    validator = validators["addMaterial"]
    ok = run(
        validator,
        path={"applicationId": "0f8fad5b-d9cb-469f-a165-70867728950e"},
        content_type=form,
        body=body,
    )
    assert ok == []
    bad = run(validator, path={"applicationId": "12345"}, content_type=form, body=body)
    assert pairs(bad) == [("/path/applicationId", "must be a UUID")]


def test_integer_and_boolean_path_parameters() -> None:
    validator = inline(
        {
            "parameters": [
                {
                    "name": "id",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "integer", "minimum": 1},
                },
                {"name": "on", "in": "path", "required": True, "schema": {"type": "boolean"}},
            ]
        },
        path="/x/{id}/{on}",
    )
    assert run(validator, path={"id": "7", "on": "true"}) == []
    assert pairs(run(validator, path={"id": "seven", "on": "yes"})) == [
        ("/path/id", "must be an integer"),
        ("/path/on", "must be a boolean (true or false)"),
    ]
    assert pairs(run(validator, path={"id": "0", "on": "FALSE"})) == [
        ("/path/id", "must be at least 1")
    ]


@pytest.mark.parametrize(
    ("query", "headers", "expected"),
    [
        ([("since", "2024-05-01T08:00:00+08:00")], {}, []),
        ([], {}, [("/query/since", "is required")]),
        (
            [("since", "yesterday")],
            {},
            [
                (
                    "/query/since",
                    "must be a date and time (RFC 3339, e.g. 2024-05-01T08:00:00+08:00)",
                )
            ],
        ),
        (
            [("since", "2024-05-01T00:00:00Z"), ("limit", "51")],
            {},
            [("/query/limit", "must be at most 50")],
        ),
        ([("since", "2024-05-01T00:00:00Z"), ("category", "complaint|praise")], {}, []),
        (
            [("since", "2024-05-01T00:00:00Z"), ("category", "complaint|rumour")],
            {},
            [
                (
                    "/query/category/1",
                    'must be one of "complaint", "consultation", "suggestion", "praise"',
                )
            ],
        ),
        (
            [
                ("since", "2024-05-01T00:00:00Z"),
                ("filter[city]", "长沙"),
                ("filter[urgent]", "true"),
            ],
            {},
            [],
        ),
        (
            [("since", "2024-05-01T00:00:00Z"), ("filter[urgent]", "maybe")],
            {},
            [("/query/filter/urgent", "must be a boolean (true or false)")],
        ),
        ([("since", "2024-05-01T00:00:00Z")], {"x-caller-division": "430100"}, []),
        (
            [("since", "2024-05-01T00:00:00Z")],
            {"x-caller-division": "43"},
            [("/header/x-caller-division", r"must match the pattern ^\d{6}$")],
        ),
    ],
)
def test_hotline_list_tickets(
    validators: dict[str, RequestValidator],
    query: list[tuple[str, str]],
    headers: dict[str, str],
    expected: Errors,
) -> None:
    assert pairs(run(validators["listTickets"], query=query, headers=headers)) == expected


@pytest.mark.parametrize(
    ("operation", "path", "query", "expected"),
    [
        (
            "getLicense",
            {"licenseType": "JZZ001", "holderId": ID_NO},
            [("validOn", "2024-05-01")],
            [],
        ),
        (
            "getLicense",
            {"licenseType": "JZZ001", "holderId": ID_NO[:17]},
            [("validOn", "2024-02-30")],
            [
                ("/path/holderId", "must be at least 18 characters long"),
                ("/query/validOn", "must be a date (YYYY-MM-DD)"),
            ],
        ),
        ("listByType", {"licenseType": "JZZ001"}, [("page", "null"), ("verified", "false")], []),
        (
            "listByType",
            {"licenseType": "JZZ001"},
            [("page", "0"), ("verified", "yes")],
            [
                ("/query/page", "must be at least 1"),
                ("/query/verified", "must be a boolean (true or false)"),
            ],
        ),
        (
            "listByType",
            {"licenseType": "JZZ001"},
            [("page", "first")],
            [("/query/page", "must be an integer or null")],
        ),
        ("shebao.getStatus", {"idNo": ID_NO}, [("year", "2024"), ("insurance", "medical")], []),
        (
            "shebao.getStatus",
            {"idNo": ID_NO},
            [("year", "1989"), ("insurance", "dental")],
            [
                ("/query/year", "must be at least 1990"),
                ("/query/insurance", 'must be one of "pension", "medical", "unemployment"'),
            ],
        ),
    ],
)
def test_elicense_and_shebao_parameters(
    validators: dict[str, RequestValidator],
    operation: str,
    path: dict[str, str],
    query: list[tuple[str, str]],
    expected: Errors,
) -> None:
    errors = run(validators[operation], path=path, query=query, headers={"x-verifier": "v"})
    assert pairs(errors) == expected


def test_required_header_of_elicense(validators: dict[str, RequestValidator]) -> None:
    errors = run(validators["getLicense"], path={"licenseType": "JZZ001", "holderId": ID_NO})
    assert pairs(errors) == [("/header/x-verifier", "is required")]


def test_query_and_header_forms() -> None:
    validator = inline(
        {
            "parameters": [
                {"name": "point", "in": "query", "schema": {"$ref": "#/components/schemas/Point"}},
                {
                    "name": "ids",
                    "in": "header",
                    "schema": {"type": "array", "items": {"type": "integer"}},
                },
                {
                    "name": "q",
                    "in": "query",
                    "content": {
                        "application/json": {"schema": {"type": "object", "required": ["k"]}}
                    },
                },
                {
                    "name": "pair",
                    "in": "query",
                    "explode": False,
                    "schema": {"type": "object", "properties": {"a": {"type": "integer"}}},
                },
                {
                    "name": "Content-Type",
                    "in": "header",
                    "required": True,
                    "schema": {"type": "integer"},
                },
                {
                    "name": "Authorization",
                    "in": "header",
                    "required": True,
                    "schema": {"type": "integer"},
                },
                {
                    "name": "session",
                    "in": "cookie",
                    "required": True,
                    "schema": {"type": "integer"},
                },
            ]
        }
    )
    assert run(validator) == []  # nothing required that the gateway validates
    ok = run(
        validator,
        query=[("lat", "28.2"), ("lng", "112.9"), ("q", '{"k": 1}'), ("pair", "a,1")],
        headers={"ids": "1, 2,3"},
    )
    assert ok == []
    bad = run(
        validator,
        query=[("lat", "north"), ("q", "{nope"), ("pair", "a,x")],
        headers={"ids": "1,two"},
    )
    assert pairs(bad) == [
        ("/query/point/lat", "must be a number"),
        ("/header/ids/1", "must be an integer"),
        ("/query/q", "must be valid JSON"),
        ("/query/pair/a", "must be an integer"),
    ]
    assert pairs(run(validator, query=[("q", "{}")])) == [("/query/q/k", "is required")]


# --- JSON bodies --------------------------------------------------------------------------------

APPLICATION = {
    "applicant": {"name": "张三", "idNo": ID_NO},
    "phone": "13800138000",
    "kind": "transfer",
    "parcel": "430102-001",
    "price": None,
}


def submit(
    validators: dict[str, RequestValidator],
    body: Any,
    content_type: str | None = "application/json",
) -> list[FieldError]:
    raw = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode()
    return run(validators["submitApplication"], content_type=content_type, body=raw)


def test_a_valid_json_body(validators: dict[str, RequestValidator]) -> None:
    assert submit(validators, APPLICATION) == []
    assert submit(validators, APPLICATION, "application/json; charset=utf-8") == []


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            lambda b: b.clear(),
            [
                ("/body/applicant", "is required"),
                ("/body/kind", "is required"),
                ("/body/parcel", "is required"),
            ],
        ),
        (
            lambda b: b["applicant"].update(idNo="123"),
            [("/body/applicant/idNo", r"must match the pattern ^\d{17}[\dX]$")],
        ),
        (
            lambda b: b["applicant"].update(share=0),
            [("/body/applicant/share", "must be greater than 0")],
        ),
        (
            lambda b: b.update(kind="gift"),
            [("/body/kind", 'must be one of "transfer", "mortgage", "correction"')],
        ),
        (lambda b: b.update(price="1000"), [("/body/price", "must be an integer or null")]),
        (lambda b: b.update(price=-1), [("/body/price", "must be at least 0")]),
    ],
)
def test_json_body_errors_point_into_the_body(
    validators: dict[str, RequestValidator], change: Any, expected: Errors
) -> None:
    body = json.loads(json.dumps(APPLICATION))
    change(body)
    errors = submit(validators, body)
    assert sorted(pairs(errors)) == sorted(expected)
    assert error_status(errors) == 422


def test_the_same_error_from_two_branches_is_reported_once(
    validators: dict[str, RequestValidator],
) -> None:
    assert pairs(submit(validators, [])) == [("/body", "must be an object")]


@pytest.mark.parametrize(
    ("raw", "detail"),
    [
        (
            b'{"kind": "transfer",',
            "is not valid JSON: Expecting property name enclosed in double quotes at line 1,"
            " column 21",
        ),
        (b"", None),
        (b'{"price": NaN}', "is not valid JSON: NaN is not allowed in JSON"),
        (b"\xff\xfe{}", "is not valid UTF-8 text"),
        (b"[" * 100_000 + b"]" * 100_000, "is nested too deeply to read"),
    ],
)
def test_malformed_json_is_400(
    validators: dict[str, RequestValidator], raw: bytes, detail: str | None
) -> None:
    errors = submit(validators, raw)
    if detail is None:  # empty: the body is required
        assert pairs(errors) == [("/body", "a request body is required")]
        assert error_status(errors) == 422
        return
    assert pairs(errors) == [("/body", detail)]
    assert errors[0].kind == "malformed"
    assert error_status(errors) == 400


@pytest.mark.parametrize(
    ("content_type", "detail"),
    [
        (
            "text/plain",
            "the media type text/plain is not accepted; this operation takes application/json",
        ),
        (
            "application/xml; charset=utf-8",
            "the media type application/xml is not accepted; this operation takes application/json",
        ),
        (None, "a body was sent without a Content-Type; this operation takes application/json"),
    ],
)
def test_an_undeclared_media_type_is_415(
    validators: dict[str, RequestValidator], content_type: str | None, detail: str
) -> None:
    errors = submit(validators, APPLICATION, content_type)
    assert errors == [FieldError("/header/content-type", detail, "unsupported-media-type")]
    assert error_status(errors) == 415


def test_415_wins_over_other_errors(validators: dict[str, RequestValidator]) -> None:
    errors = run(validators["listCertificates"], **LIST_OK, content_type="text/plain", body=b"x")
    assert error_status(errors) is None  # no request body declared: passed on as it is
    errors = run(validators["listTickets"], query=[], content_type=None, body=b"")
    assert error_status(errors) == 422
    errors = run(
        validators["createTicket"], query=[("since", "x")], content_type="text/csv", body=b"a"
    )
    assert error_status(errors) == 415


def test_hotline_ticket_body(validators: dict[str, RequestValidator]) -> None:
    validator = validators["createTicket"]
    ok = {
        "category": "complaint",
        "content": "路灯不亮已经一周",
        "reporter": {"name": "李四", "phone": None},
        "location": {"lat": 28.19, "lng": 112.97},
    }
    body = json.dumps(ok, ensure_ascii=False).encode()
    assert run(validator, content_type="application/json", body=body) == []
    bad = dict(ok, extra=1, content="短", location={"city": 5}, reporter={"phone": "123"})
    errors = run(validator, content_type="application/json", body=json.dumps(bad).encode())
    assert sorted(pairs(errors)) == sorted(
        [
            ("/body/extra", "is not allowed"),
            ("/body/content", "must be at least 5 characters long"),
            ("/body/location/city", "must be a string"),
            ("/body/reporter/name", "is required"),
            ("/body/reporter/phone", r"must match the pattern ^1\d{10}$"),
        ]
    )


def test_merge_patch_json_is_validated_as_json(validators: dict[str, RequestValidator]) -> None:
    validator = validators["updateTicket"]
    path = {"ticketId": "T202405010001"}
    ct = "application/merge-patch+json"
    assert (
        run(validator, path=path, content_type=ct, body=b'{"state": "closed", "reply": null}') == []
    )
    assert pairs(run(validator, path=path, content_type=ct, body=b'{"state": "reopened"}')) == [
        ("/body/state", 'must be one of "open", "closed"')
    ]
    assert run(validator, path=path) == []  # the body is optional
    assert pairs(run(validator, path={"ticketId": "123"})) == [
        ("/path/ticketId", r"must match the pattern ^T\d{12}$")
    ]


# --- form bodies --------------------------------------------------------------------------------

FORM = "application/x-www-form-urlencoded"
APP_ID = {"applicationId": "0f8fad5b-d9cb-469f-a165-70867728950e"}


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            b"materialType=idCard&pageCount=3&urgent=true&copies=1&copies=2&receivedOn=2024-05-01&notes=",
            [],
        ),
        (b"materialType=contract&pageCount=200&unknown=kept", []),
        (b"materialType=idCard&pageCount=three", [("/body/pageCount", "must be an integer")]),
        (b"pageCount=3", [("/body/materialType", "is required")]),
        (b"materialType=idCard&pageCount=0", [("/body/pageCount", "must be at least 1")]),
        (
            b"materialType=idCard&pageCount=3&urgent=maybe",
            [("/body/urgent", "must be a boolean (true or false)")],
        ),
        (
            b"materialType=idCard&pageCount=3&copies=0&copies=x",
            [("/body/copies/1", "must be an integer"), ("/body/copies/0", "must be at least 1")],
        ),
        (
            b"materialType=idCard&pageCount=3&pageCount=4",
            [("/body/pageCount", "must be given only once")],
        ),
        (
            b"materialType=idCard&pageCount=3&receivedOn=2024-13-01",
            [("/body/receivedOn", "must be a date (YYYY-MM-DD)")],
        ),
        (
            b"materialType=%E8%BA%AB%E4%BB%BD%E8%AF%81&pageCount=3",
            [("/body/materialType", 'must be one of "idCard", "contract", "taxReceipt"')],
        ),
    ],
)
def test_form_bodies_are_converted_then_validated(
    validators: dict[str, RequestValidator], body: bytes, expected: Errors
) -> None:
    errors = run(validators["addMaterial"], path=APP_ID, content_type=FORM, body=body)
    assert pairs(errors) == expected


def test_form_body_not_utf8_is_malformed(validators: dict[str, RequestValidator]) -> None:
    errors = run(validators["addMaterial"], path=APP_ID, content_type=FORM, body=b"notes=\xff")
    assert pairs(errors) == [("/body", "is not valid UTF-8 text")]
    assert error_status(errors) == 400


def test_exclusive_minimum_of_openapi_30_in_a_form(validators: dict[str, RequestValidator]) -> None:
    validator = validators["payContribution"]
    assert run(validator, content_type=FORM, body=b"idNo=1&amount=120.5&months=2024-04") == []
    errors = run(validator, content_type=FORM, body=b"idNo=1&amount=0&months=2024-4")
    assert pairs(errors) == [
        ("/body/amount", "must be greater than 0"),
        ("/body/months/0", r"must match the pattern ^\d{4}-\d{2}$"),
    ]


def test_multipart_and_other_media_types_pass_unvalidated(
    validators: dict[str, RequestValidator],
) -> None:
    errors = run(
        validators["addMaterial"],
        path=APP_ID,
        content_type="multipart/form-data; boundary=xyz",
        body=b"--xyz\r\nnot checked\r\n--xyz--",
    )
    assert errors == []
    xml = run(validators["verifyPresentation"], content_type="application/xml", body=b"<p/>")
    assert xml == []
    json_errors = run(validators["verifyPresentation"], content_type="application/json", body=b"{}")
    assert pairs(json_errors) == [("/body/presentation", "is required")]


# --- the rest -----------------------------------------------------------------------------------


def test_declares_body_and_media_types(validators: dict[str, RequestValidator]) -> None:
    assert validators["submitApplication"].declares_body
    assert validators["submitApplication"].media_types == ("application/json",)
    assert validators["addMaterial"].media_types == (
        "application/x-www-form-urlencoded",
        "multipart/form-data",
    )
    assert not validators["listCertificates"].declares_body
    assert validators["listCertificates"].media_types == ()


def test_errors_are_capped() -> None:
    validator = inline(
        {
            "requestBody": {
                "content": {
                    "application/json": {"schema": {"type": "array", "items": {"type": "integer"}}}
                }
            },
        }
    )
    errors = run(validator, content_type="application/json", body=json.dumps(["x"] * 120).encode())
    assert len(errors) == MAX_REQUEST_ERRORS
    assert errors[0] == FieldError("/body/0", "must be an integer")


@pytest.mark.parametrize(
    ("kinds", "status"),
    [
        ([], None),
        (["invalid"], 422),
        (["invalid", "malformed"], 400),
        (["malformed", "unsupported-media-type", "invalid"], 415),
    ],
)
def test_error_status(kinds: list[Any], status: int | None) -> None:
    assert error_status([FieldError("/body", "x", kind) for kind in kinds]) == status


@pytest.mark.parametrize(
    ("content_type", "kind"),
    [
        ("application/json", "json"),
        ("Application/JSON; charset=utf-8", "json"),
        ("application/problem+json", "json"),
        ("application/vnd.api+json", "json"),
        ("text/json", "json"),
        ("application/x-www-form-urlencoded", "form"),
        ("multipart/form-data; boundary=x", "multipart"),
        ("application/xml", "other"),
        ("text/plain", "other"),
        ("*/*", "other"),
        (None, "other"),
        ("", "other"),
    ],
)
def test_body_kind(content_type: str | None, kind: str) -> None:
    assert body_kind(content_type) == kind


@pytest.mark.parametrize(
    ("content_type", "declared", "expected"),
    [
        ("application/json", ["application/json"], "application/json"),
        ("application/json; charset=utf-8", ["Application/JSON"], "Application/JSON"),
        ("image/png", ["image/*", "*/*"], "image/*"),
        ("text/csv", ["image/*", "*/*"], "*/*"),
        ("text/csv", ["application/json"], None),
        (None, ["*/*"], None),
        ("garbage", ["*/*"], None),
    ],
)
def test_match_media_type(
    content_type: str | None, declared: list[str], expected: str | None
) -> None:
    assert match_media_type(content_type, declared) == expected


def test_field_errors_as_problem_entries() -> None:
    assert FieldError("/query/limit", "must be at most 100").as_dict() == {
        "pointer": "/query/limit",
        "detail": "must be at most 100",
    }


def test_wildcard_media_types_accept_and_validate_json() -> None:
    validator = inline(
        {"requestBody": {"required": True, "content": {"*/*": {"schema": {"type": "object"}}}}}
    )
    assert run(validator, content_type="text/plain", body=b"anything") == []
    assert pairs(run(validator, content_type="application/json", body=b"[]")) == [
        ("/body", "must be an object")
    ]


# --- audit regressions --------------------------------------------------------------------------

JSON = "application/json"
NONE_OF_ONE = "matches none of the allowed forms; it must match exactly one"


def compiled(schema: dict[str, Any], version: str, schemas: dict[str, Any]) -> RequestValidator:
    """A validator for a POST whose JSON body has ``schema``, with these component schemas."""
    document = {
        "openapi": version,
        "info": {"title": "t", "version": "1"},
        "paths": {
            "/x": {
                "post": {
                    "operationId": "op",
                    "requestBody": {"required": True, "content": {JSON: {"schema": schema}}},
                    "responses": {"200": {"description": "ok"}},
                }
            }
        },
        "components": {"schemas": schemas},
    }
    analysis = analyse(document)
    assert analysis.problems == [], analysis.problems
    assert analysis.version is not None
    return compile_validator(document, analysis.operations[0], analysis.version)


def _kind(name: str) -> dict[str, Any]:
    return {"type": "string", "enum": [name]}


PAYMENT_SCHEMAS: dict[str, Any] = {
    "Card": {
        "type": "object",
        "required": ["type", "number"],
        "properties": {"type": _kind("card"), "number": {"type": "string"}},
    },
    "Bank": {
        "type": "object",
        "required": ["type", "iban"],
        "properties": {"type": _kind("bank"), "iban": {"type": "string"}},
    },
    # Not an alternative: openapi-schema-validator used to validate {"type": "address"} against it.
    "address": {"type": "object", "properties": {"city": {"type": "string"}}},
}
PAYMENT = {
    "oneOf": [{"$ref": "#/components/schemas/Card"}, {"$ref": "#/components/schemas/Bank"}],
    "discriminator": {
        "propertyName": "type",
        "mapping": {"card": "#/components/schemas/Card", "bank": "#/components/schemas/Bank"},
    },
}


@pytest.mark.parametrize("version", ["3.0.3", "3.1.0"])
@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"type": "card", "number": "4111"}, []),
        ({"type": "bank", "iban": "DE89"}, []),
        ({"type": "card"}, [("/body/number", "is required")]),
        ({"type": "bank", "iban": 7}, [("/body/iban", "must be a string")]),
        ({"type": []}, [("/body", NONE_OF_ONE)]),  # was a TypeError (a 500)
        ({"type": [1]}, [("/body", NONE_OF_ONE)]),
        ({"type": {"a": 1}}, [("/body", NONE_OF_ONE)]),
        ({"type": "address", "city": "x"}, [("/body", NONE_OF_ONE)]),  # was accepted
        ({"type": "crypto"}, [("/body", NONE_OF_ONE)]),  # was "matches more than one"
        ({}, [("/body", NONE_OF_ONE)]),  # was "matches more than one"
        ([], [("/body", "must be an object")]),
    ],
)
def test_a_discriminator_is_only_a_hint(version: str, body: Any, expected: Errors) -> None:
    validator = compiled(PAYMENT, version, PAYMENT_SCHEMAS)
    raw = json.dumps(body).encode()
    assert pairs(run(validator, content_type=JSON, body=raw)) == expected


@pytest.mark.parametrize("version", ["3.0.3", "3.1.0"])
def test_none_and_more_than_one_of_the_allowed_forms(version: str) -> None:
    both = compiled({"oneOf": [{"type": "object"}, {"required": ["a"]}]}, version, {})
    assert pairs(run(both, content_type=JSON, body=b'{"a": 1}')) == [
        ("/body", "matches more than one of the allowed forms; it must match exactly one")
    ]
    assert run(both, content_type=JSON, body=b'{"b": 1}') == []
    either = compiled(
        {"anyOf": [{"type": "string", "minLength": 2}, {"type": "integer", "minimum": 5}]},
        version,
        {},
    )
    assert run(either, content_type=JSON, body=b'"xy"') == []
    assert pairs(run(either, content_type=JSON, body=b'"x"')) == [
        ("/body", "matches none of the allowed forms; it must match at least one")
    ]


@pytest.mark.parametrize("version", ["3.0.3", "3.1.0"])
@pytest.mark.parametrize("combinator", ["oneOf", "anyOf"])
def test_alternatives_of_other_types_are_named_together(version: str, combinator: str) -> None:
    schema = {
        "type": "object",
        "properties": {
            "v": {combinator: [{"type": "string"}, {"type": "integer"}, {"type": "boolean"}]}
        },
    }
    validator = compiled(schema, version, {})
    assert run(validator, content_type=JSON, body=b'{"v": 1}') == []
    assert pairs(run(validator, content_type=JSON, body=b'{"v": [1]}')) == [
        ("/body/v", "must be a string, an integer or a boolean (true or false)")
    ]


def test_a_failing_schema_validator_is_a_field_error(monkeypatch: pytest.MonkeyPatch) -> None:
    validator = compiled(PAYMENT, "3.0.3", PAYMENT_SCHEMAS)
    schema_validator = validator._bodies[JSON].schema.validator
    assert schema_validator is not None

    def broken(self: Any, instance: Any, _schema: Any = None) -> Any:
        raise TypeError("unhashable type: 'list'")

    monkeypatch.setattr(type(schema_validator), "iter_errors", broken)
    errors = run(validator, content_type=JSON, body=b'{"type": "card", "number": "1"}')
    assert errors == [FieldError("/body", "could not be validated against the schema")]
    assert error_status(errors) == 422


def test_any_failure_while_validating_is_a_field_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import app.services.openapi.validation as validation

    def broken(*args: Any) -> Any:
        raise RuntimeError("a bug")

    validator = compiled(PAYMENT, "3.1.0", PAYMENT_SCHEMAS)
    monkeypatch.setattr(validation, "match_media_type", broken)
    errors = run(validator, content_type=JSON, body=b"{}")
    assert errors == [FieldError("", "could not be validated against the schema")]


DUPLICATE = 'has the key "id" more than once; each key may be given only once'


@pytest.mark.parametrize(
    "raw",
    [
        b'{"id":"evil","name":"a","id":1}',
        b'{"id":1,"name":"a","id":"evil"}',
        b'{"name":"a","id":1,"tags":[{"id":1,"id":2}]}',
    ],
)
def test_a_json_body_with_a_key_given_twice_is_malformed(raw: bytes) -> None:
    schema = {
        "type": "object",
        "properties": {"id": {"type": "integer"}, "name": {"type": "string"}},
    }
    validator = compiled(schema, "3.1.0", {})
    errors = run(validator, content_type=JSON, body=raw)
    assert errors == [FieldError("/body", DUPLICATE, "malformed")]
    assert error_status(errors) == 400
    assert run(validator, content_type=JSON, body=b'{"id":1,"name":"a"}') == []


def test_a_json_parameter_with_a_key_given_twice_is_invalid() -> None:
    validator = inline(
        {
            "parameters": [
                {"name": "q", "in": "query", "content": {JSON: {"schema": {"type": "object"}}}}
            ]
        }
    )
    assert run(validator, query=[("q", '{"id": 1}')]) == []
    assert pairs(run(validator, query=[("q", '{"id": 1, "id": 2}')])) == [("/query/q", DUPLICATE)]


def test_undeclared_form_fields_may_repeat(validators: dict[str, RequestValidator]) -> None:
    body = b"materialType=idCard&pageCount=3&unknown=a&unknown=b&unknown=c"
    assert run(validators["addMaterial"], path=APP_ID, content_type=FORM, body=body) == []


@pytest.mark.parametrize(
    ("additional", "body", "expected"),
    [
        (True, b"name=a&extra=1&extra=2", []),
        ({"type": "array", "items": {"type": "string"}}, b"name=a&extra=1&extra=2", []),
        ({"type": "string"}, b"name=a&extra=1", []),
        ({"type": "string"}, b"name=a&extra=1&extra=2", [("/body/extra", "must be a string")]),
        (False, b"name=a&extra=1&extra=2", [("/body/extra", "is not allowed")]),
        (True, b"name=a&name=b", [("/body/name", "must be given only once")]),
    ],
)
def test_repeated_form_fields(additional: Any, body: bytes, expected: Errors) -> None:
    document_schema = {
        "type": "object",
        "properties": {"name": {"type": "string"}},
        "additionalProperties": additional,
    }
    document = {
        "openapi": "3.1.0",
        "info": {"title": "t", "version": "1"},
        "paths": {
            "/x": {
                "post": {
                    "operationId": "op",
                    "requestBody": {"content": {FORM: {"schema": document_schema}}},
                    "responses": {"200": {"description": "ok"}},
                }
            }
        },
    }
    analysis = analyse(document)
    assert analysis.problems == []
    assert analysis.version is not None
    validator = compile_validator(document, analysis.operations[0], analysis.version)
    assert pairs(run(validator, content_type=FORM, body=body)) == expected
