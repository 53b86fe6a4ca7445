"""Revision 0006 removes private key members from partner key sets stored before they were
refused, and keeps the public ones (on SQLite and PostgreSQL)."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm
from sqlalchemy.dialects import postgresql

from app.core.config import Settings
from app.core.db import create_engine
from app.core.migrations import upgrade

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
CLIENTS = sa.table(
    "clients",
    *(sa.column(name, sa.String()) for name in ("id", "name", "kind", "secret_hash", "status")),
    sa.column("roles", JSON),
    sa.column("rate_per_s", sa.Float()),
    sa.column("burst", sa.Integer()),
    sa.column("partner_jwks", JSON),
    sa.column("created_at", sa.DateTime(timezone=True)),
    sa.column("updated_at", sa.DateTime(timezone=True)),
)


async def test_stored_private_members_are_removed(fresh_database_url: str, tmp_path: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    leaked = {**ECAlgorithm.to_jwk(key, as_dict=True), "kid": "gd-1"}
    public = {k: v for k, v in leaked.items() if k != "d"}
    engine = create_engine(Settings(data_dir=tmp_path), fresh_database_url)
    try:
        await upgrade(engine, "0005")
        async with engine.begin() as conn:
            for client_id, jwks in (("cli_leaky", {"keys": [leaked]}), ("cli_app", None)):
                await conn.execute(
                    CLIENTS.insert().values(
                        id=client_id,
                        name="粤省事",
                        kind="partner" if jwks else "app",
                        secret_hash="0" * 64,
                        status="active",
                        roles=[],
                        rate_per_s=50.0,
                        burst=100,
                        partner_jwks=jwks,
                        created_at=sa.func.now(),
                        updated_at=sa.func.now(),
                    )
                )
        await upgrade(engine, "0006")
        async with engine.connect() as conn:
            rows = dict((await conn.execute(sa.select(CLIENTS.c.id, CLIENTS.c.partner_jwks))).all())
        assert rows["cli_leaky"] == {"keys": [public]}
        assert rows["cli_app"] is None
    finally:
        await engine.dispose()
