"""What every instance knows about identity, in memory: clients and their grants and limits,
disabled persons, revoked refresh families and the signing keys.

Authentication and authorization on the proxy path read only this (no database round trip). It
is loaded at start-up and patched from the identity change feed, polled every second, so a
disable or a revocation stops access on every instance within about two seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.core.config import Settings
from app.gateway.ratelimit import RateLimitPolicy
from app.identity.crypto import DataCipher, DecryptionError
from app.identity.events import IDENTITY_FEED, EventKind, emit
from app.identity.keys import (
    KeyRing,
    SigningKey,
    generate_key,
    key_from_text,
    private_to_text,
)
from app.identity.tokens import TokenIssuer, TokenVerifier
from app.models.identity import Client, Grant, IdentityEvent, Person, RefreshToken, SigningKeyRow
from app.models.service import GatewayState

log = logging.getLogger("xyb.identity")
ACCESS_AUDIENCE = "xyb-gateway"


@dataclass(frozen=True)
class ClientView:
    """A client as the proxy sees it."""

    id: str
    name: str
    kind: str
    roles: frozenset[str]
    division: str | None
    active: bool
    policy: RateLimitPolicy
    # (division, slug) -> the operationIds granted, or None for every operation.
    grants: Mapping[tuple[str, str], frozenset[str] | None]
    partner_province: str | None = None
    partner_issuer: str | None = None
    partner_jwks: Mapping[str, Any] | None = None

    def may_call(self, division: str, slug: str, operation_id: str) -> bool:
        if (division, slug) not in self.grants:
            return False
        operations = self.grants[(division, slug)]
        return operations is None or operation_id in operations


@dataclass
class IdentityState:
    clients: dict[str, ClientView] = field(default_factory=dict)
    # person id -> when disabled (epoch seconds); their tokens stop at once.
    disabled_persons: dict[int, float] = field(default_factory=dict)
    # refresh family -> until when to remember it (epoch seconds: its last access token's expiry).
    revoked_families: dict[str, float] = field(default_factory=dict)
    keyring: KeyRing = field(default_factory=lambda: KeyRing([]))
    seq: int = -1


def client_view(row: Client, grants: list[Grant]) -> ClientView:
    return ClientView(
        id=row.id,
        name=row.name,
        kind=row.kind,
        roles=frozenset(row.roles),
        division=row.division,
        active=row.status == "active",
        policy=RateLimitPolicy(rate_per_s=row.rate_per_s, burst=row.burst),
        grants={
            (g.division, g.slug): (frozenset(g.operations) if g.operations is not None else None)
            for g in grants
        },
        partner_province=row.partner_province,
        partner_issuer=row.partner_issuer,
        partner_jwks=row.partner_jwks,
    )


class IdentityManager:
    """Keeps this instance's identity state in step with the database."""

    def __init__(
        self,
        settings: Settings,
        sessionmaker: async_sessionmaker[AsyncSession],
        cipher: DataCipher,
    ) -> None:
        self.settings = settings
        self.sessionmaker = sessionmaker
        self.cipher = cipher
        self.state = IdentityState()
        self._lock = asyncio.Lock()
        self._poller: asyncio.Task[None] | None = None
        self.verifier = TokenVerifier(
            lambda kid: self.state.keyring.get(kid),
            issuer=settings.resolved_issuer,
            audience=ACCESS_AUDIENCE,
        )

    @property
    def issuer(self) -> TokenIssuer:
        return TokenIssuer(
            self.state.keyring,
            issuer=self.settings.resolved_issuer,
            audience=ACCESS_AUDIENCE,
            ttl_seconds=self.settings.access_token_ttl,
        )

    async def start(self) -> None:
        await ensure_signing_key(self.sessionmaker, self.cipher)
        await self.reload()
        self._poller = asyncio.create_task(self._poll(), name="xyb-identity-poller")

    async def stop(self) -> None:
        if self._poller is not None:
            self._poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poller

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(self.settings.identity_poll_interval)
            try:
                await self.refresh()
            except Exception:
                log.exception("identity refresh failed; keeping the current state")

    async def reload(self) -> None:
        """Load everything (at start-up)."""
        async with self._lock, self.sessionmaker() as session:
            seq = await self._seq(session)
            state = IdentityState(seq=seq)
            clients = (await session.scalars(select(Client))).all()
            grants = (await session.scalars(select(Grant))).all()
            by_client: dict[str, list[Grant]] = {}
            for grant in grants:
                by_client.setdefault(grant.client_id, []).append(grant)
            state.clients = {c.id: client_view(c, by_client.get(c.id, [])) for c in clients}
            disabled = await session.execute(
                select(Person.id, Person.disabled_at).where(Person.status == "disabled")
            )
            state.disabled_persons = {
                pid: (at.timestamp() if at else time.time()) for pid, at in disabled
            }
            state.revoked_families = await self._recent_revocations(session)
            state.keyring = await self._keyring(session)
            self.state = state

    async def refresh(self) -> None:
        """Apply the change feed since the last sequence number seen."""
        async with self._lock, self.sessionmaker() as session:
            seq = await self._seq(session)
            if seq == self.state.seq:
                return
            events = (
                await session.scalars(
                    select(IdentityEvent)
                    .where(IdentityEvent.seq > self.state.seq)
                    .order_by(IdentityEvent.seq)
                )
            ).all()
            state = self.state
            clients = dict(state.clients)
            disabled = dict(state.disabled_persons)
            families = {f: u for f, u in state.revoked_families.items() if u > time.time()}
            keyring = state.keyring
            for event in events:
                kind = EventKind(event.kind)
                if kind is EventKind.CLIENT_CHANGED:
                    view = await self._load_client(session, event.subject)
                    if view is None:
                        clients.pop(event.subject, None)
                    else:
                        clients[event.subject] = view
                elif kind is EventKind.PERSON_DISABLED:
                    disabled[int(event.subject)] = event.at.timestamp()
                elif kind is EventKind.PERSON_ENABLED:
                    disabled.pop(int(event.subject), None)
                elif kind is EventKind.FAMILY_REVOKED:
                    families[event.subject] = (
                        event.at.timestamp() + self.settings.access_token_ttl + 60
                    )
                elif kind is EventKind.KEYS_CHANGED:
                    keyring = await self._keyring(session)
            last = events[-1].seq if events else seq
            self.state = IdentityState(clients, disabled, families, keyring, max(last, seq))
            log.info("identity state updated", extra={"seq": self.state.seq, "events": len(events)})

    @staticmethod
    async def _seq(session: AsyncSession) -> int:
        seq = await session.scalar(
            select(GatewayState.change_seq).where(GatewayState.id == IDENTITY_FEED)
        )
        return int(seq or 0)

    @staticmethod
    async def _load_client(session: AsyncSession, client_id: str) -> ClientView | None:
        row = await session.get(Client, client_id)
        if row is None:
            return None
        grants = list(
            (await session.scalars(select(Grant).where(Grant.client_id == client_id))).all()
        )
        return client_view(row, grants)

    async def _recent_revocations(self, session: AsyncSession) -> dict[str, float]:
        horizon = datetime.now(UTC) - timedelta(seconds=self.settings.access_token_ttl + 60)
        rows = await session.execute(
            select(RefreshToken.family, RefreshToken.revoked_at)
            .where(RefreshToken.revoked_at.is_not(None), RefreshToken.revoked_at > horizon)
            .distinct()
        )
        return {
            family: at.timestamp() + self.settings.access_token_ttl + 60
            for family, at in rows
            if at is not None
        }

    async def _keyring(self, session: AsyncSession) -> KeyRing:
        rows = (
            await session.scalars(select(SigningKeyRow).order_by(SigningKeyRow.created_at))
        ).all()
        keys: list[SigningKey] = []
        now = datetime.now(UTC)
        keep_for = timedelta(seconds=self.settings.access_token_ttl + 120)
        for index, row in enumerate(rows):
            superseded = rows[index + 1].created_at if index + 1 < len(rows) else None
            # A superseded key verifies until every token it signed has expired.
            if superseded is not None and superseded + keep_for < now:
                continue
            try:
                keys.append(key_from_text(row.kid, row.created_at, row.private_key, self.cipher))
            except DecryptionError:
                raise RuntimeError(
                    f"the signing key {row.kid} does not decrypt with this XYB_DATA_KEY: the"
                    " database was written with another data key (restore that key)"
                ) from None
        return KeyRing(keys)


async def ensure_signing_key(
    sessionmaker: async_sessionmaker[AsyncSession], cipher: DataCipher
) -> None:
    """Create the first signing key if there is none (several instances may race: one wins)."""
    async with sessionmaker() as session:
        existing = await session.scalar(select(SigningKeyRow.kid).limit(1))
        if existing is not None:
            return
    try:
        async with sessionmaker() as session, session.begin():
            await add_signing_key(session, cipher)
    except Exception:
        # Another instance created one at the same moment: theirs serves everyone.
        async with sessionmaker() as session:
            if await session.scalar(select(SigningKeyRow.kid).limit(1)) is None:
                raise


async def add_signing_key(session: AsyncSession, cipher: DataCipher) -> str:
    """A new signing key (it signs from now on; older ones keep verifying); returns its kid."""
    key = generate_key(datetime.now(UTC))
    session.add(
        SigningKeyRow(
            kid=key.kid,
            algorithm=key.algorithm,
            private_key=private_to_text(key, cipher),
            public_jwk=dict(key.public_jwk),
            created_at=key.created_at,
        )
    )
    await emit(session, EventKind.KEYS_CHANGED, key.kid)
    return key.kid
