"""Legal persons over HTTP: only the legal representative the enterprise register names registers
a company; agents join by an invitation they accept, and inviting reveals no account.

The register is ``contract_stub("registers/enterprise")`` (tests/identity/conftest.py); its
failures are transport faults, or the simulator itself with a fault switched on.
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
import respx
from fastapi import FastAPI
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.identifiers import make_resident_id, mask_resident_id
from app.identity.enterprise_register import EnterpriseRegister
from app.models.identity import AgentInvitation, LegalPerson
from app.simulators.enterprise import create_register_app
from app.simulators.faults import Faults
from tests.contract_stubs import transport_for
from tests.identity.api_support import (
    PASSWORD,
    REGISTER_TOKEN,
    REGISTER_URL,
    Json,
    bearer,
    create_client,
    enterprise,
    is_problem,
    login,
    oauth_problem,
    register,
    register_company,
    representative_token,
    resident_id,
    token_request,
)

ACTIVE = enterprise("enterprise-in-existence")


@pytest.fixture
async def app_client(client: httpx.AsyncClient, admin_headers: dict[str, str]) -> Json:
    return await create_client(client, admin_headers)


async def person_token(client: httpx.AsyncClient, app_client: Json, **fields: Any) -> Json:
    """A registered resident with an access token (``token``)."""
    person = await register(client, **fields)
    issued = await login(client, app_client, person["raw"]["phone"])
    return {**person, "token": issued["access_token"]}


async def legal_persons(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(LegalPerson)) or 0)


# --- registering: the register decides --------------------------------------------------------


async def test_the_legal_representative_registers_the_company(
    client: httpx.AsyncClient, app_client: Json, register_stub: respx.MockRouter
) -> None:
    _, token = await representative_token(client, app_client, ACTIVE)
    created = await register_company(
        client, token, ACTIVE["uscc"].lower(), name="随便写的名字", legal_representative="别人"
    )
    assert created.status_code == 201, created.text
    legal = created.json()
    # The name and representative are the register's; what the caller wrote is ignored.
    assert legal["uscc"] == ACTIVE["uscc"]
    assert legal["name"] == ACTIVE["name"]
    assert legal["legal_representative"] == ACTIVE["legal_representative"]
    assert ACTIVE["legal_representative_id_number"] not in created.text
    (call,) = register_stub.calls
    assert call.request.url == f"{REGISTER_URL}/enterprises/{ACTIVE['uscc']}"
    # The gateway's own credential at the register (which gives ID numbers to it alone); the
    # caller's token stays here.
    assert call.request.headers["authorization"] == f"Bearer {REGISTER_TOKEN}"
    me = (await client.get("/identity/me", headers=bearer(token))).json()
    assert [a["id"] for a in me["agent_of"]] == [legal["id"]]
    again = await register_company(client, token, ACTIVE["uscc"])
    assert is_problem(again, 409)["legal_person_id"] == legal["id"]


async def test_an_enterprise_in_business_registers_too(
    client: httpx.AsyncClient, app_client: Json
) -> None:
    company = enterprise("enterprise-in-business")
    _, token = await representative_token(client, app_client, company)
    assert (await register_company(client, token, company["uscc"])).status_code == 201


async def test_no_one_but_the_representative_registers_the_company(
    client: httpx.AsyncClient,
    app_client: Json,
    session: AsyncSession,
    register_stub: respx.MockRouter,
) -> None:
    """The attack: any resident registered any valid credit code and became its agent."""
    before = await legal_persons(session)
    # Even with the representative's name, and the name of the company, as the register has them.
    stranger = await person_token(client, app_client, name=ACTIVE["legal_representative"])
    refused = await register_company(
        client,
        stranger["token"],
        ACTIVE["uscc"],
        name=ACTIVE["name"],
        legal_representative=ACTIVE["legal_representative"],
    )
    body = is_problem(refused, 403)
    assert "legal representative" in body["detail"]
    assert ACTIVE["legal_representative_id_number"] not in refused.text
    assert register_stub.calls.call_count == 1  # the register was asked
    assert await legal_persons(session) == before
    me = (await client.get("/identity/me", headers=bearer(stranger["token"]))).json()
    assert me["agent_of"] == []


async def test_a_code_the_register_does_not_have_is_refused(
    client: httpx.AsyncClient, app_client: Json, session: AsyncSession
) -> None:
    before = await legal_persons(session)
    person = await person_token(client, app_client)
    unknown = enterprise("no-enterprise-with-this-code")["uscc"]
    body = is_problem(await register_company(client, person["token"], unknown), 422)
    assert [e["pointer"] for e in body["errors"]] == ["/body/uscc"]
    assert "enterprise register" in body["detail"]
    assert await legal_persons(session) == before


@pytest.mark.parametrize(
    ("interaction", "status"),
    [("enterprise-deregistered", "注销"), ("enterprise-licence-revoked", "吊销")],
)
async def test_an_enterprise_no_longer_in_existence_is_refused(
    client: httpx.AsyncClient,
    app_client: Json,
    session: AsyncSession,
    interaction: str,
    status: str,
) -> None:
    company = enterprise(interaction)
    before = await legal_persons(session)
    # Even for its (former) legal representative.
    _, token = await representative_token(client, app_client, company)
    body = is_problem(await register_company(client, token, company["uscc"]), 422)
    assert [e["pointer"] for e in body["errors"]] == ["/body/uscc"]
    assert status in body["detail"]
    assert await legal_persons(session) == before


# --- the register failing: 503, never a silent accept ------------------------------------------


async def use_register(
    app: FastAPI, transport: httpx.AsyncBaseTransport | None, token: str | None = REGISTER_TOKEN
) -> None:
    """Point the running app's register client at ``transport`` (None: no register at all)."""
    previous = getattr(app.state, "enterprise_register", None)
    if previous is not None:
        await previous.aclose()
    url = REGISTER_URL if transport is not None else None
    app.state.enterprise_register = EnterpriseRegister(url, transport, token=token)


