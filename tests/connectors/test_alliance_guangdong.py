"""粤省事's dialect (app.connectors.alliance.dialects.guangdong): canonical → dialect → canonical
is the identity (hypothesis), the dialect against the simulated 粤省事 in-process for every
operation and refusal, and hostile answers refused as BadPartnerAnswer."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import unquote
from zoneinfo import ZoneInfo

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.applications import Starlette

from app.connectors.alliance.canonical import (
    Contribution,
    ContributionInsurance,
    Filing,
    FilingRequest,
    FundAccount,
    Records,
    Transfer,
    TransferRequest,
)
from app.connectors.alliance.dialects import guangdong
from app.connectors.alliance.dialects.base import (
    BadPartnerAnswer,
    Credential,
    Dialect,
    PartnerAnswer,
    PartnerCall,
    PartnerRefused,
)
from app.connectors.alliance.dialects.guangdong import (
    GuangdongDialect,
    decode_filing_request,
    decode_transfer_request,
    encode_account,
    encode_credential,
    encode_filing,
    encode_records,
    encode_transfer,
    query_of,
)
from app.simulators import Faults
from app.simulators.alliance.common import mint_user_credential
from app.simulators.alliance.guangdong import (
    ASSERTION_HEADER,
    DEFAULT_AUDIENCE,
    Insured,
    create_guangdong_app,
    seeded_insured,
)
from app.simulators.alliance.guangdong.data import DEPOSIT_DAY, contributions, fund_balance
from tests.connectors.alliance_requests import KNOWN_HUNAN, REQUEST_DAYS, REQUEST_TEXT
from tests.simulators.alliance_support import ISSUER, fresh_keys, gateway_assertion
from tests.simulators.clock import NOW, fixed_clock

CHINA = ZoneInfo("Asia/Shanghai")
DIALECT = GuangdongDialect()
_CONFORMS: Dialect = DIALECT  # mypy: the class implements the protocol
NOBODY = "11010519491231002X"  # a valid ID number of nobody insured in Guangdong
WITH_FUND = [i for i in seeded_insured(1).values() if i.fund is not None]
A, B = WITH_FUND[:2]
WITHOUT_FUND = next(i for i in seeded_insured(1).values() if i.fund is None)
FILING = FilingRequest(
    insurance="employee",
    kind="long-term-residence",
    destination="430102",
    startDate=date(2023, 12, 1),
    phone="13800138000",
)
TRANSFER = TransferRequest(toCentre="430100", phone="13800138000")


def yuan(amount: float) -> str:
    """The simulator's float amount as canonical Money (its repr is the exact decimal)."""
    return f"{Decimal(repr(amount)).quantize(Decimal('0.01')):f}"


# -- strategies: the canonical values 粤省事 can carry ------------------------------------------

texts = st.text(min_size=1, max_size=20)
partner_ids = st.from_regex(r"[A-Za-z0-9_.-]{1,64}", fullmatch=True)
request_nos = st.from_regex(r"[A-Za-z0-9_-]{1,64}", fullmatch=True)
hunan = st.from_regex(r"43[0-9]{4}", fullmatch=True)
phones = st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True)
dates = st.dates(min_value=date(1950, 1, 1), max_value=date(2099, 12, 31))
months = dates.map(lambda d: f"{d:%Y-%m}")
# Second precision, China time; from 2000: China kept daylight saving time in 1986-1991, whose
# repeated hours a yyyy-MM-dd HH:mm:ss time cannot tell apart.
times = st.datetimes(
    min_value=datetime(2000, 1, 1),
    max_value=datetime(2099, 12, 31),
    timezones=st.just(CHINA),
    allow_imaginary=False,
).map(lambda moment: moment.replace(microsecond=0))
money = st.integers(min_value=0, max_value=10**14 - 1).map(
    lambda fen: f"{fen // 100}.{fen % 100:02d}"
)

