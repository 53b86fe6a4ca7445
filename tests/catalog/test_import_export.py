"""Admin API: bulk import (JSON and CSV, all or nothing, every bad row reported) and export."""

from __future__ import annotations

import csv
import io
import json

import httpx

from app.services.catalog.files import COLUMNS, to_csv
from tests.catalog.support import Json, division_admin, is_problem, item, load
from tests.conftest import GrantAccess

CSV = {"Content-Type": "text/csv; charset=utf-8"}


async def export(client: httpx.AsyncClient, headers: dict[str, str], fmt: str) -> httpx.Response:
    response = await client.get("/admin/catalog/export", params={"format": fmt}, headers=headers)
    assert response.status_code == 200, response.text
    return response


async def codes(client: httpx.AsyncClient, headers: dict[str, str]) -> list[str]:
    return [row["code"] for row in (await export(client, headers, "json")).json()]


async def test_a_json_file_creates_then_updates(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    items = [item(), item(name="医疗保险参保登记"), item(name="食品经营许可证核发")]
    assert await load(client, admin_headers, items) == {"created": 3, "updated": 0, "total": 3}
    changed = [{**items[0], "time_limit_days": 1}, item()]
    assert await load(client, admin_headers, changed) == {"created": 1, "updated": 1, "total": 2}
    shown = await client.get(f"/catalog/items/{items[0]['code']}")
    assert shown.json()["time_limit_days"] == 1
    assert len(await codes(client, admin_headers)) == 4


async def test_a_csv_file_is_imported_with_materials_and_booleans(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    rows = [
        item(materials=["居民身份证", "户口簿"]),
        item(materials=[], online=False, one_network=False),
    ]
    text = to_csv(rows).replace("true", "是", 1)  # 是/否 are read too
    response = await client.post(
        "/admin/catalog/import", content=text.encode("utf-8"), headers={**admin_headers, **CSV}
    )
    assert response.status_code == 200, response.text
    assert response.json()["created"] == 2
    first = (await client.get(f"/catalog/items/{rows[0]['code']}")).json()
    assert first["materials"] == ["居民身份证", "户口簿"]
    second = (await client.get(f"/catalog/items/{rows[1]['code']}")).json()
    assert second["materials"] == []
    assert second["online"] is False


async def test_every_bad_json_row_is_reported_and_nothing_is_saved(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    good = item()
    missing = item()
    del missing["result"]
    rows: list[object] = [
        good,
        item(type="行政处罚", time_limit_days=-2),
        missing,
        "not an object",
        {**item(), "code": good["code"]},  # the same code again
        item(division="999999"),
    ]
    response = await client.post("/admin/catalog/import", json=rows, headers=admin_headers)
    problem = is_problem(response, 422)
    found = {(e["row"], e["column"]) for e in problem["errors"]}
    assert found == {
        (2, "type"),
        (2, "time_limit_days"),
        (3, "result"),
        (4, ""),
        (5, "code"),
        (6, "division"),
    }
    by_place = {(e["row"], e["column"]): e for e in problem["errors"]}
    assert by_place[(5, "code")]["reason"] == f"code {good['code']} is also in row 1"
    assert by_place[(2, "time_limit_days")]["pointer"] == "/body/1/time_limit_days"
    assert by_place[(3, "result")]["reason"] == "Field required"
    assert "unknown division" in by_place[(6, "division")]["reason"]
    assert "nothing was saved" in problem["detail"]
    assert await codes(client, admin_headers) == []


async def test_every_bad_csv_row_is_reported_with_its_line(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    rows = [item(), item(time_limit_days="三天"), item(name="多行\n名称"), item(code="a b")]
    text = to_csv(rows)
    text += "\r\n"  # a blank line is not a row
    text += ",".join(["X1"] + ["x"] * 3) + "\r\n"  # too few cells
    response = await client.post(
        "/admin/catalog/import", content=text.encode(), headers={**admin_headers, **CSV}
    )
    problem = is_problem(response, 422)
    found = {(e["row"], e.get("line"), e["column"]) for e in problem["errors"]}
    # The header is line 1; row 3's quoted name spans lines 4-5, so row 4 starts on line 6.
    assert found == {
        (2, 3, "time_limit_days"),
        (3, 4, "name"),
        (4, 6, "code"),
        (5, 8, ""),
    }
    assert await codes(client, admin_headers) == []


async def test_a_csv_header_must_name_every_column_once(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    header = [c for c in COLUMNS if c != "result"] + ["remarks", "code"]
    buffer = io.StringIO()
    csv.writer(buffer).writerow(header)
    response = await client.post(
        "/admin/catalog/import",
        content=buffer.getvalue().encode(),
        headers={**admin_headers, **CSV},
    )
    problem = is_problem(response, 422)
    assert {(e["row"], e["column"], e["reason"]) for e in problem["errors"]} == {
        (0, "remarks", "unknown column"),
        (0, "code", "column given twice"),
        (0, "result", "missing column"),
    }


async def test_empty_and_malformed_files_are_refused(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    empty = await client.post("/admin/catalog/import", json=[], headers=admin_headers)
    assert is_problem(empty, 422)["errors"][0]["reason"] == "the file has no items"
    not_array = await client.post("/admin/catalog/import", json={"a": 1}, headers=admin_headers)
    assert "JSON array" in is_problem(not_array, 422)["errors"][0]["reason"]
    broken = await client.post(
        "/admin/catalog/import",
        content=b'[{"code": ',
        headers={**admin_headers, "Content-Type": "application/json"},
    )
    assert "not valid JSON" in is_problem(broken, 400)["detail"]
    latin = await client.post(
        "/admin/catalog/import", content="名称".encode("gb18030"), headers={**admin_headers, **CSV}
    )
    is_problem(latin, 400)
    no_header = await client.post(
        "/admin/catalog/import", content=b"", headers={**admin_headers, **CSV}
    )
    is_problem(no_header, 422)


async def test_an_unknown_media_type_is_415(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    response = await client.post(
        "/admin/catalog/import",
        content=b"code\n",
        headers={**admin_headers, "Content-Type": "application/vnd.ms-excel"},
    )
    problem = is_problem(response, 415)
    assert problem["accepted"] == ["application/json", "text/csv"]


async def test_exports_round_trip_through_import(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    items = [
        item(materials=["居民身份证", "授权委托书（委托办理的）"], cross_province=True),
        item(name='含"引号",和逗号', legal_basis="第一行\n第二行", materials=[]),
    ]
    await load(client, admin_headers, items)
    as_json = await export(client, admin_headers, "json")
    assert as_json.headers["content-type"].startswith("application/json")
    exported: list[Json] = as_json.json()
    assert sorted(exported, key=lambda r: r["code"]) == sorted(items, key=lambda r: r["code"])
    as_csv = await export(client, admin_headers, "csv")
    assert as_csv.headers["content-type"].startswith("text/csv")
    records = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert [r["code"] for r in records] == sorted(i["code"] for i in items)
    assert records[0]["materials"] == "居民身份证；授权委托书（委托办理的）"
    assert records[0]["cross_province"] == "true"
    # Importing an export changes nothing but updated_at.
    again = await client.post(
        "/admin/catalog/import", content=as_csv.content, headers={**admin_headers, **CSV}
    )
    assert again.json() == {"created": 0, "updated": 2, "total": 2}
    assert (await export(client, admin_headers, "json")).json() == exported
    json_again = await client.post(
        "/admin/catalog/import",
        content=json.dumps(exported).encode(),
        headers={**admin_headers, "Content-Type": "application/json"},
    )
    assert json_again.json()["updated"] == 2


async def test_an_export_format_must_be_json_or_csv(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    response = await client.get(
        "/admin/catalog/export", params={"format": "xlsx"}, headers=admin_headers
    )
    assert is_problem(response, 422)["errors"][0]["pointer"] == "/query/format"


async def test_a_division_admin_imports_and_exports_its_own_items_only(
    client: httpx.AsyncClient, admin_headers: dict[str, str], grant_access: GrantAccess
) -> None:
    changsha = await division_admin(grant_access, "430100")
    zhuzhou_item = item(division="430200")
    await load(client, admin_headers, [zhuzhou_item])
    own = [item(), item(division="430121")]
    assert (await load(client, changsha, own))["created"] == 2
    refused = await client.post(
        "/admin/catalog/import",
        json=[item(), item(division="430300"), {**zhuzhou_item, "division": "430100"}],
        headers=changsha,
    )
    problem = is_problem(refused, 403)
    assert [(e["row"], e["column"]) for e in problem["errors"]] == [(2, "division"), (3, "code")]
    exported = await codes(client, changsha)
    assert exported == sorted(i["code"] for i in own)
    everything = await codes(client, admin_headers)
    assert zhuzhou_item["code"] in everything
    assert len(everything) == 3


async def test_an_import_replaces_items_read_before_it(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    """Bulk updates bypass the ORM; later reads in the same session still see them."""
    body = item()
    assert (
        await client.post("/admin/catalog/items", json=body, headers=admin_headers)
    ).status_code == 201
    assert (await client.get(f"/catalog/items/{body['code']}")).json()["time_limit_days"] == 3
    await load(client, admin_headers, [{**body, "time_limit_days": 9, "name": "新名称"}])
    assert (await client.get(f"/catalog/items/{body['code']}")).json()["time_limit_days"] == 9
    found = await client.get("/catalog/items", params={"q": "新名称"})
    assert [i["name"] for i in found.json()["items"]] == ["新名称"]
    exported = await export(client, admin_headers, "json")
    assert exported.json()[0]["name"] == "新名称"
