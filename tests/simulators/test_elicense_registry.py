"""The simulated e-license registry: its seeded licenses, its own protocol (types, a holder's
licenses, one license, 制发, 注销), the gateway's assertion, faults, and its contract, verified
the way a user verifies it (`xyb contracts verify ... --target simulator`)."""

from __future__ import annotations

import collections
import functools
import hashlib
import time
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from starlette.applications import Starlette

from app.contracts.replay import verify
from app.core.identifiers import (
    license_check_char,
    make_license_id,
    make_resident_id,
    parse_license_id,
    validate_license_id,
    validate_resident_id,
    validate_uscc,
)
from app.identity.keys import KeyRing
from app.services.elicense.types import license_types
from app.simulators import Faults, simulator_for
from app.simulators.city import CITY_DIVISIONS, city_data
from app.simulators.elicense import (
    CREDIT_CODE,
    DEFAULT_AUDIENCE,
    EXPIRED,
    ID_CARD,
    REVOKED,
    VALID,
    RegistryServer,
    create_registry_app,
    openapi_document,
    registry_types,
    seeded_licenses,
)
from app.simulators.enterprise import seeded_enterprises
from tests.simulators.alliance_support import (
    ISSUER,
    ROOT,
    assert_contract_passes,
    assert_document_anchored,
    fresh_keys,
    gateway_assertion,
)
from tests.simulators.clock import NOW, fixed_clock

CONTRACT = ROOT / "contracts" / "elicense" / "registry.contract.yaml"
ID_CARD_TYPE = next(t.code for t in license_types().values() if t.name == "居民身份证")
BUSINESS_LICENSE_TYPE = next(t.code for t in license_types().values() if t.name == "营业执照")
# A valid ID number nobody seeded holds (the enterprise register's and the cities' tests use it).
NOBODY = "11010519491231002X"


def _later(year: int) -> datetime:
    return NOW.replace(year=year)


@pytest.fixture
def registry() -> Starlette:
    return create_registry_app(clock=fixed_clock)


@pytest.fixture
async def client(registry: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=registry), base_url="http://registry.example"
    ) as c:
        yield c


async def call(client: httpx.AsyncClient, path: str, body: object) -> dict[str, Any]:
    """POST ``body``; the envelope of a 200 answer."""
    answer = await client.post(path, json=body)
    assert answer.status_code == 200, answer.text
    envelope: dict[str, Any] = answer.json()
    assert set(envelope) == {"resultCode", "resultMsg", "data"}
    return envelope


def _issue_body(identifier: str, **changes: Any) -> dict[str, Any]:
    """A complete 制发 request for a 居民身份证 of a made-up person."""
    id_number = make_resident_id("430102", datetime(1990, 3, 7).date(), 123)
    body: dict[str, Any] = {
        "zzbs": identifier,
        "czzt": "刘洋",
        "czztdm": id_number,
        "czztdmlx": ID_CARD,
        "bfjg": "长沙市公安局芙蓉分局",
        "yxqq": "20231101",
        "yxqz": "20431101",
        "zzsj": {
            "name": "刘洋",
            "sex": "男",
            "ethnicity": "汉",
            "birth_date": "19900307",
            "address": "长沙市芙蓉区五一大道1号",
            "id_number": id_number,
            "valid_from": "20231101",
            "valid_until": "20431101",
            "issuer": "长沙市公安局芙蓉分局",
        },
    }
    body.update(changes)
    return body


# -- the seeded data ---------------------------------------------------------------------------


