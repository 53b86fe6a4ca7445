"""Personal data never leaks: a full flow's logs, answers and database rows hold neither the raw
ID number nor the raw phone number (nor the password) of the resident."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path

import httpx
import pytest
import respx
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.db import Base
from app.core.identifiers import make_resident_id
from app.core.logging import JsonFormatter, RequestIdFilter
from app.gateway.routetable import TransportFactory
from app.models.identity import Person
from app.simulators import SimulatorHost, openapi_document
from tests.contract_stubs import transport_for
from tests.identity.api_support import (
    FUND_ACCOUNT,
    Partner,
    bearer,
    create_client,
    exchange,
    grant,
    identity,
    onboard_changsha,
    segments,
)
from tests.servers import live_gateway

# The resident of the flow: values that appear nowhere else (not in any contract or simulator).
RAW_ID = make_resident_id("430611", date(1987, 6, 15), 271)  # 岳阳
RAW_PHONE = "13973061542"
PASSWORD = "Yueyang-2024-lake"
PARTNER_ID = make_resident_id("440106", date(1992, 2, 29), 408)
SECRETS = (RAW_ID, RAW_PHONE, PASSWORD, PARTNER_ID)


class Capture(logging.Handler):
    """Every formatted log line of the gateway's loggers and uvicorn's."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.setFormatter(JsonFormatter())
        self.addFilter(RequestIdFilter())
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


LOGGERS = ("xyb", "uvicorn", "uvicorn.access", "uvicorn.error")


@pytest.fixture
def logs() -> Iterator[Capture]:
    handler = Capture()
    previous = {}
    for name in LOGGERS:
        logger = logging.getLogger(name)
        previous[name] = logger.level
        logger.addHandler(handler)
        logger.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        for name in LOGGERS:
            logger = logging.getLogger(name)
            logger.removeHandler(handler)
            logger.setLevel(previous[name])


@pytest.fixture
def upstream(contract_stub: Callable[..., respx.MockRouter]) -> respx.MockRouter:
    return contract_stub("municipal/changsha")


@pytest.fixture
def transport_factory(upstream: respx.MockRouter) -> TransportFactory:
    return lambda base_url, max_connections: transport_for(upstream)


class Recorder:
    """Every answer of the flow, as text: status line, headers and body."""

    def __init__(self) -> None:
        self.texts: list[str] = []

    async def __call__(self, response: httpx.Response) -> None:
        await response.aread()
        headers = "\n".join(f"{k}: {v}" for k, v in response.headers.items())
        self.texts.append(f"{response.status_code}\n{headers}\n{response.text}")
        # Tokens are base64url: look inside the JWTs the flow was given, too.
        try:
            body = response.json()
        except ValueError:
            return
        if isinstance(body, dict):
            for name in ("access_token", "refresh_token"):
                token = body.get(name)
                if isinstance(token, str) and token.count(".") == 2:
                    header, claims, _ = segments(token)
                    self.texts.append(json.dumps([header, claims], ensure_ascii=False))


def assert_nothing_personal(where: str, text: str) -> None:
    for secret in SECRETS:
        at = text.find(secret)
        assert at < 0, f"{secret} appears in {where}: ...{text[max(0, at - 300) : at + 60]}..."
    # Nor in the forms a log or URL might use.
    assert RAW_ID.lower() not in text.lower(), where
    assert RAW_ID[:17] not in text, where


async def full_flow(
    client: httpx.AsyncClient, admin: dict[str, str], *, with_partner: bool = True
) -> None:
    """Register, refusals, login both ways, /identity/me, /gw calls, refresh, partner SSO."""
    app_client = await create_client(client, admin)
    await grant(client, admin, app_client["client_id"])
    auth = (app_client["client_id"], app_client["client_secret"])
    person = {"name": "刘洋", "id_number": RAW_ID, "phone": RAW_PHONE, "password": PASSWORD}
    assert (await client.post("/identity/persons", json=person)).status_code == 201
    duplicate = {**person, "phone": "13900000001"}
    assert (await client.post("/identity/persons", json=duplicate)).status_code == 409
    same_phone = {**person, "id_number": make_resident_id("430611", date(1990, 1, 1), 3)}
    assert (await client.post("/identity/persons", json=same_phone)).status_code == 409
    bad = {**person, "id_number": RAW_ID[:17] + ("0" if RAW_ID[17] != "0" else "1")}
    assert (await client.post("/identity/persons", json=bad)).status_code == 422
    same_as_phone = {**person, "password": RAW_PHONE}
    assert (await client.post("/identity/persons", json=same_as_phone)).status_code == 422
    wrong = {"grant_type": "password", "username": RAW_PHONE, "password": "not-it-at-all"}
    assert (await client.post("/identity/token", data=wrong, auth=auth)).status_code == 400
    tokens = []
    for username in (RAW_ID, RAW_PHONE):
        form = {"grant_type": "password", "username": username, "password": PASSWORD}
        issued = await client.post("/identity/token", data=form, auth=auth)
        assert issued.status_code == 200, issued.text
        tokens.append(issued.json())
    headers = bearer(tokens[0]["access_token"])
    assert (await client.get("/identity/me", headers=headers)).status_code == 200
    # Through the gateway: the ID number travels to the service (personal) only inside the
    # signed assertion; the paths and queries here carry it, as apps do.
    assert (await client.get("/gw/430100/zwfw" + FUND_ACCOUNT, headers=headers)).status_code in (
        200,
        404,
    )
    refusals = [
        await client.get(f"/gw/430100/zwfw/gjj/accounts/{RAW_ID}"),  # no token: 401
        await client.get(f"/gw/430100/zwfw/gjj/accounts/{RAW_ID}", headers=bearer("x.y.z")),  # 401
        await client.get(f"/gw/430100/nosuch/gjj/accounts/{RAW_ID}", headers=headers),  # 404
        await client.get(f"/identity/me?id_number={RAW_ID}&phone={RAW_PHONE}"),  # 401
        await client.get(
            "/gw/430100/zwfw/bdc/records", params={"id_number": RAW_ID + "9"}, headers=headers
        ),  # 422
    ]
    assert all(r.status_code in (401, 403, 404, 422) for r in refusals), refusals
    refreshed = await client.post(
        "/identity/token",
        data={"grant_type": "refresh_token", "refresh_token": tokens[1]["refresh_token"]},
        auth=auth,
    )
    assert refreshed.status_code == 200, refreshed.text
    if with_partner:
        partner = Partner()
        partner_client = await create_client(
            client, admin, name="粤省事", kind="partner", partner=partner.body()
        )
        exchanged = await exchange(client, partner_client, partner.id_token(PARTNER_ID))
        assert exchanged.status_code == 200, exchanged.text
        me = await client.get("/identity/me", headers=bearer(exchanged.json()["access_token"]))
        assert me.status_code == 200


