"""analyse: every problem at once with its pointer, warnings, servers and the operations."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest

from app.services.openapi import (
    MAX_PROBLEMS,
    DocProblem,
    OperationSpec,
    ParameterSpec,
    analyse,
    generated_operation_id,
    parse_document,
)
from tests.services.openapi.conftest import SERVICES, analysed

Doc = dict[str, Any]
VERSIONS = ["3.0.3", "3.1.0"]


def base(version: str = "3.1.0") -> Doc:
    return {
        "openapi": version,
        "info": {"title": "宠物", "version": "1"},
        "paths": {
            "/pets/{petId}": {
                "parameters": [
                    {"name": "petId", "in": "path", "required": True, "schema": {"type": "integer"}}
                ],
                "get": {
                    "operationId": "getPet",
                    "responses": {
                        "200": {
                            "description": "ok",
                            "content": {
                                "application/json": {"schema": {"$ref": "#/components/schemas/Pet"}}
                            },
                        }
                    },
                },
            },
            "/pets": {
                "post": {
                    "operationId": "addPet",
                    "requestBody": {
                        "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/Pet"}}
                        }
                    },
                    "responses": {"201": {"description": "created"}},
                }
            },
        },
        "components": {
            "schemas": {"Pet": {"type": "object", "properties": {"name": {"type": "string"}}}}
        },
    }


def problems_of(document: Doc) -> list[DocProblem]:
    return analyse(document).problems


@pytest.mark.parametrize("version", VERSIONS)
def test_a_clean_document(version: str) -> None:
    analysis = analyse(base(version))
    assert analysis.problems == []
    assert analysis.warnings == []
    assert analysis.ok
    assert analysis.version == version[:3]
    assert analysis.servers == []
    assert [(op.method, op.path, op.operation_id) for op in analysis.operations] == [
        ("GET", "/pets/{petId}", "getPet"),
        ("POST", "/pets", "addPet"),
    ]


# --- the sample documents -----------------------------------------------------------------------


@pytest.mark.parametrize("name", [s[0] for s in SERVICES])
def test_the_sample_documents_have_no_problems(name: str) -> None:
    _, analysis = analysed(name)
    assert analysis.problems == []


def test_bdc_sample() -> None:
    _, analysis = analysed("bdc-changsha-3.0.yaml")
    assert analysis.version == "3.0"
    assert analysis.servers == ["https://prod.bdc.changsha.gov.cn/api/v2", "/bdc"]
    assert analysis.warnings == [
        DocProblem(
            "/security",
            "The document declares security requirements; the gateway authenticates callers"
            " itself and does not pass their credentials on.",
        ),
        DocProblem(
            "/paths/~1applications~1{applicationId}~1materials/post/requestBody/content/"
            "multipart~1form-data",
            "Request bodies of type multipart/form-data are passed to the service without"
            " validation; the gateway validates JSON and form-encoded bodies only.",
        ),
        DocProblem(
            "/paths/~1health/get",
            "GET /health has no operationId; the gateway names it 'get_health'.",
        ),
    ]
    ops = {op.operation_id: op for op in analysis.operations}
    assert list(ops) == [
        "listCertificates",
        "getCertificate",
        "submitApplication",
        "addMaterial",
        "getStatus",
        "get_health",
    ]
    health = ops["get_health"]
    assert health.generated_id
    assert not ops["getStatus"].generated_id
    assert health.pointer == "/paths/~1health/get"

    listing = ops["listCertificates"]
    assert listing.item_code == "11430100MB1574587X4430111001"
    assert listing.summary == "按权利人查询不动产权证书"
    assert listing.tags == ("certificates",)
    assert listing.responses == ("200", "400", "default")
    assert [(p.location, p.name, p.required) for p in listing.parameters] == [
        ("header", "x-trace-id", True),  # header names are lower-case
        ("query", "pageSize", False),
        ("query", "page", False),
        ("query", "ownerIdNo", True),
        ("query", "status", False),
        ("query", "district", False),
    ]
    trace = listing.parameter("header", "x-trace-id")
    assert trace is not None
    assert trace.pointer == "/paths/~1certificates/get/parameters/0"  # where it is used
    assert trace.schema_pointer == "/components/parameters/TraceId/schema"  # where it is
    status = listing.parameter("query", "status")
    assert status is not None
    assert (status.style, status.explode) == ("form", False)
    district = listing.parameter("query", "district")
    assert district is not None
    assert (district.style, district.explode) == ("form", True)

    certificate = ops["getCertificate"]
    cert_no = certificate.parameter("path", "certNo")
    assert cert_no is not None
    assert cert_no.pointer == "/paths/~1certificates~1{certNo}/parameters/0"  # path level
    assert certificate.responses == ("200", "404")

    submit = ops["submitApplication"]
    assert submit.request_body is not None
    assert submit.request_body.required
    assert submit.request_body.pointer == "/paths/~1applications/post/requestBody"
    (json_body,) = submit.request_body.content
    assert (json_body.media_type, json_body.kind) == ("application/json", "json")
    assert json_body.schema_pointer == (
        "/components/requestBodies/Application/content/application~1json/schema"
    )

    material = ops["addMaterial"]
    assert material.request_body is not None
    assert [(m.media_type, m.kind) for m in material.request_body.content] == [
        ("application/x-www-form-urlencoded", "form"),
        ("multipart/form-data", "multipart"),
    ]
    assert material.item_code is None


def test_elicense_sample_warnings_and_servers() -> None:
    _, analysis = analysed("elicense-hunan-3.1.yaml")
    assert analysis.servers == ["https://dzzz.hunan.gov.cn:8443/elicense"]
    assert analysis.warnings == [
        DocProblem(
            "/paths/~1licenses~1{licenseType}/get/responses",
            "GET /licenses/{licenseType} documents no successful (2xx) response.",
        ),
        DocProblem(
            "/paths/~1verifications/post/requestBody/content/application~1xml",
            "Request bodies of type application/xml are passed to the service without"
            " validation; the gateway validates JSON and form-encoded bodies only.",
        ),
        DocProblem(
            "/paths/~1status/get/security",
            "GET /status declares security requirements; the gateway authenticates callers"
            " itself and does not pass their credentials on.",
        ),
    ]


def test_operation_level_parameters_win_over_path_level() -> None:
    document = base()
    item = document["paths"]["/pets/{petId}"]
    item["parameters"].append({"name": "lang", "in": "query", "schema": {"type": "string"}})
    item["get"]["parameters"] = [
        {"name": "lang", "in": "query", "required": True, "schema": {"enum": ["zh", "en"]}},
        {"name": "lang", "in": "header", "schema": {"type": "string"}},
    ]
    analysis = analyse(document)
    assert analysis.problems == []
    (get,) = [op for op in analysis.operations if op.method == "GET"]
    lang = get.parameter("query", "lang")
    assert lang is not None
    assert lang.required
    assert lang.pointer == "/paths/~1pets~1{petId}/get/parameters/0"
    assert [(p.location, p.name) for p in get.parameters] == [
        ("path", "petId"),
        ("query", "lang"),
        ("header", "lang"),
    ]


def test_operation_spec_is_frozen_and_hashable() -> None:
    analysis = analyse(base())
    op = analysis.operations[0]
    assert isinstance(op, OperationSpec)
    assert isinstance(op.parameters[0], ParameterSpec)
    assert len({op, analysis.operations[1]}) == 2
    with pytest.raises(AttributeError):
        op.method = "PUT"  # type: ignore[misc]


# --- operation ids ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "expected"),
    [
        ("GET", "/pets/{id}", "get_pets_id"),
        ("post", "/v1/pets/{pet-id}/photos", "post_v1_pets_pet_id_photos"),
        ("DELETE", "/", "delete"),
        ("GET", "/证照/{licenseType}", "get_licenseType".lower()),
    ],
)
def test_generated_operation_ids(method: str, path: str, expected: str) -> None:
    assert generated_operation_id(method, path) == expected


def test_generated_ids_are_unique_and_never_take_a_documents_id() -> None:
    document = base()
    document["paths"]["/pets"]["get"] = {"responses": {"200": {"description": "ok"}}}
    document["paths"]["/pets/{petId}"]["get"]["operationId"] = "get_pets"
    document["paths"]["/pets/"] = {"get": {"responses": {"200": {"description": "ok"}}}}
    analysis = analyse(document)
    assert analysis.problems == []
    ids = {(op.method, op.path): (op.operation_id, op.generated_id) for op in analysis.operations}
    assert ids[("GET", "/pets/{petId}")] == ("get_pets", False)
    assert ids[("GET", "/pets")] == ("get_pets_2", True)
    assert ids[("GET", "/pets/")] == ("get_pets_3", True)
    assert (
        DocProblem(
            "/paths/~1pets/get", "GET /pets has no operationId; the gateway names it 'get_pets_2'."
        )
        in analysis.warnings
    )


# --- problems, one kind at a time ---------------------------------------------------------------

Mutation = Callable[[Doc], None]


def _remote_schema(doc: Doc) -> None:
    doc["components"]["schemas"]["Pet"]["properties"]["owner"] = {
        "$ref": "https://schemas.example.com/owner.json#/Owner"
    }


def _file_schema(doc: Doc) -> None:
    doc["paths"]["/pets"]["post"]["requestBody"] = {"$ref": "common.yaml#/requestBodies/Pet"}


def _unresolvable(doc: Doc) -> None:
    doc["paths"]["/pets/{petId}"]["get"]["responses"]["200"]["content"]["application/json"][
        "schema"
    ] = {"$ref": "#/components/schemas/Pett"}


def _duplicate_ids(doc: Doc) -> None:
    doc["paths"]["/pets"]["post"]["operationId"] = "getPet"


def _undeclared_template(doc: Doc) -> None:
    doc["paths"]["/pets/{petId}"]["parameters"] = []


def _not_in_template(doc: Doc) -> None:
    doc["paths"]["/pets"]["post"]["parameters"] = [
        {"name": "petId", "in": "path", "required": True, "schema": {"type": "integer"}}
    ]


def _bad_item(value: Any) -> Mutation:
    def mutate(doc: Doc) -> None:
        doc["paths"]["/pets"]["post"]["x-xyb-item"] = value

    return mutate


def _server_variable(doc: Doc) -> None:
    doc["servers"] = [
        {"url": "https://{region}.example.com/{base}", "variables": {"base": {"default": "v1"}}}
    ]


def _same_route(doc: Doc) -> None:
    doc["paths"]["/pets/{id}"] = {
        "parameters": [
            {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}
        ],
        "delete": {"operationId": "deletePet", "responses": {"204": {"description": "gone"}}},
    }


def _duplicate_parameter(doc: Doc) -> None:
    doc["paths"]["/pets/{petId}"]["get"]["parameters"] = [
        {"name": "q", "in": "query", "schema": {"type": "string"}},
        {"name": "q", "in": "query", "schema": {"type": "integer"}},
    ]


def _ref_cycle(doc: Doc) -> None:
    doc["components"]["schemas"]["A"] = {"allOf": [{"$ref": "#/components/schemas/B"}]}
    doc["components"]["schemas"]["B"] = {"$ref": "#/components/schemas/A"}


def _missing_info_version(doc: Doc) -> None:
    del doc["info"]["version"]


def _unknown_field(doc: Doc) -> None:
    doc["paths"]["/pets"]["post"]["summry"] = "typo"


def _bad_status_code(doc: Doc) -> None:
    doc["paths"]["/pets"]["post"]["responses"]["2xx"] = {"description": "lower-case range"}


def _missing_in(doc: Doc) -> None:
    doc["paths"]["/pets/{petId}"]["get"]["parameters"] = [
        {"name": "q", "schema": {"type": "string"}}
    ]


PET_GET = "/paths/~1pets~1{petId}/get"
PETS_POST = "/paths/~1pets/post"
ITEM_RULE = (
    "x-xyb-item must be the service item's code, a non-empty string of at most 64 characters;"
)

CASES: list[tuple[str, Mutation, list[DocProblem]]] = [
    (
        "remote $ref",
        _remote_schema,
        [
            DocProblem(
                "/components/schemas/Pet/properties/owner/$ref",
                "The $ref 'https://schemas.example.com/owner.json#/Owner' points outside this"
                " document; remote and file references are not followed. Put the definition"
                " under components and refer to it with '#/components/...'.",
            )
        ],
    ),
    (
        "file $ref",
        _file_schema,
        [
            DocProblem(
                f"{PETS_POST}/requestBody/$ref",
                "The $ref 'common.yaml#/requestBodies/Pet' points outside this document; remote"
                " and file references are not followed. Put the definition under components and"
                " refer to it with '#/components/...'.",
            )
        ],
    ),
    (
        "unresolvable $ref",
        _unresolvable,
        [
            DocProblem(
                f"{PET_GET}/responses/200/content/application~1json/schema/$ref",
                "The $ref '#/components/schemas/Pett' does not resolve to anything in this"
                " document.",
            )
        ],
    ),
    (
        "duplicate operationId",
        _duplicate_ids,
        [
            DocProblem(
                f"{PET_GET}/operationId",
                "The operationId 'getPet' is also used by POST /pets; operationIds must be unique.",
            ),
            DocProblem(
                f"{PETS_POST}/operationId",
                "The operationId 'getPet' is also used by GET /pets/{petId}; operationIds must"
                " be unique.",
            ),
        ],
    ),
    (
        "template parameter not declared",
        _undeclared_template,
        [
            DocProblem(
                PET_GET,
                "The path template /pets/{petId} has {petId}, but GET declares no path parameter"
                " 'petId' (in: path) at the path or operation level.",
            )
        ],
    ),
    (
        "path parameter not in the template",
        _not_in_template,
        [
            DocProblem(
                f"{PETS_POST}/parameters/0",
                "The path parameter 'petId' is not in the path template /pets.",
            )
        ],
    ),
    (
        "x-xyb-item a number",
        _bad_item(430100001),
        [DocProblem(f"{PETS_POST}/x-xyb-item", f"{ITEM_RULE} it is a number (quote it in YAML).")],
    ),
    (
        "x-xyb-item empty",
        _bad_item("  "),
        [DocProblem(f"{PETS_POST}/x-xyb-item", f"{ITEM_RULE} it is empty.")],
    ),
    (
        "x-xyb-item too long",
        _bad_item("X" * 65),
        [DocProblem(f"{PETS_POST}/x-xyb-item", f"{ITEM_RULE} it is 65 characters long.")],
    ),
    (
        "server variable without a definition",
        _server_variable,
        [
            DocProblem(
                "/servers/0/url",
                "The server URL uses {region}, but the server defines no variable 'region' with"
                " a default.",
            )
        ],
    ),
    (
        "two paths for the same route",
        _same_route,
        [
            DocProblem(
                "/paths/~1pets~1{id}",
                "The path /pets/{id} matches the same requests as /pets/{petId}; only the names"
                " of their parameters differ.",
            )
        ],
    ),
    (
        "a parameter declared twice",
        _duplicate_parameter,
        [
            DocProblem(
                f"{PET_GET}/parameters/1",
                f"The query parameter 'q' is declared twice at this level (first at"
                f" {PET_GET}/parameters/0).",
            )
        ],
    ),
    (
        "a $ref cycle that never ends",
        _ref_cycle,
        [
            DocProblem(
                "/components/schemas/A/allOf/0/$ref",
                "The $ref '#/components/schemas/B' leads back to itself without describing any"
                " nested value (/components/schemas/A/allOf/0 → /components/schemas/B →"
                " /components/schemas/A/allOf/0), so validating against it would never end.",
            )
        ],
    ),
    (
        "spec: a required field missing",
        _missing_info_version,
        [DocProblem("/info", "The required field 'version' is missing.")],
    ),
    (
        "spec: an unknown field",
        _unknown_field,
        [
            DocProblem(
                f"{PETS_POST}/summry",
                "The field 'summry' is not allowed here; fields that are not in the"
                " specification must start with 'x-'.",
            )
        ],
    ),
    (
        "spec: a bad status code",
        _bad_status_code,
        [
            DocProblem(
                f"{PETS_POST}/responses/2xx",
                "'2xx' is not a response status code; use a code such as 200, a range such as"
                " 2XX, or default.",
            )
        ],
    ),
    (
        "spec: a parameter without in",
        _missing_in,
        [DocProblem(f"{PET_GET}/parameters/0", "The required field 'in' is missing.")],
    ),
]


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize(("mutate", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_each_problem_with_its_pointer(
    version: str, mutate: Mutation, expected: list[DocProblem]
) -> None:
    document = base(version)
    mutate(document)
    assert problems_of(document) == expected


@pytest.mark.parametrize(
    ("version", "schema", "expected"),
    [
        (
            "3.0.3",
            {"type": "strin"},
            DocProblem(
                "/components/schemas/Pet/type",
                """'type' must be one of "array", "boolean", "integer", "number", "object","""
                """ "string", not "strin".""",
            ),
        ),
        (
            "3.1.0",
            {"type": "strin"},
            DocProblem(
                "/components/schemas/Pet/type",
                """'type' must be one of "array", "boolean", "integer", "null", "number","""
                """ "object", "string", not "strin".""",
            ),
        ),
        (
            "3.1.0",
            {"type": "object", "properties": {"n": {"type": "integer", "minimum": "1"}}},
            DocProblem(
                "/components/schemas/Pet/properties/n/minimum",
                "'minimum' must be a number, not a string.",
            ),
        ),
        (
            "3.0.3",
            {"type": "integer", "default": "one"},
            DocProblem("/components/schemas/Pet/default", "The default value must be an integer."),
        ),
    ],
)
def test_schema_problems_found_by_the_spec_validator(
    version: str, schema: Doc, expected: DocProblem
) -> None:
    document = base(version)
    document["components"]["schemas"]["Pet"] = schema
    assert problems_of(document) == [expected]


def test_schema_problems_in_operations_are_located_there() -> None:
    document = base("3.1.0")
    document["paths"]["/pets"]["post"]["requestBody"]["content"]["application/json"] = {
        "schema": {"type": "object", "properties": {"age": {"type": "int"}}}
    }
    problems = problems_of(document)
    assert [p.pointer for p in problems] == [
        "/paths/~1pets/post/requestBody/content/application~1json/schema/properties/age/type"
    ]


def test_all_problems_are_reported_at_once() -> None:
    raw = """openapi: 3.0.3
