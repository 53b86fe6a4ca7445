"""The simulated 随申办 (Shanghai, 310000): its seeded data, its own protocol (the token endpoint,
医保异地备案, 社保缴费记录, 公积金账户 and 转移), idempotency by request_id, the "commit, then hang"
fault, the credentials it refuses, the gateway's assertion, and its contract, verified the way a
user verifies it (`xyb contracts verify ... --target simulator`)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st
from starlette.applications import Starlette

from app.contracts.replay import verify
from app.identity.keys import KeyRing
from app.identity.tokens import TokenIssuer
from app.simulators import Faults, simulator_for
from app.simulators.alliance.common import (
    alliance_residents,
    issue_id_token,
    mint_user_credential,
)
from app.simulators.alliance.shanghai import (
    DEFAULT_AUDIENCE,
    DEMO_PORT,
    TEST_TOKEN,
    ShanghaiServer,
    create_shanghai_app,
    date_to_ms,
    ms_to_date,
    openapi_document,
    payments,
    seeded_people,
)
from app.simulators.alliance.shanghai.data import INSURANCE_TYPES, is_local_midnight
from tests.simulators.alliance_support import (
    ISSUER,
    ROOT,
    assert_contract_passes,
    assert_document_anchored,
    fresh_keys,
    gateway_assertion,
)
from tests.simulators.clock import NOW, fixed_clock

CONTRACT = ROOT / "contracts" / "alliance" / "shanghai.contract.yaml"
FILINGS = "/ssb/open/medical/remote_filings"
TRANSFERS = "/ssb/open/housing_fund/transfer_outs"
ACCOUNT = "/ssb/open/housing_fund/account"
PAYMENTS = "/ssb/open/social_insurance/payments"
TOKEN = "/ssb/open/oauth/token"
# A valid ID number nobody seeded holds (it never worked in Shanghai).
NOBODY = "11010519491231002X"
A, B = sorted(seeded_people(1))[:2]
START = date_to_ms(date(2023, 12, 1))


@pytest.fixture
def partner() -> Starlette:
    return create_shanghai_app(clock=fixed_clock)


@pytest.fixture
async def client(partner: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=partner), base_url="http://ssb.example"
    ) as c:
        yield c


def credential(id_number: str, *, now: float | None = None, seed: int = 1) -> dict[str, str]:
    """The X-SSB-Token header of a credential minted for ``id_number`` (as of the fixed clock)."""
    token, _ = mint_user_credential(
        "310000", id_number, now=NOW.timestamp() if now is None else now, seed=seed
    )
    return {"X-SSB-Token": token}


def filing_body(request_id: str = "req-1", **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "request_id": request_id,
        "insurance_type": "EMPLOYEE",
        "filing_type": "LONG_TERM_RESIDENCE",
        "start_date": START,
        "end_date": date_to_ms(date(2024, 11, 30)),
        "contact_phone": "13800138000",
    }
    body.update(changes)
    return {k: v for k, v in body.items() if v is not None}


def ok(answer: httpx.Response, status: int = 200) -> Any:
    """The result of a successful answer, after checking the envelope."""
    assert answer.status_code == status, answer.text
    envelope = answer.json()
    assert envelope == {
        "success": True,
        "result": envelope["result"],
        "error_code": None,
        "error_message": None,
    }
    return envelope["result"]


def refused(answer: httpx.Response, status: int, code: str) -> str:
    """The message of a refusal, after checking its status, code and envelope."""
    assert (answer.status_code, answer.json().get("error_code")) == (status, code), answer.text
    envelope = answer.json()
    assert envelope["success"] is False
    assert envelope["result"] is None
    message: str = envelope["error_message"]
    assert message
    return message


# -- data and dates ----------------------------------------------------------------------------


def test_the_seed_is_deterministic() -> None:
    people = seeded_people(1)
    assert seeded_people.__wrapped__(1) == people
    assert seeded_people.__wrapped__(2) != people
    assert set(people) == {r.id_number for r in alliance_residents("310000", 1)}
    assert len(people) > 50
    person = people[A]
    assert payments(person, 1) == payments(person, 1)
    months = (person.until.year - person.since.year) * 12 + person.until.month - person.since.month
    paid = payments(person, 1)
    assert len(paid) == (months + 1) * len(INSURANCE_TYPES)
    assert [p.month for p in paid] == sorted((p.month for p in paid), reverse=True)
    for p in paid:
        rates = {code: (mine, theirs) for code, _, mine, theirs in INSURANCE_TYPES}
        mine, theirs = rates[p.insurance_type]
        assert (p.personal_fen, p.employer_fen) == (
            round(p.base_fen * mine),
            round(p.base_fen * theirs),
        )
        assert p.employer_name.startswith("上海")


async def test_the_same_seed_makes_the_same_ids() -> None:
    async def filing_ids(seed: int) -> list[str]:
        app = create_shanghai_app(seed=seed, clock=fixed_clock)
        who = min(seeded_people(seed))
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://s"
        ) as c:
            first = ok(
                await c.post(FILINGS, json=filing_body("a"), headers=credential(who, seed=seed)),
                201,
            )
            ok(
                await c.post(
                    f"{FILINGS}/{first['filing_id']}/revoke", headers=credential(who, seed=seed)
                )
            )
            second = ok(
                await c.post(FILINGS, json=filing_body("b"), headers=credential(who, seed=seed)),
                201,
            )
            account = ok(await c.get(ACCOUNT, headers=credential(who, seed=seed)))
        return [first["filing_id"], second["filing_id"], account["account_no"]]

    one = await filing_ids(1)
    assert one == await filing_ids(1)
    assert one != await filing_ids(2)
    assert one[0].startswith("SSBYD20231120")


@given(st.dates(min_value=date(1900, 1, 1), max_value=date(2199, 12, 31)))
def test_a_date_survives_epoch_milliseconds(day: date) -> None:
    ms = date_to_ms(day)
    assert ms_to_date(ms) == day
    assert is_local_midnight(ms)
    if day.year >= 1992:  # China kept summer time in 1940-1949 and 1986-1991 (Asia/Shanghai)
        assert ms % 86_400_000 == 16 * 3_600_000  # midnight there is 16:00 UTC the day before
    assert not is_local_midnight(ms + 1)
    assert not is_local_midnight(ms + 3_600_000)
    assert ms_to_date(ms + 86_399_999) == day


def test_a_known_date() -> None:
    assert date_to_ms(date(2023, 11, 20)) == 1_700_409_600_000
    assert ms_to_date(1_700_409_600_000) == date(2023, 11, 20)


# -- the token endpoint and credentials --------------------------------------------------------


async def test_the_token_endpoint_without_the_gateways_keys(client: httpx.AsyncClient) -> None:
    minted = ok(await client.post(TOKEN, json={"id_number": A}))
    assert minted["id_number"] == A
    assert minted["token_type"] == "X-SSB-Token"
    assert minted["expires_at"] == (int(NOW.timestamp()) + 600) * 1000
    headers = {"X-SSB-Token": minted["access_token"]}
    assert ok(await client.get(ACCOUNT, headers=headers))["id_number"] == A
    refused(await client.post(TOKEN, json={}), 400, "SSB-4001")
    refused(await client.post(TOKEN, json={"id_number": "430102199003071235"}), 400, "SSB-4001")
    refused(await client.post(TOKEN, content=b"[1]"), 400, "SSB-4000")


async def test_credentials_it_refuses(client: httpx.AsyncClient) -> None:
    good = credential(A)["X-SSB-Token"]
    provider, payload, mac = good.split(".")
    access_token, _ = TokenIssuer(fresh_keys(), issuer=ISSUER, audience="xyb").issue(
        subject="p:1",
        client_id="xyb-app",
        kind="person",
        roles=(),
        assurance=2,
        now=NOW.timestamp(),
    )
    cases = {
        "missing": (None, "SSB-4011"),
        "empty": ("", "SSB-4011"),
        "garbage": ("not-a-credential", "SSB-4012"),
        "altered payload": (f"{provider}.{payload[:-2]}AA.{mac}", "SSB-4012"),
        "altered mac": (f"{provider}.{payload}.{mac[:-2]}AA", "SSB-4012"),
        "expired": (credential(A, now=NOW.timestamp() - 3600)["X-SSB-Token"], "SSB-4013"),
        "another partner's": (
            mint_user_credential("440000", A, now=NOW.timestamp())[0],
            "SSB-4012",
        ),
        "another seed's": (credential(A, seed=2)["X-SSB-Token"], "SSB-4012"),
        "a 湘易办 access token": (access_token, "SSB-4012"),
        "a partner ID token": (
            issue_id_token("310000", seeded_people_resident(A), ISSUER, now=NOW.timestamp()),
            "SSB-4012",
        ),
    }
    for why, (token, code) in cases.items():
        headers = {} if token is None else {"X-SSB-Token": token}
        answer = await client.get(ACCOUNT, headers=headers)
        refused(answer, 401, code)
        assert answer.headers["WWW-Authenticate"] == "X-SSB-Token", why
    ok(await client.get(ACCOUNT, headers={"X-SSB-Token": good}))


def seeded_people_resident(id_number: str) -> Any:
    return next(r for r in alliance_residents("310000", 1) if r.id_number == id_number)


async def test_a_credential_touches_its_own_resident_only(client: httpx.AsyncClient) -> None:
    mine, theirs = credential(A), credential(B)
    refused(await client.get(PAYMENTS, params={"id_number": B}, headers=mine), 403, "SSB-4031")
    refused(await client.get(ACCOUNT, params={"id_number": B}, headers=mine), 403, "SSB-4031")
    refused(
        await client.post(FILINGS, json=filing_body(id_number=B), headers=mine), 403, "SSB-4031"
    )
    body = {"request_id": "t", "id_number": B, "target_division_code": "430100"}
    refused(await client.post(TRANSFERS, json=body, headers=mine), 403, "SSB-4031")
    assert ok(await client.get(PAYMENTS, params={"id_number": A}, headers=mine))["id_number"] == A
    filing = ok(await client.post(FILINGS, json=filing_body(), headers=theirs), 201)
    transfer = ok(
        await client.post(
            TRANSFERS, json={"request_id": "t", "target_division_code": "430100"}, headers=theirs
        ),
        201,
    )
    refused(await client.get(f"{FILINGS}/{filing['filing_id']}", headers=mine), 403, "SSB-4031")
    refused(
        await client.post(f"{FILINGS}/{filing['filing_id']}/revoke", headers=mine), 403, "SSB-4031"
    )
    refused(
        await client.get(f"{TRANSFERS}/{transfer['transfer_id']}", headers=mine), 403, "SSB-4031"
    )
    # Another resident's request_id is not found by a lookup, nor reused.
    listed = ok(await client.get(FILINGS, params={"request_id": "req-1"}, headers=mine))
    assert listed == {"total": 0, "filings": []}
    refused(await client.post(FILINGS, json=filing_body(), headers=mine), 409, "SSB-4091")


# -- the gateway's assertion -----------------------------------------------------------------


def _assertion(keys: KeyRing, **changes: Any) -> str:
    claims = {"audience": DEFAULT_AUDIENCE, "id_number": A, "now": NOW.timestamp()}
    return gateway_assertion(keys, **{**claims, **changes})


async def test_given_the_gateways_keys_the_token_endpoint_needs_its_assertion(
    gateway_keys: KeyRing,
) -> None:
    app = create_shanghai_app(
        clock=fixed_clock, gateway_jwks=gateway_keys.jwks(), assertion_issuer=ISSUER
    )
    other = fresh_keys()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://s") as c:

        async def with_header(token: str | None, body: object = None) -> httpx.Response:
            headers = {} if token is None else {"X-XYB-Assertion": token}
            return await c.post(TOKEN, json=body, headers=headers)

        minted = ok(await with_header(_assertion(gateway_keys)))
        assert minted["id_number"] == A
        own = {"X-SSB-Token": minted["access_token"]}
        assert ok(await c.get(ACCOUNT, headers=own))["id_number"] == A
        # The body's id_number is ignored unless it names somebody else.
        assert ok(await with_header(_assertion(gateway_keys), {"id_number": A}))["id_number"] == A
        refused(await with_header(_assertion(gateway_keys), {"id_number": B}), 403, "SSB-4031")
        bad = {
            "none": None,
            "garbage": "not-a-jwt",
            "another key": _assertion(other),
            "another audience": _assertion(gateway_keys, audience="440000/alliance"),
            "another issuer": _assertion(gateway_keys, issuer="https://elsewhere.example"),
            "expired": _assertion(gateway_keys, now=NOW.timestamp() - 3600),
            "no user": _assertion(gateway_keys, id_number=None),
        }
        for why, token in bad.items():
            answer = await with_header(token, {"id_number": A})
            assert answer.status_code == 401, why
            refused(answer, 401, "SSB-4014")


def test_checking_assertions_needs_the_issuer(gateway_keys: KeyRing) -> None:
    with pytest.raises(ValueError, match="issuer"):
        create_shanghai_app(gateway_jwks=gateway_keys.jwks())


# -- 医保异地备案 ------------------------------------------------------------------------------


async def test_filing_reading_finding_and_revoking(
    client: httpx.AsyncClient, partner: Starlette
) -> None:
    headers = credential(A)
    made = ok(await client.post(FILINGS, json=filing_body(), headers=headers), 201)
    assert made["id_number"] == A
    assert made["name"] == seeded_people(1)[A].name
    assert (made["status"], made["status_name"]) == ("VALID", "有效")
    assert (made["start_date"], made["filing_type_name"]) == (START, "异地长期居住")
    assert made["created_at"] == int(NOW.timestamp() * 1000)
    assert made["revoked_at"] is None
    # The same request again: the same filing, 200, and one held.
    again = ok(await client.post(FILINGS, json=filing_body(), headers=headers))
    assert again == made
    assert len(partner.state.shanghai.filings) == 1
    # The same request_id for another request: 409.
    other = filing_body(filing_type="REFERRAL")
    refused(await client.post(FILINGS, json=other, headers=headers), 409, "SSB-4091")
    # One valid filing at a time.
    message = refused(
        await client.post(FILINGS, json=filing_body("req-2"), headers=headers), 409, "SSB-4092"
    )
    assert made["filing_id"] in message
    read = ok(await client.get(f"{FILINGS}/{made['filing_id']}", headers=headers))
    assert read == made
    found = ok(await client.get(FILINGS, params={"request_id": "req-1"}, headers=headers))
    assert found == {"total": 1, "filings": [made]}
    assert (
        ok(await client.get(FILINGS, params={"request_id": "nope"}, headers=headers))["total"] == 0
    )
    revoked = ok(
        await client.post(
            f"{FILINGS}/{made['filing_id']}/revoke", json={"reason": "已返回"}, headers=headers
        )
    )
    assert (revoked["status"], revoked["status_name"], revoked["revoke_reason"]) == (
        "REVOKED",
        "已撤销",
        "已返回",
    )
    assert revoked["revoked_at"] == int(NOW.timestamp() * 1000)
    refused(
        await client.post(f"{FILINGS}/{made['filing_id']}/revoke", headers=headers), 409, "SSB-4093"
    )
    # Revoked, a new one can be filed; the list is newest first and filters by status.
    second = ok(await client.post(FILINGS, json=filing_body("req-2"), headers=headers), 201)
    assert second["filing_id"] != made["filing_id"]
    listed = ok(await client.get(FILINGS, headers=headers))
    assert {f["filing_id"] for f in listed["filings"]} == {made["filing_id"], second["filing_id"]}
    valid = ok(await client.get(FILINGS, params={"status": "VALID"}, headers=headers))
    assert [f["filing_id"] for f in valid["filings"]] == [second["filing_id"]]
    refused(await client.get(f"{FILINGS}/SSBYD2023112099999999", headers=headers), 404, "SSB-4041")
    refused(
        await client.post(f"{FILINGS}/SSBYD2023112099999999/revoke", headers=headers),
        404,
        "SSB-4041",
    )


async def test_anybody_signed_in_may_file(client: httpx.AsyncClient) -> None:
    made = ok(await client.post(FILINGS, json=filing_body(), headers=credential(NOBODY)), 201)
    assert (made["id_number"], made["name"]) == (NOBODY, None)


@pytest.mark.parametrize(
    "changes",
    [
        {"request_id": None},
        {"request_id": "has space"},
        {"request_id": "x" * 65},
        {"insurance_type": "职工"},
        {"filing_type": None},
        {"filing_type": "ELSEWHERE"},
        {"start_date": None},
        {"start_date": START + 1},
        {"start_date": "2023-12-01"},
        {"start_date": True},
        {"start_date": 10**15},
        {"end_date": START - 86_400_000},
        {"end_date": 1.5},
        {"contact_phone": "12345"},
        {"contact_phone": None},
        {"id_number": "430102199003071235"},
    ],
)
async def test_a_bad_filing_is_refused(
    client: httpx.AsyncClient, changes: dict[str, Any], partner: Starlette
) -> None:
    body = filing_body()
    for name, value in changes.items():
        if value is None:
            body.pop(name, None)
        else:
            body[name] = value
    refused(await client.post(FILINGS, json=body, headers=credential(A)), 400, "SSB-4001")
    assert partner.state.shanghai.filings == {}


async def test_what_is_not_a_request_has_an_http_status(client: httpx.AsyncClient) -> None:
    for content in (b"not json", b"[1, 2]", b""):
        answer = await client.post(FILINGS, content=content, headers=credential(A))
        refused(answer, 400, "SSB-4000")
    refused(await client.delete(FILINGS, headers=credential(A)), 405, "SSB-4050")
    refused(await client.get("/ssb/open/nowhere"), 404, "SSB-4040")
    for query in ({"page": "0"}, {"page_size": "201"}, {"page": "x"}):
        refused(await client.get(PAYMENTS, params=query, headers=credential(A)), 400, "SSB-4001")


# -- 社保缴费记录 ------------------------------------------------------------------------------


async def test_social_insurance_payments(client: httpx.AsyncClient) -> None:
    headers = credential(A)
    person = seeded_people(1)[A]
    everything = payments(person, 1)
    first = ok(await client.get(PAYMENTS, headers=headers))
    assert (first["id_number"], first["name"], first["total"]) == (A, person.name, len(everything))
    assert (first["page"], first["page_size"]) == (1, 50)
    assert first["records"] == [p.as_json() for p in everything[:50]]
    assert all(is_local_midnight(r["pay_month"]) for r in first["records"])
    assert ms_to_date(first["records"][0]["pay_month"]) == person.until
    second = ok(await client.get(PAYMENTS, params={"page": "2", "page_size": "6"}, headers=headers))
    assert second["records"] == [p.as_json() for p in everything[6:12]]
    medical = ok(
        await client.get(
            PAYMENTS, params={"insurance_type": "MEDICAL", "page_size": "200"}, headers=headers
        )
    )
    assert {r["insurance_type"] for r in medical["records"]} == {"MEDICAL"}
    assert medical["total"] == len(everything) // 3
    month = person.since.replace(day=1)
    mid_month = date_to_ms(month + timedelta(days=10))
    one_month = ok(
        await client.get(
            PAYMENTS, params={"start_month": mid_month, "end_month": mid_month}, headers=headers
        )
    )
    assert one_month["total"] == 3
    assert {ms_to_date(r["pay_month"]) for r in one_month["records"]} == {month}
    later = str(date_to_ms(person.until))
    earlier = str(date_to_ms(person.since))
    refused(
        await client.get(
            PAYMENTS, params={"start_month": later, "end_month": earlier}, headers=headers
        ),
        400,
        "SSB-4001",
    )
    refused(
        await client.get(PAYMENTS, params={"insurance_type": "X"}, headers=headers), 400, "SSB-4001"
    )
    refused(
        await client.get(PAYMENTS, params={"start_month": "123"}, headers=headers), 400, "SSB-4001"
    )
    nobody = ok(await client.get(PAYMENTS, headers=credential(NOBODY)))
    assert (nobody["total"], nobody["records"]) == (0, [])


# -- 公积金 ------------------------------------------------------------------------------------


async def test_a_fund_account_and_its_transfer(
    client: httpx.AsyncClient, partner: Starlette
) -> None:
    headers = credential(A)
    account = ok(await client.get(ACCOUNT, headers=headers))
    assert (account["status"], account["status_name"]) == ("SEALED", "封存")  # left Shanghai
    assert account["balance_fen"] > 0
    assert account["transferring_fen"] == 0
    assert account["opened_date"] == date_to_ms(seeded_people(1)[A].since)
    assert len(account["account_no"]) == 12
    body = {"request_id": "move-1", "target_division_code": "430300"}
    made = ok(await client.post(TRANSFERS, json=body, headers=headers), 201)
    assert made["amount_fen"] == account["balance_fen"]
    assert (made["status"], made["target_center_name"]) == (
        "PROCESSING",
        "湘潭市住房公积金管理中心",
    )
    assert made["account_no"] == account["account_no"]
    moved = ok(await client.get(ACCOUNT, headers=headers))
    assert (moved["status"], moved["balance_fen"]) == ("TRANSFERRING", 0)
    assert moved["transferring_fen"] == account["balance_fen"]
    assert ok(await client.post(TRANSFERS, json=body, headers=headers)) == made
    assert len(partner.state.shanghai.transfers) == 1
    refused(
        await client.post(
            TRANSFERS, json={**body, "target_division_code": "430100"}, headers=headers
        ),
        409,
        "SSB-4091",
    )
    refused(
        await client.post(TRANSFERS, json={**body, "request_id": "move-2"}, headers=headers),
        409,
        "SSB-4094",
    )
    assert ok(await client.get(f"{TRANSFERS}/{made['transfer_id']}", headers=headers)) == made
    found = ok(await client.get(TRANSFERS, params={"request_id": "move-1"}, headers=headers))
    assert found == {"total": 1, "transfers": [made]}
    refused(
        await client.get(f"{TRANSFERS}/SSBGJ2023112099999999", headers=headers), 404, "SSB-4043"
    )
    for target in (None, "440100", "43010", "439900"):
        bad = {"request_id": "move-3", "target_division_code": target}
        refused(await client.post(TRANSFERS, json=bad, headers=headers), 400, "SSB-4001")
    refused(await client.get(ACCOUNT, headers=credential(NOBODY)), 404, "SSB-4042")
    nobodys = {**body, "request_id": "move-9"}
    refused(await client.post(TRANSFERS, json=nobodys, headers=credential(NOBODY)), 404, "SSB-4042")


# -- commit, then hang -------------------------------------------------------------------------


async def test_a_filing_committed_then_hung_is_found_and_never_doubled(
    client: httpx.AsyncClient, partner: Starlette
) -> None:
    headers = credential(A)
    state = await client.post(
        "/_sim/provider-state", json={"state": "the next write commits then hangs"}
    )
    assert state.json()["params"] == {"times": 1}
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(client.post(FILINGS, json=filing_body(), headers=headers), 0.3)
    held = partner.state.shanghai.filings
    assert len(held) == 1  # applied, though never answered
    found = ok(await client.get(FILINGS, params={"request_id": "req-1"}, headers=headers))
    assert found["total"] == 1
    retried = ok(await client.post(FILINGS, json=filing_body(), headers=headers))  # answered now
    assert retried == found["filings"][0]
    assert len(held) == 1
    # The control endpoint: a revoke and a transfer commit, then hang, too.
    assert (await client.post("/_sim/commit-then-hang", json={"times": 2})).json() == {"times": 2}
    revoke = client.post(f"{FILINGS}/{retried['filing_id']}/revoke", headers=headers)
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(revoke, 0.3)
    assert ok(await client.get(f"{FILINGS}/{retried['filing_id']}", headers=headers))["status"] == (
        "REVOKED"
    )
    move = {"request_id": "move-1", "target_division_code": "430100"}
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(client.post(TRANSFERS, json=move, headers=headers), 0.3)
    assert (
        ok(await client.get(TRANSFERS, params={"request_id": "move-1"}, headers=headers))["total"]
        == 1
    )
    assert ok(await client.get(ACCOUNT, headers=headers))["status"] == "TRANSFERRING"
    # Spent: the next write answers.
    ok(await client.post(FILINGS, json=filing_body("req-2"), headers=headers), 201)
    refused(await client.post("/_sim/commit-then-hang", json={"times": -1}), 400, "SSB-4000")


async def test_commit_then_hang_on_a_socket() -> None:
    """On a real socket the client's timeout ends the held answer; the filing stays."""
    async with (
        ShanghaiServer(clock=fixed_clock) as partner,
        httpx.AsyncClient(base_url=partner.url, timeout=0.5) as c,
    ):
        assert partner.url.startswith("http://127.0.0.1:")
        await c.post("/_sim/commit-then-hang", json={})
        with pytest.raises(httpx.ReadTimeout):
            await c.post(FILINGS, json=filing_body(), headers=credential(A))
        found = ok(await c.get(FILINGS, params={"request_id": "req-1"}, headers=credential(A)))
        assert found["total"] == 1


