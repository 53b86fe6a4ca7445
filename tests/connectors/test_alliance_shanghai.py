"""随申办's dialect (app.connectors.alliance.dialects.shanghai): canonical → 随申办 → canonical is
the identity over what the partner carries; every operation against the simulated partner
in-process; its refusals; and hostile answers refused as BadPartnerAnswer, never parsed on."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.applications import Starlette

from app.connectors.alliance.canonical import (
    Contribution,
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
    RecordsPage,
)
from app.connectors.alliance.dialects.shanghai import (
    PAGE_SIZE,
    UNSAID_DESTINATION,
    UNSAID_PHONE,
    ShanghaiDialect,
    decode_filing_request,
    decode_transfer_request,
    encode_account,
    encode_filing,
    encode_records,
    encode_transfer,
    fen_to_money,
    money_to_fen,
)
from app.simulators.alliance.common import mint_user_credential
from app.simulators.alliance.shanghai import (
    DEFAULT_AUDIENCE,
    create_shanghai_app,
    payments,
    seeded_account,
    seeded_people,
)
from app.simulators.alliance.shanghai.data import Payment
from tests.connectors.alliance_requests import KNOWN_HUNAN, REQUEST_DAYS
from tests.simulators.alliance_support import fresh_keys, gateway_assertion
from tests.simulators.clock import NOW, fixed_clock

SHANGHAI = ZoneInfo("Asia/Shanghai")
DIALECT = ShanghaiDialect()
# The dialect is the protocol, as mypy sees it.
_AS_PROTOCOL: Dialect = DIALECT

PEOPLE = seeded_people(1)
A, B = sorted(PEOPLE)[:2]
# Somebody with more payments than one page holds (200 a page).
MANY = next(i for i in sorted(PEOPLE) if len(payments(PEOPLE[i], 1)) > PAGE_SIZE)
# A valid ID number nobody seeded holds: never insured in Shanghai.
NOBODY = "11010519491231002X"
NOW_MS = int(NOW.timestamp()) * 1000


# -- strategies: the canonical values 随申办 can carry ------------------------------------------

TEXT = st.text(st.characters(codec="utf-8"), max_size=20)
NAMES = st.text(st.characters(codec="utf-8"), min_size=1, max_size=20)
# After 1991: Asia/Shanghai has kept no summer time since, so every local midnight exists.
DAYS = st.dates(date(1992, 1, 1), date(2150, 12, 31))
MOMENTS = st.datetimes(
    datetime(1992, 1, 1), datetime(2150, 12, 31), timezones=st.just(SHANGHAI)
).map(lambda moment: moment.replace(microsecond=0))
MONEY = st.integers(0, 10**14 - 1).map(fen_to_money)
PARTNER_IDS = st.from_regex(r"[A-Za-z0-9_.-]{1,64}", fullmatch=True)
HUNAN = st.from_regex(r"43[0-9]{4}", fullmatch=True)
PHONES = st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True)
REFERENCES = st.from_regex(r"[A-Za-z0-9_.:-]{1,64}", fullmatch=True)
ID_NUMBERS = st.sampled_from(sorted(PEOPLE)[:20])

FILINGS = st.builds(
    Filing,
    id=PARTNER_IDS,
    reference=TEXT,
    partner=st.just("310000"),
    status=st.sampled_from(["active", "cancelled"]),
    name=st.none() | TEXT,
    insurance=st.sampled_from(["employee", "resident"]),
    kind=st.sampled_from(
        ["long-term-residence", "temporary-treatment", "referral", "off-site-work"]
    ),
    insuredCity=st.none(),
    destination=st.none(),
    destinationName=st.none(),
    startDate=DAYS,
    endDate=st.none() | DAYS,
    phone=TEXT,
    remark=st.none(),
    filedAt=MOMENTS,
    cancelledAt=st.none() | MOMENTS,
    cancelReason=st.none() | TEXT,
)
CONTRIBUTIONS = st.builds(
    Contribution,
    month=DAYS.map(lambda day: f"{day:%Y-%m}"),
    insurance=st.sampled_from(["pension", "medical", "unemployment"]),
    base=MONEY,
    personal=MONEY,
    employer=MONEY,
    employerName=TEXT,
    paidOn=st.none(),
)


@st.composite
def records(draw: st.DrawFn) -> Records:
    found = draw(st.lists(CONTRIBUTIONS, max_size=6))
    return Records(
        partner="310000",
        name=draw(st.none() | TEXT),
        insuredCity=None,
        total=len(found) + draw(st.integers(0, 1000)),
        records=found,
    )


ACCOUNTS = st.builds(
    FundAccount,
    partner=st.just("310000"),
    accountNo=TEXT,
    name=TEXT,
    centre=TEXT,
    employerName=st.none(),
    status=st.sampled_from(["normal", "sealed", "transferring", "closed"]),
    balance=MONEY,
    transferring=MONEY,
    monthlyDeposit=MONEY,
    openedOn=DAYS,
    lastDepositOn=DAYS,
    sealedOn=st.none(),
)
TRANSFERS = st.builds(
    Transfer,
    id=PARTNER_IDS,
    reference=TEXT,
    partner=st.just("310000"),
    status=st.sampled_from(["processing", "completed"]),
    name=TEXT,
    accountNo=TEXT,
    fromCentre=st.none(),
    toCentre=HUNAN,
    toCentreName=TEXT,
    toAccount=st.none(),
    phone=st.none(),
    amount=MONEY,
    appliedOn=DAYS,
    completedOn=st.none() | DAYS,
)
FILING_REQUESTS = st.builds(
    FilingRequest,
    insurance=st.sampled_from(["employee", "resident"]),
    kind=st.sampled_from(
        ["long-term-residence", "temporary-treatment", "referral", "off-site-work"]
    ),
    destination=st.just(UNSAID_DESTINATION),
    startDate=REQUEST_DAYS,
    endDate=st.none() | REQUEST_DAYS,
    phone=PHONES,
    remark=st.none(),
)
TRANSFER_REQUESTS = st.builds(
    TransferRequest, toCentre=KNOWN_HUNAN, toAccount=st.none(), phone=st.just(UNSAID_PHONE)
)
FAST = settings(max_examples=60, deadline=None)


# -- canonical → 随申办 → canonical ------------------------------------------------------------


@FAST
@given(FILINGS)
def test_a_filing_survives_the_dialect(filing: Filing) -> None:
    assert DIALECT.read_filing(encode_filing(filing)) == filing


@FAST
@given(records())
def test_records_survive_the_dialect(canonical: Records) -> None:
    page = DIALECT.read_records(encode_records(canonical))
    assert page.records == canonical
    more = canonical.records and canonical.total > PAGE_SIZE
    assert page.next_page == (2 if more else None)


@FAST
@given(ACCOUNTS)
def test_an_account_survives_the_dialect(account: FundAccount) -> None:
    assert DIALECT.read_account(encode_account(account)) == account


@FAST
@given(TRANSFERS)
def test_a_transfer_survives_the_dialect(transfer: Transfer) -> None:
    assert DIALECT.read_transfer(encode_transfer(transfer)) == transfer


@FAST
@given(FILING_REQUESTS, ID_NUMBERS, REFERENCES)
def test_a_filing_request_survives_the_call(
    request: FilingRequest, id_number: str, reference: str
) -> None:
    call = DIALECT.create_filing_call(id_number, reference, request)
    assert decode_filing_request(call) == request
    body = json.loads(call.body)
    assert (body["request_id"], body["id_number"]) == (reference, id_number)


@FAST
@given(TRANSFER_REQUESTS, ID_NUMBERS, REFERENCES)
def test_a_transfer_request_survives_the_call(
    request: TransferRequest, id_number: str, reference: str
) -> None:
    call = DIALECT.create_transfer_call(id_number, reference, request)
    assert decode_transfer_request(call) == request
    assert json.loads(call.body) == {
        "request_id": reference,
        "id_number": id_number,
        "target_division_code": request.toCentre,
    }


@FAST
@given(FILING_REQUESTS, HUNAN, st.none() | NAMES.filter(str.strip), TRANSFER_REQUESTS, PHONES)
def test_what_the_partner_does_not_take_is_dropped(
    filing: FilingRequest,
    destination: str,
    remark: str | None,
    transfer: TransferRequest,
    phone: str,
) -> None:
    said = filing.model_copy(update={"destination": destination, "remark": remark})
    assert DIALECT.create_filing_call(A, "r", said) == DIALECT.create_filing_call(A, "r", filing)
    more = transfer.model_copy(update={"toAccount": "123456789", "phone": phone})
    assert DIALECT.create_transfer_call(A, "r", more) == DIALECT.create_transfer_call(
        A, "r", transfer
    )


@FAST
@given(st.integers(0, 10**15))
def test_amounts_are_exact(fen: int) -> None:
    money = fen_to_money(fen)
    assert Decimal(money) * 100 == fen
    assert money_to_fen(money) == fen


def test_what_the_partner_cannot_say_is_a_value_error() -> None:
    filing = _filing()
    transfer = _transfer()
    account = _account()
    contribution = Contribution(
        month="2020-01",
        insurance="injury",
        base="1.00",
        personal="0.00",
        employer="0.01",
        employerName="x",
        paidOn=None,
    )
    cases: list[Callable[[], object]] = [
        lambda: encode_transfer(transfer.model_copy(update={"status": "accepted"})),
        lambda: encode_transfer(transfer.model_copy(update={"status": "returned"})),
        lambda: encode_transfer(transfer.model_copy(update={"phone": "13800138000"})),
        lambda: encode_filing(filing.model_copy(update={"destination": "430100"})),
        lambda: encode_filing(filing.model_copy(update={"partner": "440000"})),
        lambda: encode_account(account.model_copy(update={"monthlyDeposit": None})),
        lambda: encode_account(account.model_copy(update={"sealedOn": date(2020, 1, 1)})),
        lambda: encode_records(
            Records(partner="310000", name=None, insuredCity=None, total=1, records=[contribution])
        ),
        lambda: DIALECT.records_call(A, "2020-13", None, 1),
        lambda: DIALECT.records_call(A, None, None, 0),
    ]
    for case in cases:
        with pytest.raises(ValueError, match=r"."):
            case()


# -- the calls ---------------------------------------------------------------------------------


def test_calls_percent_encode_what_they_carry() -> None:
    assert DIALECT.get_filing_call(A, "a/b c?#") == PartnerCall(
        "GET",
        "/ssb/open/medical/remote_filings/a%2Fb%20c%3F%23",
        headers=(("accept", "application/json"),),
    )
    assert (
        DIALECT.get_transfer_call(A, "../x").path == "/ssb/open/housing_fund/transfer_outs/..%2Fx"
    )
    assert (
        DIALECT.find_filing_call(A, "x&y=z:1").path
        == "/ssb/open/medical/remote_filings?request_id=x%26y%3Dz%3A1"
    )
    assert (
        DIALECT.find_transfer_call(A, "r 1").path
        == "/ssb/open/housing_fund/transfer_outs?request_id=r%201"
    )
    cancel = DIALECT.cancel_filing_call(A, "F/1", None)
    assert (cancel.method, cancel.path, cancel.body) == (
        "POST",
        "/ssb/open/medical/remote_filings/F%2F1/revoke",
        b"{}",
    )
    assert json.loads(DIALECT.cancel_filing_call(A, "F1", "已返回").body) == {"reason": "已返回"}
    records = DIALECT.records_call(A, "2023-12", "2024-01", 3).path
    assert records == (
        f"/ssb/open/social_insurance/payments?id_number={A}&start_month=1701360000000"
        "&end_month=1704038400000&page=3&page_size=200"
    )
    assert DIALECT.records_call(A, None, None, 1).path.endswith(f"={A}&page=1&page_size=200")
    assert DIALECT.account_call(A).path == f"/ssb/open/housing_fund/account?id_number={A}"
    token = DIALECT.token_call(A)
    assert token.headers == (("accept", "application/json"),)
    assert (token.method, token.path, token.content_type) == (
        "POST",
        "/ssb/open/oauth/token",
        "application/json",
    )
    assert json.loads(token.body) == {"id_number": A}
    assert DIALECT.credential_header("ssb.x.y") == ("x-ssb-token", "ssb.x.y")
    assert DIALECT.partner == "310000"


# -- against the simulated partner -------------------------------------------------------------


@pytest.fixture
def partner() -> Starlette:
    return create_shanghai_app(clock=fixed_clock)


@pytest.fixture
async def client(partner: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=partner), base_url="http://ssb.example"
    ) as c:
        yield c


async def send(
    client: httpx.AsyncClient, call: PartnerCall, credential: str | None = None
) -> PartnerAnswer:
    """The call as the connector sends it, and the partner's whole answer."""
    headers = dict(call.headers)
    if call.content_type is not None:
        headers["content-type"] = call.content_type
    if credential is not None:
        name, value = DIALECT.credential_header(credential)
        headers[name] = value
    response = await client.request(
        call.method, call.path, content=call.body or None, headers=headers
    )
    return PartnerAnswer(
        response.status_code, response.headers.get("content-type", ""), response.content
    )


