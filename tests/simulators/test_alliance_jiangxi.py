"""Simulated 赣服通 (Jiangxi): its XML protocol, credentials, idempotency by QQLSH, its own faults
("commit, then hang", hostile answers), the gateway's assertion, determinism, and its contract,
verified the way a user verifies it (`xyb contracts verify ... --target simulator`)."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
import yaml
from defusedxml import DTDForbidden, EntitiesForbidden
from defusedxml.ElementTree import fromstring as safe_fromstring
from starlette.applications import Starlette

from app.contracts.replay import verify
from app.identity.keys import KeyRing, generate_key
from app.simulators import Faults, simulator_for
from app.simulators.alliance.common import alliance_residents, mint_user_credential
from app.simulators.alliance.jiangxi import (
    DEFAULT_AUDIENCE,
    HOSTILE_DOCUMENTS,
    Hostile,
    JiangxiServer,
    create_jiangxi_app,
    openapi_document,
    seeded_people,
)
from tests.simulators.alliance_support import (
    ISSUER,
    ROOT,
    assert_contract_passes,
    assert_document_anchored,
    fresh_keys,
    gateway_assertion,
)
from tests.simulators.clock import NOW, fixed_clock

CONTRACT = ROOT / "contracts" / "alliance" / "jiangxi.contract.yaml"
NOBODY = "11010519491231002X"  # a valid ID number nobody seeded holds
PEOPLE = list(seeded_people(1).values())
ALICE, BOB = PEOPLE[0], PEOPLE[1]


def _request(**body: str) -> str:
    fields = "".join(f"<{k}>{v}</{k}>" for k, v in body.items())
    return f"<Request><Head><QDBS>XYB</QDBS></Head><Body>{fields}</Body></Request>"


def _filing(**changes: str) -> dict[str, str]:
    return {
        "QQLSH": "XYB-0001",
        "XZLX": "310",
        "BALX": "21",
        "JYDQH": "430100",
        "KSRQ": "20231201",
        "LXDH": "13912345678",
        **changes,
    }


def credential(id_number: str, now: datetime = NOW) -> str:
    return mint_user_credential("360000", id_number, now=now.timestamp())[0]


class Answer:
    """An XML answer: its status, RetCode, RetMsg and Body fields."""

    def __init__(self, response: httpx.Response) -> None:
        assert response.headers["content-type"] == "application/xml; charset=UTF-8"
        self.status = response.status_code
        self.root = safe_fromstring(response.content)
        assert self.root.tag == "Response"
        self.code = self.root.findtext("Head/RetCode") or ""
        self.message = self.root.findtext("Head/RetMsg") or ""
        body = self.root.find("Body")
        assert body is not None
        self.body = {child.tag: child.text for child in body if len(child) == 0}
        self.element = body


@pytest.fixture
def app() -> Starlette:
    return create_jiangxi_app(clock=fixed_clock)


@pytest.fixture
async def client(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://gft.example"
    ) as c:
        yield c


async def call(
    client: httpx.AsyncClient,
    path: str,
    who: str | None = ALICE.id_number,
    *,
    raw: str | None = None,
    presented: str | None = None,
    assertion: str | None = None,
    **body: str,
) -> Answer:
    """POST to ``path`` with ``who``'s credential (or the ``presented`` one; neither: none)."""
    sent: dict[str, str] = {}
    if presented is not None:
        sent["X-GFT-Credential"] = presented
    elif who is not None:
        sent["X-GFT-Credential"] = credential(who)
    if assertion is not None:
        sent["X-XYB-Assertion"] = assertion
    content = raw if raw is not None else _request(**body)
    response = await client.post(f"/gft/service/{path}", content=content, headers=sent)
    return Answer(response)


# -- the seeded data ---------------------------------------------------------------------------


