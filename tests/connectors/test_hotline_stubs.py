"""The 12345 hotline through the gateway over a stub built from its contract.

``contracts/hotline/hotline.contract.yaml`` says, interaction by interaction, what the gateway's
hotline connector sends the 12345 ticket system and what the system answers; CI replays it
against the hotline simulator (tests/simulators/test_hotline.py). Here it is the system: the
canonical hotline API is onboarded at 430000/hotline with the ``hotline`` connector, and every
call the connector makes must be one an interaction sends (method, path, the headers it names
and its JSON body, compared by ``tests/contract_stubs.choose_interaction``, for every call, a
lone interaction on its path included), answered by that interaction's example. A call that
matches none is answered 599 and fails the test with the explanation of each candidate.

Four adaptations, each forced by what a gateway-level stub is and each kept narrow:

- References (``wbbh``). The connector's reference for a ticket is the gateway's ticket id (32
  lower-case hex digits, drawn when the ticket is filed), which no interaction can know; each
  interaction names one of its own (``XYB-CT-`` and four digits). In the ``wbbh`` field only, a
  reference of the gateway's form (from the connector) and one of the contract's form (in the
  interaction) are compared as the same one, and the answer carries the connector's reference
  where the example carries the interaction's.
- Ticket numbers (``gdbh``). The system numbers a ticket when it files it; the create
  interactions match the number by its form and give one example. The stub answers the example
  for the first ticket it files and, since the gateway keeps numbers unique, the example's serial
  raised by one for each later one (still of the form). A number the stub issued is what the
  connector later sends to evaluate that ticket, so it is compared as the number of the ticket
  the interaction's provider state says exists (``a ticket exists``, ``a closed ticket exists``)
  and the answer carries the connector's number and reference where the example carries the
  interaction's. A number the stub did not issue is compared as written (the contract's unknown
  ticket stays unknown).
- Canonical requests. The category, content, division and item of each filing the test sends
  are the ones whose translation is exactly the body the interaction sends (``nr``, ``xzqh``,
  ``sqlx``, ``sxbm``; ``qdly`` from the channel, ``zqt``/``yxj`` from who files); the rating's
  level and comment are the evaluate interaction's ``myd`` and ``pjnr``.
- Callbacks. The contract is one direction (the gateway's calls); the system's signed status
  callbacks are not in it. The only way a ticket is closed at the gateway without them is an
  answer carrying that history, and the create answer gives only 01 受理; so, as the system,
  the test posts the signed callbacks 02 派单 … 06 回访 to /callbacks/hotline before rating.

The system's 1001 and 2002 refusals guard against what the gateway already refuses itself (a
division outside Hunan, a reference reused for other content): their tests show the gateway's
own refusal and that the system is never asked.
"""

from __future__ import annotations

import dataclasses
import json
import re
import secrets
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr
from starlette.applications import Starlette

from app.connectors.hotline import DIVISION, SLUG, canonical_document
from app.connectors.hotline import system as hotline_system
from app.contracts.matchers import example_of, is_matcher
from app.contracts.model import Contract, Interaction
from app.demo_hotline import OPERATIONS
from app.main import create_app
from app.simulators.enterprise import create_register_app
from tests.conftest import ADMIN_TOKEN
from tests.connectors.gateway_support import migrated_settings, signed_callback
from tests.contract_stubs import NO_MATCH_STATUS, NoInteractionMatches, choose_interaction, load
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
    register_company,
    resident_id,
)

CONTRACT = "hotline/hotline"
TZ = ZoneInfo("Asia/Shanghai")
START = datetime(2025, 12, 1, 9, 30, tzinfo=TZ)  # the morning of the contract's examples
HOTLINE_URL = "http://127.0.0.1:9120"
REGISTER_URL = "http://127.0.0.1:9115"
REGISTER_TOKEN = "register-token-" + "x" * 24
SECRET = "hotline-callback-secret-for-the-stub-tests"
GW = f"/gw/{DIVISION}/{SLUG}"

