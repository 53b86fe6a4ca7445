"""The 赣服通 (Jiangxi, 360000) alliance dialect: canonical → XML → canonical is the identity
(hypothesis), every operation against the simulator in-process, its refusals, and hostile answers
(not XML, another envelope, codes outside the tables, XXE, billion laughs) refused unparsed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, datetime
from decimal import Decimal
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
from app.connectors.alliance.dialects.base import (
    BadPartnerAnswer,
    Dialect,
    PartnerAnswer,
    PartnerCall,
    PartnerRefused,
)
from app.connectors.alliance.dialects.jiangxi import (
    MEDIA_TYPE,
    JiangxiDialect,
    decode_filing_request,
    decode_transfer_request,
    encode_account,
    encode_filing,
    encode_records,
    encode_transfer,
)
from app.simulators import Faults
from app.simulators.alliance.jiangxi import (
    DEFAULT_AUDIENCE,
    HOSTILE_DOCUMENTS,
    Hostile,
    create_jiangxi_app,
    seeded_people,
)
from app.simulators.alliance.jiangxi.data import contributions
from tests.connectors.alliance_requests import KNOWN_HUNAN, REQUEST_DAYS
from tests.simulators.alliance_support import ISSUER, fresh_keys, gateway_assertion
from tests.simulators.clock import NOW, fixed_clock

SHANGHAI = ZoneInfo("Asia/Shanghai")
DIALECT = JiangxiDialect()
_CHECKED: Dialect = DIALECT  # mypy: it implements the protocol
PEOPLE = list(seeded_people(1).values())
ALICE, BOB = PEOPLE[0], PEOPLE[1]  # ALICE has 300 contributions: two pages of 200
NOBODY = "11010519491231002X"  # a valid ID number 赣服通 does not know

# -- canonical values 赣服通 can carry -----------------------------------------------------------

# XML 1.0 text that reads back unchanged: no controls (CR is normalised), surrogates or
# non-characters; never empty (an empty element reads as absent).
texts = st.text(
    alphabet=st.characters(exclude_categories=("Cs", "Cc", "Cn")), min_size=1, max_size=30
)
optional_texts = st.none() | texts
serials = st.from_regex(r"[A-Za-z0-9_-]{1,32}", fullmatch=True)
ids = st.from_regex(r"[A-Za-z0-9_.-]{1,64}", fullmatch=True)
phones = st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True)
hunan = st.from_regex(r"43[0-9]{4}", fullmatch=True)
days = st.dates(min_value=date(1950, 1, 1), max_value=date(2099, 12, 31))
times = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31), timezones=st.just(SHANGHAI)
).map(lambda moment: moment.replace(microsecond=0))
moneys = st.integers(min_value=0, max_value=10**14 - 1).map(
    lambda fen: f"{fen // 100}.{fen % 100:02d}"
)
months = st.builds(
    lambda year, month: f"{year:04d}-{month:02d}",
    st.integers(min_value=1990, max_value=2099),
    st.integers(min_value=1, max_value=12),
)

filings = st.builds(
    Filing,
    id=ids,
    reference=serials,
    partner=st.just("360000"),
    status=st.sampled_from(["active", "cancelled"]),
    name=optional_texts,
    insurance=st.sampled_from(["employee", "resident"]),
    kind=st.sampled_from(
        ["long-term-residence", "temporary-treatment", "referral", "off-site-work"]
    ),
    insuredCity=st.none(),
    destination=st.none() | hunan,
    destinationName=optional_texts,
    startDate=days,
    endDate=st.none() | days,
    phone=phones,
    remark=st.none(),
    filedAt=times,
    cancelledAt=st.none() | times,
    cancelReason=optional_texts,
)
contribution_items = st.builds(
    Contribution,
    month=months,
    insurance=st.sampled_from(["pension", "unemployment", "medical", "injury", "resident-medical"]),
    base=moneys,
    personal=moneys,
    employer=moneys,
    employerName=texts,
    paidOn=st.none(),
)


@st.composite
def records_values(draw: st.DrawFn) -> Records:
    listed = draw(st.lists(contribution_items, max_size=6))
    return Records(
        partner="360000",
        name=draw(optional_texts),
        insuredCity=draw(optional_texts),
        total=len(listed) + draw(st.integers(min_value=0, max_value=10**6)),
        records=listed,
    )


accounts = st.builds(
    FundAccount,
    partner=st.just("360000"),
    accountNo=st.from_regex(r"[0-9]{14}", fullmatch=True) | texts,
    name=optional_texts,
    centre=texts,
    employerName=optional_texts,
    status=st.sampled_from(["normal", "sealed", "transferring", "closed"]),
    balance=moneys,
    transferring=moneys,
    monthlyDeposit=st.none() | moneys,
    openedOn=st.none() | days,
    lastDepositOn=st.none() | days,
    sealedOn=st.none(),
)
transfers = st.builds(
    Transfer,
    id=ids,
    reference=serials,
    partner=st.just("360000"),
    status=st.sampled_from(["accepted", "processing", "completed", "returned"]),
    name=optional_texts,
    accountNo=texts,
    fromCentre=optional_texts,
    toCentre=hunan,
    toCentreName=optional_texts,
    toAccount=st.none(),
    phone=st.none() | phones,
    amount=moneys,
    appliedOn=days,
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
    remark=st.none(),
)
transfer_requests = st.builds(
    TransferRequest, toCentre=KNOWN_HUNAN, toAccount=st.none(), phone=phones
)


# -- 1. canonical → dialect → canonical ----------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(filings)
def test_a_filing_reads_back_as_it_was(filing: Filing) -> None:
    assert DIALECT.read_filing(encode_filing(filing)) == filing


@settings(max_examples=60, deadline=None)
@given(records_values())
def test_records_read_back_as_they_were(records: Records) -> None:
    page = DIALECT.read_records(encode_records(records))
    assert page.records == records
    assert page.next_page == (2 if records.records and records.total > 200 else None)


@settings(max_examples=60, deadline=None)
@given(accounts)
def test_an_account_reads_back_as_it_was(account: FundAccount) -> None:
    assert DIALECT.read_account(encode_account(account)) == account


@settings(max_examples=60, deadline=None)
@given(transfers)
def test_a_transfer_reads_back_as_it_was(transfer: Transfer) -> None:
    assert DIALECT.read_transfer(encode_transfer(transfer)) == transfer


@settings(max_examples=60, deadline=None)
@given(filing_requests, serials)
def test_a_filing_request_is_sent_as_it_was(request: FilingRequest, reference: str) -> None:
    call = DIALECT.create_filing_call(ALICE.id_number, reference, request)
    assert decode_filing_request(call) == request
    assert f"<QQLSH>{reference}</QQLSH>".encode() in call.body


@settings(max_examples=60, deadline=None)
@given(transfer_requests, serials)
def test_a_transfer_request_is_sent_as_it_was(request: TransferRequest, reference: str) -> None:
    call = DIALECT.create_transfer_call(
        ALICE.id_number, reference, request, account_no=ALICE.account
    )
    assert decode_transfer_request(call) == request
    assert f"<GRZH>{ALICE.account}</GRZH>".encode() in call.body


def _a_filing(**changes: object) -> Filing:
    values: dict[str, object] = {
        "id": "GFTBA20231120000001",
        "reference": "R1",
        "partner": "360000",
        "status": "active",
        "name": "刘洋",
        "insurance": "employee",
        "kind": "referral",
        "insuredCity": None,
        "destination": "430100",
        "destinationName": "长沙市",
        "startDate": date(2023, 12, 1),
        "endDate": None,
        "phone": "13912345678",
        "remark": None,
        "filedAt": NOW,
        "cancelledAt": None,
        "cancelReason": None,
        **changes,
    }
    return Filing.model_validate(values)


def test_what_the_partner_cannot_carry_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="remark"):
        encode_filing(_a_filing(remark="x"))
    with pytest.raises(ValueError, match="insured city"):
        encode_filing(_a_filing(insuredCity="南昌市"))
    with pytest.raises(ValueError, match="to the second"):
        encode_filing(_a_filing(filedAt=NOW.replace(microsecond=5)))
    with pytest.raises(ValueError, match="unchanged"):
        encode_filing(_a_filing(name=""))
    account = FundAccount(
        partner="360000",
        accountNo="1",
        name=None,
        centre="c",
        employerName=None,
        status="normal",
        balance="1.00",
        transferring="0.00",
        monthlyDeposit=None,
        openedOn=None,
        lastDepositOn=None,
        sealedOn=date(2020, 1, 1),
    )
    with pytest.raises(ValueError, match="sealed"):
        encode_account(account)
    transfer = Transfer(
        id="T",
        reference="R",
        partner="360000",
        status="accepted",
        name=None,
        accountNo="1",
        fromCentre=None,
        toCentre="430100",
        toCentreName=None,
        toAccount="123456",
        phone=None,
        amount="1.00",
        appliedOn=date(2023, 1, 1),
        completedOn=None,
    )
    with pytest.raises(ValueError, match="receiving centre"):
        encode_transfer(transfer)
    with pytest.raises(ValueError, match="completed"):
        encode_transfer(transfer.model_copy(update={"toAccount": None, "completedOn": NOW.date()}))
    paid = Contribution(
        month="2020-01",
        insurance="pension",
        base="1.00",
        personal="1.00",
        employer="1.00",
        employerName="e",
        paidOn=date(2020, 1, 15),
    )
    with pytest.raises(ValueError, match="paid"):
        encode_records(
            Records(partner="360000", name=None, insuredCity=None, total=1, records=[paid])
        )


def test_the_calls() -> None:
    token = DIALECT.token_call(ALICE.id_number)
    assert (token.method, token.path, token.content_type) == (
        "POST",
        "/gft/service/auth/token",
        MEDIA_TYPE,
    )
    assert f"<ZJHM>{ALICE.id_number}</ZJHM>".encode() in token.body
    assert DIALECT.credential_header("c") == ("x-gft-credential", "c")
    records = DIALECT.records_call(ALICE.id_number, "2019-03", "2020-12", 3)
    for sent in (
        b"<KSNY>201903</KSNY>",
        b"<JSNY>202012</JSNY>",
        b"<YM>3</YM>",
        b"<MYTS>200</MYTS>",
    ):
        assert sent in records.body
    assert b"KSNY" not in DIALECT.records_call(ALICE.id_number, None, None, 1).body
    # A reason XML cannot hold at all loses those characters, not the whole request.
    cancel = DIALECT.cancel_filing_call(ALICE.id_number, "GFTBA1", "回\x00湘<&>")
    assert b"<CXYY>\xe5\x9b\x9e\xe6\xb9\x98&lt;&amp;&gt;</CXYY>" in cancel.body
    assert b"CXYY" not in DIALECT.cancel_filing_call(ALICE.id_number, "GFTBA1", None).body


# -- 2. against the simulator --------------------------------------------------------------------


@pytest.fixture
def app() -> Starlette:
    return create_jiangxi_app(clock=fixed_clock)


@pytest.fixture
async def client(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://gft.example"
    ) as c:
        yield c


async def send(
    client: httpx.AsyncClient,
    call: PartnerCall,
    credential: str | None = None,
    *,
    assertion: str | None = None,
) -> PartnerAnswer:
    """The call as the connector sends it (its credential header, the gateway's assertion)."""
    headers = dict(call.headers)
    if call.content_type is not None:
        headers["content-type"] = call.content_type
    if credential is not None:
        name, value = DIALECT.credential_header(credential)
        headers[name] = value
    if assertion is not None:
        headers["x-xyb-assertion"] = assertion
    response = await client.request(call.method, call.path, content=call.body, headers=headers)
    return PartnerAnswer(
        response.status_code, response.headers.get("content-type", ""), response.content
    )


async def credential_for(client: httpx.AsyncClient, id_number: str) -> str:
    answer = await send(client, DIALECT.token_call(id_number))
    return DIALECT.read_credential(answer).value


def refusal(error: pytest.ExceptionInfo[PartnerRefused]) -> tuple[str, str]:
    return (error.value.kind, error.value.code)


REQUEST = FilingRequest(
    insurance="employee",
    kind="temporary-treatment",
    destination="430100",
    startDate=date(2023, 12, 1),
    endDate=date(2024, 3, 1),
    phone="13912345678",
    remark="dropped: 赣服通 takes none",
)


async def test_the_token(client: httpx.AsyncClient) -> None:
    answer = await send(client, DIALECT.token_call(ALICE.id_number))
    credential = DIALECT.read_credential(answer)
    assert credential.value.startswith("jiangxi.")
    assert credential.expires_in == 600
    account = await send(client, DIALECT.account_call(ALICE.id_number), credential.value)
    assert DIALECT.read_account(account).accountNo == ALICE.account


async def test_the_token_with_the_gateways_assertion() -> None:
    keys = fresh_keys()
    app = create_jiangxi_app(clock=fixed_clock, gateway_jwks=keys.jwks(), assertion_issuer=ISSUER)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://g") as c:
        good = gateway_assertion(keys, audience=DEFAULT_AUDIENCE, id_number=ALICE.id_number)
        answer = await send(c, DIALECT.token_call(ALICE.id_number), assertion=good)
        assert DIALECT.read_credential(answer).expires_in == 600
        foreign = gateway_assertion(fresh_keys(), audience=DEFAULT_AUDIENCE, id_number="x")
        for assertion in (None, foreign):
            refused = await send(c, DIALECT.token_call(ALICE.id_number), assertion=assertion)
            with pytest.raises(PartnerRefused) as error:
                DIALECT.read_credential(refused)
            assert refusal(error) == ("assertion", "4002")


async def test_a_filing_is_made_found_and_cancelled(client: httpx.AsyncClient) -> None:
    pz = await credential_for(client, ALICE.id_number)
    made = DIALECT.read_filing(
        await send(client, DIALECT.create_filing_call(ALICE.id_number, "XYB-1", REQUEST), pz)
    )
    assert made == Filing(
        id="GFTBA20231120000001",
        reference="XYB-1",
        partner="360000",
        status="active",
        name=ALICE.name,
        insurance="employee",
        kind="temporary-treatment",
        insuredCity=None,
        destination="430100",
        destinationName="长沙市",
        startDate=date(2023, 12, 1),
        endDate=date(2024, 3, 1),
        phone="13912345678",
        remark=None,
        filedAt=datetime(2023, 11, 20, 10, 0, tzinfo=SHANGHAI),
        cancelledAt=None,
        cancelReason=None,
    )
    retried = await send(client, DIALECT.create_filing_call(ALICE.id_number, "XYB-1", REQUEST), pz)
    assert DIALECT.read_filing(retried) == made  # 赣服通's idempotency by QQLSH
    found = await send(client, DIALECT.find_filing_call(ALICE.id_number, "XYB-1"), pz)
    got = await send(client, DIALECT.get_filing_call(ALICE.id_number, made.id), pz)
    assert DIALECT.read_filing(found) == DIALECT.read_filing(got) == made
    cancelled = DIALECT.read_filing(
        await send(client, DIALECT.cancel_filing_call(ALICE.id_number, made.id, "已回湖南"), pz)
    )
    assert cancelled == made.model_copy(
        update={"status": "cancelled", "cancelledAt": made.filedAt, "cancelReason": "已回湖南"}
    )
    again = await send(client, DIALECT.cancel_filing_call(ALICE.id_number, made.id, None), pz)
    with pytest.raises(PartnerRefused) as error:
        DIALECT.read_filing(again)
    assert refusal(error) == ("conflict", "2002")
    assert error.value.message == "该备案已撤销，不能重复撤销"


async def test_filing_refusals(client: httpx.AsyncClient) -> None:
    pz = await credential_for(client, ALICE.id_number)

    async def refused(call: PartnerCall, credential: str = pz) -> tuple[str, str]:
        answer = await send(client, call, credential)
        with pytest.raises(PartnerRefused) as error:
            DIALECT.read_filing(answer)
        return refusal(error)

    await send(client, DIALECT.create_filing_call(ALICE.id_number, "XYB-1", REQUEST), pz)
    other = REQUEST.model_copy(update={"destination": "430200"})
    assert await refused(DIALECT.create_filing_call(ALICE.id_number, "XYB-1", other)) == (
        "conflict",
        "2002",
    )
    no_end = REQUEST.model_copy(update={"endDate": None})  # canonical lets 赣服通 judge it
    assert await refused(DIALECT.create_filing_call(ALICE.id_number, "XYB-2", no_end)) == (
        "invalid",
        "1001",
    )
    stranger = await credential_for(client, NOBODY)
    assert await refused(DIALECT.create_filing_call(NOBODY, "XYB-3", REQUEST), stranger) == (
        "not-found",
        "2001",
    )
    assert await refused(DIALECT.get_filing_call(ALICE.id_number, "GFTBA20231120999999")) == (
        "not-found",
        "2001",
    )
    bobs_pz = await credential_for(client, BOB.id_number)
    bobs = DIALECT.read_filing(
        await send(client, DIALECT.create_filing_call(BOB.id_number, "BOB-1", REQUEST), bobs_pz)
    )
    assert await refused(DIALECT.get_filing_call(ALICE.id_number, bobs.id)) == (
        "forbidden",
        "4003",
    )
    assert await refused(DIALECT.find_filing_call(ALICE.id_number, "BOB-1")) == (
        "forbidden",
        "4003",
    )
    assert await refused(DIALECT.cancel_filing_call(ALICE.id_number, bobs.id, None)) == (
        "forbidden",
        "4003",
    )
    for bad in ("garbage", f"{pz[:-2]}AA"):
        assert await refused(DIALECT.get_filing_call(ALICE.id_number, bobs.id), bad) == (
            "credential",
            "4001",
        )


async def test_records_page_by_page(client: httpx.AsyncClient) -> None:
    pz = await credential_for(client, ALICE.id_number)
    expected = sorted(contributions(ALICE), key=lambda c: (-c.month.toordinal(), c.kind))
    assert len(expected) == 300
    first = DIALECT.read_records(
        await send(client, DIALECT.records_call(ALICE.id_number, None, None, 1), pz)
    )
    assert (first.records.total, len(first.records.records), first.next_page) == (300, 200, 2)
    assert (first.records.partner, first.records.name, first.records.insuredCity) == (
        "360000",
        ALICE.name,
        ALICE.city,
    )
    second = DIALECT.read_records(
        await send(client, DIALECT.records_call(ALICE.id_number, None, None, 2), pz)
    )
    assert (second.records.total, len(second.records.records), second.next_page) == (300, 100, None)
    kinds: dict[str, ContributionInsurance] = {
        "110": "pension",
        "210": "unemployment",
        "310": "medical",
        "410": "injury",
    }
    assert [*first.records.records, *second.records.records] == [
        Contribution(
            month=c.month.strftime("%Y-%m"),
            insurance=kinds[c.kind],
            base=f"{c.base}.00",
            personal=str(c.person),
            employer=str(c.unit),
            employerName=ALICE.employer,
            paidOn=None,
        )
        for c in expected
    ]
    month = ALICE.since.strftime("%Y-%m")
    narrowed = DIALECT.read_records(
        await send(client, DIALECT.records_call(ALICE.id_number, month, month, 1), pz)
    )
    assert {c.month for c in narrowed.records.records} == {month}
    assert (narrowed.records.total, narrowed.next_page) == (4, None)
    stranger = await credential_for(client, NOBODY)
    with pytest.raises(PartnerRefused) as error:
        DIALECT.read_records(
            await send(client, DIALECT.records_call(NOBODY, None, None, 1), stranger)
        )
    assert refusal(error) == ("not-found", "2001")


async def test_the_account_and_a_transfer(client: httpx.AsyncClient) -> None:
    pz = await credential_for(client, ALICE.id_number)
    account = DIALECT.read_account(await send(client, DIALECT.account_call(ALICE.id_number), pz))
    assert account == FundAccount(
        partner="360000",
        accountNo=ALICE.account,
        name=ALICE.name,
        centre=ALICE.fund_centre,
        employerName=ALICE.employer,
        status="sealed",
        balance=str(ALICE.balance),
        transferring="0.00",
        monthlyDeposit=str(ALICE.monthly_deposit),
        openedOn=ALICE.since.replace(day=15),
        lastDepositOn=ALICE.last_deposit,
        sealedOn=None,
    )
    asked = TransferRequest(toCentre="430100", toAccount="6222000011112222", phone="13912345678")
    call = DIALECT.create_transfer_call(ALICE.id_number, "T-1", asked, account_no=account.accountNo)
    made = DIALECT.read_transfer(await send(client, call, pz))
    assert made == Transfer(
        id="GFTZY20231120000001",
        reference="T-1",
        partner="360000",
        status="accepted",
        name=ALICE.name,
        accountNo=ALICE.account,
        fromCentre=ALICE.fund_centre,
        toCentre="430100",
        toCentreName="长沙市住房公积金管理中心",
        toAccount=None,
        phone="13912345678",
        amount=str(ALICE.balance),
        appliedOn=date(2023, 11, 20),
        completedOn=None,
    )
    assert Decimal(made.amount) == ALICE.balance
    moving = DIALECT.read_account(await send(client, DIALECT.account_call(ALICE.id_number), pz))
    assert (moving.status, moving.balance, moving.transferring) == (
        "transferring",
        "0.00",
        str(ALICE.balance),
    )
    found = await send(client, DIALECT.find_transfer_call(ALICE.id_number, "T-1"), pz)
    got = await send(client, DIALECT.get_transfer_call(ALICE.id_number, made.id), pz)
    assert DIALECT.read_transfer(found) == DIALECT.read_transfer(got) == made

    async def refused(call: PartnerCall, credential: str = pz) -> tuple[str, str]:
        with pytest.raises(PartnerRefused) as error:
            DIALECT.read_transfer(await send(client, call, credential))
        return refusal(error)

    elsewhere = asked.model_copy(update={"toCentre": "430200"})
    reused = DIALECT.create_transfer_call(
        ALICE.id_number, "T-1", elsewhere, account_no=ALICE.account
    )
    assert await refused(reused) == ("conflict", "2002")
    # Without the account number (TransferRequest has none) 赣服通 refuses the parameter.
    assert await refused(DIALECT.create_transfer_call(ALICE.id_number, "T-2", asked)) == (
        "invalid",
        "1001",
    )
    assert await refused(DIALECT.get_transfer_call(ALICE.id_number, "GFTZY0")) == (
        "not-found",
        "2001",
    )
    bobs_pz = await credential_for(client, BOB.id_number)
    bobs = DIALECT.read_transfer(
        await send(
            client,
            DIALECT.create_transfer_call(BOB.id_number, "B-1", asked, account_no=BOB.account),
            bobs_pz,
        )
    )
    assert await refused(DIALECT.get_transfer_call(ALICE.id_number, bobs.id)) == (
        "forbidden",
        "4003",
    )
    stranger = await credential_for(client, NOBODY)
    with pytest.raises(PartnerRefused) as error:
        DIALECT.read_account(await send(client, DIALECT.account_call(NOBODY), stranger))
    assert refusal(error) == ("not-found", "2001")


@pytest.mark.parametrize("mode", ["xxe", "billion-laughs"])
async def test_the_simulators_hostile_answers_are_refused(
    client: httpx.AsyncClient, mode: Hostile
) -> None:
    pz = await credential_for(client, ALICE.id_number)
    assert (await client.post("/_sim/hostile-answer", json={"mode": mode})).status_code == 200
    answer = await send(client, DIALECT.create_filing_call(ALICE.id_number, "X", REQUEST), pz)
    with pytest.raises(BadPartnerAnswer, match="DTD or entities"):
        DIALECT.read_filing(answer)


@pytest.mark.parametrize(("status", "kind"), [(503, "unavailable"), (500, "failed")])
async def test_the_partners_failures(status: int, kind: str) -> None:
    app = create_jiangxi_app(clock=fixed_clock, faults=Faults(error_rate=1.0, error_status=status))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://g") as c:
        with pytest.raises(PartnerRefused) as error:
            DIALECT.read_credential(await send(c, DIALECT.token_call(ALICE.id_number)))
    assert refusal(error) == (kind, f"9{status}")
    assert error.value.message  # 赣服通's own, verbatim


# -- 3. hostile answers ------------------------------------------------------------------------


def xml(body: str, code: str = "0000", message: str = "成功") -> PartnerAnswer:
    document = (
        f"<?xml version='1.0' encoding='UTF-8'?><Response><Head><RetCode>{code}</RetCode>"
        f"<RetMsg>{message}</RetMsg></Head><Body>{body}</Body></Response>"
    )
    return PartnerAnswer(200, MEDIA_TYPE, document.encode())


GOOD_FILING = (
    "<BABH>GFTBA20231120000001</BABH><QQLSH>R1</QQLSH><XZLX>310</XZLX><BALX>21</BALX>"
    "<KSRQ>20231201</KSRQ><LXDH>13912345678</LXDH><BAZT>01</BAZT><SLSJ>20231120100000</SLSJ>"
)
GOOD_ACCOUNT = (
    "<GRZH>36017922522723</GRZH><GJJZX>南昌市住房公积金管理中心</GJJZX><ZHZT>02</ZHZT>"
    "<KYYE>1.00</KYYE><ZYZJE>0.00</ZYZJE>"
)
GOOD_RECORDS = (
    "<ZJLS>1</ZJLS><YM>1</YM><MYTS>200</MYTS><JFJL><JL><JFNY>202001</JFNY><XZLX>110</XZLX>"
    "<JFJS>1.00</JFJS><DWJFJE>1.00</DWJFJE><GRJFJE>1.00</GRJFJE><DWMC>某公司</DWMC></JL></JFJL>"
)


def test_the_good_answers_of_these_tests_are_read() -> None:
    filing = DIALECT.read_filing(xml(GOOD_FILING))
    assert (filing.destination, filing.name, filing.endDate) == (None, None, None)
    assert DIALECT.read_account(xml(GOOD_ACCOUNT)).balance == "1.00"
    assert DIALECT.read_records(xml(GOOD_RECORDS)).records.records[0].insurance == "pension"
    # A filing to outside Hunan (made in 赣服通 itself) keeps only its destination's name.
    outside = DIALECT.read_filing(xml(GOOD_FILING + "<JYDQH>440100</JYDQH><JYDMC>广州市</JYDMC>"))
    assert (outside.destination, outside.destinationName) == (None, "广州市")
    # Leading zeros are the same amount; the canonical string has none.
    assert DIALECT.read_account(xml(GOOD_ACCOUNT.replace("1.00", "0001.00"))).balance == "1.00"


@pytest.mark.parametrize(
    "answer",
    [
        PartnerAnswer(200, "text/html", b"<html><body>502 Bad Gateway</body></html>"),
        PartnerAnswer(200, "application/json", b'{"RetCode": "0000"}'),
        PartnerAnswer(200, MEDIA_TYPE, b'{"RetCode": "0000"}'),
        PartnerAnswer(200, MEDIA_TYPE, b"<html><body>oops</body></html>"),
        PartnerAnswer(200, MEDIA_TYPE, b"<Response><Head><RetCode>0000</RetCode>"),
        PartnerAnswer(200, MEDIA_TYPE, b""),
        PartnerAnswer(200, MEDIA_TYPE, b"<Response><Body/></Response>"),
        PartnerAnswer(200, MEDIA_TYPE, b"<Response><Head><RetMsg>x</RetMsg></Head></Response>"),
        PartnerAnswer(
            200, MEDIA_TYPE, b"<Response><Head><RetCode>0000</RetCode></Head></Response>"
        ),
        PartnerAnswer(
            200, MEDIA_TYPE, b"<Response><Head><RetCode>0000</RetCode><RetMsg/></Head></Response>"
        ),
        PartnerAnswer(200, MEDIA_TYPE, b'<r:Response xmlns:r="urn:x"><Head/></r:Response>'),
        xml(GOOD_FILING, code="OK"),
        xml(GOOD_FILING, code="00000"),
        PartnerAnswer(500, MEDIA_TYPE, xml(GOOD_FILING).body),  # success with an error status
        xml(GOOD_FILING + "<BABH>GFTBA2</BABH>"),  # a field twice
    ],
)
def test_what_is_not_its_envelope_is_a_bad_answer(answer: PartnerAnswer) -> None:
    with pytest.raises(BadPartnerAnswer):
        DIALECT.read_filing(answer)


@pytest.mark.parametrize(
    ("good", "bad"),
    [
        ("<BAZT>01</BAZT>", "<BAZT>09</BAZT>"),  # codes outside the tables
        ("<XZLX>310</XZLX>", "<XZLX>110</XZLX>"),  # a pension is no medical filing
        ("<BALX>21</BALX>", "<BALX>01</BALX>"),
        ("<BABH>GFTBA20231120000001</BABH>", ""),  # missing
        ("<SLSJ>20231120100000</SLSJ>", "<SLSJ>2023-11-20 10:00</SLSJ>"),
        ("<SLSJ>20231120100000</SLSJ>", "<SLSJ>20231120250000</SLSJ>"),
        ("<KSRQ>20231201</KSRQ>", "<KSRQ>20230231</KSRQ>"),
        ("<KSRQ>20231201</KSRQ>", "<KSRQ>２０２３１２０１</KSRQ>"),  # full-width digits
        ("<LXDH>13912345678</LXDH>", "<LXDH><HM>13912345678</HM></LXDH>"),  # not text
        ("<BABH>GFTBA20231120000001</BABH>", "<BABH>GFTBA 1</BABH>"),  # no canonical id
        ("<QQLSH>R1</QQLSH>", "<QQLSH/>"),
    ],
)
def test_a_bad_filing_field_is_a_bad_answer(good: str, bad: str) -> None:
    with pytest.raises(BadPartnerAnswer):
        DIALECT.read_filing(xml(GOOD_FILING.replace(good, bad)))
    with pytest.raises(BadPartnerAnswer):
        DIALECT.read_filing(xml(GOOD_FILING + "<JYDQH>长沙</JYDQH>"))


@pytest.mark.parametrize(
    ("good", "bad"),
    [
        ("<ZHZT>02</ZHZT>", "<ZHZT>05</ZHZT>"),
        ("<KYYE>1.00</KYYE>", "<KYYE>1.5</KYYE>"),
        ("<KYYE>1.00</KYYE>", "<KYYE>-1.00</KYYE>"),
        ("<KYYE>1.00</KYYE>", "<KYYE>1,000.00</KYYE>"),
        ("<KYYE>1.00</KYYE>", "<KYYE>10000000000000.00</KYYE>"),  # more than canonical Money
        ("<KYYE>1.00</KYYE>", "<KYYE>NaN</KYYE>"),
        ("<GJJZX>南昌市住房公积金管理中心</GJJZX>", ""),
    ],
)
def test_a_bad_account_field_is_a_bad_answer(good: str, bad: str) -> None:
    with pytest.raises(BadPartnerAnswer):
        DIALECT.read_account(xml(GOOD_ACCOUNT.replace(good, bad)))


@pytest.mark.parametrize(
    ("good", "bad"),
    [
        ("<ZJLS>1</ZJLS>", "<ZJLS>many</ZJLS>"),  # text where a number is expected
        ("<ZJLS>1</ZJLS>", "<ZJLS>-1</ZJLS>"),
        ("<ZJLS>1</ZJLS>", "<ZJLS>" + "9" * 5000 + "</ZJLS>"),
        ("<YM>1</YM>", ""),
        ("<XZLX>110</XZLX>", "<XZLX>999</XZLX>"),
        ("<DWMC>某公司</DWMC>", "<DWMC>某公司</DWMC><JFZT>02</JFZT>"),
        ("<JFNY>202001</JFNY>", "<JFNY>202013</JFNY>"),
        ("<JL>", "<JL><X/></JL><QT>"),  # another element in the list
        ("<JFJL>", "<QT>"),  # no list
        ("<DWMC>某公司</DWMC>", ""),
    ],
)
def test_a_bad_records_field_is_a_bad_answer(good: str, bad: str) -> None:
    document = GOOD_RECORDS.replace(good, bad, 1)
    if bad == "<QT>":
        document = document.replace("</JFJL>", "</QT>")
    if bad == "<JL><X/></JL><QT>":
        document = document.replace("</JL></JFJL>", "</QT></JFJL>")
    with pytest.raises(BadPartnerAnswer):
        DIALECT.read_records(xml(document))


def test_a_bad_credential_or_transfer_is_a_bad_answer() -> None:
    for body in ("<YXSC>600</YXSC>", "<PZ>p</PZ>", "<PZ>p</PZ><YXSC>ten minutes</YXSC>"):
        with pytest.raises(BadPartnerAnswer):
            DIALECT.read_credential(xml(body))
    assert DIALECT.read_credential(xml("<PZ>p</PZ><YXSC>600</YXSC>")).expires_in == 600
    transfer = (
        "<ZYBH>GFTZY1</ZYBH><QQLSH>T</QQLSH><GRZH>1</GRZH><ZRCSDM>430100</ZRCSDM>"
        "<ZYJE>1.00</ZYJE><ZYZT>01</ZYZT><SQSJ>20231120100000</SQSJ>"
    )
    assert DIALECT.read_transfer(xml(transfer)).status == "accepted"
    for good, bad in (
        ("<ZYZT>01</ZYZT>", "<ZYZT>00</ZYZT>"),
        ("<ZRCSDM>430100</ZRCSDM>", "<ZRCSDM>440100</ZRCSDM>"),  # not a Hunan division
        ("<SQSJ>20231120100000</SQSJ>", "<SQSJ>20231120</SQSJ>"),
    ):
        with pytest.raises(BadPartnerAnswer):
            DIALECT.read_transfer(xml(transfer.replace(good, bad)))


@pytest.mark.parametrize("mode", ["xxe", "billion-laughs"])
def test_xxe_and_billion_laughs_are_refused_unparsed(mode: Hostile) -> None:
    answer = PartnerAnswer(200, MEDIA_TYPE, HOSTILE_DOCUMENTS[mode])
    for read in (DIALECT.read_filing, DIALECT.read_account, DIALECT.read_credential):
        with pytest.raises(BadPartnerAnswer, match="DTD or entities") as error:
            read(answer)
        assert "root:" not in str(error.value)
        assert "lol" not in str(error.value)


@pytest.mark.parametrize(
    "document",
    [
        b'<!DOCTYPE Response SYSTEM "http://evil.example/x.dtd"><Response/>',
        b'<!DOCTYPE Response [<!ENTITY a "b">]><Response><Head><RetCode>&a;</RetCode></Head>'
        b"</Response>",
        b'<!DOCTYPE Response [<!ENTITY % p SYSTEM "file:///etc/passwd"> %p;]><Response/>',
    ],
)
def test_any_dtd_is_refused(document: bytes) -> None:
    with pytest.raises(BadPartnerAnswer, match="DTD or entities"):
        DIALECT.read_account(PartnerAnswer(200, MEDIA_TYPE, document))


@pytest.mark.parametrize(
    ("code", "status", "kind"),
    [
        ("1001", 200, "invalid"),
        ("1002", 400, "failed"),
        ("1003", 400, "failed"),
        ("2001", 200, "not-found"),
        ("2002", 200, "conflict"),
        ("4001", 200, "credential"),
        ("4002", 200, "assertion"),
        ("4003", 200, "forbidden"),
        ("9413", 413, "failed"),
        ("9500", 500, "failed"),
        ("9503", 503, "unavailable"),
        ("7777", 200, "failed"),  # a code it never documented
        ("7777", 503, "unavailable"),
    ],
)
def test_refusals_keep_the_partners_code_and_message(code: str, status: int, kind: str) -> None:
    message = "说明" * 300
    answer = xml("", code=code, message=message)
    with pytest.raises(PartnerRefused) as error:
        DIALECT.read_transfer(PartnerAnswer(status, "text/xml", answer.body))
    assert (error.value.kind, error.value.code, error.value.message) == (kind, code, message[:500])
