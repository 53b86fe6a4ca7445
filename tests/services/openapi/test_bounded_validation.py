"""Request validation whose cost a document (or a request) would otherwise leave unbounded.

Each test reproduces an attack on the validator (a backtracking pattern, a huge enum, a schema
that doubles its work per level, ...) at a size that never finishes, or takes minutes, with
jsonschema's own keywords; with the gateway's (``keywords.py``) it is answered at once.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from app.core import safe_regex
from app.services.openapi import FieldError, RequestValidator, analyse, compile_validator
from app.services.openapi.keywords import validation_budget
from app.services.openapi.validation import REQUEST_BUDGET, format_checker, validator_class

REDOS = "^(a+)+$"
ATTACK = "a" * 5000 + "!"  # Python's re: 2^5000 steps; RE2: 5,001


def stored(schema: Any, components: dict[str, Any] | None = None, version: str = "3.1.0") -> Any:
    """A validator for ``POST /x`` with this JSON body schema, compiled from a document that is
    not checked first (as a document stored before the onboarding checks existed)."""
    document = {
        "openapi": version,
        "info": {"title": "t", "version": "1"},
        "paths": {
            "/x": {
                "post": {
                    "operationId": "x",
                    "requestBody": {"content": {"application/json": {"schema": schema}}},
                    "responses": {"200": {"description": "ok"}},
                }
            }
        },
        "components": {"schemas": components or {}},
    }
    analysis = analyse(document, check_spec=False)
    return compile_validator(document, analysis.operations[0], version[:3])  # type: ignore[arg-type]


def post(validator: RequestValidator, body: Any) -> list[tuple[str, str]]:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    errors: list[FieldError] = validator.validate(
        path_params={}, query=[], headers={}, content_type="application/json", body=raw
    )
    return [(e.pointer, e.detail) for e in errors]


@pytest.fixture
def no_python_re(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail if anything calls Python's re with a pattern during the test (compiled module-level
    patterns of our own code are objects already and do not go through these functions)."""

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError(f"Python's re was called with {args[:1]!r}")

    for name in ("search", "match", "fullmatch", "compile", "findall", "finditer", "sub"):
        monkeypatch.setattr(re, name, refuse)


# -- patterns run by RE2 ----------------------------------------------------------------------


@pytest.mark.usefixtures("no_python_re")
@pytest.mark.parametrize("version", ["3.0.3", "3.1.0"])
def test_a_backtracking_pattern_answers_at_once(version: str) -> None:
    validator = stored(
        {"type": "object", "properties": {"v": {"type": "string", "pattern": REDOS}}},
        version=version,
    )
    assert post(validator, {"v": ATTACK}) == [("/body/v", f"must match the pattern {REDOS}")]
    assert post(validator, {"v": "a" * 5000}) == []


@pytest.mark.usefixtures("no_python_re")
def test_pattern_properties_keys_are_matched_by_re2() -> None:
    validator = stored(
        {"type": "object", "patternProperties": {REDOS: {"type": "integer"}}},
    )
    assert post(validator, {ATTACK: "x", "a" * 100: "y"}) == [
        ("/body/" + "a" * 100, "must be an integer")
    ]


@pytest.mark.usefixtures("no_python_re")
@pytest.mark.parametrize("version", ["3.0.3", "3.1.0"])
def test_additional_properties_look_up_patterns_with_re2(version: str) -> None:
    schema = {
        "type": "object",
        "properties": {"known": {"type": "string"}},
        "patternProperties": {REDOS: {}},
        "additionalProperties": False,
    }
    validator = stored(schema, version=version)
    assert post(validator, {"known": "x", ATTACK: 1, "aaa": 2}) == [
        (f"/body/{ATTACK}", "is not allowed")
    ]


