"""Every onboarded service as an operator sees it first when something breaks.

Per service (active and retired): what it is (division, slug, name, version, connector, upstream
without credentials), its breaker (state, consecutive failures, last error, calls in flight: from
this instance's in-memory route table; retired services have none), and two views of its health:

- ``recent``: the access events this instance still holds in memory (``app.state.recent_events``,
  the last 1,000 calls through /gw), with exact latency quantiles and the last failure;
- ``last_hour``: the roll-ups of every instance for the current and the previous local hour (so
  60 to 120 minutes of calls), with quantiles from the histogram buckets.

Errors are calls whose outcome is not success; faults are the upstream's and the gateway's
(caller errors excluded). Services come worst first: open breakers, then half-open, then by
fault rate.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol
from urllib.parse import urlsplit, urlunsplit

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.config import Settings
from app.core.divisions import division as known_division
from app.events import AccessEvent, Outcome
from app.models.service import Operation, Service, ServiceStatus
from app.services.ops.clock import aware
from app.services.ops.counts import CountsQuery, Stats, run_counts
from app.services.ops.histogram import exact_quantile


# What this view reads of the gateway's live state (app.gateway.routetable's RouteTable and its
# entries fit): described here so that services need not import the /gw path.
class LiveBreaker(Protocol):
    @property
    def state(self) -> str: ...  # "closed" | "open" | "half_open"
    @property
    def failures(self) -> int: ...
    @property
    def threshold(self) -> int: ...
    @property
    def cooldown(self) -> float: ...
    @property
    def last_error(self) -> str | None: ...


class LiveLimit(Protocol):
    @property
    def in_flight(self) -> int: ...
    @property
    def limit(self) -> int: ...


class LiveService(Protocol):
    @property
    def id(self) -> int: ...
    @property
    def breaker(self) -> LiveBreaker: ...
    @property
    def limit(self) -> LiveLimit: ...


class LiveServices(Protocol):
    def find(self, division: str, slug: str) -> LiveService | None: ...


_FAULTS = frozenset({Outcome.UPSTREAM_ERROR, Outcome.GATEWAY_ERROR})
_BREAKER_ORDER = {"open": 0, "half_open": 1, "closed": 2, None: 3}


def redact_url(url: str) -> str:
    """The upstream URL without user:password@ (credentials never leave the admin API)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def _recent_stats(events: Sequence[AccessEvent]) -> dict[str, Any]:
    calls = len(events)
    errors = sum(1 for e in events if e.outcome is not Outcome.SUCCESS)
    faults = sum(1 for e in events if e.outcome in _FAULTS)
    latencies = [e.total_ms for e in events]
    failure = next((e for e in reversed(events) if e.outcome is not Outcome.SUCCESS), None)
    return {
        "calls": calls,
        "errors": errors,
        "faults": faults,
        "error_rate": errors / calls if calls else 0.0,
        "fault_rate": faults / calls if calls else 0.0,
        "p50_ms": _round(exact_quantile(0.5, latencies)),
        "p95_ms": _round(exact_quantile(0.95, latencies)),
        "since": min(e.at for e in events).isoformat() if events else None,
        "last_failure": (
            {
                "at": failure.at.isoformat(),
                "status": failure.status,
                "outcome": failure.outcome.value,
                "operation": failure.operation_id,
            }
            if failure is not None
            else None
        ),
    }


def _round(value: float | None) -> float | None:
    return round(value, 3) if value is not None else None


def _hour_stats(stats: Stats | None) -> dict[str, Any]:
    data = (stats or Stats.zero()).as_json()
    calls = data["calls"]
    data["fault_rate"] = data["faults"] / calls if calls else 0.0
    return data


async def services_overview(
    session: AsyncSession,
    settings: Settings,
    *,
    table: LiveServices,
    recent: Sequence[AccessEvent],
    now: datetime,
) -> dict[str, Any]:
    """The services view (see the module's docstring)."""
    operations = (
        select(Operation.service_id, func.count(Operation.id).label("n"))
        .group_by(Operation.service_id)
        .subquery()
    )
    rows = (
        await session.execute(
            select(
                Service.id,
                Service.division,
                Service.slug,
                Service.name,
                Service.status,
                Service.version,
                Service.connector,
                Service.upstream_url,
                Service.data_classification,
                Service.updated_at,
                Service.retired_at,
                func.coalesce(operations.c.n, 0),
            ).outerjoin(operations, operations.c.service_id == Service.id)
        )
    ).all()
    local = aware(now).astimezone(settings.tz).replace(tzinfo=None)
    since = local.replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
    hourly = await run_counts(
        session, settings, CountsQuery(group_by=("service",), since=since, until=None), {}
    )
    by_service = {group.key["service_id"]: group.stats for group in hourly.groups}
    events_by_service: dict[int, list[AccessEvent]] = {}
    for event in recent:
        if event.service_id is not None:
            events_by_service.setdefault(event.service_id, []).append(event)

    out: list[dict[str, Any]] = []
    for (
        sid,
        division,
        slug,
        name,
        status,
        version,
        connector,
        upstream,
        classification,
        updated_at,
        retired_at,
        n_operations,
    ) in rows:
        entry = table.find(division, slug) if status == ServiceStatus.ACTIVE.value else None
        if entry is not None and entry.id != sid:
            entry = None
        breaker: dict[str, Any] | None = None
        if entry is not None:
            breaker = {
                "state": str(entry.breaker.state),
                "failures": entry.breaker.failures,
                "threshold": entry.breaker.threshold,
                "cooldown_s": entry.breaker.cooldown,
                "last_error": entry.breaker.last_error,
                "in_flight": entry.limit.in_flight,
                "max_concurrency": entry.limit.limit,
            }
        found = known_division(division)
        out.append(
            {
                "id": sid,
                "service": f"{division}/{slug}",
                "division": division,
                "division_name": found.name if found else None,
                "slug": slug,
                "name": name,
                "status": status,
                "version": version,
                "connector": connector,
                "upstream": redact_url(upstream),
                "data_classification": classification,
                "operations": int(n_operations),
                "updated_at": aware(updated_at).isoformat() if updated_at else None,
                "retired_at": aware(retired_at).isoformat() if retired_at else None,
                "breaker": breaker,
                "last_error": breaker["last_error"] if breaker else None,
                "recent": _recent_stats(events_by_service.get(sid, [])),
                "last_hour": _hour_stats(by_service.get(sid)),
            }
        )
    out.sort(
        key=lambda s: (
            s["status"] != ServiceStatus.ACTIVE.value,
            _BREAKER_ORDER.get(s["breaker"]["state"] if s["breaker"] else None, 3),
            -max(s["recent"]["fault_rate"], s["last_hour"]["fault_rate"]),
            s["service"],
        )
    )
    return {
        "as_of": aware(now).astimezone(settings.tz).isoformat(),
        "last_hour_since": since.replace(tzinfo=settings.tz).isoformat(),
        "recent_window": "the last calls through /gw this instance holds in memory (1,000 at most)",
        "services": out,
    }