@pytest.mark.parametrize(
    "fault",
    [
        httpx.ConnectError("connection refused"),
        httpx.ReadTimeout("timed out"),
        httpx.RemoteProtocolError("peer closed connection"),
    ],
    ids=["refused", "timeout", "cut"],
)
async def test_an_unreachable_register_is_503(
    app: FastAPI,
    client: httpx.AsyncClient,
    app_client: Json,
    session: AsyncSession,
    caplog: pytest.LogCaptureFixture,
    fault: Exception,
) -> None:
    # A transport fault: no contract interaction describes one, so a hand-written route.
    router = respx.MockRouter(assert_all_called=False)
    router.route(host="enterprise-register.test").mock(side_effect=fault)
    await use_register(app, transport_for(router))
    before = await legal_persons(session)
    _, token = await representative_token(client, app_client, ACTIVE)
    with caplog.at_level(logging.INFO):
        response = await register_company(client, token, ACTIVE["uscc"])
    body = is_problem(response, 503)
    assert body["type"] == "/problems/upstream-enterprise-register-unavailable"
    assert body["fault"] == "upstream"
    assert "nothing was registered" in body["detail"]
    assert await legal_persons(session) == before
    logged = "\n".join(record.getMessage() + str(record.__dict__) for record in caplog.records)
    assert "enterprise register" in logged
    assert ACTIVE["uscc"] not in logged  # nor its URL


