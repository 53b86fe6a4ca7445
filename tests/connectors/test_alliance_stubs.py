"""The cross-province alliance through the gateway over stubs built from its contracts.

``contracts/alliance/{guangdong,shanghai,jiangxi}.contract.yaml`` describe, interaction by
interaction, what the gateway's dialect of each partner sends and what the partner answers; the
same files are replayed against the partner simulators in CI. Here they are the partners: the
canonical alliance API is onboarded at 440000, 310000 and 360000 with the ``alliance`` connector,
and every upstream call the connector makes must be one the contract sends (method, path, the
query pairs and headers it names, and its body, as ``tests/contract_stubs.choose_interaction``
compares them, for every call, a lone interaction on its path included), answered by that
interaction's example. So every canonical operation at every partner is shown to succeed (and
the partners' refusals to come through) on what the contracts promise.

Three adaptations, each forced by what a gateway-level stub is and each kept narrow:

- Credentials. The interactions present the fixed credential the provider states install for
  replay (``ysx-contract-test-credential``, ``ssb-contract-test-token``,
  ``gft-contract.430102199003071234``); through the gateway the connector presents the credential
  the partner's token endpoint answered, which the stub answers with the token interaction's
  example. Here that example stands for the fixed one in the interactions, so the stub still
  tells a credential of the contract's resident from a forged one.
- Request references. The connector's reference for a write is a digest of the caller's
  Idempotency-Key (``XYB`` and 29 upper-case hex digits), which no test can choose; a contract's
  request cannot hold a matcher (replay sends it as written), so each interaction names one such
  reference. Any reference of that form, in the contract's request and in the connector's, is
  compared as the same one, and the answer carries the connector's reference where the
  interaction's example carries its own.
- 赣服通's XML answers. ``tests/contract_stubs.py`` does not stub XML answers (ValueError), so the
  answer here is the document the interaction's ElementTree paths describe (each path's example
  as its text, under 赣服通's ``<Response>``). Its requests need no adaptation: the contract's
  XML is the dialect's, byte for byte.

The contract's resident is 刘洋 (430102199003071234): the gateway's verified resident is that
person, registered and verified in person as tests/connectors/test_alliance_gateway.py does.
"""

from __future__ import annotations

import dataclasses
import json
import re
import secrets
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from app.connectors.alliance import SLUG, canonical_document
from app.contracts.matchers import example_of
from app.contracts.model import Contract, Interaction
from app.demo_alliance import OPERATIONS
from app.main import create_app
from tests.conftest import ADMIN_TOKEN
from tests.connectors.gateway_support import migrated_settings, verify_at_counter
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
)

CODES = ("440000", "310000", "360000")
PROVIDER = {"440000": "guangdong", "310000": "shanghai", "360000": "jiangxi"}
URLS = {
    code: f"http://127.0.0.1:{port}" for code, port in zip(CODES, (9117, 9118, 9119), strict=True)
}
# The contracts' resident: made insured / given a history by every provider state.
ID_NUMBER = "430102199003071234"
NAME = "刘洋"
# The token endpoint's interaction for that resident, per partner.
TOKEN_INTERACTION = {
    "440000": "a-credential-for-a-user",
    "310000": "token-for-a-resident",
    "360000": "a-credential-for-a-user",
}
# The credential header the interactions present, and the fixed replay value they present in it.
REPLAY_CREDENTIAL = {
    "440000": ("Authorization", "Bearer ysx-contract-test-credential"),
    "310000": ("X-SSB-Token", "ssb-contract-test-token"),
    "360000": ("X-GFT-Credential", "gft-contract.430102199003071234"),
}
# The connector's request reference (a digest of the Idempotency-Key), and what any one of them
# is compared as (as long as one, so a body stays what it was around it).
REFERENCE = re.compile(r"XYB[0-9A-F]{29}")
ANY_REFERENCE = "XYB" + "x" * 29
XML_ROOT = "Response"  # 赣服通's answer envelope; the contract's paths are relative to it
TIMEOUT_S = 4.0


def gw(code: str, path: str) -> str:
    return f"/gw/{code}/{SLUG}{path}"


def key() -> str:
    return "test-" + secrets.token_hex(8)


# -- the stubs -------------------------------------------------------------------------------


