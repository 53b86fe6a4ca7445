"""GET /ops/access-counts over roll-ups inserted with known histograms.

Every dimension and every pair is checked against a reference computed here in Python (the
same rows, grouped and ordered by the documented rules), and a few figures by hand.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.errors import PROBLEM_MEDIA_TYPE
from app.models.counting import AccessCount
from app.models.service import Operation
from app.services.ops.counts import DIMENSIONS, OUTCOMES
from app.services.ops.histogram import BUCKET_COLUMNS, histogram_quantile
from tests.ops.support import add_counts, add_items, count_row, item, onboard_city

SHANGHAI = ZoneInfo("Asia/Shanghai")
D1, D2 = date(2026, 6, 14), date(2026, 6, 15)
OLD = date(2026, 5, 1)
Json = dict[str, Any]


@pytest.fixture
async def data(
    client: httpx.AsyncClient, session: AsyncSession, admin_headers: dict[str, str]
) -> Json:
    """Changsha (430100), Zhuzhou (430200), a county service under Changsha (430121), and calls
    that matched no service, over two days (and one old day outside the default window)."""
    a = (await onboard_city(client, admin_headers, "changsha"))["id"]
    b = (await onboard_city(client, admin_headers, "zhuzhou", division="430200"))["id"]
    c = (await onboard_city(client, admin_headers, "changsha", division="430121", slug="county"))[
        "id"
    ]
    fund, estate = "getFundAccount_430100", "listEstateRecords_430100"
    rows = [
        count_row(D1, 9, a, fund, client_id="app-1", latencies={5: 6, 10: 4}),
        count_row(D1, 9, a, fund, client_id="app-1", outcome="caller_error", latencies={25: 2}),
        count_row(D2, 10, a, fund, client_id="app-2", latencies={50: 8}, upstream_ms=120.0),
        count_row(D2, 10, a, estate, client_id="app-1", latencies={100: 3, 0: 1}),
        count_row(D2, 11, a, estate, outcome="upstream_error", latencies={1000: 2}),
        count_row(D2, 11, a, "removedOperation", latencies={5: 1}),  # no longer in operations
        count_row(D1, 23, b, "getFundAccount_430200", client_id="app-2", latencies={250: 5}),
        count_row(
            D2,
            0,
            b,
            "getFundAccount_430200",
            client_id="app-2",
            outcome="gateway_error",
            latencies={5: 1},
        ),
        count_row(D2, 10, c, fund, client_id="app-1", latencies={10: 3}),
        count_row(D2, 10, 0, "", client_id="", outcome="caller_error", latencies={5: 2}),
        count_row(OLD, 12, a, fund, client_id="app-1", latencies={5: 100}),
    ]
    await add_counts(session, rows)
    operations = await session.execute(
        select(Operation.service_id, Operation.operation_id, Operation.item_code)
    )
    return {
        "ids": {"a": a, "b": b, "c": c},
        "divisions": {a: "430100", b: "430200", c: "430121"},
        "items": {(sid, op): item for sid, op, item in operations},
        "rows": rows,
    }


def _key(dim: str, row: AccessCount, data: Json) -> Any:
    if dim == "service":
        return row.service_id
    if dim == "operation":
        return (row.service_id, row.operation_id)
    if dim == "item":
        return data["items"].get((row.service_id, row.operation_id))
    if dim == "division":
        return data["divisions"].get(row.service_id)
    if dim == "client":
        return row.client_id
    if dim == "day":
        return row.day.isoformat()
    return datetime(row.day.year, row.day.month, row.day.day, row.hour, tzinfo=SHANGHAI).isoformat()


def _api_key(dim: str, key: Json) -> Any:
    if dim == "service":
        return key["service_id"]
    if dim == "operation":
        return (key["service_id"], key["operation"] or "")
    if dim == "client":
        return key["client"] or ""
    return key[dim]


def reference(
    data: Json, dims: tuple[str, ...], keep: Callable[[AccessCount], bool]
) -> list[tuple[tuple[Any, ...], Json]]:
    """The expected groups, in the documented order."""
    groups: dict[tuple[Any, ...], Json] = {}
    for row in data["rows"]:
        if not keep(row):
            continue
        key = tuple(_key(d, row, data) for d in dims)
        group = groups.setdefault(key, {"calls": 0, "errors": 0, "buckets": [0] * 12})
        group["calls"] += row.calls
        group["errors"] += row.calls if row.outcome != "success" else 0
        for i, name in enumerate(BUCKET_COLUMNS):
            group["buckets"][i] += getattr(row, name)

    def order(item: tuple[tuple[Any, ...], Json]) -> tuple[Any, ...]:
        key, group = item
        times = [k for d, k in zip(dims, key, strict=True) if d in ("day", "hour")]
        others: list[Any] = []
        for d, k in zip(dims, key, strict=True):
            if d in ("service", "operation"):
                others.append(k)  # service ids, then operation ids
            elif d not in ("day", "hour"):
                others.append((k is None, k or ""))  # unknown (NULL) last
        return (*times, -group["calls"], *others)

    return sorted(groups.items(), key=order)


def _ms(value: float | None) -> Any:
    """Quantiles are reported to the microsecond (3 decimals of ms)."""
    return None if value is None else pytest.approx(value, abs=1e-3)


def in_window(row: AccessCount) -> bool:
    return row.day >= D1


async def counts(client: httpx.AsyncClient, headers: dict[str, str], **params: str) -> Json:
    response = await client.get("/ops/access-counts", params=params, headers=headers)
    assert response.status_code == 200, response.text
    body: Json = response.json()
    return body


@pytest.mark.parametrize(
    "dims",
    [(d,) for d in DIMENSIONS] + list(itertools.combinations(DIMENSIONS, 2)),
    ids=lambda dims: ",".join(dims),
)
async def test_every_dimension_and_pair_matches_the_reference(
    client: httpx.AsyncClient, admin_headers: dict[str, str], data: Json, dims: tuple[str, ...]
) -> None:
    body = await counts(
        client, admin_headers, group_by=",".join(dims), since="2026-06-14", until="2026-06-15"
    )
    expected = reference(data, dims, in_window)
    got = [(tuple(_api_key(d, g["key"]) for d in dims), g) for g in body["groups"]]
    assert [k for k, _ in got] == [k for k, _ in expected]
    for (_, group), (_, want) in zip(got, expected, strict=True):
        assert (group["calls"], group["errors"]) == (want["calls"], want["errors"])
        assert group["p50_ms"] == _ms(histogram_quantile(0.5, want["buckets"]))
        assert group["p95_ms"] == _ms(histogram_quantile(0.95, want["buckets"]))
    assert body["totals"]["calls"] == sum(r.calls for r in data["rows"] if in_window(r))
    assert body["group_by"] == list(dims)
    assert body["truncated"] is False


async def test_figures_by_hand(
    client: httpx.AsyncClient, admin_headers: dict[str, str], data: Json
) -> None:
    body = await counts(client, admin_headers, group_by="service", since="2026-06-14")
    first, *rest = body["groups"]
    assert first["key"] == {
        "service_id": data["ids"]["a"],
        "service": "430100/zwfw",
        "service_name": "changsha 政务服务",
        "refused_before_routing": False,
    }
    # 27 calls: le_5 6+1, le_10 4, le_25 2, le_50 8, le_100 3, le_1000 2, +Inf 1.
    assert (first["calls"], first["errors"], first["faults"]) == (27, 4, 2)
    assert first["outcomes"] == {
        "success": 23,
        "caller_error": 2,
        "upstream_error": 2,
        "gateway_error": 0,
    }
    assert (first["p50_at_least"], first["p95_at_least"]) == (False, False)
    assert first["error_rate"] == pytest.approx(4 / 27)
    # p50: rank 13.5 falls in 25-50 ms after 13 calls: 25 + 25 * 0.5 / 8.
    assert first["p50_ms"] == pytest.approx(25 + 25 * 0.5 / 8, abs=1e-3)  # to the microsecond
    # p95: rank 25.65 falls in 500-1000 ms after 24 calls: 500 + 500 * 1.65 / 2.
    assert first["p95_ms"] == pytest.approx(500 + 500 * 1.65 / 2, abs=1e-3)
    assert first["label"] == "430100/zwfw changsha 政务服务"
    assert [g["calls"] for g in rest] == [6, 3, 2]
    unmatched = rest[-1]
    assert unmatched["key"]["service"] is None
    assert unmatched["key"]["service_id"] == 0
    # Shown as what they are: calls refused before a service was matched.
    assert unmatched["key"]["refused_before_routing"] is True
    assert unmatched["label"] == "refused before routing"
    by_operation = await counts(client, admin_headers, group_by="operation", since="2026-06-14")
    [refused] = [g for g in by_operation["groups"] if g["key"]["service_id"] == 0]
    assert refused["label"] == "refused before routing"
    assert body["quantiles"].startswith("linear interpolation")


async def test_item_and_division_come_from_operations_and_services(
    client: httpx.AsyncClient, admin_headers: dict[str, str], data: Json
) -> None:
    items = await counts(client, admin_headers, group_by="item", since="2026-06-14")
    by_item = {g["key"]["item"]: g["calls"] for g in items["groups"]}
    assert by_item == {
        "430100-GJJ-001": 12 + 8 + 3,  # Changsha's and the county's getFundAccount
        "430100-BDC-001": 4 + 2,
        "430200-GJJ-001": 6,
        None: 1 + 2,  # an operation the service no longer has, and unmatched calls
    }
    assert items["groups"][-1]["key"]["item"] is None  # unknown items sort last
    divisions = await counts(client, admin_headers, group_by="division", since="2026-06-14")
    assert {g["key"]["division"]: g["calls"] for g in divisions["groups"]} == {
        "430100": 27,
        "430200": 6,
        "430121": 3,
        None: 2,
    }
    named = {g["key"]["division"]: g["key"]["division_name"] for g in divisions["groups"]}
    assert named["430100"] == "长沙市"


async def test_items_are_shown_with_their_catalog_names(
    client: httpx.AsyncClient, session: AsyncSession, admin_headers: dict[str, str], data: Json
) -> None:
    await add_items(session, item("430100-GJJ-001", name="住房公积金个人账户查询"))
    body = await counts(client, admin_headers, group_by="item", since="2026-06-14")
    named = {g["key"]["item"]: (g["key"]["item_name"], g["label"]) for g in body["groups"]}
    assert named["430100-GJJ-001"] == (
        "住房公积金个人账户查询",
        "430100-GJJ-001 住房公积金个人账户查询",
    )
    assert named["430200-GJJ-001"] == (None, "430200-GJJ-001")  # not in the catalog
    assert named[None] == (None, "(no item)")


async def test_a_quantile_in_the_open_last_bucket_says_at_least(
    client: httpx.AsyncClient, session: AsyncSession, admin_headers: dict[str, str]
) -> None:
    """Timeouts take 10 s and more: the last bucket has no upper bound, so the p95 is "at least
    10,000 ms", and says so."""
    sid = (await onboard_city(client, admin_headers, "changsha"))["id"]
    fund = "getFundAccount_430100"
    await add_counts(
        session,
        [
            count_row(D2, 10, sid, fund, latencies={50: 90}),
            count_row(D2, 10, sid, fund, outcome="upstream_error", latencies={0: 10}),
        ],
    )
    body = await counts(client, admin_headers, group_by="service", since="2026-06-15")
    [group] = body["groups"]
    assert (group["p95_ms"], group["p95_at_least"]) == (10000, True)
    assert (group["p50_at_least"], group["outcomes"]["upstream_error"]) == (False, 10)
    assert "at least" in body["quantiles"]


