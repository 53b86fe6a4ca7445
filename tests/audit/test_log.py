"""The audit log writer in process: records chained per writer, checkpoints every N records, M
seconds and at shutdown, failed flushes retried with the same seqs and hashes, a full buffer,
personal-data reads, and checkpoints across a key rotation.

The writer writes into the test's transaction (rolled back at the end); each test's writers
have ids of their own, so the shared session database never mixes them up.
"""

from __future__ import annotations

import dataclasses
import json
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from app.core.config import Settings
from app.identity.crypto import DataCipher
from app.identity.keys import SigningKey, generate_key
from app.identity.state import add_signing_key
from app.main import create_app
from app.models.audit import AuditKey, AuditRecord, PersonalDataRead
from app.services.audit.chain import canonical, genesis
from app.services.audit.log import AuditLog
from app.services.audit.records import checkpoints_of, load_keys, records_of
from tests.audit.support import assert_chain, assert_checkpoints, event
from tests.counting.support import FixedClock, flaky_sessionmaker, shared_sessionmaker
from tests.databases import BACKEND


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(datetime(2026, 12, 7, 23, 59, 58, 123456, tzinfo=UTC))


@pytest.fixture
def key() -> SigningKey:
    return generate_key(datetime(2026, 1, 1, tzinfo=UTC))


def writer_id() -> str:
    return "test-" + uuid.uuid4().hex[:12]


def audit_log(
    connection: AsyncConnection, clock: FixedClock, key: SigningKey, **options: float
) -> AuditLog:
    return AuditLog(
        writer=writer_id(),
        clock=clock,
        sessionmaker=shared_sessionmaker(connection),
        signer=lambda: key,
        **options,  # type: ignore[arg-type]
    )


async def chain_of(session: AsyncSession, log: AuditLog) -> list[AuditRecord]:
    return list(await records_of(session, log.writer))


async def keys_of(session: AsyncSession) -> dict[str, str]:
    return {kid: jwk for kid, jwk in await session.execute(select(AuditKey.kid, AuditKey.jwk))}


async def test_each_writer_chains_its_own_records(
    connection: AsyncConnection, session: AsyncSession, clock: FixedClock, key: SigningKey
) -> None:
    first = audit_log(connection, clock, key)
    second = audit_log(connection, clock, key)
    for i in range(5):
        first.emit(event(at=clock.now, status=200 if i % 2 else 404))
        second.emit(event(at=clock.now))
        clock.advance(seconds=1)  # across midnight (UTC): two days, one chain
    first.record_admin(
        actor="admin-token",
        action="client.create",
        object="client c-1",
        summary={"kind": "integrator", "name": "测试", "grants": 2},
        request_id="r-1",
    )
    assert await first.flush()
    assert await second.flush()

    one, two = await chain_of(session, first), await chain_of(session, second)
    assert [r.seq for r in one] == [1, 2, 3, 4, 5, 6]
    assert [r.seq for r in two] == [1, 2, 3, 4, 5]
    assert one[0].prev_hash == genesis(first.writer)
    assert two[0].prev_hash == genesis(second.writer)
    assert_chain(one, first.writer)
    assert_chain(two, second.writer)
    call = one[0]
    assert (call.kind, call.status, call.outcome, call.latency_us) == (
        "call",
        404,
        "caller_error",
        3250,
    )
    assert (call.subject, call.request_digest, call.response_digest) == (
        "pairwise-subject",
        "a" * 64,
        "b" * 64,
    )
    admin = one[-1]
    assert (admin.kind, admin.actor, admin.action, admin.object) == (
        "admin",
        "admin-token",
        "client.create",
        "client c-1",
    )
    # The summary is kept as canonical JSON text, exactly what the hash covered.
    assert admin.summary == canonical({"kind": "integrator", "name": "测试", "grants": 2}).decode()
    assert first.head == (6, one[-1].hash)


async def test_a_checkpoint_every_n_records_and_one_at_shutdown(
    connection: AsyncConnection, session: AsyncSession, clock: FixedClock, key: SigningKey
) -> None:
    log = audit_log(connection, clock, key, checkpoint_records=5, batch_max=3)
    for _ in range(12):
        log.emit(event(at=clock.now))
    assert await log.flush()
    assert [c.seq for c in await checkpoints_of(session, log.writer)] == [5, 10]
    log.emit(event(at=clock.now))
    assert await log.stop()  # never started: stop still writes everything, and a checkpoint

    records = await chain_of(session, log)
    checkpoints = await checkpoints_of(session, log.writer)
    assert [r.seq for r in records] == list(range(1, 14))
    assert [c.seq for c in checkpoints] == [5, 10, 13]
    assert {c.kid for c in checkpoints} == {key.kid}
    keys = await keys_of(session)
    assert json.loads(keys[key.kid]) == key.public_jwk
    assert_chain(records, log.writer)
    assert_checkpoints(checkpoints, records, keys)
    assert log.stats().checkpoint_seq == 13
    # Nothing new: stopping again adds no checkpoint.
    assert await log.stop()
    assert len(await checkpoints_of(session, log.writer)) == 3


