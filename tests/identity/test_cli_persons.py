"""`xyb persons verify`: a clerk records an in-person verification (assurance 2) and binds the
account of the card's number to the person at the counter (the ID card is authoritative)."""

from __future__ import annotations

import asyncio
import json
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from app.cli import cli
from app.core.config import Settings
from app.core.db import create_engine, create_sessionmaker
from app.core.migrations import upgrade
from app.identity.accounts import (
    InPersonCheckFailed,
    NewPerson,
    register_person,
    verify_in_person,
)
from app.identity.crypto import DataCipher
from app.identity.passwords import verify_password
from app.models.audit import AuditRecord
from app.models.identity import IdentityEvent, Person, RefreshToken
from tests.conftest import DATA_KEY

ID_NUMBER = "431281196307301826"
OTHER_ID_NUMBER = "430102199005170017"
CARD_NAME = "王玲"
SQUATTER_NAME = "王林"
SQUATTER_PHONE = "13912345678"
SQUATTER_PASSWORD = "a long password"
OTHER_PHONE = "13800001111"
NEW_PHONE = "13700002222"
VERIFY = ["persons", "verify", "--id-number", ID_NUMBER]
PRINTED_PASSWORD = re.compile(r"new password \(.*\): (\S+)$", re.MULTILINE)


def _settings(url: str, tmp_path: Path) -> Settings:
    return Settings(database_url=url, data_dir=tmp_path / "data", data_key=DATA_KEY)


@dataclass(frozen=True)
class Accounts:
    squatted: int  # registered with the card's number by someone else, under a wrong name
    other: int  # another resident, holding OTHER_PHONE
    family: str  # a live refresh-token family of the squatted account
    other_family: str  # one of the other resident's


def _refresh_token(person_id: int) -> RefreshToken:
    return RefreshToken(
        id=secrets.token_hex(16),
        family=secrets.token_hex(16),
        person_id=person_id,
        client_id="app",
        secret_hash="0" * 64,
        expires_at=datetime.now(UTC) + timedelta(days=30),
    )


def _registered(settings: Settings) -> Accounts:
    async def run() -> Accounts:
        engine = create_engine(settings)
        cipher = DataCipher.from_text(DATA_KEY)
        try:
            await upgrade(engine)
            async with create_sessionmaker(engine)() as session, session.begin():
                squatted = await register_person(
                    session,
                    cipher,
                    NewPerson(SQUATTER_NAME, ID_NUMBER, SQUATTER_PHONE, SQUATTER_PASSWORD),
                )
                other = await register_person(
                    session,
                    cipher,
                    NewPerson("李四", OTHER_ID_NUMBER, OTHER_PHONE, "another long password"),
                )
                token, other_token = _refresh_token(squatted.id), _refresh_token(other.id)
                session.add_all([token, other_token])
                return Accounts(squatted.id, other.id, token.family, other_token.family)
        finally:
            await engine.dispose()

    return asyncio.run(run())


@dataclass(frozen=True)
class State:
    name: str
    assurance: int
    password_hash: str
    phone_hash: str | None
    phone_masked: str | None
    revoked: dict[str, bool]  # family: revoked
    revocation_events: list[str]  # families
    audit: list[tuple[str, str, str]]  # action, object, summary


def _state(settings: Settings, person_id: int) -> State:
    async def run() -> State:
        engine = create_engine(settings)
        try:
            async with create_sessionmaker(engine)() as session:
                person = await session.get(Person, person_id)
                assert person is not None
                tokens = await session.scalars(select(RefreshToken))
                events = await session.scalars(
                    select(IdentityEvent.subject).where(IdentityEvent.kind == "family_revoked")
                )
                records = await session.execute(
                    select(AuditRecord.action, AuditRecord.object, AuditRecord.summary).where(
                        AuditRecord.action == "person.verify-in-person"
                    )
                )
                return State(
                    name=person.name,
                    assurance=person.assurance,
                    password_hash=person.password_hash or "",
                    phone_hash=person.phone_hash,
                    phone_masked=person.phone_masked,
                    revoked={t.family: t.revoked_at is not None for t in tokens},
                    revocation_events=list(events),
                    audit=[(str(a), str(o), str(s)) for a, o, s in records],
                )
        finally:
            await engine.dispose()

    return asyncio.run(run())