# -- faults, document, provider states ---------------------------------------------------------


async def test_faults_are_injected_in_the_partners_envelope() -> None:
    faults = Faults(error_rate=1.0, error_status=503)
    app = create_shanghai_app(faults=faults, clock=fixed_clock)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://s") as c:
        refused(await c.get(ACCOUNT, headers=credential(A)), 503, "SSB-5030")
        faults.update(error_rate=0.0, malformed="json")
        broken = await c.get(ACCOUNT, headers=credential(A))
        assert broken.status_code == 200
        with pytest.raises(ValueError, match=r"Expecting|Unterminated|Extra"):
            broken.json()
        faults.clear()
        ok(await c.get(ACCOUNT, headers=credential(A)))
        assert (await c.post("/_sim/reset")).status_code == 204  # never faulted nor counted
    assert app.state.received[("GET", ACCOUNT)] == 3


async def test_its_document_is_served(client: httpx.AsyncClient) -> None:
    assert (await client.get("/openapi.yaml")).text == openapi_document()
    document = (await client.get("/openapi.json")).json()
    assert document == yaml.safe_load(openapi_document())
    assert set(document["paths"]) == {
        TOKEN,
        FILINGS,
        f"{FILINGS}/{{filing_id}}",
        f"{FILINGS}/{{filing_id}}/revoke",
        PAYMENTS,
        ACCOUNT,
        TRANSFERS,
        f"{TRANSFERS}/{{transfer_id}}",
    }


