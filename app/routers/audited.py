"""The admin routes' one way to audit a change: the caller as actor, recorded after commit."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncSession

from app.identity.callers import Caller
from app.services.audit.actions import actor_name, record_admin_after_commit


def audit_change(
    request: Request,
    session: AsyncSession,
    caller: Caller,
    action: str,
    object: str,
    summary: dict[str, Any],
    division: str | None = None,
) -> None:
    """The admin record of a change by ``caller`` (never a secret), once it has committed."""
    record_admin_after_commit(
        session,
        getattr(request.app.state, "audit", None),
        actor=actor_name(caller.client_id, caller.kind),
        action=action,
        object=object,
        summary=summary,
        division=division,
        client_id=caller.client_id,
    )