async def test_hour_buckets_are_local_and_ordered(
    client: httpx.AsyncClient, admin_headers: dict[str, str], data: Json
) -> None:
    body = await counts(client, admin_headers, group_by="hour", since="2026-06-14")
    hours = [g["key"]["hour"] for g in body["groups"]]
    assert hours == [
        "2026-06-14T09:00:00+08:00",
        "2026-06-14T23:00:00+08:00",
        "2026-06-15T00:00:00+08:00",
        "2026-06-15T10:00:00+08:00",
        "2026-06-15T11:00:00+08:00",
    ]
    assert [g["calls"] for g in body["groups"]] == [12, 5, 1, 8 + 4 + 3 + 2, 2 + 1]
    assert body["since"] == "2026-06-14T00:00:00+08:00"
    assert body["until"] is None


@pytest.mark.parametrize(
    ("params", "calls"),
    [
        ({"since": "2026-06-15", "until": "2026-06-15"}, 8 + 4 + 2 + 1 + 1 + 3 + 2),
        ({"since": "2026-06-14", "until": "2026-06-14"}, 12 + 5),
        ({"since": "2026-06-15T10:30", "until": "2026-06-15T11:00"}, 8 + 4 + 3 + 2),
        ({"since": "2026-06-15T10:30", "until": "2026-06-15T11:00:01"}, 8 + 4 + 3 + 2 + 2 + 1),
        ({"since": "2026-06-15T02:00:00Z", "until": "2026-06-15T03:00:00Z"}, 8 + 4 + 3 + 2),
        ({"since": "2026-06-14T22:00:00+07:00"}, 5 + 1 + 8 + 4 + 3 + 2 + 2 + 1),  # 23:00 local
        ({"since": "2026-04-01", "until": "2026-05-31"}, 100),
        ({"since": "2026-06-14", "division": "430100"}, 27 + 3),  # with its counties
        ({"since": "2026-06-14", "division": "430121"}, 3),
        ({"since": "2026-06-14", "division": "430000"}, 27 + 6 + 3),
        ({"since": "2026-06-14", "division": "430200,430121"}, 6 + 3),
        ({"since": "2026-06-14", "service": "430200/zwfw"}, 6),
        ({"since": "2026-06-14", "outcome": "caller_error,gateway_error"}, 2 + 1 + 2),
        ({"since": "2026-06-14", "service": "430100/zwfw", "outcome": "success"}, 10 + 8 + 4 + 1),
        ({}, 27 + 6 + 3 + 2),  # default: the 7 local days up to today (not May)
    ],
)
async def test_filters_and_windows(
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    data: Json,
    params: dict[str, str],
    calls: int,
) -> None:
    body = await counts(client, admin_headers, group_by="day", **params)
    assert body["totals"]["calls"] == calls


