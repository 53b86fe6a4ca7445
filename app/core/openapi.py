"""Keeps the gateway's own OpenAPI document honest about its errors.

FastAPI documents validation errors as ``HTTPValidationError`` in ``application/json``; the
gateway answers ``application/problem+json``. Every operation also gets a ``default`` problem
response, because any route can answer 400, 404, 405, 413 or 500 from the edge.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from app.core.errors import PROBLEM_MEDIA_TYPE

_PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
_VALIDATION_REF = {"$ref": "#/components/schemas/ValidationProblem"}

PROBLEM_SCHEMAS: dict[str, Any] = {
    "Problem": {
        "title": "Problem",
        "description": "RFC 9457 problem details.",
        "type": "object",
        "required": ["type", "title", "status", "detail"],
        "properties": {
            "type": {"type": "string", "description": "URI reference of the problem type"},
            "title": {"type": "string"},
            "status": {"type": "integer", "minimum": 100, "maximum": 599},
            "detail": {"type": "string"},
            "instance": {"type": "string", "description": "the request id"},
            "fault": {"type": "string", "enum": ["caller", "gateway", "upstream"]},
        },
        "additionalProperties": True,
    },
    "ValidationProblem": {
        "title": "ValidationProblem",
        "allOf": [
            _PROBLEM_REF,
            {
                "type": "object",
                "required": ["errors"],
                "properties": {
                    "errors": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["pointer", "detail"],
                            "properties": {
                                "pointer": {
                                    "type": "string",
                                    "description": "JSON pointer into {body, query, path,"
                                    " header, cookie}",
                                },
                                "detail": {"type": "string"},
                                "type": {"type": "string"},
                            },
                        },
                    }
                },
            },
        ],
    },
}


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` entries documenting problem+json answers for the given statuses."""
    out: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        ref = _VALIDATION_REF if status == 422 else _PROBLEM_REF
        out[status] = {
            "description": HTTPStatus(status).phrase,
            "content": {PROBLEM_MEDIA_TYPE: {"schema": ref}},
        }
    return out


# An operation's ``openapi_extra={PARAMETERS_KEY: {name: {"required": ..., "schema": ...}}}``
# documents what a parameter accepts when the route takes it as a plain string and checks it
# itself (to report every bad parameter at once, with its allowed values).
PARAMETERS_KEY = "x-xyb-parameters"


def _declare_parameters(operation: dict[str, Any]) -> None:
    declared = operation.pop(PARAMETERS_KEY, None)
    if not declared:
        return
    for parameter in operation.get("parameters", []):
        override = declared.get(parameter.get("name"))
        if override is None:
            continue
        if "required" in override:
            parameter["required"] = override["required"]
        if "schema" in override:
            title = parameter.get("schema", {}).get("title")
            parameter["schema"] = {**override["schema"], **({"title": title} if title else {})}


def _rewrite(schema: dict[str, Any]) -> dict[str, Any]:
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components.pop("HTTPValidationError", None)
    components.pop("ValidationError", None)
    components.update(PROBLEM_SCHEMAS)
    for path_item in schema.get("paths", {}).values():
        for operation in path_item.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            _declare_parameters(operation)
            responses = operation["responses"]
            for status, response in list(responses.items()):
                content = response.get("content", {})
                if str(status) == "422":
                    response["content"] = {PROBLEM_MEDIA_TYPE: {"schema": _VALIDATION_REF}}
                elif PROBLEM_MEDIA_TYPE in content and "application/json" in content:
                    # FastAPI adds a JSON variant next to ours; there is none.
                    del content["application/json"]
            responses.setdefault(
                "default",
                {
                    "description": "An error made by the gateway",
                    "content": {PROBLEM_MEDIA_TYPE: {"schema": _PROBLEM_REF}},
                },
            )
    return schema


def install_openapi(app: FastAPI) -> None:
    """Generate the document once, with problem+json errors throughout."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = _rewrite(
                get_openapi(
                    title=app.title,
                    version=app.version,
                    description=app.description,
                    routes=app.routes,
                    tags=app.openapi_tags,
                )
            )
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
