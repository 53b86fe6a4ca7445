"""What the connector tests that run a whole gateway share (e-license, alliance over the
simulators, alliance over the contracts' stubs): its settings on a migrated database of the
module's own, and a resident verified in person at a counter (assurance 2)."""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from app.core.config import Settings
from app.core.db import create_engine, create_sessionmaker
from app.core.migrations import upgrade
from app.identity.accounts import verify_in_person
from app.identity.crypto import DataCipher
from tests.conftest import ADMIN_TOKEN, DATA_KEY
from tests.identity.api_support import PASSWORD


async def migrated_settings(tmp: Path, database_url: str, **overrides: Any) -> Settings:
    """The gateway's settings on ``database_url``, upgraded to the head; no background pollers
    or snapshots to race the tests."""
    settings = Settings(
        data_dir=tmp / "data",
        database_url=database_url,
        admin_token=ADMIN_TOKEN,
        data_key=SecretStr(DATA_KEY),
        routes_poll_interval=3600,
        identity_poll_interval=3600,
        target_snapshot_interval=0,
        **overrides,
    )
    engine = create_engine(settings, database_url)
    try:
        await upgrade(engine)
    finally:
        await engine.dispose()
    return settings


async def verify_at_counter(settings: Settings, id_number: str, name: str) -> None:
    """The clerk's in-person verification of the registered ``id_number`` (its password becomes
    the tests' PASSWORD)."""
    engine = create_engine(settings)
    try:
        async with create_sessionmaker(engine)() as session, session.begin():
            await verify_in_person(
                session,
                DataCipher.from_text(DATA_KEY),
                id_number=id_number,
                name=name,
                new_password=PASSWORD,
            )
    finally:
        await engine.dispose()


def signed_callback(body: Any, *, at: float, secret: str) -> tuple[bytes, dict[str, str]]:
    """A 12345 status callback as the system signs it: the body and its headers, the signature
    the HMAC-SHA256 under ``secret`` of the timestamp (``at``), "." and the body."""
    raw = json.dumps(body, ensure_ascii=False).encode("utf-8")
    stamp = str(int(at))
    mac = hmac.new(secret.encode(), stamp.encode() + b"." + raw, hashlib.sha256).hexdigest()
    return raw, {
        "Content-Type": "application/json",
        "X-Hotline-Timestamp": stamp,
        "X-Hotline-Signature": f"sha256={mac}",
    }
