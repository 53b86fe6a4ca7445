"""The city services over ASGI: happy paths, the city's own errors, state, determinism."""

from __future__ import annotations

from datetime import date
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from app.core.divisions import division
from app.core.identifiers import make_resident_id, validate_resident_id, validate_uscc
from app.simulators import create_city_app
from app.simulators.city import city_data
from app.simulators.city.data import Resident
from tests.simulators.clock import fixed_clock

# A valid number of someone from Jiangxi: no city in Hunan holds anything for them.
STRANGER = make_resident_id("360102", date(1985, 6, 1), 421)
BAD_CHECK = "430102199001011234"  # its check digit should be 8


def _residents(division_code: str = "430100") -> list[Resident]:
    return list(city_data(division_code).residents.values())


def _with_fund_account() -> Resident:
    data = city_data("430100")
    return next(
        r
        for r in _residents()
        if r.id_number in data.fund_accounts
        and data.fund_accounts[r.id_number].status == "正常"
        and data.fund_accounts[r.id_number].opened_on < date(2023, 1, 1)
    )


def _employee() -> Resident:
    return next(
        r
        for r in _residents()
        if r.employer is not None and r.insured_since and r.insured_since < date(2023, 1, 1)
    )


def _mother() -> Resident:
    return next(r for r in _residents() if r.sex == "女" and r.birth_date.year < 1995)


def _assert_city_error(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body: dict[str, Any] = response.json()
    assert body["code"] == f"E{status}"
    assert isinstance(body["message"], str)
    assert body["message"]
    return body


# -- the seeded data ----------------------------------------------------------------------------


async def test_residents_are_deterministic_per_city() -> None:
    lists = []
    for code in ("430100", "430100", "430200"):
        app = create_city_app(code, clock=fixed_clock)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://city"
        ) as c:
            lists.append((await c.get("/_sim/residents")).json())
    assert lists[0] == lists[1]
    assert {r["id_number"] for r in lists[0]}.isdisjoint({r["id_number"] for r in lists[2]})
    assert len(lists[0]) == 200


@pytest.mark.parametrize("code", ["430100", "430800", "433100"])
def test_residents_are_valid_people_of_the_city(code: str) -> None:
    residents = _residents(code)
    assert len(residents) == 200
    assert len({r.id_number for r in residents}) == 200
    for r in residents:
        assert validate_resident_id(r.id_number, today=date(2023, 11, 20)) == []
        county = division(r.id_number[:6])
        assert county is not None
        assert county.parent == code
        assert r.county_code == r.id_number[:6]
        assert r.sex == ("男" if int(r.id_number[16]) % 2 else "女")
        assert 2 <= len(r.name) <= 4
        assert all("\u4e00" <= char <= "\u9fff" for char in r.name)
        assert len(r.phone) == 11
        assert r.phone.isdigit()
        assert r.address.startswith(division(code).name)  # type: ignore[union-attr]
    data = city_data(code)
    assert data.estates
    assert data.fund_accounts
    assert all(validate_uscc(e.uscc) == [] for e in data.employers)


# -- 不动产登记 --------------------------------------------------------------------------------


async def test_estate_records_of_a_resident(city_client: httpx.AsyncClient) -> None:
    data = city_data("430100")
    owner = next(iter(data.estates.values())).owner_id_number
    response = await city_client.get("/bdc/records", params={"id_number": owner})
    assert response.status_code == 200
    body = response.json()
    assert body["id_number"] == owner
    assert body["total"] == len(body["records"]) >= 1
    for record in body["records"]:
        assert record["owner_id_number"] == owner
        assert record["cert_no"].startswith(f"湘({record['record_id'][10:14]})长沙市不动产权第")
        one = await city_client.get(f"/bdc/records/{record['record_id']}")
        assert one.status_code == 200
        assert one.json() == record
        assert (record["mortgagee"] is None) == (record["status"] != "抵押")