filings = st.builds(
    Filing,
    id=partner_ids,
    reference=request_nos,
    partner=st.just("440000"),
    status=st.sampled_from(["active", "cancelled"]),
    name=texts,
    insurance=st.sampled_from(["employee", "resident"]),
    kind=st.sampled_from(
        ["long-term-residence", "temporary-treatment", "referral", "off-site-work"]
    ),
    insuredCity=texts,
    destination=hunan,
    destinationName=texts,
    startDate=dates,
    endDate=st.none() | dates,
    phone=phones,
    remark=st.none() | texts,
    filedAt=times,
    cancelledAt=st.none() | times,
    cancelReason=st.none() | texts,
)
contribution_rows = st.builds(
    Contribution,
    month=months,
    insurance=st.sampled_from(["pension", "unemployment", "medical", "injury"]),
    base=money,
    personal=money,
    employer=money,
    employerName=texts,
    paidOn=dates,
)
records = st.builds(
    Records,
    partner=st.just("440000"),
    name=texts,
    insuredCity=texts,
    total=st.integers(min_value=0, max_value=10**6),
    records=st.lists(contribution_rows, max_size=8),
)
accounts = st.builds(
    FundAccount,
    partner=st.just("440000"),
    accountNo=st.from_regex(r"[0-9]{14}", fullmatch=True),
    name=texts,
    centre=texts,
    employerName=texts,
    status=st.sampled_from(["normal", "sealed", "transferring"]),
    balance=money,
    transferring=money,
    monthlyDeposit=money,
    openedOn=dates,
    lastDepositOn=dates,
    sealedOn=dates,
)
transfers = st.builds(
    Transfer,
    id=partner_ids,
    reference=request_nos,
    partner=st.just("440000"),
    status=st.just("processing"),
    name=texts,
    accountNo=st.from_regex(r"[0-9]{14}", fullmatch=True),
    fromCentre=texts,
    toCentre=hunan,
    toCentreName=texts,
    toAccount=st.none() | st.from_regex(r"[0-9]{6,32}", fullmatch=True),
    phone=phones,
    amount=money,
    appliedOn=dates,
    completedOn=st.none(),
)
filing_requests = st.builds(
    FilingRequest,
    insurance=st.sampled_from(["employee", "resident"]),
    kind=st.sampled_from(
        ["long-term-residence", "temporary-treatment", "referral", "off-site-work"]
    ),
    destination=KNOWN_HUNAN,
    startDate=REQUEST_DAYS,
    endDate=st.none() | REQUEST_DAYS,
    phone=phones,
    remark=st.none() | REQUEST_TEXT,
)
transfer_requests = st.builds(
    TransferRequest,
    toCentre=KNOWN_HUNAN,
    toAccount=st.none() | st.from_regex(r"[0-9]{6,32}", fullmatch=True),
    phone=phones,
)
FAST = settings(max_examples=60, deadline=None)


# -- 1. canonical -> dialect -> canonical is the identity -------------------------------------


@FAST
@given(filings)
def test_a_filing_survives_the_dialect(filing: Filing) -> None:
    assert DIALECT.read_filing(encode_filing(filing)) == filing


@FAST
@given(records)
def test_records_survive_the_dialect(held: Records) -> None:
    page = DIALECT.read_records(encode_records(held))
    assert page.records == held
    assert page.records.records == held.records
    assert page.next_page is None  # 粤省事 answers everything at once


@FAST
@given(accounts)
def test_an_account_survives_the_dialect(account: FundAccount) -> None:
    assert DIALECT.read_account(encode_account(account)) == account


@FAST
@given(transfers)
def test_a_transfer_survives_the_dialect(transfer: Transfer) -> None:
    assert DIALECT.read_transfer(encode_transfer(transfer)) == transfer


@FAST
@given(filing_requests, request_nos)
def test_a_filing_request_survives_the_call(request: FilingRequest, reference: str) -> None:
    call = DIALECT.create_filing_call(A.id_number, reference, request)
    assert (call.method, call.path, call.content_type) == (
        "POST",
        "/api/ysx/v1/yb/ydba",
        "application/json",
    )
    assert decode_filing_request(call) == request
    sent = json.loads(call.body)
    assert (sent["requestNo"], sent["idNumber"]) == (reference, A.id_number)


@FAST
@given(transfer_requests, request_nos)
def test_a_transfer_request_survives_the_call(request: TransferRequest, reference: str) -> None:
    call = DIALECT.create_transfer_call(A.id_number, reference, request)
    assert (call.method, call.path) == ("POST", "/api/ysx/v1/gjj/transfers")
    assert decode_transfer_request(call) == request
    sent = json.loads(call.body)
    assert (sent["requestNo"], sent["idNumber"]) == (reference, A.id_number)


@FAST
@given(st.from_regex(r"[\x21-\x7e]{1,200}", fullmatch=True), st.integers(0, 10**6))
def test_a_credential_survives_the_dialect(value: str, expires_in: int) -> None:
    credential = Credential(value, expires_in)
    assert DIALECT.read_credential(encode_credential(credential)) == credential


@FAST
@given(st.text(min_size=1, max_size=40), st.none() | months, st.none() | months)
def test_path_segments_and_query_values_are_percent_encoded(
    value: str, first: str | None, last: str | None
) -> None:
    for call, below in (
        (DIALECT.get_filing_call(A.id_number, value), "/api/ysx/v1/yb/ydba/"),
        (DIALECT.get_transfer_call(A.id_number, value), "/api/ysx/v1/gjj/transfers/"),
        (DIALECT.cancel_filing_call(A.id_number, value, value), "/api/ysx/v1/yb/ydba/"),
    ):
        assert call.path.startswith(below)
        segment = call.path.removeprefix(below).removesuffix("/cancel")
        assert not set(segment) & set("/?#")
        assert segment not in (".", "..")
        assert unquote(segment) == value
        # What a client sends is what the partner's router decodes: the same segment.
        assert httpx.URL("http://x" + call.path).raw_path.decode() == call.path
    cancel = DIALECT.cancel_filing_call(A.id_number, value, value)
    assert json.loads(cancel.body) == {"cancelReason": value}
    for find in (
        DIALECT.find_filing_call(A.id_number, value),
        DIALECT.find_transfer_call(A.id_number, value),
    ):
        assert query_of(find) == {"requestNo": value}
    asked = query_of(DIALECT.records_call(value, first, last, 3))
    expected = {"idNumber": value, "startMonth": first, "endMonth": last}
    assert asked == {name: v for name, v in expected.items() if v is not None}


