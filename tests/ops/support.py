"""Helpers for the operators' tests: catalog items, onboarded services, roll-ups, tokens."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

import httpx
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from app.models.catalog import Item
from app.models.counting import LATENCY_BOUNDS_MS, AccessCount
from app.models.identity import AccountCount
from app.services.ops.histogram import BUCKET_COLUMNS
from tests.conftest import client_token
from tests.contract_stubs import CONTRACTS
from tests.gateway.support import onboard

CHANGSHA_ITEMS = (
    "430100-BDC-001",
    "430100-GJJ-001",
    "430100-GJJ-002",
    "430100-SB-001",
    "430100-JZZ-001",
    "430100-CSDJ-001",
)


def item(code: str, *, online: bool = True, one_network: bool = False, **extra: Any) -> Item:
    fields: dict[str, Any] = {
        "code": code,
        "name": f"事项 {code}",
        "type": "公共服务",
        "legal_basis": "《测试条例》",
        "service_object": "person",
        "acceptance_conditions": "无",
        "materials": ["身份证"],
        "time_limit_days": 0,
        "result": "办结",
        "division": code[:6] if code[:6].isdigit() else "430100",
        "department": "测试局",
        "online": online,
        "one_network": one_network,
        "cross_province": False,
        "search_text": code,
    }
    fields.update(extra)
    return Item(**fields)


async def add_items(session: AsyncSession, *items: Item) -> None:
    session.add_all(items)
    await session.flush()


async def onboard_city(
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    city: str = "changsha",
    *,
    division: str = "430100",
    slug: str = "zwfw",
    upstream: str = "http://127.0.0.1:9001",
    **extra: Any,
) -> dict[str, Any]:
    """Onboard a city simulator's document (its operations bind the city's items)."""
    document = (CONTRACTS / "municipal" / f"{city}.openapi.yaml").read_text(encoding="utf-8")
    return await onboard(
        client,
        admin_headers,
        division=division,
        slug=slug,
        name=f"{city} 政务服务",
        upstream_url=upstream,
        document=document,
        **extra,
    )


def histogram(latencies: dict[int, int]) -> dict[str, int]:
    """Histogram columns from {bucket upper bound (or 0 for +Inf): calls}."""
    columns = dict.fromkeys(BUCKET_COLUMNS, 0)
    for bound, calls in latencies.items():
        name = "le_inf" if bound == 0 else f"le_{bound}"
        assert bound == 0 or bound in LATENCY_BOUNDS_MS
        columns[name] += calls
    return columns


def count_row(
    day: date,
    hour: int,
    service_id: int,
    operation_id: str,
    *,
    client_id: str = "app-1",
    outcome: str = "success",
    latencies: dict[int, int],
    upstream_ms: float = 0.0,
    total_ms: float | None = None,
) -> AccessCount:
    calls = sum(latencies.values())
    return AccessCount(
        day=day,
        hour=hour,
        service_id=service_id,
        operation_id=operation_id,
        client_id=client_id,
        outcome=outcome,
        calls=calls,
        total_ms=total_ms if total_ms is not None else float(calls * 10),
        upstream_ms=upstream_ms,
        **histogram(latencies),
    )


async def add_counts(session: AsyncSession, rows: Sequence[AccessCount]) -> None:
    session.add_all(rows)
    await session.flush()


async def set_accounts(session: AsyncSession, persons: int, legal_persons: int) -> None:
    for kind, n in (("persons", persons), ("legal_persons", legal_persons)):
        await session.execute(update(AccountCount).where(AccountCount.kind == kind).values(n=n))
    await session.flush()


async def role_token(
    client: httpx.AsyncClient, admin_headers: dict[str, str], *roles: str, **fields: Any
) -> dict[str, str]:
    """Authorization headers of a client holding ``roles`` (client_credentials)."""
    created = await client.post(
        "/admin/clients",
        json={"name": "ops test client", "kind": "integrator", "roles": list(roles), **fields},
        headers=admin_headers,
    )
    assert created.status_code == 201, created.text
    info = created.json()
    return await client_token(client, info["client_id"], info["client_secret"])