@pytest.mark.usefixtures("no_python_re")
def test_unevaluated_properties_look_up_patterns_with_re2() -> None:
    schema = {
        "type": "object",
        "allOf": [{"patternProperties": {REDOS: {"type": "integer"}}}],
        "unevaluatedProperties": False,
    }
    validator = stored(schema)
    assert post(validator, {"aaa": 1, ATTACK: 2}) == [(f"/body/{ATTACK}", "is not allowed")]


@pytest.mark.usefixtures("no_python_re")
def test_property_names_patterns_run_on_re2() -> None:
    validator = stored({"type": "object", "propertyNames": {"pattern": REDOS}})
    assert post(validator, {ATTACK: 1}) == [("/body", f"must match the pattern {REDOS}")]
    assert post(validator, {"aaa": 1}) == []


def test_patterns_read_ecma_escapes_and_ascii_classes() -> None:
    """ECMA-262 (JSON Schema's dialect) writes \\uXXXX, which RE2 spells \\x{XXXX}; \\d is
    ASCII only in both (Python's re also takes other scripts' digits)."""
    validator = stored(
        {
            "type": "object",
            "properties": {
                "name": {"type": "string", "pattern": "^[\\u4e00-\\u9fa5]{2,4}$"},
                "digits": {"type": "string", "pattern": "^\\d+$"},
                "end": {"type": "string", "pattern": "^abc$"},
            },
        }
    )
    assert post(validator, {"name": "张三", "digits": "123", "end": "abc"}) == []
    assert post(validator, {"name": "Zhang", "digits": "١٢٣", "end": "abc\n"}) == [
        ("/body/name", "must match the pattern ^[\\u4e00-\\u9fa5]{2,4}$"),
        ("/body/digits", "must match the pattern ^\\d+$"),
        ("/body/end", "must match the pattern ^abc$"),
    ]


def test_the_regex_format_is_checked_by_re2() -> None:
    """jsonschema's `regex` format compiles the caller's text with Python's re (a megabyte of
    text: seconds, and kept in re's cache); here RE2 reads at most 10,000 characters."""
    validator = stored(
        {"type": "object", "additionalProperties": {"type": "string", "format": "regex"}}
    )
    huge = "a" * 1_000_000
    assert post(validator, {"ok": "^[a-z]+$", "bad": "(", "ahead": "(?=a)", "huge": huge}) == [
        ("/body/bad", "must be a regular expression"),
        ("/body/ahead", "must be a regular expression"),
        ("/body/huge", "must be a regular expression"),
    ]


@pytest.mark.usefixtures("no_python_re")
def test_a_stored_pattern_re2_refuses_fails_closed() -> None:
    """A document stored before patterns were checked may hold a look-ahead: a value it applies
    to is refused with an error saying why (never checked with Python's re), and ``not`` cannot
    turn that refusal into a pass."""
    validator = stored(
        {
            "type": "object",
            "properties": {
                "v": {"type": "string", "pattern": "^(?=.*[0-9])[a-z0-9]+$"},
                "w": {"not": {"type": "string", "pattern": "(?!x)"}},
            },
        }
    )
    assert post(validator, {}) == []
    refused = post(validator, {"v": "abc1"})
    assert refused == [
        (
            "/body/v",
            "cannot be checked: the service's document gives it the pattern"
            " '^(?=.*[0-9])[a-z0-9]+$', which the gateway does not run (it uses a look-ahead"
            " assertion ((?= or (?!), which cannot run in linear time); the service must onboard"
            " a corrected document",
        )
    ]
    assert post(validator, {"w": "y"})[0][0] == "/body/w"
    assert post(validator, {"w": 5}) == []  # the pattern applies to strings only


# -- hashing and exact numbers ----------------------------------------------------------------


def test_enum_uses_json_equality() -> None:
    validator = stored({"enum": [1, "a", None, {"k": [1, 2]}, False]})
    same: list[Any] = [1, 1.0, "a", None, {"k": [1.0, 2]}, False]
    for value in same:
        assert post(validator, value) == [], value
    different: list[Any] = [True, 0, "A", {"k": [2, 1]}, [1]]
    for value in different:
        assert post(validator, value) != [], value


