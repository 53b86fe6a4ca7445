"""Response models of the operators' API (they document /ops in the gateway's OpenAPI)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class TargetOut(BaseModel):
    name: str = Field(description="items_online, one_network, license_types or users")
    label: str
    target: int = Field(description="the year-end target (XYB_TARGET_*)")
    current: int
    ratio: float = Field(description="current / target")
    rate_per_day: float = Field(
        description="(current - the snapshot 7 days ago, or the oldest since) / days between"
    )
    rate_since: str | None = Field(description="the day of the snapshot the rate starts from")
    rate_days: int
    projected: int = Field(description="floor(current + rate_per_day * days_left), at least 0")
    on_track: bool = Field(description="projected >= target")
    source: str = Field(description="where the current value comes from")


class TargetsOut(BaseModel):
    as_of: str
    today: str
    year_end: str
    days_left: int
    window_days: int
    targets: list[TargetOut]


class BreakerOut(BaseModel):
    state: str = Field(description="closed, open or half_open")
    failures: int
    threshold: int
    cooldown_s: float
    last_error: str | None
    in_flight: int
    max_concurrency: int


class FailureOut(BaseModel):
    at: str
    status: int
    outcome: str
    operation: str | None


class RecentOut(BaseModel):
    calls: int
    errors: int
    faults: int
    error_rate: float
    fault_rate: float
    p50_ms: float | None
    p95_ms: float | None
    since: str | None
    last_failure: FailureOut | None


class StatsOut(BaseModel):
    calls: int
    errors: int = Field(description="calls whose outcome is not success")
    faults: int = Field(description="upstream and gateway errors")
    error_rate: float
    mean_ms: float | None
    upstream_mean_ms: float | None
    p50_ms: float | None
    p95_ms: float | None
    p50_at_least: bool = Field(
        description="p50_ms fell in the histogram's open last bucket: the calls took at least"
        " that long (10,000 ms), how much longer is not kept"
    )
    p95_at_least: bool = Field(description="the same for p95_ms")
    outcomes: dict[str, int] = Field(
        description="calls per outcome: success, caller_error, upstream_error (the upstream's"
        " fault), gateway_error (the gateway's)"
    )


class HourOut(StatsOut):
    fault_rate: float


class ServiceOut(BaseModel):
    id: int
    service: str
    division: str
    division_name: str | None
    slug: str
    name: str
    status: str
    version: int
    connector: str
    upstream: str
    data_classification: str
    operations: int
    updated_at: str | None
    retired_at: str | None
    breaker: BreakerOut | None
    last_error: str | None
    recent: RecentOut
    last_hour: HourOut


class ServicesOut(BaseModel):
    as_of: str
    last_hour_since: str
    recent_window: str
    services: list[ServiceOut]


class GroupOut(StatsOut):
    key: dict[str, Any]
    label: str


class CountFiltersOut(BaseModel):
    division: list[str] | None
    service_ids: list[int] | None
    outcome: list[str] | None


class AccessCountsOut(BaseModel):
    group_by: list[str]
    since: str | None
    until: str | None
    filters: CountFiltersOut
    limit: int
    quantiles: str
    groups: list[GroupOut]
    truncated: bool
    totals: StatsOut
