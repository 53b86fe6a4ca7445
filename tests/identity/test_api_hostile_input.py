"""Input no legitimate caller sends (NUL bytes, control characters, absurd values) is refused
as the caller's mistake (4xx problem), never a 500 from the database (PostgreSQL refuses NUL in
text and JSON)."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.identity.api_support import (
    PASSWORD,
    Json,
    Partner,
    bearer,
    create_client,
    enterprise,
    exchange,
    is_problem,
    login,
    oauth_problem,
    phone_number,
    register,
    register_company,
    representative_token,
    resident_id,
    token_request,
)

NUL = "\x00"


@pytest.fixture
async def app_client(client: httpx.AsyncClient, admin_headers: dict[str, str]) -> Json:
    return await create_client(client, admin_headers)


@pytest.mark.parametrize("name", [f"张{NUL}三", "张\x07三", "张\u2028三"])
async def test_names_with_control_characters_are_refused(
    client: httpx.AsyncClient, name: str
) -> None:
    response = await client.post(
        "/identity/persons",
        json={
            "name": name,
            "id_number": resident_id(),
            "phone": phone_number(),
            "password": PASSWORD,
        },
    )
    assert [e["pointer"] for e in is_problem(response, 422)["errors"]] == ["/body/name"]


@pytest.mark.parametrize("field", ["name", "legal_representative"])
async def test_legal_person_names_with_nul_never_reach_the_database(
    client: httpx.AsyncClient, app_client: Json, field: str
) -> None:
    company = enterprise("enterprise-in-existence")
    _, token = await representative_token(client, app_client, company)
    response = await register_company(client, token, company["uscc"], **{field: f"x{NUL}y"})
    assert response.status_code == 201, response.text  # submitted names are ignored
    assert response.json()[field] == company[field]  # the register's


@pytest.mark.parametrize("client_id", [NUL, f"cli_{NUL}", "x" * 500])
async def test_token_requests_with_impossible_client_ids(
    client: httpx.AsyncClient, client_id: str
) -> None:
    form = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": "s"}
    response = await client.post("/identity/token", data=form)
    oauth_problem(response, 401, "invalid_client")
    basic = await client.post(
        "/identity/token", data={"grant_type": "client_credentials"}, auth=(client_id, "s")
    )
    oauth_problem(basic, 401, "invalid_client")


@pytest.mark.parametrize("token", [f"{NUL}.{NUL}", f"abc{NUL}.secret", "a" * 5000 + ".b"])
async def test_impossible_refresh_tokens(
    client: httpx.AsyncClient, app_client: Json, token: str
) -> None:
    response = await token_request(
        client, app_client, grant_type="refresh_token", refresh_token=token
    )
    oauth_problem(response, 400, "invalid_grant")


@pytest.mark.parametrize("username", [NUL, f"1380013{NUL}8000", "9" * 5000])
async def test_impossible_usernames(
    client: httpx.AsyncClient, app_client: Json, username: str
) -> None:
    response = await token_request(
        client, app_client, grant_type="password", username=username, password=PASSWORD
    )
    oauth_problem(response, 400, "invalid_grant")


@pytest.mark.parametrize(
    "body",
    [
        {"name": f"app{NUL}", "kind": "app"},
        {"name": "app", "kind": "app", "roles": [NUL]},
    ],
)
async def test_admin_client_fields_with_nul(
    client: httpx.AsyncClient, admin_headers: dict[str, str], body: Json
) -> None:
    response = await client.post("/admin/clients", json=body, headers=admin_headers)
    is_problem(response, 422)


async def test_partner_issuer_with_nul(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    partner = Partner(issuer=f"https://x{NUL}.example")
    response = await client.post(
        "/admin/clients",
        json={"name": "粤省事", "kind": "partner", "partner": partner.body()},
        headers=admin_headers,
    )
    is_problem(response, 422)


async def test_grant_operations_with_nul(
    client: httpx.AsyncClient, admin_headers: dict[str, str], app_client: Json
) -> None:
    response = await client.post(
        f"/admin/clients/{app_client['client_id']}/grants",
        json={"division": "430100", "slug": "zwfw", "operations": [f"op{NUL}"]},
        headers=admin_headers,
    )
    is_problem(response, 422)


async def test_patching_a_client_name_with_nul(
    client: httpx.AsyncClient, admin_headers: dict[str, str], app_client: Json
) -> None:
    response = await client.patch(
        f"/admin/clients/{app_client['client_id']}",
        json={"name": f"x{NUL}"},
        headers=admin_headers,
    )
    is_problem(response, 422)


@pytest.mark.parametrize("field", ["name", "password", "id_number", "phone"])
async def test_lone_surrogates_are_refused(client: httpx.AsyncClient, field: str) -> None:
    body = {
        "name": "张三",
        "id_number": resident_id(),
        "phone": phone_number(),
        "password": PASSWORD,
    }
    body[field] = body[field] + "\ud800"
    response = await client.post(
        "/identity/persons",
        content=json.dumps(body),  # ensure_ascii: the surrogate travels as \\ud800
        headers={"Content-Type": "application/json"},
    )
    assert f"/body/{field}" in [e["pointer"] for e in is_problem(response, 422)["errors"]]


@pytest.mark.parametrize("uscc", ["91350100M000100Y4\ud800", f"91350100M000100Y4{NUL}"])
async def test_credit_codes_with_junk_characters(
    client: httpx.AsyncClient, app_client: Json, uscc: str
) -> None:
    person = await register(client)
    token = (await login(client, app_client, person["raw"]["phone"]))["access_token"]
    body = {"name": "某公司", "uscc": uscc, "legal_representative": "赵六"}
    response = await client.post(
        "/identity/legal-persons",
        content=json.dumps(body),
        headers={**bearer(token), "Content-Type": "application/json"},
    )
    assert [e["pointer"] for e in is_problem(response, 422)["errors"]] == ["/body/uscc"]


@pytest.mark.parametrize("last", ["\ud800", NUL])
async def test_id_numbers_ending_in_junk(
    client: httpx.AsyncClient, app_client: Json, last: str
) -> None:
    number = resident_id()[:17] + last
    body = {"name": "张三", "id_number": number, "phone": phone_number(), "password": PASSWORD}
    response = await client.post(
        "/identity/persons",
        content=json.dumps(body),
        headers={"Content-Type": "application/json"},
    )
    assert [e["pointer"] for e in is_problem(response, 422)["errors"]] == ["/body/id_number"]
    company = enterprise("enterprise-in-existence")
    _, token = await representative_token(client, app_client, company)
    created = await register_company(client, token, company["uscc"])
    bound = await client.post(
        f"/identity/legal-persons/{created.json()['id']}/invitations",
        content=json.dumps({"id_number": number}),
        headers={**bearer(token), "Content-Type": "application/json"},
    )
    assert [e["pointer"] for e in is_problem(bound, 422)["errors"]] == ["/body/id_number"]


@pytest.mark.parametrize(
    ("claimed", "kept"), [(f"李{NUL}四", "李四"), ("李" * 300, "李" * 100), (42, "")]
)
async def test_a_partners_odd_name_claim_does_not_break_the_first_visit(
    client: httpx.AsyncClient, admin_headers: dict[str, str], claimed: object, kept: str
) -> None:
    partner = Partner()
    partner_client = await create_client(
        client, admin_headers, name="粤省事", kind="partner", partner=partner.body()
    )
    response = await exchange(
        client, partner_client, partner.id_token(resident_id("440106"), name=claimed)
    )
    assert response.status_code == 200, response.text
    me = await client.get("/identity/me", headers=bearer(response.json()["access_token"]))
    assert me.json()["name"] == kept
