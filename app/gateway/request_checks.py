"""Checks a request against its operation's compiled validator, raising the right problem."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from urllib.parse import parse_qsl

from app.core.errors import GatewayError, MalformedBody, ValidationFailed, register_problem_type
from app.gateway.matcher import Match
from app.gateway.routetable import RouteOperation, ServiceEntry
from app.services.openapi import FieldError, error_status
from app.services.openapi.keywords import MoveOffLoop

UNSUPPORTED_MEDIA_TYPE = register_problem_type(
    "unsupported-media-type",
    415,
    "Unsupported media type",
    "The operation does not accept a body of this Content-Type; accepted lists the ones it does.",
)


VALIDATION_BUSY = register_problem_type(
    "validation-busy",
    503,
    "Validation capacity busy",
    "Every worker that validates large requests is busy and none freed up in time; the request"
    " was not sent upstream. Retry-After says when to try again.",
)
# Bodies larger than this are validated in a worker thread from the start; a smaller request
# moves there once its validation passes LOOP_CHECKS schema checks.
OFFLOAD_BODY_BYTES = 16 * 1024
LOOP_CHECKS = 2_000


class UnsupportedMediaType(GatewayError):
    problem = UNSUPPORTED_MEDIA_TYPE


class ValidationBusy(GatewayError):
    problem = VALIDATION_BUSY


def check_request(
    entry: ServiceEntry,
    operation: RouteOperation,
    match: Match[RouteOperation],
    headers: Sequence[tuple[str, str]],
    query: str,
    body: bytes,
    *,
    pause_at: int | None = None,
    deadline: float | None = None,
) -> None:
    """Raise a problem if the request does not fit the operation's parameters and body.

    ``pause_at`` and ``deadline`` are the validation's (see ``RequestValidator.validate``): with
    ``pause_at``, :class:`MoveOffLoop` says the rest belongs in a worker thread.
    """
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
        pause_at=pause_at,
        deadline=deadline,
    )
    if result:
        raise_for(result, entry, operation, validator.media_types)


class RequestChecker:
    """Validates requests without letting one of them hold the event loop.

    Validation costs 1-30 µs per schema check, so a request's cost is bounded (the budget) but
    not small: a large body, or a document whose patterns fall back to RE2's slower engine, can
    cost seconds. A request is validated on the event loop only while it stays small: a body
    over :data:`OFFLOAD_BODY_BYTES`, or a validation that passes :data:`LOOP_CHECKS` checks
    (about 10-60 ms), is validated (again) in a worker thread, at most ``slots`` at a time per
    process; a validation there stops at ``timeout`` seconds (waiting for a slot included:
    503 when none frees up in time). The event loop, which serves every other call and
    ``/healthz``, is never held longer than one small validation.
    """

    def __init__(self, *, slots: int, timeout: float) -> None:
        self._slots = asyncio.Semaphore(slots)
        self._timeout = timeout

    async def check(
        self,
        entry: ServiceEntry,
        operation: RouteOperation,
        match: Match[RouteOperation],
        headers: Sequence[tuple[str, str]],
        query: str,
        body: bytes,
    ) -> None:
        if len(body) <= OFFLOAD_BODY_BYTES:
            try:
                check_request(entry, operation, match, headers, query, body, pause_at=LOOP_CHECKS)
                return
            except MoveOffLoop:
                pass
        deadline = time.monotonic() + self._timeout
        try:
            async with asyncio.timeout(self._timeout):
                await self._slots.acquire()
        except TimeoutError:
            raise ValidationBusy(
                f"The gateway is validating other large requests and none of its {self._timeout:g}"
                " s for this one is left; try again shortly.",
                headers={"Retry-After": "1"},
            ) from None
        try:
            await asyncio.to_thread(
                check_request, entry, operation, match, headers, query, body, deadline=deadline
            )
        finally:
            self._slots.release()


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