def test_the_people_are_the_alliance_residents_and_deterministic() -> None:
    residents = alliance_residents("360000", 1)
    assert [p.id_number for p in PEOPLE] == [r.id_number for r in residents]
    assert len(PEOPLE) > 20
    assert seeded_people.__wrapped__(1) == seeded_people(1)
    assert seeded_people.__wrapped__(2) != seeded_people(1)
    for person, resident in zip(PEOPLE, residents, strict=True):
        assert (person.name, person.since, person.until) == (
            resident.name,
            resident.since,
            resident.until,
        )
        assert re.fullmatch("36[0-9]{12}", person.account)


async def test_the_same_seed_gives_the_same_answers() -> None:
    answers = []
    for seed in (1, 1):
        app = create_jiangxi_app(seed=seed, clock=fixed_clock)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://g"
        ) as c:
            account = await call(c, "gjj/account")
            filing = await call(c, "ybydba/add", **_filing())
            answers.append((account.body, filing.body))
    assert answers[0] == answers[1]
    assert answers[0][1]["BABH"] == "GFTBA20231120000001"


# -- the token endpoint ------------------------------------------------------------------------


async def test_a_credential_without_a_gateway_names_its_user(client: httpx.AsyncClient) -> None:
    issued = await call(client, "auth/token", None, ZJHM=ALICE.id_number)
    assert (issued.status, issued.code, issued.message) == (200, "0000", "成功")
    assert (issued.body["PZ"] or "").startswith("jiangxi.")
    assert (issued.body["PZLX"], issued.body["YXSC"], issued.body["DQSJ"]) == (
        "GFT-USER",
        "600",
        "20231120101000",
    )
    account = await call(client, "gjj/account", None, presented=issued.body["PZ"])
    assert account.body["ZJHM"] == ALICE.id_number
    for body in ({}, {"ZJHM": "430102199003071235"}):
        refused = await call(client, "auth/token", None, **body)
        assert (refused.status, refused.code) == (200, "1001")


def _assertion(keys: KeyRing, **changes: Any) -> str:
    return gateway_assertion(
        keys, **{"audience": DEFAULT_AUDIENCE, "id_number": ALICE.id_number, **changes}
    )


async def test_given_the_gateways_keys_the_token_endpoint_needs_its_assertion(
    gateway_keys: KeyRing,
) -> None:
    app = create_jiangxi_app(
        clock=fixed_clock, gateway_jwks=gateway_keys.jwks(), assertion_issuer=ISSUER
    )
    other = fresh_keys()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://g") as c:

        async def token(assertion: str | None, **body: str) -> Answer:
            return await call(c, "auth/token", None, assertion=assertion, **body)

        issued = await token(_assertion(gateway_keys))
        assert issued.code == "0000"
        account = await call(c, "gjj/account", None, presented=issued.body["PZ"] or "")
        assert account.body["ZJHM"] == ALICE.id_number  # bound to the assertion's id_number
        refused = {
            "none": None,
            "garbage": "not-a-jwt",
            "another key": _assertion(other),
            "another audience": _assertion(gateway_keys, audience="440000/alliance"),
            "another issuer": _assertion(gateway_keys, issuer="https://elsewhere.example"),
            "expired": _assertion(gateway_keys, now=time.time() - 3600),
            "no user": _assertion(gateway_keys, id_number=None),
        }
        for why, assertion in refused.items():
            answer = await token(assertion)
            assert (answer.status, answer.code) == (200, "4002"), why
            assert "PZ" not in answer.body
        other_user = await token(_assertion(gateway_keys), ZJHM=BOB.id_number)
        assert other_user.code == "4003"
        # With a gateway there is no replay credential.
        replayed = await call(c, "gjj/account", None, presented=f"gft-contract.{ALICE.id_number}")
        assert replayed.code == "4001"


def test_checking_assertions_needs_the_issuer(gateway_keys: KeyRing) -> None:
    with pytest.raises(ValueError, match="issuer"):
        create_jiangxi_app(gateway_jwks=gateway_keys.jwks())


