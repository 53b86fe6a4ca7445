"""What the proxy accepts from a caller before anything can be forwarded: target, headers, body.

Each check closes a gap between what the gateway checks and what an upstream would read:

- the request target is visible ASCII (what HTTP allows; the HTTP clients would otherwise
  re-encode it), carries no fragment, and every ``%`` in it starts two hex digits (IIS decodes
  ``%u002e`` as ``.``; the gateway would have checked the six characters);
- no path segment is a dot segment, also not behind percent-encoding, matrix parameters
  (``..;x``, which Tomcat and Jetty read as ``..``), compatibility characters (``．．``), or
  spaces and invisible characters around the dots (``..%20``, ``..%E2%80%8B``; Windows and IIS
  trim trailing dots and spaces, so ``...`` counts too); no segment hides ``/``, ``\\``, NUL or
  another control character, also not as a compatibility character that NFKC folds into a
  separator (``．．／．．`` is ``../..`` to an upstream that normalises); and every segment is
  UTF-8 once decoded (``%c0%ae`` is an overlong ``.``);
- every header value is UTF-8 without control characters, so it crosses to the upstream byte for
  byte through either HTTP client;
- the body arrived whole: the connection did not close mid-body, its length is the one declared,
  and its framing is one the gateway reads (no ``Transfer-Encoding`` besides ``chunked``, never
  together with ``Content-Length``). A POST to a city system is not idempotent: half a body is
  never sent.
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import unquote_to_bytes

from starlette.types import Receive

from app.core.errors import GatewayError, register_problem_type

BAD_PATH = register_problem_type(
    "bad-path",
    400,
    "Path segment refused",
    "A path segment is only dots (also as '..;param', percent-encoded, in compatibility"
    " characters, or with spaces or invisible characters around them), hides a '/', '\\', NUL or"
    " control character behind percent-encoding or a compatibility character, is not UTF-8 once"
    " decoded, or the target is not visible ASCII or has a '%' without two hex digits: the"
    " upstream could read a different path than the one the gateway checked.",
)
BAD_HEADER = register_problem_type(
    "bad-header",
    400,
    "Header refused",
    "A header's name is not an HTTP token, or its value holds a control character or bytes that"
    " are not UTF-8: it could not cross to the upstream exactly as the gateway checked it.",
)
INCOMPLETE_BODY = register_problem_type(
    "incomplete-body",
    400,
    "Request body incomplete",
    "The request body did not arrive whole (the connection closed mid-body, or its length is not"
    " the declared Content-Length) or its framing is one the gateway does not read. Nothing was"
    " sent upstream; send the whole request again.",
)


class BadPath(GatewayError):
    problem = BAD_PATH


class BadHeader(GatewayError):
    problem = BAD_HEADER


class IncompleteBody(GatewayError):
    problem = INCOMPLETE_BODY


# Visible ASCII without '#': RFC 9112's request-target (a fragment is never sent).
_TARGET_BYTES = bytes(b for b in range(0x21, 0x7F) if b != ord("#"))
_TOKEN = re.compile(rb"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
# Control characters other than HTAB (RFC 9110 §5.5). bytes.translate finds them several times
# faster than a regular expression: this runs over every header of every proxied call.
_CONTROL_BYTES = bytes([*range(0x00, 0x09), *range(0x0A, 0x20), 0x7F])
_CONTROL_TEXT = re.compile(r"[\x00-\x1f\x7f]")
# A '%' that does not start two hex digits: the gateway keeps it as text, IIS reads '%u002e' as '.'.
_BAD_PERCENT = re.compile(rb"%(?![0-9A-Fa-f]{2})")


def check_target(raw_path: bytes, query: bytes) -> None:
    """Refuse a request target that is not visible ASCII, carries a fragment, or has a '%' that
    does not start two hex digits."""
    if raw_path.translate(None, _TARGET_BYTES) or query.translate(None, _TARGET_BYTES):
        raise BadPath(
            "The request target holds a character HTTP does not allow there (a space, a control"
            " character, a raw non-ASCII byte or '#'): percent-encode it."
        )
    if (b"%" in raw_path and _BAD_PERCENT.search(raw_path)) or (
        b"%" in query and _BAD_PERCENT.search(query)
    ):
        raise BadPath(
            "The request target has a '%' that does not start two hex digits (such as %u002e,"
            " which some servers decode): write a literal '%' as %25."
        )


def check_segments(segments: list[str]) -> None:
    """Refuse segments an upstream could read as a different path than the checked one."""
    for raw in segments:
        if "%" not in raw and ";" not in raw and raw.strip("."):
            continue  # plain visible ASCII with more than dots: nothing can hide in it
        try:
            decoded = unquote_to_bytes(raw).decode("utf-8")
        except UnicodeDecodeError:
            raise BadPath(
                "A path segment is not UTF-8 once percent-decoded (an overlong or truncated"
                " sequence such as %c0%ae): percent-encode the UTF-8 bytes of the text."
            ) from None
        if "/" in decoded or "\\" in decoded or _CONTROL_TEXT.search(decoded):
            raise BadPath(
                "A path segment hides '/', '\\', NUL or a control character behind"
                " percent-encoding: it could reach a different upstream path than the one checked."
            )
        # An upstream that normalises Unicode reads '．．／x' as '../x' and '；' as ';'.
        folded = decoded if decoded.isascii() else unicodedata.normalize("NFKC", decoded)
        if "/" in folded or "\\" in folded:
            raise BadPath(
                "A path segment holds a character that Unicode normalisation (NFKC) turns into"
                " '/' or '\\' (such as the fullwidth ／ or ＼): an upstream that normalises would"
                " read two segments. Percent-encode another character or leave it out."
            )
        if _only_dots(folded.split(";", 1)[0]):
            raise BadPath(
                "A path segment is only dots (percent-encoded, with ';' parameters, in"
                " compatibility characters, or with spaces or invisible characters around them):"
                " upstreams read it as a step up the path (Windows drops trailing dots and"
                " spaces, so '...' and '.. ' are '..' there)."
            )


def _only_dots(text: str) -> bool:
    """Whether ``text`` is dots once spaces and invisible format characters (Cf) are removed."""
    if text.isascii():
        visible = text.replace(" ", "")
    else:
        visible = "".join(c for c in text if not c.isspace() and unicodedata.category(c) != "Cf")
    return bool(visible) and not visible.strip(".")


def check_headers(headers: list[tuple[bytes, bytes]]) -> None:
    """Refuse headers that cannot cross to the upstream byte for byte."""
    # One pass over all of them (the hot path); header by header only to name the culprit.
    names = b"".join(name for name, _ in headers)
    values = b"\t".join(value for _, value in headers)
    if _TOKEN.match(names) and not _has_control(values) and _is_utf8(values):
        return
    for name, value in headers:
        if not _TOKEN.match(name):
            raise BadHeader("A header name is not an HTTP token (RFC 9110 §5.1).")
        if _has_control(value):
            raise BadHeader(
                f"The {name.decode('ascii')} header holds a control character (CR, LF, NUL, ...)."
            )
        if not _is_utf8(value):
            raise BadHeader(
                f"The {name.decode('ascii')} header's value is not UTF-8: send UTF-8 text"
                " (or percent-encode it)."
            )


def _has_control(data: bytes) -> bool:
    return len(data.translate(None, _CONTROL_BYTES)) != len(data)


def _is_utf8(data: bytes) -> bool:
    if data.isascii():
        return True
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _declared_length(headers: list[tuple[bytes, bytes]]) -> int | None:
    lengths: set[bytes] = set()
    chunked = False
    for name, value in headers:
        if name == b"content-length":
            lengths.update(v.strip() for v in value.split(b","))
        elif name == b"transfer-encoding":
            if value.strip().lower() != b"chunked" or chunked:
                raise IncompleteBody(
                    "The body's Transfer-Encoding is not plain 'chunked': the gateway forwards"
                    " only bodies it has read as they are."
                )
            chunked = True
    if chunked and lengths:
        raise IncompleteBody(
            "The request has both Transfer-Encoding and Content-Length: its length is ambiguous."
        )
    if len(lengths) > 1 or any(not v.isdigit() for v in lengths):
        raise IncompleteBody("The request's Content-Length is not one number.")
    return int(next(iter(lengths))) if lengths else None


async def read_body(receive: Receive, headers: list[tuple[bytes, bytes]]) -> bytes:
    """The whole body, or :class:`IncompleteBody` (nothing is forwarded from a partial one)."""
    declared = _declared_length(headers)
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            # http.disconnect: the caller hung up, or the server refused the framing mid-body.
            raise IncompleteBody(
                "The connection closed before the whole request body arrived; nothing was sent"
                " upstream."
            )
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    body = b"".join(chunks)
    if declared is not None and len(body) != declared:
        raise IncompleteBody(
            f"The body is {len(body)} bytes but Content-Length declared {declared}; nothing was"
            " sent upstream."
        )
    return body