async def test_provider_states(client: httpx.AsyncClient) -> None:
    async def given(state: str, **params: Any) -> dict[str, Any]:
        answer = await client.post("/_sim/provider-state", json={"state": state, "params": params})
        assert answer.status_code == 200, answer.text
        result: dict[str, Any] = answer.json()["params"]
        return result

    fixed = {"X-SSB-Token": TEST_TOKEN}
    history = await given("a resident with a history in Shanghai", id_number=NOBODY, name="王五")
    assert (history["token"], history["signed_in"]) == (TEST_TOKEN, NOBODY)
    account = ok(await client.get(ACCOUNT, headers=fixed))
    assert (account["name"], account["status"]) == ("王五", history["account_status"])
    assert ok(await client.get(PAYMENTS, headers=fixed))["total"] > 0
    await given("a resident with a history in Shanghai", id_number=NOBODY, account_status="CLOSED")
    assert ok(await client.get(ACCOUNT, headers=fixed))["status"] == "CLOSED"
    filing = await given("a filing exists", id_number=A, status="REVOKED", token="other-token")
    shown = ok(
        await client.get(f"{FILINGS}/{filing['filing_id']}", headers={"X-SSB-Token": "other-token"})
    )
    assert shown["status"] == "REVOKED"
    refused(await client.get(f"{FILINGS}/{filing['filing_id']}", headers=fixed), 403, "SSB-4031")
    await given("no filing with this id", id_number=A, filing_id=filing["filing_id"])
    refused(
        await client.get(
            f"{FILINGS}/{filing['filing_id']}", headers={"X-SSB-Token": "other-token"}
        ),
        404,
        "SSB-4041",
    )
    transfer = await given("a transfer exists", id_number=B, transfer_id="SSBGJ2023112000000001")
    assert (
        ok(await client.get(f"{TRANSFERS}/SSBGJ2023112000000001", headers=fixed))["id_number"] == B
    )
    assert transfer["signed_in"] == B
    unknown = await client.post("/_sim/provider-state", json={"state": "nonsense"})
    assert unknown.status_code == 400
    assert "a filing exists" in unknown.json()["known_states"]
    bad = await client.post(
        "/_sim/provider-state", json={"state": "a resident signed in", "params": {"id_number": "1"}}
    )
    assert bad.status_code == 400
    assert (await client.post("/_sim/reset")).status_code == 204
    refused(await client.get(ACCOUNT, headers=fixed), 401, "SSB-4012")  # uninstalled by the reset