def test_the_calls() -> None:
    assert DIALECT.partner == "440000"
    token = DIALECT.token_call(A.id_number)
    assert (token.method, token.path, json.loads(token.body)) == (
        "POST",
        "/api/ysx/v1/auth/token",
        {"idNumber": A.id_number},
    )
    assert DIALECT.credential_header("abc") == ("authorization", "Bearer abc")
    assert (
        DIALECT.get_filing_call(A.id_number, "YDBA/1?x").path == "/api/ysx/v1/yb/ydba/YDBA%2F1%3Fx"
    )
    cancel = DIALECT.cancel_filing_call(A.id_number, "YDBA1", None)
    assert (cancel.path, cancel.body) == ("/api/ysx/v1/yb/ydba/YDBA1/cancel", b"{}")
    assert DIALECT.account_call("43010219900307123X").path == (
        "/api/ysx/v1/gjj/account?idNumber=43010219900307123X"
    )
    assert DIALECT.records_call(A.id_number, None, None, 1).path == (
        f"/api/ysx/v1/sb/records?idNumber={A.id_number}"
    )
    assert DIALECT.find_filing_call(A.id_number, "a&b=c").path == (
        "/api/ysx/v1/yb/ydba?requestNo=a%26b%3Dc"
    )
    # Optional request fields it is not given are absent, not null.
    sent = json.loads(DIALECT.create_transfer_call(A.id_number, "R1", TRANSFER).body)
    assert "inAccountNo" not in sent
    # The account number the connector may pass is not part of 粤省事's request.
    with_account = DIALECT.create_transfer_call(A.id_number, "R1", TRANSFER, "44000000000001")
    assert json.loads(with_account.body) == sent


def test_what_the_partner_cannot_express_is_a_value_error() -> None:
    transfer = Transfer(
        id="T1",
        reference="R1",
        partner="440000",
        status="processing",
        name="张三",
        accountNo="44000000000001",
        fromCentre="广州住房公积金管理中心",
        toCentre="430100",
        toCentreName="长沙市住房公积金管理中心",
        toAccount=None,
        phone="13800138000",
        amount="1.00",
        appliedOn=date(2023, 11, 20),
        completedOn=None,
    )
    encode_transfer(transfer)
    for changes in ({"status": "completed"}, {"completedOn": date(2023, 12, 1)}, {"name": None}):
        with pytest.raises(ValueError, match="粤省事"):
            encode_transfer(transfer.model_copy(update=changes))
    account = FundAccount(
        partner="440000",
        accountNo="44000000000001",
        name="张三",
        centre="广州住房公积金管理中心",
        employerName="某公司",
        status="closed",
        balance="0.00",
        transferring="0.00",
        monthlyDeposit="100.00",
        openedOn=date(2015, 1, 1),
        lastDepositOn=date(2019, 1, 10),
        sealedOn=date(2019, 2, 1),
    )
    with pytest.raises(ValueError, match="closed"):
        encode_account(account)
    row = Contribution(
        month="2019-01",
        insurance="resident-medical",
        base="1.00",
        personal="1.00",
        employer="1.00",
        employerName="某公司",
        paidOn=date(2019, 1, 10),
    )
    with pytest.raises(ValueError, match="resident-medical"):
        encode_records(
            Records(partner="440000", name="张三", insuredCity="广州市", total=1, records=[row])
        )


# -- 2. against the simulated 粤省事 -------------------------------------------------------------


@pytest.fixture
def partner() -> Starlette:
    return create_guangdong_app(clock=fixed_clock)


@pytest.fixture
async def client(partner: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=partner), base_url="http://ysx.example"
    ) as c:
        yield c


async def send(
    client: httpx.AsyncClient,
    call: PartnerCall,
    credential: str | None = None,
    extra: dict[str, str] | None = None,
) -> PartnerAnswer:
    """What the connector does with a call: the partner's whole answer."""
    headers = dict(call.headers)
    if call.content_type is not None:
        headers["content-type"] = call.content_type
    if credential is not None:
        name, value = DIALECT.credential_header(credential)
        headers[name] = value
    headers.update(extra or {})
    answer = await client.request(
        call.method, call.path, content=call.body or None, headers=headers
    )
    return PartnerAnswer(answer.status_code, answer.headers.get("content-type", ""), answer.content)


async def credential_of(client: httpx.AsyncClient, id_number: str) -> str:
    credential = DIALECT.read_credential(await send(client, DIALECT.token_call(id_number)))
    assert credential.expires_in == 600
    return credential.value


async def refusal(answer: PartnerAnswer, read: Callable[[PartnerAnswer], Any]) -> PartnerRefused:
    with pytest.raises(PartnerRefused) as refused:
        read(answer)
    return refused.value


def expected_filing(insured: Insured, **changes: Any) -> Filing:
    filing = Filing(
        id="YDBA20231120000001",
        reference="GW-0001",
        partner="440000",
        status="active",
        name=insured.name,
        insurance="employee",
        kind="long-term-residence",
        insuredCity=insured.city,
        destination="430102",
        destinationName="湖南省长沙市芙蓉区",
        startDate=date(2023, 12, 1),
        endDate=None,
        phone="13800138000",
        remark=None,
        filedAt=datetime(2023, 11, 20, 10, 0, tzinfo=CHINA),
        cancelledAt=None,
        cancelReason=None,
    )
    return filing.model_copy(update=changes)