# -- credentials -------------------------------------------------------------------------------


def _xiangyiban_token() -> str:
    key = generate_key(datetime.now(UTC))
    assert key.private_key is not None
    return jwt.encode(
        {"iss": "https://xyb.hunan.gov.cn", "sub": "u1", "exp": int(time.time()) + 600},
        key.private_key,
        algorithm="EdDSA",
        headers={"typ": "at+jwt", "kid": key.kid},
    )


async def test_credentials_are_checked(client: httpx.AsyncClient) -> None:
    good = credential(ALICE.id_number)
    provider, payload, mac = good.split(".")
    refused = {
        "missing": None,
        "empty": "",
        "altered": f"{provider}.{payload}.{mac[:-2]}AA",
        "expired": credential(ALICE.id_number, NOW.replace(hour=9)),
        "another partner's": mint_user_credential("440000", ALICE.id_number)[0],
        "a 湘易办 access token": _xiangyiban_token(),
        "a bad replay credential": "gft-contract.430102199003071235",
    }
    for why, presented in refused.items():
        for path in ("gjj/account", "sbjf/query", "ybydba/query"):
            answer = await call(client, path, None, presented=presented, BABH="X")
            assert (answer.status, answer.code) == (200, "4001"), (why, path)
            assert answer.message.startswith("凭证无效")
    assert (await call(client, "gjj/account")).code == "0000"


async def test_a_credential_touches_only_its_own_person(client: httpx.AsyncClient) -> None:
    for path, body in (
        ("gjj/account", {"ZJHM": BOB.id_number}),
        ("sbjf/query", {"ZJHM": BOB.id_number}),
        ("ybydba/add", _filing(ZJHM=BOB.id_number)),
        (
            "gjj/transfer/add",
            {"QQLSH": "T1", "GRZH": BOB.account, "ZRCSDM": "430100", "LXDH": "13912345678"},
        ),
    ):
        answer = await call(client, path, **body)
        assert (answer.status, answer.code) == (200, "4003"), path
    bobs = await call(client, "ybydba/add", BOB.id_number, **_filing(QQLSH="BOB-1"))
    for body in ({"BABH": bobs.body["BABH"] or ""}, {"QQLSH": "BOB-1"}):
        assert (await call(client, "ybydba/query", **body)).code == "4003"
    assert (await call(client, "ybydba/cancel", BABH=bobs.body["BABH"] or "")).code == "4003"
    transfer = await call(
        client,
        "gjj/transfer/add",
        BOB.id_number,
        QQLSH="BOB-T",
        GRZH=BOB.account,
        ZRCSDM="430100",
        LXDH="13912345678",
    )
    assert (
        await call(client, "gjj/transfer/query", ZYBH=transfer.body["ZYBH"] or "")
    ).code == "4003"


# -- 医保异地备案 ----------------------------------------------------------------------------------


async def test_a_filing_is_made_read_and_cancelled(client: httpx.AsyncClient) -> None:
    made = await call(client, "ybydba/add", **_filing(BALX="29", ZZRQ="20240301"))
    assert (made.status, made.code) == (200, "0000")
    body = made.body
    assert body["BABH"] == "GFTBA20231120000001"
    assert (body["ZJHM"], body["XM"], body["XZLX"], body["XZMC"]) == (
        ALICE.id_number,
        ALICE.name,
        "310",
        "职工基本医疗保险",
    )
    assert (body["BALX"], body["BALXMC"], body["JYDMC"], body["KSRQ"], body["ZZRQ"]) == (
        "29",
        "临时外出就医",
        "长沙市",
        "20231201",
        "20240301",
    )
    assert (body["BAZT"], body["BAZTMC"], body["SLSJ"]) == ("01", "有效", "20231120100000")
    assert "CXSJ" not in body
    by_number = await call(client, "ybydba/query", BABH=body["BABH"] or "")
    by_serial = await call(client, "ybydba/query", QQLSH="XYB-0001")
    assert by_number.body == by_serial.body == body
    cancelled = await call(client, "ybydba/cancel", BABH=body["BABH"] or "", CXYY="已回湖南")
    assert (cancelled.code, cancelled.body["BAZT"], cancelled.body["BAZTMC"]) == (
        "0000",
        "02",
        "已撤销",
    )
    assert (cancelled.body["CXSJ"], cancelled.body["CXYY"]) == ("20231120100000", "已回湖南")
    again = await call(client, "ybydba/cancel", BABH=body["BABH"] or "")
    assert (again.status, again.code) == (200, "2002")
    assert (await call(client, "ybydba/query", BABH=body["BABH"] or "")).body["BAZT"] == "02"


