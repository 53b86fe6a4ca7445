"""What the gateway itself may answer on any proxied operation, added to the gateway-facing docs.

A caller of /gw/... can get the upstream's documented answers or one of the gateway's problems;
an honest document lists both. Where both may answer one status (the city documents a 404 as
``application/json`` with its ``Error``, and the gateway answers 404 as
``application/problem+json`` when the service is gone), the status lists both media types, and
each JSON media type's schema is ``anyOf`` [the gateway's problem, the upstream's schema].

Why not one precise schema per media type: code generators that parse by status read one media
type per status (openapi-python-client takes the first JSON one and ignores ``Content-Type``), so
a client generated from the precise document fails on whichever body it did not expect
(``KeyError: 'code'`` on the gateway's problem). Every body that comes back fits the union, a
generated client tries each schema in turn, and the description says which media type carries
which.

Every operation requires the gateway's access token (``security`` per operation); the token URL
is the document's server, the gateway. Every operation takes the optional ``Xyb-Purpose`` header
(why a call reads a resident's data, for their access log), and every answer carries
``Xyb-Request-Digest`` (the digest of the request as the gateway received it).
"""

from __future__ import annotations

import copy
from typing import Any

from app.core.errors import PROBLEM_MEDIA_TYPE
from app.core.openapi import PROBLEM_SCHEMAS, Scheme, access_token_scheme
from app.gateway.purpose import MAX_PURPOSE_CHARS
from app.identity.roles import ALL_ROLES
from app.services.audit.digests import HEADER as DIGEST_HEADER
from app.services.openapi.merge import drop_unused_components

# An application's token carries the roles it asks for (all of its own by default).
ROLE_SCOPES = {role: f"the {role} role, when the client holds it" for role in sorted(ALL_ROLES)}

_PROBLEM = "GatewayProblem"
_DIGEST = "GatewayRequestDigest"
_PURPOSE = "GatewayPurpose"
_DIGEST_HEADER = {
    "description": (
        "SHA-256 of the request as the gateway received it: the method, a space, the request"
        " target (path and query as sent), a line feed, then the body"
        " (RFC 8941 byte sequence: sha-256=:<base64>:). The call's audit record holds the same"
        " digest."
    ),
    "schema": {"type": "string", "pattern": "^sha-256=:[A-Za-z0-9+/]{43}=:$"},
}
_PURPOSE_PARAMETER = {
    "name": "Xyb-Purpose",
    "in": "header",
    "required": False,
    "description": (
        "Why this call reads a resident's personal data, for the resident's access log (else"
        " the service's data classification is recorded). Never forwarded upstream."
    ),
    "schema": {"type": "string", "minLength": 1, "maxLength": MAX_PURPOSE_CHARS},
}
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


def _names(taken: dict[str, Any]) -> tuple[str, str]:
    """The problem schemas' names: a service's own schema of the same name keeps its name."""

    def free(name: str) -> str:
        candidate, n = name, 2
        while candidate in taken:
            candidate, n = f"{name}_{n}", n + 1
        return candidate

    return free(_PROBLEM), free(_VALIDATION)


def _schemas(problem_name: str, validation_name: str) -> dict[str, Any]:
    problem = copy.deepcopy(PROBLEM_SCHEMAS["Problem"])
    validation = copy.deepcopy(PROBLEM_SCHEMAS["ValidationProblem"])
    validation["allOf"][0] = {"$ref": f"#/components/schemas/{problem_name}"}
    return {problem_name: problem, validation_name: validation}


def _is_json(media_type: object) -> bool:
    essence = str(media_type).split(";", 1)[0].strip().lower()
    return essence == "application/json" or essence.endswith("+json")


def _anything(schema: object) -> bool:
    return schema is None or schema == {} or schema is True