# The connector's reference (the gateway's ticket id) and the contract's; what both compare as.
GATEWAY_REFERENCE = re.compile(r"[0-9a-f]{32}")
CONTRACT_REFERENCE = re.compile(r"XYB-CT-[0-9]{4}")
ANY_REFERENCE = "(the gateway's reference)"
# A ticket number: HN12345, the day, a serial of 6 digits.
NUMBER = re.compile(r"(HN12345[0-9]{8})([0-9]{6})")
ISSUED_NUMBER = "(a number the stub issued)"
# The provider states of the interactions: a ticket exists (its number is given), or none does.
TICKET_EXISTS = frozenset({"a ticket exists", "a closed ticket exists"})
NO_TICKET = frozenset({"no ticket with this reference"})

# The canonical requests whose translation is the interactions' bodies (see the docstring).
FILING: Json = {  # file-a-ticket
    "category": "complaint",  # sqlx TS
    "content": "小区旁工地夜间施工噪音扰民，请协调处理。",
    "division": "430102",
}
ENTERPRISE_FILING: Json = {  # file-an-enterprise-ticket
    "category": "help",  # sqlx QZ; yxj 2: the enterprise's help is high, not urgent
    "content": "企业办理税务注销时系统提示存在未申报记录，请协助核实。",
    "division": "430104",
    "itemCode": "430100-SW-012",
}
FIRM = {"uscc": "91430102MA4L7X2K8U", "name": "长沙麓山信息技术有限公司"}
OUTSIDE_HUNAN: Json = {  # file-a-ticket-outside-hunan
    "channel": "web",  # qdly WZ
    "category": "suggestion",  # sqlx JY
    "content": "建议增开夜间公交线路。",
    "division": "110101",
}
RATING: Json = {"level": "satisfied", "comment": "处理及时，答复清楚。"}  # rate-a-closed-ticket


def key() -> str:
    return "test-" + secrets.token_hex(8)


# -- the stub ------------------------------------------------------------------------------------


def method_of(interaction: Interaction) -> str:
    # Every hotline interaction names no method: the system's operations are POSTs of a JSON
    # object, its documents GETs without a body.
    if interaction.request.method:
        return interaction.request.method
    return "GET" if interaction.request.body_kind == "none" else "POST"


def existing_number(interaction: Interaction) -> str | None:
    """The number of the ticket the interaction's provider state says exists, when it sends it."""
    body, given = interaction.request.body, interaction.given
    if not isinstance(body, dict) or given is None or given.state not in TICKET_EXISTS:
        return None
    number = body.get("gdbh")
    return number if isinstance(number, str) and number == given.params.get("gdbh") else None


def own_reference(interaction: Interaction) -> str | None:
    """The interaction's reference: the one it sends, else the one of its provider state."""
    body, given = interaction.request.body, interaction.given
    sent = body.get("wbbh") if isinstance(body, dict) else None
    if sent is None and given is not None:
        sent = given.params.get("wbbh")
    return sent if isinstance(sent, str) and CONTRACT_REFERENCE.fullmatch(sent) else None


def adapted(interaction: Interaction) -> Interaction:
    """The interaction with its reference compared as any of the gateway's, and the number of
    the ticket its state says exists as any number the stub issued."""
    body = interaction.request.body
    if interaction.request.body_kind != "json" or not isinstance(body, dict):
        return interaction
    changed = dict(body)
    if own_reference(interaction) is not None and "wbbh" in changed:
        changed["wbbh"] = ANY_REFERENCE
    if existing_number(interaction) is not None:
        changed["gdbh"] = ISSUED_NUMBER
    request = dataclasses.replace(interaction.request, body=changed)
    return dataclasses.replace(interaction, request=request)


