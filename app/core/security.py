"""Authentication of the admin API (the platform admin's bearer token)."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Request

from app.core.config import Settings
from app.core.errors import Unauthorized

_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="xyb-admin"'}


def require_admin(request: Request) -> None:
    """Pass only a request bearing the admin token (XYB_ADMIN_TOKEN)."""
    settings: Settings = request.app.state.settings
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized(
            "The admin API needs 'Authorization: Bearer <admin token>'.", headers=_CHALLENGE
        )
    expected = settings.resolved_admin_token
    if not hmac.compare_digest(token.strip().encode(), expected.encode()):
        raise Unauthorized("The admin token is not valid.", headers=_CHALLENGE)


AdminDep = Annotated[None, Depends(require_admin)]