def test_the_seed_is_deterministic_and_every_identifier_is_valid() -> None:
    licenses = seeded_licenses(1)
    assert seeded_licenses.__wrapped__(1) == licenses  # computed again, the same
    assert seeded_licenses.__wrapped__(2) != licenses
    assert len({lic.identifier for lic in licenses}) == len(licenses) > 10_000
    types = registry_types()
    for lic in licenses:
        assert validate_license_id(lic.identifier) == [], lic.identifier
        parts = parse_license_id(lic.identifier)
        assert parts.check == license_check_char(parts.body)
        assert (parts.license_type_code, parts.issuer_code) == (lic.type_code, lic.issuer_code)
        assert (parts.license_number, parts.version) == (lic.number, lic.version)
        kind = types[lic.type_code]
        assert list(lic.data) == [item.name for item in kind.fields], kind.name
        assert all(isinstance(v, str) and v for v in lic.data.values()), lic.data
        if lic.holder_code_kind == ID_CARD:
            assert kind.holder_kind == "1"
            assert validate_resident_id(lic.holder_code) == []
        else:
            assert kind.holder_kind == "2"
            assert validate_uscc(lic.holder_code) == []
        assert lic.valid_until is None or lic.valid_until > lic.valid_from
    statuses = collections.Counter(lic.status(NOW.date()) for lic in licenses)
    assert set(statuses) == {VALID, REVOKED, EXPIRED}
    assert statuses[VALID] > statuses[EXPIRED] > statuses[REVOKED] > 0


def test_the_cities_residents_and_the_registers_firms_hold_licenses() -> None:
    by_holder: dict[str, list[str]] = collections.defaultdict(list)
    for lic in seeded_licenses(1):
        by_holder[lic.holder_code].append(registry_types()[lic.type_code].name)
    for division in CITY_DIVISIONS:
        for resident in city_data(division).residents.values():
            assert "居民身份证" in by_holder[resident.id_number], resident
            assert "居民户口簿" in by_holder[resident.id_number]
        for employer in city_data(division).employers:
            if employer.kind == "企业":
                assert "营业执照" in by_holder[employer.uscc]
    revoked = {lic.holder_code for lic in seeded_licenses(1) if lic.revoked_on is not None}
    for enterprise in seeded_enterprises(1):
        assert "营业执照" in by_holder[enterprise.uscc]
        assert (enterprise.uscc in revoked) == (enterprise.status not in ("存续", "在业"))
    kinds = collections.Counter(name for names in by_holder.values() for name in names)
    for name in (
        "社会保障卡",
        "机动车驾驶证",
        "结婚证",
        "不动产权证书",
        "学位证书",
        "出生医学证明",
    ):
        assert kinds[name] > (10 if name == "出生医学证明" else 100), kinds


def test_a_residents_id_card_carries_their_data() -> None:
    resident = next(iter(city_data("430100").residents.values()))
    card = next(
        lic
        for lic in seeded_licenses(1)
        if lic.holder_code == resident.id_number and lic.type_code == ID_CARD_TYPE
    )
    assert card.number == resident.id_number
    assert card.data["name"] == resident.name
    assert card.data["sex"] == resident.sex
    assert card.data["birth_date"] == resident.birth_date.strftime("%Y%m%d")
    assert card.data["address"] == resident.address
    assert card.data["id_number"] == resident.id_number


# -- the protocol ------------------------------------------------------------------------------


async def test_license_types_a_page_at_a_time(client: httpx.AsyncClient) -> None:
    first = await call(client, "/api/v2/zzlx/query", {"pageNo": 1, "pageSize": 100})
    assert first["resultCode"] == "0000"
    total = first["data"]["total"]
    assert total == len(registry_types()) == len(license_types()) >= 220
    seen = list(first["data"]["list"])
    page = 2
    while len(seen) < total:
        more = await call(client, "/api/v2/zzlx/query", {"pageNo": page, "pageSize": 100})
        seen += more["data"]["list"]
        page += 1
    assert [t["zzlxdm"] for t in seen] == sorted(registry_types())
    card = next(t for t in seen if t["zzlxmc"] == "居民身份证")
    assert card["bfbm"] == "公安部"
    assert card["czztlx"] == "1"
    assert card["kxdj"] in "ABCD"
    assert [item["sjxbs"] for item in card["sjx"]][:3] == ["name", "sex", "ethnicity"]
    assert {item["sjxbs"]: item["sjxmc"] for item in card["sjx"]}["id_number"] == "公民身份号码"
    firms = await call(client, "/api/v2/zzlx/query", {"czztlx": "2", "pageSize": 100})
    assert {t["czztlx"] for t in firms["data"]["list"]} == {"2"}
    assert firms["data"]["total"] == sum(
        1 for t in license_types().values() if t.holder != "person"
    )
    empty = await call(client, "/api/v2/zzlx/query", {"pageNo": 99})
    assert empty["data"]["list"] == []


