"""Public search: Chinese substrings, synonyms, filters, ordering, cursor pagination, refusals."""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx
import pytest

from app.services.catalog.generator import generate
from app.simulators.city.catalog import simulated_items
from tests.catalog.support import Json, is_problem, item, load

CATALOG = [
    item(code="S-SB", name="社会保险个人缴费记录查询", department="长沙市人力资源和社会保障局"),
    item(code="S-YB", name="城乡居民基本医疗保险参保登记", department="长沙市医疗保障局"),
    item(code="S-YB2", name="医疗保险参保", department="株洲市医疗保障局", division="430200"),
    item(code="S-GJJ1", name="住房公积金提取", department="长沙市住房公积金管理中心"),
    item(
        code="S-GJJ2",
        name="住房公积金提取（租赁住房）",
        department="株洲市住房公积金管理中心",
        division="430200",
    ),
    item(
        code="S-JSZ",
        name="机动车驾驶证换领",
        type="行政许可",
        department="省公安厅",
        division="430000",
        cross_province=True,
    ),
    item(
        code="S-SP",
        name="食品经营许可证核发",
        type="行政许可",
        service_object="legal_person",
        department="长沙市市场监督管理局",
        one_network=False,
    ),
    item(
        code="S-YYZZ",
        name="营业执照补领",
        type="行政许可",
        service_object="legal_person",
        department="株洲市市场监督管理局",
        division="430200",
        online=False,
        one_network=False,
    ),
    item(code="S-PCT", name="百分之百_测试%事项", department="长沙市测试局"),
    item(code="S-FW", name="ＡＢＣ证明开具", department="长沙市测试局"),
]


@pytest.fixture
async def catalog(client: httpx.AsyncClient, admin_headers: dict[str, str]) -> None:
    await load(client, admin_headers, CATALOG)


async def found(client: httpx.AsyncClient, **params: Any) -> list[str]:
    response = await client.get("/catalog/items", params={"limit": 100, **params})
    assert response.status_code == 200, response.text
    body: Json = response.json()
    assert body["next_cursor"] is None
    return [row["code"] for row in body["items"]]


@pytest.mark.usefixtures("catalog")
@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("社保", {"S-SB"}),  # only through the synonym 社保 → 社会保险
        ("医保", {"S-YB", "S-YB2"}),  # 医保 → 医疗保险 (and 医疗保障局 by substring: 医保 is not)
        ("公积金", {"S-GJJ1", "S-GJJ2"}),
        ("驾照", {"S-JSZ"}),  # 驾照 → 驾驶证
        ("驾驶证", {"S-JSZ"}),
        ("营业执照", {"S-YYZZ"}),
        ("登记", {"S-YB"}),
        ("社保缴费", set()),  # 社会保险缴费 is not in 社会保险个人缴费记录查询
        ("社保个人缴费", {"S-SB"}),  # rewritten to 社会保险个人缴费
        ("证", {"S-JSZ", "S-SP", "S-FW"}),
        ("省公安厅", {"S-JSZ"}),  # the department is searched too
        ("行政许可", {"S-JSZ", "S-SP", "S-YYZZ"}),  # and the type
        ("住房 公积金", {"S-GJJ1", "S-GJJ2"}),  # whitespace is folded away
        ("abc", {"S-FW"}),  # NFKC and lower case: ＡＢＣ
        ("%", {"S-PCT"}),  # LIKE wildcards are literal
        ("_", {"S-PCT"}),
        ("S-JSZ", {"S-JSZ"}),  # an exact code
        ("不存在的事项", set()),
    ],
)
async def test_text_search(client: httpx.AsyncClient, query: str, expected: set[str]) -> None:
    assert set(await found(client, q=query)) == expected


@pytest.mark.usefixtures("catalog")
async def test_filters_combine_with_the_text(client: httpx.AsyncClient) -> None:
    assert set(await found(client, q="公积金", division="430200")) == {"S-GJJ2"}
    assert set(await found(client, type="行政许可", service_object="legal_person")) == {
        "S-SP",
        "S-YYZZ",
    }
    assert set(await found(client, online="false")) == {"S-YYZZ"}
    assert set(await found(client, one_network="false", online="true")) == {"S-SP"}
    assert set(await found(client, cross_province="true")) == {"S-JSZ"}
    assert set(await found(client, division="430000")) == {"S-JSZ"}
    assert set(await found(client, division="431300")) == set()
    assert len(await found(client)) == len(CATALOG)