async def sign_in(client: httpx.AsyncClient, id_number: str) -> str:
    answer = await send(client, DIALECT.token_call(id_number))
    credential = DIALECT.read_credential(answer)
    assert credential.expires_in == 600
    return credential.value


def refusal(read: Callable[[PartnerAnswer], object], answer: PartnerAnswer) -> PartnerRefused:
    with pytest.raises(PartnerRefused) as refused:
        read(answer)
    assert refused.value.message
    return refused.value


def filing_request(**changes: Any) -> FilingRequest:
    values: dict[str, Any] = {
        "insurance": "employee",
        "kind": "temporary-treatment",
        "destination": "430100",
        "startDate": date(2023, 12, 1),
        "endDate": date(2024, 3, 31),
        "phone": "13800138000",
        "remark": "住院治疗",
    }
    return FilingRequest.model_validate({**values, **changes})


async def test_the_token_endpoint(client: httpx.AsyncClient) -> None:
    credential = await sign_in(client, A)
    account = DIALECT.read_account(await send(client, DIALECT.account_call(A), credential))
    assert account.name == PEOPLE[A].name


async def test_the_token_endpoint_with_the_gateways_assertion() -> None:
    keys = fresh_keys()
    app = create_shanghai_app(
        clock=fixed_clock, gateway_jwks=keys.jwks(), assertion_issuer="https://gateway.example"
    )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://s") as c:
        call = DIALECT.token_call(A)

        def asserted(token: str) -> PartnerCall:
            # What the connector adds to the dialect's call.
            return PartnerCall(
                call.method,
                call.path,
                call.body,
                call.content_type,
                (*call.headers, ("X-XYB-Assertion", token)),
            )

        good = gateway_assertion(keys, audience=DEFAULT_AUDIENCE, id_number=A, now=NOW.timestamp())
        credential = DIALECT.read_credential(await send(c, asserted(good)))
        account = DIALECT.read_account(await send(c, DIALECT.account_call(A), credential.value))
        assert account.name == PEOPLE[A].name
        foreign = gateway_assertion(
            fresh_keys(), audience=DEFAULT_AUDIENCE, id_number=A, now=NOW.timestamp()
        )
        for answer in (await send(c, call), await send(c, asserted(foreign))):
            refused = refusal(DIALECT.read_credential, answer)
            assert (refused.kind, refused.code) == ("assertion", "SSB-4014")
        # Asserting one person while the body names another is theirs to refuse.
        other = DIALECT.token_call(B)
        answer = await send(
            c,
            PartnerCall(
                other.method, other.path, other.body, other.content_type, asserted(good).headers
            ),
        )
        refused = refusal(DIALECT.read_credential, answer)
        assert (refused.kind, refused.code) == ("forbidden", "SSB-4031")


