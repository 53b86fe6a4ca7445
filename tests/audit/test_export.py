"""Export to JSON Lines and verify the file offline; an edited line is found."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.config import Settings
from app.core.db import create_engine, create_sessionmaker
from app.services.audit.chain import canonical
from app.services.audit.export import (
    FORMAT,
    checkpoint_line,
    export_database,
    record_line,
    verify_file,
)
from app.services.audit.verify import verify_database
from tests.audit.chains import Chain, migrated, store


def write_export(path: Path, *chains: Chain) -> None:
    keys = [json.loads(jwk) for c in chains for jwk in c.keys.values()]
    lines = [canonical({"format": FORMAT, "exported_at": "x", "keys": keys}).decode()]
    for chain in chains:
        lines += [checkpoint_line(c) for c in chain.checkpoints]
        lines += [record_line(r) for r in chain.records]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_a_file_verifies_alone_and_an_edited_line_is_found(tmp_path: Path) -> None:
    chain = Chain().add(30).checkpoint().add(3)
    path = tmp_path / "audit.jsonl"
    write_export(path, chain)
    report = verify_file(path)
    assert report.ok
    assert report.records == 33

    lines = path.read_text(encoding="utf-8").splitlines()
    index = next(i for i, line in enumerate(lines) if '"seq":17,' in line and "record" in line)
    edited = json.loads(lines[index])
    edited["client_id"] = "someone-else"
    lines[index] = json.dumps(edited, ensure_ascii=False)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    first = verify_file(path).first
    assert first is not None
    assert (first.seq, first.kind, first.event_id) == (17, "edited", "ev-000017")


def test_a_file_without_the_keys_does_not_verify(tmp_path: Path) -> None:
    chain = Chain().add(5).checkpoint()
    path = tmp_path / "audit.jsonl"
    write_export(path, chain)
    lines = path.read_text(encoding="utf-8").splitlines()
    header = json.loads(lines[0])
    header["keys"] = []
    lines[0] = json.dumps(header)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    first = verify_file(path).first
    assert first is not None
    assert first.kind == "checkpoint"


async def test_export_from_the_database_then_verify_offline(
    tmp_path: Path, fresh_database_url: str
) -> None:
    await migrated(fresh_database_url, tmp_path)
    a = Chain("writer-a").add(25).checkpoint().add(4)
    b = Chain("writer-b").add(12).checkpoint()
    await store(fresh_database_url, tmp_path, a, b)
    engine = create_engine(Settings(data_dir=tmp_path), fresh_database_url)
    path = tmp_path / "export.jsonl"
    try:
        async with create_sessionmaker(engine)() as session:
            online = await verify_database(session)
            with path.open("w", encoding="utf-8") as out:
                counts = await export_database(session, out)
            # A small page size exercises keyset paging across pages.
            paged = await _verify_paged(session)
    finally:
        await engine.dispose()
    assert online.ok, online.first
    assert paged.ok, paged.first
    assert counts == (41, 2)
    offline = verify_file(path)
    assert offline.ok, offline.first
    assert offline.records == 41
    assert [w.as_json() for w in offline.writers] == [w.as_json() for w in online.writers]


async def _verify_paged(session: AsyncSession):  # type: ignore[no-untyped-def]
    from app.services.audit import verify as module

    page = module.PAGE
    module.PAGE = 7
    try:
        return await verify_database(session)
    finally:
        module.PAGE = page


async def test_what_the_writer_stores_verifies(tmp_path: Path, fresh_database_url: str) -> None:
    """The verifier and the writer (app.services.audit.log) agree on the chain."""
    from datetime import UTC, datetime

    from app.identity.keys import generate_key
    from app.services.audit.log import AuditLog
    from tests.audit.support import event

    await migrated(fresh_database_url, tmp_path)
    engine = create_engine(Settings(data_dir=tmp_path), fresh_database_url)
    key = generate_key(datetime(2026, 1, 1, tzinfo=UTC))
    try:
        sessions = create_sessionmaker(engine)
        for _ in range(2):  # two processes, one after the other
            log = AuditLog(
                writer=f"w-{_}", sessionmaker=sessions, signer=lambda: key, checkpoint_records=4
            )
            for i in range(9):
                log.emit(event(at=datetime.now(UTC)))
                log.record_admin(actor="op", action="clients.create", object=f"c{i}")
            await log.flush()
            assert await log.stop()
        async with sessions() as session:
            report = await verify_database(session)
            path = tmp_path / "x.jsonl"
            with path.open("w", encoding="utf-8") as out:
                await export_database(session, out)
    finally:
        await engine.dispose()
    assert report.ok, report.first
    assert [(w.first_seq, w.last_seq, w.uncovered) for w in report.writers] == [(1, 18, 0)] * 2
    assert verify_file(path).ok


async def test_a_window_runs_on_to_the_checkpoint_after_it(
    tmp_path: Path, fresh_database_url: str
) -> None:
    await migrated(fresh_database_url, tmp_path)
    chain = Chain("writer-a").add(10).checkpoint().add(10).checkpoint().add(3)
    await store(fresh_database_url, tmp_path, chain)
    engine = create_engine(Settings(data_dir=tmp_path), fresh_database_url)
    try:
        async with create_sessionmaker(engine)() as session:
            report = await verify_database(
                session, since=chain.seq(4)["at"], until=chain.seq(15)["at"]
            )
    finally:
        await engine.dispose()
    assert report.ok, report.first
    (writer,) = report.writers
    assert (writer.first_seq, writer.last_seq, writer.covered_to) == (4, 20, 20)
    assert writer.anchored
    assert writer.uncovered == 0