def replaced(value: Any, replacements: Mapping[str, str]) -> Any:
    """``value`` (a JSON value) with each key of ``replacements`` in its strings replaced."""
    if isinstance(value, str):
        for old, new in replacements.items():
            value = value.replace(old, new)
        return value
    if isinstance(value, dict):
        return {k: replaced(v, replacements) for k, v in value.items()}
    if isinstance(value, list):
        return [replaced(v, replacements) for v in value]
    return value


@dataclass
class Hit:
    interaction: str  # its id; "(599)" when none matched
    request: httpx.Request
    status: int
    why: str = ""  # for a 599: why each candidate did not match
    mismatches: dict[str, list[str]] = field(default_factory=dict)  # per candidate, for a 599

    @property
    def body(self) -> Json:
        sent: Json = json.loads(self.request.content)
        return sent


@dataclass
class HotlineStub:
    """The 12345 system answered by its contract's interactions (see the module's docstring)."""

    contract: Contract
    interactions: Sequence[Interaction]  # adapted
    issued: dict[str, str] = field(default_factory=dict)  # number → the reference it was for
    hits: list[Hit] = field(default_factory=list)  # since the last take()

    @classmethod
    def of(cls) -> HotlineStub:
        contract = load(CONTRACT)
        return cls(contract, [adapted(i) for i in contract.interactions])

    def as_compared(self, request: httpx.Request) -> httpx.Request:
        """The connector's request with its reference, and a number the stub issued, compared as
        the interactions' (the ``wbbh`` and ``gdbh`` fields only)."""
        content = request.content
        try:
            body = json.loads(content) if content else None
        except ValueError:
            body = None
        if isinstance(body, dict):
            if isinstance(body.get("wbbh"), str) and GATEWAY_REFERENCE.fullmatch(body["wbbh"]):
                body["wbbh"] = ANY_REFERENCE
            if body.get("gdbh") in self.issued:
                body["gdbh"] = ISSUED_NUMBER
            content = json.dumps(body, ensure_ascii=False).encode("utf-8")
        return httpx.Request(
            request.method,
            request.url,
            headers=[(k, v) for k, v in request.headers.items() if k != "content-length"],
            content=content,
        )

    def handle(self, request: httpx.Request) -> httpx.Response:
        group = [
            i
            for i in self.interactions
            if method_of(i) == request.method and i.request.path == request.url.path
        ]
        try:
            chosen = choose_interaction(group, self.as_compared(request))
        except NoInteractionMatches as failure:
            mismatches = {i.id: found for i, found in failure.reasons}
            self.hits.append(Hit("(599)", request, NO_MATCH_STATUS, str(failure), mismatches))
            return httpx.Response(NO_MATCH_STATUS, json={"detail": str(failure)})
        answer = self.answer(self.contract.interaction(chosen.id), request)
        self.hits.append(Hit(chosen.id, request, answer.status_code))
        return answer

    def answer(self, interaction: Interaction, request: httpx.Request) -> httpx.Response:
        """The interaction's example, about the connector's ticket (its reference and number)."""
        expected = interaction.response
        headers = {
            name: value
            for name, value in ((n, example_of(m)) for n, m in expected.headers.items())
            if isinstance(value, str)
        }
        if not expected.has_body:
            return httpx.Response(expected.status, headers=headers)
        sent = json.loads(request.content) if request.content else {}
        number = sent.get("gdbh") if sent.get("gdbh") in self.issued else None
        reference = sent.get("wbbh") or (self.issued[number] if number else None)
        replacements: dict[str, str] = {}
        own = own_reference(interaction)
        if own is not None and isinstance(reference, str):
            replacements[own] = reference
        contract_number = existing_number(interaction)
        if contract_number is not None and number is not None:
            replacements[contract_number] = number
        body = example_of(expected.body)
        data = expected.body.get("data") if isinstance(expected.body, dict) else None
        if isinstance(data, dict) and is_matcher(data.get("gdbh")) and isinstance(reference, str):
            # The system numbered a new ticket: the example, or a number not yet given.
            example = body["data"]["gdbh"]
            fresh = self.fresh(example)
            self.issued[fresh] = reference
            replacements[example] = fresh
        headers.setdefault("Content-Type", "application/json")
        content = json.dumps(replaced(body, replacements), ensure_ascii=False).encode("utf-8")
        return httpx.Response(expected.status, headers=headers, content=content)

    def fresh(self, example: str) -> str:
        found = NUMBER.fullmatch(example)
        assert found is not None, example
        serial = int(found[2])
        number = example
        while number in self.issued:
            serial += 1
            number = f"{found[1]}{serial:06d}"
        return number

    def take(self) -> list[Hit]:
        """The calls the stub answered since the last take, in order."""
        taken = list(self.hits)
        self.hits.clear()
        return taken


