"""The operators' view of the 12345 hotline and 好差评: /ops/hotline and its lists.

The same callers as the rest of /ops (``app.routers.ops.ops_principal``): an operator's or the
platform admin's token, or a dashboard session. The follow-ups also admit a division admin's
token, for the follow-ups of its division and the divisions under it, since a follow-up is owned
by the rated item's division: it lists them and closes them. Closing one is an admin action and
goes to the audit log once committed (never the resolution's text: it may name the resident).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from sqlalchemy.exc import OperationalError

from app.core.config import Settings
from app.core.deps import SessionDep
from app.core.errors import Forbidden
from app.core.openapi import PARAMETERS_KEY, Scheme, problem_responses, security
from app.identity.accounts import lock_for_write
from app.identity.callers import caller_of
from app.identity.roles import Role
from app.routers.ops import OpsDep, ops_principal
from app.services.audit.actions import actor_name, record_admin_after_commit
from app.services.hotline.closing import close_follow_up
from app.services.hotline.figures import (
    CARDS,
    FOLLOW_UP_PARAMETER_SCHEMAS,
    MAX_LIMIT,
    STATES,
    STATUSES,
    TICKET_PARAMETER_SCHEMAS,
    follow_up_list,
    hotline_summary,
    parse_list_query,
    reach_of,
    ticket_list,
)
from app.services.hotline.ops_schemas import (
    FollowUpCloseIn,
    FollowUpListOut,
    FollowUpOut,
    HotlineSummaryOut,
    TicketListOut,
)
from app.services.ops.clock import Clock, system_clock
from app.services.ops.operators import DASHBOARD_ROLES

router = APIRouter(prefix="/ops/hotline", tags=["operators"])

FollowUpId = Annotated[
    str, Path(pattern=r"^[A-Za-z0-9_-]{1,32}$", description="the follow-up's id")
]
_OPS_AUTH = security(Scheme.ACCESS, Scheme.ADMIN, Scheme.OPS_SESSION)  # as the other /ops routes
_DIVISION = "Hunan GB/T 2260 codes, comma-separated (a prefecture includes its counties)"
_LIMIT = f"1-{MAX_LIMIT}, default 100"


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _now(request: Request) -> datetime:
    """Now from ``app.state.ops_clock`` when a test set one (as the other /ops routes)."""
    clock: Clock | None = getattr(request.app.state, "ops_clock", None)
    return (clock or system_clock)()


@dataclass(frozen=True, slots=True)
class FollowUpActor:
    """Who works on follow-ups: ``name`` as the audit log and ``closed_by`` name them."""

    name: str
    client_id: str | None
    reach: frozenset[str] | None  # a division admin's divisions; None: every division


async def follow_up_actor(request: Request, session: SessionDep) -> FollowUpActor:
    """Operators and the platform admin (token or dashboard session) for every follow-up; a
    division admin's token for its own divisions'."""
    if request.headers.get("authorization") is not None:
        caller = caller_of(request)
        name = actor_name(caller.client_id, caller.kind)
        if caller.roles & DASHBOARD_ROLES:
            return FollowUpActor(name, caller.client_id, None)
        if Role.DIVISION_ADMIN.value in caller.roles:
            return FollowUpActor(name, caller.client_id, reach_of(caller.division))
        raise Forbidden(
            f"This needs the role {Role.OPERATOR.value} or {Role.DIVISION_ADMIN.value}.",
            extensions={"required_roles": [Role.OPERATOR.value, Role.DIVISION_ADMIN.value]},
        )
    principal = await ops_principal(request, session)  # a session; a POST's origin checked
    return FollowUpActor(principal.name, None, None)


FollowUpActorDep = Annotated[FollowUpActor, Depends(follow_up_actor)]


@router.get(
    "",
    response_model=HotlineSummaryOut,
    responses=problem_responses(401, 403),
    openapi_extra=_OPS_AUTH,
)
async def summary(request: Request, session: SessionDep, _: OpsDep) -> dict[str, Any]:
    """Tickets by status and division, on-time completion, satisfaction (好差评) per item,
    division and channel, open yellow and red cards, and the follow-ups of bad ratings."""
    return await hotline_summary(session, _settings(request), now=_now(request))


@router.get(
    "/tickets",
    response_model=TicketListOut,
    responses=problem_responses(401, 403, 422),
    openapi_extra={PARAMETERS_KEY: TICKET_PARAMETER_SCHEMAS, **_OPS_AUTH},
)
async def tickets(
    request: Request,
    session: SessionDep,
    _: OpsDep,
    status: Annotated[
        str | None, Query(description="comma-separated among " + ", ".join(STATUSES))
    ] = None,
    state: Annotated[str | None, Query(description="open, closed or all (default)")] = None,
    division: Annotated[str | None, Query(description=_DIVISION)] = None,
    card: Annotated[
        str | None, Query(description=" or ".join(CARDS) + ": open tickets with that card")
    ] = None,
    limit: Annotated[str | None, Query(description=_LIMIT)] = None,
) -> dict[str, Any]:
    """Tickets, newest first: number, division, category, channel, desk, priority, status,
    deadline, card, on time; never the content, which is the resident's."""
    query = parse_list_query(status=status, state=state, division=division, card=card, limit=limit)
    return await ticket_list(session, _settings(request), query, now=_now(request))


