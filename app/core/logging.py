"""Logging: one JSON object per line, with the request id on every line, and nothing personal.

The access log (logger ``xyb.access``) writes one line per request: request id, method, route
template, status and duration. It never carries the body, the query string or the raw path,
which may hold personal data (ID numbers appear in paths). uvicorn's lines and other libraries'
warnings (the root logger) go through the same formatter.

What no line carries, by construction:

- **Exception messages and reprs.** An exception is written as the class names of its chain
  (``exc_type``: ``"ClientResponseError <- HttpProcessingError <- BadHttpMessage"``; httpx's
  classes, which only wrap the transport's exception, left out) and its full
  traceback (``exc``: file, line and function of each frame, each exception named by its class,
  an ``OSError`` with its errno name). Its message is built
  from whatever the failing code held: an upstream URL with an ID number in the path, every
  request header (the service's credential, the signed assertion), a bound SQL parameter, a
  ``KeyError`` of an ID number, a JSON Schema error quoting the instance. Neither the code that
  logs nor this formatter can tell which, so no message is written, in a request or out of one.
  Code that logs a caught exception without its traceback uses :func:`describe_exception`.
  (Start-up failures an operator must read, such as an unreachable database, are printed by
  ``xyb`` itself before the server starts.)
- **Messages of third-party libraries that embed reprs.** ``asyncio`` puts the failed task's
  repr, exception included, into its message: only its fixed opening sentence is kept.

And as the last line of defence, every line is scanned for the shape of a GB 11643 ID number, a
mainland mobile number, a JWT (an access token, a signed assertion) and a ``Bearer``/``Basic``
credential; a match is masked and the line gets ``"masked": [kinds]``, so an operator can alert
on it: it means some code logged what it should not have. Cheap tests rule out almost every
line first: about 6 µs per access line (of 27 µs to format it; a proxied call costs ~500 µs of
CPU), about 40 µs for a line that holds a match.
"""

from __future__ import annotations

import errno
import json
import logging
import logging.config
import re
import sys
import traceback
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

from app.core.context import request_id_var
from app.core.identifiers import MOBILE_SHAPE, RESIDENT_ID_SHAPE

_STANDARD_ATTRS = frozenset(
    logging.LogRecord("", 0, "", 0, "", None, None).__dict__.keys()
    | {"message", "asctime", "request_id", "color_message"}
)
# How far an exception chain (cause, context, groups) is followed: enough for any real failure.
_MAX_CHAIN = 10
_MAX_GROUP = 10

ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]


def exception_chain(exc: BaseException) -> list[BaseException]:
    """``exc`` and what lies behind it: ``__cause__``, or ``__context__`` unless suppressed."""
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and len(chain) < _MAX_CHAIN and current not in chain:
        chain.append(current)
        if current.__cause__ is not None:
            current = current.__cause__
        elif current.__suppress_context__:
            current = None
        else:
            current = current.__context__
    return chain


def _class_name(exc: BaseException, *, qualified: bool) -> str:
    cls = type(exc)
    name = cls.__qualname__
    if qualified and cls.__module__ not in ("builtins", "__main__"):
        name = f"{cls.__module__}.{name}"
    # An errno is a number the OS chose, never data: it tells a refusal from a reset.
    code = exc.errno if isinstance(exc, OSError) else None
    if isinstance(code, int) and code in errno.errorcode:
        name += f" [{errno.errorcode[code]}]"
    return name


def _httpx_wrappers() -> tuple[type[BaseException], ...]:
    """httpx's exception base, if httpx is loaded (no httpx exception exists otherwise).

    Looked up rather than imported: ``xyb --help`` must not pay for importing httpx.
    """
    httpx = sys.modules.get("httpx")
    base = getattr(httpx, "HTTPError", None)
    return (base,) if isinstance(base, type) and issubclass(base, BaseException) else ()


def describe_exception(
    exc: BaseException | None, *, wrappers: tuple[type[BaseException], ...] | None = None
) -> str | None:
    """The class names of an exception's chain, outermost first: ``"A <- B <- C"``.

    What a log line may say about a caught exception (never its message or repr). Classes in
    ``wrappers`` (by default httpx's) are left out when the chain holds another: a library that
    re-raises another's exception under a class of its own choosing can name it wrongly
    (httpx-aiohttp raises ``ConnectTimeout`` for a connection the upstream reset after the
    request was sent, and ``ReadError`` for a body shorter than its ``Content-Length``).
    """
    if exc is None:
        return None
    chain = exception_chain(exc)
    skipped = _httpx_wrappers() if wrappers is None else wrappers
    originals = [e for e in chain if not isinstance(e, skipped)] if skipped else chain
    return " <- ".join(_class_name(e, qualified=False) for e in originals or chain)


def format_exception(exc: BaseException) -> str:
    """A traceback in Python's layout, each exception named by its class only (no message)."""
    lines: list[str] = []
    _format_chain(exc, lines, indent="", depth=0)
    return "\n".join(lines)


def _format_chain(exc: BaseException, lines: list[str], *, indent: str, depth: int) -> None:
    chain = exception_chain(exc)
    for position, current in enumerate(reversed(chain)):
        if position:
            caused = chain[len(chain) - position - 1].__cause__ is not None
            lines.append("")
            lines.append(
                indent
                + (
                    "The above exception was the direct cause of the following exception:"
                    if caused
                    else "During handling of the above exception, another exception occurred:"
                )
            )
            lines.append("")
        frames = traceback.extract_tb(current.__traceback__)
        if frames:
            lines.append(indent + "Traceback (most recent call last):")
        lines.extend(
            f'{indent}  File "{frame.filename}", line {frame.lineno}, in {frame.name}'
            for frame in frames
        )
        lines.append(indent + _class_name(current, qualified=True))
        if isinstance(current, BaseExceptionGroup) and depth < 3:
            for number, member in enumerate(current.exceptions[:_MAX_GROUP], start=1):
                lines.append(f"{indent}  +-- {number} of {len(current.exceptions)}:")
                _format_chain(member, lines, indent=indent + "  | ", depth=depth + 1)