class _Refusing(httpx.AsyncBaseTransport):
    """A transport as httpx-aiohttp fails: httpx's class around the operating system's error."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        try:
            raise ConnectionRefusedError(111, f"refused: {request.url}")
        except ConnectionRefusedError as exc:
            raise httpx.ConnectError(f"cannot connect to {request.url}") from exc


async def test_an_unreachable_register_is_logged_by_the_original_error(
    app: FastAPI, client: httpx.AsyncClient, app_client: Json, caplog: pytest.LogCaptureFixture
) -> None:
    await use_register(app, _Refusing())
    _, token = await representative_token(client, app_client, ACTIVE)
    with caplog.at_level(logging.WARNING, logger="xyb.identity.register"):
        is_problem(await register_company(client, token, ACTIVE["uscc"]), 503)
    [record] = [r for r in caplog.records if r.name == "xyb.identity.register"]
    assert record.__dict__["error"] == "ConnectionRefusedError [ECONNREFUSED]"


async def test_an_unusable_answer_is_503(
    app: FastAPI, client: httpx.AsyncClient, app_client: Json, session: AsyncSession
) -> None:
    """The simulator itself, answering half of its JSON (its 'malformed json' fault)."""
    simulator = create_register_app(faults=Faults(malformed="json"), consumer_token=REGISTER_TOKEN)
    simulator.state.register.add(_params(ACTIVE))
    await use_register(app, httpx.ASGITransport(app=simulator))
    before = await legal_persons(session)
    _, token = await representative_token(client, app_client, ACTIVE)
    body = is_problem(await register_company(client, token, ACTIVE["uscc"]), 503)
    assert body["type"] == "/problems/upstream-enterprise-register-unavailable"
    assert await legal_persons(session) == before


async def test_without_a_configured_register_registering_is_503_saying_how_to_set_it(
    app: FastAPI, client: httpx.AsyncClient, app_client: Json
) -> None:
    await use_register(app, None)
    _, token = await representative_token(client, app_client, ACTIVE)
    body = is_problem(await register_company(client, token, ACTIVE["uscc"]), 503)
    assert body["type"] == "/problems/enterprise-register-not-configured"
    assert "XYB_ENTERPRISE_REGISTER_URL" in body["detail"]


@pytest.mark.parametrize("token", [None, "not-the-registers-token"], ids=["none", "wrong"])
async def test_without_the_registers_credential_nothing_is_registered(
    app: FastAPI,
    client: httpx.AsyncClient,
    app_client: Json,
    session: AsyncSession,
    caplog: pytest.LogCaptureFixture,
    token: str | None,
) -> None:
    """The register gives the representative's ID number to its consumer alone: without the
    token it answers the public fields, with a wrong one 401. Either way: 503, nothing registered,
    and the operator is told which setting to check."""
    simulator = create_register_app(consumer_token=REGISTER_TOKEN)
    simulator.state.register.add(_params(ACTIVE))
    await use_register(app, httpx.ASGITransport(app=simulator), token=token)
    before = await legal_persons(session)
    _, person_token = await representative_token(client, app_client, ACTIVE)
    with caplog.at_level(logging.WARNING, logger="xyb.identity.register"):
        body = is_problem(await register_company(client, person_token, ACTIVE["uscc"]), 503)
    assert body["type"] == "/problems/upstream-enterprise-register-unavailable"
    assert await legal_persons(session) == before
    assert any("XYB_ENTERPRISE_REGISTER_TOKEN" in r.getMessage() for r in caplog.records)


def _params(company: Json) -> Json:
    return {k: company[k] for k in ("uscc", "name", "legal_representative", "status")} | {
        "legal_representative_id_number": company["legal_representative_id_number"]
    }


async def test_a_new_representative_joins_a_company_registered_before(
    app: FastAPI, client: httpx.AsyncClient, app_client: Json
) -> None:
    """The register names someone else now (the simulator, through its provider states)."""
    simulator = create_register_app(consumer_token=REGISTER_TOKEN)
    await use_register(app, httpx.ASGITransport(app=simulator))
    simulator.state.register.add(_params(ACTIVE))
    _, first_token = await representative_token(client, app_client, ACTIVE)
    created = await register_company(client, first_token, ACTIVE["uscc"])
    assert created.status_code == 201, created.text
    successor = {
        **ACTIVE,
        "legal_representative": "周十",
        "legal_representative_id_number": (make_resident_id("430103", date(1990, 1, 2), 11)),
    }
    simulator.state.register.add(_params(successor))
    _, token = await representative_token(client, app_client, successor)
    joined = await register_company(client, token, ACTIVE["uscc"])
    assert joined.status_code == 200, joined.text
    assert joined.json()["id"] == created.json()["id"]
    assert joined.json()["legal_representative"] == "周十"
    me = (await client.get("/identity/me", headers=bearer(token))).json()
    assert [a["id"] for a in me["agent_of"]] == [created.json()["id"]]


# --- invitations ------------------------------------------------------------------------------


@pytest.fixture
async def company(client: httpx.AsyncClient, app_client: Json) -> Json:
    """A registered company and its legal representative's token (``token``)."""
    representative, token = await representative_token(client, app_client, ACTIVE, name="赵六")
    created = await register_company(client, token, ACTIVE["uscc"])
    assert created.status_code == 201, created.text
    return {**created.json(), "token": token, "representative": representative}


def invitations_path(company: Json) -> str:
    return f"/identity/legal-persons/{company['id']}/invitations"


async def invite(client: httpx.AsyncClient, company: Json, id_number: str) -> httpx.Response:
    return await client.post(
        invitations_path(company), json={"id_number": id_number}, headers=bearer(company["token"])
    )


def same_mask_pair() -> tuple[str, str]:
    """Two valid ID numbers whose masked forms are equal (first four, last four characters)."""
    first = make_resident_id("430105", date(1991, 3, 1), 77)
    for day in range(2, 400):
        other = make_resident_id("430105", date(1991, 3, 1) + timedelta(days=day), 77)
        if mask_resident_id(other) == mask_resident_id(first):
            return first, other
    raise AssertionError("no pair found")


def _comparable(response: httpx.Response) -> tuple[int, dict[str, str], Json]:
    body = dict(response.json())
    for varying in ("id", "created_at", "expires_at"):
        body.pop(varying)
    headers = {
        name: value
        for name, value in response.headers.items()
        if name not in ("x-request-id", "content-length", "date", "location")
    }
    return response.status_code, headers, body