async def test_a_retried_filing_is_the_same_filing(
    client: httpx.AsyncClient, app: Starlette
) -> None:
    first = await call(client, "ybydba/add", **_filing())
    retried = await call(client, "ybydba/add", **_filing())
    assert retried.code == "0000"
    assert retried.body == first.body
    assert len(app.state.jiangxi.filings) == 1
    other = await call(client, "ybydba/add", **_filing(JYDQH="430200"))
    assert (other.status, other.code) == (200, "2002")
    assert "QQLSH" in other.message
    by_someone_else = await call(client, "ybydba/add", BOB.id_number, **_filing())
    assert by_someone_else.code == "2002"
    second = await call(client, "ybydba/add", **_filing(QQLSH="XYB-0002"))
    assert second.body["BABH"] == "GFTBA20231120000002"
    assert len(app.state.jiangxi.filings) == 2


@pytest.mark.parametrize(
    ("changes", "says"),
    [
        ({"QQLSH": ""}, "QQLSH"),
        ({"QQLSH": "a b"}, "QQLSH"),
        ({"XZLX": "110"}, "XZLX"),
        ({"BALX": "01"}, "BALX"),
        ({"JYDQH": "4301"}, "JYDQH"),
        ({"JYDQH": "360100"}, "参保地"),
        ({"KSRQ": "2023-12-01"}, "KSRQ"),
        ({"KSRQ": "20230231"}, "KSRQ"),
        ({"ZZRQ": "20231101"}, "早于"),
        ({"BALX": "29"}, "ZZRQ"),
        ({"LXDH": "0731-1234567"}, "LXDH"),
    ],
)
async def test_a_bad_filing_is_refused(
    client: httpx.AsyncClient, changes: dict[str, str], says: str
) -> None:
    body = {k: v for k, v in _filing(**changes).items() if v}
    refused = await call(client, "ybydba/add", **body)
    assert (refused.status, refused.code) == (200, "1001"), refused.message
    assert says in refused.message


async def test_filings_that_are_not_there(client: httpx.AsyncClient) -> None:
    assert (await call(client, "ybydba/query")).code == "1001"
    assert (await call(client, "ybydba/query", BABH="GFTBA20231120999999")).code == "2001"
    assert (await call(client, "ybydba/query", QQLSH="NEVER")).code == "2001"
    assert (await call(client, "ybydba/cancel")).code == "1001"
    assert (await call(client, "ybydba/cancel", BABH="GFTBA20231120999999")).code == "2001"
    stranger = await call(client, "ybydba/add", NOBODY, **_filing())
    assert stranger.code == "2001"  # not insured in Jiangxi


# -- 社保缴费记录 and 公积金 -----------------------------------------------------------------------