async def test_a_service_by_id_and_a_space_for_a_plus(
    client: httpx.AsyncClient, admin_headers: dict[str, str], data: Json
) -> None:
    by_id = await counts(
        client, admin_headers, group_by="client", since="2026-06-14", service=str(data["ids"]["b"])
    )
    assert by_id["groups"][0]["key"] == {"client": "app-2"}
    assert by_id["filters"]["service_ids"] == [data["ids"]["b"]]
    # An unencoded '+' arrives as a space; the offset is still understood.
    raw = await client.get(
        "/ops/access-counts?group_by=day&since=2026-06-15T10:00+08:00&until=2026-06-15T11:00+08:00",
        headers=admin_headers,
    )
    assert raw.status_code == 200, raw.text
    assert raw.json()["totals"]["calls"] == 8 + 4 + 3 + 2


async def test_limit_truncates_the_busiest_first(
    client: httpx.AsyncClient, admin_headers: dict[str, str], data: Json
) -> None:
    body = await counts(client, admin_headers, group_by="operation", since="2026-06-14", limit="2")
    assert body["truncated"] is True
    assert [g["calls"] for g in body["groups"]] == [8 + 10 + 2, 6]
    assert body["groups"][0]["label"] == "430100/zwfw getFundAccount_430100"


def _problem(response: httpx.Response, parameter: str) -> Json:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith(PROBLEM_MEDIA_TYPE)
    body: Json = response.json()
    errors = {e["pointer"]: e for e in body["errors"]}
    assert f"/query/{parameter}" in errors, body
    error: Json = errors[f"/query/{parameter}"]
    assert parameter in body["detail"]
    return error