async def test_inviting_answers_the_same_whether_or_not_an_account_exists(
    client: httpx.AsyncClient, app_client: Json, company: Json
) -> None:
    """The attack: 'No account has this ID number' told an agent who has an account."""
    registered_number, unknown_number = same_mask_pair()
    await register(client, id_number=registered_number)
    known = await invite(client, company, registered_number)
    unknown = await invite(client, company, unknown_number)
    assert known.status_code == 201, known.text
    assert _comparable(known) == _comparable(unknown)
    body = known.json()
    assert body["status"] == "pending"
    assert body["id_number"] == mask_resident_id(registered_number)
    assert body["invited_by"] == "赵六"
    assert body["legal_person"]["uscc"] == ACTIVE["uscc"]
    # Seven days to answer.
    created = datetime.fromisoformat(body["created_at"])
    assert datetime.fromisoformat(body["expires_at"]) - created == timedelta(days=7)


async def test_an_invited_person_accepts_and_only_then_is_an_agent_seen_by_name(
    client: httpx.AsyncClient, app_client: Json, company: Json
) -> None:
    clerk = await person_token(client, app_client, name="孙小妹")
    invited = await invite(client, company, clerk["raw"]["id_number"])
    assert invited.status_code == 201, invited.text
    # Not an agent yet: the company's agents do not show the clerk, nor the invitation a name.
    agents_path = f"/identity/legal-persons/{company['id']}/agents"
    agents = await client.get(agents_path, headers=bearer(company["token"]))
    assert [a["name"] for a in agents.json()] == ["赵六"]
    listed = await client.get(invitations_path(company), headers=bearer(company["token"]))
    assert "孙小妹" not in listed.text
    assert [i["status"] for i in listed.json()] == ["pending"]
    not_yet = await token_request(
        client,
        app_client,
        grant_type="password",
        username=clerk["raw"]["phone"],
        password=PASSWORD,
        acting_for=str(company["id"]),
    )
    oauth_problem(not_yet, 400, "invalid_request")
    # The clerk sees the invitation and accepts it.
    mine = await client.get("/identity/invitations", headers=bearer(clerk["token"]))
    assert [i["id"] for i in mine.json()] == [invited.json()["id"]]
    assert mine.json()[0]["legal_person"]["name"] == ACTIVE["name"]
    accepted = await client.post(
        f"/identity/invitations/{invited.json()['id']}/accept", headers=bearer(clerk["token"])
    )
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["status"] == "accepted"
    assert accepted.json()["decided_at"] is not None
    agents = await client.get(agents_path, headers=bearer(company["token"]))
    assert [(a["name"], a["id_number"]) for a in agents.json()] == [
        ("赵六", mask_resident_id(ACTIVE["legal_representative_id_number"])),
        ("孙小妹", mask_resident_id(clerk["raw"]["id_number"])),
    ]
    assert (await client.get("/identity/invitations", headers=bearer(clerk["token"]))).json() == []
    # The clerk acts for the company now.
    issued = await login(client, app_client, clerk["raw"]["phone"], acting_for=str(company["id"]))
    me = (await client.get("/identity/me", headers=bearer(issued["access_token"]))).json()
    assert me["acting_for"]["id"] == company["id"]
    # Answered once: a second answer is refused.
    again = await client.post(
        f"/identity/invitations/{invited.json()['id']}/decline", headers=bearer(clerk["token"])
    )
    assert is_problem(again, 409)["status"] == 409


async def test_a_person_who_registers_later_finds_the_invitation_and_declines(
    client: httpx.AsyncClient, app_client: Json, company: Json
) -> None:
    number = resident_id()
    invited = await invite(client, company, number)
    assert invited.status_code == 201, invited.text
    newcomer = await person_token(client, app_client, id_number=number)
    mine = (await client.get("/identity/invitations", headers=bearer(newcomer["token"]))).json()
    assert [i["id"] for i in mine] == [invited.json()["id"]]
    declined = await client.post(
        f"/identity/invitations/{invited.json()['id']}/decline", headers=bearer(newcomer["token"])
    )
    assert declined.status_code == 200, declined.text
    assert declined.json()["status"] == "declined"
    me = (await client.get("/identity/me", headers=bearer(newcomer["token"]))).json()
    assert me["agent_of"] == []
    listed = await client.get(invitations_path(company), headers=bearer(company["token"]))
    assert [i["status"] for i in listed.json()] == ["declined"]


