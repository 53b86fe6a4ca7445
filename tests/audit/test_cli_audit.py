"""`xyb audit verify|export|purge` over a real database of the test's own."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update
from typer.testing import CliRunner

from app.cli import cli
from app.core.config import Settings
from app.core.db import create_engine, create_sessionmaker
from app.models.audit import AuditRecord
from tests.audit.chains import Chain, store


@pytest.fixture
def env(tmp_path: Path, fresh_database_url: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XYB_DATABASE_URL", fresh_database_url)
    monkeypatch.setenv("XYB_DATA_DIR", str(tmp_path / "data"))
    migrated = CliRunner().invoke(cli, ["db", "upgrade"], catch_exceptions=False)
    assert migrated.exit_code == 0, migrated.output
    return tmp_path


def xyb(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


async def tamper(url: str, data_dir: Path, writer: str, seq: int) -> None:
    engine = create_engine(Settings(data_dir=data_dir), url)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                update(AuditRecord)
                .where(AuditRecord.writer == writer, AuditRecord.seq == seq)
                .values(outcome="caller_error")
            )
    finally:
        await engine.dispose()


async def all_records(url: str, data_dir: Path) -> list[AuditRecord]:
    engine = create_engine(Settings(data_dir=data_dir), url)
    try:
        async with create_sessionmaker(engine)() as session:
            return list((await session.execute(select(AuditRecord))).scalars().all())
    finally:
        await engine.dispose()


def test_verify_names_the_first_record_that_does_not_verify(
    env: Path, fresh_database_url: str
) -> None:
    chain = Chain("writer-a").add(20).checkpoint().add(3)
    asyncio.run(store(fresh_database_url, env, chain))
    code, stdout, stderr = xyb("audit", "verify")
    assert code == 0, stderr
    assert "verified 23 records and 1 checkpoint of 1 writer: every chain verifies" in stdout
    assert "writer-a" in stdout

    asyncio.run(tamper(fresh_database_url, env, "writer-a", 7))
    code, stdout, stderr = xyb("audit", "verify")
    assert code == 1
    assert "writer writer-a seq 7" in stderr
    assert "event ev-000007" in stderr
    assert "(edited): its content does not match its hash" in stderr
    assert len(stderr.strip().splitlines()) == 1

    # A window after the edit verifies; one holding it does not.
    after = (chain.seq(10)["at"]).astimezone(UTC).isoformat()
    code, _, stderr = xyb("audit", "verify", "--since", after)
    assert code == 0, stderr
    code, _, stderr = xyb("audit", "verify", "--until", after)
    assert code == 1
    assert "seq 7" in stderr


def test_export_then_verify_the_file_offline(env: Path, fresh_database_url: str) -> None:
    chain = Chain("writer-a").add(12).checkpoint().add(2)
    asyncio.run(store(fresh_database_url, env, chain))
    exported = env / "audit.jsonl"
    code, _, stderr = xyb("audit", "export", "-o", str(exported))
    assert code == 0, stderr
    assert "exported 14 records and 1 checkpoint" in stderr
    code, stdout, stderr = xyb("audit", "verify", "--file", str(exported))
    assert code == 0, stderr
    assert "every chain verifies" in stdout

    lines = exported.read_text(encoding="utf-8").splitlines()
    assert json.loads(lines[0])["keys"]
    gone = [line for line in lines if '"seq":5,' not in line or '"checkpoint"' in line]
    exported.write_text("\n".join(gone) + "\n", encoding="utf-8")
    code, _, stderr = xyb("audit", "verify", "--file", str(exported))
    assert code == 1
    assert "writer writer-a seq 5" in stderr
    assert "(deleted)" in stderr

    window = env / "window.jsonl"
    since = chain.seq(6)["at"].astimezone(UTC).isoformat()
    code, _, stderr = xyb("audit", "export", "-o", str(window), "--since", since)
    assert code == 0, stderr
    assert "exported 9 records and 1 checkpoint" in stderr
    code, stdout, stderr = xyb("audit", "verify", "--file", str(window))
    assert code == 0, stderr
    assert "verified 9 records" in stdout

    code, stdout, _ = xyb("audit", "export")  # to stdout
    assert code == 0
    assert json.loads(stdout.splitlines()[0])["format"] == "xyb-audit/1"


@pytest.mark.usefixtures("env")
def test_refusals_are_one_sentence(tmp_path: Path) -> None:
    code, _, stderr = xyb("audit", "verify", "--file", str(tmp_path / "nope.jsonl"))
    assert (code, stderr.count("\n")) == (2, 1)
    not_export = tmp_path / "x.jsonl"
    not_export.write_text('{"hello": 1}\n', encoding="utf-8")
    code, _, stderr = xyb("audit", "verify", "--file", str(not_export))
    assert code == 2
    assert "not the header of an audit export" in stderr
    code, _, stderr = xyb("audit", "verify", "--since", "yesterday")
    assert code == 2
    assert "--since" in stderr
    code, _, stderr = xyb("audit", "verify", "--since", "2026-12-07", "--until", "2026-12-01")
    assert code == 2


def test_purge_removes_only_covered_old_records_and_records_itself(
    env: Path, fresh_database_url: str
) -> None:
    code, _, stderr = xyb("keys", "rotate")  # the purge record's checkpoint is signed
    assert code == 0, stderr
    old = datetime.now(UTC) - timedelta(days=400)
    chain = Chain("writer-old").add(10, start=old).checkpoint().add(3, start=old)
    asyncio.run(store(fresh_database_url, env, chain))

    code, stdout, stderr = xyb("audit", "purge", "--dry-run")
    assert code == 0, stderr
    assert "would purge 10 records older than 180 days" in stdout
    assert "kept 3 old records no checkpoint covers" in stdout

    code, stdout, stderr = xyb("audit", "purge")
    assert code == 0, stderr
    assert "purged 10 records" in stdout
    rows = asyncio.run(all_records(fresh_database_url, env))
    purge_records = [r for r in rows if r.action == "audit.purge"]
    assert len(purge_records) == 1
    summary = json.loads(purge_records[0].summary or "{}")
    assert summary["records"] == 10
    assert summary["writers"] == 1
    assert purge_records[0].actor
    assert purge_records[0].actor.startswith("cli")
    assert sorted(r.seq for r in rows if r.writer == "writer-old") == [11, 12, 13]

    code, stdout, stderr = xyb("audit", "verify")
    assert code == 0, stderr
    assert "every chain verifies" in stdout, stdout  # the purge's own chain and the rest