# -- the gateway ---------------------------------------------------------------------------------


@dataclass
class Env:
    app: FastAPI
    client: httpx.AsyncClient
    stub: HotlineStub
    register: Starlette  # the enterprise register simulator (for the 政企通 agent)
    app_client: Json
    headers: dict[str, str]  # a resident's own token

    def writing(self, idempotency_key: str | None = None) -> dict[str, str]:
        return {**self.headers, "Idempotency-Key": idempotency_key or key()}

    def calls(self) -> list[Hit]:
        """The stub's calls since the last look; a call no interaction matched fails the test."""
        hits = self.stub.take()
        unmatched = [h.why for h in hits if h.status == NO_MATCH_STATUS]
        if unmatched:
            pytest.fail("\n\n".join(unmatched), pytrace=False)
        return hits


@pytest.fixture(scope="module")
async def env(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Env]:
    tmp = tmp_path_factory.mktemp("hotline-stubs")
    url = await create_database(tmp)
    settings = await migrated_settings(
        tmp,
        url,
        hotline_callback_secret=SecretStr(SECRET),
        enterprise_register_url=REGISTER_URL,
        enterprise_register_token=SecretStr(REGISTER_TOKEN),
    )
    stub = HotlineStub.of()
    register_app = create_register_app(seed=1, consumer_token=REGISTER_TOKEN)

    def factory(base_url: str, max_connections: int) -> httpx.AsyncBaseTransport:
        if base_url.startswith(HOTLINE_URL):
            return httpx.MockTransport(stub.handle)
        if base_url.startswith(REGISTER_URL):
            return httpx.ASGITransport(app=register_app)
        raise AssertionError(f"no upstream {base_url} in this test")

    app = create_app(settings, transport_factory=factory)
    app.state.clock = lambda: START
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    try:
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://testserver"
            ) as client,
        ):
            app_client = await create_client(client, admin, name="湘易办")
            item = await client.post(
                "/admin/catalog/items",
                json={
                    "code": ENTERPRISE_FILING["itemCode"],
                    "name": "税务注销",
                    "type": "行政确认",
                    "legal_basis": "测试",
                    "service_object": "legal_person",
                    "acceptance_conditions": "无",
                    "materials": [],
                    "time_limit_days": 1,
                    "result": "答复",
                    "division": "430100",
                    "department": "长沙市税务局",
                    "online": True,
                    "one_network": True,
                    "cross_province": False,
                },
                headers=admin,
            )
            assert item.status_code == 201, item.text
            onboarded = await client.post(
                "/admin/services",
                json={
                    "division": DIVISION,
                    "slug": SLUG,
                    "name": "12345政务服务便民热线",
                    "upstream_url": HOTLINE_URL,
                    "document": canonical_document(),
                    "connector": "hotline",
                    "data_classification": "internal",
                },
                headers=admin,
            )
            assert onboarded.status_code == 201, onboarded.text
            await grant(client, admin, app_client["client_id"], DIVISION, SLUG, OPERATIONS)
            person = await register(client, phone=phone_number())
            issued = await login(client, app_client, person["raw"]["phone"])
            yield Env(app, client, stub, register_app, app_client, bearer(issued["access_token"]))
    finally:
        await drop_database(url)


