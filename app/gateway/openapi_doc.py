"""What the gateway itself may answer on any proxied operation, added to the gateway-facing docs.

A caller of /gw/... can get the upstream's documented answers or one of the gateway's problems;
an honest document lists both (an operation's own 400 may now come as the city's JSON error or
as the gateway's problem+json).
"""

from __future__ import annotations

import copy
from typing import Any

from app.core.errors import PROBLEM_MEDIA_TYPE
from app.core.openapi import PROBLEM_SCHEMAS

_PROBLEM = "GatewayProblem"
_VALIDATION = "GatewayValidationProblem"
_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")

# status -> (description, applies to: "all" | "body" | "input")
_GATEWAY_STATUSES: dict[str, tuple[str, str]] = {
    "400": (
        "The gateway refused a malformed request (bad path segment, body that does not parse)",
        "all",
    ),
    "401": ("The access token is missing, invalid, expired or revoked", "all"),
    "403": ("No grant for this operation, or the token's assurance is too low", "all"),
    "404": ("The gateway found no such service or operation (or it was retired)", "all"),
    "408": ("The request head did not arrive whole in time (the connection is closed)", "all"),
    "413": ("The gateway refused a body over its limit", "all"),
    "415": ("The gateway refused a body of an undeclared media type", "body"),
    "422": ("The gateway refused a request that does not fit this operation", "input"),
    "429": ("The client is over its rate limit (Retry-After, RateLimit headers)", "all"),
    "431": (
        "The request head is over the gateway's size or header-count limit (the connection is"
        " closed)",
        "all",
    ),
    "502": (
        "The upstream's answer was not valid HTTP, too large, or not the JSON it declared",
        "all",
    ),
    "503": ("The upstream is unreachable, its circuit is open, or it is at capacity", "all"),
    "504": ("The upstream did not answer within its timeout", "all"),
    "508": ("The request looped back through the gateway", "all"),
}


def _schemas() -> dict[str, Any]:
    problem = copy.deepcopy(PROBLEM_SCHEMAS["Problem"])
    validation = copy.deepcopy(PROBLEM_SCHEMAS["ValidationProblem"])
    validation["allOf"][0] = {"$ref": f"#/components/schemas/{_PROBLEM}"}
    return {_PROBLEM: problem, _VALIDATION: validation}


def add_gateway_responses(document: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``document`` whose operations also document the gateway's own problems."""
    doc = copy.deepcopy(document)
    components = doc.setdefault("components", {})
    components.setdefault("schemas", {}).update(_schemas())
    # Every call through /gw carries the gateway's access token (POST /identity/token).
    components.setdefault("securitySchemes", {})["gatewayToken"] = {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "An access token from POST /identity/token",
    }
    doc["security"] = [{"gatewayToken": []}]
    for path_item in doc.get("paths", {}).values():
        if not isinstance(path_item, dict):
            continue
        shared_params = bool(path_item.get("parameters"))
        for method in _METHODS:
            operation = path_item.get(method)
            if not isinstance(operation, dict):
                continue
            has_body = "requestBody" in operation
            has_input = has_body or shared_params or bool(operation.get("parameters"))
            responses = operation.setdefault("responses", {})
            for status, (description, applies) in _GATEWAY_STATUSES.items():
                if applies == "body" and not has_body:
                    continue
                if applies == "input" and not has_input:
                    continue
                schema = _VALIDATION if status == "422" else _PROBLEM
                media = {"schema": {"$ref": f"#/components/schemas/{schema}"}}
                response = responses.get(status)
                if response is None or "$ref" in response:
                    if response is not None:
                        # Keep the upstream's shared response, and say the gateway may answer too.
                        response = _resolve(doc, response)
                    responses[status] = response = (
                        copy.deepcopy(response)
                        if response
                        else {"description": f"Gateway: {description}"}
                    )
                response.setdefault("content", {})[PROBLEM_MEDIA_TYPE] = media
    return doc


def _resolve(doc: dict[str, Any], ref_holder: dict[str, Any]) -> dict[str, Any]:
    ref = str(ref_holder.get("$ref", ""))
    if not ref.startswith("#/"):
        return {"description": "See the upstream's documentation"}
    node: Any = doc
    for part in ref[2:].split("/"):
        node = (
            node.get(part.replace("~1", "/").replace("~0", "~")) if isinstance(node, dict) else None
        )
    return (
        dict(node)
        if isinstance(node, dict)
        else {"description": "See the upstream's documentation"}
    )