async def test_estate_records_errors(city_client: httpx.AsyncClient) -> None:
    unknown = await city_client.get("/bdc/records", params={"id_number": STRANGER})
    assert _assert_city_error(unknown, 404)["message"] == "未找到该证件号对应的不动产登记记录"
    bad = _assert_city_error(
        await city_client.get("/bdc/records", params={"id_number": BAD_CHECK}), 400
    )
    assert bad["errors"] == [{"field": "id_number", "message": "check digit should be 8, not 4"}]
    _assert_city_error(await city_client.get("/bdc/records"), 400)
    _assert_city_error(await city_client.get("/bdc/records", params={"id_number": "12345"}), 400)
    _assert_city_error(await city_client.get("/bdc/records/BDC430100-2023-0000000"), 404)
    _assert_city_error(await city_client.get("/bdc/records/not-a-record"), 400)


# -- 住房公积金 ---------------------------------------------------------------------------------


async def test_fund_account_and_deposits(city_client: httpx.AsyncClient) -> None:
    holder = _with_fund_account()
    account = await city_client.get(f"/gjj/accounts/{holder.id_number}")
    assert account.status_code == 200
    body = account.json()
    assert body["id_number"] == holder.id_number
    assert body["name"] == holder.name
    assert body["status"] == "正常"
    assert body["sealed_on"] is None
    assert body["balance"] > 0
    assert body["last_deposit_month"] == "2023-11"
    assert validate_uscc(body["employer_uscc"]) == []

    deposits = await city_client.get(
        f"/gjj/accounts/{holder.id_number}/deposits", params={"year": 2023}
    )
    assert deposits.status_code == 200
    listed = deposits.json()
    assert listed["year"] == 2023
    assert [d["month"] for d in listed["deposits"]] == [f"2023-{m:02d}" for m in range(1, 12)]
    assert listed["total"] == pytest.approx(sum(d["total"] for d in listed["deposits"]))
    for deposit in listed["deposits"]:
        assert (
            deposit["personal"]
            == deposit["employer"]
            == pytest.approx(deposit["base"] * body["deposit_rate"])
        )
    by_default = await city_client.get(f"/gjj/accounts/{holder.id_number}/deposits")
    assert by_default.json() == listed  # the clock's year
    future = await city_client.get(
        f"/gjj/accounts/{holder.id_number}/deposits", params={"year": 2030}
    )
    assert future.json()["deposits"] == []


async def test_fund_account_errors(city_client: httpx.AsyncClient) -> None:
    holder = _with_fund_account()
    without = next(r for r in _residents() if r.id_number not in city_data("430100").fund_accounts)
    _assert_city_error(await city_client.get(f"/gjj/accounts/{without.id_number}"), 404)
    _assert_city_error(await city_client.get(f"/gjj/accounts/{STRANGER}/deposits"), 404)
    _assert_city_error(await city_client.get(f"/gjj/accounts/{BAD_CHECK}"), 400)
    for year in ("abc", "1990", "2101", "20.5", ""):
        response = await city_client.get(
            f"/gjj/accounts/{holder.id_number}/deposits", params={"year": year}
        )
        _assert_city_error(response, 400)


# -- 社会保险 -----------------------------------------------------------------------------------


async def test_contributions(city_client: httpx.AsyncClient) -> None:
    employee = _employee()
    response = await city_client.get(
        "/shebao/contributions",
        params={"id_number": employee.id_number, "from": "2023-01", "to": "2023-06"},
    )
    assert response.status_code == 200
    body = response.json()
    assert (body["from"], body["to"], body["name"]) == ("2023-01", "2023-06", employee.name)
    assert len(body["records"]) == 6 * 4  # six months, four insurances
    assert {r["payer"] for r in body["records"]} == {employee.employer.name}  # type: ignore[union-attr]
    assert body["total_personal"] == pytest.approx(sum(r["personal"] for r in body["records"]))
    default = (
        await city_client.get("/shebao/contributions", params={"id_number": employee.id_number})
    ).json()
    assert (default["from"], default["to"]) == ("2023-01", "2023-11")

    flexible = next(r for r in _residents() if r.insured_since and r.employer is None)
    response = await city_client.get(
        "/shebao/contributions",
        params={"id_number": flexible.id_number, "from": "2023-01", "to": "2023-01"},
    )
    records = response.json()["records"]
    assert {r["payer"] for r in records} == {"灵活就业人员"}
    assert all(r["employer"] == 0 for r in records)


EMPLOYEE = "<an employee's ID number>"