@pytest.mark.parametrize(
    "group_by", [None, "", "services", "service,day,hour", "day,day", "service,,day", "SERVICE"]
)
async def test_a_bad_group_by_lists_the_dimensions(
    client: httpx.AsyncClient, admin_headers: dict[str, str], group_by: str | None
) -> None:
    params = {} if group_by is None else {"group_by": group_by}
    response = await client.get("/ops/access-counts", params=params, headers=admin_headers)
    error = _problem(response, "group_by")
    assert error["allowed"] == list(DIMENSIONS)
    for dimension in DIMENSIONS:
        assert dimension in error["detail"]
        assert dimension in response.json()["detail"]


@pytest.mark.parametrize(
    ("parameter", "value"),
    [
        ("since", "yesterday"),
        ("since", "2026-02-30"),
        ("since", "2026-06-15T25:00"),
        ("until", "15/06/2026"),
        ("until", "9999-12-31"),
        ("since", "２０２６-06-15"),
    ],
)
async def test_a_bad_moment_lists_the_formats(
    client: httpx.AsyncClient, admin_headers: dict[str, str], parameter: str, value: str
) -> None:
    response = await client.get(
        "/ops/access-counts", params={"group_by": "day", parameter: value}, headers=admin_headers
    )
    error = _problem(response, parameter)
    assert any("YYYY-MM-DD" in allowed for allowed in error["allowed"])
    assert "YYYY-MM-DD" in error["detail"]


