"""The simulated 粤省事 (Guangdong, 440000): its seeded residents, its own protocol (the token
endpoint, 医保异地备案, 社保缴费记录, 公积金账户 and 公积金转移), idempotency by requestNo,
"commit, then hang", its credentials and the gateway's assertion, faults, and its contract,
verified the way a user verifies it (`xyb contracts verify ... --target simulator`)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
import yaml
from starlette.applications import Starlette

from app.contracts.replay import verify
from app.identity.keys import KeyRing
from app.identity.tokens import TokenIssuer
from app.simulators import Faults, simulator_for
from app.simulators.alliance.common import alliance_residents, mint_user_credential
from app.simulators.alliance.guangdong import (
    CONTRACT_CREDENTIAL,
    DEFAULT_AUDIENCE,
    DEMO_PORT,
    GuangdongServer,
    GuangdongState,
    Insured,
    create_guangdong_app,
    openapi_document,
    seeded_insured,
    simulator_provider,
)
from app.simulators.alliance.guangdong.data import contributions, fund_balance
from tests.simulators.alliance_support import (
    ISSUER,
    ROOT,
    assert_contract_passes,
    assert_document_anchored,
    fresh_keys,
    gateway_assertion,
)
from tests.simulators.clock import NOW, fixed_clock

CONTRACT = ROOT / "contracts" / "alliance" / "guangdong.contract.yaml"
API = "/api/ysx/v1"
# Valid ID numbers of nobody seeded (the registry's contract uses them too).
NOBODY = "11010519491231002X"
STRANGER = "430103198808083576"
FILING = {
    "requestNo": "GW-0001",
    "insuranceType": "1",
    "filingType": "1",
    "destCode": "430102",
    "startDate": "2023-12-01",
    "contactPhone": "13800138000",
}
TRANSFER = {"requestNo": "GW-T-0001", "inCenterCode": "430100", "contactPhone": "13800138000"}


def _with_fund(seed: int = 1) -> list[Insured]:
    return [i for i in seeded_insured(seed).values() if i.fund is not None]


# Two seeded residents with a fund account: A acts, B is the other resident.
A, B = _with_fund()[:2]
WITHOUT_FUND = next(i for i in seeded_insured(1).values() if i.fund is None)


def _credential(id_number: str, **options: Any) -> dict[str, str]:
    credential, _ = mint_user_credential("440000", id_number, now=NOW.timestamp(), **options)
    return {"Authorization": f"Bearer {credential}"}


@pytest.fixture
def partner() -> Starlette:
    return create_guangdong_app(clock=fixed_clock)


@pytest.fixture
async def client(partner: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=partner), base_url="http://ysx.example"
    ) as c:
        yield c


def _state(app: Starlette) -> GuangdongState:
    state: GuangdongState = app.state.guangdong
    return state


async def call(
    client: httpx.AsyncClient,
    method: str,
    path: str,
    *,
    as_user: str | None = None,
    headers: dict[str, str] | None = None,
    **options: Any,
) -> dict[str, Any]:
    """The envelope of a 200 answer; ``as_user`` presents a credential of that resident."""
    sent = {**(_credential(as_user) if as_user else {}), **(headers or {})}
    answer = await client.request(method, API + path, headers=sent, **options)
    assert answer.status_code == 200, answer.text
    envelope: dict[str, Any] = answer.json()
    assert set(envelope) == {"code", "msg", "data"}
    assert (envelope["data"] is None) == (envelope["code"] != 0), envelope
    return envelope


# -- the seeded data ---------------------------------------------------------------------------


def test_the_seed_is_deterministic_and_follows_the_alliance_residents() -> None:
    residents = alliance_residents("440000", 1)
    insured = seeded_insured(1)
    assert list(insured) == [r.id_number for r in residents]
    assert seeded_insured(1) == insured  # computed again, the same
    assert seeded_insured(2) != insured
    for resident in residents:
        mine = insured[resident.id_number]
        assert (mine.name, mine.city, mine.since, mine.until, mine.base) == (
            resident.name,
            resident.city,
            resident.since,
            resident.until,
            resident.base,
        )
        assert mine.city in ("广州市", "深圳市", "东莞市", "佛山市")
    with_fund = sum(1 for i in insured.values() if i.fund is not None)
    assert 0 < with_fund < len(insured)  # most, not all, paid into a provident fund


async def test_the_same_seed_answers_the_same() -> None:
    answers = []
    for seed in (1, 1, 2):
        app = create_guangdong_app(seed=seed, clock=fixed_clock)
        who = _with_fund(seed)[0].id_number
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://ysx"
        ) as c:
            # A credential is good only at the installation (the seed) that minted it.
            headers = _credential(who, seed=seed)
            records = await call(c, "GET", "/sb/records", headers=headers)
            account = await call(c, "GET", "/gjj/account", headers=headers)
            filed = await call(c, "POST", "/yb/ydba", headers=headers, json=FILING)
        answers.append((records, account, filed["data"]["baNo"]))
    assert answers[0] == answers[1]
    assert answers[0][:2] != answers[2][:2]
    assert answers[0][2] == "YDBA20231120000001"  # partner references are deterministic too


# -- the token endpoint (no gateway keys: contract replay) -------------------------------------


async def test_a_credential_for_a_user(client: httpx.AsyncClient) -> None:
    got = await call(client, "POST", "/auth/token", json={"idNumber": A.id_number})
    data = got["data"]
    assert data["tokenType"] == "Bearer"
    assert data["expiresIn"] == 600
    assert data["expireTime"] == "2023-11-20 10:10:00"
    assert data["accessToken"].startswith("guangdong.")
    headers = {"Authorization": f"Bearer {data['accessToken']}"}
    account = await call(client, "GET", "/gjj/account", headers=headers)
    assert account["data"]["idNumber"] == A.id_number
    for body, says in (({}, "idNumber"), ({"idNumber": "430102199003071235"}, "身份证")):
        refused = await call(client, "POST", "/auth/token", json=body)
        assert refused["code"] == 1001
        assert says in refused["msg"]


# -- 医保异地备案 ----------------------------------------------------------------------------


async def test_filing_reading_finding_and_cancelling(
    client: httpx.AsyncClient, partner: Starlette
) -> None:
    filed = await call(client, "POST", "/yb/ydba", as_user=A.id_number, json=FILING)
    assert (filed["code"], filed["msg"]) == (0, "备案成功")
    filing = filed["data"]
    assert filing == {
        "baNo": "YDBA20231120000001",
        "requestNo": "GW-0001",
        "idNumber": A.id_number,
        "name": A.name,
        "insuranceType": "1",
        "insuranceTypeName": "职工基本医疗保险",
        "filingType": "1",
        "filingTypeName": "异地长期居住",
        "insuredCity": A.city,
        "destCode": "430102",
        "destName": "湖南省长沙市芙蓉区",
        "startDate": "2023-12-01",
        "endDate": None,
        "contactPhone": "13800138000",
        "remark": None,
        "status": "1",
        "statusName": "有效",
        "applyTime": "2023-11-20 10:00:00",
        "cancelTime": None,
        "cancelReason": None,
    }
    read = await call(client, "GET", f"/yb/ydba/{filing['baNo']}", as_user=A.id_number)
    assert read["data"] == filing
    found = await call(
        client, "GET", "/yb/ydba", as_user=A.id_number, params={"requestNo": "GW-0001"}
    )
    assert found["data"] == filing
    cancelled = await call(
        client,
        "POST",
        f"/yb/ydba/{filing['baNo']}/cancel",
        as_user=A.id_number,
        json={"cancelReason": "已回广东"},
    )
    assert (cancelled["data"]["status"], cancelled["data"]["statusName"]) == ("2", "已撤销")
    assert cancelled["data"]["cancelTime"] == "2023-11-20 10:00:00"
    assert cancelled["data"]["cancelReason"] == "已回广东"
    again = await call(client, "POST", f"/yb/ydba/{filing['baNo']}/cancel", as_user=A.id_number)
    assert (again["code"], again["msg"]) == (2002, "该备案已撤销，不能重复撤销")
    temporary = {
        **FILING,
        "requestNo": "GW-0002",
        "filingType": "2",
        "destCode": "430600",
        "endDate": "2024-02-28",
        "remark": "随子女居住",
    }
    second = await call(client, "POST", "/yb/ydba", as_user=A.id_number, json=temporary)
    assert second["data"]["baNo"] == "YDBA20231120000002"
    assert (second["data"]["destName"], second["data"]["endDate"]) == ("湖南省岳阳市", "2024-02-28")
    assert len(_state(partner).filings) == 2
    assert (await client.post("/_sim/reset")).status_code == 204
    assert _state(partner).filings == {}


async def test_filing_is_idempotent_by_request_number(
    client: httpx.AsyncClient, partner: Starlette
) -> None:
    first = await call(client, "POST", "/yb/ydba", as_user=A.id_number, json=FILING)
    retried = await call(client, "POST", "/yb/ydba", as_user=A.id_number, json=FILING)
    assert retried["data"] == first["data"]
    assert len(_state(partner).filings) == 1
    changed = await call(
        client, "POST", "/yb/ydba", as_user=A.id_number, json={**FILING, "destCode": "430103"}
    )
    assert changed["code"] == 2002
    assert "requestNo" in changed["msg"]
    assert len(_state(partner).filings) == 1
    # A request reference is the caller's own: another resident's same reference is another.
    other = await call(client, "POST", "/yb/ydba", as_user=B.id_number, json=FILING)
    assert other["data"]["baNo"] != first["data"]["baNo"]
    assert len(_state(partner).filings) == 2


@pytest.mark.parametrize(
    ("changes", "says"),
    [
        ({"requestNo": None}, "requestNo"),
        ({"requestNo": "有中文"}, "requestNo"),
        ({"insuranceType": "3"}, "insuranceType"),
        ({"filingType": 1}, "filingType"),
        ({"destCode": "440100"}, "destCode"),
        ({"destCode": "439999"}, "destCode"),
        ({"startDate": None}, "startDate"),
        ({"startDate": "20231201"}, "yyyy-MM-dd"),
        ({"startDate": "2023-02-30"}, "startDate"),
        ({"endDate": "2023-11-30"}, "endDate"),
        ({"filingType": "2"}, "endDate"),
        ({"filingType": "2", "endDate": "2024-12-01"}, "180"),
        ({"contactPhone": "0731-8888888"}, "contactPhone"),
        ({"remark": ""}, "remark"),
    ],
)
async def test_a_bad_filing_is_refused(
    client: httpx.AsyncClient, changes: dict[str, Any], says: str
) -> None:
    body = {k: v for k, v in {**FILING, **changes}.items() if v is not None}
    refused = await call(client, "POST", "/yb/ydba", as_user=A.id_number, json=body)
    assert refused["code"] == 1001, refused
    assert says in refused["msg"]


async def test_what_is_not_found(client: httpx.AsyncClient) -> None:
    not_insured = await call(client, "POST", "/yb/ydba", as_user=NOBODY, json=FILING)
    assert (not_insured["code"], not_insured["msg"]) == (2001, "未查询到您在广东省的参保信息")
    for path, params in (
        ("/yb/ydba/YDBA20231120999999", None),
        ("/yb/ydba", {"requestNo": "GW-9999"}),
        ("/gjj/transfers/GJJZY20231120999999", None),
        ("/gjj/transfers", {"requestNo": "GW-9999"}),
        ("/sb/records", None),
    ):
        missing = await call(client, "GET", path, as_user=A.id_number, params=params)
        assert missing["code"] == (2001 if path != "/sb/records" else 0), path
    no_reference = await call(client, "GET", "/yb/ydba", as_user=A.id_number)
    assert no_reference["code"] == 1001
    records = await call(client, "GET", "/sb/records", as_user=NOBODY)
    assert records["code"] == 2001
    account = await call(client, "GET", "/gjj/account", as_user=WITHOUT_FUND.id_number)
    assert (account["code"], account["msg"]) == (2001, "未查询到您在广东省的住房公积金账户")


async def test_a_body_that_is_not_a_json_object(client: httpx.AsyncClient) -> None:
    for content in (b"not json", b"[1, 2]"):
        refused = await call(client, "POST", "/yb/ydba", as_user=A.id_number, content=content)
        assert refused["code"] == 1001


# -- "commit, then hang" -----------------------------------------------------------------------


async def test_a_write_that_commits_then_hangs(
    client: httpx.AsyncClient, partner: Starlette
) -> None:
    set_hang = await client.put("/_sim/commit-then-hang", json={"writes": 1})
    assert set_hang.json() == {"writes": 1}
    headers = _credential(A.id_number)
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(client.post(f"{API}/yb/ydba", json=FILING, headers=headers), 0.3)
    assert (await client.get("/_sim/commit-then-hang")).json() == {"writes": 0}
    held = list(_state(partner).filings.values())
    assert [f.request_no for f in held] == ["GW-0001"]  # applied, although never answered
    found = await call(
        client, "GET", "/yb/ydba", as_user=A.id_number, params={"requestNo": "GW-0001"}
    )
    assert found["data"]["baNo"] == held[0].ba_no
    retried = await call(client, "POST", "/yb/ydba", as_user=A.id_number, json=FILING)
    assert retried["data"]["baNo"] == held[0].ba_no
    assert len(_state(partner).filings) == 1
    # The provider state does the same, for the transfers too.
    state = await client.post(
        "/_sim/provider-state",
        json={"state": "the next write commits then hangs", "params": {"idNumber": A.id_number}},
    )
    assert state.json()["params"]["writes"] == 1
    installed = {"Authorization": f"Bearer {CONTRACT_CREDENTIAL}"}
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(
            client.post(f"{API}/gjj/transfers", json=TRANSFER, headers=installed), 0.3
        )
    transfer = await call(
        client, "GET", "/gjj/transfers", headers=installed, params={"requestNo": "GW-T-0001"}
    )
    assert transfer["data"]["amount"] == fund_balance(A)
    refused = await client.put("/_sim/commit-then-hang", json={"writes": -1})
    assert refused.status_code == 400


async def test_commit_then_hang_over_a_socket() -> None:
    """On a real socket the client times out, the partner holds the filing, and the server is
    not stuck: it answers the next request (the hung handler ends when the client goes)."""
    async with GuangdongServer(clock=fixed_clock) as server:
        async with httpx.AsyncClient(base_url=server.url, timeout=0.5) as c:
            await c.put("/_sim/commit-then-hang", json={"writes": 1})
            headers = _credential(A.id_number)
            with pytest.raises(httpx.ReadTimeout):
                await c.post(f"{API}/yb/ydba", json=FILING, headers=headers)
        async with httpx.AsyncClient(base_url=server.url, timeout=5) as c:
            found = await c.get(f"{API}/yb/ydba", params={"requestNo": "GW-0001"}, headers=headers)
        assert found.json()["data"]["baNo"] == "YDBA20231120000001"
        assert server.url.startswith("http://127.0.0.1:")


# -- 社保缴费记录 and 公积金 ----------------------------------------------------------------------


async def test_social_insurance_records(client: httpx.AsyncClient) -> None:
    records = await call(client, "GET", "/sb/records", as_user=A.id_number)
    data = records["data"]
    assert (data["idNumber"], data["name"], data["insuredCity"]) == (A.id_number, A.name, A.city)
    expected = contributions(A)
    assert data["total"] == len(data["list"]) == len(expected)
    months = {row["month"] for row in data["list"]}
    assert len(data["list"]) == 4 * len(months)
    assert min(months) == f"{A.since:%Y-%m}"
    assert max(months) == f"{A.until:%Y-%m}"
    first = data["list"][0]
    assert first["insuranceCode"] == "110"
    assert first["personalAmount"] == round(first["base"] * 0.08, 2)
    assert first["employerName"] == A.employer
    assert first["paidDate"] == f"{A.since:%Y-%m}-10"
    narrowed = await call(
        client,
        "GET",
        "/sb/records",
        as_user=A.id_number,
        params={"startMonth": f"{A.until:%Y-%m}", "endMonth": f"{A.until:%Y-%m}"},
    )
    assert narrowed["data"]["total"] == 4
    for params in ({"startMonth": "2020-13"}, {"startMonth": "2021-05", "endMonth": "2021-01"}):
        refused = await call(client, "GET", "/sb/records", as_user=A.id_number, params=params)
        assert refused["code"] == 1001


async def test_the_fund_account_and_a_transfer(
    client: httpx.AsyncClient, partner: Starlette
) -> None:
    account = await call(client, "GET", "/gjj/account", as_user=A.id_number)
    data = account["data"]
    assert A.fund is not None
    assert data["accountNo"] == A.fund.account_no
    assert (data["status"], data["statusName"]) == ("2", "封存")
    assert data["balance"] == fund_balance(A) > 0
    assert data["transferringAmount"] == 0
    assert data["centerName"] == f"{A.city[:-1]}住房公积金管理中心"
    assert data["lastDepositMonth"] == f"{A.until:%Y-%m}"
    made = await call(client, "POST", "/gjj/transfers", as_user=A.id_number, json=TRANSFER)
    transfer = made["data"]
    assert (transfer["transferNo"], transfer["amount"], transfer["status"]) == (
        "GJJZY20231120000001",
        fund_balance(A),
        "1",
    )
    assert transfer["inCenterName"] == "长沙市住房公积金管理中心"
    assert transfer["applyDate"] == "2023-11-20"
    retried = await call(client, "POST", "/gjj/transfers", as_user=A.id_number, json=TRANSFER)
    assert retried["data"] == transfer
    assert len(_state(partner).transfers) == 1
    changed = await call(
        client,
        "POST",
        "/gjj/transfers",
        as_user=A.id_number,
        json={**TRANSFER, "inCenterCode": "430300"},
    )
    assert changed["code"] == 2002
    second = await call(
        client,
        "POST",
        "/gjj/transfers",
        as_user=A.id_number,
        json={**TRANSFER, "requestNo": "GW-T-0002"},
    )
    assert (second["code"], second["msg"]) == (2002, "该账户已有转移业务正在办理")
    moving = await call(client, "GET", "/gjj/account", as_user=A.id_number)
    assert (moving["data"]["status"], moving["data"]["balance"]) == ("3", 0)
    assert moving["data"]["transferringAmount"] == transfer["amount"]
    read = await call(
        client, "GET", f"/gjj/transfers/{transfer['transferNo']}", as_user=A.id_number
    )
    assert read["data"] == transfer
    found = await call(
        client, "GET", "/gjj/transfers", as_user=A.id_number, params={"requestNo": "GW-T-0001"}
    )
    assert found["data"] == transfer
    none = await call(
        client, "POST", "/gjj/transfers", as_user=WITHOUT_FUND.id_number, json=TRANSFER
    )
    assert none["code"] == 2001
    bad = await call(
        client, "POST", "/gjj/transfers", as_user=B.id_number, json={**TRANSFER, "inAccountNo": "x"}
    )
    assert bad["code"] == 1001


# -- credentials -------------------------------------------------------------------------------


def _xyb_access_token() -> str:
    keys = fresh_keys()
    issuer = TokenIssuer(keys, issuer=ISSUER, audience="xyb-gateway")
    token, _ = issuer.issue(
        subject="p:someone", client_id="app-1", kind="person", roles=["resident"], assurance=2
    )
    assert jwt.get_unverified_header(token)["typ"] == "at+jwt"
    return token


def _altered(id_number: str) -> str:
    credential = _credential(id_number)["Authorization"]
    return credential[:-2] + ("AA" if not credential.endswith("AA") else "BB")


async def test_credentials_that_are_refused(client: httpx.AsyncClient) -> None:
    expired, _ = mint_user_credential("440000", A.id_number, now=NOW.timestamp() - 601)
    shanghai, _ = mint_user_credential("310000", A.id_number, now=NOW.timestamp())
    other_seed, _ = mint_user_credential("440000", A.id_number, now=NOW.timestamp(), seed=2)
    refused = {
        "missing": ({}, "缺少访问凭证"),
        "another scheme": ({"Authorization": "Basic eDp5"}, "缺少访问凭证"),
        "altered": ({"Authorization": _altered(A.id_number)}, "篡改"),
        "expired": ({"Authorization": f"Bearer {expired}"}, "过期"),
        "another partner's": ({"Authorization": f"Bearer {shanghai}"}, "不是粤省事"),
        "another installation's": ({"Authorization": f"Bearer {other_seed}"}, "篡改"),
        "a 湘易办 token": ({"Authorization": f"Bearer {_xyb_access_token()}"}, "其他平台"),
        "the test credential, not installed": (
            {"Authorization": f"Bearer {CONTRACT_CREDENTIAL}"},
            "不是粤省事",
        ),
    }
    for why, (headers, says) in refused.items():
        for method, path in (("GET", "/gjj/account"), ("POST", "/yb/ydba")):
            answer = await call(client, method, path, headers=headers, json=FILING)
            assert answer["code"] == 4001, (why, answer)
            assert says in answer["msg"], (why, answer)


async def test_a_credential_touches_only_its_user(
    client: httpx.AsyncClient, partner: Starlette
) -> None:
    theirs = await call(client, "POST", "/yb/ydba", as_user=B.id_number, json=FILING)
    ba_no = theirs["data"]["baNo"]
    transfer = await call(client, "POST", "/gjj/transfers", as_user=B.id_number, json=TRANSFER)
    transfer_no = transfer["data"]["transferNo"]
    forbidden = [
        await call(client, "GET", f"/yb/ydba/{ba_no}", as_user=A.id_number),
        await call(client, "POST", f"/yb/ydba/{ba_no}/cancel", as_user=A.id_number),
        await call(client, "GET", f"/gjj/transfers/{transfer_no}", as_user=A.id_number),
        await call(
            client, "GET", "/sb/records", as_user=A.id_number, params={"idNumber": B.id_number}
        ),
        await call(
            client, "GET", "/gjj/account", as_user=A.id_number, params={"idNumber": B.id_number}
        ),
        await call(
            client,
            "POST",
            "/yb/ydba",
            as_user=A.id_number,
            json={**FILING, "requestNo": "GW-X", "idNumber": B.id_number},
        ),
        await call(
            client,
            "POST",
            "/gjj/transfers",
            as_user=A.id_number,
            json={**TRANSFER, "requestNo": "GW-X", "idNumber": B.id_number},
        ),
    ]
    assert [answer["code"] for answer in forbidden] == [4003] * len(forbidden)
    assert _state(partner).filings[ba_no].status == "1"  # not cancelled by A
    own = await call(
        client, "GET", "/sb/records", as_user=A.id_number, params={"idNumber": A.id_number.lower()}
    )
    assert own["code"] == 0


# -- the gateway's assertion -------------------------------------------------------------------


def _assertion(keys: KeyRing, **changes: Any) -> str:
    return gateway_assertion(
        keys, **{"audience": DEFAULT_AUDIENCE, "id_number": A.id_number, **changes}
    )


async def test_given_the_gateways_keys_the_token_endpoint_needs_its_assertion(
    gateway_keys: KeyRing,
) -> None:
    app = create_guangdong_app(
        clock=fixed_clock, gateway_jwks=gateway_keys.jwks(), assertion_issuer=ISSUER
    )
    other = fresh_keys()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://y") as c:

        async def token(assertion: str | None, body: object = None) -> dict[str, Any]:
            headers = {} if assertion is None else {"X-XYB-Assertion": assertion}
            return await call(c, "POST", "/auth/token", headers=headers, json=body)

        granted = await token(_assertion(gateway_keys))
        credential = {"Authorization": f"Bearer {granted['data']['accessToken']}"}
        records = await call(c, "GET", "/sb/records", headers=credential)
        assert records["data"]["idNumber"] == A.id_number  # bound to the assertion's user
        same = await token(_assertion(gateway_keys), {"idNumber": A.id_number})
        assert same["code"] == 0
        refused = {
            "none": None,
            "none, with idNumber in the body": None,
            "garbage": "not-a-jwt",
            "another key": _assertion(other),
            "another audience": _assertion(gateway_keys, audience="310000/alliance"),
            "another issuer": _assertion(gateway_keys, issuer="https://elsewhere.example"),
            "expired": _assertion(gateway_keys, now=time.time() - 3600),
            "no user": _assertion(gateway_keys, id_number=None),
        }
        for why, assertion in refused.items():
            answer = await token(assertion, {"idNumber": A.id_number})
            assert answer["code"] == 4001, why
        someone_else = await token(_assertion(gateway_keys), {"idNumber": B.id_number})
        assert someone_else["code"] == 4003


def test_checking_assertions_needs_the_issuer(gateway_keys: KeyRing) -> None:
    with pytest.raises(ValueError, match="issuer"):
        create_guangdong_app(gateway_jwks=gateway_keys.jwks())


# -- faults, HTTP, document ----------------------------------------------------------------------


async def test_faults_are_injected_in_its_envelope() -> None:
    faults = Faults(error_rate=1.0, error_status=503)
    app = create_guangdong_app(faults=faults, clock=fixed_clock)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://y") as c:
        failed = await c.get(f"{API}/gjj/account", headers=_credential(A.id_number))
        assert failed.status_code == 503
        assert failed.json() == {"code": 503, "msg": "系统繁忙，请稍后再试", "data": None}
        faults.update(error_rate=0.0, malformed="json")
        broken = await c.get(f"{API}/gjj/account", headers=_credential(A.id_number))
        assert broken.status_code == 200
        with pytest.raises(ValueError, match=r"Expecting|Unterminated|Extra"):
            broken.json()
        faults.clear()
        assert (await c.get(f"{API}/gjj/account")).status_code == 200
        assert (await c.post("/_sim/reset")).status_code == 204  # never faulted nor counted
    assert app.state.received[("GET", f"{API}/gjj/account")] == 3


async def test_what_reaches_no_operation_has_an_http_status(client: httpx.AsyncClient) -> None:
    nowhere = await client.get(f"{API}/nowhere")
    assert (nowhere.status_code, nowhere.json()) == (
        404,
        {"code": 404, "msg": "接口不存在", "data": None},
    )
    wrong = await client.delete(f"{API}/gjj/account")
    assert (wrong.status_code, wrong.json()["code"]) == (405, 405)


async def test_its_document_is_served(client: httpx.AsyncClient) -> None:
    assert (await client.get("/openapi.yaml")).text == openapi_document()
    document = (await client.get("/openapi.json")).json()
    assert document == yaml.safe_load(openapi_document())
    assert set(document["paths"]) == {
        f"{API}/auth/token",
        f"{API}/yb/ydba",
        f"{API}/yb/ydba/{{baNo}}",
        f"{API}/yb/ydba/{{baNo}}/cancel",
        f"{API}/sb/records",
        f"{API}/gjj/account",
        f"{API}/gjj/transfers",
        f"{API}/gjj/transfers/{{transferNo}}",
    }


# -- provider states ---------------------------------------------------------------------------


async def test_provider_states(client: httpx.AsyncClient) -> None:
    async def given(state: str, **params: Any) -> httpx.Response:
        return await client.post("/_sim/provider-state", json={"state": state, "params": params})

    installed = {"Authorization": f"Bearer {CONTRACT_CREDENTIAL}"}
    made = await given("a signed-in resident insured in Guangdong", idNumber=NOBODY, name="王五")
    assert made.status_code == 200, made.text
    assert made.json()["params"]["credential"] == CONTRACT_CREDENTIAL
    account = await call(client, "GET", "/gjj/account", headers=installed)
    assert (account["data"]["idNumber"], account["data"]["name"]) == (NOBODY, "王五")
    records = await call(client, "GET", "/sb/records", headers=installed)
    assert records["data"]["total"] >= 4 * 24
    await given("a signed-in resident insured in Guangdong", idNumber=NOBODY, hasFundAccount=False)
    assert (await call(client, "GET", "/gjj/account", headers=installed))["code"] == 2001
    await given("a signed-in resident with no history in Guangdong", idNumber=A.id_number)
    assert (await call(client, "GET", "/sb/records", headers=installed))["code"] == 2001
    filing = await given("a filing exists", idNumber=B.id_number, status="2", signedInAs=STRANGER)
    ba_no = filing.json()["params"]["baNo"]
    assert (await call(client, "GET", f"/yb/ydba/{ba_no}", headers=installed))["code"] == 4003
    await given("a filing exists", idNumber=B.id_number, baNo=ba_no, status="2")
    read = await call(client, "GET", f"/yb/ydba/{ba_no}", headers=installed)
    assert read["data"]["status"] == "2"
    await given("no filing with this number", baNo=ba_no, idNumber=B.id_number)
    assert (await call(client, "GET", f"/yb/ydba/{ba_no}", headers=installed))["code"] == 2001
    transfer = await given("a transfer exists", idNumber=WITHOUT_FUND.id_number)
    number = transfer.json()["params"]["transferNo"]
    read = await call(client, "GET", f"/gjj/transfers/{number}", headers=installed)
    assert read["data"]["idNumber"] == WITHOUT_FUND.id_number
    unknown = await given("nonsense")
    assert unknown.status_code == 400
    assert "a filing exists" in unknown.json()["known_states"]
    for state, params in (
        ("a filing exists", {"idNumber": "123"}),
        ("a filing exists", {"destCode": "440100"}),
        ("a filing exists", {"status": "9"}),
        ("no filing with this number", {}),
        ("the next write commits then hangs", {"writes": "1"}),
    ):
        assert (await given(state, **params)).status_code == 400, (state, params)
    assert (await client.post("/_sim/provider-state", content=b"[]")).status_code == 400


# -- registration, document and contract -------------------------------------------------------


def test_it_is_registered_as_a_simulated_provider() -> None:
    provider = simulator_for("alliance", "guangdong")
    assert provider == simulator_provider()
    assert provider.document() == openapi_document()
    assert provider.demo_url == f"http://127.0.0.1:{DEMO_PORT}" == "http://127.0.0.1:9017"
    assert provider.division == "440000"


def test_the_contract_anchors_the_simulators_document() -> None:
    """contracts/alliance/guangdong.openapi.yaml is the simulator's document, byte for byte."""
    assert_document_anchored(CONTRACT, openapi_document())


def test_the_contract_passes_against_the_simulator() -> None:
    """The done criterion, as a user types it."""
    assert_contract_passes(CONTRACT, "23 passed, 0 failed, 0 skipped")


async def test_a_contract_the_partner_does_not_keep_fails(tmp_path: Path) -> None:
    """Replay really asks the simulator: an expectation it does not meet fails, by name."""
    text = CONTRACT.read_text(encoding="utf-8")
    broken_text = text.replace("destName: 湖南省岳阳市", "destName: 湖南省长沙市", 1)
    assert broken_text != text
    (tmp_path / "guangdong.openapi.yaml").write_text(openapi_document(), encoding="utf-8")
    broken = tmp_path / "guangdong.contract.yaml"
    broken.write_text(broken_text, encoding="utf-8")
    report = await verify([broken], target="simulator")
    failed = {r.interaction: r for r in report.results if r.outcome == "fail"}
    assert set(failed) == {"read-a-filing"}
    assert any(m.path == "$.data.destName" for m in failed["read-a-filing"].mismatches)