def test_a_huge_enum_against_many_values_is_a_hash_look_up() -> None:
    """jsonschema compares each value with every member in Python: 200,000 x 20,000 values is
    4 x 10^9 comparisons (many minutes); a hash look-up per value is milliseconds."""
    members = [f"v{i}" for i in range(200_000)]
    validator = stored({"type": "array", "items": {"enum": members}})
    assert post(validator, ["v199999"] * 20_000) == []
    errors = post(validator, ["v5", "nope"] + ["v7"] * 19_998)
    assert errors == [
        ("/body/1", 'must be one of "v0", "v1", "v2", "v3", "v4", "v5", "v6", "v7", "v8", "v9", …')
    ]


def test_unique_items_hashes_objects() -> None:
    """jsonschema compares every pair of items that do not sort (objects): 20,000 of them is
    2 x 10^8 comparisons."""
    validator = stored({"type": "array", "uniqueItems": True})
    assert post(validator, [{"i": i, "j": [i]} for i in range(20_000)]) == []
    assert post(validator, [{"a": 1, "b": 2}, {"b": 2, "a": 1.0}]) == [
        ("/body", "must not contain the same item twice")
    ]
    assert post(validator, [1, True, 0, False, "1"]) == []


@pytest.mark.parametrize(
    ("value", "divisor", "valid"),
    [
        ("0.3", 0.1, True),  # 0.3 / 0.1 is 2.9999999999999996 in floats
        ("12.34", 0.01, True),
        ("12.345", 0.01, False),
        ("1e308", 1e-308, True),  # the quotient overflows floats
        ("1" + "0" * 4000, 0.1, True),  # too large for a float at all
        ("7", 2, False),
        ("1e400", 1, False),  # Python's json reads it as infinity
    ],
)
def test_multiple_of_is_exact_for_the_decimals_json_wrote(
    value: str, divisor: float, valid: bool
) -> None:
    validator = stored({"type": "object", "properties": {"v": {"multipleOf": divisor}}})
    errors = post(validator, b'{"v": ' + value.encode() + b"}")
    assert (errors == []) is valid, errors


# -- the work budget --------------------------------------------------------------------------


def _doubling(levels: int) -> dict[str, Any]:
    components: dict[str, Any] = {
        f"S{i}": {"anyOf": [{"$ref": f"#/components/schemas/S{i + 1}"}] * 2} for i in range(levels)
    }
    components[f"S{levels}"] = {"type": "string"}
    return components


def test_a_schema_that_doubles_per_level_stops_at_the_budget() -> None:
    """S0 = anyOf[S1, S1], ... 40 levels: 2^40 schemas for the body 1."""
    validator = stored({"$ref": "#/components/schemas/S0"}, _doubling(40))
    assert post(validator, 1) == [
        (
            "/body",
            f"was not checked: validating this request took more than {REQUEST_BUDGET:,} schema"
            " checks, the gateway's limit; send a smaller or less deeply nested value",
        )
    ]
    assert post(validator, "fine") == []


def test_a_recursive_schema_applied_twice_per_level_stops_where_it_ran_out() -> None:
    branch = {"properties": {"a": {"$ref": "#/components/schemas/T"}}}
    validator = stored({"$ref": "#/components/schemas/T"}, {"T": {"allOf": [branch, branch]}})
    body: Any = 1
    for _ in range(40):
        body = {"a": body}
    errors = post(validator, body)
    assert len(errors) == 1
    pointer, detail = errors[0]
    assert pointer.startswith("/body/a/a/a/a/a/a/a/a/a/a")
    assert detail.startswith("was not checked: validating this request took more than")
    shallow: Any = 1
    for _ in range(6):
        shallow = {"a": shallow}
    assert post(validator, shallow) == []


