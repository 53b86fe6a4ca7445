"""What public OpenAPI documents showed: schemas that are valid, read as their specifications say.

Twenty-five vendors', governments' and OAI's documents were onboarded. Each case here is one of
them reduced to its point: a ``required`` name that no ``properties`` declares (JSON Schema allows
it), a ``readOnly`` property required in another ``allOf`` member (OpenAPI 3.0: required in
responses only), a 3.0 ``nullable`` enum (validation and the published document must agree), and
the messages an empty enum and a 3.1 ``nullable`` gave.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from app.services.openapi import (
    MergeInput,
    RequestValidator,
    analyse,
    compile_validators,
    merge_documents,
)
from app.services.openapi.problems import DocProblem

Doc = dict[str, Any]
VERSIONS = ["3.0.3", "3.1.0"]


def document(version: str, schemas: Doc) -> Doc:
    """One operation whose JSON body is ``#/components/schemas/Body``."""
    return {
        "openapi": version,
        "info": {"title": "t", "version": "1"},
        "paths": {
            "/things": {
                "post": {
                    "operationId": "createThing",
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/Body"}}
                        },
                    },
                    "responses": {"200": {"description": "ok"}},
                }
            }
        },
        "components": {"schemas": schemas},
    }


def validator(doc: Doc) -> RequestValidator:
    analysis = analyse(doc)
    assert analysis.problems == []
    assert analysis.version is not None
    return compile_validators(doc, analysis.operations, analysis.version)["createThing"]


def refusals(doc_or_validator: Doc | RequestValidator, body: Any) -> list[tuple[str, str]]:
    checker = doc_or_validator if isinstance(doc_or_validator, RequestValidator) else None
    checker = checker or validator(doc_or_validator)  # type: ignore[arg-type]
    errors = checker.validate(
        path_params={},
        query=[],
        headers={},
        content_type="application/json",
        body=json.dumps(body).encode(),
    )
    return [(e.pointer, e.detail) for e in errors]


# --- a required name that properties do not declare ---------------------------------------------


@pytest.mark.parametrize("version", VERSIONS)
def test_a_required_name_without_a_property_is_a_warning_and_is_still_required(
    version: str,
) -> None:
    doc = document(
        version,
        {
            "Body": {
                "type": "object",
                "required": ["id", "name"],
                "allOf": [{"properties": {"name": {"type": "string"}}}],
            }
        },
    )
    analysis = analyse(doc)
    assert analysis.problems == []
    assert (
        DocProblem(
            "/components/schemas/Body/required",
            "The schema requires id, which neither it nor its allOf members declare in"
            " properties. JSON Schema allows this: it is required with any value. Declare it in"
            " properties to have its value checked.",
        )
        in analysis.warnings
    )
    checker = validator(doc)
    assert refusals(checker, {"name": "a"}) == [("/body/id", "is required")]
    assert refusals(checker, {"name": "a", "id": [1, {"any": "value"}]}) == []


# --- readOnly and writeOnly ---------------------------------------------------------------------


def _pet(version: str, *, via_ref: bool = False) -> Doc:
    """The usual shape: properties in a shared base, required in another allOf member."""
    identifier: Doc = {"type": "integer", "readOnly": True}
    schemas: Doc = {
        "PetBase": {
            "type": "object",
            "properties": {
                "id": {"$ref": "#/components/schemas/Id"} if via_ref else identifier,
                "name": {"type": "string"},
                "password": {"type": "string", "writeOnly": True},
            },
        },
        "Body": {
            "allOf": [
                {"$ref": "#/components/schemas/PetBase"},
                {"required": ["id", "name", "password"]},
            ]
        },
    }
    if via_ref:
        schemas["Id"] = identifier
    return document(version, schemas)


@pytest.mark.parametrize("via_ref", [False, True], ids=["inline", "via $ref"])
@pytest.mark.parametrize("version", VERSIONS)
def test_a_required_read_only_property_is_not_demanded_in_requests(
    version: str, via_ref: bool
) -> None:
    checker = validator(_pet(version, via_ref=via_ref))
    assert refusals(checker, {"name": "Rex", "password": "s3cret"}) == []
    # Sent anyway, it is still checked against its schema (the upstream owns its value).
    assert refusals(checker, {"name": "Rex", "password": "s", "id": "one"}) == [
        ("/body/id", "must be an integer")
    ]
    # The other required names are, a writeOnly one included (it belongs in requests).
    assert refusals(checker, {"id": 1}) == [
        ("/body/name", "is required"),
        ("/body/password", "is required"),
    ]


