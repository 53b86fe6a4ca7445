"""Accounts over HTTP: registering residents, /identity/me, what registering a legal person
refuses before the register is asked (legal persons and agents: test_api_legal_persons.py)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import httpx
import pytest
import respx

from app.core.identifiers import (
    make_resident_id,
    make_uscc,
    resident_id_check_char,
    uscc_check_char,
)
from tests.identity.api_support import (
    PASSWORD,
    Json,
    bearer,
    client_token,
    create_client,
    is_problem,
    login,
    oauth_problem,
    phone_number,
    register,
    resident_id,
    token_request,
)

VECTORS = json.loads(
    (Path(__file__).resolve().parents[2] / "app" / "data" / "test_vectors.json").read_text()
)
OTHER_PROVINCES = [v["value"] for v in VECTORS["resident_id"] if v["check_ok"]]
VALID_USCC = [v["value"] for v in VECTORS["uscc"] if v["check_ok"] and v["org_code_check_ok"]]


@pytest.fixture
async def app_client(client: httpx.AsyncClient, admin_headers: dict[str, str]) -> Json:
    return await create_client(client, admin_headers)


def wrong_check_digit(number: str) -> tuple[str, str]:
    """``number`` with a wrong last character, and the one it should have."""
    expected = resident_id_check_char(number[:17])
    wrong = "0" if expected != "0" else "1"
    return number[:17] + wrong, expected


# --- registration ----------------------------------------------------------------------------


async def test_registration_answers_masked_forms(client: httpx.AsyncClient) -> None:
    number = make_resident_id("430121", date(1985, 3, 9), 123)
    response = await client.post(
        "/identity/persons",
        json={"name": "  王五 ", "id_number": number, "phone": "13812345678", "password": PASSWORD},
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["id_number"] == f"4301{'*' * 10}{number[-4:]}"
    assert body["phone"] == "138****5678"
    assert body["name"] == "王五"
    assert body["assurance"] == 1
    assert body["source"] == "registered"
    assert body["status"] == "active"
    assert isinstance(body["id"], int)
    assert number not in response.text
    assert "13812345678" not in response.text
    assert "password" not in body


async def test_a_lower_case_x_is_the_same_number(client: httpx.AsyncClient) -> None:
    number = "11010519491231002X"
    created = await register(client, id_number=number.lower())
    assert created["id_number"] == "1101**********002X"
    again = await client.post(
        "/identity/persons",
        json={"name": "x", "id_number": number, "phone": phone_number(), "password": PASSWORD},
    )
    is_problem(again, 409)


@pytest.mark.parametrize("number", OTHER_PROVINCES)
async def test_residents_of_every_province_may_register(
    client: httpx.AsyncClient, number: str
) -> None:
    created = await register(client, id_number=number)
    assert created["id_number"] == number[:4] + "*" * 10 + number[-4:]


async def test_every_invalid_field_gets_its_own_entry(client: httpx.AsyncClient) -> None:
    number, expected = wrong_check_digit(resident_id())
    response = await client.post(
        "/identity/persons",
        json={"name": "   ", "id_number": number, "phone": "12345", "password": "short"},
    )
    body = is_problem(response, 422)
    by_pointer = {e["pointer"]: e["detail"] for e in body["errors"]}
    assert set(by_pointer) == {"/body/name", "/body/id_number", "/body/phone", "/body/password"}
    assert f"check digit should be {expected}" in by_pointer["/body/id_number"]
    assert "8" in by_pointer["/body/password"]
    assert number not in response.text


@pytest.mark.parametrize(
    ("id_number", "fragment"),
    [
        (make_resident_id("990101", date(1990, 1, 1), 1), "not in a known province"),
        ("43010219900230" + "0011", "not a real date"),
        (make_resident_id("430102", date(2999, 1, 1), 1), "in the future"),
        ("4301021990", "18 characters"),
        ("43010219900101001A", "digit"),
    ],
)
async def test_id_number_reasons(client: httpx.AsyncClient, id_number: str, fragment: str) -> None:
    response = await client.post(
        "/identity/persons",
        json={"name": "x", "id_number": id_number, "phone": phone_number(), "password": PASSWORD},
    )
    body = is_problem(response, 422)
    details = [e["detail"] for e in body["errors"] if e["pointer"] == "/body/id_number"]
    assert any(fragment in d for d in details), details
    assert all(e["pointer"] == "/body/id_number" for e in body["errors"])


async def test_fields_out_of_bounds_are_reported_together(client: httpx.AsyncClient) -> None:
    """A field too long for the model must not hide the others' problems."""
    number, expected = wrong_check_digit(resident_id())
    response = await client.post(
        "/identity/persons",
        json={"name": "", "id_number": number, "phone": "1" * 30, "password": "x" * 300},
    )
    body = is_problem(response, 422)
    pointers = [e["pointer"] for e in body["errors"]]
    assert sorted(set(pointers)) == [
        "/body/id_number",
        "/body/name",
        "/body/password",
        "/body/phone",
    ]
    assert any(f"should be {expected}" in e["detail"] for e in body["errors"])


@pytest.mark.parametrize(
    ("password", "fragment"),
    [
        ("1234567", "at least 8"),
        ("p" * 129, "at most 128"),
        ("PHONE", "must not be the phone"),
        ("ID", "must not be the phone number or the ID number"),
    ],
)
async def test_password_rules(client: httpx.AsyncClient, password: str, fragment: str) -> None:
    number, phone = resident_id(), phone_number()
    password = {"PHONE": phone, "ID": number}.get(password, password)
    response = await client.post(
        "/identity/persons",
        json={"name": "x", "id_number": number, "phone": phone, "password": password},
    )
    body = is_problem(response, 422)
    assert [e["pointer"] for e in body["errors"]] == ["/body/password"]
    assert fragment in body["errors"][0]["detail"]


