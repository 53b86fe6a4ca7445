"""Checks a request against its operation's compiled validator, raising the right problem."""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import parse_qsl

from app.core.errors import GatewayError, MalformedBody, ValidationFailed, register_problem_type
from app.gateway.matcher import Match
from app.gateway.routetable import RouteOperation, ServiceEntry
from app.services.openapi import FieldError, error_status

UNSUPPORTED_MEDIA_TYPE = register_problem_type(
    "unsupported-media-type",
    415,
    "Unsupported media type",
    "The operation does not accept a body of this Content-Type; accepted lists the ones it does.",
)


class UnsupportedMediaType(GatewayError):
    problem = UNSUPPORTED_MEDIA_TYPE


def check_request(
    entry: ServiceEntry,
    operation: RouteOperation,
    match: Match[RouteOperation],
    headers: Sequence[tuple[str, str]],
    query: str,
    body: bytes,
) -> None:
    """Raise a problem if the request does not fit the operation's parameters and body."""
    validator = entry.validator(operation)
    header_map: dict[str, str] = {}
    for name, value in headers:
        lower = name.lower()
        header_map[lower] = f"{header_map[lower]}, {value}" if lower in header_map else value
    result = validator.validate(
        path_params=match.params,
        query=parse_qsl(query, keep_blank_values=True),
        headers=header_map,
        content_type=header_map.get("content-type"),
        body=body,
    )
    if result:
        raise_for(result, entry, operation, validator.media_types)


def raise_for(
    errors: Sequence[FieldError],
    entry: ServiceEntry,
    operation: RouteOperation,
    accepted: Sequence[str],
) -> None:
    """Turn validation errors into the caller's problem: 415, 400 or 422."""
    status = error_status(errors)
    where = f"{operation.method} {operation.path} of {entry.key}"
    listed = [e.as_dict() for e in errors]
    if status == 415:
        detail = next(e.detail for e in errors if e.kind == "unsupported-media-type")
        raise UnsupportedMediaType(
            f"{where} does not accept this body: {detail}",
            extensions={"accepted": list(accepted)},
        )
    if status == 400:
        malformed = [e for e in errors if e.kind == "malformed"]
        raise MalformedBody(
            f"{where}: {malformed[0].detail}",
            extensions={"errors": [e.as_dict() for e in malformed]},
        )
    count = len(listed)
    raise ValidationFailed(
        f"{count} part{'s' if count != 1 else ''} of the request to {where} did not validate.",
        errors=listed,
    )