info:
  title: 四个问题
paths:
  /licenses/{licenseNo}:
    get:
      operationId: getLicense
      x-xyb-item: 430100
      responses:
        200:
          description: ok
          content:
            application/json:
              schema:
                $ref: 'https://dzzz.example.com/schemas/license.json'
  /holders:
    get:
      operationId: getLicense
      responses:
        200:
          description: ok
          content:
            application/json:
              schema:
                $ref: '#/components/schemas/Holder'
"""
    analysis = analyse(parse_document(raw.encode()))
    pointers = [p.pointer for p in analysis.problems]
    assert pointers == [
        "/paths/~1licenses~1{licenseNo}/get/responses/200/content/application~1json/schema/$ref",
        "/paths/~1holders/get/responses/200/content/application~1json/schema/$ref",
        "/paths/~1licenses~1{licenseNo}/get",
        "/paths/~1licenses~1{licenseNo}/get/x-xyb-item",
        "/paths/~1licenses~1{licenseNo}/get/operationId",
        "/paths/~1holders/get/operationId",
        "/info",
    ]
    messages = " ".join(p.message for p in analysis.problems)
    for fragment in (
        "points outside this document",
        "does not resolve to anything",
        "declares no path parameter 'licenseNo'",
        "x-xyb-item must be",
        "operationIds must be unique",
        "The required field 'version' is missing.",
    ):
        assert fragment in messages


def test_problems_are_capped_with_a_count_of_the_rest() -> None:
    document = base("3.0.3")
    for i in range(300):  # in 3.0 every operation must have responses
        document["paths"][f"/things{i}"] = {"get": {"operationId": f"get{i}"}}
    problems = problems_of(document)
    assert len(problems) == MAX_PROBLEMS + 1
    assert problems[0] == DocProblem(
        "/paths/~1things0/get", "The required field 'responses' is missing."
    )
    assert problems[-1] == DocProblem("", "… and 100 more problems not listed here.")


def test_each_distinct_problem_once() -> None:
    document = base("3.1.0")
    ref = {"$ref": "http://example.com/pet.json"}
    document["paths"]["/pets/{petId}"]["parameters"].append(
        {"name": "petId", "in": "path", "required": True, "schema": {"type": "integer"}}
    )
    document["components"]["schemas"]["Pet"]["properties"]["a"] = ref
    problems = problems_of(document)
    assert len(problems) == len(set(problems)) == 2


def test_the_version_problem_stops_the_analysis() -> None:
    analysis = analyse({"swagger": "2.0", "paths": {"/a": {}}})
    assert analysis.version is None
    assert [p.pointer for p in analysis.problems] == ["/swagger"]
    assert analysis.operations == []


@pytest.mark.parametrize(
    "mutate",
    [
        lambda d: d.update(paths=[]),
        lambda d: d.update(paths={"/a": 5, "/b": {"get": 3}, "/c": {"get": {"parameters": 7}}}),
        lambda d: d.update(components="x"),
        lambda d: d["components"].update(schemas=[1], parameters={"p": 2}, responses=[]),
        lambda d: d["paths"]["/pets"]["post"].update(requestBody=[], responses=[], tags="x"),
        lambda d: d["paths"]["/pets"]["post"].update(parameters=[None, 1, {"$ref": 5}]),
        lambda d: d["paths"]["/pets"]["post"]["requestBody"].update(content={"a/b": 1}),
        lambda d: d.update(servers=[1, {"url": 2}, {"url": "/{x}", "variables": []}]),
        lambda d: d["paths"].update({"/{a}/{a}/{": {"$ref": "#/paths/~1pets"}}),
        lambda d: d["paths"].update({"/x": {"$ref": "#/paths/~1x"}}),
        lambda d: d["components"]["schemas"].update(A={"$ref": "#/components/schemas/A"}),
        lambda d: d["components"]["schemas"].update(
            T={"allOf": [{"items": {"$ref": "#/components/schemas/T"}}]}
        ),
    ],
)
@pytest.mark.parametrize("version", VERSIONS)
def test_junk_is_reported_never_raised(version: str, mutate: Mutation) -> None:
    document = base(version)
    mutate(document)
    before = json.dumps(document, sort_keys=True)
    analysis = analyse(document)
    assert json.dumps(document, sort_keys=True) == before  # the document is not changed
    assert all(isinstance(p, DocProblem) and p.message.endswith(".") for p in analysis.problems)


def test_recursive_schemas_that_descend_are_fine() -> None:
    document = base("3.1.0")
    document["components"]["schemas"]["Node"] = {
        "type": "object",
        "properties": {
            "children": {"type": "array", "items": {"$ref": "#/components/schemas/Node"}},
            "parent": {"anyOf": [{"$ref": "#/components/schemas/Node"}, {"type": "null"}]},
        },
    }
    assert problems_of(document) == []


def test_refs_inside_examples_are_data() -> None:
    document = base("3.1.0")
    document["components"]["schemas"]["Pet"]["example"] = {"$ref": "http://not.a/ref"}
    document["components"]["schemas"]["Pet"]["properties"]["default"] = {
        "$ref": "#/components/schemas/Pet"
    }
    document["paths"]["/pets"]["post"]["requestBody"]["content"]["application/json"]["examples"] = {
        "one": {"value": {"$ref": "http://not.a/ref"}}
    }
    assert problems_of(document) == []


def test_analyse_does_not_change_the_document() -> None:
    document, _ = analysed("bdc-changsha-3.0.yaml")
    snapshot = copy.deepcopy(document)
    analyse(document)
    assert document == snapshot


@pytest.mark.parametrize("version", VERSIONS)
def test_refs_reachable_through_extensions_are_checked(version: str) -> None:
    document = base(version)
    document["components"]["schemas"]["Pet"] = {"$ref": "#/x-defs/Pet"}
    document["x-defs"] = {
        "Pet": {"type": "object", "properties": {"owner": {"$ref": "http://example.com/o.json"}}},
        "Unused": {"$ref": "http://example.com/unused.json"},  # extension data, never used
    }
    assert problems_of(document) == [
        DocProblem(
            "/x-defs/Pet/properties/owner/$ref",
            "The $ref 'http://example.com/o.json' points outside this document; remote and file"
            " references are not followed. Put the definition under components and refer to it"
            " with '#/components/...'.",
        )
    ]


def test_a_numeric_server_variable_default_is_one_problem() -> None:
    document = base("3.0.3")
    document["servers"] = [{"url": "https://h:{port}/", "variables": {"port": {"default": 8443}}}]
    analysis = analyse(document)
    assert analysis.servers == ["https://h:8443/"]
    assert [p.pointer for p in analysis.problems] == ["/servers/0/variables/port/default"]


@pytest.mark.parametrize("name", [s[0] for s in SERVICES])
def test_loading_an_accepted_document_can_skip_the_spec_check(name: str) -> None:
    document, full = analysed(name)
    quick = analyse(document, check_spec=False)
    assert quick.operations == full.operations
    assert quick.servers == full.servers
    assert quick.warnings == full.warnings


def test_skipping_the_spec_check_skips_only_its_findings() -> None:
    document = base("3.0.3")
    _missing_info_version(document)
    _duplicate_ids(document)
    quick = [p.pointer for p in analyse(document, check_spec=False).problems]
    assert quick == [f"{PET_GET}/operationId", f"{PETS_POST}/operationId"]
    assert [p.pointer for p in analyse(document).problems] == [*quick, "/info"]


# --- audit regressions --------------------------------------------------------------------------


@pytest.mark.parametrize("version", VERSIONS)
def test_a_bad_response_code_is_located_at_its_key(version: str) -> None:
    document = base(version)
    document["paths"]["/pets"]["post"]["responses"]["abc"] = {"description": "no"}
    assert problems_of(document) == [
        DocProblem(
            f"{PETS_POST}/responses/abc",
            "'abc' is not a response status code; use a code such as 200, a range such as 2XX,"
            " or default.",
        )
    ]


@pytest.mark.parametrize("version", VERSIONS)
def test_other_keys_that_are_not_allowed_are_located_at_the_key(version: str) -> None:
    document = base(version)
    document["paths"]["pets"] = {}
    document["info"]["x"] = 1
    assert problems_of(document) == [
        DocProblem(
            "/info/x",
            "The field 'x' is not allowed here; fields that are not in the specification must"
            " start with 'x-'.",
        ),
        DocProblem("/paths/pets", "The path 'pets' must start with '/'."),
    ]


@pytest.mark.parametrize("version", VERSIONS)
def test_a_server_url_with_an_undefined_variable_is_not_returned(version: str) -> None:
    document = base(version)
    document["servers"] = [
        {"url": "http://{host}:8080"},
        {"url": "https://{region}.example.com", "variables": {"region": {"default": "cs"}}},
    ]
    analysis = analyse(document)
    assert analysis.problems == [
        DocProblem(
            "/servers/0/url",
            "The server URL uses {host}, but the server defines no variable 'host' with a default.",
        )
    ]
    assert analysis.servers == ["https://cs.example.com"]


@pytest.mark.parametrize("version", VERSIONS)
def test_each_cookie_parameter_is_warned_about(version: str) -> None:
    document = base(version)
    cookie = {"name": "session_id", "in": "cookie", "schema": {"type": "string"}}
    document["paths"]["/pets/{petId}"]["get"]["parameters"] = [cookie]
    document["paths"]["/pets"]["parameters"] = [{**cookie, "name": "lang"}]
    analysis = analyse(document)
    assert analysis.problems == []
    assert analysis.warnings == [
        DocProblem(
            f"{PET_GET}/parameters/0",
            "The gateway does not forward cookies, so the cookie parameter 'session_id' never"
            " reaches the service; use a header.",
        ),
        DocProblem(
            "/paths/~1pets/parameters/0",
            "The gateway does not forward cookies, so the cookie parameter 'lang' never reaches"
            " the service; use a header.",
        ),
    ]


WEBHOOKS = {"petAdopted": {"post": {"responses": {"200": {"description": "ok"}}}}}


def test_a_document_with_only_webhooks_is_refused_at_its_webhooks() -> None:
    document = base("3.1.0")
    del document["paths"]
    document["webhooks"] = copy.deepcopy(WEBHOOKS)
    analysis = analyse(document)
    assert analysis.problems == [
        DocProblem(
            "/webhooks",
            "The document has webhooks but no paths; webhooks are not routed through the"
            " gateway, so it has no operations to expose.",
        )
    ]
    assert analysis.operations == []


def test_webhooks_next_to_paths_are_dropped_with_a_warning() -> None:
    document = base("3.1.0")
    document["webhooks"] = copy.deepcopy(WEBHOOKS)
    analysis = analyse(document)
    assert analysis.problems == []
    assert analysis.warnings == [
        DocProblem(
            "/webhooks",
            "Webhooks are not routed through the gateway; they are dropped, and only the"
            " operations under paths are exposed.",
        )
    ]
    assert [op.operation_id for op in analysis.operations] == ["getPet", "addPet"]


def test_a_document_without_paths_is_refused_at_the_document() -> None:
    document = base("3.1.0")
    del document["paths"]
    assert problems_of(document) == [
        DocProblem("", "The document has no paths, so it has no operations to expose.")
    ]
