"""``Xyb-Purpose``: why a caller reads a resident's personal data (个人信息处理目的).

A call to a service classified ``personal`` or ``sensitive`` whose assertion carried the
resident's ID number is a read of that resident's personal data: the personal-data access log
records it with the purpose the caller states here, else the service's classification. A bad
purpose is refused on every call that sends one (400 ``bad-purpose``), whatever the service, so a
client learns of it on its first call and not only when personal data is at stake.

The value is UTF-8, sent raw or percent-encoded: clients that send only ASCII header values
(browsers' fetch, httpx, generated clients) write ``%E5%BC%80%E6%88%B7`` for 开户. An ASCII value
with %XX escapes that decode to UTF-8 is read decoded; anything else is read as it is.

The header is the gateway's and stays with it: the upstream learns who calls from the signed
assertion, and a purpose is the client's unverified word, which the gateway does not vouch for
by passing it on (``Xyb-*`` headers are never forwarded, app.connectors.headers).
"""

from __future__ import annotations

import re
from urllib.parse import unquote

from app.core.errors import GatewayError, register_problem_type

PURPOSE_HEADER = b"xyb-purpose"
MAX_PURPOSE_CHARS = 200

BAD_PURPOSE = register_problem_type(
    "bad-purpose",
    400,
    "Purpose refused",
    f"Xyb-Purpose states why the call reads a resident's personal data: one header of 1 to"
    f" {MAX_PURPOSE_CHARS} printable characters (UTF-8; no tabs or control characters).",
)


class BadPurpose(GatewayError):
    problem = BAD_PURPOSE


_ESCAPE = re.compile(r"%[0-9A-Fa-f]{2}")


def _percent_decoded(value: str) -> str:
    if not value.isascii() or _ESCAPE.search(value) is None:
        return value
    try:
        return unquote(value, errors="strict")
    except UnicodeDecodeError:
        return value  # not UTF-8 escapes: a literal text that happens to hold "%"


def stated_purpose(headers: list[tuple[bytes, bytes]]) -> str | None:
    """The caller's ``Xyb-Purpose``, trimmed; None without one; :class:`BadPurpose` for a bad one.

    The headers have passed ``app.gateway.incoming.check_headers``: every value is UTF-8.
    """
    found: bytes | None = None
    for name, value in headers:
        if name == PURPOSE_HEADER:
            if found is not None:
                raise BadPurpose("Send one Xyb-Purpose header, not several.")
            found = value
    if found is None:
        return None
    text = _percent_decoded(found.decode("utf-8")).strip()
    if not text:
        raise BadPurpose("Xyb-Purpose is empty: say why the call reads personal data, or omit it.")
    if len(text) > MAX_PURPOSE_CHARS:
        raise BadPurpose(
            f"Xyb-Purpose has {len(text)} characters; at most {MAX_PURPOSE_CHARS} are kept."
        )
    if not text.isprintable():
        raise BadPurpose(
            "Xyb-Purpose holds a character that is not printable (a tab, a control or an"
            " invisible formatting character): send plain text."
        )
    return text