async def test_filing_finding_reading_and_cancelling(client: httpx.AsyncClient) -> None:
    credential = await sign_in(client, A)
    reference = "xyb:filing.1"
    request = filing_request()
    create = DIALECT.create_filing_call(A, reference, request)
    made = DIALECT.read_filing(await send(client, create, credential))
    assert made == Filing(
        id=made.id,
        reference=reference,
        partner="310000",
        status="active",
        name=PEOPLE[A].name,
        insurance="employee",
        kind="temporary-treatment",
        insuredCity=None,
        destination=None,
        destinationName=None,
        startDate=date(2023, 12, 1),
        endDate=date(2024, 3, 31),
        phone="13800138000",
        remark=None,
        filedAt=NOW,
        cancelledAt=None,
        cancelReason=None,
    )
    assert made.id.startswith("SSBYD20231120")
    assert made.filedAt.tzinfo == SHANGHAI
    # A retry of the same request: the same filing.
    assert DIALECT.read_filing(await send(client, create, credential)) == made
    found = DIALECT.read_filing(
        await send(client, DIALECT.find_filing_call(A, reference), credential)
    )
    assert found == made
    read = DIALECT.read_filing(await send(client, DIALECT.get_filing_call(A, made.id), credential))
    assert read == made
    # The same reference for another request; another one while one is valid.
    other = DIALECT.create_filing_call(A, reference, filing_request(kind="referral"))
    refused = refusal(DIALECT.read_filing, await send(client, other, credential))
    assert (refused.kind, refused.code) == ("conflict", "SSB-4091")
    second = DIALECT.create_filing_call(A, "xyb-2", request)
    refused = refusal(DIALECT.read_filing, await send(client, second, credential))
    assert (refused.kind, refused.code) == ("conflict", "SSB-4092")
    assert made.id in refused.message
    cancel = DIALECT.cancel_filing_call(A, made.id, "已返回参保地")
    cancelled = DIALECT.read_filing(await send(client, cancel, credential))
    assert cancelled == made.model_copy(
        update={"status": "cancelled", "cancelledAt": NOW, "cancelReason": "已返回参保地"}
    )
    refused = refusal(DIALECT.read_filing, await send(client, cancel, credential))
    assert (refused.kind, refused.code) == ("conflict", "SSB-4093")
    # Without a reason, the partner gives its own.
    again = DIALECT.read_filing(await send(client, second, credential))
    cancel = DIALECT.cancel_filing_call(A, again.id, None)
    assert DIALECT.read_filing(await send(client, cancel, credential)).cancelReason