async def test_the_callers_contributions(client: httpx.AsyncClient) -> None:
    first = await call(client, "sbjf/query", MYTS="8")
    assert first.code == "0000"
    months = len(ALICE.months())
    assert first.body["ZJLS"] == str(months * 4)
    records = first.element.findall("JFJL/JL")
    assert len(records) == 8
    newest = records[0]
    assert newest.findtext("JFNY") == ALICE.until.strftime("%Y%m")
    assert [r.findtext("XZLX") for r in records[:4]] == ["110", "210", "310", "410"]
    assert newest.findtext("JFJS") == f"{ALICE.base}.00"
    assert newest.findtext("DWJFJE") == f"{ALICE.base * 0.16:.2f}"
    assert newest.findtext("DWMC") == ALICE.employer
    medical = await call(
        client,
        "sbjf/query",
        XZLX="310",
        KSNY=ALICE.since.strftime("%Y%m"),
        JSNY=ALICE.since.strftime("%Y%m"),
    )
    assert medical.body["ZJLS"] == "1"
    assert medical.element.findtext("JFJL/JL/XZMC") == "职工基本医疗保险"
    for body in (
        {"XZLX": "390"},
        {"KSNY": "2023"},
        {"KSNY": "202302", "JSNY": "202301"},
        {"MYTS": "201"},
        {"YM": "0"},
    ):
        assert (await call(client, "sbjf/query", **body)).code == "1001", body
    assert (await call(client, "sbjf/query", NOBODY)).code == "2001"


async def test_the_fund_account_and_its_transfer(client: httpx.AsyncClient) -> None:
    account = await call(client, "gjj/account")
    assert account.code == "0000"
    body = account.body
    assert (body["GRZH"], body["ZHZT"], body["ZHZTMC"], body["ZYZJE"]) == (
        ALICE.account,
        "02",
        "封存",
        "0.00",
    )
    assert body["ZHYE"] == body["KYYE"] == str(ALICE.balance)
    assert body["ZHJCRQ"] == ALICE.until.strftime("%Y%m15")
    asked = {"QQLSH": "T-1", "GRZH": ALICE.account, "ZRCSDM": "430100", "LXDH": "13912345678"}
    transfer = await call(client, "gjj/transfer/add", **asked)
    assert transfer.code == "0000", transfer.message
    assert (transfer.body["ZYBH"], transfer.body["ZYZT"], transfer.body["ZYZTMC"]) == (
        "GFTZY20231120000001",
        "01",
        "已受理",
    )
    assert (transfer.body["ZYJE"], transfer.body["ZRZXMC"]) == (
        str(ALICE.balance),
        "长沙市住房公积金管理中心",
    )
    moving = (await call(client, "gjj/account")).body
    assert (moving["ZHZT"], moving["KYYE"], moving["ZYZJE"]) == ("03", "0.00", str(ALICE.balance))
    assert (await call(client, "gjj/transfer/add", **asked)).body == transfer.body  # a retry
    changed = await call(client, "gjj/transfer/add", **{**asked, "ZRCSDM": "430200"})
    assert changed.code == "2002"
    second = await call(client, "gjj/transfer/add", **{**asked, "QQLSH": "T-2"})
    assert (second.code, second.message) == ("2002", "该账户已有办理中的转移申请")
    by_number = await call(client, "gjj/transfer/query", ZYBH=transfer.body["ZYBH"] or "")
    by_serial = await call(client, "gjj/transfer/query", QQLSH="T-1")
    assert by_number.body == by_serial.body == transfer.body
    assert (await call(client, "gjj/transfer/query")).code == "1001"
    assert (await call(client, "gjj/transfer/query", QQLSH="T-9")).code == "2001"
    for changes in ({"ZRCSDM": "360100"}, {"ZRCSDM": "439999"}, {"GRZH": ""}, {"LXDH": "1"}):
        bad = {k: v for k, v in {**asked, "QQLSH": "T-3", **changes}.items() if v}
        assert (await call(client, "gjj/transfer/add", BOB.id_number, **bad)).code in (
            "1001",
            "4003",
        )
    unknown = await call(
        client, "gjj/transfer/add", **{**asked, "QQLSH": "T-4", "GRZH": "36000000000000"}
    )
    assert unknown.code == "2001"
    assert (await call(client, "gjj/account", NOBODY)).code == "2001"