async def test_without_provider_states_there_is_no_sim() -> None:
    app = create_shanghai_app(provider_states=False, clock=fixed_clock)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://s") as c:
        assert (await c.post("/_sim/reset")).status_code == 404


# -- registration and contract -----------------------------------------------------------------


def test_it_is_registered_as_a_simulated_provider() -> None:
    provider = simulator_for("alliance", "shanghai")
    assert provider.document() == openapi_document()
    assert provider.demo_url == f"http://127.0.0.1:{DEMO_PORT}" == "http://127.0.0.1:9018"
    assert provider.division == "310000"


def test_the_contract_anchors_the_simulators_document() -> None:
    assert_document_anchored(CONTRACT, openapi_document())


def test_the_contract_passes_against_the_simulator() -> None:
    """The done criterion, as a user types it."""
    started = time.monotonic()
    assert_contract_passes(CONTRACT, "27 passed, 0 failed, 0 skipped")
    assert time.monotonic() - started < 60


async def test_a_contract_the_partner_does_not_keep_fails(tmp_path: Path) -> None:
    """Replay really asks the simulator: an expectation it does not meet fails, by name."""
    text = CONTRACT.read_text(encoding="utf-8")
    broken_text = text.replace("error_code: SSB-4093", "error_code: SSB-4092", 1)
    assert broken_text != text
    (tmp_path / "shanghai.openapi.yaml").write_text(openapi_document(), encoding="utf-8")
    broken = tmp_path / "shanghai.contract.yaml"
    broken.write_text(broken_text, encoding="utf-8")
    report = await verify([broken], target="simulator")
    failed = {r.interaction: r for r in report.results if r.outcome == "fail"}
    assert set(failed) == {"revoke-a-revoked-filing"}
    assert any(m.path == "$.error_code" for m in failed["revoke-a-revoked-filing"].mismatches)
