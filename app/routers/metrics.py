"""``GET /metrics``: Prometheus exposition of this process's gateway figures.

Labels are bounded: a service is its key ``division/slug`` (or ``none`` when a call matched no
service) and an outcome is one of four; clients and users never become labels. Each app has its
own ``CollectorRegistry`` (not the process-global one), filled at scrape time from the access
counter and the route table, so nothing is updated on the request path for Prometheus' sake.

Access: the operator role (an operator client's access token, or the admin token) or the scrape
token ``XYB_METRICS_TOKEN``, as ``Authorization: Bearer <token>``.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import PlainTextResponse, Response
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4, generate_latest
from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from app.core.config import Settings
from app.core.openapi import problem_responses
from app.core.security import Caller, bearer_token, require
from app.gateway.resilience import BreakerState
from app.gateway.routetable import RouteTableManager
from app.identity.roles import Role
from app.models.counting import LATENCY_BOUNDS_MS
from app.services.counting import Counter

router = APIRouter(tags=["operations"])

BREAKER_VALUES = {BreakerState.CLOSED: 0, BreakerState.HALF_OPEN: 1, BreakerState.OPEN: 2}
_BUCKET_BOUNDS = [f"{bound / 1000:g}" for bound in LATENCY_BOUNDS_MS] + ["+Inf"]


class GatewayCollector(Collector):
    """Reads the app's counter and route table at scrape time."""

    def __init__(self, app: FastAPI) -> None:
        self._state = app.state

    def collect(self) -> Iterable[Metric]:
        counter: Counter | None = getattr(self._state, "counter", None)
        if counter is not None:
            yield from _request_metrics(counter)
            yield from _counter_metrics(counter)
        yield _breaker_metric(getattr(self._state, "routes", None))


def _request_metrics(counter: Counter) -> Iterable[Metric]:
    requests = CounterMetricFamily(
        "xyb_gateway_requests",
        "Calls through /gw, by service (division/slug, or none) and outcome.",
        labels=["service", "outcome"],
    )
    latency = HistogramMetricFamily(
        "xyb_gateway_request_duration_seconds",
        "Whole-call latency of calls through /gw, by service and outcome.",
        labels=["service", "outcome"],
    )
    for (service, outcome), totals in sorted(counter.totals().items()):
        labels = [service, str(outcome)]
        requests.add_metric(labels, totals.calls)
        cumulative = 0
        buckets: list[tuple[str, float]] = []
        for bound, count in zip(_BUCKET_BOUNDS, totals.buckets, strict=True):
            cumulative += count
            buckets.append((bound, cumulative))
        latency.add_metric(labels, buckets, totals.total_ms / 1000)
    yield requests
    yield latency


def _counter_metrics(counter: Counter) -> Iterable[Metric]:
    stats = counter.stats()
    yield GaugeMetricFamily(
        "xyb_counter_flush_lag_seconds",
        "Seconds since the access counter last had nothing left to write to the database.",
        value=stats.flush_lag_seconds,
    )
    yield GaugeMetricFamily(
        "xyb_counter_pending_batches",
        "Batches of access counts cut but not yet written (the database is slow or down).",
        value=stats.pending_batches,
    )
    yield CounterMetricFamily(
        "xyb_counter_dropped_events",
        "Access events dropped because the database stayed down too long (pending cap).",
        value=stats.dropped_events,
    )
    yield CounterMetricFamily(
        "xyb_counter_duplicate_events",
        "Access events ignored because their event id had already been counted.",
        value=stats.duplicates,
    )
    yield CounterMetricFamily(
        "xyb_counter_flush_failures",
        "Failed attempts to write a batch of access counts (each retried later).",
        value=stats.flush_failures,
    )


def _breaker_metric(routes: RouteTableManager | None) -> Metric:
    gauge = GaugeMetricFamily(
        "xyb_gateway_breaker_state",
        "Circuit breaker per service: 0 closed, 1 half-open, 2 open.",
        labels=["service"],
    )
    if routes is not None:
        for entry in sorted(routes.table.services.values(), key=lambda e: e.key):
            gauge.add_metric([entry.key], BREAKER_VALUES[entry.breaker.state])
    return gauge


def registry_of(app: FastAPI) -> CollectorRegistry:
    """The app's own registry (created on first use)."""
    registry: CollectorRegistry | None = getattr(app.state, "metrics_registry", None)
    if registry is None:
        registry = CollectorRegistry(auto_describe=False)
        registry.register(GatewayCollector(app))
        app.state.metrics_registry = registry
    return registry


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
)
async def metrics(
    request: Request, _caller: Annotated[Caller | None, Depends(metrics_access)]
) -> Response:
    """This process's gateway metrics for Prometheus: calls and latency by service and outcome,
    breaker state per service, the access counter's flush lag, pending batches and drops.

    Needs the operator role or the scrape token (`XYB_METRICS_TOKEN`) as a bearer token.
    """
    body = generate_latest(registry_of(request.app))
    return Response(body, media_type=CONTENT_TYPE_PLAIN_0_0_4)
