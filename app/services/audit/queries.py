"""Reading the audit log: operators' queries (``GET /ops/audit``), personal-data reads by client
(``GET /ops/personal-data-reads``) and a resident's own reads (``GET /identity/me/access-log``).

Every parameter is a plain string checked here, so that one 422 names each bad one with what it
may be (as ``/ops/access-counts`` does). Pages are newest first, keyset-paged: an audit record's
place is ``(at, writer, seq)``, a personal-data read's ``(at, id)``. The cursor carries the last
row's key and a fingerprint of the query, signed (``sign``: a keyed HMAC the caller provides), so
a cursor only continues the query it came from and cannot be forged to skip a scope.

Times: ``since`` (included) and ``until`` (excluded) are ISO datetimes (naive ones in
``XYB_TIMEZONE``) or local dates (``until`` a date includes that whole day).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.config import Settings
from app.core.cursors import BadCursor, CursorCodec, fingerprint
from app.core.errors import ValidationFailed
from app.events import Outcome
from app.models.audit import AuditRecord, PersonalDataRead
from app.models.identity import Client, Person
from app.services.ops.counts import comma_list

KINDS = ("call", "admin")
OUTCOMES = (*(o.value for o in Outcome), "failure")
READ_KINDS = ("identity-lookup", "gateway-call", "license-read")
KNOWN_ACTIONS = (
    "service.onboard",
    "service.replace",
    "service.replace.dry-run",
    "service.retire",
    "client.create",
    "client.update",
    "client.disable",
    "client.enable",
    "client.secret-reset",
    "grant.give",
    "grant.revoke",
    "person.disable",
    "person.enable",
    "catalog.create",
    "catalog.replace",
    "catalog.import",
    "synonym.add",
    "synonym.delete",
    "keys.rotate",
    "operator.create",
    "operator.set-password",
    "operator.disable",
    "operator.enable",
    "operator.sign-in",
    "audit.purge",
)
DEFAULT_LIMIT = 50
MAX_LIMIT = 500
ACCESS_LOG_DEFAULT = 20
ACCESS_LOG_MAX = 100
MOMENT_FORMATS = [
    "YYYY-MM-DD (a local date)",
    "YYYY-MM-DDTHH:MM[:SS[.ffffff]] (local time)",
    "YYYY-MM-DDTHH:MM[:SS]±HH:MM or …Z",
]
SERVICE_PATTERN = r"[0-9]{6}/[a-z0-9-]{2,40}"
CLIENT_PATTERN = r"[A-Za-z0-9_-]{1,64}"
ACTION_PATTERN = r"[a-z][a-z0-9.-]{0,63}"
_SERVICE = re.compile(f"^{SERVICE_PATTERN}$")
_CLIENT = re.compile(f"^{CLIENT_PATTERN}$")
_ACTION = re.compile(f"^{ACTION_PATTERN}$")
_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
# A '+' in an unencoded query string arrives as a space: "…T10:00 08:00" means "…T10:00+08:00".
_SPACED_OFFSET = re.compile(r"^(.*T[0-9:.]+) ([0-9]{2}:?[0-9]{2})$")
_TEXT_MAX = {"operation": 200, "subject": 100}


_MOMENT_SCHEMA = {"type": "string", "anyOf": [{"format": "date"}, {"format": "date-time"}]}
# The OpenAPI schemas of GET /ops/audit's parameters (declared as plain strings in the route, so
# that every bad one is reported at once).
AUDIT_PARAMETER_SCHEMAS: dict[str, dict[str, Any]] = {
    "since": {"schema": _MOMENT_SCHEMA},
    "until": {"schema": _MOMENT_SCHEMA},
    "service": {"schema": {"type": "string", "pattern": comma_list(SERVICE_PATTERN)}},
    "operation": {"schema": {"type": "string", "minLength": 1, "maxLength": 200}},
    "client": {"schema": {"type": "string", "pattern": comma_list(CLIENT_PATTERN)}},
    "subject": {"schema": {"type": "string", "minLength": 1, "maxLength": 100}},
    "outcome": {"schema": {"type": "string", "pattern": comma_list("|".join(OUTCOMES))}},
    "action": {"schema": {"type": "string", "pattern": comma_list(ACTION_PATTERN)}},
    "kind": {"schema": {"type": "string", "enum": list(KINDS)}},
    "limit": {"schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT}},
    "cursor": {"schema": {"type": "string", "maxLength": 1000}},
}
READS_PARAMETER_SCHEMAS: dict[str, dict[str, Any]] = {
    "since": {"schema": _MOMENT_SCHEMA},
    "until": {"schema": _MOMENT_SCHEMA},
    "client": {"schema": {"type": "string", "pattern": comma_list(CLIENT_PATTERN)}},
    "service": {"schema": {"type": "string", "pattern": comma_list(SERVICE_PATTERN)}},
    "kind": {"schema": {"type": "string", "enum": list(READ_KINDS)}},
    "limit": {"schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT}},
    "cursor": {"schema": {"type": "string", "maxLength": 1000}},
}
ACCESS_LOG_PARAMETER_SCHEMAS: dict[str, dict[str, Any]] = {
    "limit": {"schema": {"type": "integer", "minimum": 1, "maximum": ACCESS_LOG_MAX}},
    "cursor": {"schema": {"type": "string", "maxLength": 1000}},
}

Signer = Callable[[str], str]


# -- checking parameters ----------------------------------------------------------------------


class _Errors:
    """Every bad parameter of one request, each with what it may be."""

    def __init__(self) -> None:
        self.entries: list[dict[str, Any]] = []

    def add(self, parameter: str, detail: str, allowed: Sequence[Any] | None = None) -> None:
        entry: dict[str, Any] = {"pointer": f"/query/{parameter}", "detail": detail}
        if allowed is not None:
            entry["allowed"] = list(allowed)
        self.entries.append(entry)

    def has(self, parameter: str) -> bool:
        return any(e["pointer"] == f"/query/{parameter}" for e in self.entries)

    def raise_any(self) -> None:
        if self.entries:
            detail = " ".join(
                f"{e['pointer'].removeprefix('/query/')}: {e['detail']}." for e in self.entries
            )
            raise ValidationFailed(detail, errors=self.entries)


def _given(value: str | None) -> str | None:
    return value.strip() if value is not None and value.strip() else None


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.split(",")]


def _printable(text: str) -> bool:
    return text.isprintable()


def _moment(text: str, settings: Settings, *, end: bool) -> datetime:
    """An aware UTC moment; a date is its local midnight (``end``: the next day's)."""
    value = text.strip()
    if not value.isascii() or len(value) > 40 or not value[:4].isdigit():
        raise ValueError(value)
    if _DATE.match(value):
        day = date.fromisoformat(value) + (timedelta(days=1) if end else timedelta())
        return datetime.combine(day, time.min, tzinfo=settings.tz).astimezone(UTC)
    spaced = _SPACED_OFFSET.match(value)
    if spaced:
        value = f"{spaced.group(1)}+{spaced.group(2)}"
    moment = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=settings.tz)
    return moment.astimezone(UTC)


