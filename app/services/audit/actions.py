"""Admin actions and personal-data reads, handed to the audit log from the routes and the CLI.

An admin action is recorded only once its change has committed (``after_commit``): a change that
rolls back left nothing to audit. Recording is synchronous and never fails the request: the log
buffers in memory, and a failure to buffer is logged, not raised (the change is made already).

Actors: the caller's client id, an operator's username, or ``"admin-token"`` for the bootstrap
admin token (``XYB_ADMIN_TOKEN``), so that records never carry a token. Summaries hold what
changed (versions, counts, roles, the contract breaks a ``force`` overrode), never a secret, a
password or an ID number.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.core.config import Settings
from app.core.context import request_id_var
from app.core.deps import after_commit

log = logging.getLogger("xyb.audit")

ADMIN_TOKEN_ACTOR = "admin-token"  # noqa: S105 - a name, not the token
IDENTITY_LOOKUP = "identity-lookup"


class AdminRecorder(Protocol):
    """What the routes need of ``app.services.audit.log.AuditLog``."""

    def record_admin(
        self,
        *,
        actor: str,
        action: str,
        object: str,
        summary: Mapping[str, Any] | None = None,
        request_id: str | None = None,
        division: str | None = None,
        outcome: str = "success",
        client_id: str | None = None,
    ) -> None: ...

    def record_personal_read(
        self,
        *,
        person_id: int,
        purpose: str,
        kind: str,
        client_id: str | None,
        service: str | None,
        request_id: str | None,
        event_id: str | None = None,
        at: datetime | None = None,
    ) -> None: ...


def actor_name(client_id: str, kind: str) -> str:
    """A caller as an actor: its client id, or "admin-token" for the bootstrap token."""
    return ADMIN_TOKEN_ACTOR if kind == "admin-token" else client_id


def record_admin_now(
    audit: AdminRecorder | None,
    *,
    actor: str,
    action: str,
    object: str,
    summary: Mapping[str, Any] | None = None,
    division: str | None = None,
    outcome: str = "success",
    client_id: str | None = None,
    request_id: str | None = None,
) -> None:
    """Hand one admin record to the log (nothing when auditing is off); never raises."""
    if audit is None:
        return
    try:
        audit.record_admin(
            actor=actor,
            action=action,
            object=object,
            summary=dict(summary) if summary is not None else None,
            request_id=request_id if request_id is not None else request_id_var.get(),
            division=division,
            outcome=outcome,
            client_id=client_id,
        )
    except Exception:  # the change is made: losing its record must not turn it into a 500
        log.exception(
            "an admin action could not be handed to the audit log", extra={"action": action}
        )


def record_admin_after_commit(
    session: AsyncSession,
    audit: AdminRecorder | None,
    *,
    actor: str,
    action: str,
    object: str,
    summary: Mapping[str, Any] | None = None,
    division: str | None = None,
    client_id: str | None = None,
) -> None:
    """Record an admin action once the route's transaction has committed."""
    if audit is None:
        return
    request_id = request_id_var.get()  # the request's, taken now: the callback runs later

    async def record() -> None:
        record_admin_now(
            audit,
            actor=actor,
            action=action,
            object=object,
            summary=summary,
            division=division,
            client_id=client_id,
            request_id=request_id,
        )

    after_commit(session, record)


def record_reads_after_commit(
    session: AsyncSession,
    audit: AdminRecorder | None,
    person_ids: list[int],
    *,
    purpose: str,
    client_id: str | None,
    kind: str = IDENTITY_LOOKUP,
    service: str | None = None,
) -> None:
    """Record that an answer showed these residents' personal data (once it is committed)."""
    if audit is None or not person_ids:
        return
    request_id = request_id_var.get()
    people = list(dict.fromkeys(person_ids))

    async def record() -> None:
        for person_id in people:
            try:
                audit.record_personal_read(
                    person_id=person_id,
                    purpose=purpose,
                    kind=kind,
                    client_id=client_id,
                    service=service,
                    request_id=request_id,
                )
            except Exception:  # the answer is ready: a lost record must not turn it into a 500
                log.exception("a personal-data read could not be handed to the audit log")

    after_commit(session, record)


async def record_standalone(
    settings: Settings,
    sessionmaker: async_sessionmaker[AsyncSession],
    *,
    actor: str,
    action: str,
    object: str,
    summary: Mapping[str, Any] | None = None,
    division: str | None = None,
) -> bool:
    """Record an admin action made outside a running gateway (the command line, which changes
    the database directly): a writer of its own, a chain of one record and its checkpoint,
    signed with the gateway's current signing key. True when it was written."""
    from app.identity.crypto import DataCipher
    from app.identity.keys import KeyRing, key_from_text
    from app.models.identity import SigningKeyRow
    from app.services.audit.log import AuditLog, new_writer_id

    cipher = DataCipher.from_text(settings.resolved_data_key)
    async with sessionmaker() as session:
        rows = (await session.scalars(select(SigningKeyRow))).all()
    ring = KeyRing(key_from_text(row.kid, row.created_at, row.private_key, cipher) for row in rows)
    audit = AuditLog(
        writer=new_writer_id("xyb-cli"),  # one chain per command, like a process
        sessionmaker=sessionmaker,
        signer=lambda: ring.signing_key,
    )
    record_admin_now(
        audit,
        actor=actor,
        action=action,
        object=object,
        summary=summary,
        division=division,
    )
    return await audit.stop(grace=30)