@pytest.mark.parametrize(
    "params",
    [
        {"id_number": BAD_CHECK},
        {"from": "2023-01"},  # no id_number
        {"id_number": EMPLOYEE, "from": "2023-13"},
        {"id_number": EMPLOYEE, "to": "2023-1"},
        {"id_number": EMPLOYEE, "from": "1899-12"},
        {"id_number": EMPLOYEE, "from": "2023-06", "to": "2023-01"},
        {"id_number": EMPLOYEE, "from": "2010-01", "to": "2023-01"},  # more than 60 months
    ],
)
async def test_contributions_bad_requests(
    city_client: httpx.AsyncClient, params: dict[str, str]
) -> None:
    if params.get("id_number") == EMPLOYEE:
        params = {**params, "id_number": _employee().id_number}
    _assert_city_error(await city_client.get("/shebao/contributions", params=params), 400)


async def test_contributions_of_someone_never_insured(city_client: httpx.AsyncClient) -> None:
    never = next(r for r in _residents() if r.insured_since is None)
    for id_number in (never.id_number, STRANGER):
        response = await city_client.get("/shebao/contributions", params={"id_number": id_number})
        _assert_city_error(response, 404)


# -- 居住证 -------------------------------------------------------------------------------------


def _permit_request(**changes: Any) -> dict[str, Any]:
    return {
        "applicant_name": "邓小平",
        "id_number": STRANGER,
        "phone": "13812345678",
        "address": "长沙市岳麓区麓山南路932号",
        "reason": "就业",
        "residence_since": "2023-01-01",
        "employer_name": "长沙远大电子有限公司",
        **changes,
    }


async def test_residence_permit_application(city_client: httpx.AsyncClient) -> None:
    created = await city_client.post("/jzz/applications", json=_permit_request())
    assert created.status_code == 201
    body = created.json()
    assert body["status"] == "受理"
    assert body["application_id"] == "JZZ430100-000001"
    assert created.headers["location"] == f"/jzz/applications/{body['application_id']}"
    assert body["promised_by"] == "2023-12-05"
    assert body["submitted_at"] == "2023-11-20T10:00:00+08:00"
    assert {k: body[k] for k in _permit_request()} == _permit_request()
    fetched = await city_client.get(created.headers["location"])
    assert fetched.status_code == 200
    assert fetched.json() == body
    second = await city_client.post(
        "/jzz/applications",
        json=_permit_request(reason="居住", employer_name=None, id_number="11010519491231002x"),
    )
    assert second.status_code == 201
    assert second.json()["application_id"] == "JZZ430100-000002"
    assert second.json()["id_number"] == "11010519491231002X"


async def test_residence_permit_refusals(city_client: httpx.AsyncClient) -> None:
    post = city_client.post
    bad_id = _assert_city_error(
        await post("/jzz/applications", json=_permit_request(id_number=BAD_CHECK)), 400
    )
    assert bad_id["errors"][0]["message"] == "check digit should be 8, not 4"
    missing = _assert_city_error(await post("/jzz/applications", json={"reason": "就学"}), 422)
    assert {e["field"] for e in missing["errors"]} == {
        "applicant_name",
        "id_number",
        "phone",
        "address",
        "residence_since",
    }
    wrong = _assert_city_error(
        await post("/jzz/applications", json=_permit_request(reason="旅游", phone=13812345678)), 422
    )
    assert {e["field"] for e in wrong["errors"]} == {"reason", "phone"}
    recent = _assert_city_error(
        await post("/jzz/applications", json=_permit_request(residence_since="2023-07-01")), 422
    )
    assert recent["errors"] == [
        {"field": "residence_since", "message": "居住未满半年，不符合申领条件"}
    ]
    no_employer = _assert_city_error(
        await post("/jzz/applications", json=_permit_request(employer_name=None)), 422
    )
    assert no_employer["errors"][0]["field"] == "employer_name"
    _assert_city_error(await post("/jzz/applications", json=[_permit_request()]), 422)
    _assert_city_error(
        await post(
            "/jzz/applications", content=b"{not json", headers={"content-type": "application/json"}
        ),
        400,
    )
    _assert_city_error(await post("/jzz/applications", data={"applicant_name": "张三"}), 415)
    _assert_city_error(await city_client.get("/jzz/applications/JZZ430100-999999"), 404)
    _assert_city_error(await city_client.get("/jzz/applications/42"), 400)