@pytest.fixture(autouse=True)
def every_call_is_contracted(request: pytest.FixtureRequest) -> Iterator[None]:
    """Each test of the gateway starts with no call seen; one that no interaction matched and
    that the test did not take itself fails it."""
    if "env" not in request.fixturenames:
        yield
        return
    env: Env = request.getfixturevalue("env")
    env.stub.take()
    yield
    env.calls()


def problem_type(response: httpx.Response, status: int, name: str) -> Json:
    body = is_problem(response, status)
    assert body["type"].endswith("/" + name), body
    return body


def signed(body: Json) -> tuple[bytes, dict[str, str]]:
    """A callback as the system signs it, at the module's fixed time."""
    return signed_callback(body, at=START.timestamp(), secret=SECRET)


async def closed_by_the_system(env: Env, ticket: Json) -> Json:
    """The system's callbacks 02 派单 … 06 回访 for ``ticket`` (the test is the system's side:
    the contract has no callbacks), and the ticket as the gateway then holds it."""
    steps = [("02", "派单"), ("03", "办理"), ("04", "回复"), ("05", "办结"), ("06", "回访")]
    for seq, (status, name) in enumerate(steps, start=2):
        raw, headers = signed(
            {
                "sjid": f"{ticket['number']}-{seq}",
                "gdbh": ticket["number"],
                "wbbh": ticket["id"],
                "xh": seq,
                "zt": status,
                "ztmc": name,
                "sj": (START + timedelta(hours=seq)).isoformat(),
                "cbdw": "430100",
                "sm": "已协调施工单位停止夜间施工" if status == "04" else "",
            }
        )
        answer = await env.client.post("/callbacks/hotline", content=raw, headers=headers)
        assert answer.status_code == 200, answer.text
        assert answer.json() == {"ticket": ticket["id"], "applied": True, "duplicate": False}
    seen = await env.client.get(f"{GW}/tickets/{ticket['id']}", headers=env.headers)
    assert seen.status_code == 200, seen.text
    held: Json = seen.json()
    assert held["status"] == "revisited"
    return held


async def filed(env: Env) -> Json:
    """A new ticket of the canonical filing (the stub numbers it afresh)."""
    answer = await env.client.post(f"{GW}/tickets", json=FILING, headers=env.writing())
    assert [h.interaction for h in env.calls()] == ["file-a-ticket"]
    assert answer.status_code == 201, answer.text
    ticket: Json = answer.json()
    return ticket


# -- filing ----------------------------------------------------------------------------------


async def test_filing_is_answered_with_the_contracts_ticket(env: Env) -> None:
    """The module's first filing (tests run in file order): the create interaction's example."""
    create = env.stub.contract.interaction("file-a-ticket")
    example = example_of(create.response.body)["data"]
    answer = await env.client.post(f"{GW}/tickets", json=FILING, headers=env.writing())
    (hit,) = env.calls()
    assert hit.interaction == "file-a-ticket", hit.why
    assert answer.status_code == 201, answer.text
    ticket = answer.json()
    # The connector's reference is the gateway's ticket id; every field is sent (sxbm too).
    assert hit.body["wbbh"] == ticket["id"]
    assert GATEWAY_REFERENCE.fullmatch(ticket["id"])
    assert hit.body == {**create.request.body, "wbbh": ticket["id"]}
    assert ticket["number"] == example["gdbh"] == "HN1234520251201000001"
    assert (ticket["status"], ticket["statusName"]) == ("accepted", "受理")
    assert ticket["centre"] == example["cbdw"] == "430100"  # 芙蓉区 → the 长沙 sub-centre
    assert (ticket["channel"], ticket["category"], ticket["division"]) == (
        "app",
        "complaint",
        "430102",
    )
    assert (ticket["desk"], ticket["priority"], ticket["itemCode"]) == ("centre", "normal", None)
    (step,) = example["lsjl"]
    assert ticket["history"] == [
        {
            "seq": 1,
            "status": "accepted",
            "statusName": "受理",
            "at": step["sj"],
            "centre": "430100",
            "note": step["sm"],
        }
    ]
    assert env.stub.issued == {ticket["number"]: ticket["id"]}