async def test_filing_with_the_simulator(client: httpx.AsyncClient) -> None:
    mine = await credential_of(client, A.id_number)
    filed = DIALECT.read_filing(
        await send(client, DIALECT.create_filing_call(A.id_number, "GW-0001", FILING), mine)
    )
    assert filed == expected_filing(A)
    assert filed.filedAt == NOW
    again = await send(client, DIALECT.create_filing_call(A.id_number, "GW-0001", FILING), mine)
    assert DIALECT.read_filing(again) == filed  # idempotent by reference
    found = await send(client, DIALECT.find_filing_call(A.id_number, "GW-0001"), mine)
    assert DIALECT.read_filing(found) == filed
    got = await send(client, DIALECT.get_filing_call(A.id_number, filed.id), mine)
    assert DIALECT.read_filing(got) == filed
    cancel = DIALECT.cancel_filing_call(A.id_number, filed.id, "已回广东")
    cancelled = DIALECT.read_filing(await send(client, cancel, mine))
    assert cancelled == filed.model_copy(
        update={"status": "cancelled", "cancelledAt": NOW, "cancelReason": "已回广东"}
    )
    twice = await refusal(await send(client, cancel, mine), DIALECT.read_filing)
    assert (twice.kind, twice.code, twice.message) == (
        "conflict",
        "2002",
        "该备案已撤销，不能重复撤销",
    )
    # A temporary filing carries its end date and remark.
    temporary = FILING.model_copy(
        update={
            "kind": "temporary-treatment",
            "destination": "430600",
            "endDate": date(2024, 2, 28),
            "remark": "随子女居住",
        }
    )
    second = DIALECT.read_filing(
        await send(client, DIALECT.create_filing_call(A.id_number, "GW-0002", temporary), mine)
    )
    assert second == expected_filing(
        A,
        id="YDBA20231120000002",
        reference="GW-0002",
        kind="temporary-treatment",
        destination="430600",
        destinationName="湖南省岳阳市",
        endDate=date(2024, 2, 28),
        remark="随子女居住",
    )
    # Cancelling without a reason: the partner writes its own.
    bare = DIALECT.cancel_filing_call(A.id_number, second.id, None)
    assert DIALECT.read_filing(await send(client, bare, mine)).cancelReason == "本人申请撤销"


async def test_filing_refusals_from_the_simulator(client: httpx.AsyncClient) -> None:
    mine = await credential_of(client, A.id_number)
    theirs = await credential_of(client, B.id_number)
    nobody = await credential_of(client, NOBODY)
    create = DIALECT.create_filing_call
    not_insured = await refusal(
        await send(client, create(NOBODY, "GW-0001", FILING), nobody), DIALECT.read_filing
    )
    assert (not_insured.kind, not_insured.code, not_insured.message) == (
        "not-found",
        "2001",
        "未查询到您在广东省的参保信息",
    )
    their_filing = DIALECT.read_filing(
        await send(client, create(B.id_number, "GW-B", FILING), theirs)
    )
    for call in (
        DIALECT.get_filing_call(A.id_number, their_filing.id),
        DIALECT.cancel_filing_call(A.id_number, their_filing.id, None),
    ):
        forbidden = await refusal(await send(client, call, mine), DIALECT.read_filing)
        assert (forbidden.kind, forbidden.code) == ("forbidden", "4003")
    # The credential is A's, the idNumber B's: the partner refuses, it files nothing for B.
    crossed = await refusal(
        await send(client, create(B.id_number, "GW-X", FILING), mine), DIALECT.read_filing
    )
    assert crossed.kind == "forbidden"
    await send(client, create(A.id_number, "GW-0001", FILING), mine)
    changed = FILING.model_copy(update={"destination": "430103"})
    reused = await refusal(
        await send(client, create(A.id_number, "GW-0001", changed), mine), DIALECT.read_filing
    )
    assert (reused.kind, reused.code) == ("conflict", "2002")
    assert "requestNo" in reused.message
    for call in (
        DIALECT.get_filing_call(A.id_number, "YDBA20231120999999"),
        DIALECT.find_filing_call(A.id_number, "GW-9999"),
    ):
        missing = await refusal(await send(client, call, mine), DIALECT.read_filing)
        assert (missing.kind, missing.code) == ("not-found", "2001")
    # The partner validates too: a temporary filing without an end date is a bad parameter.
    temporary = FILING.model_copy(update={"kind": "temporary-treatment"})
    invalid = await refusal(
        await send(client, create(A.id_number, "GW-T", temporary), mine), DIALECT.read_filing
    )
    assert (invalid.kind, invalid.code) == ("invalid", "1001")