def _with_gateway(response: dict[str, Any], gateway: dict[str, Any], description: str) -> None:
    """Add the gateway's problem to a status the upstream documents too (see the docstring)."""
    content = response.setdefault("content", {})
    json_media = [m for t, m in content.items() if _is_json(t) and isinstance(m, dict)]
    members: list[Any] = []
    for media in json_media:
        schema = media.get("schema")
        if not _anything(schema) and schema != gateway and schema not in members:
            members.append(schema)
    problem = content.get(PROBLEM_MEDIA_TYPE)
    if problem is None:
        problem = content[PROBLEM_MEDIA_TYPE] = {"schema": gateway}
        json_media.append(problem)
    if members:
        # One union under every JSON media type: whichever a generator reads, it parses both.
        # The problem first: its four required members make a generated client's try-in-turn
        # exact, where an upstream schema requiring nothing would accept the problem too.
        union = {"anyOf": [gateway, *members]}
        for media in json_media:
            if not _anything(media.get("schema")):  # "anything" already admits the problem
                media["schema"] = copy.deepcopy(union)
    upstream = str(response.get("description") or "").strip()
    response["description"] = (
        f"{upstream}\n\nOr, as {PROBLEM_MEDIA_TYPE}, the gateway's own problem: {description}."
    )


def add_gateway_responses(document: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``document`` whose operations also document the gateway's own problems and its
    access token. The document's first server is the gateway (as the merge makes it)."""
    doc = copy.deepcopy(document)
    components = doc.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    problem_name, validation_name = _names(schemas)
    schemas.update(_schemas(problem_name, validation_name))
    servers = doc.get("servers") or [{"url": ""}]
    # The services' own schemes were dropped by the merge: callers hold the gateway's token.
    components["securitySchemes"] = {
        Scheme.ACCESS: access_token_scheme(servers[0]["url"], ROLE_SCOPES)
    }
    doc.pop("security", None)
    digest_name = _free(components.setdefault("headers", {}), _DIGEST)
    components["headers"][digest_name] = _DIGEST_HEADER
    purpose_name = _free(components.setdefault("parameters", {}), _PURPOSE)
    components["parameters"][purpose_name] = _PURPOSE_PARAMETER
    digest = {"$ref": f"#/components/headers/{digest_name}"}
    purpose = {"$ref": f"#/components/parameters/{purpose_name}"}
    for path_item in doc.get("paths", {}).values():
        if not isinstance(path_item, dict):
            continue
        shared_params = bool(path_item.get("parameters"))
        for method in _METHODS:
            operation = path_item.get(method)
            if not isinstance(operation, dict):
                continue
            operation["security"] = [{Scheme.ACCESS: []}]
            has_body = "requestBody" in operation
            has_input = has_body or shared_params or bool(operation.get("parameters"))
            responses = operation.setdefault("responses", {})
            for status, (description, applies) in _GATEWAY_STATUSES.items():
                if applies == "body" and not has_body:
                    continue
                if applies == "input" and not has_input:
                    continue
                name = validation_name if status == "422" else problem_name
                gateway = {"$ref": f"#/components/schemas/{name}"}
                response = responses.get(status)
                if response is None:
                    responses[status] = {
                        "description": f"Gateway: {description}",
                        "content": {PROBLEM_MEDIA_TYPE: {"schema": gateway}},
                    }
                    continue
                # The upstream's own answer (a shared one copied in), and the gateway's.
                response = copy.deepcopy(
                    _resolve(doc, response) if "$ref" in response else response
                )
                _with_gateway(response, gateway, description)
                responses[status] = response
            _add_purpose(operation, purpose)
            for status, response in list(responses.items()):
                if not isinstance(response, dict):
                    continue
                if "$ref" in response:  # a shared response: this operation's copy gets the header
                    response = responses[status] = copy.deepcopy(_resolve(doc, response))
                response.setdefault("headers", {})[DIGEST_HEADER] = dict(digest)
    drop_unused_components(doc)  # shared responses copied in above may be unused now
    return doc


def _free(taken: dict[str, Any], name: str) -> str:
    """``name``, or ``name`` with a number, whichever the document does not use yet."""
    found, n = name, 1
    while found in taken:
        n += 1
        found = f"{name}{n}"
    return found


def _add_purpose(operation: dict[str, Any], purpose: dict[str, str]) -> None:
    """The optional Xyb-Purpose header, unless the operation declares a header of that name."""
    parameters = operation.setdefault("parameters", [])
    for parameter in parameters:
        if (
            isinstance(parameter, dict)
            and str(parameter.get("in", "")).lower() == "header"
            and str(parameter.get("name", "")).lower() == "xyb-purpose"
        ):
            return
    parameters.append(dict(purpose))


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
