"""The cross-province alliance through the gateway: the canonical alliance API onboarded at
440000, 310000 and 360000 with the ``alliance`` connector over the three partner simulators,
which check the gateway's signed assertion with its published keys, on a real database.

One gateway and one onboarding serve the module; every test makes the filings it needs with
keys of its own. The partners are ASGI apps behind the gateway's transport factory.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from starlette.applications import Starlette

from app.connectors.alliance import SLUG, canonical_document
from app.core.config import Settings
from app.demo_alliance import OPERATIONS
from app.main import create_app
from app.simulators.alliance.common import alliance_residents, partner, partner_jwks
from app.simulators.alliance.guangdong import create_guangdong_app
from app.simulators.alliance.jiangxi import create_jiangxi_app
from app.simulators.alliance.shanghai import create_shanghai_app
from tests.conftest import ADMIN_TOKEN
from tests.connectors.gateway_support import migrated_settings, verify_at_counter
from tests.databases import create_database, drop_database
from tests.identity.api_support import (
    Json,
    bearer,
    create_client,
    grant,
    is_problem,
    login,
    phone_number,
    register,
)

CODES = ("440000", "310000", "360000")
URLS = {
    code: f"http://127.0.0.1:{port}" for code, port in zip(CODES, (9017, 9018, 9019), strict=True)
}
STATE = {"440000": "guangdong", "310000": "shanghai", "360000": "jiangxi"}
HISTORY = {
    "440000": ("a signed-in resident insured in Guangdong", "idNumber"),
    "310000": ("a resident with a history in Shanghai", "id_number"),
    "360000": ("a resident with a history in Jiangxi", "ZJHM"),
}
HANG = {
    "440000": {"writes": 1},
    "310000": {"times": 1},
    "360000": {},
}
# Long enough for a busy machine, short enough for the three hang tests.
TIMEOUT_S = 6.0


def gw(code: str, path: str) -> str:
    return f"/gw/{code}/{SLUG}{path}"


def filing_body(**changes: Any) -> Json:
    return {
        "insurance": "employee",
        "kind": "long-term-residence",
        "destination": "430102",
        "startDate": date.today().isoformat(),
        "phone": "13800138000",
        **changes,
    }


def transfer_body(**changes: Any) -> Json:
    return {"toCentre": "430100", "phone": "13800138000", **changes}


@dataclass
class Resident:
    id: int
    name: str
    id_number: str
    token: str

    def headers(self, key: str | None = None) -> dict[str, str]:
        headers = bearer(self.token)
        if key is not None:
            headers["Idempotency-Key"] = key
        return headers


@dataclass
class Env:
    app: FastAPI
    client: httpx.AsyncClient
    partners: dict[str, Starlette]
    settings: Settings
    database_url: str
    admin: dict[str, str]
    app_client: Json
    seen: list[tuple[str, dict[str, str]]]  # (partner, headers) of every call that reached one
    resident: Resident = field(init=False)
    other: Resident = field(init=False)

    async def sim(self, code: str, path: str, body: Json) -> Json:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.partners[code]), base_url=URLS[code]
        ) as direct:
            answer = await direct.post(path, json=body)
        assert answer.is_success, answer.text
        result: Json = answer.json()
        return result

    async def history(self, id_number: str, name: str) -> None:
        """``id_number`` once worked in all three provinces."""
        for code in CODES:
            state, param = HISTORY[code]
            await self.sim(
                code, "/_sim/provider-state", {"state": state, "params": {param: id_number}}
            )

    async def verified_resident(self, id_number: str, name: str) -> Resident:
        person = await register(self.client, id_number=id_number, name=name, phone=phone_number())
        await verify_at_counter(self.settings, id_number, name)
        issued = await login(self.client, self.app_client, person["raw"]["phone"])
        return Resident(person["id"], name, id_number, issued["access_token"])

    def held(self, code: str, id_number: str) -> int:
        """How many filings the partner holds for ``id_number``."""
        state = getattr(self.partners[code].state, STATE[code])
        return sum(1 for f in state.filings.values() if f.id_number == id_number)


@pytest.fixture(scope="module")
async def env(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Env]:
    tmp = tmp_path_factory.mktemp("alliance-gateway")
    url = await create_database(tmp)
    settings = await migrated_settings(tmp, url)
    published: dict[str, Any] = {"keys": []}
    makers = {
        "440000": create_guangdong_app,
        "310000": create_shanghai_app,
        "360000": create_jiangxi_app,
    }
    partners = {
        code: make(gateway_jwks=lambda: published, assertion_issuer=settings.resolved_issuer)
        for code, make in makers.items()
    }

    seen: list[tuple[str, dict[str, str]]] = []

    def recorded(code: str) -> Any:
        async def app(scope: Any, receive: Any, send: Any) -> None:
            if scope["type"] == "http":
                headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
                seen.append((code, headers))
            await partners[code](scope, receive, send)

        return app

    def factory(base_url: str, max_connections: int) -> httpx.AsyncBaseTransport:
        for code, partner_url in URLS.items():
            if base_url.startswith(partner_url):
                return httpx.ASGITransport(app=recorded(code))
        raise AssertionError(f"no upstream {base_url} in this test")

    app = create_app(settings, transport_factory=factory)
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    try:
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://testserver"
            ) as client,
        ):
            published.update((await client.get("/.well-known/jwks.json")).json())
            app_client = await create_client(client, admin, name="湘易办")
            for code in CODES:
                onboarded = await client.post(
                    "/admin/services",
                    json={
                        "division": code,
                        "slug": SLUG,
                        "name": f"{partner(code).app} 跨省通办",
                        "upstream_url": URLS[code],
                        "document": canonical_document(),
                        "connector": "alliance",
                        "data_classification": "personal",
                        "timeout_s": TIMEOUT_S,
                    },
                    headers=admin,
                )
                assert onboarded.status_code == 201, onboarded.text
                await grant(client, admin, app_client["client_id"], code, SLUG, OPERATIONS)
            env = Env(app, client, partners, settings, url, admin, app_client, seen)
            # A Guangdong resident of the seed, given a history in the other two provinces.
            first, second = alliance_residents("440000")[:2]
            await env.history(first.id_number, first.name)
            env.resident = await env.verified_resident(first.id_number, first.name)
            await env.history(second.id_number, second.name)
            env.other = await env.verified_resident(second.id_number, second.name)
            yield env
    finally:
        await drop_database(url)


def problem_type(response: httpx.Response, status: int, name: str) -> Json:
    body = is_problem(response, status)
    assert body["type"].endswith("/" + name), body
    return body


def key() -> str:
    return "test-" + secrets.token_hex(8)


# -- every operation at every partner ----------------------------------------------------------


@pytest.mark.parametrize("code", CODES)
async def test_a_filing_is_made_read_and_cancelled_at_every_partner(env: Env, code: str) -> None:
    me = env.resident
    made = await env.client.post(
        gw(code, "/medical-filings"), json=filing_body(), headers=me.headers(key())
    )
    assert made.status_code == 201, made.text
    filing = made.json()
    assert filing["partner"] == code
    assert filing["status"] == "active"
    assert filing["kind"] == "long-term-residence"
    assert filing["insurance"] == "employee"
    assert filing["startDate"] == date.today().isoformat()
    assert made.headers["location"] == gw(code, f"/medical-filings/{filing['id']}")
    read = await env.client.get(gw(code, f"/medical-filings/{filing['id']}"), headers=me.headers())
    assert read.status_code == 200, read.text
    assert read.json() == filing
    cancelled = await env.client.post(
        gw(code, f"/medical-filings/{filing['id']}/cancellation"),
        json={"reason": "不再需要"},
        headers=me.headers(),
    )
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled"
    assert cancelled.json()["cancelledAt"] is not None
    again = await env.client.post(
        gw(code, f"/medical-filings/{filing['id']}/cancellation"), headers=me.headers()
    )
    refused = problem_type(again, 409, "alliance-conflict")
    # A retried cancel can tell that the first took effect.
    assert refused["filing"]["status"] == "cancelled"
    assert refused["filing"]["id"] == filing["id"]
    # The partner's own words are kept beside the gateway's.
    assert refused["partner"] == code
    assert refused["partnerCode"]
    assert refused["partnerMessage"]


@pytest.mark.parametrize("code", CODES)
async def test_records_account_and_a_transfer_at_every_partner(env: Env, code: str) -> None:
    me = env.other
    records = await env.client.get(gw(code, "/social-insurance/records"), headers=me.headers())
    assert records.status_code == 200, records.text
    body = records.json()
    assert body["partner"] == code
    assert body["records"]
    assert body["total"] == len(body["records"])
    month = body["records"][0]["month"]
    narrowed = await env.client.get(
        gw(code, "/social-insurance/records"),
        params={"fromMonth": month, "toMonth": month},
        headers=me.headers(),
    )
    assert narrowed.status_code == 200, narrowed.text
    assert {r["month"] for r in narrowed.json()["records"]} == {month}
    account = await env.client.get(gw(code, "/provident-fund/account"), headers=me.headers())
    assert account.status_code == 200, account.text
    assert account.json()["partner"] == code
    balance = account.json()["balance"]
    moved = await env.client.post(
        gw(code, "/provident-fund/transfers"), json=transfer_body(), headers=me.headers(key())
    )
    assert moved.status_code == 201, moved.text
    transfer = moved.json()
    assert transfer["toCentre"] == "430100"
    assert transfer["amount"] == balance
    read = await env.client.get(
        gw(code, f"/provident-fund/transfers/{transfer['id']}"), headers=me.headers()
    )
    assert read.status_code == 200
    assert read.json() == transfer
    after = await env.client.get(gw(code, "/provident-fund/account"), headers=me.headers())
    assert after.json()["status"] == "transferring"
    second = await env.client.post(
        gw(code, "/provident-fund/transfers"), json=transfer_body(), headers=me.headers(key())
    )
    problem_type(second, 409, "alliance-conflict")


# -- idempotency ----------------------------------------------------------------------------


@pytest.mark.parametrize("code", CODES)
async def test_the_same_key_files_once_and_another_body_is_a_conflict(env: Env, code: str) -> None:
    me, same = env.resident, key()
    url = gw(code, "/medical-filings")
    first = await env.client.post(url, json=filing_body(), headers=me.headers(same))
    assert first.status_code == 201, first.text
    held = env.held(code, me.id_number)
    again = await env.client.post(url, json=filing_body(), headers=me.headers(same))
    assert again.status_code == 201
    assert again.json() == first.json()
    assert env.held(code, me.id_number) == held
    other = await env.client.post(
        url, json=filing_body(phone="13900139000"), headers=me.headers(same)
    )
    problem_type(other, 409, "alliance-conflict")
    without = await env.client.post(url, json=filing_body(), headers=me.headers())
    assert without.status_code in (400, 422), without.text
    await env.client.post(
        gw(code, f"/medical-filings/{first.json()['id']}/cancellation"), headers=me.headers()
    )


@pytest.mark.parametrize("code", CODES)
async def test_a_partner_that_commits_then_hangs_holds_one_filing(env: Env, code: str) -> None:
    """The caller gets 504; its retry with the same key answers that one filing, found at the
    partner by its reference."""
    me, same = env.other, key()
    url = gw(code, "/medical-filings")
    held = env.held(code, me.id_number)
    await env.sim(
        code,
        "/_sim/provider-state",
        {"state": "the next write commits then hangs", "params": HANG[code]},
    )
    lost = await env.client.post(url, json=filing_body(), headers=me.headers(same))
    problem_type(lost, 504, "upstream-timeout")
    assert env.held(code, me.id_number) == held + 1  # the partner committed it
    retried = await env.client.post(url, json=filing_body(), headers=me.headers(same))
    assert retried.status_code == 201, retried.text
    assert env.held(code, me.id_number) == held + 1
    listed = await env.client.get(
        gw(code, f"/medical-filings/{retried.json()['id']}"), headers=me.headers()
    )
    assert listed.status_code == 200
    await env.client.post(
        gw(code, f"/medical-filings/{retried.json()['id']}/cancellation"), headers=me.headers()
    )


@pytest.mark.parametrize(
    "changes",
    [{"phone": "13900139000"}, {"remark": "另一个请求"}, {"endDate": "2099-01-01"}],
)
async def test_a_retry_after_a_lost_answer_with_another_body_is_a_conflict(
    env: Env, changes: Json
) -> None:
    """Compared on every field the partner keeps (粤省事 keeps them all)."""
    code, me, same = "440000", env.other, key()
    url = gw(code, "/medical-filings")
    await env.sim(
        code,
        "/_sim/provider-state",
        {"state": "the next write commits then hangs", "params": HANG[code]},
    )
    lost = await env.client.post(url, json=filing_body(), headers=me.headers(same))
    problem_type(lost, 504, "upstream-timeout")
    other = await env.client.post(url, json=filing_body(**changes), headers=me.headers(same))
    problem_type(other, 409, "alliance-conflict")
    retried = await env.client.post(url, json=filing_body(), headers=me.headers(same))
    assert retried.status_code == 201, retried.text
    await env.client.post(
        gw(code, f"/medical-filings/{retried.json()['id']}/cancellation"), headers=me.headers()
    )


@pytest.mark.parametrize(
    ("path", "query", "body", "pointer"),
    [
        ("/social-insurance/records", {"toMonth": "0000-02"}, None, "/query/toMonth"),
        ("/social-insurance/records", {"fromMonth": "0001-01"}, None, "/query/fromMonth"),
        ("/medical-filings", None, filing_body(startDate="0001-01-01"), "/body/startDate"),
        ("/medical-filings", None, filing_body(startDate="9999-12-31"), "/body/startDate"),
        ("/medical-filings", None, filing_body(destination="430880"), "/body/destination"),
        ("/medical-filings", None, filing_body(remark="a\x00b"), "/body/remark"),
        ("/medical-filings", None, filing_body(remark="a\u202eb"), "/body/remark"),
    ],
)
async def test_what_would_make_a_partner_fail_is_refused_before_it_is_called(
    env: Env, path: str, query: dict[str, str] | None, body: Json | None, pointer: str
) -> None:
    """A caller's odd date or text never reaches a partner (whose failure would count against
    its breaker for every resident): 422 naming the field, for each partner."""
    for code in CODES:
        before = sum(env.partners[code].state.received.values())
        if body is None:
            answer = await env.client.get(gw(code, path), params=query, headers=env.other.headers())
        else:
            answer = await env.client.post(
                gw(code, path), json=body, headers=env.other.headers(key())
            )
        refused = is_problem(answer, 422)
        assert any(e["pointer"].startswith(pointer) for e in refused["errors"]), refused
        assert sum(env.partners[code].state.received.values()) == before


# -- who may call ---------------------------------------------------------------------------


async def test_another_residents_filing_is_not_found(env: Env) -> None:
    code = "440000"
    made = await env.client.post(
        gw(code, "/medical-filings"), json=filing_body(), headers=env.resident.headers(key())
    )
    assert made.status_code == 201, made.text
    filing_id = made.json()["id"]
    theirs = await env.client.get(
        gw(code, f"/medical-filings/{filing_id}"), headers=env.other.headers()
    )
    body = problem_type(theirs, 404, "alliance-not-found")
    # Nothing tells another person's filing from one that does not exist (the partners' codes
    # do: 4003 and 2001).
    absent = await env.client.get(
        gw(code, "/medical-filings/YDBA19990101999999"), headers=env.other.headers()
    )
    unknown = problem_type(absent, 404, "alliance-not-found")
    assert {k: v for k, v in body.items() if k != "instance"} == {
        k: v for k, v in unknown.items() if k != "instance"
    }
    assert "partnerCode" not in body
    cancel = await env.client.post(
        gw(code, f"/medical-filings/{filing_id}/cancellation"), headers=env.other.headers()
    )
    problem_type(cancel, 404, "alliance-not-found")
    mine = await env.client.post(
        gw(code, f"/medical-filings/{filing_id}/cancellation"), headers=env.resident.headers()
    )
    assert mine.status_code == 200


async def test_another_residents_transfer_is_not_found(env: Env) -> None:
    for code in CODES:
        made = await env.client.post(
            gw(code, "/provident-fund/transfers"),
            json=transfer_body(),
            headers=env.resident.headers(key()),
        )
        assert made.status_code == 201, made.text
        theirs = await env.client.get(
            gw(code, f"/provident-fund/transfers/{made.json()['id']}"),
            headers=env.other.headers(),
        )
        absent = await env.client.get(
            gw(code, f"/provident-fund/transfers/{made.json()['id']}9"),
            headers=env.other.headers(),
        )
        one = problem_type(theirs, 404, "alliance-not-found")
        other = problem_type(absent, 404, "alliance-not-found")
        del one["instance"], other["instance"]
        assert one == other


async def test_only_a_verified_residents_own_token_is_served(env: Env) -> None:
    issued = await env.client.post(
        "/identity/token",
        data={"grant_type": "client_credentials"},
        auth=(env.app_client["client_id"], env.app_client["client_secret"]),
    )
    app_token = bearer(issued.json()["access_token"])
    answer = await env.client.get(gw("440000", "/provident-fund/account"), headers=app_token)
    problem_type(answer, 403, "alliance-resident-required")
    # Registered with a number checked only for its form: not enough to act on it elsewhere.
    fresh = await register(env.client, phone=phone_number())
    token = await login(env.client, env.app_client, fresh["raw"]["phone"])
    low = await env.client.get(
        gw("440000", "/provident-fund/account"), headers=bearer(token["access_token"])
    )
    body = problem_type(low, 403, "alliance-assurance-too-low")
    assert body["step_up"] is True


async def test_a_resident_without_a_history_there_gets_the_partners_not_found(env: Env) -> None:
    """A resident of the seed with no history in Jiangxi (nor made one by a test)."""
    known = {r.id_number for r in alliance_residents("360000")}
    stranger = next(r for r in alliance_residents("310000") if r.id_number not in known)
    who = await env.verified_resident(stranger.id_number, stranger.name)
    answer = await env.client.get(gw("360000", "/provident-fund/account"), headers=who.headers())
    body = problem_type(answer, 404, "alliance-not-found")
    assert body["partner"] == "360000"
    assert body["partnerCode"]


async def test_the_gateway_never_forwards_its_own_token(env: Env) -> None:
    """What reached each partner: the gateway's assertion at its token endpoint, then the
    partner's own credential, never the 湘易办 access token (which the simulators refuse, see
    tests/simulators)."""
    env.seen.clear()
    for code in CODES:
        answer = await env.client.get(
            gw(code, "/provident-fund/account"), headers=env.resident.headers()
        )
        assert answer.status_code == 200, answer.text
    assert {code for code, _ in env.seen} == set(CODES)
    for code, headers in env.seen:
        values = " ".join(headers.values())
        assert env.resident.token not in values, code
        assert "cookie" not in headers


async def test_the_partners_refuse_a_body_the_gateway_does_not_check(env: Env) -> None:
    """An end date before the start is the partner's to refuse: 422 with its words."""
    start = date.today()
    body = filing_body(
        kind="temporary-treatment",
        startDate=start.isoformat(),
        endDate=(start - timedelta(days=3)).isoformat(),
    )
    for code in CODES:
        answer = await env.client.post(
            gw(code, "/medical-filings"), json=body, headers=env.resident.headers(key())
        )
        refused = problem_type(answer, 422, "alliance-refused")
        assert refused["partnerCode"], refused


