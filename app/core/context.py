"""The request id: minted or accepted at the edge, kept in the scope and a context variable."""

from __future__ import annotations

import re
import uuid
from contextvars import ContextVar

from starlette.types import Scope

from app.core.identifiers import personal_number_in

REQUEST_ID_HEADER = "x-request-id"
# Ids are echoed into headers, logs and problem documents: keep them short and inert.
_WELL_FORMED = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")
# An id is written on every log line of its request, so one that holds a phone or an ID number is
# replaced rather than logged, however it is written: separators dropped ('139-1234-5678',
# 'a.430102.19850707.1233') and look-alike letters read as digits ('4301021985O7071233').
_FOLD = str.maketrans("OoIl", "0011", "._:-")
# Ids whose digits are random are kept as they are: judged by the rule above, about one UUID in a
# hundred would hold a phone's shape by chance. UUIDs, a W3C traceparent, an AWS X-Ray root;
# bare W3C and B3 trace and span ids (16 or 32 hex digits) only with a letter among them, as a
# 16-digit decimal number could be a phone and a counter.
_RANDOM_HEX_ID = re.compile(
    r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
    r"|[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}"
    r"|1-[0-9a-f]{8}-[0-9a-f]{24}"
    r"|(?=[0-9]*[a-f])(?:[0-9a-f]{16}|[0-9a-f]{32})",
    re.IGNORECASE,
)
_SCOPE_KEY = "xyb.request_id"

request_id_var: ContextVar[str | None] = ContextVar("xyb_request_id", default=None)


def accept_or_mint(incoming: str | None) -> str:
    """The caller's request id if it is well formed and holds no personal number, else a new one."""
    if (
        incoming is not None
        and _WELL_FORMED.fullmatch(incoming)
        and not _may_hold_personal_number(incoming)
    ):
        return incoming
    return str(uuid.uuid4())


def _may_hold_personal_number(request_id: str) -> bool:
    if _RANDOM_HEX_ID.fullmatch(request_id):
        return False  # random hex; a number disguised as one is no accident
    return personal_number_in(request_id.translate(_FOLD)) is not None


def set_request_id(scope: Scope, request_id: str) -> None:
    scope[_SCOPE_KEY] = request_id


def request_id_of(scope: Scope) -> str | None:
    """The request id of this request (set by the outermost middleware)."""
    value = scope.get(_SCOPE_KEY)
    return value if isinstance(value, str) else request_id_var.get()