async def test_a_checkpoint_after_m_seconds_even_without_new_records(
    connection: AsyncConnection, session: AsyncSession, clock: FixedClock, key: SigningKey
) -> None:
    log = audit_log(connection, clock, key, checkpoint_seconds=60)
    log.emit(event(at=clock.now))
    log.emit(event(at=clock.now))
    assert await log.flush()
    assert await checkpoints_of(session, log.writer) == []
    clock.advance(seconds=61)
    assert await log.flush()  # a batch of the checkpoint alone
    [checkpoint] = await checkpoints_of(session, log.writer)
    assert (checkpoint.seq, checkpoint.at) == (2, clock.now)
    clock.advance(seconds=61)
    assert await log.flush()  # nothing new since: no checkpoint
    assert len(await checkpoints_of(session, log.writer)) == 1
    assert_checkpoints([checkpoint], await chain_of(session, log), await keys_of(session))


async def test_a_failed_flush_is_retried_without_gaps_or_duplicates(
    connection: AsyncConnection, session: AsyncSession, clock: FixedClock, key: SigningKey
) -> None:
    maker, flaky = flaky_sessionmaker(connection, [])
    log = AuditLog(
        writer=writer_id(), clock=clock, sessionmaker=maker, signer=lambda: key, batch_max=4
    )
    log.emit(event(at=clock.now))
    assert await log.flush()  # (on PostgreSQL this also made the days' partitions)
    for _ in range(3):
        log.emit(event(at=clock.now))
    # The first write fails, the second commits but its answer is lost, the third goes through.
    flaky.plan.extend(["fail", "lose-ack"])
    assert not await log.flush()
    pending = log._pending
    assert pending is not None
    hashes = [row["hash"] for row in pending.records]
    assert [row["seq"] for row in pending.records] == [2, 3, 4]
    for _ in range(2):  # handed over meanwhile: they wait behind the failed batch
        log.emit(event(at=clock.now))
    assert not await log.flush()  # committed, but the writer cannot know
    assert log._pending is pending
    assert [row["hash"] for row in pending.records] == hashes
    assert await log.flush()  # finds its records written, adds nothing, then writes the rest
    assert log._pending is None
    records = await chain_of(session, log)
    assert [r.seq for r in records] == [1, 2, 3, 4, 5, 6]
    assert [r.hash for r in records[1:4]] == hashes
    assert_chain(records, log.writer)
    stats = log.stats()
    assert (stats.flush_failures, stats.written_seq, stats.buffered) == (2, 6, 0)


async def test_a_full_buffer_drops_and_the_chain_says_how_many(
    connection: AsyncConnection, session: AsyncSession, clock: FixedClock, key: SigningKey
) -> None:
    log = audit_log(connection, clock, key, max_pending=3)
    for _ in range(5):
        log.emit(event(at=clock.now))
    # Admin actions have a reserve beyond the bound: this one is kept.
    log.record_admin(actor="ops", action="grant.create", object="c-1 430100/zwfw")
    assert log.stats().dropped == 2
    assert await log.flush()
    records = await chain_of(session, log)
    assert [r.kind for r in records] == ["admin", "call", "call", "call", "admin"]
    assert (records[0].action, records[0].outcome) == ("audit.dropped", "failure")
    assert json.loads(records[0].summary or "{}")["dropped"] == 2
    assert records[-1].action == "grant.create"
    assert_chain(records, log.writer)


async def test_personal_data_reads_are_written_with_the_records(
    connection: AsyncConnection, session: AsyncSession, clock: FixedClock, key: SigningKey
) -> None:
    log = audit_log(connection, clock, key)
    person = 900_000_000 + uuid.uuid4().int % 1_000_000
    log.emit(event(at=clock.now, personal_data_of=person, purpose="housing-fund", client_id="c-9"))
    log.emit(event(at=clock.now))
    log.record_personal_read(
        person_id=person,
        purpose="identity check",
        kind="identity-lookup",
        client_id="c-8",
        service=None,
        request_id="r-8",
    )
    assert await log.flush()
    reads = (
        await session.scalars(
            select(PersonalDataRead)
            .where(PersonalDataRead.person_id == person)
            .order_by(PersonalDataRead.id)
        )
    ).all()
    assert [(r.kind, r.client_id, r.purpose) for r in reads] == [
        ("gateway-call", "c-9", "housing-fund"),
        ("identity-lookup", "c-8", "identity check"),
    ]
    assert reads[0].service == "430100/zwfw"
    assert len(await chain_of(session, log)) == 2  # reads are no chain records