async def test_filing_refusals(client: httpx.AsyncClient) -> None:
    mine, theirs = await sign_in(client, A), await sign_in(client, B)
    filing = DIALECT.read_filing(
        await send(client, DIALECT.create_filing_call(B, "theirs", filing_request()), theirs)
    )
    cases: list[tuple[PartnerCall, str, str]] = [
        (DIALECT.get_filing_call(A, filing.id), "forbidden", "SSB-4031"),
        (DIALECT.cancel_filing_call(A, filing.id, None), "forbidden", "SSB-4031"),
        (DIALECT.get_filing_call(A, "SSBYD2023112099999999"), "not-found", "SSB-4041"),
        # An id with slashes stays one segment: it reaches no other operation (ASGI decodes
        # %2F before routing, so the partner answers "no such path").
        (DIALECT.get_filing_call(A, "../../housing_fund/account"), "failed", "SSB-4040"),
        (DIALECT.cancel_filing_call(A, "SSBYD2023112099999999", "x"), "not-found", "SSB-4041"),
        # Another's reference is not found by a lookup (nor is an unknown one) ...
        (DIALECT.find_filing_call(A, "theirs"), "not-found", "SSB-4041"),
        (DIALECT.find_filing_call(A, "unknown"), "not-found", "SSB-4041"),
        # ... nor reused for another request.
        (
            DIALECT.create_filing_call(A, "theirs", filing_request(phone="13900139000")),
            "conflict",
            "SSB-4091",
        ),
        # Another person's ID number with my credential.
        (DIALECT.create_filing_call(B, "mine", filing_request()), "forbidden", "SSB-4031"),
        # What the partner finds invalid.
        (DIALECT.create_filing_call(A, "has space", filing_request()), "invalid", "SSB-4001"),
        (
            DIALECT.create_filing_call(
                A, "r", filing_request(startDate=date(2024, 1, 2), endDate=date(2024, 1, 1))
            ),
            "invalid",
            "SSB-4001",
        ),
    ]
    for call, kind, code in cases:
        refused = refusal(DIALECT.read_filing, await send(client, call, mine))
        assert (refused.kind, refused.code) == (kind, code), call


def contribution(paid: Payment) -> Contribution:
    """A simulated payment as canonical data, computed apart from the dialect."""
    names = {"PENSION": "pension", "MEDICAL": "medical", "UNEMPLOYMENT": "unemployment"}

    def money(fen: int) -> str:
        return f"{Decimal(fen).scaleb(-2):.2f}"

    return Contribution.model_validate(
        {
            "month": f"{paid.month:%Y-%m}",
            "insurance": names[paid.insurance_type],
            "base": money(paid.base_fen),
            "personal": money(paid.personal_fen),
            "employer": money(paid.employer_fen),
            "employerName": paid.employer_name,
            "paidOn": None,
        }
    )


async def all_pages(
    client: httpx.AsyncClient,
    credential: str,
    id_number: str,
    from_month: str | None = None,
    to_month: str | None = None,
) -> list[RecordsPage]:
    pages: list[RecordsPage] = []
    page: int | None = 1
    while page is not None:
        assert page <= 10
        call = DIALECT.records_call(id_number, from_month, to_month, page)
        pages.append(DIALECT.read_records(await send(client, call, credential)))
        page = pages[-1].next_page
    return pages