# -- what is not a request ---------------------------------------------------------------------

XXE = (
    '<?xml version="1.0"?><!DOCTYPE Request [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
    "<Request><Body><ZJHM>&xxe;</ZJHM></Body></Request>"
)
LAUGHS = HOSTILE_DOCUMENTS["billion-laughs"].decode().replace("Response", "Request")
INTERNAL = '<!DOCTYPE Request [<!ENTITY a "b">]><Request><Body><ZJHM>&a;</ZJHM></Body></Request>'
DOCTYPE_ONLY = '<!DOCTYPE Request SYSTEM "http://evil.example/x.dtd"><Request><Body/></Request>'


@pytest.mark.parametrize("document", [XXE, LAUGHS, INTERNAL, DOCTYPE_ONLY])
async def test_a_dtd_or_entity_in_a_request_is_refused_unexpanded(
    client: httpx.AsyncClient, document: str
) -> None:
    for path in ("gjj/account", "auth/token", "ybydba/add"):
        refused = await call(client, path, raw=document)
        assert (refused.status, refused.code) == (400, "1003"), path
        assert "DTD" in refused.message
        assert not {"root:", "lol"} & set(refused.message.split())


async def test_what_is_not_a_request_has_an_http_status(client: httpx.AsyncClient) -> None:
    for document in ("", "not xml", "<Request><Body>", "<Query/>", "<Request><Head/></Request>"):
        refused = await call(client, "gjj/account", raw=document)
        assert (refused.status, refused.code) == (400, "1002"), document
    too_big = await call(client, "gjj/account", raw=_request(X="x" * 70_000))
    assert (too_big.status, too_big.code) == (413, "9413")
    wrong_method = Answer(await client.get("/gft/service/gjj/account"))
    assert (wrong_method.status, wrong_method.code) == (405, "9405")
    nowhere = Answer(await client.post("/gft/service/nowhere", content=_request()))
    assert (nowhere.status, nowhere.code) == (404, "9404")


# -- faults ------------------------------------------------------------------------------------


async def test_commit_then_hang_applies_the_write_and_never_answers(
    client: httpx.AsyncClient, app: Starlette
) -> None:
    armed = await client.post("/_sim/commit-then-hang")
    assert armed.json() == {"armed": True}
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(call(client, "ybydba/add", **_filing()), 0.3)
    # It was applied: the retry (same QQLSH) finds it, and the fault was spent.
    found = await call(client, "ybydba/query", QQLSH="XYB-0001")
    assert (found.code, found.body["BAZT"]) == ("0000", "01")
    retried = await call(client, "ybydba/add", **_filing())
    assert retried.body["BABH"] == found.body["BABH"]
    assert len(app.state.jiangxi.filings) == 1
    # By provider state, for a cancel and a transfer too; reads are not writes.
    for path, body in (
        ("ybydba/cancel", {"BABH": found.body["BABH"] or ""}),
        (
            "gjj/transfer/add",
            {"QQLSH": "T", "GRZH": ALICE.account, "ZRCSDM": "430100", "LXDH": "13912345678"},
        ),
    ):
        state = await client.post(
            "/_sim/provider-state", json={"state": "the next write commits then hangs"}
        )
        assert state.status_code == 200
        assert (await call(client, "gjj/account")).code == "0000"
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(call(client, path, **body), 0.3)
    assert (await call(client, "ybydba/query", QQLSH="XYB-0001")).body["BAZT"] == "02"
    assert (await call(client, "gjj/account")).body["ZHZT"] == "03"
    assert (await client.post("/_sim/commit-then-hang", json={"armed": False})).status_code == 200
    assert (await client.post("/_sim/commit-then-hang", json={"armed": "x"})).status_code == 400