async def test_bad_credentials_are_credential_refusals(client: httpx.AsyncClient) -> None:
    real = await credential_of(client, A.id_number)
    expired, _ = mint_user_credential("440000", A.id_number, now=NOW.timestamp() - 601)
    shanghai, _ = mint_user_credential("310000", A.id_number, now=NOW.timestamp())
    altered = real[:-2] + ("AA" if not real.endswith("AA") else "BB")
    for credential in (altered, expired, shanghai, "nonsense"):
        for call, read in (
            (DIALECT.account_call(A.id_number), DIALECT.read_account),
            (DIALECT.create_filing_call(A.id_number, "GW-1", FILING), DIALECT.read_filing),
            (DIALECT.records_call(A.id_number, None, None, 1), DIALECT.read_records),
        ):
            refused = await refusal(await send(client, call, credential), read)
            assert (refused.kind, refused.code) == ("credential", "4001"), credential
            assert refused.message.startswith("访问凭证无效")
    unsent = await refusal(
        await send(client, DIALECT.account_call(A.id_number)), DIALECT.read_account
    )
    assert unsent.kind == "credential"


async def test_records_from_the_simulator(client: httpx.AsyncClient) -> None:
    mine = await credential_of(client, A.id_number)
    page = DIALECT.read_records(
        await send(client, DIALECT.records_call(A.id_number, None, None, 1), mine)
    )
    assert page.next_page is None
    held = contributions(A)
    codes: dict[str, ContributionInsurance] = {
        "110": "pension",
        "210": "unemployment",
        "310": "medical",
        "410": "injury",
    }
    assert page.records == Records(
        partner="440000",
        name=A.name,
        insuredCity=A.city,
        total=len(held),
        records=[
            Contribution(
                month=f"{c.month:%Y-%m}",
                insurance=codes[c.code],
                base=yuan(c.base),
                personal=yuan(c.personal),
                employer=yuan(c.employer),
                employerName=A.employer,
                paidOn=c.month.replace(day=DEPOSIT_DAY),
            )
            for c in held
        ],
    )
    # It does not page: another page is the same answer, still without a next page.
    later = DIALECT.read_records(
        await send(client, DIALECT.records_call(A.id_number, None, None, 2), mine)
    )
    assert later == page
    last = f"{A.until:%Y-%m}"
    narrowed = DIALECT.read_records(
        await send(client, DIALECT.records_call(A.id_number, last, last, 1), mine)
    )
    assert narrowed.records.total == len(narrowed.records.records) == 4
    assert {r.month for r in narrowed.records.records} == {last}
    backwards = DIALECT.records_call(A.id_number, "2021-05", "2021-01", 1)
    invalid = await refusal(await send(client, backwards, mine), DIALECT.read_records)
    assert (invalid.kind, invalid.code) == ("invalid", "1001")
    nobody = await credential_of(client, NOBODY)
    never = await refusal(
        await send(client, DIALECT.records_call(NOBODY, None, None, 1), nobody),
        DIALECT.read_records,
    )
    assert (never.kind, never.code) == ("not-found", "2001")
    others = await refusal(
        await send(client, DIALECT.records_call(B.id_number, None, None, 1), mine),
        DIALECT.read_records,
    )
    assert (others.kind, others.code) == ("forbidden", "4003")


async def test_the_account_and_a_transfer_with_the_simulator(client: httpx.AsyncClient) -> None:
    assert A.fund is not None
    mine = await credential_of(client, A.id_number)
    account = DIALECT.read_account(await send(client, DIALECT.account_call(A.id_number), mine))
    sealed_on = (A.until + timedelta(days=32)).replace(day=1)
    assert account.model_dump(exclude={"monthlyDeposit"}) == {
        "partner": "440000",
        "accountNo": A.fund.account_no,
        "name": A.name,
        "centre": A.fund_centre,
        "employerName": A.employer,
        "status": "sealed",
        "balance": yuan(fund_balance(A)),
        "transferring": "0.00",
        "openedOn": A.fund.opened,
        "lastDepositOn": A.until.replace(day=DEPOSIT_DAY),
        "sealedOn": sealed_on,
    }
    assert account.monthlyDeposit is not None
    assert Decimal(account.monthlyDeposit) > 0
    create = DIALECT.create_transfer_call(A.id_number, "GW-T-0001", TRANSFER)
    transfer = DIALECT.read_transfer(await send(client, create, mine))
    assert transfer == Transfer(
        id="GJJZY20231120000001",
        reference="GW-T-0001",
        partner="440000",
        status="processing",
        name=A.name,
        accountNo=A.fund.account_no,
        fromCentre=A.fund_centre,
        toCentre="430100",
        toCentreName="长沙市住房公积金管理中心",
        toAccount=None,
        phone="13800138000",
        amount=account.balance,
        appliedOn=date(2023, 11, 20),
        completedOn=None,
    )
    assert DIALECT.read_transfer(await send(client, create, mine)) == transfer  # idempotent
    for call in (
        DIALECT.find_transfer_call(A.id_number, "GW-T-0001"),
        DIALECT.get_transfer_call(A.id_number, transfer.id),
    ):
        assert DIALECT.read_transfer(await send(client, call, mine)) == transfer
    moving = DIALECT.read_account(await send(client, DIALECT.account_call(A.id_number), mine))
    assert (moving.status, moving.balance, moving.transferring) == (
        "transferring",
        "0.00",
        transfer.amount,
    )
    other_centre = TRANSFER.model_copy(update={"toCentre": "430300"})
    reused = await refusal(
        await send(
            client, DIALECT.create_transfer_call(A.id_number, "GW-T-0001", other_centre), mine
        ),
        DIALECT.read_transfer,
    )
    assert (reused.kind, reused.code) == ("conflict", "2002")
    in_progress = await refusal(
        await send(client, DIALECT.create_transfer_call(A.id_number, "GW-T-0002", TRANSFER), mine),
        DIALECT.read_transfer,
    )
    assert (in_progress.kind, in_progress.message) == ("conflict", "该账户已有转移业务正在办理")
    theirs = await credential_of(client, B.id_number)
    forbidden = await refusal(
        await send(client, DIALECT.get_transfer_call(B.id_number, transfer.id), theirs),
        DIALECT.read_transfer,
    )
    assert (forbidden.kind, forbidden.code) == ("forbidden", "4003")
    missing = await refusal(
        await send(client, DIALECT.find_transfer_call(A.id_number, "GW-T-9999"), mine),
        DIALECT.read_transfer,
    )
    assert missing.kind == "not-found"