@pytest.mark.parametrize(
    "body",
    [{"pageSize": 101}, {"pageSize": 0}, {"pageNo": "1"}, {"pageNo": True}, {"czztlx": "3"}],
)
async def test_a_bad_page_is_refused(client: httpx.AsyncClient, body: dict[str, Any]) -> None:
    refused = await call(client, "/api/v2/zzlx/query", body)
    assert refused["resultCode"] == "1001"
    assert refused["data"] is None


async def test_a_holders_licenses(client: httpx.AsyncClient) -> None:
    resident = next(iter(city_data("430300").residents.values()))
    found = await call(
        client, "/api/v2/zz/query", {"czztdm": resident.id_number, "czztdmlx": ID_CARD}
    )
    assert found["resultCode"] == "0000"
    licenses = found["data"]["list"]
    assert found["data"]["total"] == len(licenses) >= 2
    assert {lic["czztdm"] for lic in licenses} == {resident.id_number}
    assert {lic["czzt"] for lic in licenses} == {resident.name}
    assert all("zzsj" not in lic for lic in licenses)  # the data items only by identifier
    issued = [lic["bfrq"] for lic in licenses]
    assert issued == sorted(issued, reverse=True)
    only_cards = await call(
        client,
        "/api/v2/zz/query",
        {"czztdm": resident.id_number, "czztdmlx": ID_CARD, "zzlxdm": ID_CARD_TYPE},
    )
    assert [lic["zzlxmc"] for lic in only_cards["data"]["list"]] == ["居民身份证"]
    enterprise = seeded_enterprises(1)[0]
    firm = await call(
        client, "/api/v2/zz/query", {"czztdm": enterprise.uscc, "czztdmlx": CREDIT_CODE}
    )
    assert "营业执照" in [lic["zzlxmc"] for lic in firm["data"]["list"]]
    nobody = await call(client, "/api/v2/zz/query", {"czztdm": NOBODY, "czztdmlx": ID_CARD})
    assert nobody["data"] == {"total": 0, "list": []}


async def test_a_holders_licenses_by_status(client: httpx.AsyncClient) -> None:
    expired = next(lic for lic in seeded_licenses(1) if lic.status(NOW.date()) == EXPIRED)
    body = {"czztdm": expired.holder_code, "czztdmlx": expired.holder_code_kind, "zzzt": "03"}
    found = await call(client, "/api/v2/zz/query", body)
    assert expired.identifier in [lic["zzbs"] for lic in found["data"]["list"]]
    assert {lic["zzzt"] for lic in found["data"]["list"]} == {"03"}


@pytest.mark.parametrize(
    ("body", "code", "says"),
    [
        ({"czztdm": "430102199003071235", "czztdmlx": ID_CARD}, "1001", "居民身份证号码"),
        ({"czztdm": "91430102MA4L7X2K8X", "czztdmlx": CREDIT_CODE}, "1001", "统一社会信用代码"),
        ({"czztdm": NOBODY, "czztdmlx": "999"}, "1001", "持证主体代码类型"),
        ({"czztdmlx": ID_CARD}, "1001", "czztdm"),
        (
            {"czztdm": NOBODY, "czztdmlx": ID_CARD, "zzlxdm": "11100000LH4399U42K999"},
            "1002",
            "11100000LH4399U42K999",
        ),
        ({"czztdm": NOBODY, "czztdmlx": ID_CARD, "zzzt": "04"}, "1001", "zzzt"),
    ],
)
async def test_a_bad_holder_query_is_refused(
    client: httpx.AsyncClient, body: dict[str, Any], code: str, says: str
) -> None:
    refused = await call(client, "/api/v2/zz/query", body)
    assert refused["resultCode"] == code
    assert says in refused["resultMsg"]