def issued_credential(code: str, contract: Contract) -> str:
    """What the token interaction's example grants (the stub's answer to the connector)."""
    token = contract.interaction(TOKEN_INTERACTION[code])
    if code == "440000":
        value = example_of(token.response.body)["data"]["accessToken"]
    elif code == "310000":
        value = example_of(token.response.body)["result"]["access_token"]
    else:
        assert token.response.xml is not None
        value = example_of(token.response.xml["./Body/PZ"])
    assert isinstance(value, str)
    return value


def any_reference(value: Any) -> Any:
    """``value`` (a JSON value or XML text) with every connector reference as ANY_REFERENCE."""
    if isinstance(value, str):
        return REFERENCE.sub(ANY_REFERENCE, value)
    if isinstance(value, dict):
        return {k: any_reference(v) for k, v in value.items()}
    if isinstance(value, list):
        return [any_reference(v) for v in value]
    return value


def as_compared(request: httpx.Request) -> httpx.Request:
    """The connector's request with its reference (in the query or the body) compared as any."""
    content = any_reference(request.content.decode("utf-8"))
    return httpx.Request(
        request.method,
        any_reference(str(request.url)),
        headers=[(k, v) for k, v in request.headers.items() if k != "content-length"],
        content=content.encode("utf-8"),
    )


def adapted(code: str, interaction: Interaction, credential: str) -> Interaction:
    """The interaction presenting the stub's credential for the replay one, any reference for
    its own."""
    name, replay = REPLAY_CREDENTIAL[code]
    presented = credential if code != "440000" else f"Bearer {credential}"
    headers = {
        header: presented if header.lower() == name.lower() and value == replay else value
        for header, value in interaction.request.headers.items()
    }
    request = dataclasses.replace(
        interaction.request,
        headers=headers,
        query=tuple((k, any_reference(v)) for k, v in interaction.request.query),
        body=any_reference(interaction.request.body),
    )
    return dataclasses.replace(interaction, request=request)


def xml_answer(paths: Mapping[str, Any]) -> bytes:
    """The document whose ElementTree paths (``./Head/RetCode``) hold the matchers' examples."""
    root = ET.Element(XML_ROOT)
    for path, matcher in paths.items():
        assert path.startswith("./"), path
        assert "//" not in path, path
        element = root
        for tag in path[2:].split("/"):
            found = element.find(tag)
            element = found if found is not None else ET.SubElement(element, tag)
        value = example_of(matcher)
        element.text = value if isinstance(value, str) else json.dumps(value)
    written: bytes = ET.tostring(root, encoding="UTF-8", xml_declaration=True)
    return written


def answer_of(interaction: Interaction, reference: str | None = None) -> httpx.Response:
    """The interaction's example answer; the connector's ``reference`` for the interaction's."""
    expected = interaction.response
    headers: dict[str, str] = {}
    for header, matcher in expected.headers.items():
        value = example_of(matcher)
        if isinstance(value, str):
            headers[header] = value
    if expected.xml is not None:
        headers.setdefault("Content-Type", "application/xml; charset=UTF-8")
        content = xml_answer(expected.xml)
    elif expected.has_body:
        headers.setdefault("Content-Type", "application/json")
        content = json.dumps(example_of(expected.body), ensure_ascii=False).encode("utf-8")
    else:
        return httpx.Response(expected.status, headers=headers)
    if reference is not None:
        content = REFERENCE.sub(reference, content.decode("utf-8")).encode("utf-8")
    return httpx.Response(expected.status, headers=headers, content=content)


@dataclass
class Hit:
    interaction: str  # its id; "(599)" when none answered
    request: httpx.Request
    status: int
    why: str = ""  # for a 599: why each candidate did not match