@pytest.mark.parametrize("version", VERSIONS)
def test_the_document_itself_is_not_changed(version: str) -> None:
    doc = _pet(version)
    before = json.dumps(doc, sort_keys=True)
    validator(doc)
    assert json.dumps(doc, sort_keys=True) == before


# --- OpenAPI 3.0's nullable beside an enum: validation and /gw/openapi.json agree -----------------


NULLABLE_CASES = [
    {"type": "string", "nullable": True, "enum": ["a", "b"]},
    {"type": "string", "nullable": True, "enum": ["a", "b", None]},
    {"type": "string", "nullable": True},
    {"nullable": True, "enum": ["a"]},
    {"type": "integer", "nullable": True, "enum": [1, 2]},
]


def published_body(doc: Doc) -> Draft202012Validator:
    """A JSON Schema 2020-12 validator of the request body as /gw/openapi.json publishes it."""
    merged = merge_documents(
        [MergeInput("430100", "things", "t", doc, analyse(doc).operations)],
        title="gw",
        server_url="http://gw.test",
    )
    operation = merged["paths"]["/gw/430100/things/things"]["post"]
    schema = operation["requestBody"]["content"]["application/json"]["schema"]
    registry: Registry[Any] = Registry().with_resource(
        "urn:gw", DRAFT202012.create_resource(merged)
    )
    return Draft202012Validator({"$ref": "urn:gw#" + schema["$ref"][1:]}, registry=registry)


@pytest.mark.parametrize("schema", NULLABLE_CASES, ids=json.dumps)
def test_a_nullable_value_is_judged_alike_by_validation_and_the_published_document(
    schema: Doc,
) -> None:
    doc = document("3.0.3", {"Body": {"type": "object", "properties": {"k": schema}}})
    checker = validator(doc)
    published = published_body(doc)
    for value in [None, "a", "c", 1, 3]:
        accepted_here = refusals(checker, {"k": value}) == []
        accepted_there = published.is_valid({"k": value})
        assert accepted_here == accepted_there, f"{value!r}: gateway {accepted_here}"
    assert (refusals(checker, {"k": None}) == []) == (
        "enum" not in schema or None in schema["enum"]
    )


def test_nullable_beside_an_enum_without_null_is_pointed_out() -> None:
    doc = document(
        "3.0.3",
        {"Body": {"type": "object", "properties": {"k": NULLABLE_CASES[0]}}},
    )
    assert analyse(doc).warnings == [
        DocProblem(
            "/components/schemas/Body/properties/k/enum",
            "nullable: true does not add null to an enum (OpenAPI 3.0.3): null is refused here."
            " Add null to the enum to allow it.",
        )
    ]


# --- messages ---------------------------------------------------------------------------------


def test_a_31_nullable_is_no_keyword_and_the_message_says_no_null() -> None:
    doc = document(
        "3.1.0",
        {"Body": {"type": "object", "properties": {"k": {"type": "string", "nullable": True}}}},
    )
    assert analyse(doc).warnings == [
        DocProblem(
            "/components/schemas/Body/properties/k/nullable",
            "nullable is not a keyword of OpenAPI 3.1 and changes nothing: null is refused here."
            ' Write type: [string, "null"] to allow it.',
        )
    ]
    assert refusals(doc, {"k": None}) == [("/body/k", "must be a string")]


def test_a_30_nullable_says_null_is_allowed() -> None:
    doc = document(
        "3.0.3",
        {"Body": {"type": "object", "properties": {"k": {"type": "string", "nullable": True}}}},
    )
    assert refusals(doc, {"k": 5}) == [("/body/k", "must be a string or null")]
    assert refusals(doc, {"k": None}) == []


def test_an_empty_enum_says_what_it_means() -> None:
    doc = document("3.1.0", {"Body": {"type": "object", "properties": {"k": {"enum": []}}}})
    assert analyse(doc).warnings == [
        DocProblem(
            "/components/schemas/Body/properties/k/enum",
            "The enum is empty, so no value fits: a request that sends this value is always"
            " refused.",
        )
    ]
    assert refusals(doc, {"k": "x"}) == [
        ("/body/k", "cannot have any value: the schema's enum lists none")
    ]