async def test_a_hostile_xml_answer_is_refused_not_parsed(env: Env) -> None:
    for mode in ("xxe", "billion-laughs"):
        await env.sim("360000", "/_sim/hostile-answer", {"mode": mode})
        try:
            answer = await env.client.get(
                gw("360000", "/provident-fund/account"), headers=env.resident.headers()
            )
        finally:
            await env.sim("360000", "/_sim/hostile-answer", {"mode": None})
        problem_type(answer, 502, "upstream-bad-response")
        assert "passwd" not in answer.text
        assert "lol" not in answer.text


# -- single sign-on, inbound ------------------------------------------------------------------


@pytest.mark.parametrize("code", CODES)
async def test_a_partner_apps_resident_opens_xiangyiban_without_signing_in(
    env: Env, code: str
) -> None:
    """The partner's ID token, signed with the partner simulator's real key, exchanged once."""
    created = await create_client(
        env.client,
        env.admin,
        name=f"{partner(code).app} app",
        kind="partner",
        partner={"province": code, "issuer": partner(code).issuer, "jwks": partner_jwks(code)},
    )
    await grant(env.client, env.admin, created["client_id"], code, SLUG, OPERATIONS)
    signed_in = await env.sim(
        code,
        "/_sim/sign-in",
        {"idNumber": env.resident.id_number, "audience": env.settings.resolved_issuer},
    )
    exchange = {
        "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
        "subject_token": signed_in["id_token"],
        "subject_token_type": "urn:ietf:params:oauth:token-type:id_token",
    }
    auth = (created["client_id"], created["client_secret"])
    issued = await env.client.post("/identity/token", data=exchange, auth=auth)
    assert issued.status_code == 200, issued.text
    token = bearer(issued.json()["access_token"])
    served = await env.client.get(gw(code, "/social-insurance/records"), headers=token)
    assert served.status_code == 200, served.text
    replayed = await env.client.post("/identity/token", data=exchange, auth=auth)
    assert replayed.status_code == 400
    assert replayed.json()["error"] == "invalid_grant"
    # Another partner's token is not this partner's to exchange.
    other = next(c for c in CODES if c != code)
    foreign = await env.sim(
        other,
        "/_sim/sign-in",
        {"idNumber": env.resident.id_number, "audience": env.settings.resolved_issuer},
    )
    refused = await env.client.post(
        "/identity/token", data={**exchange, "subject_token": foreign["id_token"]}, auth=auth
    )
    assert refused.status_code == 400, refused.text