async def test_without_a_key_records_are_written_unsigned(
    connection: AsyncConnection, session: AsyncSession, clock: FixedClock
) -> None:
    def no_key() -> SigningKey:
        raise LookupError("the key ring has no private key to sign with")

    log = AuditLog(writer=writer_id(), clock=clock, sessionmaker=shared_sessionmaker(connection))
    log.signer = no_key
    log.emit(event(at=clock.now))
    assert await log.stop()
    assert len(await chain_of(session, log)) == 1
    assert await checkpoints_of(session, log.writer) == []


async def test_an_item_that_cannot_be_recorded_takes_no_seq(
    connection: AsyncConnection, session: AsyncSession, clock: FixedClock, key: SigningKey
) -> None:
    log = audit_log(connection, clock, key)
    log.emit(event(at=clock.now))
    log.emit(dataclasses.replace(event(at=clock.now), total_ms=float("nan")))  # a bug upstream
    log.emit(event(at=clock.now))
    assert await log.flush()
    records = await chain_of(session, log)
    assert [r.seq for r in records] == [1, 2]
    assert_chain(records, log.writer)


async def test_long_values_are_cut_to_their_columns_before_hashing(
    connection: AsyncConnection, session: AsyncSession, clock: FixedClock, key: SigningKey
) -> None:
    log = audit_log(connection, clock, key)
    log.emit(event(at=clock.now, request_id="r" * 300))
    assert await log.flush()
    [record] = await chain_of(session, log)
    assert record.request_id == "r" * 100
    assert_chain([record], log.writer)


async def test_checkpoints_before_and_after_a_key_rotation_both_verify(
    app: FastAPI, client: httpx.AsyncClient, session: AsyncSession
) -> None:
    log: AuditLog = app.state.audit
    identity = app.state.identity
    before = identity.state.keyring.signing_key.kid
    log.record_admin(actor="ops", action="test.before", object="x")
    assert await log.flush(final=True)

    await add_signing_key(session, DataCipher.from_text(app.state.settings.resolved_data_key))
    await session.commit()
    await identity.reload()
    after = identity.state.keyring.signing_key.kid
    assert after != before
    log.record_admin(actor="ops", action="test.after", object="x")
    assert await log.stop()

    records = await chain_of(session, log)
    checkpoints = list(await checkpoints_of(session, log.writer))
    kids = [c.kid for c in checkpoints]
    assert kids[0] == before
    assert kids[-1] == after
    keys = await load_keys(session)
    assert {before, after} <= set(keys)
    assert_chain(records, log.writer)
    assert_checkpoints(checkpoints, records, {kid: json.dumps(jwk) for kid, jwk in keys.items()})


async def test_the_app_wires_the_audit_log_as_a_sink(app: FastAPI) -> None:
    log = app.state.audit
    assert isinstance(log, AuditLog)
    assert log in app.state.events.sinks
    assert len(log.writer) <= 40
    assert log.stats().written_seq >= 0
    assert timedelta(seconds=60) == log.checkpoint_seconds


@pytest.mark.postgres_only
@pytest.mark.skipif(BACKEND != "postgresql", reason="needs PostgreSQL (XYB_TEST_DATABASE_URL)")
async def test_postgresql_records_go_into_daily_partitions_made_before_insert(
    connection: AsyncConnection, session: AsyncSession, clock: FixedClock, key: SigningKey
) -> None:
    # Far from any other test's days: this day's rows already sit in the default partition, so
    # its partition cannot be made; the next day's can.
    clock.now = datetime(2031, 3, 4, 12, 0, tzinfo=UTC)
    stray = audit_log(connection, clock, key)
    stray.emit(event(at=clock.now))
    stray._partitions.update({date(2031, 3, 4), date(2031, 3, 5)})  # as if made (they are not)
    assert await stray.flush()

    log = audit_log(connection, clock, key)
    log.emit(event(at=clock.now))
    log.emit(event(at=clock.now + timedelta(days=1)))
    assert await log.flush()
    rows = await session.execute(
        text("SELECT seq, tableoid::regclass::text FROM audit_records WHERE writer = :w"),
        {"w": log.writer},
    )
    where = {int(seq): str(name) for seq, name in rows}
    assert where == {1: "audit_records_default", 2: "audit_records_20310305"}
    assert_chain(await chain_of(session, log), log.writer)


async def test_metrics_show_the_audit_logs_figures(
    app: FastAPI, client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    app.state.audit.emit(event(at=datetime.now(UTC)))
    answer = await client.get("/metrics", headers=admin_headers)
    assert answer.status_code == 200
    assert "xyb_audit_records_dropped_total 0.0" in answer.text
    assert "xyb_audit_flush_failures_total 0.0" in answer.text
    assert "xyb_audit_pending_records 1.0" in answer.text


def test_the_audit_log_can_be_switched_off(tmp_path: Path) -> None:
    app = create_app(Settings(data_dir=tmp_path, audit=False))
    assert app.state.audit is None
    assert not any(isinstance(sink, AuditLog) for sink in app.state.events.sinks)