@router.get(
    "/follow-ups",
    response_model=FollowUpListOut,
    responses=problem_responses(401, 403, 422),
    openapi_extra={PARAMETERS_KEY: FOLLOW_UP_PARAMETER_SCHEMAS, **_OPS_AUTH},
)
async def follow_ups(
    request: Request,
    session: SessionDep,
    actor: FollowUpActorDep,
    state: Annotated[str | None, Query(description=", ".join(STATES) + " (default open)")] = None,
    division: Annotated[str | None, Query(description=_DIVISION)] = None,
    card: Annotated[
        str | None, Query(description=" or ".join(CARDS) + ": open follow-ups with that card")
    ] = None,
    limit: Annotated[str | None, Query(description=_LIMIT)] = None,
) -> dict[str, Any]:
    """Follow-ups of bad ratings, the nearest deadline first. A division admin sees its
    divisions' (``divisions`` in the answer)."""
    query = parse_list_query(
        state=state, division=division, card=card, limit=limit, default_state="open"
    )
    return await follow_up_list(
        session, _settings(request), query, now=_now(request), reach=actor.reach
    )


@router.post(
    "/follow-ups/{follow_up_id}/close",
    response_model=FollowUpOut,
    responses=problem_responses(401, 403, 404, 409, 422),
    openapi_extra=_OPS_AUTH,
)
async def close(
    request: Request,
    session: SessionDep,
    actor: FollowUpActorDep,
    follow_up_id: FollowUpId,
    body: FollowUpCloseIn,
) -> dict[str, Any]:
    """Close a follow-up with what was done about the rating (409 once closed). A division
    admin closes its divisions' only."""
    try:
        await lock_for_write(session)  # SQLite: read-then-write needs the write lock first
    except OperationalError:
        # A dashboard session was checked with reads in this session (see /ops/targets): start
        # a transaction whose first statement takes the lock.
        await session.rollback()
        await lock_for_write(session)
    closed = await close_follow_up(
        session,
        _settings(request),
        follow_up_id,
        resolution=body.resolution,
        closed_by=actor.name,
        now=_now(request),
        reach=actor.reach,
    )
    record_admin_after_commit(
        session,
        getattr(request.app.state, "audit", None),
        actor=actor.name,
        action="follow-up.close",
        object=f"follow-up:{follow_up_id}",
        summary={"rating": closed["rating_id"], "on_time": closed["on_time"]},
        division=closed["division"],
        client_id=actor.client_id,
    )
    return closed