async def test_one_license_with_its_data(client: httpx.AsyncClient) -> None:
    lic = next(lic for lic in seeded_licenses(1) if lic.type_code == BUSINESS_LICENSE_TYPE)
    found = await call(client, "/api/v2/zz/detail", {"zzbs": lic.identifier.lower()})
    data = found["data"]
    assert data["zzbs"] == lic.identifier
    assert data["zzlxmc"] == "营业执照"
    assert data["zzsj"] == dict(lic.data)
    assert data["zzsj"]["credit_code"] == lic.holder_code
    assert data["yxqz"] == "长期"
    for key in ("bfrq", "yxqq"):
        assert len(data[key]) == 8
        assert data[key].isdigit()


async def test_a_wrong_identifier_says_which_part(client: httpx.AsyncClient) -> None:
    lic = seeded_licenses(1)[0]
    wrong = lic.identifier[:-1] + ("0" if lic.identifier[-1] != "0" else "1")
    refused = await call(client, "/api/v2/zz/detail", {"zzbs": wrong})
    assert refused["resultCode"] == "1001"
    assert f"the check character should be {lic.identifier[-1]}" in refused["resultMsg"]
    short = lic.identifier.replace(".001.", ".01.")
    refused = await call(client, "/api/v2/zz/detail", {"zzbs": short})
    assert "version" in refused["resultMsg"]
    refused = await call(client, "/api/v2/zz/detail", {"zzbs": "1.2.3"})
    assert refused["resultCode"] == "1001"
    absent = make_license_id(ID_CARD_TYPE, "430102", "NOBODY", 1)
    missing = await call(client, "/api/v2/zz/detail", {"zzbs": absent})
    assert missing == {"resultCode": "2001", "resultMsg": missing["resultMsg"], "data": None}


async def test_issuing_a_license(client: httpx.AsyncClient) -> None:
    identifier = make_license_id(ID_CARD_TYPE, "430102", "430102199003071234", 2)
    issued = await call(client, "/api/v2/zz/issue", _issue_body(identifier))
    assert issued["resultCode"] == "0000", issued
    data = issued["data"]
    assert (data["zzbs"], data["bbh"], data["bfjgdm"], data["zzzt"]) == (
        identifier,
        "002",
        "430102",
        "01",
    )
    assert data["bfrq"] == "20231120"  # today, when not given
    found = await call(client, "/api/v2/zz/detail", {"zzbs": identifier})
    assert found["data"] == data
    holder = await call(
        client, "/api/v2/zz/query", {"czztdm": "430102199003071234", "czztdmlx": ID_CARD}
    )
    assert identifier in [lic["zzbs"] for lic in holder["data"]["list"]]
    again = await call(client, "/api/v2/zz/issue", _issue_body(identifier))
    assert again["resultCode"] == "2002"
    # With an organ's credit code as the issuer segment.
    organ = make_license_id(ID_CARD_TYPE, "11430000006122244L", "430102199003071234", 1)
    assert (await call(client, "/api/v2/zz/issue", _issue_body(organ)))["resultCode"] == "0000"


def _with(identifier: str, **segments: str) -> str:
    parts = parse_license_id(identifier)
    values = {
        "license_type_code": parts.license_type_code,
        "issuer_code": parts.issuer_code,
        "license_number": parts.license_number,
        "version": parts.version,
        **segments,
    }
    body = "".join(values.values())
    return ".".join(("1.2.156.3005.2", *values.values(), license_check_char(body)))