# -- 出生登记 -----------------------------------------------------------------------------------


def _birth_form(**changes: str) -> dict[str, str]:
    return {
        "baby_name": "刘子涵",
        "sex": "女",
        "birth_date": "2023-11-02",
        "mother_id_number": _mother().id_number,
        "hospital": "湖南省妇幼保健院",
        "birth_certificate_no": "R430123456",
        **changes,
    }


async def test_birth_registration_from_a_form(city_client: httpx.AsyncClient) -> None:
    created = await city_client.post("/birth/registrations", data=_birth_form())
    assert created.status_code == 201
    body = created.json()
    assert body["registration_id"] == "CSDJ430100-000001"
    assert body["status"] == "已登记"
    assert body["baby_name"] == "刘子涵"  # the form's UTF-8 percent-encoding, decoded
    assert body["household_address"] == _mother().address
    assert "father_id_number" not in body
    assert created.headers["location"] == f"/birth/registrations/{body['registration_id']}"
    fetched = await city_client.get(created.headers["location"])
    assert fetched.json() == body

    # Only the father is a resident here: still registered, in his household.
    father = next(r for r in _residents() if r.sex == "男")
    mother = make_resident_id("360102", date(1994, 2, 2), 222)
    both = await city_client.post(
        "/birth/registrations",
        data=_birth_form(mother_id_number=mother, father_id_number=father.id_number),
    )
    assert both.status_code == 201
    assert both.json()["father_id_number"] == father.id_number
    assert both.json()["household_address"] == father.address


async def test_birth_registration_refusals(city_client: httpx.AsyncClient) -> None:
    post = city_client.post
    outsider = make_resident_id("360102", date(1994, 2, 2), 222)
    not_here = _assert_city_error(
        await post("/birth/registrations", data=_birth_form(mother_id_number=outsider)), 422
    )
    assert not_here["errors"] == [
        {"field": "mother_id_number", "message": "父母至少一方须为本市户籍居民"}
    ]
    male = next(r for r in _residents() if r.sex == "男").id_number
    odd = _assert_city_error(
        await post("/birth/registrations", data=_birth_form(mother_id_number=male)), 422
    )
    assert odd["errors"][0]["message"] == "母亲身份号码的性别码应为偶数"
    future = _assert_city_error(
        await post("/birth/registrations", data=_birth_form(birth_date="2023-12-01")), 422
    )
    assert future["errors"] == [{"field": "birth_date", "message": "不能晚于今天"}]
    _assert_city_error(
        await post("/birth/registrations", data=_birth_form(mother_id_number=BAD_CHECK)), 400
    )
    missing = _assert_city_error(await post("/birth/registrations", data={"sex": "男"}), 422)
    assert len(missing["errors"]) == 5
    _assert_city_error(await post("/birth/registrations", json=_birth_form()), 415)
    _assert_city_error(await city_client.get("/birth/registrations/CSDJ430100-000009"), 404)


# -- the edges ----------------------------------------------------------------------------------


async def test_unknown_routes_and_methods_answer_in_the_city_format(
    city_client: httpx.AsyncClient,
) -> None:
    _assert_city_error(await city_client.get("/nothing/here"), 404)
    wrong = _assert_city_error(await city_client.delete("/jzz/applications"), 405)
    assert wrong == {"code": "E405", "message": "不支持的请求方法"}


async def test_requests_are_counted_per_route_template(
    city: Starlette, city_client: httpx.AsyncClient
) -> None:
    holder = _with_fund_account()
    await city_client.get(f"/gjj/accounts/{holder.id_number}")
    await city_client.get(f"/gjj/accounts/{STRANGER}")
    await city_client.post("/jzz/applications", json=_permit_request())
    await city_client.get("/_sim/residents")  # control paths are not counted
    assert city.state.received == {
        ("GET", "/gjj/accounts/{id_number}"): 2,
        ("POST", "/jzz/applications"): 1,
    }


async def test_without_provider_states_there_is_no_sim_path() -> None:
    app = create_city_app("430100", provider_states=False)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://city"
    ) as c:
        _assert_city_error(await c.post("/_sim/reset"), 404)


def test_only_the_fourteen_prefectures() -> None:
    with pytest.raises(ValueError, match="prefecture"):
        create_city_app("430102")