@dataclass
class PartnerStub:
    """A partner answered by its contract's interactions (see the module's docstring)."""

    code: str
    interactions: Sequence[Interaction]
    credential: str
    hits: list[Hit] = field(default_factory=list)  # since the last take()
    log: list[Hit] = field(default_factory=list)  # all of them

    @classmethod
    def of(cls, code: str) -> PartnerStub:
        contract = load(f"alliance/{PROVIDER[code]}")
        credential = issued_credential(code, contract)
        return cls(code, [adapted(code, i, credential) for i in contract.interactions], credential)

    @staticmethod
    def _method(interaction: Interaction) -> str:
        # Every alliance interaction names its method or is a POST of a body (the XML partner).
        if interaction.request.method:
            return interaction.request.method
        return "GET" if interaction.request.body_kind == "none" else "POST"

    def handle(self, request: httpx.Request) -> httpx.Response:
        group = [
            i
            for i in self.interactions
            if self._method(i) == request.method and i.request.path == request.url.path
        ]
        try:
            # Every call is compared, a lone interaction on its path too (strict).
            chosen = choose_interaction(group, as_compared(request))
        except NoInteractionMatches as failure:
            self._hit(Hit("(599)", request, NO_MATCH_STATUS, str(failure)))
            return httpx.Response(NO_MATCH_STATUS, json={"detail": str(failure)})
        sent = REFERENCE.search(request.content.decode("utf-8") + str(request.url))
        answer = answer_of(chosen, sent[0] if sent else None)
        self._hit(Hit(chosen.id, request, answer.status_code))
        return answer

    def _hit(self, hit: Hit) -> None:
        self.hits.append(hit)
        self.log.append(hit)

    def take(self) -> list[Hit]:
        """The calls the stub answered since the last take, in order."""
        taken = list(self.hits)
        self.hits.clear()
        return taken


# -- the gateway -----------------------------------------------------------------------------


@dataclass
class Env:
    app: FastAPI
    client: httpx.AsyncClient
    stubs: dict[str, PartnerStub]
    headers: dict[str, str]  # the verified resident's own token

    def writing(self) -> dict[str, str]:
        return {**self.headers, "Idempotency-Key": key()}


@pytest.fixture(scope="module")
async def env(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Env]:
    tmp = tmp_path_factory.mktemp("alliance-stubs")
    url = await create_database(tmp)
    settings = await migrated_settings(tmp, url)
    stubs = {code: PartnerStub.of(code) for code in CODES}

    def factory(base_url: str, max_connections: int) -> httpx.AsyncBaseTransport:
        for code, partner_url in URLS.items():
            if base_url.startswith(partner_url):
                return httpx.MockTransport(stubs[code].handle)
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
            app_client = await create_client(client, admin, name="湘易办")
            for code in CODES:
                onboarded = await client.post(
                    "/admin/services",
                    json={
                        "division": code,
                        "slug": SLUG,
                        "name": f"{PROVIDER[code]} 跨省通办",
                        "upstream_url": URLS[code],
                        "document": canonical_document(),
                        "connector": "alliance",
                        "data_classification": "personal",
                        "timeout_s": TIMEOUT_S,
                        "breaker_threshold": 1000,
                    },
                    headers=admin,
                )
                assert onboarded.status_code == 201, onboarded.text
                await grant(client, admin, app_client["client_id"], code, SLUG, OPERATIONS)
            person = await register(client, id_number=ID_NUMBER, name=NAME, phone=phone_number())
            await verify_at_counter(settings, ID_NUMBER, NAME)
            issued = await login(client, app_client, person["raw"]["phone"])
            yield Env(app, client, stubs, bearer(issued["access_token"]))
    finally:
        await drop_database(url)


def problem_type(response: httpx.Response, status: int, name: str) -> Json:
    body = is_problem(response, status)
    assert body["type"].endswith("/" + name), body
    return body


# -- every operation at every partner -------------------------------------------------------


def filing_body(code: str) -> Json:
    """The canonical filing the contract's create-filing interaction describes."""
    if code == "360000":  # file-off-site-medical-care
        return {
            "insurance": "employee",
            "kind": "long-term-residence",
            "destination": "430100",
            "startDate": "2023-12-01",
            "phone": "13912345678",
        }
    body: Json = {
        "insurance": "employee",
        "kind": "long-term-residence",
        "destination": "430102",
        "startDate": "2025-12-01",
        "phone": "13800138000",
    }
    if code == "310000":  # file-a-remote-filing (随申办 takes no destination: not sent)
        body["endDate"] = "2026-05-31"
    return body


def transfer_body(code: str) -> Json:
    return {"toCentre": "430100", "phone": "13912345678" if code == "360000" else "13800138000"}