@pytest.mark.parametrize(
    ("segments", "code", "says"),
    [
        ({"issuer_code": "990100"}, "1001", "issuer code 990100"),
        ({"issuer_code": "11430000006122244X"}, "1001", "issuer code"),
        ({"issuer_code": "4301"}, "1001", "issuer code"),
        ({"license_type_code": "11100000LH4399U42K999"}, "1002", "11100000LH4399U42K999"),
        ({"license_type_code": BUSINESS_LICENSE_TYPE}, "1001", "法人"),
    ],
)
async def test_issuing_checks_the_identifier(
    client: httpx.AsyncClient, segments: dict[str, str], code: str, says: str
) -> None:
    good = make_license_id(ID_CARD_TYPE, "430102", "430102199003071234", 3)
    refused = await call(client, "/api/v2/zz/issue", _issue_body(_with(good, **segments)))
    assert refused["resultCode"] == code, refused
    assert says in refused["resultMsg"]
    wrong_check = good[:-1] + ("0" if good[-1] != "0" else "1")
    refused = await call(client, "/api/v2/zz/issue", _issue_body(wrong_check))
    assert f"the check character should be {good[-1]}" in refused["resultMsg"]


@pytest.mark.parametrize(
    ("changes", "says"),
    [
        ({"yxqq": "2023-11-01"}, "yxqq"),
        ({"yxqz": "20230101"}, "早于"),
        ({"czzt": ""}, "czzt"),
        ({"bfjg": None}, "bfjg"),
        ({"zzsj": {"name": "刘洋"}}, "缺少数据项"),
        ({"zzsj": "刘洋"}, "zzsj"),
    ],
)
async def test_issuing_checks_the_rest(
    client: httpx.AsyncClient, changes: dict[str, Any], says: str
) -> None:
    identifier = make_license_id(ID_CARD_TYPE, "430102", "430102199003071234", 4)
    refused = await call(client, "/api/v2/zz/issue", _issue_body(identifier, **changes))
    assert refused["resultCode"] == "1001", refused
    assert says in refused["resultMsg"]


async def test_issuing_checks_the_data_items(client: httpx.AsyncClient) -> None:
    identifier = make_license_id(ID_CARD_TYPE, "430102", "430102199003071234", 5)
    body = _issue_body(identifier)
    extra = await call(client, "/api/v2/zz/issue", {**body, "zzsj": {**body["zzsj"], "x": "1"}})
    assert "没有数据项x" in extra["resultMsg"]
    dated = await call(
        client, "/api/v2/zz/issue", {**body, "zzsj": {**body["zzsj"], "birth_date": "1990-03-07"}}
    )
    assert "birth_date" in dated["resultMsg"]
    numeric = await call(client, "/api/v2/zz/issue", {**body, "zzsj": {**body["zzsj"], "name": 1}})
    assert "name" in numeric["resultMsg"]


async def test_revoking_a_license(client: httpx.AsyncClient) -> None:
    lic = next(lic for lic in seeded_licenses(1) if lic.status(NOW.date()) == VALID)
    revoked = await call(client, "/api/v2/zz/revoke", {"zzbs": lic.identifier, "zxyy": "证件遗失"})
    assert revoked["resultCode"] == "0000"
    assert (revoked["data"]["zzzt"], revoked["data"]["zxrq"], revoked["data"]["zxyy"]) == (
        "02",
        "20231120",
        "证件遗失",
    )
    found = await call(client, "/api/v2/zz/detail", {"zzbs": lic.identifier})
    assert found["data"]["zzzt"] == "02"
    again = await call(client, "/api/v2/zz/revoke", {"zzbs": lic.identifier, "zxyy": "再次"})
    assert again["resultCode"] == "2003"
    no_reason = await call(client, "/api/v2/zz/revoke", {"zzbs": seeded_licenses(1)[1].identifier})
    assert no_reason["resultCode"] == "1001"
    assert (await client.post("/_sim/reset")).status_code == 204
    restored = await call(client, "/api/v2/zz/detail", {"zzbs": lic.identifier})
    assert restored["data"]["zzzt"] == "01"