async def test_records_page_by_page(client: httpx.AsyncClient) -> None:
    credential = await sign_in(client, MANY)
    expected = [contribution(p) for p in payments(PEOPLE[MANY], 1)]
    pages = await all_pages(client, credential, MANY)
    assert len(pages) == (len(expected) + PAGE_SIZE - 1) // PAGE_SIZE >= 2
    assert [page.next_page for page in pages] == [*range(2, len(pages) + 1), None]
    for page in pages:
        assert page.records.model_copy(update={"records": []}) == Records(
            partner="310000",
            name=PEOPLE[MANY].name,
            insuredCity=None,
            total=len(expected),
            records=[],
        )
    assert [r for page in pages for r in page.records.records] == expected


async def test_records_between_months(client: httpx.AsyncClient) -> None:
    credential = await sign_in(client, A)
    every = [contribution(p) for p in payments(PEOPLE[A], 1)]
    months = sorted({c.month for c in every})
    first, last = months[1], months[-2]
    pages = await all_pages(client, credential, A, first, last)
    assert len(pages) == 1
    wanted = [c for c in every if first <= c.month <= last]
    assert pages[0].records.records == wanted
    assert pages[0].records.total == len(wanted)
    assert {c.month for c in wanted} == set(months[1:-1])


async def test_records_of_somebody_never_insured_there(client: httpx.AsyncClient) -> None:
    credential = await sign_in(client, NOBODY)
    (page,) = await all_pages(client, credential, NOBODY)
    assert (page.records.total, page.records.records, page.next_page) == (0, [], None)
    # Another person's records with this credential.
    call = DIALECT.records_call(A, None, None, 1)
    refused = refusal(DIALECT.read_records, await send(client, call, credential))
    assert (refused.kind, refused.code) == ("forbidden", "SSB-4031")


async def test_the_fund_account(client: httpx.AsyncClient) -> None:
    credential = await sign_in(client, A)
    account = DIALECT.read_account(await send(client, DIALECT.account_call(A), credential))
    seeded = seeded_account(PEOPLE[A], 1, NOW.date())
    assert account == FundAccount.model_validate(
        {
            "partner": "310000",
            "accountNo": seeded.account_no,
            "name": PEOPLE[A].name,
            "centre": "上海市公积金管理中心",
            "employerName": None,
            "status": seeded.status.lower(),
            "balance": f"{Decimal(seeded.balance_fen).scaleb(-2):.2f}",
            "transferring": "0.00",
            "monthlyDeposit": f"{Decimal(seeded.monthly_deposit_fen).scaleb(-2):.2f}",
            "openedOn": seeded.opened,
            "lastDepositOn": seeded.last_deposit,
            "sealedOn": None,
        }
    )
    nobody = await sign_in(client, NOBODY)
    answer = await send(client, DIALECT.account_call(NOBODY), nobody)
    refused = refusal(DIALECT.read_account, answer)
    assert (refused.kind, refused.code) == ("not-found", "SSB-4042")
    refused = refusal(DIALECT.read_account, await send(client, DIALECT.account_call(B), nobody))
    assert (refused.kind, refused.code) == ("forbidden", "SSB-4031")


async def test_a_transfer_to_hunan(client: httpx.AsyncClient) -> None:
    credential = await sign_in(client, A)
    before = DIALECT.read_account(await send(client, DIALECT.account_call(A), credential))
    request = TransferRequest(toCentre="430102", toAccount="4301000012345", phone="13800138000")
    create = DIALECT.create_transfer_call(A, "xyb:transfer.1", request)
    made = DIALECT.read_transfer(await send(client, create, credential))
    assert made == Transfer(
        id=made.id,
        reference="xyb:transfer.1",
        partner="310000",
        status="processing",
        name=PEOPLE[A].name,
        accountNo=before.accountNo,
        fromCentre=None,
        toCentre="430102",
        toCentreName=made.toCentreName,
        toAccount=None,
        phone=None,
        amount=before.balance,
        appliedOn=NOW.date(),
        completedOn=None,
    )
    assert made.id.startswith("SSBGJ20231120")
    assert made.toCentreName is not None
    assert made.toCentreName.endswith("住房公积金管理中心")
    after = DIALECT.read_account(await send(client, DIALECT.account_call(A), credential))
    assert (after.status, after.balance, after.transferring) == (
        "transferring",
        "0.00",
        before.balance,
    )
    assert DIALECT.read_transfer(await send(client, create, credential)) == made
    find = DIALECT.find_transfer_call(A, "xyb:transfer.1")
    assert DIALECT.read_transfer(await send(client, find, credential)) == made
    get = DIALECT.get_transfer_call(A, made.id)
    assert DIALECT.read_transfer(await send(client, get, credential)) == made
    elsewhere = TransferRequest(toCentre="430200", phone="13800138000")
    theirs = await sign_in(client, B)
    nobody = await sign_in(client, NOBODY)
    # Past the gateway's own check (a division it knows), to see the partner refuse it.
    invalid = TransferRequest.model_construct(toCentre="439999", toAccount=None, phone=UNSAID_PHONE)
    cases: list[tuple[PartnerCall, str, str, str]] = [
        (
            DIALECT.create_transfer_call(A, "xyb:transfer.1", elsewhere),
            credential,
            "conflict",
            "SSB-4091",
        ),
        (
            DIALECT.create_transfer_call(A, "xyb:transfer.2", request),
            credential,
            "conflict",
            "SSB-4094",
        ),
        (get, theirs, "forbidden", "SSB-4031"),
        (
            DIALECT.get_transfer_call(A, "SSBGJ2023112099999999"),
            credential,
            "not-found",
            "SSB-4043",
        ),
        (DIALECT.find_transfer_call(A, "xyb:transfer.1"), theirs, "not-found", "SSB-4043"),
        (DIALECT.create_transfer_call(NOBODY, "n", request), nobody, "not-found", "SSB-4042"),
        (DIALECT.create_transfer_call(A, "x", invalid), credential, "invalid", "SSB-4001"),
    ]
    for call, who, kind, code in cases:
        refused = refusal(DIALECT.read_transfer, await send(client, call, who))
        assert (refused.kind, refused.code) == (kind, code), call


