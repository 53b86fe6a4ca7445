"""The suite's log guard: no test may log personal data or a secret.

``tests/conftest.py`` installs a :class:`LogGuard` around every test (autouse): it sees every log
record of every logger, in every thread, while the test runs (it wraps ``Logger.callHandlers``,
so loggers that do not propagate, such as ``xyb`` and ``uvicorn``, are seen too, and a logging
reconfiguration in the middle of a test does not unhook it), with the gateway's and uvicorn's
loggers at DEBUG. A record found carrying any of these fails the test:

- ``id_number``: a GB 11643 ID number (18 characters, delimited, with a valid check character and
  a plausible birth date, checked with :mod:`app.core.identifiers`);
- ``phone``: a mainland mobile number (11 digits from 13 to 19, delimited, ``+86`` allowed);
- ``jwt``: any JWT (access tokens, refresh tokens of that shape, the ``X-XYB-Assertion``);
- ``credential``: a ``Bearer`` or ``Basic`` credential;
- ``secret``: a configured or registered secret (the admin token, the data key, the metrics
  token, client secrets, the upstream credentials and passwords a test registers with
  :func:`secret`).

The record is read raw, before the JSON formatter's last-line masking (which would hide the
source of a leak): its message with its arguments, the arguments themselves, every ``extra``
field, the request id, the stack, and its exception as the formatter writes it (class names and
frames; messages are never written, see :mod:`app.core.logging`). A test that logs such data on
purpose, to check the masking, says so: ``with log_guard.expect("phone") as found: ...``.

:func:`scan_output` applies the same rules to the output of a live process (``tests/servers.py``),
where a line the formatter had to mask counts as a leak too.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from app.core.context import request_id_var
from app.core.identifiers import is_valid_resident_id, mask_phone, mask_resident_id
from app.core.logging import exc_of, format_exception

RULES = ("id_number", "phone", "jwt", "credential", "secret")
# Letters and digits on either side mean the match is part of a longer token (a hex id, a hash).
_ID_NUMBER = re.compile(r"(?<![0-9A-Za-z])[0-9]{17}[0-9Xx](?![0-9A-Za-z])")
_PHONE = re.compile(r"(?<![0-9A-Za-z+])(?:\+?86[- ]?)?1[3-9][0-9]{9}(?![0-9A-Za-z])")
_JWT = re.compile(r"eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*")
_CREDENTIAL = re.compile(r"(?i)\b(?:bearer|basic)\s+[A-Za-z0-9._~+/=-]{16,}")
# Shorter values would match by accident; no real secret is that short.
_MIN_SECRET = 8
_EXCERPT = 40
_STANDARD_ATTRS = frozenset(
    logging.LogRecord("", 0, "", 0, "", None, None).__dict__.keys()
    | {"message", "asctime", "color_message"}
)

# Secrets registered outside a test (module constants) hold for the whole run; those a test
# registers hold for that test (a run registers thousands: checking them all would be slow).
_secrets: set[str] = set()
_current: LogGuard | None = None


def secret(value: str) -> str:
    """Register ``value`` as a secret no log line may carry; returns it."""
    if len(value) >= _MIN_SECRET:
        (_current.secrets if _current is not None else _secrets).add(value)
    return value


@dataclass(frozen=True)
class Match:
    rule: str
    start: int
    end: int


def find(text: str, secrets: Iterable[str] = ()) -> list[Match]:
    """Every match of the rules in ``text``, in order."""
    found: list[Match] = [
        Match("id_number", m.start(), m.end())
        for m in _ID_NUMBER.finditer(text)
        if is_valid_resident_id(m.group())
    ]
    found += [Match("phone", m.start(), m.end()) for m in _PHONE.finditer(text)]
    found += [Match("jwt", m.start(), m.end()) for m in _JWT.finditer(text)]
    found += [Match("credential", m.start(), m.end()) for m in _CREDENTIAL.finditer(text)]
    for value in (*_secrets, *(_current.secrets if _current is not None else ()), *secrets):
        start = text.find(value)
        while start != -1:
            found.append(Match("secret", start, start + len(value)))
            start = text.find(value, start + 1)
    return sorted(found, key=lambda m: (m.start, -m.end))


def _masked(rule: str, value: str) -> str:
    if rule == "id_number":
        return mask_resident_id(value)
    if rule == "phone":
        return mask_phone(value[-11:])
    if rule == "jwt":
        return f"eyJ…<JWT of {len(value)} characters>"
    if rule == "credential":
        return value.split(None, 1)[0] + " <credential>"
    return f"<secret of {len(value)} characters>"


def excerpt(text: str, match: Match, matches: list[Match]) -> str:
    """The text around ``match`` with every match in it masked (no secret is ever printed)."""
    spans: list[Match] = []  # overlapping matches merged: half a secret is still a secret
    for other in matches:
        if spans and other.start < spans[-1].end:
            last = spans[-1]
            spans[-1] = Match("secret", last.start, max(last.end, other.end))
        else:
            spans.append(other)
    start, end = max(0, match.start - _EXCERPT), min(len(text), match.end + _EXCERPT)
    for span in spans:  # never cut a match in half
        if span.start < start < span.end:
            start = span.start
        if span.start < end < span.end:
            end = span.end
    pieces: list[str] = []
    cursor = start
    for span in spans:
        if span.end <= start or span.start >= end:
            continue
        pieces.append(text[cursor : span.start])
        pieces.append(_masked(span.rule, text[span.start : span.end]))
        cursor = span.end
    pieces.append(text[cursor:end])
    body = "".join(pieces)
    return ("…" if start else "") + repr(body)[1:-1] + ("…" if end < len(text) else "")


def scan(text: str, secrets: Iterable[str] = ()) -> list[tuple[str, str]]:
    """``(rule, masked excerpt)`` for each match in ``text`` (and in its percent-decoding)."""
    secrets = tuple(secrets)
    results: list[tuple[str, str]] = []
    variants = [text]
    if "%" in text and (decoded := unquote(text)) != text:
        variants.append(decoded)
    seen: set[tuple[str, str]] = set()
    for variant in variants:
        matches = find(variant, secrets)
        for match in matches:
            key = (match.rule, variant[match.start : match.end])
            if key not in seen:
                seen.add(key)
                results.append((match.rule, excerpt(variant, match, matches)))
    return results


def _strings(value: Any, depth: int = 0) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, bytes):
        yield value.decode("latin-1")
    elif isinstance(value, Mapping) and depth < 8:
        for key, item in value.items():
            yield from _strings(key, depth + 1)
            yield from _strings(item, depth + 1)
    elif isinstance(value, list | tuple | set | frozenset) and depth < 8:
        for item in value:
            yield from _strings(item, depth + 1)
    elif value is not None and not isinstance(value, bool | int | float):
        yield str(value)


def record_fields(record: logging.LogRecord) -> Iterator[tuple[str, str]]:
    """``(field, text)`` for everything of a record a handler could write."""
    try:
        yield "message", record.getMessage()
    except Exception:  # a malformed call: the raw parts are still what a handler would print
        yield "message", str(record.msg)
    if record.args:
        yield "args", "\n".join(_strings(record.args))
    for key, value in record.__dict__.items():
        if key not in _STANDARD_ATTRS and not key.startswith("_"):
            yield f"extra {key!r}", "\n".join(_strings(value))
    request_id = request_id_var.get()
    if request_id and not hasattr(record, "request_id"):
        yield "request id", request_id
    if record.stack_info:
        yield "stack", record.stack_info
    exc = exc_of(record)
    if exc is not None:
        yield "exception", format_exception(exc)


@dataclass(frozen=True)
class Finding:
    where: str  # "logger xyb.gateway (WARNING), extra 'cause'" or "line 12 of xyb serve's output"
    rule: str
    excerpt: str

    def __str__(self) -> str:
        return f"  - {self.where}: rule {self.rule}: {self.excerpt}"


def report(test: str, findings: list[Finding]) -> str:
    lines = [f"log guard: {test} logged personal data or a secret ({len(findings)} finding(s)):"]
    lines += [str(f) for f in findings[:20]]
    if len(findings) > 20:
        lines.append(f"  … and {len(findings) - 20} more")
    lines.append(
        "Fix the log call at its source: log class names (app.core.logging.describe_exception)"
        " and fixed sentences, never a value, URL, header or exception message. A test that logs"
        " such data on purpose wraps it in `with log_guard.expect(rule): ...`."
    )
    return "\n".join(lines)


class LogGuard:
    """Collects the findings of one test (see the module docstring)."""

    def __init__(self, test: str) -> None:
        self.test = test
        self.secrets: set[str] = set()
        self.findings: list[Finding] = []
        self._expected: list[tuple[frozenset[str], list[Finding]]] = []

    def secret(self, value: str) -> str:
        """Register a secret for this test; returns it."""
        if len(value) >= _MIN_SECRET:
            self.secrets.add(value)
        return value

    @contextmanager
    def expect(self, *rules: str) -> Iterator[list[Finding]]:
        """Inside the block, findings of ``rules`` are expected: collected here, not failures."""
        unknown = set(rules) - set(RULES)
        if unknown:
            raise ValueError(f"unknown rules {sorted(unknown)}; the rules are {RULES}")
        found: list[Finding] = []
        self._expected.append((frozenset(rules), found))
        try:
            yield found
        finally:
            self._expected.pop()

    def check(self, record: logging.LogRecord) -> None:
        where = f"logger {record.name} ({record.levelname})"
        for field, text in record_fields(record):
            for rule, shown in scan(text):
                self._add(Finding(f"{where}, {field}", rule, shown))

    def _add(self, finding: Finding) -> None:
        for rules, found in reversed(self._expected):
            if finding.rule in rules:
                found.append(finding)
                return
        self.findings.append(finding)

    def take_report(self) -> str | None:
        """The failure message for the findings not reported yet (None when there are none)."""
        if not self.findings:
            return None
        findings, self.findings = self.findings, []
        return report(self.test, findings)

    @contextmanager
    def installed(
        self, loggers: Iterable[str] = ("xyb", "uvicorn", "uvicorn.error")
    ) -> Iterator[None]:
        """See every record while the block runs, with ``loggers`` at DEBUG."""
        original = logging.Logger.callHandlers
        guard = self

        def call_handlers(logger: logging.Logger, record: logging.LogRecord) -> None:
            try:
                guard.check(record)
            except Exception as exc:  # the guard must never break the code under test
                guard.findings.append(Finding(f"logger {record.name}", "guard error", repr(exc)))
            original(logger, record)

        global _current
        levels = {name: logging.getLogger(name).level for name in loggers}
        _current = self
        logging.Logger.callHandlers = call_handlers  # type: ignore[method-assign,assignment]
        for name in loggers:
            logging.getLogger(name).setLevel(logging.DEBUG)
        try:
            yield
        finally:
            logging.Logger.callHandlers = original  # type: ignore[method-assign]
            _current = None
            for name, level in levels.items():
                logging.getLogger(name).setLevel(level)


def scan_output(output: str, *, source: str, secrets: Iterable[str] = ()) -> list[Finding]:
    """The findings in a live process's output (stdout and stderr, JSON log lines or not).

    A JSON line's string values are scanned decoded (so an escaped newline still delimits a
    number), and a line the formatter had to mask (``"masked": [...]``) is a finding of its own.
    """
    secrets = tuple(secrets)
    findings: list[Finding] = []
    for number, line in enumerate(output.splitlines(), start=1):
        where = f"line {number} of {source}"
        texts = [line]
        try:
            parsed = json.loads(line)
        except ValueError:
            parsed = None
        if isinstance(parsed, dict):
            where += f" (logger {parsed.get('logger')})"
            texts = list(_strings(parsed))
            if parsed.get("masked"):
                kinds = ", ".join(map(str, parsed["masked"]))
                findings.append(
                    Finding(where, f"masked by the formatter ({kinds})", "the source logged it")
                )
        for text in texts:
            findings += [Finding(where, rule, shown) for rule, shown in scan(text, secrets)]
    return findings


def check_output(output: str, *, source: str, secrets: Iterable[str] = ()) -> None:
    """Fail (AssertionError) when a live process's output holds personal data or a secret."""
    findings = scan_output(output, source=source, secrets=secrets)
    if findings:
        test = os.environ.get("PYTEST_CURRENT_TEST", "the current test").rsplit(" (", 1)[0]
        raise AssertionError(report(test, findings))