async def test_what_expires_depends_on_the_clock() -> None:
    card = next(
        lic
        for lic in seeded_licenses(1)
        if lic.type_code == ID_CARD_TYPE
        and lic.valid_until is not None
        and lic.status(NOW.date()) == VALID
    )
    assert card.valid_until is not None
    for year, status in ((NOW.year, "01"), (card.valid_until.year + 1, "03")):
        app = create_registry_app(clock=functools.partial(_later, year))
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://registry"
        ) as c:
            found = await call(c, "/api/v2/zz/detail", {"zzbs": card.identifier})
        assert found["data"]["zzzt"] == status, year


async def test_what_is_not_a_request_has_an_http_status(client: httpx.AsyncClient) -> None:
    for content in (b"not json", b"[1, 2]"):
        answer = await client.post("/api/v2/zz/detail", content=content)
        assert answer.status_code == 400
        assert answer.json()["resultCode"] == "9400"
    wrong_method = await client.get("/api/v2/zz/detail")
    assert (wrong_method.status_code, wrong_method.json()["resultCode"]) == (405, "9405")
    nowhere = await client.post("/api/v2/zz/nowhere", json={})
    assert (nowhere.status_code, nowhere.json()["resultCode"]) == (404, "9404")


async def test_its_document_is_served(client: httpx.AsyncClient) -> None:
    as_yaml = await client.get("/openapi.yaml")
    assert as_yaml.text == openapi_document()
    as_json = await client.get("/openapi.json")
    assert as_json.json() == yaml.safe_load(openapi_document())
    paths = as_json.json()["paths"]
    assert set(paths) == {
        "/api/v2/zzlx/query",
        "/api/v2/zz/query",
        "/api/v2/zz/detail",
        "/api/v2/zz/issue",
        "/api/v2/zz/revoke",
    }


# -- faults and the gateway's assertion ----------------------------------------------------


async def test_faults_are_injected_in_the_registrys_envelope() -> None:
    faults = Faults(error_rate=1.0, error_status=503)
    app = create_registry_app(faults=faults, clock=fixed_clock)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://r") as c:
        failed = await c.post("/api/v2/zzlx/query", json={})
        assert failed.status_code == 503
        assert failed.json() == {
            "resultCode": "9503",
            "resultMsg": "系统繁忙，请稍后再试",
            "data": None,
        }
        faults.update(error_rate=0.0, malformed="json")
        broken = await c.post("/api/v2/zzlx/query", json={})
        assert broken.status_code == 200
        with pytest.raises(ValueError, match=r"Expecting|Unterminated|Extra"):
            broken.json()
        faults.clear()
        assert (await c.post("/api/v2/zzlx/query", json={})).status_code == 200
        assert (await c.post("/_sim/reset")).status_code == 204  # never faulted nor counted
    assert app.state.received[("POST", "/api/v2/zzlx/query")] == 3


def _assertion(keys: KeyRing, **changes: Any) -> str:
    return gateway_assertion(keys, **{"audience": DEFAULT_AUDIENCE, "id_number": None, **changes})


async def test_given_the_gateways_keys_it_requires_its_assertion(gateway_keys: KeyRing) -> None:
    app = create_registry_app(
        clock=fixed_clock, gateway_jwks=gateway_keys.jwks(), assertion_issuer=ISSUER
    )
    other = fresh_keys()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://r") as c:

        async def with_header(token: str | None) -> httpx.Response:
            headers = {} if token is None else {"X-XYB-Assertion": token}
            return await c.post("/api/v2/zzlx/query", json={}, headers=headers)

        accepted = await with_header(_assertion(gateway_keys))
        assert accepted.status_code == 200
        assert accepted.json()["resultCode"] == "0000"
        refused = {
            "none": None,
            "garbage": "not-a-jwt",
            "another key": _assertion(other),
            "another audience": _assertion(gateway_keys, audience="430100/zwfw"),
            "another issuer": _assertion(gateway_keys, issuer="https://elsewhere.example"),
            "expired": _assertion(gateway_keys, now=time.time() - 3600),
        }
        for why, token in refused.items():
            answer = await with_header(token)
            assert answer.status_code == 401, why
            assert answer.json()["resultCode"] == "9401", why
            assert answer.json()["data"] is None
        # The document and the simulator's own endpoints need none.
        assert (await c.get("/openapi.yaml")).status_code == 200
        assert (await c.post("/_sim/reset")).status_code == 204