async def test_an_empty_window_is_refused(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    response = await client.get(
        "/ops/access-counts",
        params={"group_by": "day", "since": "2026-06-15", "until": "2026-06-14"},
        headers=admin_headers,
    )
    _problem(response, "until")


async def test_bad_filters_list_the_allowed_values(
    client: httpx.AsyncClient, admin_headers: dict[str, str], data: Json
) -> None:
    division = _problem(
        await client.get(
            "/ops/access-counts",
            params={"group_by": "day", "division": "999999"},
            headers=admin_headers,
        ),
        "division",
    )
    assert "430100" in division["allowed"]
    assert "430121" in division["allowed"]
    service = _problem(
        await client.get(
            "/ops/access-counts",
            params={"group_by": "day", "service": "430100/nope"},
            headers=admin_headers,
        ),
        "service",
    )
    assert service["allowed"] == ["430100/zwfw", "430121/county", "430200/zwfw"]
    assert "430200/zwfw" in service["detail"]
    outcome = _problem(
        await client.get(
            "/ops/access-counts",
            params={"group_by": "day", "outcome": "success,failure"},
            headers=admin_headers,
        ),
        "outcome",
    )
    assert outcome["allowed"] == list(OUTCOMES)
    assert all(o in outcome["detail"] for o in OUTCOMES)
    for bad in ("0", "10001", "ten", "-1"):
        limit = _problem(
            await client.get(
                "/ops/access-counts",
                params={"group_by": "day", "limit": bad},
                headers=admin_headers,
            ),
            "limit",
        )
        assert limit["allowed"] == [1, 10_000]


async def test_several_bad_parameters_are_reported_together(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    response = await client.get(
        "/ops/access-counts",
        params={"group_by": "week", "since": "soon", "outcome": "meh"},
        headers=admin_headers,
    )
    assert response.status_code == 422
    pointers = [e["pointer"] for e in response.json()["errors"]]
    assert pointers == ["/query/group_by", "/query/since", "/query/outcome"]


def test_quantiles_from_histograms() -> None:
    empty = [0] * 12
    assert histogram_quantile(0.5, empty) is None
    only_slow = [0] * 11 + [4]
    assert histogram_quantile(0.5, only_slow) == 10_000.0  # "at least" the last bound
    first = [10] + [0] * 11
    assert histogram_quantile(0.5, first) == pytest.approx(2.5)
    assert histogram_quantile(1.0, first) == pytest.approx(5.0)
    with pytest.raises(ValueError, match="12 buckets"):
        histogram_quantile(0.5, [1, 2])