def _window(
    errors: _Errors, settings: Settings, since: str | None, until: str | None
) -> tuple[datetime | None, datetime | None]:
    bounds: dict[str, datetime | None] = {"since": None, "until": None}
    for name, raw in (("since", since), ("until", until)):
        text = _given(raw)
        if text is None:
            continue
        try:
            bounds[name] = _moment(text, settings, end=name == "until")
        except (ValueError, OverflowError):
            errors.add(
                name,
                f"{name} is not a date or datetime; allowed formats: " + "; ".join(MOMENT_FORMATS),
                MOMENT_FORMATS,
            )
    start, stop = bounds["since"], bounds["until"]
    if start is not None and stop is not None and stop <= start:
        errors.add("until", "until must come after since (the window would be empty)")
    return start, stop


def _limit(errors: _Errors, raw: str | None, default: int, most: int) -> int:
    text = _given(raw)
    if text is None:
        return default
    if text.isascii() and text.isdigit() and len(text) <= 6 and 1 <= int(text) <= most:
        return int(text)
    errors.add("limit", f"limit is a whole number from 1 to {most}", [1, most])
    return default


def _listed(
    errors: _Errors,
    name: str,
    raw: str | None,
    valid: Callable[[str], object],
    what: str,
    allowed: Sequence[str] | None = None,
) -> tuple[str, ...] | None:
    text = _given(raw)
    if text is None:
        return None
    values = _split(text)
    bad = [v for v in values if not valid(v)]
    if bad:
        shown = f"; allowed: {', '.join(allowed)}" if allowed is not None else ""
        errors.add(name, f"{bad[0][:60]!r} is not {what}{shown}", allowed)
        return None
    return tuple(dict.fromkeys(values))