@pytest.mark.parametrize("mode", ["xxe", "billion-laughs"])
async def test_the_hostile_answer_fault(
    client: httpx.AsyncClient, app: Starlette, mode: Hostile
) -> None:
    assert (await client.post("/_sim/hostile-answer", json={"mode": mode})).status_code == 200
    answer = await client.post(
        "/gft/service/ybydba/add",
        content=_request(**_filing()),
        headers={"X-GFT-Credential": credential(ALICE.id_number)},
    )
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/xml; charset=UTF-8"
    assert answer.content == HOSTILE_DOCUMENTS[mode]
    assert b"<!DOCTYPE Response" in answer.content
    assert (b'SYSTEM "file:///etc/passwd"' in answer.content) == (mode == "xxe")
    assert (b"&lol8;" in answer.content) == (mode == "billion-laughs")
    with pytest.raises((DTDForbidden, EntitiesForbidden)):
        safe_fromstring(answer.content)
    assert app.state.jiangxi.filings == {}  # not processed
    assert (await client.get("/openapi.yaml")).status_code == 200  # only /gft/service/
    cleared = await client.post("/_sim/hostile-answer", json={"mode": None})
    assert cleared.status_code == 200
    assert (await call(client, "gjj/account")).code == "0000"
    by_state = await client.post(
        "/_sim/provider-state", json={"state": "answers are hostile", "params": {"mode": mode}}
    )
    assert by_state.status_code == 200
    assert (await client.post("/gft/service/gjj/account")).content == HOSTILE_DOCUMENTS[mode]
    assert (await client.post("/_sim/hostile-answer", json={"mode": "zip"})).status_code == 400
    await client.post("/_sim/reset")
    assert (await call(client, "gjj/account")).code == "0000"


def test_the_billion_laughs_document_is_the_real_thing() -> None:
    text = HOSTILE_DOCUMENTS["billion-laughs"].decode()
    assert text.count("<!ENTITY") == 10
    assert '<!ENTITY lol9 "' + "&lol8;" * 10 + '">' in text
    # The standard library parser refuses nothing: only its (lack of) expansion limits save it,
    # so never parse it here; defusedxml refuses it before expanding anything.
    with pytest.raises(EntitiesForbidden):
        safe_fromstring(HOSTILE_DOCUMENTS["billion-laughs"], forbid_dtd=False)


async def test_faults_are_injected_in_its_envelope() -> None:
    faults = Faults(error_rate=1.0, error_status=503)
    app = create_jiangxi_app(faults=faults, clock=fixed_clock)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://g") as c:
        failed = await call(c, "gjj/account")
        assert (failed.status, failed.code, failed.message) == (503, "9503", "系统繁忙，请稍后再试")
        faults.clear()
        assert (await call(c, "gjj/account")).code == "0000"
        assert (await c.post("/_sim/reset")).status_code == 204  # never faulted nor counted
    assert app.state.received[("POST", "/gft/service/gjj/account")] == 2


# -- provider states ---------------------------------------------------------------------------