@pytest.mark.usefixtures("catalog")
async def test_exact_names_first_then_shorter_names(client: httpx.AsyncClient) -> None:
    assert await found(client, q="住房公积金提取") == ["S-GJJ1", "S-GJJ2"]
    # 医疗保险参保 is the exact name; the longer one comes after it.
    assert await found(client, q="医疗保险参保") == ["S-YB2", "S-YB"]
    # Through a synonym, too: 公积金提取 → 住房公积金提取.
    assert (await found(client, q="公积金提取"))[0] == "S-GJJ1"


@pytest.mark.usefixtures("catalog")
async def test_a_search_result_carries_the_summary(client: httpx.AsyncClient) -> None:
    response = await client.get("/catalog/items", params={"q": "驾驶证"})
    row = response.json()["items"][0]
    assert row == {
        "code": "S-JSZ",
        "name": "机动车驾驶证换领",
        "type": "行政许可",
        "service_object": "person",
        "division": "430000",
        "division_name": "湖南省",
        "department": "省公安厅",
        "time_limit_days": 3,
        "online": True,
        "one_network": True,
        "cross_province": True,
    }
    assert response.json()["limit"] == 20


async def test_operators_extend_the_synonyms(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    await load(client, admin_headers, [item(code="P-1", name="公共租赁住房申请")])
    assert await found(client, q="公租房") == []
    listed = await client.get("/admin/catalog/synonyms", headers=admin_headers)
    assert {"term": "社保", "expansion": "社会保险"} in [
        {"term": s["term"], "expansion": s["expansion"]} for s in listed.json()
    ]
    added = await client.post(
        "/admin/catalog/synonyms",
        json={"term": " 公租房 ", "expansion": "公共租赁住房"},
        headers=admin_headers,
    )
    assert added.status_code == 201, added.text
    assert added.json()["term"] == "公租房"
    assert await found(client, q="公租房") == ["P-1"]
    again = await client.post(
        "/admin/catalog/synonyms",
        json={"term": "公租房", "expansion": "公共租赁住房"},
        headers=admin_headers,
    )
    is_problem(again, 409)
    same = await client.post(
        "/admin/catalog/synonyms", json={"term": "ABC", "expansion": "abc"}, headers=admin_headers
    )
    assert is_problem(same, 422)["errors"][0]["pointer"] == "/body/expansion"
    deleted = await client.request(
        "DELETE", "/admin/catalog/synonyms", params={"term": "公租房"}, headers=admin_headers
    )
    assert deleted.status_code == 204
    assert await found(client, q="公租房") == []
    gone = await client.request(
        "DELETE",
        "/admin/catalog/synonyms",
        params={"term": "公租房", "expansion": "公共租赁住房"},
        headers=admin_headers,
    )
    is_problem(gone, 404)


async def test_deleting_one_expansion_keeps_the_others(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    for expansion in ("公共租赁住房", "保障性住房"):
        response = await client.post(
            "/admin/catalog/synonyms",
            json={"term": "公租房", "expansion": expansion},
            headers=admin_headers,
        )
        assert response.status_code == 201
    deleted = await client.request(
        "DELETE",
        "/admin/catalog/synonyms",
        params={"term": "公租房", "expansion": "保障性住房"},
        headers=admin_headers,
    )
    assert deleted.status_code == 204
    listed = await client.get("/admin/catalog/synonyms", headers=admin_headers)
    assert [s["expansion"] for s in listed.json() if s["term"] == "公租房"] == ["公共租赁住房"]


async def walk(client: httpx.AsyncClient, limit: int, **params: Any) -> list[Json]:
    """Every page of a search, following next_cursor."""
    rows: list[Json] = []
    cursor = None
    pages = 0
    while True:
        query: dict[str, Any] = {"limit": limit, **params}
        if cursor is not None:
            query["cursor"] = cursor
        response = await client.get("/catalog/items", params=query)
        assert response.status_code == 200, response.text
        page = response.json()
        assert len(page["items"]) <= limit
        rows.extend(page["items"])
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            return rows
        assert len(page["items"]) == limit
        assert pages < 1000


@pytest.mark.parametrize(
    ("limit", "params"),
    [
        (7, {}),
        (1, {"q": "公积金"}),
        (10, {"q": "登记"}),
        (13, {"q": "社保", "online": "true"}),
        (100, {"division": "430100"}),
        (9, {"q": "证", "type": "行政许可"}),
    ],
)
async def test_pages_cover_every_match_once(
    client: httpx.AsyncClient, admin_headers: dict[str, str], limit: int, params: dict[str, str]
) -> None:
    await load(client, admin_headers, generate(300, seed=11, first=simulated_items()))
    everything = await walk(client, 100, **params)
    rows = await walk(client, limit, **params)
    codes = [r["code"] for r in rows]
    assert len(codes) == len(set(codes))  # no duplicates
    assert codes == [r["code"] for r in everything]  # no gaps, the same order at any page size
    assert codes, params
    exact = params.get("q")
    keys = [(0 if r["name"] == exact else 1, len(r["name"])) for r in rows]
    assert keys == sorted(keys)
    if "q" not in params:
        all_items = generate(300, seed=11, first=simulated_items())
        expected = [i for i in all_items if params.get("division", i["division"]) == i["division"]]
        assert sorted(codes) == sorted(i["code"] for i in expected)


def _tamper(cursor: str) -> str:
    payload, _, signature = cursor.partition(".")
    decoded = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    decoded[1] = 0  # skip back to the start
    forged = base64.urlsafe_b64encode(json.dumps(decoded).encode()).decode().rstrip("=")
    return f"{forged}.{signature}"


@pytest.mark.usefixtures("catalog")
@pytest.mark.parametrize("blank", ["", " ", "　", "  　 "])
async def test_an_empty_or_blank_q_is_no_q(client: httpx.AsyncClient, blank: str) -> None:
    """`q=` was a 422 while `q=%20` listed everything: both are now the query without `q`."""
    everything = await client.get("/catalog/items", params={"limit": 3})
    assert everything.status_code == 200
    answer = await client.get("/catalog/items", params={"limit": 3, "q": blank})
    assert answer.status_code == 200, answer.text
    assert answer.json() == everything.json()  # the same items and the same cursor
    cursor = everything.json()["next_cursor"]
    assert cursor
    follows = await client.get("/catalog/items", params={"limit": 3, "q": blank, "cursor": cursor})
    assert follows.status_code == 200, follows.text
    limit = await client.get("/catalog/items", params={"q": "社" * 100})
    assert limit.status_code == 200


@pytest.mark.usefixtures("catalog")
async def test_a_tampered_or_foreign_cursor_is_400(client: httpx.AsyncClient) -> None:
    first = await client.get("/catalog/items", params={"limit": 2})
    cursor = first.json()["next_cursor"]
    assert cursor
    follows = await client.get("/catalog/items", params={"limit": 2, "cursor": cursor})
    assert follows.status_code == 200
    for bad in (_tamper(cursor), cursor[:-1], cursor.replace(".", ""), "abc.def", "a"):
        response = await client.get("/catalog/items", params={"limit": 2, "cursor": bad})
        problem = is_problem(response, 400)
        assert problem["parameter"] == "cursor"
    # A cursor continues the query it came from only.
    other = await client.get("/catalog/items", params={"q": "证", "cursor": cursor})
    assert "different query" in is_problem(other, 400)["detail"]


@pytest.mark.parametrize(
    ("params", "pointer"),
    [
        ({"limit": 0}, "/query/limit"),
        ({"limit": 101}, "/query/limit"),
        ({"limit": "many"}, "/query/limit"),
        ({"type": "行政处罚"}, "/query/type"),
        ({"service_object": "company"}, "/query/service_object"),
        ({"online": "perhaps"}, "/query/online"),
        ({"division": "43"}, "/query/division"),
        ({"division": "999999"}, "/query/division"),
        ({"q": "x" * 101}, "/query/q"),
        ({"q": " " * 101}, "/query/q"),
        ({"q": "a\x00b"}, "/query/q"),
        ({"cursor": "not a cursor!"}, "/query/cursor"),
    ],
)
async def test_every_bad_parameter_is_a_422(
    client: httpx.AsyncClient, params: dict[str, Any], pointer: str
) -> None:
    problem = is_problem(await client.get("/catalog/items", params=params), 422)
    assert [e["pointer"] for e in problem["errors"]] == [pointer]


async def test_an_unknown_item_is_404_and_a_bad_code_422(client: httpx.AsyncClient) -> None:
    is_problem(await client.get("/catalog/items/NO-SUCH-ITEM"), 404)
    is_problem(await client.get("/catalog/items/a%20b"), 422)
