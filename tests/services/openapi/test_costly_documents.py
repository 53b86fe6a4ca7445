"""Onboarding refuses what request validation could not do in bounded time: patterns RE2 cannot
run (each at its JSON pointer, with the reason) and schemas that multiply the work per value."""

from __future__ import annotations

from typing import Any

import pytest

from app.services.openapi import DocProblem, analyse
from app.services.openapi.expansion import MAX_IN_PLACE
from app.services.openapi.patterns import pattern_warnings


def document(
    schemas: dict[str, Any], *, parameters: list[Any] | None = None, **extra: Any
) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "operationId": "x",
        "requestBody": {
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Body"}}}
        },
        "responses": {"200": {"description": "ok"}},
    }
    if parameters is not None:
        operation["parameters"] = parameters
    return {
        "openapi": "3.1.0",
        "info": {"title": "t", "version": "1"},
        "paths": {"/x": {"post": operation}},
        "components": {"schemas": schemas},
        **extra,
    }


def problems(doc: dict[str, Any]) -> list[DocProblem]:
    return analyse(doc).problems


def test_a_look_ahead_is_refused_at_its_pointer_with_the_reason() -> None:
    found = problems(
        document(
            {
                "Body": {
                    "type": "object",
                    "properties": {"v": {"type": "string", "pattern": "^(?=.*\\d).{8,}$"}},
                }
            }
        )
    )
    assert found == [
        DocProblem(
            "/components/schemas/Body/properties/v/pattern",
            "The pattern '^(?=.*\\\\d).{8,}$' cannot be used: it uses a look-ahead assertion"
            " ((?= or (?!), which cannot run in linear time. The gateway runs patterns with RE2,"
            " whose time is linear in the text; write it without look-around or back-references"
            " (split the check with allOf or not if need be).",
        )
    ]


@pytest.mark.parametrize(
    ("schema", "where", "reason"),
    [
        (
            {"type": "object", "patternProperties": {"^(a)\\1/$": {}}},
            "/components/schemas/Body/patternProperties/^(a)\\1~1$",
            "back-reference",
        ),
        (
            {"type": "string", "pattern": "(?<=x)y"},
            "/components/schemas/Body/pattern",
            "look-behind",
        ),
        (
            {"type": "array", "items": {"type": "string", "pattern": "end\\Z"}},
            "/components/schemas/Body/items/pattern",
            "use $ for the end of the text",
        ),
        (
            {"allOf": [{"$ref": "#/x-shared/Code"}]},
            "/x-shared/Code/pattern",
            "not a valid regular expression (missing ]",
        ),
        (
            {"type": "string", "pattern": "(a{1000}){1000}"},
            "/components/schemas/Body/pattern",
            "RE2's limit of 1,000",
        ),
    ],
)
def test_patterns_re2_cannot_run_are_refused(schema: Any, where: str, reason: str) -> None:
    shared: dict[str, Any] = {"x-shared": {"Code": {"pattern": "[a-"}}}
    found = problems(document({"Body": schema}, **shared))
    assert [p.pointer for p in found] == [where]
    assert reason in found[0].message


def test_parameter_patterns_are_checked_too() -> None:
    parameter = {
        "name": "code",
        "in": "query",
        "schema": {"type": "string", "pattern": "(?!0)\\d+"},
    }
    found = problems(document({"Body": {}}, parameters=[parameter]))
    assert [p.pointer for p in found] == ["/paths/~1x/post/parameters/0/schema/pattern"]


def test_patterns_in_data_and_property_names_are_not_patterns() -> None:
    body = {
        "type": "object",
        "properties": {"pattern": {"type": "string", "pattern": "^[A-Z]{2}$"}},
        "example": {"pattern": "(?=not a schema)"},
        "enum": [{"pattern": "(?=data)"}],
        "x-note": {"pattern": "(?=extension)"},
    }
    assert problems(document({"Body": body})) == []


def test_a_schema_that_doubles_per_level_is_refused_where_it_multiplies() -> None:
    levels = 40
    schemas: dict[str, Any] = {
        f"S{i}": {"anyOf": [{"$ref": f"#/components/schemas/S{i + 1}"}] * 2} for i in range(levels)
    }
    schemas[f"S{levels}"] = {"type": "string"}
    schemas["Body"] = {"$ref": "#/components/schemas/S0"}
    found = problems(document(schemas))
    assert len(found) == 1
    assert found[0].pointer.startswith("/components/schemas/S")
    assert "schemas: its allOf/anyOf/oneOf members and $refs repeat" in found[0].message
    assert f"The gateway accepts at most {MAX_IN_PLACE:,}" in found[0].message


def test_a_multiplying_allof_chain_is_refused_without_the_spec_validators_walk(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """openapi-spec-validator collects allOf members along every path: 2^n for this chain (18
    levels held a core for ten minutes). Such a document is refused before it runs."""
    from app.services.openapi import analysis

    def never(*args: Any) -> Any:
        raise AssertionError("the spec validator walked a schema refused for multiplying")

    monkeypatch.setattr(analysis, "spec_problems", never)
    levels = 40
    schemas: dict[str, Any] = {
        f"S{i}": {"allOf": [{"$ref": f"#/components/schemas/S{i + 1}"}] * 2} for i in range(levels)
    }
    schemas[f"S{levels}"] = {"type": "string"}
    schemas["Body"] = {"$ref": "#/components/schemas/S0"}
    found = problems(document(schemas))
    assert len(found) == 1
    assert "schemas: its allOf/anyOf/oneOf members and $refs repeat" in found[0].message


def test_ordinary_composition_is_accepted() -> None:
    schemas: dict[str, Any] = {
        "Base": {"type": "object", "properties": {"id": {"type": "integer"}}},
        "Body": {
            "oneOf": [
                {"allOf": [{"$ref": "#/components/schemas/Base"}, {"required": [f"k{i}"]}]}
                for i in range(200)
            ]
        },
    }
    assert problems(document(schemas)) == []


def test_a_default_is_checked_with_re2() -> None:
    """openapi-spec-validator checks each default against its schema with Python's re: the
    author's own ReDoS would hold the onboarding thread for ever."""
    body = {"type": "string", "pattern": "^(a+)+$", "default": "a" * 5000 + "!"}
    found = problems(document({"Body": body}))
    assert [(p.pointer, p.message) for p in found] == [
        (
            "/components/schemas/Body/default",
            "The default value must match the pattern ^(a+)+$.",
        )
    ]


def test_stored_documents_get_warnings_for_their_refused_patterns() -> None:
    doc = document({"Body": {"type": "string", "pattern": "(?=x)"}})
    warnings = pattern_warnings(doc)
    assert [w.pointer for w in warnings] == ["/components/schemas/Body/pattern"]
    assert "a request with a value this pattern applies to is refused (422)" in warnings[0].message
