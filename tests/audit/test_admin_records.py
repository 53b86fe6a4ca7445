"""Admin actions leave one audit record each, once committed: who (actor), what (action), on what
(object), with a summary that never carries a secret, a password or an ID number."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from typer.testing import CliRunner

from app.cli import cli
from app.core.config import Settings
from app.core.db import create_engine, create_sessionmaker
from app.core.migrations import upgrade
from app.models.audit import AuditCheckpoint, AuditRecord
from app.services.ops.operators import create_operator
from tests.catalog.support import item
from tests.conftest import GrantAccess
from tests.gateway.support import onboard, service_body
from tests.gateway.test_contract_guard import body, breaking_document, onboard_with_contract

PASSWORD = "correct horse battery"


async def admin_records(app: FastAPI, session: AsyncSession, **where: Any) -> list[AuditRecord]:
    """The admin records written so far (after a flush), in order."""
    await app.state.audit.flush()
    query = select(AuditRecord).where(AuditRecord.kind == "admin")
    for name, value in where.items():
        query = query.where(getattr(AuditRecord, name) == value)
    return list((await session.scalars(query.order_by(AuditRecord.seq))).all())


def summary(record: AuditRecord) -> dict[str, Any]:
    assert record.summary is not None
    loaded: dict[str, Any] = json.loads(record.summary)
    return loaded


async def test_onboarding_replacing_and_retiring_are_recorded(
    app: FastAPI, client: httpx.AsyncClient, admin_headers: dict[str, str], session: AsyncSession
) -> None:
    created = await onboard(client, admin_headers)
    service_id = created["id"]
    [record] = await admin_records(app, session)
    assert (record.actor, record.action, record.object) == (
        "admin-token",
        "service.onboard",
        "service:430100/bdc",
    )
    assert record.division == "430100"
    assert record.outcome == "success"
    assert record.request_id
    assert summary(record)["version_after"] == 1
    assert summary(record)["version_before"] is None

    replaced = await client.put(
        f"/admin/services/{service_id}",
        json=service_body(name="长沙市不动产登记查询 v2"),
        headers=admin_headers,
    )
    assert replaced.status_code == 200, replaced.text
    retired = await client.delete(f"/admin/services/{service_id}", headers=admin_headers)
    assert retired.status_code == 200, retired.text
    again = await client.delete(f"/admin/services/{service_id}", headers=admin_headers)
    assert again.status_code == 200  # retiring a retired service changes nothing: no record
    records = await admin_records(app, session)
    assert [r.action for r in records] == ["service.onboard", "service.replace", "service.retire"]
    assert summary(records[1])["version_before"] == 1
    assert summary(records[1])["version_after"] == 2
    assert "breaks_overridden" not in summary(records[1])
    assert summary(records[2])["status_before"] == "active"


async def test_a_refused_change_leaves_no_record(
    app: FastAPI, client: httpx.AsyncClient, admin_headers: dict[str, str], session: AsyncSession
) -> None:
    await onboard(client, admin_headers)
    twice = await client.post(
        "/admin/services", json=service_body(), headers=admin_headers
    )  # 409: onboarded already
    assert twice.status_code == 409
    dry = await client.post(
        "/admin/services",
        params={"dry_run": "true"},
        json=service_body(slug="bdc2"),
        headers=admin_headers,
    )
    assert dry.status_code == 200
    assert [r.action for r in await admin_records(app, session)] == ["service.onboard"]


async def test_force_records_the_breaks_it_overrode_and_so_does_a_forced_dry_run(
    app: FastAPI, client: httpx.AsyncClient, admin_headers: dict[str, str], session: AsyncSession
) -> None:
    service_id = await onboard_with_contract(client, admin_headers)
    dry = await client.put(
        f"/admin/services/{service_id}",
        params={"dry_run": "true"},
        json=body(breaking_document(), force=True),
        headers=admin_headers,
    )
    assert dry.status_code == 200, dry.text
    forced = await client.put(
        f"/admin/services/{service_id}",
        json=body(breaking_document(), force=True),
        headers=admin_headers,
    )
    assert forced.status_code == 200, forced.text
    records = await admin_records(app, session)
    assert [r.action for r in records] == [
        "service.onboard",
        "service.replace.dry-run",
        "service.replace",
    ]
    for record in records[1:]:
        breaks = summary(record)["breaks_overridden"]
        assert breaks
        assert all(b["contract"] == "municipal/changsha" for b in breaks)
        assert any("balance" in b["detail"] for b in breaks)
        assert summary(record)["forced"] is True
    assert summary(records[2])["version_before"] == 1
    assert summary(records[2])["version_after"] == 2


async def test_clients_grants_and_secret_resets_are_recorded_without_the_secret(
    app: FastAPI, client: httpx.AsyncClient, admin_headers: dict[str, str], session: AsyncSession
) -> None:
    created = await client.post(
        "/admin/clients",
        json={"name": "审计测试", "kind": "integrator", "roles": ["operator"]},
        headers=admin_headers,
    )
    assert created.status_code == 201, created.text
    client_id, first_secret = created.json()["client_id"], created.json()["client_secret"]
    base = f"/admin/clients/{client_id}"
    granted = await client.post(
        f"{base}/grants", json={"division": "430100", "slug": "zwfw"}, headers=admin_headers
    )
    assert granted.status_code == 201
    disabled = await client.patch(base, json={"status": "disabled"}, headers=admin_headers)
    assert disabled.status_code == 200
    renamed = await client.patch(base, json={"name": "改名"}, headers=admin_headers)
    assert renamed.status_code == 200
    reset = await client.post(f"{base}/secret", headers=admin_headers)
    assert reset.status_code == 200
    second_secret = reset.json()["client_secret"]
    revoked = await client.delete(f"{base}/grants/{granted.json()['id']}", headers=admin_headers)
    assert revoked.status_code == 204

    records = await admin_records(app, session, object=f"client:{client_id}")
    assert [r.action for r in records] == [
        "client.create",
        "grant.give",
        "client.disable",
        "client.update",
        "client.secret-reset",
        "grant.revoke",
    ]
    assert {r.actor for r in records} == {"admin-token"}
    assert summary(records[0])["roles"] == ["operator"]
    assert summary(records[1])["service"] == "430100/zwfw"
    assert records[1].division == "430100"
    assert summary(records[2])["changed"]["status"] == {"before": "active", "after": "disabled"}
    assert summary(records[3])["changed"] == {"name": {"before": "审计测试", "after": "改名"}}
    assert summary(records[5])["grant_id"] == granted.json()["id"]
    for record in records:
        text = json.dumps([record.summary, record.object, record.actor])
        assert first_secret not in text
        assert second_secret not in text


async def test_a_division_admin_is_the_actor_of_its_catalog_changes(
    app: FastAPI,
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    grant_access: GrantAccess,
    session: AsyncSession,
) -> None:
    headers = await grant_access(name="市数据局", roles=["division_admin"], division="430100")
    one = item()
    assert (await client.post("/admin/catalog/items", json=one, headers=headers)).status_code == 201
    fields = {k: v for k, v in one.items() if k != "code"} | {"name": "新名称"}
    put = await client.put(f"/admin/catalog/items/{one['code']}", json=fields, headers=headers)
    assert put.status_code == 200, put.text
    imported = await client.post(
        "/admin/catalog/import", json=[item(), item(), one], headers=headers
    )
    assert imported.status_code == 200, imported.text
    records = await admin_records(app, session)
    catalog = [r for r in records if r.action and r.action.startswith("catalog.")]
    assert [r.action for r in catalog] == ["catalog.create", "catalog.replace", "catalog.import"]
    actors = {r.actor for r in catalog}
    assert len(actors) == 1
    assert actors != {"admin-token"}
    assert actors == {r.client_id for r in catalog}
    assert catalog[0].object == f"item:{one['code']}"
    assert summary(catalog[2]) == {"format": "json", "created": 2, "updated": 1, "total": 3}
    assert all(r.division == "430100" for r in catalog)


@pytest.fixture
async def operator(session: AsyncSession) -> str:
    await create_operator(session, "li.audit", PASSWORD, ["operator"])
    await session.commit()
    return "li.audit"


async def test_operator_sign_ins_and_failures_are_recorded_without_the_password(
    app: FastAPI, client: httpx.AsyncClient, session: AsyncSession, operator: str
) -> None:
    origin = {"Origin": str(client.base_url).rstrip("/")}
    wrong = await client.post(
        "/ops/login", data={"username": operator, "password": "not the password"}, headers=origin
    )
    assert wrong.status_code == 401
    right = await client.post(
        "/ops/login", data={"username": operator, "password": PASSWORD}, headers=origin
    )
    assert right.status_code == 303
    records = await admin_records(app, session, action="operator.sign-in")
    assert [(r.actor, r.outcome) for r in records] == [
        (operator, "failure"),
        (operator, "success"),
    ]
    assert summary(records[0]) == {"reason": "wrong username or password"}
    for record in records:
        text = json.dumps([getattr(record, c) for c in ("summary", "object", "actor")])
        assert PASSWORD not in text
        assert "not the password" not in text


async def test_without_the_audit_log_changes_still_work(
    app: FastAPI, client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    app.state.audit = None
    created = await client.post(
        "/admin/clients", json={"name": "x", "kind": "integrator"}, headers=admin_headers
    )
    assert created.status_code == 201


def test_command_line_changes_are_recorded_in_a_chain_of_their_own(
    tmp_path: Path, fresh_database_url: str
) -> None:
    env = {"XYB_DATABASE_URL": fresh_database_url, "XYB_DATA_DIR": str(tmp_path / "data")}
    settings = Settings(database_url=fresh_database_url, data_dir=tmp_path / "data")

    async def migrate() -> None:
        engine = create_engine(settings)
        try:
            await upgrade(engine)
        finally:
            await engine.dispose()

    asyncio.run(migrate())
    runner = CliRunner()
    rotated = runner.invoke(cli, ["keys", "rotate"], env=env)
    assert rotated.exit_code == 0, rotated.output
    created = runner.invoke(
        cli, ["operators", "create", "--username", "cli.op", "--password", PASSWORD], env=env
    )
    assert created.exit_code == 0, created.output

    async def stored() -> tuple[list[AuditRecord], int]:
        engine = create_engine(settings)
        try:
            async with create_sessionmaker(engine)() as session:
                rows = list(
                    (await session.scalars(select(AuditRecord).order_by(AuditRecord.at))).all()
                )
                checkpoints = await session.scalar(
                    select(func.count()).select_from(AuditCheckpoint)
                )
                return rows, int(checkpoints or 0)
        finally:
            await engine.dispose()

    rows, checkpoints = asyncio.run(stored())
    assert [(r.action, r.object) for r in rows] == [
        ("keys.rotate", f"signing-key:{rotated.output.split()[3].rstrip(';')}"),
        ("operator.create", "operator:cli.op"),
    ]
    assert all(r.actor is not None and r.actor.startswith("cli") for r in rows)
    assert len({r.writer for r in rows}) == 2  # one chain per command
    assert all(r.seq == 1 for r in rows)
    assert checkpoints == 2  # each chain signed at its end
    assert PASSWORD not in (rows[1].summary or "")
