"""`xyb persons verify`: a clerk records an in-person verification (assurance 2)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy import select
from typer.testing import CliRunner

from app.cli import cli
from app.core.config import Settings
from app.core.db import create_engine, create_sessionmaker
from app.core.migrations import upgrade
from app.identity.accounts import NewPerson, register_person
from app.identity.crypto import DataCipher
from app.models.audit import AuditRecord
from app.models.identity import Person
from tests.conftest import DATA_KEY

ID_NUMBER = "431281196307301826"


def _settings(url: str, tmp_path: Path) -> Settings:
    return Settings(database_url=url, data_dir=tmp_path / "data", data_key=DATA_KEY)


def _registered(settings: Settings) -> int:
    async def run() -> int:
        engine = create_engine(settings)
        try:
            await upgrade(engine)
            async with create_sessionmaker(engine)() as session, session.begin():
                person = await register_person(
                    session,
                    DataCipher.from_text(DATA_KEY),
                    NewPerson("王玲", ID_NUMBER, "13912345678", "a long password"),
                )
                return person.id
        finally:
            await engine.dispose()

    return asyncio.run(run())


def _state(settings: Settings, person_id: int) -> tuple[int, list[tuple[str, str]]]:
    async def run() -> tuple[int, list[tuple[str, str]]]:
        engine = create_engine(settings)
        try:
            async with create_sessionmaker(engine)() as session:
                assurance = await session.scalar(
                    select(Person.assurance).where(Person.id == person_id)
                )
                records = await session.execute(
                    select(AuditRecord.action, AuditRecord.object).where(
                        AuditRecord.action == "person.verify-in-person"
                    )
                )
                return int(assurance or 0), [(str(a), str(o)) for a, o in records]
        finally:
            await engine.dispose()

    return asyncio.run(run())


def test_a_clerk_raises_a_registered_account_to_assurance_2(
    tmp_path: Path, fresh_database_url: str
) -> None:
    settings = _settings(fresh_database_url, tmp_path)
    person_id = _registered(settings)
    env = {
        "XYB_DATABASE_URL": fresh_database_url,
        "XYB_DATA_DIR": str(tmp_path / "data"),
        "XYB_DATA_KEY": DATA_KEY,
    }
    runner = CliRunner()
    wrong_name = runner.invoke(
        cli, ["persons", "verify", "--id-number", ID_NUMBER, "--name", "王林"], env=env
    )
    assert wrong_name.exit_code == 1
    assert "not the account's name" in wrong_name.output
    unknown = runner.invoke(
        cli, ["persons", "verify", "--id-number", "110101199003077777", "--name", "王玲"], env=env
    )
    assert unknown.exit_code == 1
    assert "No account" in unknown.output or "not valid" in unknown.output
    assert _state(settings, person_id) == (1, [])

    done = runner.invoke(
        cli, ["persons", "verify", "--id-number", ID_NUMBER, "--name", "王玲"], env=env
    )
    assert done.exit_code == 0, done.output
    assert "assurance 2" in done.output
    assurance, records = _state(settings, person_id)
    assert assurance == 2
    # The audit record names the account, never the ID number.
    assert records == [("person.verify-in-person", f"person:{person_id}")]
    assert ID_NUMBER not in done.output