async def test_an_expired_invitation_cannot_be_accepted(
    client: httpx.AsyncClient, app_client: Json, company: Json, session: AsyncSession
) -> None:
    clerk = await person_token(client, app_client)
    invited = (await invite(client, company, clerk["raw"]["id_number"])).json()
    await session.execute(
        update(AgentInvitation)
        .where(AgentInvitation.id == invited["id"])
        .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
    )
    assert (await client.get("/identity/invitations", headers=bearer(clerk["token"]))).json() == []
    refused = await client.post(
        f"/identity/invitations/{invited['id']}/accept", headers=bearer(clerk["token"])
    )
    assert is_problem(refused, 409)["status"] == 409
    assert "expired" in refused.json()["detail"]
    listed = await client.get(invitations_path(company), headers=bearer(company["token"]))
    assert [i["status"] for i in listed.json()] == ["expired"]
    # An expired invitation is no obstacle to a new one.
    assert (await invite(client, company, clerk["raw"]["id_number"])).status_code == 201


async def test_the_inviter_revokes_a_pending_invitation(
    client: httpx.AsyncClient, app_client: Json, company: Json
) -> None:
    clerk = await person_token(client, app_client)
    invited = (await invite(client, company, clerk["raw"]["id_number"])).json()
    duplicate = await invite(client, company, clerk["raw"]["id_number"])
    assert is_problem(duplicate, 409)["invitation_id"] == invited["id"]
    path = f"{invitations_path(company)}/{invited['id']}"
    revoked = await client.delete(path, headers=bearer(company["token"]))
    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["status"] == "revoked"
    assert (await client.get("/identity/invitations", headers=bearer(clerk["token"]))).json() == []
    refused = await client.post(
        f"/identity/invitations/{invited['id']}/accept", headers=bearer(clerk["token"])
    )
    is_problem(refused, 409)
    is_problem(await client.delete(path, headers=bearer(company["token"])), 409)
    me = (await client.get("/identity/me", headers=bearer(clerk["token"]))).json()
    assert me["agent_of"] == []


async def test_invitations_and_agents_are_for_the_companys_agents_only(
    client: httpx.AsyncClient, app_client: Json, company: Json
) -> None:
    clerk = await person_token(client, app_client, name="钱小六")
    invited = (await invite(client, company, clerk["raw"]["id_number"])).json()
    stranger = await person_token(client, app_client)
    headers = bearer(stranger["token"])
    base = f"/identity/legal-persons/{company['id']}"
    for response in (
        await client.get(f"{base}/invitations", headers=headers),
        await client.get(f"{base}/agents", headers=headers),
        await client.post(
            f"{base}/invitations", json={"id_number": resident_id()}, headers=headers
        ),
        await client.delete(f"{base}/invitations/{invited['id']}", headers=headers),
        # Someone else's invitation is nobody's but theirs to answer.
        await client.post(f"/identity/invitations/{invited['id']}/accept", headers=headers),
        await client.post(f"/identity/invitations/{invited['id']}/decline", headers=headers),
    ):
        body = is_problem(response, 404)
        assert clerk["name"] not in response.text
        assert ACTIVE["name"] not in body["detail"]
    me = (await client.get("/identity/me", headers=headers)).json()
    assert me["agent_of"] == []


async def test_the_old_binding_path_is_gone(
    client: httpx.AsyncClient, app_client: Json, company: Json
) -> None:
    clerk = await person_token(client, app_client)
    response = await client.post(
        f"/identity/legal-persons/{company['id']}/agents",
        json={"id_number": clerk["raw"]["id_number"]},
        headers=bearer(company["token"]),
    )
    assert is_problem(response, 405)["allow"] == ["GET"]
    me = (await client.get("/identity/me", headers=bearer(clerk["token"]))).json()
    assert me["agent_of"] == []


async def test_inviting_an_agent_or_an_invalid_number(
    client: httpx.AsyncClient, company: Json
) -> None:
    representative = company["representative"]["raw"]["id_number"]
    is_problem(await invite(client, company, representative), 409)
    number = resident_id()
    wrong = number[:17] + ("0" if number[17] != "0" else "1")
    body = is_problem(await invite(client, company, wrong), 422)
    assert [e["pointer"] for e in body["errors"]] == ["/body/id_number"]


async def test_pending_invitations_are_capped(
    client: httpx.AsyncClient, company: Json, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.identity import legal_persons

    monkeypatch.setattr(legal_persons, "MAX_PENDING_INVITATIONS", 2)
    for _ in range(2):
        assert (await invite(client, company, resident_id())).status_code == 201
    is_problem(await invite(client, company, resident_id()), 409)
