"""``GET /metrics``: Prometheus exposition of this instance's gateway figures, every worker's.

What the figures are and how several workers' figures become one answer that never goes
backwards: ``app.services.metrics``. Nothing is updated on the request path for Prometheus'
sake.

Access: the operator role (an operator client's access token, or the admin token) or the scrape
token ``XYB_METRICS_TOKEN``, as ``Authorization: Bearer <token>``.
"""

from __future__ import annotations

import hmac
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import PlainTextResponse, Response
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4

from app.core.config import Settings
from app.core.openapi import Scheme, problem_responses, security
from app.identity.callers import Caller, bearer_token, require
from app.identity.roles import Role
from app.services.metrics import InstanceMetrics

router = APIRouter(tags=["operations"])


_operator = require(Role.OPERATOR)


def metrics_access(request: Request) -> Caller | None:
    """The scrape token, or a caller with the operator role (401 / 403 otherwise)."""
    token = bearer_token(request.headers.get("authorization"))
    settings: Settings = request.app.state.settings
    scrape = settings.metrics_token.get_secret_value() if settings.metrics_token else ""
    if scrape and hmac.compare_digest(token.encode(), scrape.encode()):
        return None
    return _operator(request)


_TEXT_FORMAT: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The Prometheus text exposition format (version 0.0.4).",
        "content": {"text/plain": {"schema": {"type": "string"}}},
    }
}


@router.get(
    "/metrics",
    response_class=PlainTextResponse,
    responses={**_TEXT_FORMAT, **problem_responses(401, 403)},
    summary="Prometheus metrics",
    openapi_extra=security(Scheme.ACCESS, Scheme.ADMIN, Scheme.METRICS),  # see metrics_access
)
async def metrics(
    request: Request, _caller: Annotated[Caller | None, Depends(metrics_access)]
) -> Response:
    """This instance's gateway metrics for Prometheus, summed over its workers: calls and latency
    by service and outcome, breaker state per service, the access counter's flush lag, pending
    batches and drops. Counters never go backwards, whichever worker answers.

    Needs the operator role or the scrape token (`XYB_METRICS_TOKEN`) as a bearer token.
    """
    metrics: InstanceMetrics = request.app.state.metrics
    return Response(metrics.exposition(), media_type=CONTENT_TYPE_PLAIN_0_0_4)
