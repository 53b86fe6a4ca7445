"""Errors as RFC 9457 problem details (``application/problem+json``).

Every error the gateway makes is one of the problem types registered here. A problem names where
the fault lies (``fault``): the ``caller`` (4xx), the ``gateway`` (500, and the 503 of a full
concurrency cap) or the ``upstream`` (502/503/504). ``instance`` is the request id, so a caller
can quote it to an operator.

The exception tree::

    GatewayError                      base; one handler renders every subclass
    ├── BadRequest                    400
    │   └── MalformedBody             400, a body that does not parse (JSON, form)
    ├── Unauthorized                  401
    ├── Forbidden                     403
    ├── NotFound                      404
    ├── MethodNotAllowed              405, carries the ``Allow`` header
    ├── RequestTimeout                408, a request head that did not arrive in time
    ├── Conflict                      409
    ├── PayloadTooLarge               413
    ├── ValidationFailed              422, carries ``errors``: [{pointer, detail}]
    ├── TooManyRequests               429
    ├── HeaderFieldsTooLarge          431, a request head over the size or field-count limit
    ├── InternalError                 500
    └── ServiceUnavailable            503 (the gateway itself is not ready)

An error class may set ``media_type``: the token endpoint's errors are the same documents sent as
``application/json``, as OAuth 2.0 (RFC 6749 §5.2) requires of them.

Pointers in ``errors`` are RFC 6901 JSON pointers into the request seen as one document,
``{"body": ..., "query": ..., "path": ..., "header": ..., "cookie": ...}``: ``/body/items/0/name``,
``/query/limit``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, ClassVar, Literal

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.routing import compile_path
from starlette.types import Scope

from app.core.context import request_id_of

PROBLEM_MEDIA_TYPE = "application/problem+json"

Fault = Literal["caller", "gateway", "upstream"]


@dataclass(frozen=True, slots=True)
class ProblemType:
    """One kind of problem: a stable ``type`` URI, a title, a status and what it means."""

    slug: str
    status: int
    title: str
    description: str
    # Whose fault, when the status alone says it wrong (a 503 of the gateway's own capacity).
    declared_fault: Fault | None = None

    @property
    def uri(self) -> str:
        # Relative to the gateway, so it resolves to this problem's description (GET /problems/…).
        return f"/problems/{self.slug}"

    @property
    def fault(self) -> Fault:
        if self.declared_fault is not None:
            return self.declared_fault
        if self.status in (502, 503, 504) and self.slug.startswith("upstream-"):
            return "upstream"
        return "caller" if self.status < 500 else "gateway"


PROBLEM_TYPES: dict[str, ProblemType] = {}


def register_problem_type(
    slug: str, status: int, title: str, description: str, *, fault: Fault | None = None
) -> ProblemType:
    """Register a problem type; slugs are unique and become part of the public API. ``fault``
    overrides whose fault the status implies."""
    if slug in PROBLEM_TYPES:
        raise ValueError(f"problem type {slug!r} registered twice")
    problem = ProblemType(slug, status, title, description, fault)
    PROBLEM_TYPES[slug] = problem
    return problem


BAD_REQUEST = register_problem_type(
    "bad-request", 400, "Bad request", "The request is malformed in a way no schema describes."
)
MALFORMED_BODY = register_problem_type(
    "malformed-body",
    400,
    "Malformed request body",
    "The body could not be parsed in the format its Content-Type declares (e.g. invalid JSON).",
)
UNAUTHORIZED = register_problem_type(
    "unauthorized", 401, "Authentication required", "Send valid credentials."
)
FORBIDDEN = register_problem_type(
    "forbidden", 403, "Forbidden", "The credentials are valid but do not allow this request."
)
NOT_FOUND = register_problem_type(
    "not-found",
    404,
    "Not found",
    "Nothing is served at this path, or the named thing does not exist.",
)
METHOD_NOT_ALLOWED = register_problem_type(
    "method-not-allowed",
    405,
    "Method not allowed",
    "The path exists but not with this method; the Allow header lists the methods that exist.",
)
CONFLICT = register_problem_type(
    "conflict", 409, "Conflict", "The request conflicts with the current state of a resource."
)
PAYLOAD_TOO_LARGE = register_problem_type(
    "payload-too-large",
    413,
    "Request body too large",
    "The body exceeds the limit of this route family; the limit is given in bytes.",
)
REQUEST_TIMEOUT = register_problem_type(
    "request-timeout",
    408,
    "Request timeout",
    "The request head (request line and header fields) did not arrive whole in time; the"
    " connection is closed. Send the request again.",
)
HEADER_FIELDS_TOO_LARGE = register_problem_type(
    "header-fields-too-large",
    431,
    "Request header fields too large",
    "The request head (request line and header fields) exceeds the gateway's limits: limit_bytes"
    " in size or limit_fields fields. The connection is closed.",
)
VALIDATION_FAILED = register_problem_type(
    "validation-failed",
    422,
    "Request validation failed",
    "Parts of the request do not fit the schema; each entry of errors has a JSON pointer into the"
    " request ({body, query, path, header, cookie}) and a sentence.",
)
TOO_MANY_REQUESTS = register_problem_type(
    "too-many-requests", 429, "Too many requests", "Slow down; Retry-After says when to try again."
)
INTERNAL_ERROR = register_problem_type(
    "internal-error",
    500,
    "Internal gateway error",
    "The gateway failed unexpectedly. Quote the instance (the request id) to an operator.",
)
NOT_READY = register_problem_type(
    "not-ready",
    503,
    "Gateway not ready",
    "A dependency of the gateway (its database, Redis) is unavailable; checks lists what is wrong.",
)


def _generic_problem(status: int) -> ProblemType:
    """A problem type for a status no specific type covers (e.g. a framework's 406)."""
    slug = f"http-{status}"
    existing = PROBLEM_TYPES.get(slug)
    if existing is not None:
        return existing
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Error"
    return register_problem_type(slug, status, phrase, f"HTTP {status} {phrase}.")


_BY_STATUS: dict[int, ProblemType] = {
    400: BAD_REQUEST,
    401: UNAUTHORIZED,
    403: FORBIDDEN,
    404: NOT_FOUND,
    405: METHOD_NOT_ALLOWED,
    409: CONFLICT,
    413: PAYLOAD_TOO_LARGE,
    422: VALIDATION_FAILED,
    429: TOO_MANY_REQUESTS,
    500: INTERNAL_ERROR,
    503: NOT_READY,
}


def problem_type_for_status(status: int) -> ProblemType:
    return _BY_STATUS.get(status) or _generic_problem(status)


class GatewayError(Exception):
    """Base of the errors the gateway makes; rendered as problem+json by one handler."""

    problem: ClassVar[ProblemType] = INTERNAL_ERROR
    media_type: ClassVar[str] = PROBLEM_MEDIA_TYPE

    def __init__(
        self,
        detail: str,
        *,
        headers: Mapping[str, str] | None = None,
        extensions: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.headers = dict(headers or {})
        self.extensions = dict(extensions or {})


class BadRequest(GatewayError):
    problem = BAD_REQUEST


class MalformedBody(BadRequest):
    problem = MALFORMED_BODY


class Unauthorized(GatewayError):
    problem = UNAUTHORIZED


class Forbidden(GatewayError):
    problem = FORBIDDEN


class NotFound(GatewayError):
    problem = NOT_FOUND


class MethodNotAllowed(GatewayError):
    problem = METHOD_NOT_ALLOWED

    def __init__(self, detail: str, *, allow: Iterable[str]) -> None:
        methods = sorted(set(allow))
        super().__init__(
            detail, headers={"Allow": ", ".join(methods)}, extensions={"allow": methods}
        )


class Conflict(GatewayError):
    problem = CONFLICT


class PayloadTooLarge(GatewayError):
    problem = PAYLOAD_TOO_LARGE


class RequestTimeout(GatewayError):
    problem = REQUEST_TIMEOUT


class HeaderFieldsTooLarge(GatewayError):
    problem = HEADER_FIELDS_TOO_LARGE


class ValidationFailed(GatewayError):
    problem = VALIDATION_FAILED

    def __init__(self, detail: str, *, errors: Sequence[Mapping[str, Any]]) -> None:
        super().__init__(detail, extensions={"errors": [dict(e) for e in errors]})


class TooManyRequests(GatewayError):
    problem = TOO_MANY_REQUESTS


class InternalError(GatewayError):
    problem = INTERNAL_ERROR


class ServiceUnavailable(GatewayError):
    problem = NOT_READY


def json_pointer(parts: Iterable[str | int]) -> str:
    """RFC 6901 pointer from path segments."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def problem_body(
    problem: ProblemType,
    detail: str,
    instance: str | None,
    extensions: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": problem.uri,
        "title": problem.title,
        "status": problem.status,
        "detail": detail,
        "fault": problem.fault,
    }
    if instance is not None:
        body["instance"] = instance
    if extensions:
        for key, value in extensions.items():
            body.setdefault(key, value)
    return body


def problem_response(
    problem: ProblemType,
    detail: str,
    *,
    instance: str | None,
    headers: Mapping[str, str] | None = None,
    extensions: Mapping[str, Any] | None = None,
    media_type: str = PROBLEM_MEDIA_TYPE,
) -> Response:
    """A complete problem+json response (``media_type`` only for the token endpoint's errors)."""
    content = json.dumps(
        problem_body(problem, detail, instance, extensions), ensure_ascii=False, default=str
    ).encode("utf-8")
    return Response(
        content,
        status_code=problem.status,
        media_type=media_type,
        headers=dict(headers) if headers else None,
    )


def _method_index(app: FastAPI) -> list[tuple[re.Pattern[str], frozenset[str]]]:
    """(path regex, methods) of every route, built once: included routers are flattened through
    the OpenAPI paths (FastAPI wraps them, so scanning app.routes misses their methods)."""
    index: list[tuple[re.Pattern[str], frozenset[str]]] | None = getattr(
        app.state, "method_index", None
    )
    if index is None:
        index = []
        for template, item in app.openapi().get("paths", {}).items():
            methods = frozenset(m.upper() for m in item if m.upper() in _HTTP_METHODS)
            index.append((compile_path(template)[0], methods))
        for route in app.router.routes:
            route_methods = getattr(route, "methods", None)
            path = getattr(route, "path", None)
            if route_methods and isinstance(path, str):
                index.append((compile_path(path)[0], frozenset(route_methods)))
        app.state.method_index = index
    return index


_HTTP_METHODS = frozenset({"GET", "PUT", "POST", "DELETE", "OPTIONS", "HEAD", "PATCH", "TRACE"})


def _allowed_methods(app: FastAPI, scope: Scope) -> list[str]:
    """Every method served at this path, across all routes (Starlette reports only the first)."""
    path = scope["path"]
    methods: set[str] = set()
    for regex, route_methods in _method_index(app):
        if regex.match(path):
            methods.update(route_methods)
    return sorted(methods)


def _validation_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    errors: list[dict[str, Any]] = []
    for err in exc.errors():
        loc = [p for p in err.get("loc", ()) if p is not None]
        entry: dict[str, Any] = {"pointer": json_pointer(loc), "detail": str(err.get("msg", ""))}
        if err.get("type"):
            entry["type"] = err["type"]
        errors.append(entry)
    return errors


async def _gateway_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, GatewayError)
    return problem_response(
        exc.problem,
        exc.detail,
        instance=request_id_of(request.scope),
        headers=exc.headers,
        extensions=exc.extensions,
        media_type=exc.media_type,
    )


async def _http_exception_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    headers = dict(exc.headers or {})
    problem = problem_type_for_status(exc.status_code)
    detail = exc.detail if isinstance(exc.detail, str) else problem.title
    extensions: dict[str, Any] = {}
    if exc.status_code == 404 and detail == "Not Found":
        # Not repeating the path: it may carry personal data.
        detail = f"No route of the gateway matches this {request.method} path; /docs lists them."
    elif exc.status_code == 405:
        allow = _allowed_methods(request.app, request.scope) or headers.get("Allow", "").split(", ")
        headers["Allow"] = ", ".join(allow)
        extensions["allow"] = allow
        detail = f"{request.method} is not allowed here; allowed: {', '.join(allow)}."
    return problem_response(
        problem,
        detail,
        instance=request_id_of(request.scope),
        headers=headers,
        extensions=extensions,
    )


async def _request_validation_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    instance = request_id_of(request.scope)
    errors = _validation_errors(exc)
    malformed = [e for e in exc.errors() if e.get("type") == "json_invalid"]
    if malformed:
        reason = (malformed[0].get("ctx") or {}).get("error", "invalid JSON")
        position = [p for p in malformed[0].get("loc", ()) if isinstance(p, int)]
        where = f" (at character {position[0]})" if position else ""
        return problem_response(
            MALFORMED_BODY,
            f"The body is not valid JSON: {reason}{where}.",
            instance=instance,
            extensions={
                "errors": [{"pointer": "/body", "detail": f"not valid JSON: {reason}{where}"}]
            },
        )
    count = len(errors)
    detail = f"{count} part{'s' if count != 1 else ''} of the request did not validate."
    return problem_response(
        VALIDATION_FAILED, detail, instance=instance, extensions={"errors": errors}
    )


def install_error_handlers(app: FastAPI) -> None:
    """Render every framework and gateway error as problem+json."""
    app.add_exception_handler(GatewayError, _gateway_error_handler)
    app.add_exception_handler(StarletteHTTPException, _http_exception_handler)
    app.add_exception_handler(RequestValidationError, _request_validation_handler)