@dataclass(frozen=True)
class Case:
    """One canonical call at one partner, and what the gateway answers over its contract."""

    code: str
    operation: str
    method: str
    path: str
    body: Json | None
    reached: tuple[str, ...]  # the interactions that answered, sign-on aside
    status: int
    expect: Json = field(default_factory=dict)  # in the answer (a success's fields)
    problem: str = ""  # a refusal's problem type
    partner_code: str = ""  # the partner's own code in the refusal
    then: tuple[str, ...] = ()  # interactions the connector may reach after ``reached``

    @property
    def id(self) -> str:
        return f"{self.code}-{self.operation}"


def cases(
    code: str,
    filings: tuple[str, str, str, str],  # read, cancelled, already cancelled, unknown
    transfer: str,
    reached: Mapping[str, tuple[str, ...]],
    refusal_codes: tuple[str, str],  # already cancelled, not found
    expect: Mapping[str, Json],
    cancelled_read: str,  # the interaction reading the already cancelled filing
) -> list[Case]:
    read, cancel, cancelled, unknown = filings
    reason = "已返回广东就医" if code == "440000" else "已返回参保地"
    calls: list[tuple[str, str, str, Json | None, int]] = [
        ("create-filing", "POST", "/medical-filings", filing_body(code), 201),
        ("get-filing", "GET", f"/medical-filings/{read}", None, 200),
        (
            "cancel-filing",
            "POST",
            f"/medical-filings/{cancel}/cancellation",
            {"reason": reason},
            200,
        ),
        ("records", "GET", "/social-insurance/records", None, 200),
        ("account", "GET", "/provident-fund/account", None, 200),
        ("create-transfer", "POST", "/provident-fund/transfers", transfer_body(code), 201),
        ("get-transfer", "GET", f"/provident-fund/transfers/{transfer}", None, 200),
    ]
    made = [
        Case(code, op, method, path, body, reached[op], status, dict(expect[op]))
        for op, method, path, body, status in calls
    ]
    made += [
        Case(
            code,
            "cancel-a-cancelled-filing",
            "POST",
            f"/medical-filings/{cancelled}/cancellation",
            None,
            reached["cancel-a-cancelled-filing"],
            409,
            problem="alliance-conflict",
            partner_code=refusal_codes[0],
            # Refused, the connector may read the filing to say that it is cancelled.
            then=(cancelled_read,),
        ),
        Case(
            code,
            "not-found",
            "GET",
            f"/medical-filings/{unknown}",
            None,
            reached["not-found"],
            404,
            problem="alliance-not-found",
            partner_code=refusal_codes[1],
        ),
    ]
    return made