async def test_the_same_key_again_does_not_call_the_system(env: Env) -> None:
    headers = env.writing()
    first = await env.client.post(f"{GW}/tickets", json=FILING, headers=headers)
    assert [h.interaction for h in env.calls()] == ["file-a-ticket"]
    assert first.status_code == 201, first.text
    again = await env.client.post(f"{GW}/tickets", json=FILING, headers=headers)
    assert env.calls() == []  # one create, not two: the gateway answers from its own row
    assert again.status_code == 200, again.text
    assert (again.json()["id"], again.json()["number"]) == (
        first.json()["id"],
        first.json()["number"],
    )
    # The number the stub issued for this ticket (of the form; after the module's first
    # filing, a later serial than the example's: the gateway keeps numbers unique).
    assert env.stub.issued[first.json()["number"]] == first.json()["id"]


async def test_a_filing_the_system_would_refuse_never_reaches_it(env: Env) -> None:
    """file-a-ticket-outside-hunan (1001) is what the system says of a division outside Hunan;
    the gateway refuses such a filing itself (the document's pattern, the connector's check), so
    the system is never asked. (A 1001 that does come back is 422 hotline-refused.)"""
    refusal = env.stub.contract.interaction("file-a-ticket-outside-hunan")
    assert refusal.request.body["xzqh"] == OUTSIDE_HUNAN["division"]
    answer = await env.client.post(f"{GW}/tickets", json=OUTSIDE_HUNAN, headers=env.writing())
    assert env.calls() == []
    errors = problem_type(answer, 422, "validation-failed")["errors"]
    assert [e["pointer"] for e in errors] == ["/body/division"]


async def test_a_key_reused_for_other_content_never_reaches_the_system(env: Env) -> None:
    """reuse-a-reference-with-other-content (2002) is the system's guard against a reference
    reused; the gateway's reference is its own ticket id, new for each Idempotency-Key, and the
    same key with other content is refused by the gateway before the system is asked."""
    headers = env.writing()
    first = await env.client.post(f"{GW}/tickets", json=FILING, headers=headers)
    assert [h.interaction for h in env.calls()] == ["file-a-ticket"]
    assert first.status_code == 201, first.text
    other = {**FILING, "content": "另一件事"}
    reused = await env.client.post(f"{GW}/tickets", json=other, headers=headers)
    assert env.calls() == []
    assert problem_type(reused, 409, "hotline-idempotency-conflict")["ticket"] == first.json()["id"]


async def test_an_agent_files_a_zqt_ticket_for_the_enterprise(env: Env) -> None:
    enterprise = env.stub.contract.interaction("file-an-enterprise-ticket")
    assert (enterprise.request.body["qymc"], enterprise.request.body["tyshxydm"]) == (
        FIRM["name"],
        FIRM["uscc"],
    )
    id_number = resident_id()
    env.register.state.register.add({**FIRM, "legal_representative_id_number": id_number})
    person = await register(env.client, id_number=id_number, phone=phone_number())
    own = await login(env.client, env.app_client, person["raw"]["phone"])
    created = await register_company(env.client, own["access_token"], FIRM["uscc"])
    assert created.status_code == 201, created.text
    agent = await login(
        env.client,
        env.app_client,
        person["raw"]["phone"],
        acting_for=str(created.json()["id"]),
    )
    headers = {**bearer(agent["access_token"]), "Idempotency-Key": key()}
    answer = await env.client.post(f"{GW}/tickets", json=ENTERPRISE_FILING, headers=headers)
    (hit,) = env.calls()
    assert hit.interaction == "file-an-enterprise-ticket", hit.why
    assert hit.body == {**enterprise.request.body, "wbbh": hit.body["wbbh"]}
    assert answer.status_code == 201, answer.text
    ticket = answer.json()
    assert ticket["id"] == hit.body["wbbh"]
    assert NUMBER.fullmatch(ticket["number"])
    assert (ticket["desk"], ticket["centre"], ticket["priority"]) == ("zqt", "ZQT", "high")
    assert ticket["itemCode"] == ENTERPRISE_FILING["itemCode"]