async def test_a_transfer_with_a_hunan_account_and_no_fund(client: httpx.AsyncClient) -> None:
    theirs = await credential_of(client, B.id_number)
    request = TransferRequest(toCentre="430102", toAccount="4301000012345", phone="13900139000")
    transfer = DIALECT.read_transfer(
        await send(client, DIALECT.create_transfer_call(B.id_number, "GW-B-1", request), theirs)
    )
    assert (transfer.toCentre, transfer.toAccount, transfer.phone) == (
        "430102",
        "4301000012345",
        "13900139000",
    )
    assert transfer.toCentreName == "长沙市住房公积金管理中心"
    none = await credential_of(client, WITHOUT_FUND.id_number)
    for call, read in (
        (DIALECT.account_call(WITHOUT_FUND.id_number), DIALECT.read_account),
        (
            DIALECT.create_transfer_call(WITHOUT_FUND.id_number, "GW-N", TRANSFER),
            DIALECT.read_transfer,
        ),
    ):
        refused = await refusal(await send(client, call, none), read)
        assert (refused.kind, refused.code) == ("not-found", "2001")


async def test_the_gateways_assertion_refused_is_an_assertion_refusal() -> None:
    keys = fresh_keys()
    app = create_guangdong_app(clock=fixed_clock, gateway_jwks=keys.jwks(), assertion_issuer=ISSUER)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://y") as c:
        call = DIALECT.token_call(A.id_number)
        for assertion in (
            None,
            gateway_assertion(fresh_keys(), audience=DEFAULT_AUDIENCE, id_number=A.id_number),
        ):
            extra = {} if assertion is None else {ASSERTION_HEADER: assertion}
            refused = await refusal(await send(c, call, extra=extra), DIALECT.read_credential)
            assert (refused.kind, refused.code) == ("assertion", "4001")
        good = gateway_assertion(keys, audience=DEFAULT_AUDIENCE, id_number=A.id_number)
        answer = await send(c, call, extra={ASSERTION_HEADER: good})
        credential = DIALECT.read_credential(answer)
        account = await send(c, DIALECT.account_call(A.id_number), credential.value)
        assert DIALECT.read_account(account).name == A.name
        # The gateway asks for another user than its assertion names: not the caller's data.
        other = await send(c, DIALECT.token_call(B.id_number), extra={ASSERTION_HEADER: good})
        crossed = await refusal(other, DIALECT.read_credential)
        assert (crossed.kind, crossed.code) == ("forbidden", "4003")


@pytest.mark.parametrize(
    ("status", "kind"), [(503, "unavailable"), (500, "failed"), (502, "failed")]
)
async def test_the_partners_failures(status: int, kind: str) -> None:
    faults = Faults(error_rate=1.0, error_status=status)
    app = create_guangdong_app(faults=faults, clock=fixed_clock)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://y") as c:
        answer = await send(c, DIALECT.account_call(A.id_number), "whatever")
        failed = await refusal(answer, DIALECT.read_account)
        assert (failed.kind, failed.code) == (kind, str(status))
        assert failed.message  # its own message, as it was
        faults.update(error_rate=0.0, malformed="json")
        broken = await send(c, DIALECT.token_call(A.id_number))
        with pytest.raises(BadPartnerAnswer):
            DIALECT.read_credential(broken)


async def test_a_dot_segment_stays_an_identifier(client: httpx.AsyncClient) -> None:
    mine = await credential_of(client, A.id_number)
    for dots in (".", ".."):
        for call, read in (
            (DIALECT.get_filing_call(A.id_number, dots), DIALECT.read_filing),
            (DIALECT.cancel_filing_call(A.id_number, dots, None), DIALECT.read_filing),
            (DIALECT.get_transfer_call(A.id_number, dots), DIALECT.read_transfer),
        ):
            missing = await refusal(await send(client, call, mine), read)
            assert (missing.kind, missing.code) == ("not-found", "2001"), call.path


