"""Access-count queries over the hourly roll-ups (``access_counts``).

One or two group-by dimensions among service, operation, item, division, client, day and hour;
filters on a local time window, divisions, services and outcomes. The database does the work:
one ``SELECT … GROUP BY`` summing calls, errors and the histogram columns, ordered and limited
in SQL. Item and division are not stored in the roll-ups (an operation implies them): they come
from joining ``operations`` (service_id + operation_id) and ``services``. Counts of operations a
later version of a service no longer has therefore group under item ``null``. Items are labelled
with their catalog names; calls refused before a service was matched (service id 0: no or a bad
token, an unknown service, a loop) are labelled "refused before routing".

Time: roll-ups are hourly buckets keyed by local date and hour (``XYB_TIMEZONE``). ``since`` and
``until`` are local dates (``YYYY-MM-DD``; ``until`` includes its whole day) or ISO datetimes (naive
ones are local; the bucket containing ``since`` is included, the buckets starting at or after
``until`` are not). ``day`` groups by local date, ``hour`` by hourly bucket (local date and hour,
shown as an ISO datetime with the zone's offset). Without ``since`` the window is the 7 local days
ending with ``until`` (or today).

Ordering: by the time dimensions ascending when grouping by day or hour, otherwise by calls
(descending); ties by the other keys (bytewise on both backends), so SQLite and PostgreSQL give the
same rows in the same order.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.config import Settings
from app.core.divisions import HUNAN, divisions
from app.core.errors import ValidationFailed
from app.events import Outcome
from app.models.catalog import Item
from app.models.counting import AccessCount
from app.models.service import Operation, Service
from app.services.ops.histogram import BUCKET_COLUMNS, histogram_quantile, in_open_bucket

DIMENSIONS = ("service", "operation", "item", "division", "client", "day", "hour")
TIME_DIMENSIONS = frozenset({"day", "hour"})
OUTCOMES = tuple(o.value for o in Outcome)
ERROR_OUTCOMES = tuple(o.value for o in Outcome if o is not Outcome.SUCCESS)
FAULT_OUTCOMES = (Outcome.UPSTREAM_ERROR.value, Outcome.GATEWAY_ERROR.value)
MAX_GROUP_BY = 2
DEFAULT_LIMIT = 1000
MAX_LIMIT = 10_000
DEFAULT_DAYS = 7
QUANTILE_METHOD = (
    "linear interpolation within the histogram bucket holding the quantile (bounds 0, 5, 10,"
    " 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000 ms); a quantile in the open last bucket is"
    " reported as 10000 with p50_at_least or p95_at_least true: the calls took at least that"
    " long, how much longer is not kept"
)
# The label of calls refused before a service was matched (service id 0 in the roll-ups): no
# or a bad token, an unknown service, a path that names none, a loop back through the gateway.
REFUSED_BEFORE_ROUTING = "refused before routing"
MOMENT_FORMATS = [
    "YYYY-MM-DD (a local date)",
    "YYYY-MM-DDTHH:MM[:SS] (local time)",
    "YYYY-MM-DDTHH:MM[:SS]±HH:MM or …Z (converted to local time)",
]
_SERVICE_KEY = re.compile(r"^(\d{6})/([a-z0-9-]{2,40})$")
_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
# A '+' in an unencoded query string arrives as a space: "…T10:00 08:00" means "…T10:00+08:00".
_SPACED_OFFSET = re.compile(
    r"^([0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]+)?)?)"
    r" ([0-9]{2}:?[0-9]{2})$"
)


def comma_list(alternatives: str) -> str:
    return f"^(?:{alternatives})(?:,(?:{alternatives}))*$"


# What GET /ops/access-counts accepts, for its OpenAPI document (clients, Schemathesis); the
# parameters are declared as plain strings so that parse_counts_query reports every bad one at
# once, each with its allowed values.
COUNTS_PARAMETER_SCHEMAS: dict[str, dict[str, Any]] = {
    "group_by": {
        "required": True,
        "schema": {
            "type": "string",
            "enum": [
                *DIMENSIONS,
                *(f"{a},{b}" for a in DIMENSIONS for b in DIMENSIONS if a != b),
            ],
        },
    },
    "since": {
        "schema": {
            "type": "string",
            "anyOf": [{"format": "date"}, {"format": "date-time"}],
        }
    },
    "until": {
        "schema": {
            "type": "string",
            "anyOf": [{"format": "date"}, {"format": "date-time"}],
        }
    },
    "division": {
        "schema": {"type": "string", "pattern": comma_list("|".join(sorted(divisions())))}
    },
    "service": {
        "schema": {"type": "string", "pattern": comma_list(r"[0-9]{6}/[a-z0-9-]{2,40}|[0-9]{1,9}")}
    },
    "outcome": {"schema": {"type": "string", "pattern": comma_list("|".join(OUTCOMES))}},
    "limit": {"schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT}},
}


@dataclass(frozen=True, slots=True)
class ServiceRef:
    id: int
    division: str
    slug: str
    name: str
    status: str

    @property
    def key(self) -> str:
        return f"{self.division}/{self.slug}"


async def load_services(session: AsyncSession) -> dict[int, ServiceRef]:
    """Every onboarded service (active and retired), without documents."""
    rows = await session.execute(
        select(Service.id, Service.division, Service.slug, Service.name, Service.status)
    )
    return {row[0]: ServiceRef(*row) for row in rows}


@dataclass(frozen=True, slots=True)
class CountsQuery:
    group_by: tuple[str, ...]
    since: datetime  # local wall-clock start of the first bucket (naive)
    until: datetime | None  # local wall-clock start of the first bucket left out (naive)
    divisions: tuple[str, ...] = ()
    service_ids: frozenset[int] | None = None
    outcomes: tuple[str, ...] | None = None
    limit: int = DEFAULT_LIMIT


def _error(parameter: str, detail: str, allowed: Sequence[Any] | None = None) -> dict[str, Any]:
    entry: dict[str, Any] = {"pointer": f"/query/{parameter}", "detail": detail}
    if allowed is not None:
        entry["allowed"] = list(allowed)
    return entry


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.split(",")]


def _parse_moment(text: str, settings: Settings) -> date | datetime:
    """A local date, or a naive local datetime; ValueError otherwise."""
    value = text.strip()
    if not value.isascii() or len(value) > 40:
        raise ValueError(value)
    if _DATE.match(value):
        return date.fromisoformat(value)
    spaced = _SPACED_OFFSET.match(value)
    if spaced:
        value = f"{spaced.group(1)}+{spaced.group(2)}"
    if not value[:4].isdigit():
        raise ValueError(value)
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is not None:
        moment = moment.astimezone(settings.tz).replace(tzinfo=None)
    return moment


def _hour_floor(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def division_codes(code: str) -> set[str]:
    """``code`` and every division under it (a prefecture's counties; Hunan's everything)."""
    known = divisions()
    if code == HUNAN:
        return {c for c, d in known.items() if d.level != "partner"}
    return {code} | {c for c, d in known.items() if d.parent == code}


def parse_counts_query(
    *,
    settings: Settings,
    services: Mapping[int, ServiceRef],
    now: datetime,
    group_by: str | None,
    since: str | None = None,
    until: str | None = None,
    division: str | None = None,
    service: str | None = None,
    outcome: str | None = None,
    limit: str | None = None,
) -> CountsQuery:
    """Check every parameter; one 422 lists each bad one with the values it may take."""
    errors: list[dict[str, Any]] = []
    dims: tuple[str, ...] = ()
    if group_by is None or not group_by.strip():
        errors.append(
            _error(
                "group_by",
                "group_by is required: one or two of " + ", ".join(DIMENSIONS),
                DIMENSIONS,
            )
        )
    else:
        parts = _split(group_by)
        unknown = [p for p in parts if p not in DIMENSIONS]
        if unknown:
            errors.append(
                _error(
                    "group_by",
                    f"unknown dimension{'s' if len(unknown) > 1 else ''}"
                    f" {', '.join(repr(u[:40]) for u in unknown[:5])}; allowed: "
                    + ", ".join(DIMENSIONS),
                    DIMENSIONS,
                )
            )
        elif len(parts) > MAX_GROUP_BY:
            errors.append(
                _error(
                    "group_by",
                    f"at most {MAX_GROUP_BY} dimensions, not {len(parts)}; allowed: "
                    + ", ".join(DIMENSIONS),
                    DIMENSIONS,
                )
            )
        elif len(set(parts)) != len(parts):
            errors.append(
                _error(
                    "group_by",
                    "a dimension is repeated; give two different ones among "
                    + ", ".join(DIMENSIONS),
                    DIMENSIONS,
                )
            )
        else:
            dims = tuple(parts)

    local_now = now.astimezone(settings.tz).replace(tzinfo=None)
    start: datetime | None = None
    end: datetime | None = None
    for name, raw in (("since", since), ("until", until)):
        if raw is None or not raw.strip():
            continue
        try:
            moment = _parse_moment(raw, settings)
            if isinstance(moment, datetime):
                if name == "since":
                    start = _hour_floor(moment)
                else:
                    floor = _hour_floor(moment)
                    end = floor if floor == moment else floor + timedelta(hours=1)
            elif name == "since":
                start = datetime.combine(moment, datetime.min.time())
            else:
                end = datetime.combine(moment + timedelta(days=1), datetime.min.time())
        except (ValueError, OverflowError):
            errors.append(
                _error(
                    name,
                    f"{name} is not a date or datetime; allowed formats: "
                    + "; ".join(MOMENT_FORMATS),
                    MOMENT_FORMATS,
                )
            )
    if start is None and not any(e["pointer"] == "/query/since" for e in errors):
        last_day = (end - timedelta(microseconds=1)).date() if end else local_now.date()
        try:
            start = datetime.combine(
                last_day - timedelta(days=DEFAULT_DAYS - 1), datetime.min.time()
            )
        except OverflowError:
            start = datetime.min
    if start is not None and end is not None and end <= start:
        errors.append(
            _error("until", "until must come after since (the window would be empty)", None)
        )

    codes: list[str] = []
    if division is not None and division.strip():
        known = divisions()
        for code in _split(division):
            if code not in known:
                errors.append(
                    _error(
                        "division",
                        f"unknown division {code[:12]!r}; allowed: a GB/T 2260 code the"
                        " gateway knows (430000 for all of Hunan, a prefecture such as 430100"
                        " with its counties, a county, or a partner province)",
                        sorted(known),
                    )
                )
                break
            codes.append(code)

    service_ids: set[int] | None = None
    if service is not None and service.strip():
        by_key = {ref.key: ref.id for ref in services.values()}
        service_ids = set()
        for ref in _split(service):
            if ref.isascii() and ref.isdigit() and len(ref) <= 9 and int(ref) in services:
                service_ids.add(int(ref))
            elif ref in by_key:
                service_ids.add(by_key[ref])
            else:
                allowed = sorted(by_key)
                errors.append(
                    _error(
                        "service",
                        f"no onboarded service {ref[:50]!r}; allowed: division/slug or the id"
                        " of an onboarded service: " + (", ".join(allowed) or "(none yet)"),
                        allowed,
                    )
                )
                break

    outcomes: tuple[str, ...] | None = None
    if outcome is not None and outcome.strip():
        asked = _split(outcome)
        bad = [o for o in asked if o not in OUTCOMES]
        if bad:
            errors.append(
                _error(
                    "outcome",
                    f"unknown outcome {bad[0][:40]!r}; allowed: " + ", ".join(OUTCOMES),
                    OUTCOMES,
                )
            )
        else:
            outcomes = tuple(dict.fromkeys(asked))

    size = DEFAULT_LIMIT
    if limit is not None and limit.strip():
        text = limit.strip()
        if text.isascii() and text.isdigit() and len(text) <= 6 and 1 <= int(text) <= MAX_LIMIT:
            size = int(text)
        else:
            errors.append(
                _error("limit", f"limit is a whole number from 1 to {MAX_LIMIT}", [1, MAX_LIMIT])
            )

    if errors:
        detail = " ".join(f"{e['pointer'].removeprefix('/query/')}: {e['detail']}." for e in errors)
        raise ValidationFailed(detail, errors=errors)
    assert start is not None
    if codes:
        wanted: set[str] = set()
        for code in codes:
            wanted |= division_codes(code)
        in_divisions = {ref.id for ref in services.values() if ref.division in wanted}
        service_ids = in_divisions if service_ids is None else service_ids & in_divisions
    return CountsQuery(
        group_by=dims,
        since=start,
        until=end,
        divisions=tuple(codes),
        service_ids=frozenset(service_ids) if service_ids is not None else None,
        outcomes=outcomes,
        limit=size,
    )


def _bucket_condition(moment: datetime, *, lower: bool) -> ColumnElement[bool]:
    day, hour = moment.date(), moment.hour
    if lower:
        if hour == 0:
            return AccessCount.day >= day
        return and_(AccessCount.day >= day, or_(AccessCount.day > day, AccessCount.hour >= hour))
    if hour == 0:
        return AccessCount.day < day
    return and_(AccessCount.day <= day, or_(AccessCount.day < day, AccessCount.hour < hour))


def _bytewise(expr: ColumnElement[Any], dialect: str) -> ColumnElement[Any]:
    """Text compared byte by byte (PostgreSQL's database collation may be a locale's)."""
    return expr.collate("C") if dialect == "postgresql" else expr


@dataclass(frozen=True, slots=True)
class Stats:
    calls: int
    errors: int
    faults: int
    total_ms: float
    upstream_ms: float
    buckets: tuple[int, ...]
    outcomes: tuple[int, ...] = (0,) * len(OUTCOMES)  # calls per outcome, in OUTCOMES' order

    @staticmethod
    def zero() -> Stats:
        return Stats(0, 0, 0, 0.0, 0.0, (0,) * len(BUCKET_COLUMNS))

    def __add__(self, other: Stats) -> Stats:
        return Stats(
            self.calls + other.calls,
            self.errors + other.errors,
            self.faults + other.faults,
            self.total_ms + other.total_ms,
            self.upstream_ms + other.upstream_ms,
            tuple(a + b for a, b in zip(self.buckets, other.buckets, strict=True)),
            tuple(a + b for a, b in zip(self.outcomes, other.outcomes, strict=True)),
        )

    def as_json(self) -> dict[str, Any]:
        calls = self.calls
        return {
            "calls": calls,
            "errors": self.errors,
            "faults": self.faults,
            "error_rate": self.errors / calls if calls else 0.0,
            "mean_ms": round(self.total_ms / calls, 3) if calls else None,
            "upstream_mean_ms": round(self.upstream_ms / calls, 3) if calls else None,
            "p50_ms": _rounded(histogram_quantile(0.5, self.buckets)),
            "p95_ms": _rounded(histogram_quantile(0.95, self.buckets)),
            "p50_at_least": in_open_bucket(0.5, self.buckets),
            "p95_at_least": in_open_bucket(0.95, self.buckets),
            "outcomes": dict(zip(OUTCOMES, self.outcomes, strict=True)),
        }


def _rounded(value: float | None) -> float | None:
    return round(value, 3) if value is not None else None


def _stats_columns() -> list[ColumnElement[Any]]:
    outcome = AccessCount.outcome
    return [
        func.sum(AccessCount.calls).label("calls"),
        func.sum(case((outcome.in_(ERROR_OUTCOMES), AccessCount.calls), else_=0)).label("errors"),
        func.sum(case((outcome.in_(FAULT_OUTCOMES), AccessCount.calls), else_=0)).label("faults"),
        *(
            func.sum(case((outcome == name, AccessCount.calls), else_=0)).label(f"o_{name}")
            for name in OUTCOMES
        ),
        func.sum(AccessCount.total_ms).label("total_ms"),
        func.sum(AccessCount.upstream_ms).label("upstream_ms"),
        *(func.sum(getattr(AccessCount, name)).label(name) for name in BUCKET_COLUMNS),
    ]


def _stats_of(row: Mapping[Any, Any]) -> Stats:
    return Stats(
        int(row["calls"] or 0),
        int(row["errors"] or 0),
        int(row["faults"] or 0),
        float(row["total_ms"] or 0.0),
        float(row["upstream_ms"] or 0.0),
        tuple(int(row[name] or 0) for name in BUCKET_COLUMNS),
        tuple(int(row[f"o_{name}"] or 0) for name in OUTCOMES),
    )


def _keys(dims: Iterable[str]) -> list[tuple[str, ColumnElement[Any]]]:
    """The (label, expression) pairs to group by, without repeats."""
    pairs: dict[str, Any] = {}
    for dim in dims:
        if dim in ("service", "operation"):
            pairs["k_service_id"] = AccessCount.service_id
        if dim == "operation":
            pairs["k_operation"] = AccessCount.operation_id
        elif dim == "item":
            pairs["k_item"] = Operation.item_code
        elif dim == "division":
            pairs["k_division"] = Service.division
        elif dim == "client":
            pairs["k_client"] = AccessCount.client_id
        elif dim in ("day", "hour"):
            pairs["k_day"] = AccessCount.day
            if dim == "hour":
                pairs["k_hour"] = AccessCount.hour
    return list(pairs.items())


def _filters(query: CountsQuery) -> list[ColumnElement[bool]]:
    conditions = [_bucket_condition(query.since, lower=True)]
    if query.until is not None:
        conditions.append(_bucket_condition(query.until, lower=False))
    if query.service_ids is not None:
        conditions.append(AccessCount.service_id.in_(sorted(query.service_ids)))
    if query.outcomes is not None:
        conditions.append(AccessCount.outcome.in_(query.outcomes))
    return conditions


@dataclass(frozen=True, slots=True)
class Group:
    key: dict[str, Any]
    label: str
    stats: Stats


@dataclass(frozen=True, slots=True)
class CountsResult:
    query: CountsQuery
    groups: list[Group]
    truncated: bool
    totals: Stats


async def run_counts(
    session: AsyncSession,
    settings: Settings,
    query: CountsQuery,
    services: Mapping[int, ServiceRef] | None = None,
) -> CountsResult:
    """One GROUP BY in the database; keys made readable with the (small) services table."""
    if services is None:
        services = await load_services(session)
    dialect = session.get_bind().dialect.name
    keys = _keys(query.group_by)
    names = {name for name, _ in keys}
    stmt = select(*(expr.label(name) for name, expr in keys), *_stats_columns()).select_from(
        AccessCount
    )
    if "k_item" in names:
        stmt = stmt.outerjoin(
            Operation,
            and_(
                Operation.service_id == AccessCount.service_id,
                Operation.operation_id == AccessCount.operation_id,
            ),
        )
    if "k_division" in names:
        stmt = stmt.outerjoin(Service, Service.id == AccessCount.service_id)
    stmt = stmt.where(*_filters(query))
    if keys:
        stmt = stmt.group_by(*(expr for _, expr in keys))
    order: list[ColumnElement[Any]] = []
    time_keys = [(n, e) for n, e in keys if n in ("k_day", "k_hour")]
    other_keys = [(n, e) for n, e in keys if n not in ("k_day", "k_hour")]
    order += [e.asc() for _, e in time_keys]
    order.append(func.sum(AccessCount.calls).desc())
    for name, expr in other_keys:
        if name in ("k_item", "k_division"):
            order.append(expr.is_(None).asc())  # NULLs last on both backends
        order.append(_bytewise(expr, dialect).asc() if name != "k_service_id" else expr.asc())
    stmt = stmt.order_by(*order).limit(query.limit + 1)
    rows = (await session.execute(stmt)).mappings().all()
    truncated = len(rows) > query.limit
    rows = rows[: query.limit]
    item_names: dict[str, str] = {}
    if "k_item" in names:
        codes = sorted({row["k_item"] for row in rows if row["k_item"]})
        if codes:
            found = await session.execute(select(Item.code, Item.name).where(Item.code.in_(codes)))
            item_names = {code: name for code, name in found.all()}
    groups: list[Group] = []
    totals = Stats.zero()
    for row in rows:
        stats = _stats_of(row)
        if stats.calls == 0 and not keys:
            break  # no rows at all: SUM over nothing
        key, label = _describe(row, query.group_by, services, settings, item_names)
        groups.append(Group(key, label, stats))
        totals = totals + stats
    return CountsResult(query, groups, truncated, totals)


def _describe(
    row: Mapping[Any, Any],
    dims: Sequence[str],
    services: Mapping[int, ServiceRef],
    settings: Settings,
    item_names: Mapping[str, str],
) -> tuple[dict[str, Any], str]:
    key: dict[str, Any] = {}
    labels: list[str] = []
    known = divisions()
    for dim in dims:
        if dim in ("service", "operation"):
            sid = int(row["k_service_id"])
            ref = services.get(sid)
            key["service_id"] = sid
            key["service"] = ref.key if ref else None
            key["service_name"] = ref.name if ref else None
            key["refused_before_routing"] = sid == 0
            if dim == "service":
                labels.append(
                    f"{ref.key} {ref.name}"
                    if ref
                    else REFUSED_BEFORE_ROUTING
                    if sid == 0
                    else f"service #{sid}"
                )
            else:
                op = row["k_operation"] or None
                key["operation"] = op
                if sid == 0:
                    labels.append(REFUSED_BEFORE_ROUTING)
                else:
                    labels.append(f"{ref.key if ref else f'#{sid}'} {op or '(no operation)'}")
        elif dim == "item":
            code = row["k_item"]
            key["item"] = code
            key["item_name"] = item_names.get(code) if code else None
            if code is None:
                labels.append("(no item)")
            else:
                labels.append(f"{code} {item_names[code]}" if code in item_names else code)
        elif dim == "division":
            code = row["k_division"]
            found = known.get(code) if code else None
            key["division"] = code
            key["division_name"] = found.name if found else None
            labels.append(f"{code} {found.name}" if found else code or "(no division)")
        elif dim == "client":
            key["client"] = row["k_client"] or None
            labels.append(row["k_client"] or "(no client)")
        elif dim == "day":
            day = row["k_day"]
            key["day"] = day.isoformat()
            labels.append(day.isoformat())
        elif dim == "hour":
            start = datetime.combine(row["k_day"], datetime.min.time()).replace(
                hour=int(row["k_hour"]), tzinfo=settings.tz
            )
            key["hour"] = start.isoformat()
            labels.append(start.strftime("%Y-%m-%d %H:00"))
    return key, " · ".join(labels)


def counts_json(result: CountsResult, settings: Settings) -> dict[str, Any]:
    query = result.query

    def local(moment: datetime | None) -> str | None:
        return moment.replace(tzinfo=settings.tz).isoformat() if moment is not None else None

    return {
        "group_by": list(query.group_by),
        "since": local(query.since),
        "until": local(query.until),
        "filters": {
            "division": list(query.divisions) or None,
            "service_ids": sorted(query.service_ids) if query.service_ids is not None else None,
            "outcome": list(query.outcomes) if query.outcomes is not None else None,
        },
        "limit": query.limit,
        "quantiles": QUANTILE_METHOD,
        "groups": [
            {"key": group.key, "label": group.label, **group.stats.as_json()}
            for group in result.groups
        ],
        "truncated": result.truncated,
        "totals": result.totals.as_json(),
    }


async def access_counts(
    session: AsyncSession, settings: Settings, *, now: datetime, **parameters: str | None
) -> CountsResult:
    """GET /ops/access-counts' work: check ``parameters`` (422 on any bad one), then count."""
    known = await load_services(session)
    query = parse_counts_query(settings=settings, services=known, now=now, **parameters)
    return await run_counts(session, settings, query, known)
