"""Operator accounts (``operators``): people who sign in to the dashboard with a password.

Passwords are argon2id (``app.identity.passwords``), hashed and verified in a worker thread. An
unknown username costs one dummy verification, so it answers no faster than a wrong password.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.identity.passwords import burn_verification, hash_password, verify_password
from app.identity.roles import ALL_ROLES, Role
from app.models.counting import Operator, OperatorSessionEnd

USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{1,63}$")
MIN_PASSWORD = 10
MAX_PASSWORD = 256
# Roles that may open the dashboard and read /ops.
DASHBOARD_ROLES = frozenset({Role.OPERATOR.value, Role.PLATFORM_ADMIN.value})


class OperatorError(ValueError):
    """A refused account change; the message says why."""


@dataclass(frozen=True, slots=True)
class OperatorView:
    username: str
    roles: tuple[str, ...]
    status: str


def check_username(username: str) -> None:
    if not USERNAME.match(username):
        raise OperatorError(
            "the username is 2-64 characters of A-Z a-z 0-9 . _ - (starting with a letter or digit)"
        )


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise OperatorError(f"the password needs at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise OperatorError(f"the password may have at most {MAX_PASSWORD} characters")


def check_roles(roles: list[str]) -> list[str]:
    unknown = [r for r in roles if r not in ALL_ROLES]
    if unknown:
        raise OperatorError(f"unknown role {unknown[0]!r}; roles: {', '.join(sorted(ALL_ROLES))}")
    if not roles:
        raise OperatorError("an operator account needs a role (operator)")
    return list(dict.fromkeys(roles))


async def create_operator(
    session: AsyncSession, username: str, password: str, roles: list[str]
) -> OperatorView:
    check_username(username)
    check_password(password)
    chosen = check_roles(roles)
    if await session.get(Operator, username) is not None:
        raise OperatorError(f"the operator {username!r} exists already")
    hashed = await asyncio.to_thread(hash_password, password)
    session.add(Operator(username=username, password_hash=hashed, roles=chosen, status="active"))
    await session.flush()
    return OperatorView(username, tuple(chosen), "active")


async def set_password(session: AsyncSession, username: str, password: str) -> None:
    """A new password (every dashboard session of the account ends)."""
    check_password(password)
    row = await session.get(Operator, username)
    if row is None:
        raise OperatorError(f"no operator {username!r}")
    row.password_hash = await asyncio.to_thread(hash_password, password)
    await session.flush()


async def set_status(session: AsyncSession, username: str, status: str) -> None:
    """Disable or re-enable an account (a disabled account's sessions stop working)."""
    if status not in ("active", "disabled"):
        raise OperatorError("the status is active or disabled")
    row = await session.get(Operator, username)
    if row is None:
        raise OperatorError(f"no operator {username!r}")
    row.status = status
    await session.flush()


async def list_operators(session: AsyncSession) -> list[OperatorView]:
    rows = await session.scalars(select(Operator).order_by(Operator.username))
    return [OperatorView(r.username, tuple(r.roles), r.status) for r in rows]


async def authenticate(session: AsyncSession, username: str, password: str) -> Operator | None:
    """The active account these credentials open, or None (in about the same time either way)."""
    row = await session.get(Operator, username) if USERNAME.match(username) else None
    if row is None or row.status != "active":
        await asyncio.to_thread(burn_verification, password)
        return None
    if not await asyncio.to_thread(verify_password, row.password_hash, password):
        return None
    return row


async def end_session(
    session: AsyncSession, *, session_id: str, username: str, expires_at: int, now: datetime
) -> None:
    """Record a sign-out (idempotent) and forget sign-outs of sessions that have expired anyway."""
    await session.execute(delete(OperatorSessionEnd).where(OperatorSessionEnd.expires_at <= now))
    if await session.get(OperatorSessionEnd, session_id) is None:
        session.add(
            OperatorSessionEnd(
                session_id=session_id,
                username=username,
                ended_at=now,
                expires_at=datetime.fromtimestamp(expires_at, UTC),
            )
        )
        await session.flush()


async def session_ended(session: AsyncSession, session_id: str) -> bool:
    """Whether the session was signed out (on any instance, before or after a restart)."""
    return await session.get(OperatorSessionEnd, session_id) is not None