GUANGDONG = cases(
    "440000",
    ("YDBA20251201000008", "YDBA20251201000011", "YDBA20251201000012", "YDBA20251201999999"),
    "GJJZY20251201000003",
    {
        "create-filing": ("file-for-treatment-in-hunan",),
        "get-filing": ("read-a-filing",),
        "cancel-filing": ("cancel-a-filing",),
        "records": ("social-insurance-records",),
        "account": ("a-provident-fund-account",),
        "create-transfer": ("a-provident-fund-account", "transfer-the-fund-to-hunan"),
        "get-transfer": ("read-a-transfer",),
        "cancel-a-cancelled-filing": ("cancel-a-cancelled-filing",),
        "not-found": ("no-such-filing",),
    },
    ("2002", "2001"),
    {
        "create-filing": {
            "id": "YDBA20251201000001",
            "status": "active",
            "destination": "430102",
            "destinationName": "湖南省长沙市芙蓉区",
            "filedAt": "2025-12-01T10:00:00+08:00",
        },
        "get-filing": {
            "id": "YDBA20251201000008",
            "reference": "XYB20251201000000000000000000008",
            "kind": "temporary-treatment",
            "endDate": "2026-02-28",
            "destinationName": "湖南省岳阳市",
        },
        "cancel-filing": {
            "id": "YDBA20251201000011",
            "status": "cancelled",
            "cancelReason": "已返回广东就医",
        },
        "records": {"name": NAME, "insuredCity": "东莞市", "total": 1},
        "account": {"accountNo": "44614923575327", "status": "sealed", "balance": "44737.20"},
        "create-transfer": {
            "id": "GJJZY20251201000001",
            "status": "processing",
            "toCentre": "430100",
            "amount": "44737.20",
        },
        "get-transfer": {
            "id": "GJJZY20251201000003",
            "toCentre": "430300",
            "toCentreName": "湘潭市住房公积金管理中心",
        },
    },
    "read-a-cancelled-filing",
)
SHANGHAI = cases(
    "310000",
    (
        "SSBYD2025120100000001",
        "SSBYD2025120100000001",
        "SSBYD2025120100000002",
        "SSBYD2025120199999999",
    ),
    "SSBGJ2025120100000001",
    {
        "create-filing": ("file-a-remote-filing",),
        "get-filing": ("read-a-filing",),
        "cancel-filing": ("revoke-a-filing",),
        "records": ("social-insurance-payments",),
        "account": ("a-housing-fund-account",),
        "create-transfer": ("a-housing-fund-account", "transfer-a-housing-fund"),
        "get-transfer": ("read-a-transfer",),
        "cancel-a-cancelled-filing": ("revoke-a-revoked-filing",),
        "not-found": ("no-such-filing",),
    },
    ("SSB-4093", "SSB-4041"),
    {
        "create-filing": {
            "id": "SSBYD2025120112345678",
            "status": "active",
            "destination": None,  # 随申办 keeps none
            "startDate": "2025-12-01",
            "endDate": "2026-05-31",
        },
        "get-filing": {
            "id": "SSBYD2025120100000001",
            "kind": "temporary-treatment",
            "endDate": "2026-02-28",
        },
        "cancel-filing": {"status": "cancelled", "cancelReason": "已返回参保地"},
        "records": {"name": NAME, "insuredCity": None, "total": 1},
        "account": {"accountNo": "313821568715", "status": "sealed", "balance": "86509.52"},
        "create-transfer": {
            "id": "SSBGJ2025120154215463",
            "status": "processing",
            "amount": "86509.52",
        },
        "get-transfer": {"id": "SSBGJ2025120100000001", "toCentre": "430100"},
    },
    "read-a-revoked-filing",
)
JIANGXI = cases(
    "360000",
    (
        "GFTBA20231120000042",
        "GFTBA20231120000045",
        "GFTBA20231120000046",
        "GFTBA20231120009999",
    ),
    "GFTZY20231120000078",
    {
        "create-filing": ("file-off-site-medical-care",),
        "get-filing": ("a-filing-by-number",),
        "cancel-filing": ("cancel-a-filing",),
        "records": ("contributions",),
        "account": ("fund-account",),
        "create-transfer": ("fund-account", "transfer-the-fund-to-hunan"),
        "get-transfer": ("a-transfer-by-number",),
        "cancel-a-cancelled-filing": ("cancel-a-cancelled-filing",),
        "not-found": ("no-such-filing",),
    },
    ("2002", "2001"),
    {
        "create-filing": {
            "id": "GFTBA20231120000001",
            "status": "active",
            "destination": "430100",
            "destinationName": "长沙市",
            "startDate": "2023-12-01",
        },
        "get-filing": {
            "id": "GFTBA20231120000042",
            "reference": "XYB20231120000000000000000000042",
            "phone": "13800000000",
        },
        "cancel-filing": {
            "id": "GFTBA20231120000045",
            "status": "cancelled",
            "cancelReason": "已返回参保地",
        },
        "records": {"name": NAME, "insuredCity": "南昌市", "total": 1},
        "account": {"accountNo": "36012667490198", "status": "sealed", "balance": "54272.00"},
        "create-transfer": {
            "id": "GFTZY20231120000001",
            "accountNo": "36012667490198",
            "amount": "54272.00",
        },
        "get-transfer": {"id": "GFTZY20231120000078", "status": "accepted"},
    },
    "a-cancelled-filing",
)
CASES = GUANGDONG + SHANGHAI + JIANGXI


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
async def test_every_operation_at_every_partner_over_its_contract(env: Env, case: Case) -> None:
    stub = env.stubs[case.code]
    stub.take()
    headers = env.writing() if case.method == "POST" else env.headers
    answer = await env.client.request(
        case.method, gw(case.code, case.path), json=case.body, headers=headers
    )
    hits = stub.take()
    assert hits, "the connector called nothing"
    reached = tuple(h.interaction for h in hits if h.interaction != TOKEN_INTERACTION[case.code])
    why = [(h.interaction, h.why) for h in hits]
    assert reached[: len(case.reached)] == case.reached, why
    assert set(reached[len(case.reached) :]) <= set(case.then), why
    if case.problem:
        body = problem_type(answer, case.status, case.problem)
        assert body["partner"] == case.code
        if case.problem == "alliance-not-found":
            # Looked up by its number, an absent record and another person's are answered alike,
            # so the gateway may leave the partner's words out; what it says is the partner's.
            assert body.get("partnerCode", case.partner_code) == case.partner_code, body
        else:
            assert body["partnerCode"] == case.partner_code, body
            assert body["partnerMessage"]
        if "filing" in body:  # the cancelled filing the connector read (see ``then``)
            assert body["filing"]["status"] == "cancelled", body
        return
    assert answer.status_code == case.status, answer.text
    body = answer.json()
    assert body["partner"] == case.code
    for name, value in case.expect.items():
        assert body[name] == value, (name, body)
    if case.status == 201:
        # A write answers the connector's own reference (what the partner echoed back).
        (write,) = [h for h in hits if h.request.method == "POST"][-1:]
        sent = REFERENCE.search(write.request.content.decode("utf-8"))
        assert sent is not None
        assert body["reference"] == sent[0]
        collection = "medical-filings" if case.operation == "create-filing" else "provident-fund"
        assert collection in answer.headers["location"]
    if case.operation == "records":
        assert len(body["records"]) == 1
    if case.operation == "get-transfer" or case.operation == "create-transfer":
        assert REFERENCE.fullmatch(body["reference"]), body


