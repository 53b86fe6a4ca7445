"""The 12345 system's status callbacks (POST /callbacks/hotline): the one way the hotline system
reaches the gateway; everything residents do goes through /gw/430000/hotline."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from pydantic import BaseModel
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from app.core.deps import ResourcesDep
from app.core.openapi import problem_responses
from app.services.hotline import callbacks

log = logging.getLogger("xyb.routers.hotline")

router = APIRouter(tags=["hotline"])

# The security scheme /openapi.json names for the callback: the 12345 system's signature.
SIGNATURE_SCHEME = "hotlineSignature"
SIGNATURE_SCHEME_DOC = {
    "type": "apiKey",
    "in": "header",
    "name": "X-Hotline-Signature",
    "description": "The 12345 system's signature: sha256= and the hex HMAC-SHA256, under"
    " XYB_HOTLINE_CALLBACK_SECRET, of X-Hotline-Timestamp (Unix seconds, within"
    " XYB_HOTLINE_CALLBACK_TOLERANCE of the gateway's clock), '.', and the raw body.",
}


class CallbackAnswer(BaseModel):
    ticket: str
    applied: bool  # a transition the gateway did not have
    duplicate: bool  # a redelivery of one it had: nothing changed


@router.post(
    "/callbacks/hotline",
    response_model=CallbackAnswer,
    responses=problem_responses(401, 404, 409, 422, 503),
    summary="The 12345 system's status callback",
    openapi_extra={"security": [{SIGNATURE_SCHEME: []}]},
)
async def hotline_callback(request: Request, resources: ResourcesDep) -> CallbackAnswer:
    """One transition of a ticket filed through the gateway, signed by the 12345 system
    (X-Hotline-Timestamp, X-Hotline-Signature: sha256= HMAC of "timestamp.body"). Applied once:
    a redelivery answers ``duplicate``; an exact replay is 409; 503 means nothing was applied
    and the sender should retry."""
    settings = resources.settings
    body = await request.body()
    now = request.app.state.clock()
    signature = callbacks.authenticate(
        callbacks.callback_secret(settings),
        signature=request.headers.get(callbacks.SIGNATURE_HEADER),
        timestamp=request.headers.get(callbacks.TIMESTAMP_HEADER),
        body=body,
        now=now,
        tolerance=settings.hotline_callback_tolerance,
    )
    event, number, reference, entry = callbacks.parse(body)
    try:
        done = await callbacks.receive(
            resources.sessionmaker,
            settings,
            signature=signature,
            event=event,
            number=number,
            reference=reference,
            entry=entry,
            now=now,
        )
    except (DBAPIError, PoolTimeout, OSError) as exc:
        # The database's own failures (unreachable, down, its pool exhausted); a statement that
        # fails on what the callback holds is the callback's fault and answered as such.
        log.warning(
            "hotline callback not applied: the database is unavailable",
            extra={"event": event, "error": type(exc).__name__},
        )
        raise callbacks.CallbackNotApplied(
            "The gateway could not record this callback (its database is unavailable); nothing"
            " was applied. Send it again.",
            headers={"Retry-After": str(callbacks.RETRY_AFTER_S)},
        ) from None
    return CallbackAnswer(ticket=done.ticket, applied=done.applied, duplicate=done.duplicate)
