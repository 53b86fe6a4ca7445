"""Counting users: the counters (account_counts) equal COUNT(*) after registrations, refused
duplicates, rolled-back transactions, just-in-time partner accounts and concurrent registrations."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.config import Settings
from app.core.db import create_engine
from app.identity.accounts import account_totals
from app.main import create_app
from app.models.identity import LegalPerson, Person
from tests.conftest import ADMIN_TOKEN
from tests.identity.api_support import (
    PASSWORD,
    Json,
    Partner,
    bearer,
    create_client,
    enterprise,
    exchange,
    login,
    phone_number,
    register,
    register_company,
    representative_token,
    resident_id,
)


async def counts(session: AsyncSession) -> dict[str, int]:
    persons = await session.scalar(select(func.count()).select_from(Person))
    legal = await session.scalar(select(func.count()).select_from(LegalPerson))
    return {"persons": int(persons or 0), "legal_persons": int(legal or 0)}


async def assert_counters_exact(session: AsyncSession) -> dict[str, int]:
    actual = await counts(session)
    assert await account_totals(session) == actual
    return actual


async def test_registrations_and_refused_duplicates(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    before = await assert_counters_exact(session)
    first = await register(client)
    await register(client)
    refused = [
        await client.post(
            "/identity/persons",
            json={**first["raw"], "phone": phone_number()},  # the same ID number
        ),
        await client.post(
            "/identity/persons",
            json={**first["raw"], "id_number": resident_id()},  # the same phone
        ),
        await client.post(
            "/identity/persons",
            json={**first["raw"], "id_number": "123", "phone": phone_number()},  # 422
        ),
    ]
    assert [r.status_code for r in refused] == [409, 409, 422]
    after = await assert_counters_exact(session)
    assert after["persons"] == before["persons"] + 2


async def test_a_rolled_back_registration_is_not_counted(
    app: FastAPI, session: AsyncSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The row and its count are in one transaction: a failure after both takes both back."""
    before = await assert_counters_exact(session)

    def fail(person: Any) -> dict[str, Any]:
        raise RuntimeError("the answer could not be built")

    monkeypatch.setattr("app.routers.identity.masked_view", fail)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as failing:
        response = await failing.post(
            "/identity/persons",
            json={
                "name": "王五",
                "id_number": resident_id(),
                "phone": phone_number(),
                "password": PASSWORD,
            },
        )
    assert response.status_code == 500
    assert await assert_counters_exact(session) == before


async def test_legal_persons_are_counted(
    client: httpx.AsyncClient, session: AsyncSession, admin_headers: dict[str, str]
) -> None:
    before = await assert_counters_exact(session)
    app_client = await create_client(client, admin_headers)
    company = enterprise("enterprise-in-existence")
    _, token = await representative_token(client, app_client, company)
    assert (await register_company(client, token, company["uscc"])).status_code == 201
    assert (await register_company(client, token, company["uscc"])).status_code == 409
    after = await assert_counters_exact(session)
    assert after == {
        "persons": before["persons"] + 1,
        "legal_persons": before["legal_persons"] + 1,
    }


async def test_just_in_time_partner_accounts_are_counted_once(
    client: httpx.AsyncClient, session: AsyncSession, admin_headers: dict[str, str]
) -> None:
    partner = Partner()
    partner_client = await create_client(
        client, admin_headers, name="粤省事", kind="partner", partner=partner.body()
    )
    before = await assert_counters_exact(session)
    newcomer = resident_id("440106")
    for _ in range(2):
        assert (
            await exchange(client, partner_client, partner.id_token(newcomer))
        ).status_code == 200
    registered = await register(client)
    exchanged = await exchange(
        client, partner_client, partner.id_token(registered["raw"]["id_number"])
    )
    assert exchanged.status_code == 200
    refused = await exchange(client, partner_client, partner.id_token(resident_id(), aud="other"))
    assert refused.status_code == 400
    after = await assert_counters_exact(session)
    assert after["persons"] == before["persons"] + 2


# --- real commits, many connections ----------------------------------------------------------


