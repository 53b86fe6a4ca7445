"""Keeps the gateway's own OpenAPI document honest about its errors and its credentials.

FastAPI documents validation errors as ``HTTPValidationError`` in ``application/json``; the
gateway answers ``application/problem+json``. Every operation also gets a ``default`` problem
response, because any route can answer 400, 404, 405, 413 or 500 from the edge.

Credentials: every operation carries its own ``security`` (``[]`` for the public ones), naming
schemes from :func:`security_schemes`. A route that checks a caller through
``app.identity.callers`` declares the tokens it takes with FastAPI's ``Security`` dependencies
(:data:`AccessOrAdminToken`, :data:`AccessTokenOnly`), which check nothing themselves; a route that
checks its caller in its own code says so with ``openapi_extra=security(...)``. A test calls every
operation without credentials: ``security: []`` must mean that no 401 comes back.
"""

from __future__ import annotations

from enum import StrEnum
from http import HTTPStatus
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Security
from fastapi.openapi.models import OAuthFlowClientCredentials, OAuthFlowPassword, OAuthFlows
from fastapi.openapi.utils import get_openapi
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer, OAuth2

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


# -- credentials ---------------------------------------------------------------------------------

OAUTH_ENDPOINT = "/identity/token"


class Scheme(StrEnum):
    """Security scheme names, as operations' ``security`` requirements name them."""

    ACCESS = "accessToken"
    ADMIN = "adminToken"
    CLIENT_BASIC = "clientSecretBasic"
    METRICS = "metricsToken"
    OPS_SESSION = "opsSession"


def access_token_scheme(public_url: str, scopes: dict[str, str]) -> dict[str, Any]:
    """The OAuth 2.0 access tokens of ``POST /identity/token``, with the flows a client uses
    and the ``scopes`` an application may ask for (a resident's token has none)."""
    # Absolute: a relative tokenUrl resolves against the server URL, which may carry a path.
    token_url = public_url + OAUTH_ENDPOINT
    return {
        "type": "oauth2",
        "description": "An access token (EdDSA JWT) from POST /identity/token: the"
        " client_credentials grant for applications (their roles decide the admin and"
        " operator routes), the password grant for residents (ID number or phone), rotated"
        " with the refresh_token grant; a partner app's ID token is exchanged for one with the"
        " token-exchange grant (RFC 8693). Send it as 'Authorization: Bearer <token>'.",
        "flows": {
            "clientCredentials": {"tokenUrl": token_url, "scopes": dict(scopes)},
            "password": {"tokenUrl": token_url, "refreshUrl": token_url, "scopes": {}},
        },
    }


def security_schemes(public_url: str, scopes: dict[str, str]) -> dict[str, Any]:
    """Every way a caller of the gateway's own API authenticates."""
    return {
        Scheme.ACCESS: access_token_scheme(public_url, scopes),
        Scheme.ADMIN: {
            "type": "http",
            "scheme": "bearer",
            "description": "XYB_ADMIN_TOKEN, the platform admin's bootstrap token: every admin"
            " and operator route takes it.",
        },
        Scheme.CLIENT_BASIC: {
            "type": "http",
            "scheme": "basic",
            "description": "A client's id and secret (RFC 6749 §2.3.1); client_id and"
            " client_secret in the form work too.",
        },
        Scheme.METRICS: {
            "type": "http",
            "scheme": "bearer",
            "description": "XYB_METRICS_TOKEN, for a Prometheus scraper.",
        },
    }


def security(*schemes: Scheme, optional: bool = False) -> dict[str, Any]:
    """``openapi_extra=`` of a route that checks its caller in its own code: any one of
    ``schemes`` is accepted (or no credential at all, when ``optional``)."""
    return {"security": [{name: []} for name in schemes] + ([{}] if optional else [])}


# FastAPI lists a route's ``Security`` dependencies as its security requirements, each one an
# alternative. These read the Authorization header and check nothing: app.identity.callers does.
_ACCESS = OAuth2(
    flows=OAuthFlows(
        clientCredentials=OAuthFlowClientCredentials(tokenUrl=OAUTH_ENDPOINT),
        password=OAuthFlowPassword(tokenUrl=OAUTH_ENDPOINT),
    ),
    scheme_name=Scheme.ACCESS,
    auto_error=False,
)
_ADMIN = HTTPBearer(scheme_name=Scheme.ADMIN, auto_error=False)


def _access_or_admin(
    _access: Annotated[str | None, Security(_ACCESS)],
    _admin: Annotated[HTTPAuthorizationCredentials | None, Security(_ADMIN)],
) -> None:
    """Documents that a route takes an access token or the admin token."""


AccessOrAdminToken = Annotated[None, Depends(_access_or_admin)]
AccessTokenOnly = Annotated[str | None, Security(_ACCESS)]


def _requirements(operation: dict[str, Any], declared: dict[str, Any]) -> list[dict[str, Any]]:
    """The operation's security requirements without repeats (``[]``: public)."""
    out: list[dict[str, Any]] = []
    for requirement in operation.get("security", []):
        unknown = set(requirement) - declared.keys()
        if unknown:
            raise RuntimeError(f"security scheme(s) {sorted(unknown)} are not declared")
        if requirement not in out:
            out.append(requirement)
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


def _rewrite(schema: dict[str, Any], schemes: dict[str, Any]) -> dict[str, Any]:
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components.pop("HTTPValidationError", None)
    components.pop("ValidationError", None)
    components.update(PROBLEM_SCHEMAS)
    schema["components"]["securitySchemes"] = schemes
    for path_item in schema.get("paths", {}).values():
        for operation in path_item.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            _declare_parameters(operation)
            operation["security"] = _requirements(operation, schemes)
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


def install_openapi(
    app: FastAPI,
    public_url: str,
    *,
    scopes: dict[str, str],
    extra_schemes: dict[str, Any] | None = None,
) -> None:
    """Generate the document once, with problem+json errors and credentials throughout.

    ``public_url`` is the configured address (never a request's Host): the document's server
    and the token URL. ``scopes`` are those of the access token; ``extra_schemes`` adds
    security schemes that routes outside the core name (the dashboard's session cookie)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = _rewrite(
                get_openapi(
                    title=app.title,
                    version=app.version,
                    summary=app.summary,
                    description=app.description,
                    routes=app.routes,
                    tags=app.openapi_tags,
                    servers=[{"url": public_url}],
                    license_info=app.license_info,
                ),
                {**security_schemes(public_url, scopes), **(extra_schemes or {})},
            )
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
