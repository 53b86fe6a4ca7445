"""`xyb ops targets`, `xyb ops counts` and `xyb operators` against a database of their own."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import update
from typer.testing import CliRunner

from app.cli_ops import operators_cli, ops_cli
from app.core.config import Settings
from app.core.db import create_engine, create_sessionmaker
from app.core.migrations import upgrade
from app.models.identity import AccountCount
from app.services.ops.operators import authenticate
from tests.ops.support import count_row


@pytest.fixture
def env(tmp_path: Path, fresh_database_url: str) -> dict[str, str]:
    return {"XYB_DATABASE_URL": fresh_database_url, "XYB_DATA_DIR": str(tmp_path / "data")}


def _prepare(url: str, tmp_path: Path) -> str:
    """Migrate, count some users, and write roll-ups for today (local); returns today."""
    settings = Settings(database_url=url, data_dir=tmp_path / "data")
    today = datetime.now(ZoneInfo(settings.timezone)).date()

    async def run() -> None:
        engine = create_engine(settings)
        try:
            await upgrade(engine)
            async with create_sessionmaker(engine)() as session, session.begin():
                await session.execute(
                    update(AccountCount).where(AccountCount.kind == "persons").values(n=1234)
                )
                session.add_all(
                    [
                        count_row(today, 0, 0, "", client_id="app-1", latencies={10: 40}),
                        count_row(
                            today,
                            1,
                            0,
                            "",
                            client_id="app-2",
                            outcome="upstream_error",
                            latencies={1000: 2},
                        ),
                    ]
                )
        finally:
            await engine.dispose()

    asyncio.run(run())
    return today.isoformat()


def test_ops_targets_and_counts_print_tables(
    env: dict[str, str], fresh_database_url: str, tmp_path: Path
) -> None:
    today = _prepare(fresh_database_url, tmp_path)
    runner = CliRunner()
    shown = runner.invoke(ops_cli, ["targets"], env=env)
    assert shown.exit_code == 0, shown.output
    assert "Year-end targets" in shown.output
    assert "1,234" in shown.output  # users
    assert "30,000,000" in shown.output
    assert "e-license" in shown.output

    as_json = runner.invoke(ops_cli, ["targets", "--json"], env=env)
    assert as_json.exit_code == 0, as_json.output
    users = {t["name"]: t for t in json.loads(as_json.output)["targets"]}["users"]
    assert users["current"] == 1234

    counts = runner.invoke(
        ops_cli, ["counts", "--group-by", "client,day", "--since", today, "--until", today], env=env
    )
    assert counts.exit_code == 0, counts.output
    assert "app-1" in counts.output
    assert "app-2" in counts.output
    assert "42" in counts.output  # the total
    assert "4.76%" in counts.output  # 2 errors in 42 calls

    data = runner.invoke(
        ops_cli, ["counts", "--group-by", "client", "--since", today, "--json"], env=env
    )
    assert json.loads(data.output)["totals"]["calls"] == 42


def test_ops_counts_refuses_bad_options(
    env: dict[str, str], fresh_database_url: str, tmp_path: Path
) -> None:
    _prepare(fresh_database_url, tmp_path)
    result = CliRunner().invoke(
        ops_cli, ["counts", "--group-by", "week", "--outcome", "meh"], env=env
    )
    assert result.exit_code == 2
    assert "--group-by" in result.output
    assert "service, operation, item, division, client, day, hour" in result.output
    assert "--outcome" in result.output


def test_operators_create_with_and_without_a_prompt(
    env: dict[str, str], fresh_database_url: str, tmp_path: Path
) -> None:
    _prepare(fresh_database_url, tmp_path)
    runner = CliRunner()
    made = runner.invoke(
        operators_cli, ["create", "--username", "li.na", "--password", "a long password"], env=env
    )
    assert made.exit_code == 0, made.output
    prompted = runner.invoke(
        operators_cli,
        ["create", "--username", "zhao", "--role", "platform_admin"],
        input="another password\nanother password\n",
        env=env,
    )
    assert prompted.exit_code == 0, prompted.output
    again = runner.invoke(
        operators_cli, ["create", "--username", "li.na", "--password", "a long password"], env=env
    )
    assert again.exit_code == 1
    assert "exists already" in again.output
    short = runner.invoke(
        operators_cli, ["create", "--username", "x1", "--password", "short"], env=env
    )
    assert short.exit_code == 1
    listed = runner.invoke(operators_cli, ["list"], env=env)
    assert "li.na" in listed.output
    assert "platform_admin" in listed.output
    disabled = runner.invoke(operators_cli, ["disable", "--username", "zhao"], env=env)
    assert disabled.exit_code == 0, disabled.output

    async def check() -> tuple[bool, bool, bool]:
        settings = Settings(database_url=fresh_database_url, data_dir=tmp_path / "data")
        engine = create_engine(settings)
        try:
            async with create_sessionmaker(engine)() as session:
                ok = await authenticate(session, "li.na", "a long password") is not None
                wrong = await authenticate(session, "li.na", "a wrong password") is not None
                off = await authenticate(session, "zhao", "another password") is not None
                return ok, wrong, off
        finally:
            await engine.dispose()

    assert asyncio.run(check()) == (True, False, False)