# The last line of defence. Delimited: a digit run inside a hex id or a longer number is not a
# match. A JSON-escaped control character (``\n``) before a number counts as a delimiter.
_BEFORE = r"(?:(?<![0-9A-Za-z])|(?<=\\[nrtbf]))"
_SENSITIVE = re.compile(
    r"(?P<jwt>eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*)"
    r"|(?P<credential>\b(?i:bearer|basic)\s+[A-Za-z0-9._~+/=-]{16,})"
    rf"|{_BEFORE}(?:"
    rf"(?P<id_number>{RESIDENT_ID_SHAPE})"
    rf"|(?P<phone>(?:\+?86[- ]?)?{MOBILE_SHAPE})"
    r")(?![0-9A-Za-z])"
)


def _masked(match: re.Match[str]) -> str:
    kind = match.lastgroup
    text = match.group()
    if kind == "id_number":
        return text[:4] + "*" * 10 + text[-4:]
    if kind == "phone":
        return text[:-8] + "****" + text[-4:]
    if kind == "credential":
        return text.split(None, 1)[0] + " ***"
    return "eyJ***"


# Cheap tests that rule out almost every line before the full pattern runs (it costs ten times
# more: its delimiters are look-behinds tried at every position).
_DIGIT_RUN = re.compile(r"[0-9]{11}")


def _may_hold_sensitive(text: str) -> bool:
    return (
        "eyJ" in text
        or "earer" in text
        or "asic" in text
        or "EARER" in text
        or "ASIC" in text
        or _DIGIT_RUN.search(text) is not None
    )


def mask_sensitive(text: str) -> tuple[str, list[str]]:
    """``text`` with ID numbers, mobile numbers, JWTs and credentials masked; the kinds found."""
    if not _may_hold_sensitive(text):
        return text, []
    found: list[str] = []

    def replace(match: re.Match[str]) -> str:
        if match.lastgroup not in found:
            found.append(match.lastgroup or "")
        return _masked(match)

    return _SENSITIVE.sub(replace, text), found


# Loggers whose messages embed reprs after a fixed opening (asyncio: "Task exception was never
# retrieved\nfuture: <Task ... exception=KeyError('4301…')>"): only the opening is kept.
_REPR_EMBEDDING_LOGGERS = ("asyncio",)
_REPR_START = re.compile(r"[\n(<:]")


class RequestIdFilter(logging.Filter):
    """Stamps the current request id on every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = request_id_var.get()
        return True


class JsonFormatter(logging.Formatter):
    """Formats a record as one JSON line; ``extra={...}`` fields become top-level keys."""

    def format(self, record: logging.LogRecord) -> str:
        line = json.dumps(self.payload(record), ensure_ascii=False, default=str)
        masked, found = mask_sensitive(line)
        if not found:
            return line
        return masked[:-1] + ", " + json.dumps({"masked": found})[1:]

    def payload(self, record: logging.LogRecord) -> dict[str, Any]:
        """The line's fields before the last-line masking (what the test suite's guard reads)."""
        message = record.getMessage()
        if record.name.split(".", 1)[0] in _REPR_EMBEDDING_LOGGERS:
            message = _REPR_START.split(message, maxsplit=1)[0].strip()
        payload: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": message,
            "request_id": getattr(record, "request_id", None),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD_ATTRS and not key.startswith("_"):
                payload[key] = value
        exc = exc_of(record)
        if exc is not None:
            # Server-side only, and even here without messages (see the module docstring).
            payload["exc_type"] = describe_exception(exc)
            payload["exc"] = format_exception(exc)
        return payload


def exc_of(record: logging.LogRecord) -> BaseException | None:
    """The exception a record carries (``exc_info``), if any."""
    info = record.exc_info
    if isinstance(info, tuple) and len(info) == 3 and isinstance(info[1], BaseException):
        return info[1]
    return None


def logging_config(level: str = "info", *, root: bool = True) -> dict[str, Any]:
    """A ``dictConfig`` for the gateway and uvicorn (whose access log stays off).

    With ``root``, other libraries' warnings (asyncio, aiohttp, SQLAlchemy) go through the same
    JSON formatter instead of Python's plain last-resort handler.
    """
    lvl = level.upper()
    config: dict[str, Any] = {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": "app.core.logging.RequestIdFilter"}},
        "formatters": {"json": {"()": "app.core.logging.JsonFormatter"}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "json",
                "filters": ["request_id"],
                "stream": "ext://sys.stderr",
            }
        },
        "loggers": {
            "xyb": {"handlers": ["stderr"], "level": lvl, "propagate": False},
            "uvicorn": {"handlers": ["stderr"], "level": lvl, "propagate": False},
            "uvicorn.error": {"level": lvl},
            "uvicorn.access": {"handlers": [], "level": "CRITICAL", "propagate": False},
            "alembic": {"handlers": ["stderr"], "level": "WARNING", "propagate": False},
        },
    }
    if root:
        config["root"] = {"handlers": ["stderr"], "level": "WARNING"}
    return config


def configure_logging(level: str = "info") -> None:
    """Apply :func:`logging_config` (idempotent).

    The root logger is left alone when something already handles it (a test runner's capture).
    """
    logging.config.dictConfig(logging_config(level, root=not logging.getLogger().handlers))
