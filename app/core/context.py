"""The request id: minted or accepted at the edge, kept in the scope and a context variable."""

from __future__ import annotations

import re
import uuid
from contextvars import ContextVar

from starlette.types import Scope

REQUEST_ID_HEADER = "x-request-id"
# Ids are echoed into headers, logs and problem documents: keep them short and inert.
_WELL_FORMED = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")
# An id is written on every log line of its request: one that could hold a phone or an ID number
# (a run of 11 or more digits) is replaced rather than logged.
_DIGIT_RUN = re.compile(r"[0-9]{11}")
_SCOPE_KEY = "xyb.request_id"

request_id_var: ContextVar[str | None] = ContextVar("xyb_request_id", default=None)


def accept_or_mint(incoming: str | None) -> str:
    """The caller's request id if it is well formed, else a new one."""
    if (
        incoming is not None
        and _WELL_FORMED.fullmatch(incoming)
        and not _DIGIT_RUN.search(incoming)
    ):
        return incoming
    return str(uuid.uuid4())


def set_request_id(scope: Scope, request_id: str) -> None:
    scope[_SCOPE_KEY] = request_id


def request_id_of(scope: Scope) -> str | None:
    """The request id of this request (set by the outermost middleware)."""
    value = scope.get(_SCOPE_KEY)
    return value if isinstance(value, str) else request_id_var.get()