async def test_a_path_that_reaches_no_operation_is_a_failure(client: httpx.AsyncClient) -> None:
    nowhere = PartnerCall("GET", "/api/ysx/v1/nowhere")
    refused = await refusal(await send(client, nowhere), DIALECT.read_filing)
    assert (refused.kind, refused.code, refused.message) == ("failed", "404", "接口不存在")


# -- 3. the refusal table, and hostile answers ------------------------------------------------


def _envelope(
    code: int, msg: str = "说明", status: int = 200, data: object = None
) -> PartnerAnswer:
    body = {"code": code, "msg": msg, "data": data}
    return PartnerAnswer(status, "application/json", json.dumps(body).encode())


@pytest.mark.parametrize(
    ("code", "status", "kind"),
    [
        (1001, 200, "invalid"),
        (2001, 200, "not-found"),
        (2002, 200, "conflict"),
        (4001, 200, "credential"),
        (4003, 200, "forbidden"),
        (503, 503, "unavailable"),
        (500, 500, "failed"),
        (404, 404, "failed"),
        (405, 405, "failed"),
        (9999, 200, "failed"),
        (-1, 200, "failed"),
    ],
)
def test_each_code_is_a_refusal_kind(code: int, status: int, kind: str) -> None:
    for read in (
        DIALECT.read_filing,
        DIALECT.read_records,
        DIALECT.read_account,
        DIALECT.read_transfer,
    ):
        with pytest.raises(PartnerRefused) as refused:
            read(_envelope(code, "原样的说明", status))
        assert (refused.value.kind, refused.value.code, refused.value.message) == (
            kind,
            str(code),
            "原样的说明",
        )
    at_token = "assertion" if code == 4001 else kind
    with pytest.raises(PartnerRefused) as refused:
        DIALECT.read_credential(_envelope(code, "原样的说明", status))
    assert refused.value.kind == at_token


SAMPLE_FILING = expected_filing(A, remark="备注", endDate=date(2024, 1, 1))
SAMPLE_TRANSFER = Transfer(
    id="GJJZY1",
    reference="GW-T-1",
    partner="440000",
    status="processing",
    name="张三",
    accountNo="44000000000001",
    fromCentre="广州住房公积金管理中心",
    toCentre="430100",
    toCentreName="长沙市住房公积金管理中心",
    toAccount=None,
    phone="13800138000",
    amount="52800.50",
    appliedOn=date(2023, 11, 20),
    completedOn=None,
)
SAMPLE_ACCOUNT = FundAccount(
    partner="440000",
    accountNo="44000000000001",
    name="张三",
    centre="广州住房公积金管理中心",
    employerName="某公司",
    status="sealed",
    balance="52800.50",
    transferring="0.00",
    monthlyDeposit="1200.00",
    openedOn=date(2015, 1, 1),
    lastDepositOn=date(2019, 1, 10),
    sealedOn=date(2019, 2, 1),
)
SAMPLE_ROW = Contribution(
    month="2019-01",
    insurance="pension",
    base="10000.00",
    personal="800.00",
    employer="1400.00",
    employerName="某公司",
    paidOn=date(2019, 1, 10),
)
SAMPLE_RECORDS = Records(
    partner="440000", name="张三", insuredCity="广州市", total=1, records=[SAMPLE_ROW]
)

Reader = Callable[[PartnerAnswer], object]
READERS: dict[str, tuple[Reader, PartnerAnswer]] = {
    "filing": (DIALECT.read_filing, encode_filing(SAMPLE_FILING)),
    "transfer": (DIALECT.read_transfer, encode_transfer(SAMPLE_TRANSFER)),
    "account": (DIALECT.read_account, encode_account(SAMPLE_ACCOUNT)),
    "records": (DIALECT.read_records, encode_records(SAMPLE_RECORDS)),
    "credential": (DIALECT.read_credential, encode_credential(Credential("abc", 600))),
}


def _changed(answer: PartnerAnswer, change: Callable[[dict[str, Any]], None]) -> PartnerAnswer:
    """``answer`` with its data changed by ``change``."""
    body = json.loads(answer.body)
    change(body["data"])
    return PartnerAnswer(answer.status, answer.content_type, json.dumps(body).encode())


def _set(**values: object) -> Callable[[dict[str, Any]], None]:
    return lambda data: data.update(values)


def _drop(name: str) -> Callable[[dict[str, Any]], None]:
    return lambda data: data.pop(name)


def _row(**values: object) -> Callable[[dict[str, Any]], None]:
    return lambda data: data["list"][0].update(values)