# -- rating ----------------------------------------------------------------------------------


async def test_rating_a_closed_ticket(env: Env) -> None:
    evaluate = env.stub.contract.interaction("rate-a-closed-ticket")
    ticket = await closed_by_the_system(env, await filed(env))
    answer = await env.client.post(
        f"{GW}/tickets/{ticket['id']}/rating", json=RATING, headers=env.headers
    )
    (hit,) = env.calls()
    assert hit.interaction == "rate-a-closed-ticket", hit.why
    assert hit.body == {**evaluate.request.body, "gdbh": ticket["number"]}
    assert answer.status_code == 201, answer.text
    rating = answer.json()
    assert (rating["level"], rating["levelName"], rating["comment"]) == (
        "satisfied",
        "满意",
        RATING["comment"],
    )
    assert rating["subject"] == {"kind": "ticket", "id": ticket["id"]}
    assert rating["followUp"] is None  # 满意 opens none
    rated = await env.client.get(f"{GW}/tickets/{ticket['id']}", headers=env.headers)
    assert rated.json()["status"] == "rated"
    assert rated.json()["rating"]["id"] == rating["id"]


async def test_the_systems_2003_refusal_of_a_rating(env: Env) -> None:
    """The gateway holds the ticket closed, the system does not take the rating (2003: not
    closed there, or rated already): 409 hotline-not-rateable with the system's code."""
    ticket = await closed_by_the_system(env, await filed(env))
    answer = await env.client.post(
        f"{GW}/tickets/{ticket['id']}/rating", json={"level": "very-satisfied"}, headers=env.headers
    )
    (hit,) = env.calls()
    assert hit.interaction == "rate-a-ticket-still-being-handled", hit.why
    assert hit.body == {"gdbh": ticket["number"], "myd": "1", "pjnr": ""}
    problem = problem_type(answer, 409, "hotline-not-rateable")
    assert problem["systemCode"] == hotline_system.STATUS_FORBIDS
    unrated = await env.client.get(f"{GW}/tickets/{ticket['id']}", headers=env.headers)
    assert unrated.json()["rating"] is None


# -- the contract's own promises the stub relies on ------------------------------------------


def test_every_contract_reference_and_number_is_one_the_stub_adapts() -> None:
    """Each request reference has the contract's form, and each number sent is the existing
    ticket of the interaction's state or a number of a ticket that does not exist, so the stub's
    two adaptations are the only ones needed (and a new state is not silently compared as any)."""
    contract = load(CONTRACT)
    references = numbers = 0
    for interaction in contract.interactions:
        body = interaction.request.body
        if not isinstance(body, dict):
            continue
        if "wbbh" in body:
            assert CONTRACT_REFERENCE.fullmatch(body["wbbh"]), interaction.id
            references += 1
        if "gdbh" in body:
            assert NUMBER.fullmatch(body["gdbh"]), interaction.id
            given = interaction.given
            assert given is not None, interaction.id
            assert given.state in TICKET_EXISTS | NO_TICKET, (interaction.id, given.state)
            if given.state in TICKET_EXISTS:
                assert existing_number(interaction) == body["gdbh"], interaction.id
            numbers += 1
    assert (references, numbers) == (6, 6)
