"""Every city's OpenAPI document: valid, true to the app, with the constructs real ones use."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import yaml
from openapi_spec_validator import validate

from app.simulators import (
    CITY_DIVISIONS,
    city_items,
    create_city_app,
    openapi_document,
    openapi_json,
    openapi_version,
)
from app.simulators.city.api import SERVICE_ROUTES

METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}


def _yaml(division: str) -> dict[Any, Any]:
    document: dict[Any, Any] = yaml.safe_load(openapi_document(division))
    return document


def _as_json(document: dict[Any, Any]) -> dict[str, Any]:
    """What a JSON round trip makes of it: integer response codes become strings."""
    normalised: dict[str, Any] = json.loads(json.dumps(document))
    return normalised


def _walk(node: Any) -> Iterator[dict[Any, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def _operations(document: dict[Any, Any]) -> Iterator[tuple[str, str, dict[Any, Any]]]:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                yield path, method, operation


def test_fourteen_cities() -> None:
    assert len(CITY_DIVISIONS) == 14
    assert CITY_DIVISIONS[0] == "430100"
    assert CITY_DIVISIONS[-1] == "433100"


@pytest.mark.parametrize("division", CITY_DIVISIONS)
def test_document_is_valid(division: str) -> None:
    document = _yaml(division)
    validate(_as_json(document))
    assert _as_json(document) == json.loads(openapi_json(division))
    assert document["openapi"] == openapi_version(division)
    assert document["x-xyb-division"] == division


def test_half_the_cities_use_each_version() -> None:
    versions = Counter(_yaml(division)["openapi"] for division in CITY_DIVISIONS)
    assert versions == {"3.0.3": 7, "3.1.0": 7}
    assert openapi_version("430100") == "3.1.0"


@pytest.mark.parametrize("division", CITY_DIVISIONS)
def test_real_world_constructs(division: str) -> None:
    document = _yaml(division)
    text = openapi_document(division)
    refs = {node["$ref"].rsplit("/", 1)[0] for node in _walk(document) if "$ref" in node}
    assert refs == {
        "#/components/schemas",
        "#/components/parameters",
        "#/components/responses",
        "#/components/requestBodies",
    }
    assert any("allOf" in node for node in _walk(document))
    assert any("parameters" in item for item in document["paths"].values())  # path level
    server = document["servers"][0]
    assert "{host}" in server["url"]
    assert "{port}" in server["url"]
    assert set(server["variables"]) == {"host", "port"}
    for _, _, operation in _operations(document):
        codes = list(operation["responses"])
        assert "default" in codes
        assert all(isinstance(code, int) for code in codes if code != "default")
    assert "\n        200:\n" in text  # written as YAML integers, not '200'
    media_types = {
        media_type
        for node in _walk(document)
        if "content" in node
        for media_type in node["content"]
    }
    assert {"application/json", "application/x-www-form-urlencoded"} <= media_types
    assert "/_sim/provider-state" not in document["paths"]


@pytest.mark.parametrize("division", CITY_DIVISIONS)
def test_version_specific_keywords(division: str) -> None:
    document = _yaml(division)
    schemas = document["components"]["schemas"]
    mortgagee = schemas["EstateRecord"]["properties"]["mortgagee"]
    floor_area = schemas["EstateRecord"]["properties"]["floor_area"]
    if document["openapi"] == "3.0.3":
        assert mortgagee["nullable"] is True
        assert mortgagee["type"] == "string"
        assert floor_area["exclusiveMinimum"] is True
        assert floor_area["minimum"] == 0
        assert not any(isinstance(node.get("type"), list) for node in _walk(document))
    else:
        assert mortgagee["type"] == ["string", "null"]
        assert floor_area["exclusiveMinimum"] == 0
        assert not any("nullable" in node for node in _walk(document))


def test_operation_ids_are_unique_across_cities() -> None:
    ids = [
        operation["operationId"]
        for division in CITY_DIVISIONS
        for _, _, operation in _operations(_yaml(division))
    ]
    assert len(ids) == len(set(ids)) == 14 * len(SERVICE_ROUTES)


@pytest.mark.parametrize("division", CITY_DIVISIONS)
def test_every_operation_is_bound_to_an_item(division: str) -> None:
    document = _yaml(division)
    items = {item.code: item for item in city_items(division)}
    bound: dict[str, list[str]] = {}
    for _, _, operation in _operations(document):
        code = operation["x-xyb-item"]
        assert isinstance(code, str)
        assert len(code) <= 64
        assert code.startswith(f"{division}-")
        bound.setdefault(code, []).append(operation["operationId"])
    assert set(bound) == set(items)
    for code, operation_ids in bound.items():
        assert tuple(operation_ids) == items[code].operation_ids


@pytest.mark.parametrize("division", ["430100", "430200"])
def test_the_document_describes_exactly_the_routes(division: str) -> None:
    documented = {(path, method.upper()) for path, method, _ in _operations(_yaml(division))}
    assert documented == {(path, method) for path, _, method in SERVICE_ROUTES}


async def test_the_app_serves_its_document() -> None:
    app = create_city_app("430300")
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://city"
    ) as client:
        as_yaml = await client.get("/openapi.yaml")
        as_json = await client.get("/openapi.json")
    assert as_yaml.status_code == as_json.status_code == 200
    assert as_yaml.headers["content-type"].startswith("application/yaml")
    assert as_yaml.text == openapi_document("430300")
    assert as_json.json() == _as_json(_yaml("430300"))
    assert as_json.json()["info"]["title"] == "湘潭市政务服务接口"