def _text(errors: _Errors, name: str, raw: str | None) -> str | None:
    text = _given(raw)
    if text is None:
        return None
    most = _TEXT_MAX[name]
    if len(text) > most or not _printable(text):
        errors.add(name, f"{name} is 1 to {most} printable characters")
        return None
    return text


# -- cursors ----------------------------------------------------------------------------------


def _cursor(
    errors: _Errors, sign: Signer, raw: str | None, query_fingerprint: str, size: int
) -> list[Any] | None:
    text = _given(raw)
    if text is None:
        return None
    try:
        return CursorCodec(sign).decode(text, query_fingerprint, size)
    except BadCursor as exc:
        errors.add("cursor", f"{exc}; use next_cursor of the previous page as it came")
        return None


def _at_text(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _at_of(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


# -- GET /ops/audit ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AuditQuery:
    since: datetime | None = None
    until: datetime | None = None
    services: tuple[str, ...] | None = None
    operation: str | None = None
    clients: tuple[str, ...] | None = None
    subject: str | None = None
    outcomes: tuple[str, ...] | None = None
    actions: tuple[str, ...] | None = None
    kind: str | None = None
    divisions: tuple[str, ...] | None = None  # a division admin's reach; None: everything
    limit: int = DEFAULT_LIMIT
    after: tuple[datetime, str, int] | None = field(default=None, compare=False)

    def fingerprint(self) -> str:
        return fingerprint(AuditQuery(**{**_fields(self), "limit": 0, "after": None}))


def _fields(query: Any) -> dict[str, Any]:
    return {name: getattr(query, name) for name in query.__dataclass_fields__}


def parse_audit_query(
    *,
    settings: Settings,
    sign: Signer,
    divisions: Collection[str] | None,
    since: str | None = None,
    until: str | None = None,
    service: str | None = None,
    operation: str | None = None,
    client: str | None = None,
    subject: str | None = None,
    outcome: str | None = None,
    action: str | None = None,
    kind: str | None = None,
    limit: str | None = None,
    cursor: str | None = None,
) -> AuditQuery:
    """Check every parameter; one 422 lists each bad one with what it may be."""
    errors = _Errors()
    start, stop = _window(errors, settings, since, until)
    services = _listed(
        errors, "service", service, _SERVICE.match, "division/slug (e.g. 430100/zwfw)"
    )
    clients = _listed(errors, "client", client, _CLIENT.match, "a client id")
    outcomes = _listed(errors, "outcome", outcome, OUTCOMES.__contains__, "an outcome", OUTCOMES)
    actions = _listed(errors, "action", action, _ACTION.match, "an action name", KNOWN_ACTIONS)
    kind_value = _given(kind)
    if kind_value is not None and kind_value not in KINDS:
        errors.add("kind", f"{kind_value[:20]!r} is not a kind; allowed: call, admin", KINDS)
        kind_value = None
    query = AuditQuery(
        since=start,
        until=stop,
        services=services,
        operation=_text(errors, "operation", operation),
        clients=clients,
        subject=_text(errors, "subject", subject),
        outcomes=outcomes,
        actions=actions,
        kind=kind_value,
        divisions=tuple(sorted(divisions)) if divisions is not None else None,
        limit=_limit(errors, limit, DEFAULT_LIMIT, MAX_LIMIT),
    )
    after = None
    # A cursor is checked against a valid query only (it continues that query): with other bad
    # parameters it is not judged, and it is once they are fixed.
    if not errors.entries:
        key = _cursor(errors, sign, cursor, query.fingerprint(), 3)
        if key is not None:
            after = (_at_of(str(key[0])), str(key[1]), int(key[2]))
    errors.raise_any()
    return AuditQuery(**{**_fields(query), "after": after})


def _audit_conditions(query: AuditQuery) -> list[ColumnElement[bool]]:
    r = AuditRecord
    conditions: list[ColumnElement[bool]] = []
    if query.since is not None:
        conditions.append(r.at >= query.since)
    if query.until is not None:
        conditions.append(r.at < query.until)
    if query.services is not None:
        conditions.append(r.service.in_(query.services))
    if query.operation is not None:
        conditions.append(r.operation_id == query.operation)
    if query.clients is not None:
        conditions.append(r.client_id.in_(query.clients))
    if query.subject is not None:
        conditions.append(r.subject == query.subject)
    if query.outcomes is not None:
        conditions.append(r.outcome.in_(query.outcomes))
    if query.actions is not None:
        conditions.append(r.action.in_(query.actions))
    if query.kind is not None:
        conditions.append(r.kind == query.kind)
    if query.divisions is not None:
        conditions.append(r.division.in_(query.divisions))
    if query.after is not None:
        at, writer, seq = query.after
        conditions.append(
            or_(
                r.at < at,
                and_(r.at == at, or_(r.writer < writer, and_(r.writer == writer, r.seq < seq))),
            )
        )
    return conditions


def _summary(text: str | None) -> Any:
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text  # pragma: no cover - written as canonical JSON


def record_json(row: AuditRecord) -> dict[str, Any]:
    return {
        "at": row.at,
        "writer": row.writer,
        "seq": row.seq,
        "kind": row.kind,
        "event_id": row.event_id,
        "request_id": row.request_id,
        "client_id": row.client_id,
        "subject": row.subject,
        "division": row.division,
        "service": row.service,
        "operation_id": row.operation_id,
        "item_code": row.item_code,
        "method": row.method,
        "status": row.status,
        "outcome": row.outcome,
        "latency_us": row.latency_us,
        "request_digest": row.request_digest,
        "response_digest": row.response_digest,
        "actor": row.actor,
        "action": row.action,
        "object": row.object,
        "summary": _summary(row.summary),
        "prev_hash": row.prev_hash,
        "hash": row.hash,
    }


async def audit_page(session: AsyncSession, query: AuditQuery, sign: Signer) -> dict[str, Any]:
    """One page of audit records, newest first, and the cursor of the next (None: the last)."""
    r = AuditRecord
    statement = (
        select(r)
        .where(*_audit_conditions(query))
        .order_by(r.at.desc(), r.writer.desc(), r.seq.desc())
        .limit(query.limit + 1)
    )
    rows = list((await session.scalars(statement)).all())
    page = rows[: query.limit]
    next_cursor = None
    if len(rows) > query.limit:
        last = page[-1]
        next_cursor = CursorCodec(sign).encode(
            [_at_text(last.at), last.writer, last.seq], query.fingerprint()
        )
    return {
        "records": [record_json(row) for row in page],
        "limit": query.limit,
        "next_cursor": next_cursor,
        "divisions": list(query.divisions) if query.divisions is not None else None,
    }


# -- personal-data reads ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReadsQuery:
    person_id: int | None = None  # the resident's own log
    since: datetime | None = None
    until: datetime | None = None
    clients: tuple[str, ...] | None = None
    services: tuple[str, ...] | None = None
    kind: str | None = None
    divisions: tuple[str, ...] | None = None
    limit: int = ACCESS_LOG_DEFAULT
    after: tuple[datetime, int] | None = field(default=None, compare=False)

    def fingerprint(self) -> str:
        return fingerprint(ReadsQuery(**{**_fields(self), "limit": 0, "after": None}))


def parse_reads_query(
    *,
    settings: Settings,
    sign: Signer,
    person_id: int | None = None,
    divisions: Collection[str] | None = None,
    since: str | None = None,
    until: str | None = None,
    client: str | None = None,
    service: str | None = None,
    kind: str | None = None,
    limit: str | None = None,
    cursor: str | None = None,
    default_limit: int = ACCESS_LOG_DEFAULT,
    max_limit: int = ACCESS_LOG_MAX,
) -> ReadsQuery:
    """Check every parameter of a personal-data reads query; one 422 names each bad one."""
    errors = _Errors()
    start, stop = _window(errors, settings, since, until)
    kind_value = _given(kind)
    if kind_value is not None and kind_value not in READ_KINDS:
        errors.add(
            "kind",
            f"{kind_value[:30]!r} is not a kind; allowed: " + ", ".join(READ_KINDS),
            READ_KINDS,
        )
        kind_value = None
    query = ReadsQuery(
        person_id=person_id,
        since=start,
        until=stop,
        clients=_listed(errors, "client", client, _CLIENT.match, "a client id"),
        services=_listed(
            errors, "service", service, _SERVICE.match, "division/slug (e.g. 430100/zwfw)"
        ),
        kind=kind_value,
        divisions=tuple(sorted(divisions)) if divisions is not None else None,
        limit=_limit(errors, limit, default_limit, max_limit),
    )
    after = None
    if not errors.entries:
        key = _cursor(errors, sign, cursor, query.fingerprint(), 2)
        if key is not None:
            after = (_at_of(str(key[0])), int(key[1]))
    errors.raise_any()
    return ReadsQuery(**{**_fields(query), "after": after})


def person_ref(sign: Signer, person_id: int) -> str:
    """A stable pseudonym of a resident for operators: the same person, the same reference,
    and nothing that leads back to them without the gateway's data key."""
    return "p_" + sign(f"person:{person_id}")[:20]


async def reads_page(
    session: AsyncSession, query: ReadsQuery, sign: Signer, *, for_operators: bool
) -> dict[str, Any]:
    """One page of personal-data reads, newest first. Residents get who, what, why and when;
    operators also the request id and a masked reference to the resident (never an ID number)."""
    p = PersonalDataRead
    conditions: list[ColumnElement[bool]] = []
    if query.person_id is not None:
        conditions.append(p.person_id == query.person_id)
    if query.since is not None:
        conditions.append(p.at >= query.since)
    if query.until is not None:
        conditions.append(p.at < query.until)
    if query.clients is not None:
        conditions.append(p.client_id.in_(query.clients))
    if query.services is not None:
        conditions.append(p.service.in_(query.services))
    if query.kind is not None:
        conditions.append(p.kind == query.kind)
    if query.divisions is not None:
        # A division admin: reads through services of its divisions ("division/slug").
        conditions.append(
            or_(*(p.service.like(f"{code}/%") for code in query.divisions))
            if query.divisions
            else p.id.is_(None)
        )
    if query.after is not None:
        at, last_id = query.after
        conditions.append(or_(p.at < at, and_(p.at == at, p.id < last_id)))
    statement = (
        select(p).where(*conditions).order_by(p.at.desc(), p.id.desc()).limit(query.limit + 1)
    )
    rows = list((await session.scalars(statement)).all())
    page = rows[: query.limit]
    client_ids = sorted({row.client_id for row in page if row.client_id})
    names: dict[str, str] = {}
    if client_ids:
        found = await session.execute(
            select(Client.id, Client.name).where(Client.id.in_(client_ids))
        )
        names = {cid: name for cid, name in found.all()}
    masked: dict[int, str] = {}
    if for_operators and page:
        people = await session.execute(
            select(Person.id, Person.id_number_masked).where(
                Person.id.in_(sorted({row.person_id for row in page}))
            )
        )
        masked = {int(pid): str(text) for pid, text in people.all()}
    entries: list[dict[str, Any]] = []
    for row in page:
        entry: dict[str, Any] = {
            "at": row.at,
            "client": {"id": row.client_id, "name": names.get(row.client_id or "")}
            if row.client_id
            else None,
            "service": row.service,
            "purpose": row.purpose,
            "kind": row.kind,
        }
        if for_operators:
            entry["person_ref"] = person_ref(sign, row.person_id)
            entry["id_number_masked"] = masked.get(row.person_id)
            entry["request_id"] = row.request_id
        entries.append(entry)
    next_cursor = None
    if len(rows) > query.limit:
        last = page[-1]
        next_cursor = CursorCodec(sign).encode([_at_text(last.at), last.id], query.fingerprint())
    return {"reads": entries, "limit": query.limit, "next_cursor": next_cursor}