@pytest.fixture
async def own_app(tmp_path: Path, fresh_database_url: str) -> AsyncIterator[FastAPI]:
    """A gateway on a database of its own: every request commits for real."""
    application = create_app(
        Settings(
            data_dir=tmp_path / "data", database_url=fresh_database_url, admin_token=ADMIN_TOKEN
        )
    )
    async with application.router.lifespan_context(application):
        yield application


async def exact_on(app: FastAPI) -> dict[str, int]:
    engine = create_engine(app.state.settings)
    try:
        async with AsyncSession(engine) as session:
            return await assert_counters_exact(session)
    finally:
        await engine.dispose()


async def test_concurrent_registrations_keep_the_counters_exact(own_app: FastAPI) -> None:
    numbers = [resident_id() for _ in range(12)]
    phones = [phone_number() for _ in range(16)]
    bodies: list[Json] = []
    for i in range(16):
        bodies.append(
            {
                "name": f"居民{i}",
                # 12 distinct numbers; 4 more registrations reuse the first ones.
                "id_number": numbers[i % 12],
                "phone": phones[i],
                "password": PASSWORD,
            }
        )
    # 4 more reuse a phone with a new number.
    for i in range(4):
        bodies.append(
            {
                "name": f"重号{i}",
                "id_number": resident_id(),
                "phone": phones[i],
                "password": PASSWORD,
            }
        )
    transport = httpx.ASGITransport(app=own_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        responses = await asyncio.gather(
            *(client.post("/identity/persons", json=body) for body in bodies)
        )
    statuses = Counter(r.status_code for r in responses)
    assert set(statuses) <= {201, 409}, [r.text for r in responses if r.status_code >= 500]
    won = [body for body, r in zip(bodies, responses, strict=True) if r.status_code == 201]
    lost = [body for body, r in zip(bodies, responses, strict=True) if r.status_code == 409]
    # One account per number and per phone; every refusal lost to an account that exists.
    assert len({b["id_number"] for b in won}) == len({b["phone"] for b in won}) == len(won)
    taken = {b["id_number"] for b in won} | {b["phone"] for b in won}
    assert all(b["id_number"] in taken or b["phone"] in taken for b in lost)
    assert 12 <= len(won) <= 16  # 8 share nothing; of each clashing triple, one or two win
    totals = await exact_on(own_app)
    assert totals["persons"] == len(won)


async def test_concurrent_first_visits_of_one_partner_resident_make_one_account(
    own_app: FastAPI,
) -> None:
    partner = Partner()
    transport = httpx.ASGITransport(app=own_app)
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        partner_client = await create_client(
            client, admin, name="粤省事", kind="partner", partner=partner.body()
        )
        number = resident_id("440106")
        responses = await asyncio.gather(
            *(exchange(client, partner_client, partner.id_token(number)) for _ in range(8))
        )
        assert [r.status_code for r in responses] == [200] * 8, [r.text for r in responses]
        subjects = set()
        for response in responses:
            me = await client.get("/identity/me", headers=bearer(response.json()["access_token"]))
            subjects.add(me.json()["id"])
        assert len(subjects) == 1
    assert (await exact_on(own_app))["persons"] == 1


async def test_concurrent_logins_and_refreshes_all_succeed(own_app: FastAPI) -> None:
    """Every grant writes (refresh tokens): concurrent ones wait their turn, none fails."""
    transport = httpx.ASGITransport(app=own_app)
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        app_client = await create_client(client, admin)
        people = [await register(client) for _ in range(4)]
        logins = await asyncio.gather(
            *(login(client, app_client, p["raw"]["phone"]) for p in people for _ in range(3))
        )
        refreshed = await asyncio.gather(
            *(
                client.post(
                    "/identity/token",
                    data={"grant_type": "refresh_token", "refresh_token": t["refresh_token"]},
                    auth=(app_client["client_id"], app_client["client_secret"]),
                )
                for t in logins
            )
        )
        assert [r.status_code for r in refreshed] == [200] * len(logins), [
            r.text for r in refreshed if r.status_code != 200
        ]
    assert (await exact_on(own_app))["persons"] == 4