@pytest.mark.parametrize(
    "body",
    [
        {f"field{i}": f"value {i}" for i in range(5000)},
        [{"id": i, "name": f"item {i}", "tags": ["a", "b"]} for i in range(20_000)],
        list(range(50_000)),
    ],
    ids=["5000 properties", "20000 simple objects", "50000 numbers"],
)
def test_ordinary_large_requests_stay_within_the_budget(body: Any) -> None:
    schema = {
        "anyOf": [
            {"type": "object", "additionalProperties": {"type": "string", "maxLength": 50}},
            {
                "type": "array",
                "items": {
                    "type": ["object", "integer"],
                    "minimum": 0,
                    "multipleOf": 1,
                    "required": ["id", "name"],
                    "properties": {
                        "id": {"type": "integer", "minimum": 0},
                        "name": {"type": "string", "pattern": "^item [0-9]+$"},
                        "tags": {"type": "array", "items": {"enum": ["a", "b", "c"]}},
                    },
                },
            },
        ]
    }
    assert post(stored(schema), body) == []


def test_long_values_are_not_copied_into_every_error_message() -> None:
    """jsonschema formats the value into each failing keyword's message: an object of 200,000
    keys under a oneOf of 4,000 alternatives is 4,000 reprs of it (minutes); here each
    alternative costs one check."""
    schema = {"oneOf": [{"type": "integer", "minimum": i} for i in range(4000)]}
    validator = stored(schema)
    errors = post(validator, {f"key{i}": i for i in range(200_000)})
    assert errors == [("/body", "must be an integer")]


def test_the_budget_is_shared_by_the_whole_validation() -> None:
    cls = validator_class("3.1")
    validator = cls(
        {"type": "array", "items": {"type": "integer"}}, format_checker=format_checker("3.1")
    )
    with validation_budget(1000) as budget:
        assert list(validator.iter_errors(list(range(100)))) == []
    assert 100 < budget.spent < 1000


# -- conversions of parameters and form fields --------------------------------------------------


def test_number_conversion_is_linear() -> None:
    """The old number grammar let two digit runs split a number every way: 1,000 digits and an
    "x" took 25 ms, a query of 10,000 such values four minutes."""
    document = {
        "openapi": "3.1.0",
        "info": {"title": "t", "version": "1"},
        "paths": {
            "/x": {
                "get": {
                    "operationId": "x",
                    "parameters": [
                        {
                            "name": "n",
                            "in": "query",
                            "schema": {"type": "array", "items": {"type": "number"}},
                        }
                    ],
                    "responses": {"200": {"description": "ok"}},
                }
            }
        },
    }
    analysis = analyse(document)
    validator = compile_validator(document, analysis.operations[0], "3.1")
    errors = validator.validate(
        path_params={},
        query=[("n", "1" * 999 + "x")] * 10_000,
        headers={},
        content_type=None,
        body=b"",
    )
    assert errors[0] == FieldError("/query/n/0", "must be a number")


def test_a_schema_referring_to_itself_many_times_compiles_at_once() -> None:
    """The shape of a parameter or form schema was read along every path to depth 12: an object
    with sixteen properties that refer back to it was 16^6 paths (minutes, on the first
    request, on the event loop)."""
    props = {f"p{i}": {"$ref": "#/components/schemas/Org"} for i in range(16)}
    validator = stored(
        {"$ref": "#/components/schemas/Org"}, {"Org": {"type": "object", "properties": props}}
    )
    assert post(validator, {"p0": {"p1": {}}}) == []


def test_safe_regex_refusals_say_why() -> None:
    assert safe_regex.refusal("^(a+)+$") is None
    assert "look-ahead" in (safe_regex.refusal("(?=a)") or "")
    assert "look-behind" in (safe_regex.refusal("(?<!a)b") or "")
    assert "back-reference" in (safe_regex.refusal("(a)\\1") or "")
    assert "use $" in (safe_regex.refusal("abc\\Z") or "")
    assert "lone surrogate" in (safe_regex.refusal("\\ud800") or "")
    assert safe_regex.refusal("\\ud83d\\ude00") is None  # a surrogate pair is one character
    assert safe_regex.search("\\ud83d\\ude00", "😀")