@pytest.mark.parametrize("reader", list(READERS))
@pytest.mark.parametrize(
    "answer",
    [
        PartnerAnswer(200, "application/json", b"not json"),
        PartnerAnswer(200, "text/html", b"<html><body>502 Bad Gateway</body></html>"),
        PartnerAnswer(502, "text/html", b"<html><body>502 Bad Gateway</body></html>"),
        PartnerAnswer(200, "application/json", b"\xff\xfe{}"),
        PartnerAnswer(200, "application/json", b"[1, 2]"),
        PartnerAnswer(200, "application/json", b'{"code": 0, "msg": "ok"}'),
        PartnerAnswer(200, "application/json", b'{"code": "0", "msg": "ok", "data": {}}'),
        PartnerAnswer(200, "application/json", b'{"code": true, "msg": "ok", "data": {}}'),
        PartnerAnswer(200, "application/json", b'{"code": 0, "msg": 1, "data": {}}'),
        PartnerAnswer(200, "application/json", b'{"code": 0, "msg": "ok", "data": null}'),
        PartnerAnswer(200, "application/json", b'{"code": 0, "msg": "ok", "data": []}'),
        PartnerAnswer(200, "application/json", b'{"code": 0, "msg": "ok", "data": {}}'),
        PartnerAnswer(200, "application/json", b'{"code": 0, "msg": "ok", "data": NaN}'),
        PartnerAnswer(200, "application/json", b"[" * 100_000 + b"]" * 100_000),
        PartnerAnswer(503, "application/json", b'{"code": 0, "msg": "ok", "data": {}}'),
        PartnerAnswer(200, "", b'{"code": 0, "msg": "ok", "data": {}}'),
    ],
)
def test_what_is_not_the_envelope_is_a_bad_answer(reader: str, answer: PartnerAnswer) -> None:
    with pytest.raises(BadPartnerAnswer):
        READERS[reader][0](answer)


@pytest.mark.parametrize(
    ("reader", "change"),
    [
        ("filing", _set(status="9")),
        ("filing", _set(insuranceType="3")),
        ("filing", _set(filingType=1)),
        ("filing", _set(name=123)),
        ("filing", _set(destCode=430102)),
        ("filing", _set(destCode="440100")),
        ("filing", _set(baNo="有/斜杠")),
        ("filing", _set(startDate="20231201")),
        ("filing", _set(startDate="2023-02-30")),
        ("filing", _set(endDate=20240101)),
        ("filing", _set(applyTime="2023-11-20T10:00:00")),
        ("filing", _set(applyTime="2023-11-20 25:00:00")),
        ("filing", _set(cancelTime=1700000000)),
        ("filing", _set(remark=["a"])),
        ("filing", _drop("requestNo")),
        ("filing", _drop("endDate")),
        ("transfer", _set(status="2")),
        ("transfer", _set(amount="52800.50")),
        ("transfer", _set(amount=True)),
        ("transfer", _set(amount=-1)),
        ("transfer", _set(amount=1.005)),
        ("transfer", _set(amount=1e13)),
        ("transfer", _set(inAccountNo=4301)),
        ("transfer", _set(transferNo=None)),
        ("transfer", _set(inCenterCode="999999")),
        ("account", _set(status="4")),
        ("account", _set(status=1)),
        ("account", _set(balance=None)),
        ("account", _set(balance="x")),
        ("account", _set(sealDate=None)),
        ("account", _set(openDate="2015/01/01")),
        ("account", _drop("centerName")),
        ("records", _set(total="1")),
        ("records", _set(total=-1)),
        ("records", _set(total=True)),
        ("records", _set(list={"0": {}})),
        ("records", _set(list=[1])),
        ("records", _row(insuranceCode="510")),
        ("records", _row(insuranceCode=110)),
        ("records", _row(status="未到账")),
        ("records", _row(month="2019-13")),
        ("records", _row(month="201901")),
        ("records", _row(base=1e400)),
        ("records", _row(personalAmount=0.001)),
        ("records", _row(employerName=7)),
        ("records", _row(paidDate=None)),
        ("credential", _set(accessToken=12345)),
        ("credential", _set(accessToken="abc\r\nx-evil: 1")),
        ("credential", _set(accessToken="")),
        ("credential", _set(tokenType="MAC")),
        ("credential", _set(expiresIn="600")),
        ("credential", _set(expiresIn=True)),
        ("credential", _set(expiresIn=600.5)),
        ("credential", _drop("expiresIn")),
    ],
)
def test_a_field_missing_mistyped_or_outside_its_table_is_a_bad_answer(
    reader: str, change: Callable[[dict[str, Any]], None]
) -> None:
    read, answer = READERS[reader]
    read(answer)  # the unchanged answer is good
    with pytest.raises(BadPartnerAnswer):
        read(_changed(answer, change))


def test_amounts_are_read_exactly() -> None:
    sent = READERS["transfer"][1].body.decode()
    assert '"amount": 52800.5,' in sent
    for number, money in (
        ("52800.5", "52800.50"),
        ("0.1", "0.10"),
        ("0", "0.00"),
        ("0.0", "0.00"),
        ("-0.0", "0.00"),
        ("1e3", "1000.00"),
        ("999999999999.99", "999999999999.99"),
        ("12345678901.23", "12345678901.23"),
        ("0.30", "0.30"),
    ):
        text = sent.replace('"amount": 52800.5,', f'"amount": {number},')
        changed = PartnerAnswer(200, "application/json; charset=utf-8", text.encode())
        assert DIALECT.read_transfer(changed).amount == money, number


def test_a_validation_error_does_not_escape() -> None:
    # The canonical model refuses it (a PartnerId), not the reader: still a BadPartnerAnswer.
    answer = _changed(encode_filing(SAMPLE_FILING), _set(baNo="x" * 65))
    with pytest.raises(BadPartnerAnswer, match=r"Filing\.id"):
        DIALECT.read_filing(answer)
    assert guangdong.PARTNER == "440000"