async def test_provider_states(client: httpx.AsyncClient) -> None:
    made = await client.post(
        "/_sim/provider-state",
        json={
            "state": "a resident with a history in Jiangxi",
            "params": {"ZJHM": NOBODY, "XM": "王五"},
        },
    )
    assert made.status_code == 200, made.text
    params = made.json()["params"]
    assert (params["ZJHM"], params["XM"], params["PZ"]) == (
        NOBODY,
        "王五",
        f"gft-contract.{NOBODY}",
    )
    pz = params["PZ"]
    account = await call(client, "gjj/account", None, presented=pz)
    assert (account.body["XM"], account.body["GRZH"]) == ("王五", params["GRZH"])
    filing = await client.post(
        "/_sim/provider-state",
        json={
            "state": "a filing exists",
            "params": {"ZJHM": NOBODY, "BAZT": "02", "BABH": "GFTBA1"},
        },
    )
    assert filing.json()["params"]["BABH"] == "GFTBA1"
    assert (await call(client, "ybydba/query", None, presented=pz, BABH="GFTBA1")).body[
        "BAZT"
    ] == "02"
    gone = await client.post(
        "/_sim/provider-state",
        json={"state": "no filing with this number", "params": {"BABH": "GFTBA1"}},
    )
    assert gone.json()["params"] == {"BABH": "GFTBA1"}
    assert (await call(client, "ybydba/query", None, presented=pz, BABH="GFTBA1")).code == "2001"
    transfer = await client.post(
        "/_sim/provider-state", json={"state": "a transfer exists", "params": {"ZJHM": NOBODY}}
    )
    number = transfer.json()["params"]["ZYBH"]
    assert (
        await call(client, "gjj/transfer/query", None, presented=pz, ZYBH=number)
    ).code == "0000"
    unknown = await client.post("/_sim/provider-state", json={"state": "nonsense"})
    assert unknown.status_code == 400
    assert "a filing exists" in unknown.json()["known_states"]
    for params in ({"ZJHM": "123"}, {"BAZT": "09"}):
        bad = await client.post(
            "/_sim/provider-state", json={"state": "a filing exists", "params": params}
        )
        assert bad.status_code == 400
    assert (await client.post("/_sim/reset")).status_code == 204
    assert (await call(client, "gjj/account", None, presented=pz)).code == "2001"


# -- registration, document and contract -------------------------------------------------------


def test_it_is_registered_as_a_simulated_provider() -> None:
    provider = simulator_for("alliance", "jiangxi")
    assert provider.document() == openapi_document()
    assert provider.demo_url == "http://127.0.0.1:9019"
    assert provider.division == "360000"


async def test_its_document_is_served(client: httpx.AsyncClient) -> None:
    assert (await client.get("/openapi.yaml")).text == openapi_document()
    as_json = (await client.get("/openapi.json")).json()
    assert as_json == yaml.safe_load(openapi_document())
    assert set(as_json["paths"]) == {
        f"/gft/service/{p}"
        for p in (
            "auth/token",
            "ybydba/add",
            "ybydba/query",
            "ybydba/cancel",
            "sbjf/query",
            "gjj/account",
            "gjj/transfer/add",
            "gjj/transfer/query",
        )
    }


def test_the_contract_anchors_the_simulators_document() -> None:
    assert_document_anchored(CONTRACT, openapi_document())


def test_the_contract_passes_against_the_simulator() -> None:
    """The done criterion, as a user types it."""
    assert_contract_passes(CONTRACT, "19 passed, 0 failed, 0 skipped")


async def test_a_contract_it_does_not_keep_fails(tmp_path: Path) -> None:
    """Replay really asks the simulator: an XML expectation it does not meet fails, by path."""
    text = CONTRACT.read_text(encoding="utf-8")
    broken_text = text.replace('"./Body/ZHZTMC": 封存', '"./Body/ZHZTMC": 正常', 1)
    assert broken_text != text
    (tmp_path / "jiangxi.openapi.yaml").write_text(openapi_document(), encoding="utf-8")
    broken = tmp_path / "jiangxi.contract.yaml"
    broken.write_text(broken_text, encoding="utf-8")
    report = await verify([broken], target="simulator")
    failed = {r.interaction: r for r in report.results if r.outcome == "fail"}
    assert set(failed) == {"fund-account"}
    assert [m.path for m in failed["fund-account"].mismatches] == ["./Body/ZHZTMC"]


async def test_it_serves_on_a_socket() -> None:
    async with (
        JiangxiServer(clock=fixed_clock) as gft,
        httpx.AsyncClient(base_url=gft.url) as c,
    ):
        answer = Answer(
            await c.post(
                "/gft/service/gjj/account",
                content=_request(),
                headers={"X-GFT-Credential": credential(ALICE.id_number)},
            )
        )
    assert answer.body["GRZH"] == ALICE.account
    assert gft.url.startswith("http://127.0.0.1:")