async def test_credentials_it_refuses(client: httpx.AsyncClient) -> None:
    expired, _ = mint_user_credential("310000", A, now=NOW.timestamp() - 3600)
    foreign, _ = mint_user_credential("440000", A, now=NOW.timestamp())
    cases = {None: "SSB-4011", "garbage": "SSB-4012", expired: "SSB-4013", foreign: "SSB-4012"}
    for credential, code in cases.items():
        answer = await send(client, DIALECT.get_filing_call(A, "SSBYD1"), credential)
        refused = refusal(DIALECT.read_filing, answer)
        assert (refused.kind, refused.code) == ("credential", code)


async def test_the_partners_failures(client: httpx.AsyncClient, partner: Starlette) -> None:
    credential = await sign_in(client, A)
    call = DIALECT.account_call(A)
    partner.state.faults.update(error_rate=1.0, error_status=503)
    refused = refusal(DIALECT.read_account, await send(client, call, credential))
    assert (refused.kind, refused.code) == ("unavailable", "SSB-5030")
    partner.state.faults.update(error_status=500)
    refused = refusal(DIALECT.read_account, await send(client, call, credential))
    assert (refused.kind, refused.code) == ("failed", "SSB-5000")
    partner.state.faults.update(error_rate=0.0, malformed="json")
    with pytest.raises(BadPartnerAnswer):
        DIALECT.read_account(await send(client, call, credential))
    partner.state.faults.update(malformed=None)
    refused = refusal(
        DIALECT.read_account, await send(client, PartnerCall("GET", "/ssb/open/nope"), credential)
    )
    assert (refused.kind, refused.code) == ("failed", "SSB-4040")


# -- refusals and hostile answers --------------------------------------------------------------


def failure(status: int, code: object, message: object = "说明") -> PartnerAnswer:
    body = {"success": False, "result": None, "error_code": code, "error_message": message}
    return PartnerAnswer(status, "application/json", json.dumps(body).encode())


@pytest.mark.parametrize(
    ("status", "code", "kind"),
    [
        (400, "SSB-4000", "invalid"),
        (400, "SSB-4001", "invalid"),
        (401, "SSB-4011", "credential"),
        (401, "SSB-4012", "credential"),
        (401, "SSB-4013", "credential"),
        (401, "SSB-4014", "assertion"),
        (403, "SSB-4031", "forbidden"),
        (404, "SSB-4040", "failed"),
        (404, "SSB-4041", "not-found"),
        (404, "SSB-4042", "not-found"),
        (404, "SSB-4043", "not-found"),
        (405, "SSB-4050", "failed"),
        (409, "SSB-4091", "conflict"),
        (409, "SSB-4092", "conflict"),
        (409, "SSB-4093", "conflict"),
        (409, "SSB-4094", "conflict"),
        (500, "SSB-5000", "failed"),
        (503, "SSB-5030", "unavailable"),
        (418, "SSB-4180", "failed"),
        (409, "SSB-4099", "failed"),
        (502, "whatever", "failed"),
        (503, "SSB-5031", "unavailable"),
    ],
)
def test_refusals_keep_the_partners_words(status: int, code: str, kind: str) -> None:
    message = "原话" * 10
    for read in (DIALECT.read_filing, DIALECT.read_records, DIALECT.read_credential):
        refused = refusal(read, failure(status, code, message))
        assert (refused.kind, refused.code, refused.message) == (kind, code, message)


def _filing() -> Filing:
    return Filing(
        id="SSBYD2023112012345678",
        reference="r-1",
        partner="310000",
        status="active",
        name="张三",
        insurance="employee",
        kind="referral",
        insuredCity=None,
        destination=None,
        destinationName=None,
        startDate=date(2023, 12, 1),
        endDate=None,
        phone="13800138000",
        remark=None,
        filedAt=NOW,
        cancelledAt=None,
        cancelReason=None,
    )


def _transfer() -> Transfer:
    return Transfer(
        id="SSBGJ2023112012345678",
        reference="r-1",
        partner="310000",
        status="processing",
        name="张三",
        accountNo="310000000001",
        fromCentre=None,
        toCentre="430100",
        toCentreName="长沙市住房公积金管理中心",
        toAccount=None,
        phone=None,
        amount="1234.50",
        appliedOn=date(2023, 11, 20),
        completedOn=None,
    )


def _account() -> FundAccount:
    return FundAccount(
        partner="310000",
        accountNo="310000000001",
        name="张三",
        centre="上海市公积金管理中心",
        employerName=None,
        status="sealed",
        balance="1234.50",
        transferring="0.00",
        monthlyDeposit="100.00",
        openedOn=date(2015, 3, 1),
        lastDepositOn=date(2020, 3, 15),
        sealedOn=None,
    )