async def test_a_full_flow_leaks_no_personal_data(
    client: httpx.AsyncClient,
    app: FastAPI,
    session: AsyncSession,
    admin_headers: dict[str, str],
    upstream: respx.MockRouter,
    logs: Capture,
) -> None:
    recorder = Recorder()
    client.event_hooks["response"].append(recorder)
    await onboard_changsha(client, admin_headers, data_classification="personal")
    await full_flow(client, admin_headers)
    await identity(app).refresh()
    assert len(recorder.texts) > 15
    assert logs.lines  # the flow was logged (one access line per request at least)
    assert any('"logger": "xyb.access"' in line for line in logs.lines)
    assert_nothing_personal("the answers", "\n".join(recorder.texts))
    assert_nothing_personal("the logs", "\n".join(logs.lines))
    # The service was told the ID number (personal data), in the signed assertion only.
    told = [segments(call.request.headers["x-xyb-assertion"])[1] for call in upstream.calls]
    assert [claims.get("id_number") for claims in told] == [RAW_ID]
    # At rest: encrypted, hashed and masked columns only.
    row = (await session.execute(select(Person).where(Person.name == "刘洋"))).scalar_one()
    assert row.id_number_masked == RAW_ID[:4] + "*" * 10 + RAW_ID[-4:]
    assert row.phone_masked == RAW_PHONE[:3] + "****" + RAW_PHONE[-4:]
    assert row.id_number_enc.startswith("v1.")
    assert row.phone_enc is not None
    assert row.phone_enc.startswith("v1.")
    assert row.password_hash is not None
    assert row.password_hash.startswith("$argon2id$")
    cipher = identity(app).cipher
    assert cipher.decrypt(row.id_number_enc, context="person.id_number") == RAW_ID
    # No column of any table holds a raw value.
    for table in Base.metadata.sorted_tables:
        rows = (await session.execute(select(table))).all()
        assert_nothing_personal(f"table {table.name}", "\n".join(map(repr, rows)))


async def test_an_unmatched_gateway_path_is_not_echoed(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    await onboard_changsha(client, admin_headers)
    app_client = await create_client(client, admin_headers)
    await grant(client, admin_headers, app_client["client_id"])
    issued = await client.post(
        "/identity/token",
        data={"grant_type": "client_credentials"},
        auth=(app_client["client_id"], app_client["client_secret"]),
    )
    headers = bearer(issued.json()["access_token"])
    response = await client.get(f"/gw/430100/zwfw/nothing/{RAW_ID}", headers=headers)
    assert response.status_code == 404
    assert_nothing_personal("the 404", response.text)


def test_uvicorn_access_lines_stay_off() -> None:
    """uvicorn's own access line would carry the raw path (and the ID numbers in it)."""
    from app.core.logging import logging_config

    config = logging_config("debug")
    access = config["loggers"]["uvicorn.access"]
    assert access["handlers"] == []
    assert access["propagate"] is False
    assert access["level"] == "CRITICAL"


@pytest.mark.slow
async def test_a_live_servers_log_holds_no_personal_data(
    tmp_path: Path, fresh_database_url: str
) -> None:
    """The same flow against `xyb serve` (uvicorn, real sockets): its whole output is clean."""
    token = "privacy-admin-token-0123456789abcdef0123"
    env = {
        "XYB_DATABASE_URL": fresh_database_url,
        "XYB_ADMIN_TOKEN": token,
        "XYB_DATA_KEY": os.environ["XYB_DATA_KEY"],
        "XYB_LOG_LEVEL": "debug",
    }
    admin = {"Authorization": f"Bearer {token}"}
    async with SimulatorHost(divisions=["430100"], control=False) as simulator:
        with live_gateway(tmp_path, env) as server:
            async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
                recorder = Recorder()
                client.event_hooks["response"].append(recorder)
                onboarded = await client.post(
                    "/admin/services",
                    json={
                        "division": "430100",
                        "slug": "zwfw",
                        "name": "长沙市政务服务",
                        "upstream_url": simulator.url("430100"),
                        "document": openapi_document("430100"),
                        "data_classification": "personal",
                    },
                    headers=admin,
                )
                assert onboarded.status_code == 201, onboarded.text
                await full_flow(client, admin, with_partner=False)
            log = server.log()
    assert '"logger": "xyb.access"' in log
    assert_nothing_personal("the server's output", log)
    assert_nothing_personal("the answers", "\n".join(recorder.texts))