def test_a_clerk_binds_the_account_to_the_person_at_the_counter(
    tmp_path: Path, fresh_database_url: str
) -> None:
    settings = _settings(fresh_database_url, tmp_path)
    accounts = _registered(settings)
    env = {
        "XYB_DATABASE_URL": fresh_database_url,
        "XYB_DATA_DIR": str(tmp_path / "data"),
        "XYB_DATA_KEY": DATA_KEY,
    }
    runner = CliRunner()
    before = _state(settings, accounts.squatted)
    assert before.name == SQUATTER_NAME
    assert before.assurance == 1

    unknown = runner.invoke(
        cli,
        ["persons", "verify", "--id-number", "110101199003077777", "--name", CARD_NAME],
        env=env,
    )
    assert unknown.exit_code == 1
    assert "No account" in unknown.output or "not valid" in unknown.output

    # A phone another account holds is refused, and nothing changes.
    taken = runner.invoke(
        cli,
        [*VERIFY, "--name", CARD_NAME, "--phone", OTHER_PHONE],
        env=env,
    )
    assert taken.exit_code == 1
    assert "belongs to another account" in taken.output
    assert _state(settings, accounts.squatted) == before

    # The card's name replaces the wrong one (the lock-out), the squatter's password and
    # sessions stop working (the takeover), and the account takes the phone given.
    done = runner.invoke(
        cli,
        [*VERIFY, "--name", f" {CARD_NAME} ", "--phone", NEW_PHONE],
        env=env,
    )
    assert done.exit_code == 0, done.output
    assert "assurance 2" in done.output
    assert "name was corrected" in done.output
    assert "1 earlier session ended" in done.output
    printed = PRINTED_PASSWORD.search(done.output)
    assert printed is not None, done.output
    password = printed.group(1)
    assert len(password) >= 16

    after = _state(settings, accounts.squatted)
    assert after.name == CARD_NAME
    assert after.assurance == 2
    assert verify_password(after.password_hash, password)
    assert not verify_password(after.password_hash, SQUATTER_PASSWORD)
    assert after.phone_hash == DataCipher.from_text(DATA_KEY).lookup_hash(
        NEW_PHONE, purpose="phone"
    )
    assert after.phone_masked is not None
    assert after.phone_masked != before.phone_masked
    assert after.revoked == {accounts.family: True, accounts.other_family: False}
    assert after.revocation_events == [accounts.family]

    # The audit record names the account and what happened, never a secret.
    [(action, object_, summary)] = after.audit
    assert (action, object_) == ("person.verify-in-person", f"person:{accounts.squatted}")
    assert json.loads(summary) == {
        "assurance": 2,
        "renamed": True,
        "sessions_ended": 1,
        "phone_changed": True,
    }
    for secret in (ID_NUMBER, CARD_NAME, SQUATTER_NAME, NEW_PHONE, SQUATTER_PHONE, password):
        assert secret not in summary
        assert secret not in object_
    assert ID_NUMBER not in done.output
    assert NEW_PHONE not in done.output

    # Again, with the right name and no phone: nothing renamed, no session left to end.
    again = runner.invoke(
        cli, ["persons", "verify", "--id-number", ID_NUMBER, "--name", CARD_NAME], env=env
    )
    assert again.exit_code == 0, again.output
    assert "name was corrected" not in again.output
    assert "no earlier session" in again.output
    last = _state(settings, accounts.squatted)
    assert last.phone_hash == after.phone_hash
    assert json.loads(last.audit[-1][2]) == {
        "assurance": 2,
        "renamed": False,
        "sessions_ended": 0,
        "phone_changed": False,
    }


def test_a_chosen_password_follows_the_registration_rules(
    tmp_path: Path, fresh_database_url: str
) -> None:
    settings = _settings(fresh_database_url, tmp_path)
    accounts = _registered(settings)
    before = _state(settings, accounts.squatted)

    async def verify(**fields: str) -> str:
        engine = create_engine(settings)
        try:
            async with create_sessionmaker(engine)() as session, session.begin():
                done = await verify_in_person(
                    session, DataCipher.from_text(DATA_KEY), id_number=ID_NUMBER, **fields
                )
                return done.password
        finally:
            await engine.dispose()

    for bad in ("short", ID_NUMBER, SQUATTER_PHONE):
        with pytest.raises(InPersonCheckFailed, match="password is not valid"):
            asyncio.run(verify(name=CARD_NAME, new_password=bad))
    with pytest.raises(InPersonCheckFailed, match="name is not valid"):
        asyncio.run(verify(name="  ", new_password="a chosen password"))
    with pytest.raises(InPersonCheckFailed, match="phone is not valid"):
        asyncio.run(verify(name=CARD_NAME, phone="12345"))
    assert _state(settings, accounts.squatted) == before

    assert asyncio.run(verify(name=CARD_NAME, new_password="a chosen password")) == (
        "a chosen password"
    )
    after = _state(settings, accounts.squatted)
    assert verify_password(after.password_hash, "a chosen password")
    assert after.phone_hash == before.phone_hash