def _records() -> Records:
    month = Contribution(
        month="2020-03",
        insurance="pension",
        base="8000.00",
        personal="640.00",
        employer="1280.00",
        employerName="上海某某有限公司",
        paidOn=None,
    )
    return Records(partner="310000", name="张三", insuredCity=None, total=1, records=[month])


def _envelope(answer: PartnerAnswer) -> dict[str, Any]:
    envelope: dict[str, Any] = json.loads(answer.body)
    return envelope


def _with(answer: PartnerAnswer, change: Callable[[dict[str, Any]], object]) -> PartnerAnswer:
    """``answer`` with its envelope changed by ``change``."""
    envelope = _envelope(answer)
    change(envelope)
    return PartnerAnswer(answer.status, answer.content_type, json.dumps(envelope).encode())


def _set(*path: str | int, value: object) -> Callable[[dict[str, Any]], object]:
    def change(envelope: dict[str, Any]) -> None:
        target: Any = envelope
        for part in path[:-1]:
            target = target[part]
        target[path[-1]] = value

    return change


def _drop(*path: str) -> Callable[[dict[str, Any]], object]:
    def change(envelope: dict[str, Any]) -> None:
        target: Any = envelope
        for part in path[:-1]:
            target = target[part]
        del target[path[-1]]

    return change


FILING_ANSWER = encode_filing(_filing())
RECORDS_ANSWER = encode_records(_records())
ACCOUNT_ANSWER = encode_account(_account())
TRANSFER_ANSWER = encode_transfer(_transfer())
TOKEN_ANSWER = PartnerAnswer(
    200,
    "application/json",
    json.dumps(
        {
            "success": True,
            "result": {
                "access_token": "shanghai.abc.def",
                "token_type": "X-SSB-Token",
                "expires_in": 600,
                "expires_at": NOW_MS + 600_000,
                "id_number": A,
            },
            "error_code": None,
            "error_message": None,
        }
    ).encode(),
)
READERS: dict[str, tuple[PartnerAnswer, Callable[[PartnerAnswer], object]]] = {
    "filing": (FILING_ANSWER, DIALECT.read_filing),
    "records": (RECORDS_ANSWER, DIALECT.read_records),
    "account": (ACCOUNT_ANSWER, DIALECT.read_account),
    "transfer": (TRANSFER_ANSWER, DIALECT.read_transfer),
    "token": (TOKEN_ANSWER, DIALECT.read_credential),
}


def test_the_sample_answers_are_read() -> None:
    for answer, read in READERS.values():
        read(answer)
    assert DIALECT.read_credential(TOKEN_ANSWER).value == "shanghai.abc.def"


