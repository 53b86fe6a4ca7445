"""Admin API: items one by one (POST, PUT), refusals, and a division admin's reach."""

from __future__ import annotations

import httpx
import pytest

from tests.catalog.support import division_admin, is_problem, item
from tests.conftest import GrantAccess


async def test_an_item_is_created_and_shown_publicly(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    body = item(name="城乡居民基本养老保险待遇申领", type="行政给付", time_limit_days=15)
    created = await client.post("/admin/catalog/items", json=body, headers=admin_headers)
    assert created.status_code == 201, created.text
    assert created.headers["location"] == f"/catalog/items/{body['code']}"
    out = created.json()
    assert {k: out[k] for k in body} == body
    assert out["division_name"] == "长沙市"
    shown = await client.get(f"/catalog/items/{body['code']}")
    assert shown.status_code == 200
    assert shown.json()["name"] == "城乡居民基本养老保险待遇申领"
    assert shown.json()["reachable"] is False
    assert shown.json()["operations"] == []


async def test_an_existing_code_is_a_conflict(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    body = item()
    first = await client.post("/admin/catalog/items", json=body, headers=admin_headers)
    assert first.status_code == 201
    again = await client.post(
        "/admin/catalog/items", json={**body, "name": "另一个"}, headers=admin_headers
    )
    problem = is_problem(again, 409)
    assert problem["code"] == body["code"]
    shown = await client.get(f"/catalog/items/{body['code']}")
    assert shown.json()["name"] == body["name"]


async def test_put_creates_then_replaces(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    body = item()
    code = body.pop("code")
    created = await client.put(f"/admin/catalog/items/{code}", json=body, headers=admin_headers)
    assert created.status_code == 201, created.text
    assert created.json()["code"] == code
    replaced = await client.put(
        f"/admin/catalog/items/{code}",
        json={**body, "name": "住房公积金提取（租赁住房）", "materials": [], "online": False},
        headers=admin_headers,
    )
    assert replaced.status_code == 200, replaced.text
    out = replaced.json()
    assert out["name"] == "住房公积金提取（租赁住房）"
    assert out["materials"] == []
    assert out["online"] is False
    assert out["created_at"] == created.json()["created_at"]
    assert out["updated_at"] >= created.json()["updated_at"]
    # The search text follows the new name.
    found = await client.get("/catalog/items", params={"q": "租赁住房"})
    assert [i["code"] for i in found.json()["items"]] == [code]


async def test_put_refuses_a_code_in_the_body(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    body = item()
    response = await client.put(
        f"/admin/catalog/items/{body['code']}", json=body, headers=admin_headers
    )
    problem = is_problem(response, 422)
    assert [e["pointer"] for e in problem["errors"]] == ["/body/code"]


@pytest.mark.parametrize(
    ("field", "value", "pointer"),
    [
        ("type", "行政处罚", "/body/type"),
        ("service_object", "company", "/body/service_object"),
        ("time_limit_days", -1, "/body/time_limit_days"),
        ("division", "999999", "/body/division"),
        ("division", "4301", "/body/division"),
        ("code", "a b", "/body/code"),
        ("code", "x" * 65, "/body/code"),
        ("name", "", "/body/name"),
        ("name", "名称\x00", "/body/name"),
        ("materials", ["身份证；户口簿"], "/body/materials/0"),
        ("materials", "居民身份证", "/body/materials"),
        ("online", "maybe", "/body/online"),
        ("extra", 1, "/body/extra"),
    ],
)
async def test_each_bad_field_is_a_422_with_its_pointer(
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    field: str,
    value: object,
    pointer: str,
) -> None:
    response = await client.post(
        "/admin/catalog/items", json=item(**{field: value}), headers=admin_headers
    )
    problem = is_problem(response, 422)
    assert pointer in [e["pointer"] for e in problem["errors"]], problem


async def test_a_missing_field_is_named(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    body = item()
    del body["legal_basis"]
    problem = is_problem(
        await client.post("/admin/catalog/items", json=body, headers=admin_headers), 422
    )
    assert [e["pointer"] for e in problem["errors"]] == ["/body/legal_basis"]


async def test_chinese_booleans_and_stripped_text_are_accepted(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    body = item(online="是", one_network="否", name="  住房公积金提取  ")
    created = await client.post("/admin/catalog/items", json=body, headers=admin_headers)
    assert created.status_code == 201, created.text
    assert created.json()["online"] is True
    assert created.json()["one_network"] is False
    assert created.json()["name"] == "住房公积金提取"


async def test_the_admin_api_needs_an_admin(
    client: httpx.AsyncClient, grant_access: GrantAccess
) -> None:
    anonymous = await client.post("/admin/catalog/items", json=item())
    is_problem(anonymous, 401)
    integrator = await grant_access()
    refused = await client.post("/admin/catalog/items", json=item(), headers=integrator)
    is_problem(refused, 403)
    for path in ("/admin/catalog/export", "/admin/catalog/synonyms"):
        is_problem(await client.get(path), 401)
        is_problem(await client.get(path, headers=integrator), 403)


async def test_a_division_admin_manages_its_division_and_counties_only(
    client: httpx.AsyncClient, admin_headers: dict[str, str], grant_access: GrantAccess
) -> None:
    changsha = await division_admin(grant_access, "430100")
    own = await client.post("/admin/catalog/items", json=item(), headers=changsha)
    assert own.status_code == 201, own.text
    county = await client.post(
        "/admin/catalog/items",
        json=item(division="430121", department="长沙县行政审批服务局"),  # 长沙县
        headers=changsha,
    )
    assert county.status_code == 201, county.text
    other = await client.post(
        "/admin/catalog/items", json=item(division="430200"), headers=changsha
    )
    problem = is_problem(other, 403)
    assert problem["own_division"] == "430100"
    # 株洲's item, made by the platform admin, cannot be replaced or moved into 长沙.
    zhuzhou = item(division="430200", department="株洲市住房公积金管理中心")
    assert (
        await client.post("/admin/catalog/items", json=zhuzhou, headers=admin_headers)
    ).status_code == 201
    code = zhuzhou.pop("code")
    moved = await client.put(
        f"/admin/catalog/items/{code}", json={**zhuzhou, "division": "430100"}, headers=changsha
    )
    is_problem(moved, 403)
    assert (await client.get(f"/catalog/items/{code}")).json()["division"] == "430200"
    # Synonyms are the province's: a division admin reads them but does not change them.
    assert (await client.get("/admin/catalog/synonyms", headers=changsha)).status_code == 200
    added = await client.post(
        "/admin/catalog/synonyms",
        json={"term": "公租房", "expansion": "公共租赁住房"},
        headers=changsha,
    )
    is_problem(added, 403)
