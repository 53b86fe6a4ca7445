"""A resident's access log (GET /identity/me/access-log): who read their personal data, newest
first, nobody else's; operators read the same by client (GET /ops/personal-data-reads) with a
masked reference to the resident, never the ID number."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from fastapi import FastAPI

from app.core.identifiers import mask_resident_id
from tests.identity.api_support import (
    Json,
    bearer,
    create_client,
    enterprise,
    is_problem,
    login,
    register,
    register_company,
    representative_token,
)
from tests.identity.conftest import register_stub, settings, transport_factory  # noqa: F401
from tests.ops.support import role_token

ACTIVE = enterprise("enterprise-in-existence")
T0 = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)


async def resident(client: httpx.AsyncClient, app_client: Json, **fields: Any) -> Json:
    person = await register(client, **fields)
    issued = await login(client, app_client, person["raw"]["phone"])
    return {**person, "token": issued["access_token"]}


async def access_log(client: httpx.AsyncClient, token: str, **params: Any) -> httpx.Response:
    return await client.get("/identity/me/access-log", params=params, headers=bearer(token))


async def test_agents_listed_by_a_fellow_agent_see_it_in_their_log_and_no_one_else_does(
    app: FastAPI, client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    app_client = await create_client(client, admin_headers, name="湘易办")
    representative, token = await representative_token(client, app_client, ACTIVE, name="赵六")
    company = await register_company(client, token, ACTIVE["uscc"])
    assert company.status_code == 201, company.text
    clerk = await resident(client, app_client, name="孙小妹")
    invited = await client.post(
        f"/identity/legal-persons/{company.json()['id']}/invitations",
        json={"id_number": clerk["raw"]["id_number"]},
        headers=bearer(token),
    )
    assert invited.status_code == 201
    accepted = await client.post(
        f"/identity/invitations/{invited.json()['id']}/accept", headers=bearer(clerk["token"])
    )
    assert accepted.status_code == 200
    stranger = await resident(client, app_client, name="路人")
    # Reading one's own profile is not someone else reading it.
    assert (await client.get("/identity/me", headers=bearer(clerk["token"]))).status_code == 200

    agents = await client.get(
        f"/identity/legal-persons/{company.json()['id']}/agents", headers=bearer(token)
    )
    assert agents.status_code == 200
    await app.state.audit.flush()

    log = await access_log(client, clerk["token"])
    assert log.status_code == 200, log.text
    reads = log.json()["reads"]
    # The representative's token listed the agents (and the invitation the clerk answered named
    # the representative, which is the representative's log, not the clerk's).
    assert [(r["kind"], r["client"]) for r in reads] == [
        ("identity-lookup", {"id": app_client["client_id"], "name": "湘易办"})
    ]
    assert "agents of legal person" in reads[0]["purpose"]
    assert reads[0]["service"] is None
    assert log.json()["next_cursor"] is None
    # The representative: the clerk's view of the invitation named them (its inviter).
    mine = (await access_log(client, token)).json()["reads"]
    assert all("agents" not in r["purpose"] for r in mine)
    assert (await access_log(client, stranger["token"])).json()["reads"] == []
    assert representative["raw"]["id_number"] not in log.text


async def test_newest_first_in_pages_and_only_ones_own(
    app: FastAPI, client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    app_client = await create_client(client, admin_headers, name="湘易办")
    me = await resident(client, app_client)
    other = await resident(client, app_client)
    audit = app.state.audit
    for minute in (1, 5, 3, 5, 2):  # two at the same moment: their order is by id
        audit.record_personal_read(
            person_id=me["id"],
            purpose=f"read at {minute}",
            kind="gateway-call",
            client_id=app_client["client_id"],
            service="430100/zwfw",
            request_id=f"r-{minute}",
            at=T0 + timedelta(minutes=minute),
        )
    audit.record_personal_read(
        person_id=other["id"],
        purpose="someone else's",
        kind="gateway-call",
        client_id=app_client["client_id"],
        service="430100/zwfw",
        request_id="r-other",
        at=T0 + timedelta(minutes=4),
    )
    await audit.flush()

    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        params = {"limit": "2", **({"cursor": cursor} if cursor else {})}
        page = await access_log(client, me["token"], **params)
        assert page.status_code == 200, page.text
        seen += [r["purpose"] for r in page.json()["reads"]]
        pages += 1
        cursor = page.json()["next_cursor"]
        if cursor is None:
            break
    assert pages == 3
    assert seen == ["read at 5", "read at 5", "read at 3", "read at 2", "read at 1"]
    whole = (await access_log(client, me["token"])).json()
    assert whole["limit"] == 20
    assert [r["purpose"] for r in whole["reads"]] == seen
    first = whole["reads"][0]
    assert set(first) == {"at", "client", "service", "purpose", "kind"}
    assert first["service"] == "430100/zwfw"
    theirs = (await access_log(client, other["token"])).json()["reads"]
    assert [r["purpose"] for r in theirs] == ["someone else's"]

    # A cursor is the resident's own: another resident cannot continue it.
    page = await access_log(client, me["token"], limit="2")
    stolen = await access_log(client, other["token"], cursor=page.json()["next_cursor"])
    assert is_problem(stolen, 422)["errors"][0]["pointer"] == "/query/cursor"


async def test_bad_parameters_are_named_and_only_residents_have_a_log(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    app_client = await create_client(client, admin_headers)
    me = await resident(client, app_client)
    for params, pointers in (
        ({"limit": "0"}, ["/query/limit"]),
        ({"limit": "101"}, ["/query/limit"]),
        ({"limit": "x"}, ["/query/limit"]),
        ({"limit": "0", "cursor": "garbage"}, ["/query/limit"]),
        ({"cursor": "garbage.abc"}, ["/query/cursor"]),
    ):
        problem = is_problem(await access_log(client, me["token"], **params), 422)
        assert [e["pointer"] for e in problem["errors"]] == pointers, params
    assert (await client.get("/identity/me/access-log")).status_code == 401
    refused = await client.get("/identity/me/access-log", headers=admin_headers)
    assert refused.status_code == 403


async def test_operators_read_by_client_with_a_masked_reference(
    app: FastAPI, client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    app_client = await create_client(client, admin_headers, name="湘易办")
    other_client = await create_client(client, admin_headers, name="别的应用")
    me = await resident(client, app_client)
    audit = app.state.audit
    for n, (client_id, service) in enumerate(
        (
            (app_client["client_id"], "430100/zwfw"),
            (app_client["client_id"], "430600/zwfw"),
            (other_client["client_id"], "430100/zwfw"),
        )
    ):
        audit.record_personal_read(
            person_id=me["id"],
            purpose=f"purpose {n}",
            kind="gateway-call",
            client_id=client_id,
            service=service,
            request_id=f"req-{n}",
            at=T0 + timedelta(minutes=n),
        )
    await audit.flush()
    operator = await role_token(client, admin_headers, "operator")
    answer = await client.get(
        "/ops/personal-data-reads", params={"client": app_client["client_id"]}, headers=operator
    )
    assert answer.status_code == 200, answer.text
    reads = answer.json()["reads"]
    assert [r["purpose"] for r in reads] == ["purpose 1", "purpose 0"]
    assert {r["id_number_masked"] for r in reads} == {mask_resident_id(me["raw"]["id_number"])}
    assert len({r["person_ref"] for r in reads}) == 1
    assert reads[0]["person_ref"] != str(me["id"])
    assert reads[0]["request_id"] == "req-1"
    assert me["raw"]["id_number"] not in answer.text
    # A division admin: reads through its division's services only.
    chenzhou = await role_token(
        client, admin_headers, "division_admin", division="430100", name="长沙市数据局"
    )
    scoped = await client.get("/ops/personal-data-reads", headers=chenzhou)
    assert scoped.status_code == 200, scoped.text
    assert [r["purpose"] for r in scoped.json()["reads"]] == ["purpose 2", "purpose 0"]
    # Everyone else: refused; bad parameters named.
    resident_token = bearer(me["token"])
    assert (await client.get("/ops/personal-data-reads", headers=resident_token)).status_code == 403
    bad = await client.get(
        "/ops/personal-data-reads",
        params={"client": "no such!", "kind": "peek", "limit": "0", "since": "yesterday"},
        headers=operator,
    )
    pointers = sorted(e["pointer"] for e in is_problem(bad, 422)["errors"])
    assert pointers == ["/query/client", "/query/kind", "/query/limit", "/query/since"]
