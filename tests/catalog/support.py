"""Items, files and checks shared by the catalog tests."""

from __future__ import annotations

import itertools
from typing import Any

import httpx

from app.core.errors import PROBLEM_MEDIA_TYPE

Json = dict[str, Any]
_serial = itertools.count(1)


def item(**overrides: Any) -> Json:
    """A valid item (a fresh code each call), with ``overrides``."""
    body: Json = {
        "code": f"T{next(_serial):06d}",
        "name": "住房公积金提取",
        "type": "公共服务",
        "legal_basis": "《住房公积金管理条例》第二十四条",
        "service_object": "person",
        "acceptance_conditions": "申请人在本中心正常缴存住房公积金；申请材料齐全、符合法定形式。",
        "materials": ["居民身份证", "银行卡"],
        "time_limit_days": 3,
        "result": "提取审批结果",
        "division": "430100",
        "department": "长沙市住房公积金管理中心",
        "online": True,
        "one_network": True,
        "cross_province": False,
    }
    body.update(overrides)
    return body


def is_problem(response: httpx.Response, status: int) -> Json:
    """The response is a problem+json of ``status``; its body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM_MEDIA_TYPE), response.headers
    body: Json = response.json()
    assert body["status"] == status
    return body


async def load(client: httpx.AsyncClient, headers: dict[str, str], items: list[Json]) -> Json:
    """Import ``items`` through the admin API (JSON); the counts."""
    response = await client.post("/admin/catalog/import", json=items, headers=headers)
    assert response.status_code == 200, response.text
    counts: Json = response.json()
    return counts


async def division_admin(grant_access: Any, division: str = "430100") -> dict[str, str]:
    """Headers of a division admin of ``division``."""
    headers: dict[str, str] = await grant_access(
        name="市数据局", roles=["division_admin"], division=division
    )
    return headers