def test_every_contract_reference_is_one_the_connector_can_send() -> None:
    """Each interaction's request reference has the connector's form, or the stub could never
    compare it with the connector's (and the contract would describe a call never made)."""
    fields = {"440000": "requestNo", "310000": "request_id", "360000": "QQLSH"}
    checked = 0
    for code in CODES:
        name = fields[code]
        for interaction in load(f"alliance/{PROVIDER[code]}").interactions:
            request = interaction.request
            found = [value for key, value in request.query if key == name]
            if isinstance(request.body, dict) and name in request.body:
                found.append(request.body[name])
            if request.body_kind == "xml":
                found += re.findall(rf"<{name}>([^<]*)</{name}>", str(request.body))
            for value in found:
                assert REFERENCE.fullmatch(value), (code, interaction.id, value)
            checked += len(found)
    assert checked >= 20


# -- outbound single sign-on ----------------------------------------------------------------


@pytest.mark.parametrize("code", CODES)
async def test_the_partner_credential_comes_from_the_token_interaction(env: Env, code: str) -> None:
    """The connector signs on once at the token interaction (with the gateway's assertion, for
    the contract's resident) and presents the credential it answered on every business call,
    never the resident's 湘易办 token."""
    stub = env.stubs[code]
    unknown = {
        "440000": "YDBA20251201999999",
        "310000": "SSBYD2025120199999999",
        "360000": "GFTBA20231120009999",
    }[code]
    for _ in range(2):
        answer = await env.client.get(gw(code, f"/medical-filings/{unknown}"), headers=env.headers)
        problem_type(answer, 404, "alliance-not-found")
    signed_on = [h for h in stub.log if h.interaction == TOKEN_INTERACTION[code]]
    assert len(signed_on) == 1  # kept for the module: it lives 600 s
    (token,) = signed_on
    assert token.request.headers["x-xyb-assertion"].count(".") == 2  # a JWS
    assert ID_NUMBER.encode() in token.request.content
    business = [h for h in stub.log if h.interaction != TOKEN_INTERACTION[code]]
    assert business
    name = REPLAY_CREDENTIAL[code][0]
    resident_token = env.headers["Authorization"].removeprefix("Bearer ")
    presented = stub.credential if code != "440000" else f"Bearer {stub.credential}"
    for hit in business:
        assert hit.request.headers[name] == presented
        assert resident_token not in " ".join(hit.request.headers.values())
        assert "x-xyb-assertion" not in hit.request.headers
        assert hit.request.headers["accept"] in ("application/json", "application/xml")
