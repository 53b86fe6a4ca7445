"""An item's operations through the gateway, reachability, and the catalog's target values."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.services.catalog import catalog_target_values
from app.simulators.city.catalog import simulated_items
from tests.catalog.support import Json, item, load
from tests.identity.api_support import onboard_changsha as onboard_service


async def onboard_changsha(client: httpx.AsyncClient, admin_headers: dict[str, str]) -> int:
    """The 长沙 city system, whose operations carry x-xyb-item codes 430100-…; its id."""
    service_id: int = (await onboard_service(client, admin_headers))["id"]
    return service_id


def changsha_items() -> list[Json]:
    return [i for i in simulated_items() if i["division"] == "430100"]


async def detail(client: httpx.AsyncClient, code: str) -> Json:
    response = await client.get(f"/catalog/items/{code}")
    assert response.status_code == 200, response.text
    body: Json = response.json()
    return body


async def test_an_item_shows_how_to_call_its_operations(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    await load(client, admin_headers, changsha_items())
    await onboard_changsha(client, admin_headers)
    fund = await detail(client, "430100-GJJ-001")
    assert fund["name"] == "住房公积金个人账户信息查询"
    assert fund["reachable"] is True
    assert fund["operations"] == [
        {
            "method": "GET",
            "path": "/gw/430100/zwfw/gjj/accounts/{id_number}",
            "operation_id": "getFundAccount_430100",
            "summary": "查询住房公积金个人账户",
            "service": "长沙市政务服务",
            "service_division": "430100",
            "service_slug": "zwfw",
        }
    ]
    permit = await detail(client, "430100-JZZ-001")
    assert {(op["method"], op["path"]) for op in permit["operations"]} == {
        ("POST", "/gw/430100/zwfw/jzz/applications"),
        ("GET", "/gw/430100/zwfw/jzz/applications/{application_id}"),
    }
    # Every element is there.
    for key in ("legal_basis", "acceptance_conditions", "materials", "time_limit_days", "result"):
        assert fund[key] not in (None, "")
    assert fund["division_name"] == "长沙市"


async def test_reachability_and_targets_follow_items_and_services(
    client: httpx.AsyncClient, admin_headers: dict[str, str], session: AsyncSession
) -> None:
    assert await catalog_target_values(session) == {"items_online": 0, "one_network": 0}
    items = changsha_items()
    # One bound item offline, one not 一网通办; plus items no operation serves.
    items[0] = {**items[0], "online": False}  # 430100-BDC-001
    items[1] = {**items[1], "one_network": False}  # 430100-GJJ-001
    unbound = [item(), item(online=True, one_network=True)]
    await load(client, admin_headers, items + unbound)
    # Nothing is bound before the service is onboarded.
    assert await catalog_target_values(session) == {"items_online": 0, "one_network": 0}
    service_id = await onboard_changsha(client, admin_headers)
    assert await catalog_target_values(session) == {"items_online": 5, "one_network": 4}
    assert (await detail(client, "430100-BDC-001"))["reachable"] is False  # bound but offline
    assert (await detail(client, "430100-SB-001"))["reachable"] is True
    assert (await detail(client, unbound[1]["code"]))["reachable"] is False  # online, unbound
    # Retiring the service makes its items unreachable and lowers the targets.
    retired = await client.delete(f"/admin/services/{service_id}", headers=admin_headers)
    assert retired.status_code == 200, retired.text
    assert await catalog_target_values(session) == {"items_online": 0, "one_network": 0}
    gone = await detail(client, "430100-SB-001")
    assert gone["reachable"] is False
    assert gone["operations"] == []


@pytest.mark.parametrize("online", [True, False])
async def test_taking_an_item_offline_lowers_the_count(
    client: httpx.AsyncClient, admin_headers: dict[str, str], session: AsyncSession, online: bool
) -> None:
    await load(client, admin_headers, changsha_items())
    await onboard_changsha(client, admin_headers)
    sb = next(i for i in changsha_items() if i["code"] == "430100-SB-001")
    body = {k: v for k, v in sb.items() if k != "code"} | {"online": online}
    response = await client.put(
        "/admin/catalog/items/430100-SB-001", json=body, headers=admin_headers
    )
    assert response.status_code == 200
    expected = 6 if online else 5
    assert await catalog_target_values(session) == {
        "items_online": expected,
        "one_network": expected,
    }
