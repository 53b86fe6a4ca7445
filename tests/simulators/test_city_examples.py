"""A simulator's examples fit its document, and a city's are requests the city accepts.

Example-based tests (Schemathesis' examples phase, a developer trying the documented request)
send a request built from a document's examples: a media type's own ``example``/``examples``, or
every property's example put together. Both kinds, for every operation of every city, must pass
the gateway's request validation and be answered 2xx by the city app itself: the birth
registration's example once gave both parents the same ID number, a woman's, against the rules its
own document states (the father's sex digit is odd). And every example anywhere in every
simulator's document (a schema's, a parameter's, a media type's) fits the schema it illustrates.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
import yaml
from openapi_schema_validator import (
    OAS30Validator,
    OAS31Validator,
    oas30_format_checker,
    oas31_format_checker,
)
from referencing import Registry
from referencing.jsonschema import DRAFT4, DRAFT202012

from app.services.openapi import (
    OperationSpec,
    RequestValidator,
    analyse,
    compile_validators,
    parse_document,
)
from app.services.openapi.problems import fragment_parts, pointer, resolve_pointer
from app.services.openapi.refs import Parts, iter_objects
from app.simulators import (
    CITY_DIVISIONS,
    SimulatorProvider,
    create_city_app,
    openapi_document,
    simulators,
)
from tests.simulators.clock import fixed_clock

# Looked up by an id the city gives out when something is created: no example can name one
# that exists in a fresh city, so these two have none.
WITHOUT_EXAMPLES = {"getResidencePermitApplication", "getBirthRegistration"}
NO_EXAMPLE = object()


def _follow(document: Mapping[str, Any], node: Any) -> Any:
    while isinstance(node, dict) and isinstance(node.get("$ref"), str):
        node = resolve_pointer(document, fragment_parts(node["$ref"][1:]))
    return node


def _schema_example(document: Mapping[str, Any], schema: Any) -> Any:
    """The schema's own example (``example`` or the first of ``examples``), through references
    and single-member ``allOf`` wrappers; NO_EXAMPLE when it has none."""
    for _ in range(16):
        if not isinstance(schema, dict):
            return NO_EXAMPLE
        if "example" in schema:
            return schema["example"]
        if isinstance(schema.get("examples"), list) and schema["examples"]:
            return schema["examples"][0]
        if isinstance(schema.get("$ref"), str):
            schema = _follow(document, schema)
        elif isinstance(schema.get("allOf"), list) and len(schema["allOf"]) == 1:
            schema = schema["allOf"][0]
        else:
            return NO_EXAMPLE
    return NO_EXAMPLE


def _parameter_example(document: Mapping[str, Any], parameter: Mapping[str, Any]) -> Any:
    if "example" in parameter:
        return parameter["example"]
    if isinstance(parameter.get("examples"), dict) and parameter["examples"]:
        return _follow(document, next(iter(parameter["examples"].values())))["value"]
    return _schema_example(document, parameter.get("schema"))


def _bodies(document: Mapping[str, Any], media: Mapping[str, Any]) -> Iterator[tuple[str, Any]]:
    """Each example body of a media type: its own, then the one its properties' examples make."""
    if "example" in media:
        yield "the media type's example", media["example"]
    for name, example in (media.get("examples") or {}).items():
        yield f"the media type's example {name!r}", _follow(document, example)["value"]
    schema = _follow(document, media["schema"])
    combined: dict[str, Any] = {}
    for name, prop in schema["properties"].items():
        value = _schema_example(document, prop)
        if value is not NO_EXAMPLE:
            combined[name] = value
    missing = set(schema.get("required", [])) - set(combined)
    assert not missing, f"properties without an example: {sorted(missing)}"
    yield "the properties' examples", combined


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def example_requests(
    document: Mapping[str, Any], operation: OperationSpec
) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every request the document's examples make for one operation (none if a required
    parameter has no example)."""
    item = _follow(document, document["paths"][operation.path])
    node = item[operation.method.lower()]
    path_params: dict[str, str] = {}
    query: list[tuple[str, str]] = []
    for parameter in [*item.get("parameters", []), *node.get("parameters", [])]:
        parameter = _follow(document, parameter)
        value = _parameter_example(document, parameter)
        if value is NO_EXAMPLE:
            if parameter.get("required"):
                return
            continue
        if parameter["in"] == "path":
            path_params[parameter["name"]] = _text(value)
        else:
            query.append((parameter["name"], _text(value)))
    request = {"path_params": path_params, "query": query, "content_type": None, "body": b""}
    if "requestBody" not in node:
        yield "its parameters' examples", request
        return
    for media_type, media in _follow(document, node["requestBody"])["content"].items():
        for source, body in _bodies(document, media):
            if media_type == "application/json":
                raw = json.dumps(body, ensure_ascii=False).encode()
            else:
                raw = urlencode(body).encode()
            yield source, {**request, "content_type": media_type, "body": raw}


def _url(operation: OperationSpec, request: Mapping[str, Any]) -> str:
    path = operation.path
    for name, value in request["path_params"].items():
        path = path.replace("{" + name + "}", value)
    return path


@pytest.mark.parametrize("division", CITY_DIVISIONS)
async def test_every_example_request_is_accepted(division: str) -> None:
    document = parse_document(openapi_document(division).encode())
    analysis = analyse(document)
    assert analysis.problems == []
    assert analysis.version is not None
    validators: dict[str, RequestValidator] = compile_validators(
        document, analysis.operations, analysis.version
    )
    with_examples: set[str] = set()
    app = create_city_app(division, clock=fixed_clock)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://city.example"
    ) as city:
        for operation in analysis.operations:
            name = operation.operation_id.rsplit("_", 1)[0]
            for source, request in example_requests(document, operation):
                with_examples.add(name)
                where = f"{operation.method} {operation.path} from {source}"
                errors = validators[operation.operation_id].validate(
                    path_params=request["path_params"],
                    query=request["query"],
                    headers={},
                    content_type=request["content_type"],
                    body=request["body"],
                )
                assert errors == [], f"the gateway refuses {where}: {errors}"
                answer = await city.request(
                    operation.method,
                    _url(operation, request),
                    params=request["query"],
                    content=request["body"] or None,
                    headers={"Content-Type": request["content_type"]}
                    if request["content_type"]
                    else {},
                )
                assert answer.is_success, f"the city refuses {where}: {answer.text}"
    every = {op.operation_id.rsplit("_", 1)[0] for op in analysis.operations}
    assert with_examples == every - WITHOUT_EXAMPLES


def _examples(document: Mapping[str, Any]) -> Iterator[tuple[str, Parts, Any]]:
    """(where, the schema's parts, the example) for every example in the document."""
    for node, parts in iter_objects(document):
        # A parameter or media type illustrates its schema; a schema illustrates itself.
        target = (*parts, "schema") if "schema" in node else parts
        if "example" in node:
            yield pointer((*parts, "example")), target, node["example"]
        examples = node.get("examples")
        if isinstance(examples, list):  # JSON Schema's examples (3.1)
            for index, value in enumerate(examples):
                yield pointer((*parts, "examples", index)), target, value
        elif isinstance(examples, dict):  # Example Objects, by name
            for name, example in examples.items():
                yield (
                    pointer((*parts, "examples", name)),
                    target,
                    _follow(document, example)["value"],
                )


@pytest.mark.parametrize("simulator", simulators(), ids=lambda s: s.key)
def test_every_example_fits_its_schema(simulator: SimulatorProvider) -> None:
    document = yaml.safe_load(simulator.document())
    v30 = document["openapi"].startswith("3.0")
    resource = (DRAFT4 if v30 else DRAFT202012).create_resource(document)
    registry: Registry[Any] = Registry().with_resource("urn:document", resource)
    validator_class = OAS30Validator if v30 else OAS31Validator
    formats = oas30_format_checker if v30 else oas31_format_checker
    found = list(_examples(document))
    for where, target, value in found:
        schema = {"$ref": "urn:document#" + pointer(target)}
        checker = validator_class(schema, registry=registry, format_checker=formats)
        errors = [error.message for error in checker.iter_errors(value)]
        assert errors == [], f"{simulator.key}: the example at {where} does not fit: {errors}"
    assert found or simulator.connector != "municipal"