async def test_it_follows_a_key_rotation(gateway_keys: KeyRing) -> None:
    published: dict[str, dict[str, Any]] = {"jwks": {"keys": []}}
    app = create_registry_app(
        gateway_jwks=lambda: published["jwks"], assertion_issuer=ISSUER, clock=fixed_clock
    )
    token = _assertion(gateway_keys)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://r") as c:
        headers = {"X-XYB-Assertion": token}
        assert (await c.post("/api/v2/zzlx/query", json={}, headers=headers)).status_code == 401
        published["jwks"] = gateway_keys.jwks()
        assert (await c.post("/api/v2/zzlx/query", json={}, headers=headers)).status_code == 200


def test_checking_assertions_needs_the_issuer(gateway_keys: KeyRing) -> None:
    with pytest.raises(ValueError, match="issuer"):
        create_registry_app(gateway_jwks=gateway_keys.jwks())


# -- provider states ---------------------------------------------------------------------------


async def test_provider_states(client: httpx.AsyncClient) -> None:
    made = await client.post(
        "/_sim/provider-state",
        json={"state": "a license exists", "params": {"czztdm": NOBODY, "zzzt": "02"}},
    )
    assert made.status_code == 200, made.text
    params = made.json()["params"]
    assert params["czztdm"] == NOBODY
    found = await call(client, "/api/v2/zz/detail", {"zzbs": params["zzbs"]})
    assert found["data"]["zzzt"] == "02"
    gone = await client.post(
        "/_sim/provider-state",
        json={"state": "no license with this identifier", "params": {"zzbs": params["zzbs"]}},
    )
    assert gone.json()["params"] == {"zzbs": params["zzbs"]}
    missing = await call(client, "/api/v2/zz/detail", {"zzbs": params["zzbs"]})
    assert missing["resultCode"] == "2001"
    for status in ("01", "02", "03"):
        seeded = await client.post(
            "/_sim/provider-state", json={"state": "a license exists", "params": {"zzzt": status}}
        )
        zzbs = seeded.json()["params"]["zzbs"]
        assert (await call(client, "/api/v2/zz/detail", {"zzbs": zzbs}))["data"]["zzzt"] == status
    holder = await client.post(
        "/_sim/provider-state",
        json={"state": "a holder with licenses", "params": {"czztdm": NOBODY, "czzt": "王五"}},
    )
    assert holder.json()["params"]["total"] >= 1
    listed = await call(client, "/api/v2/zz/query", {"czztdm": NOBODY, "czztdmlx": ID_CARD})
    assert {lic["czzt"] for lic in listed["data"]["list"]} == {"王五"}
    unknown = await client.post("/_sim/provider-state", json={"state": "nonsense"})
    assert unknown.status_code == 400
    assert "a license exists" in unknown.json()["known_states"]
    bad = await client.post(
        "/_sim/provider-state",
        json={"state": "a license exists", "params": {"zzbs": "1.2.156.3005.2.X"}},
    )
    assert bad.status_code == 400


# -- registration, document and contract -------------------------------------------------------


def test_it_is_registered_as_a_simulated_provider() -> None:
    provider = simulator_for("elicense", "registry")
    assert provider.document() == openapi_document()
    assert provider.demo_url == "http://127.0.0.1:9016"
    assert provider.division == "430000"