async def test_one_account_per_id_number_and_per_phone(client: httpx.AsyncClient) -> None:
    first = await register(client)
    same_number = await client.post(
        "/identity/persons",
        json={
            "name": "冒名",
            "id_number": first["raw"]["id_number"],
            "phone": phone_number(),
            "password": PASSWORD,
        },
    )
    assert "ID number" in is_problem(same_number, 409)["detail"]
    same_phone = await client.post(
        "/identity/persons",
        json={
            "name": "另一人",
            "id_number": resident_id(),
            "phone": first["raw"]["phone"],
            "password": PASSWORD,
        },
    )
    assert "phone" in is_problem(same_phone, 409)["detail"]


# --- /identity/me ------------------------------------------------------------------------------


async def test_me_answers_for_the_token_masked(client: httpx.AsyncClient, app_client: Json) -> None:
    person = await register(client, phone="13812345678")
    issued = await login(client, app_client, person["raw"]["id_number"])
    me = await client.get("/identity/me", headers=bearer(issued["access_token"]))
    assert me.status_code == 200, me.text
    body = me.json()
    assert body["id"] == person["id"]
    assert body["id_number"] == person["id_number"]
    assert body["phone"] == "138****5678"
    assert body["acting_for"] is None
    assert body["agent_of"] == []
    assert person["raw"]["id_number"] not in me.text
    assert "13812345678" not in me.text


async def test_me_without_a_token_is_401(client: httpx.AsyncClient) -> None:
    response = await client.get("/identity/me")
    is_problem(response, 401)
    assert response.headers["www-authenticate"].startswith("Bearer")


async def test_me_with_an_application_token_is_403(
    client: httpx.AsyncClient, app_client: Json
) -> None:
    token = await client_token(client, app_client)
    is_problem(await client.get("/identity/me", headers=bearer(token)), 403)


# --- legal persons -----------------------------------------------------------------------------


async def person_token(client: httpx.AsyncClient, app_client: Json) -> tuple[Json, str]:
    person = await register(client)
    issued = await login(client, app_client, person["raw"]["phone"])
    return person, issued["access_token"]


def _replace(code: str, index: int, char: str) -> str:
    return code[:index] + char + code[index + 1 :]


def _inner_check_broken() -> str:
    """A code whose GB 11714 check (character 17) is wrong but whose GB 32100 check fits it."""
    good = make_uscc("91", "430100", "MA4L0001")
    first17 = good[:16] + ("0" if good[16] != "0" else "1")
    return first17 + uscc_check_char(first17)


@pytest.mark.parametrize(
    ("uscc", "fragment"),
    [
        # The outer GB 32100 check character is wrong.
        (_replace(VALID_USCC[0], 17, "0" if VALID_USCC[0][17] != "0" else "1"), "check character"),
        # The inner GB 11714 check is wrong, though the outer check is recomputed to fit.
        (_inner_check_broken(), "GB 11714"),
        ("91350100M000100Y4", "18 characters"),
        ("91350100M000100I43", "not allowed"),
    ],
)
async def test_invalid_credit_codes_are_refused_with_the_reason(
    client: httpx.AsyncClient,
    app_client: Json,
    register_stub: respx.MockRouter,
    uscc: str,
    fragment: str,
) -> None:
    _, token = await person_token(client, app_client)
    response = await client.post(
        "/identity/legal-persons",
        json={"name": "某公司", "uscc": uscc, "legal_representative": "赵六"},
        headers=bearer(token),
    )
    body = is_problem(response, 422)
    assert {e["pointer"] for e in body["errors"]} == {"/body/uscc"}
    assert any(fragment in e["detail"] for e in body["errors"]), body
    assert not register_stub.calls  # refused before the register is asked


async def test_registering_a_legal_person_needs_a_resident(
    client: httpx.AsyncClient, app_client: Json
) -> None:
    body = {"name": "某公司", "uscc": VALID_USCC[0], "legal_representative": "赵六"}
    is_problem(await client.post("/identity/legal-persons", json=body), 401)
    token = await client_token(client, app_client)
    is_problem(await client.post("/identity/legal-persons", json=body, headers=bearer(token)), 403)


@pytest.mark.parametrize("acting_for", ["0", "99999999999999999999999", "-1", "abc", "1.5"])
async def test_acting_for_must_be_a_legal_person_id(
    client: httpx.AsyncClient, app_client: Json, acting_for: str
) -> None:
    person = await register(client)
    response = await token_request(
        client,
        app_client,
        grant_type="password",
        username=person["raw"]["phone"],
        password=PASSWORD,
        acting_for=acting_for,
    )
    oauth_problem(response, 400, "invalid_request")


@pytest.mark.parametrize("legal_person_id", ["0", "99999999999999999999999"])
@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_invitation_paths_take_plausible_ids_only(
    client: httpx.AsyncClient, app_client: Json, legal_person_id: str, method: str
) -> None:
    _, token = await person_token(client, app_client)
    response = await client.request(
        method,
        f"/identity/legal-persons/{legal_person_id}/invitations",
        json={"id_number": resident_id()} if method == "POST" else None,
        headers=bearer(token),
    )
    assert response.status_code in (404, 422), response.text
    assert response.headers["content-type"].startswith("application/problem+json")
