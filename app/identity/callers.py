"""Who is calling: bearer tokens verified offline, roles, the bootstrap admin token."""

from __future__ import annotations

import hmac
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Request

from app.core.config import Settings
from app.core.errors import Forbidden, Unauthorized
from app.core.openapi import AccessOrAdminToken, AccessTokenOnly
from app.identity.roles import Role

if TYPE_CHECKING:
    from app.identity.state import IdentityManager

_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="xyb"'}


def _invalid_token(reason: str) -> dict[str, str]:
    """RFC 6750 §3.1: a token that is malformed, expired or revoked is an invalid_token (the
    client should get a new one); ``reason`` is fixed ASCII text."""
    challenge = f'Bearer realm="xyb", error="invalid_token", error_description="{reason}"'
    return {"WWW-Authenticate": challenge}


@dataclass(frozen=True)
class Caller:
    """The verified identity behind a request."""

    client_id: str
    kind: str  # "person" | "client" | "admin-token"
    roles: frozenset[str]
    division: str | None
    person_id: int | None
    assurance: int
    acting_for: int | None
    sealed_id_number: str | None  # encrypted; opened only for services allowed to see it

    def has(self, *roles: Role) -> bool:
        return any(role.value in self.roles for role in roles)


BOOTSTRAP = Caller(
    client_id="xyb-admin-token",
    kind="admin-token",
    roles=frozenset({Role.PLATFORM_ADMIN.value}),
    division=None,
    person_id=None,
    assurance=0,
    acting_for=None,
    sealed_id_number=None,
)


def bearer_token(authorization: str | None) -> str:
    """The token of 'Authorization: Bearer <token>', or 401."""
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized(
            "Send 'Authorization: Bearer <access token>' (POST /identity/token issues one).",
            headers=_CHALLENGE,
        )
    return token.strip()


def identity_of(manager: IdentityManager, token: str, *, now: float | None = None) -> Caller:
    """Verify an access token offline and check it against the in-memory revocations."""
    from app.identity.tokens import InvalidToken

    try:
        claims = manager.verifier.verify(token, now=now)
    except InvalidToken as exc:
        raise Unauthorized(
            f"The access token is not valid: {exc.reason}.", headers=_invalid_token(exc.reason)
        ) from None
    state = manager.state
    client = state.clients.get(claims.client_id)
    if client is None or not client.active:
        raise Unauthorized(
            "The token's client is disabled or unknown.",
            headers=_invalid_token("client disabled"),
        )
    person_id: int | None = None
    if claims.kind == "person":
        person_id = int(claims.subject.removeprefix("p:"))
        if person_id in state.disabled_persons:
            raise Unauthorized(
                "This account is disabled.", headers=_invalid_token("account disabled")
            )
        if claims.family is not None and claims.family in state.revoked_families:
            raise Unauthorized(
                "This session was revoked; log in again.",
                headers=_invalid_token("session revoked"),
            )
    roles = frozenset(claims.roles) & client.roles if claims.kind == "client" else frozenset()
    return Caller(
        client_id=claims.client_id,
        kind=claims.kind,
        roles=roles,
        division=claims.division if claims.kind == "client" else None,
        person_id=person_id,
        assurance=claims.assurance,
        acting_for=int(claims.acting_for) if claims.acting_for else None,
        sealed_id_number=claims.sealed_id_number,
    )


def _manager(request: Request) -> IdentityManager:
    manager: IdentityManager = request.app.state.identity
    return manager


def caller_of(request: Request) -> Caller:
    """The caller of an API request: the admin token, or an access token."""
    token = bearer_token(request.headers.get("authorization"))
    settings: Settings = request.app.state.settings
    if hmac.compare_digest(token.encode(), settings.resolved_admin_token.encode()):
        return BOOTSTRAP
    return identity_of(_manager(request), token, now=time.time())


def require(*roles: Role) -> Callable[[Request], Caller]:
    """A dependency admitting callers that hold any of ``roles``."""

    # The second parameter only names the accepted tokens in the OpenAPI document.
    def check(request: Request, _tokens: AccessOrAdminToken = None) -> Caller:
        caller = caller_of(request)
        if Role.PLATFORM_ADMIN.value in caller.roles or caller.has(*roles):
            return caller
        needed = " or ".join(r.value for r in roles) or Role.PLATFORM_ADMIN.value
        raise Forbidden(
            f"This needs the role {needed}.",
            extensions={"required_roles": [r.value for r in roles]},
        )

    return check


def require_person(request: Request, _token: AccessTokenOnly = None) -> Caller:
    """A resident's token (not an application's)."""
    caller = caller_of(request)
    if caller.person_id is None:
        raise Forbidden("This needs a resident's token (the password or token-exchange grant).")
    return caller


require_admin = require(Role.PLATFORM_ADMIN)
require_service_admin = require(Role.PLATFORM_ADMIN, Role.DIVISION_ADMIN)

AdminDep = Annotated[Caller, Depends(require_admin)]
ServiceAdminDep = Annotated[Caller, Depends(require_service_admin)]
PersonDep = Annotated[Caller, Depends(require_person)]