def test_the_contract_anchors_the_simulators_document() -> None:
    """contracts/elicense/registry.openapi.yaml is the simulator's document, byte for byte."""
    assert_document_anchored(CONTRACT, openapi_document())


def test_the_contract_passes_against_the_simulator() -> None:
    """The done criterion, as a user types it."""
    assert_contract_passes(CONTRACT, "14 passed, 0 failed, 0 skipped")


async def test_a_contract_the_registry_does_not_keep_fails(tmp_path: Path) -> None:
    """Replay really asks the simulator: an expectation it does not meet fails, by name."""
    text = CONTRACT.read_text(encoding="utf-8")
    broken_text = text.replace('          zzzt: "03"\n', '          zzzt: "01"\n', 1)
    assert broken_text != text
    (tmp_path / "registry.openapi.yaml").write_text(openapi_document(), encoding="utf-8")
    broken = tmp_path / "registry.contract.yaml"
    broken.write_text(broken_text, encoding="utf-8")
    report = await verify([broken], target="simulator")
    failed = {r.interaction: r for r in report.results if r.outcome == "fail"}
    assert set(failed) == {"an-expired-license"}
    assert any(m.path == "$.data.zzzt" for m in failed["an-expired-license"].mismatches)


async def test_an_answer_off_its_document_fails(tmp_path: Path) -> None:
    """Schemathesis checks each answer against the document: a document that promises another
    status code for a license fails the interactions that read one."""
    document = openapi_document().replace("enum: ['01', '02', '03']", "enum: ['01', '02']")
    (tmp_path / "registry.openapi.yaml").write_text(document, encoding="utf-8")
    digest = hashlib.sha256(document.encode("utf-8")).hexdigest()
    text = CONTRACT.read_text(encoding="utf-8")
    old = yaml.safe_load(text)["openapi"]["sha256"]
    (tmp_path / "registry.contract.yaml").write_text(text.replace(old, digest), encoding="utf-8")
    report = await verify([tmp_path / "registry.contract.yaml"], target="simulator")
    failed = {r.interaction for r in report.results if r.outcome == "fail"}
    assert "an-expired-license" in failed
    assert "license-types-first-page" not in failed


async def test_it_serves_on_a_socket() -> None:
    async with (
        RegistryServer(clock=fixed_clock) as registry,
        httpx.AsyncClient(base_url=registry.url) as c,
    ):
        answer = await c.post("/api/v2/zzlx/query", json={"pageSize": 1})
    assert answer.json()["data"]["pageSize"] == 1
    assert registry.url.startswith("http://127.0.0.1:")


async def test_the_registry_contract_is_replayed_as_plain_http_even_with_its_connector() -> None:
    """The contract is the registry's protocol, below the elicense connector (which answers the
    canonical API): it is replayed as plain HTTP whether or not the connector is installed."""
    from app.connectors.base import ConnectorConfig, UpstreamRequest, UpstreamResponse
    from app.connectors.registry import ConnectorRegistry
    from app.contracts.consulted import PlainHTTPClient
    from app.contracts.model import load_contract
    from app.contracts.replay import replay_contract, simulator_target

    sent: list[str] = []

    class Recording(PlainHTTPClient):
        kind = "elicense"

        async def send(self, request: UpstreamRequest) -> UpstreamResponse:
            sent.append(request.path)
            return await super().send(request)

    def create(config: ConnectorConfig) -> Recording:
        return Recording(config)

    contract = load_contract(CONTRACT)
    for registry, expected in (
        (ConnectorRegistry({}), 0),
        (ConnectorRegistry({"elicense": create}), 0),
    ):
        target = await simulator_target(contract)
        try:
            results = await replay_contract(
                contract, target, source=str(CONTRACT), registry=registry
            )
        finally:
            await target.aclose()
        assert [r.outcome for r in results] == ["pass"] * 14
        assert len(sent) == expected