# -- isolation --------------------------------------------------------------------------------


async def test_one_partner_down_does_not_slow_the_others(env: Env) -> None:
    """粤省事 hangs under a burst of calls; 随申办's and 赣服通's are all answered while the
    hung ones still wait for their timeout."""
    hung = env.partners["440000"].state.faults
    hung.update(hang=True)
    try:
        stuck = [
            asyncio.create_task(env.client.get(gw("440000", "/provident-fund/account"), headers=h))
            for h in [env.other.headers()] * 20
        ]
        await asyncio.sleep(0)
        healthy = [
            env.client.get(gw(code, "/social-insurance/records"), headers=env.other.headers())
            for code in ("310000", "360000")
            for _ in range(15)
        ]
        answers = await asyncio.gather(*healthy)
        assert [a.status_code for a in answers] == [200] * len(answers)
        assert not all(task.done() for task in stuck)
        stuck_answers = await asyncio.gather(*stuck)
    finally:
        hung.clear()
    assert {a.status_code for a in stuck_answers} <= {503, 504}, [
        a.text for a in stuck_answers if a.status_code not in (503, 504)
    ]


async def test_the_canonical_document_is_one_per_partner_in_the_merged_document(
    env: Env,
) -> None:
    merged = (await env.client.get("/gw/openapi.json")).json()
    for code in CODES:
        assert gw(code, "/medical-filings") in merged["paths"]
    body = json.dumps(merged, ensure_ascii=False)
    assert "idNumber" not in body  # no partner's protocol shows through