HOSTILE: dict[str, tuple[str, PartnerAnswer]] = {
    # Not the partner's envelope at all.
    "html": ("filing", PartnerAnswer(200, "text/html", b"<html><body>gateway</body></html>")),
    "html typed as JSON": ("filing", PartnerAnswer(200, "application/json", b"<html></html>")),
    "half an answer": ("filing", PartnerAnswer(200, "application/json", FILING_ANSWER.body[:40])),
    "untyped": ("filing", PartnerAnswer(200, "", FILING_ANSWER.body)),
    "JSON typed as text": ("filing", PartnerAnswer(200, "text/plain", FILING_ANSWER.body)),
    "a list": ("filing", PartnerAnswer(200, "application/json", b"[1, 2]")),
    "not UTF-8": ("filing", PartnerAnswer(200, "application/json", b'{"success": "\xff"}')),
    "NaN": ("records", PartnerAnswer(200, "application/json", b'{"success": NaN}')),
    "deep": ("filing", PartnerAnswer(200, "application/json", b"[" * 100_000)),
    "a huge number": (
        "filing",
        PartnerAnswer(200, "application/json", b'{"success": ' + b"9" * 5000 + b"}"),
    ),
    "another envelope": (
        "filing",
        PartnerAnswer(200, "application/json", b'{"code": "0", "data": {}}'),
    ),
    "success as text": ("filing", _with(FILING_ANSWER, _set("success", value="true"))),
    "no result": ("filing", _with(FILING_ANSWER, _drop("result"))),
    "a null result": ("account", _with(ACCOUNT_ANSWER, _set("result", value=None))),
    "a list result": ("account", _with(ACCOUNT_ANSWER, _set("result", value=[]))),
    "a success with a code": ("filing", _with(FILING_ANSWER, _set("error_code", value="SSB-0"))),
    "a success on 404": ("filing", PartnerAnswer(404, "application/json", FILING_ANSWER.body)),
    "a refusal on 200": ("filing", failure(200, "SSB-4041")),
    "a refusal without a code": ("filing", failure(404, None)),
    "a numeric code": ("filing", failure(404, 4041)),
    "a numeric message": ("filing", failure(404, "SSB-4041", 404)),
    # Codes outside the partner's tables.
    "filing status": ("filing", _with(FILING_ANSWER, _set("result", "status", value="ACTIVE"))),
    "insurance type": (
        "filing",
        _with(FILING_ANSWER, _set("result", "insurance_type", value="SELF")),
    ),
    "filing type": ("filing", _with(FILING_ANSWER, _set("result", "filing_type", value="valid"))),
    "payment type": (
        "records",
        _with(RECORDS_ANSWER, _set("result", "records", 0, "insurance_type", value="INJURY")),
    ),
    "pay status": (
        "records",
        _with(RECORDS_ANSWER, _set("result", "records", 0, "pay_status", value="UNPAID")),
    ),
    "account status": ("account", _with(ACCOUNT_ANSWER, _set("result", "status", value="FROZEN"))),
    "transfer status": (
        "transfer",
        _with(TRANSFER_ANSWER, _set("result", "status", value="RETURNED")),
    ),
    "token type": ("token", _with(TOKEN_ANSWER, _set("result", "token_type", value="Bearer"))),
    # A number where text is expected, and the other way round.
    "numeric filing id": ("filing", _with(FILING_ANSWER, _set("result", "filing_id", value=1))),
    "numeric name": ("filing", _with(FILING_ANSWER, _set("result", "name", value=5))),
    "numeric phone": (
        "filing",
        _with(FILING_ANSWER, _set("result", "contact_phone", value=13800138000)),
    ),
    "numeric status": ("filing", _with(FILING_ANSWER, _set("result", "status", value=1))),
    "numeric account": ("account", _with(ACCOUNT_ANSWER, _set("result", "account_no", value=3))),
    "numeric division": (
        "transfer",
        _with(TRANSFER_ANSWER, _set("result", "target_division_code", value=430100)),
    ),
    "numeric token": ("token", _with(TOKEN_ANSWER, _set("result", "access_token", value=7))),
    "text date": (
        "filing",
        _with(FILING_ANSWER, _set("result", "start_date", value="2023-12-01")),
    ),
    "text amount": ("account", _with(ACCOUNT_ANSWER, _set("result", "balance_fen", value="100"))),
    "float amount": ("account", _with(ACCOUNT_ANSWER, _set("result", "balance_fen", value=1.5))),
    "bool amount": ("transfer", _with(TRANSFER_ANSWER, _set("result", "amount_fen", value=True))),
    "negative amount": (
        "records",
        _with(RECORDS_ANSWER, _set("result", "records", 0, "base_fen", value=-1)),
    ),
    "too large an amount": (
        "account",
        _with(ACCOUNT_ANSWER, _set("result", "balance_fen", value=10**14)),
    ),
    "text total": ("records", _with(RECORDS_ANSWER, _set("result", "total", value="1"))),
    "negative total": ("records", _with(RECORDS_ANSWER, _set("result", "total", value=-1))),
    "page 0": ("records", _with(RECORDS_ANSWER, _set("result", "page", value=0))),
    "records not a list": ("records", _with(RECORDS_ANSWER, _set("result", "records", value={}))),
    "a record not an object": (
        "records",
        _with(RECORDS_ANSWER, _set("result", "records", 0, value="PAID")),
    ),
    "text expiry": ("token", _with(TOKEN_ANSWER, _set("result", "expires_in", value="600"))),
    "no expiry": ("token", _with(TOKEN_ANSWER, _set("result", "expires_in", value=0))),
    "a token smuggling a header": (
        "token",
        _with(TOKEN_ANSWER, _set("result", "access_token", value="a\r\nx-admin: 1")),
    ),
    # Values the canonical model refuses, and dates that are not the partner's.
    "a filing id with a slash": (
        "filing",
        _with(FILING_ANSWER, _set("result", "filing_id", value="../account")),
    ),
    "a division outside Hunan": (
        "transfer",
        _with(TRANSFER_ANSWER, _set("result", "target_division_code", value="440100")),
    ),
    "a date not at midnight": (
        "filing",
        _with(FILING_ANSWER, _set("result", "start_date", value=1_701_360_000_001)),
    ),
    "a moment beyond any calendar": (
        "filing",
        _with(FILING_ANSWER, _set("result", "created_at", value=10**30)),
    ),
    "a moment before any calendar": (
        "transfer",
        _with(TRANSFER_ANSWER, _set("result", "created_at", value=-(10**20))),
    ),
    "a missing field": ("filing", _with(FILING_ANSWER, _drop("result", "revoked_at"))),
    "a missing amount": ("account", _with(ACCOUNT_ANSWER, _drop("result", "transferring_fen"))),
    "a lookup without a total": (
        "filing",
        PartnerAnswer(
            200,
            "application/json",
            b'{"success": true, "result": {"filings": []}, "error_code": null,'
            b' "error_message": null}',
        ),
    ),
    "a lookup of text": (
        "transfer",
        PartnerAnswer(
            200,
            "application/json",
            b'{"success": true, "result": {"total": 1, "transfers": ["x"]}, "error_code": null,'
            b' "error_message": null}',
        ),
    ),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_answers_are_bad_partner_answers(case: str) -> None:
    reader, answer = HOSTILE[case]
    with pytest.raises(BadPartnerAnswer) as bad:
        READERS[reader][1](answer)
    assert str(bad.value)


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**20), 10**20)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=5,
)


@FAST
@given(st.sampled_from(sorted(READERS)), st.data(), JSON_VALUES)
def test_any_field_of_any_value_is_read_or_refused(
    reader: str, data: st.DataObject, value: object
) -> None:
    """Whatever one field of an answer holds, a reader answers canonical data or raises
    BadPartnerAnswer: nothing else escapes (KeyError, TypeError, ValidationError ...)."""
    answer, read = READERS[reader]
    envelope = _envelope(answer)
    target = envelope["result"]
    if reader == "records" and data.draw(st.booleans(), label="in a record"):
        target = target["records"][0]
    target[data.draw(st.sampled_from(sorted(target)), label="field")] = value
    changed = PartnerAnswer(answer.status, answer.content_type, json.dumps(envelope).encode())
    with contextlib.suppress(BadPartnerAnswer):
        read(changed)
