"""Models and migrations agree; upgrades are reversible, locked, and refused where they must be."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection

import app.models  # noqa: F401
from app.core.config import Settings
from app.core.db import Base, create_engine
from app.core.migrations import (
    downgrade,
    head_revision,
    include_name,
    migrations_dir,
    schema_state,
    upgrade,
)
from app.main import SchemaNotAtHead, create_app
from tests.conftest import DATA_KEY


def _diff(connection: Connection) -> list[object]:
    context = MigrationContext.configure(
        connection, opts={"compare_type": True, "include_name": include_name}
    )
    return list(compare_metadata(context, Base.metadata))


async def test_autogenerate_finds_nothing_after_upgrade(
    fresh_database_url: str, tmp_path: Path
) -> None:
    engine = create_engine(Settings(data_dir=tmp_path), fresh_database_url)
    try:
        assert await upgrade(engine) == head_revision()
        async with engine.connect() as conn:
            diff = await conn.run_sync(_diff)
        assert diff == [], f"models and migrations disagree: {diff}"
    finally:
        await engine.dispose()


async def test_downgrade_to_base_and_back(fresh_database_url: str, tmp_path: Path) -> None:
    engine = create_engine(Settings(data_dir=tmp_path), fresh_database_url)
    try:
        await upgrade(engine)
        assert await downgrade(engine, "base") is None
        assert (await schema_state(engine))[0] is None
        assert await upgrade(engine) == head_revision()
    finally:
        await engine.dispose()


def test_migration_files_follow_the_template() -> None:
    versions = sorted(p.name for p in (migrations_dir() / "versions").glob("*.py"))
    assert versions
    for name in versions:
        date, rev, *_ = name.split("_")
        assert len(date) == 8, name
        assert date.isdigit(), name
        assert rev


def test_concurrent_upgrades_do_not_race(fresh_database_url: str, tmp_path: Path) -> None:
    """Several `xyb db upgrade` processes started together all succeed (the lock holds)."""
    env = {**os.environ, "XYB_DATABASE_URL": fresh_database_url, "XYB_DATA_DIR": str(tmp_path)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "app.cli", "db", "upgrade"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    results = [p.communicate(timeout=120) for p in procs]
    for proc, (out, err) in zip(procs, results, strict=True):
        assert proc.returncode == 0, err
        assert f"database at {head_revision()}" in out


async def test_production_refuses_an_unmigrated_database(
    fresh_database_url: str, tmp_path: Path
) -> None:
    settings = Settings(
        env="production",
        data_key=DATA_KEY,
        admin_token="p" * 40,
        public_url="https://api.example.gov.cn",
        data_dir=tmp_path,
        database_url=fresh_database_url,
    )
    application = create_app(settings)
    with pytest.raises(SchemaNotAtHead, match="xyb db upgrade"):
        async with application.router.lifespan_context(application):
            pass
    engine = create_engine(settings)
    try:
        assert (await schema_state(engine))[0] is None  # production never migrates by itself
    finally:
        await engine.dispose()


async def test_development_migrates_on_start(fresh_database_url: str, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, database_url=fresh_database_url)
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        pass
    engine = create_engine(settings)
    try:
        assert await schema_state(engine) == (head_revision(), head_revision())
    finally:
        await engine.dispose()
