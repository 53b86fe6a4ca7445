"""The operators' view: /ops/targets, /ops/services, /ops/access-counts, and the dashboard.

The JSON API admits a Bearer token with the operator role (or platform admin: the admin token
counts) or a dashboard session cookie (see ``app.services.ops.sessions``). The HTML pages
(login form, dashboard) and their vendored assets are not part of the OpenAPI document.
"""

from __future__ import annotations

import functools
import html
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qsl, urlsplit

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.config import Settings
from app.core.deps import SessionDep
from app.core.errors import Forbidden, NotFound, Unauthorized
from app.core.identifiers import personal_number_in
from app.core.openapi import PARAMETERS_KEY, Scheme, problem_responses, security
from app.events import RecentEvents
from app.gateway.routetable import EMPTY_TABLE, RouteTableManager
from app.identity.accounts import lock_for_write
from app.identity.callers import caller_of
from app.identity.crypto import DataCipher
from app.identity.roles import Role
from app.identity.throttle import LoginThrottle
from app.models.counting import Operator
from app.services.audit.actions import record_admin_now
from app.services.audit.queries import (
    AUDIT_PARAMETER_SCHEMAS,
    MAX_LIMIT,
    READS_PARAMETER_SCHEMAS,
    audit_page,
    parse_audit_query,
    parse_reads_query,
    reads_page,
)
from app.services.audit.schemas import AuditPageOut, PersonalReadsOut
from app.services.ops.clock import Clock, system_clock
from app.services.ops.counts import (
    COUNTS_PARAMETER_SCHEMAS,
    DIMENSIONS,
    OUTCOMES,
    counts_json,
    division_codes,
)
from app.services.ops.counts import (
    access_counts as count_accesses,
)
from app.services.ops.operators import (
    DASHBOARD_ROLES,
    MAX_PASSWORD,
    authenticate,
    end_session,
    session_ended,
)
from app.services.ops.schemas import AccessCountsOut, ServicesOut, TargetsOut
from app.services.ops.services_view import services_overview
from app.services.ops.sessions import (
    COOKIE_NAME,
    COOKIE_PATH,
    InvalidSession,
    SessionClaims,
    SessionSigner,
)
from app.services.ops.targets import NOT_MEASURED, Measured, compute_targets

router = APIRouter(prefix="/ops", tags=["operators"])

_CHALLENGE = {
    "WWW-Authenticate": 'Bearer realm="xyb", Cookie realm="xyb operators",'
    f' form-action="/ops/login", cookie-name="{COOKIE_NAME}"'
}
_PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self';"
    " img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none';"
    " base-uri 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}
_STATIC_TYPES = {
    "js": "text/javascript; charset=utf-8",
    "css": "text/css; charset=utf-8",
    "svg": "image/svg+xml",
}
_STATIC_NAME = re.compile(r"^[a-z0-9_-]{1,64}\.(js|css|svg)$")
_MAX_FORM = 8 * 1024
# The dashboard's HTML, JS and CSS (vendored: no CDN).
STATIC_DIR = Path(__file__).resolve().parent.parent / "static"


# -- clock, signer, state ---------------------------------------------------------------------


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _clock(request: Request) -> Clock:
    """``app.state.ops_clock`` when a test set one, else the system clock."""
    clock: Clock | None = getattr(request.app.state, "ops_clock", None)
    return clock or system_clock


def _signer(request: Request) -> SessionSigner:
    signer: SessionSigner | None = getattr(request.app.state, "ops_signer", None)
    if signer is None:
        signer = SessionSigner(_settings(request).resolved_data_key)
        request.app.state.ops_signer = signer
    return signer


def _now_s(request: Request) -> float:
    return _clock(request)().timestamp()


# -- who is asking ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OpsPrincipal:
    name: str
    via: str  # "token" | "session"
    roles: frozenset[str]
    claims: SessionClaims | None = None


def _same_origin(request: Request) -> bool:
    """Whether a state-changing browser request comes from this site (Origin, else Referer).

    Neither header: not a browser form (browsers send Origin on every POST), allowed. Hosts are
    compared, not schemes, so a TLS-terminating proxy does not break it.
    """
    origin = request.headers.get("origin")
    if origin is None:
        origin = request.headers.get("referer")
        if origin is None:
            return True
    if origin.strip().lower() == "null":
        return False
    try:
        claimed = urlsplit(origin).netloc.lower()
    except ValueError:
        return False
    return bool(claimed) and claimed == request.headers.get("host", "").lower()


async def _session_principal(
    request: Request, session: AsyncSession
) -> tuple[OpsPrincipal | None, str | None]:
    """The signed-in operator of the cookie, or None and why not (None: no cookie)."""
    token = request.cookies.get(COOKIE_NAME)
    if token is None:
        return None, None
    signer = _signer(request)
    try:
        claims = signer.verify(token, now=_now_s(request))
    except InvalidSession as exc:
        return None, exc.reason
    if await session_ended(session, claims.session_id):
        return None, "signed out"
    row = await session.get(Operator, claims.username)
    if row is None or row.status != "active":
        return None, "account disabled"
    if signer.fingerprint(row.password_hash) != claims.password_fingerprint:
        return None, "password changed"
    roles = frozenset(row.roles)
    if not roles & DASHBOARD_ROLES:
        return None, "no operator role"
    return OpsPrincipal(row.username, "session", roles, claims), None


async def ops_principal(request: Request, session: SessionDep) -> OpsPrincipal:
    """A Bearer token with the operator role (or platform admin), or a dashboard session."""
    if request.headers.get("authorization") is not None:
        caller = caller_of(request)
        if not caller.roles & DASHBOARD_ROLES:
            raise Forbidden(
                f"This needs the role {Role.OPERATOR.value}.",
                extensions={"required_roles": [Role.OPERATOR.value]},
            )
        return OpsPrincipal(caller.client_id, "token", frozenset(caller.roles))
    principal, reason = await _session_principal(request, session)
    if principal is None:
        why = f" (the session cookie was refused: {reason})" if reason else ""
        raise Unauthorized(
            "Send 'Authorization: Bearer <token>' with the operator role, or sign in at"
            f" /ops/login{why}.",
            headers=_CHALLENGE,
        )
    if request.method not in ("GET", "HEAD", "OPTIONS") and not _same_origin(request):
        raise Forbidden("A cookie-authenticated change must come from the gateway's own pages.")
    return principal


OpsDep = Annotated[OpsPrincipal, Depends(ops_principal)]
_API_RESPONSES = problem_responses(401, 403)
_OPS_AUTH = security(Scheme.ACCESS, Scheme.ADMIN, Scheme.OPS_SESSION)  # see ops_principal


async def license_types_now(request: Request) -> Measured:
    """The e-license target as the onboarded registry reports it (app.gateway.license_types)."""
    counter = getattr(request.app.state, "license_types", None)
    return await counter.measure() if counter is not None else NOT_MEASURED


# -- the JSON API -----------------------------------------------------------------------------


@router.get(
    "/targets", response_model=TargetsOut, responses=_API_RESPONSES, openapi_extra=_OPS_AUTH
)
async def targets(request: Request, session: SessionDep, _: OpsDep) -> dict[str, Any]:
    """The four year-end targets: current value, ratio, 7-day rate, projection, on track.

    Computing them records today's snapshots (the day's latest value)."""
    measured = await license_types_now(request)  # before the lock: it may ask the registry
    try:
        await lock_for_write(session)  # SQLite: read-then-write needs the write lock first
    except OperationalError:
        # A dashboard session was checked with reads in this session, and SQLite cannot turn
        # that read transaction into a write once another connection has committed since
        # ("database is locked" at once; the dashboard test met it on a busy machine). The
        # reads are done: start a transaction whose first statement takes the lock.
        await session.rollback()
        await lock_for_write(session)
    report = await compute_targets(
        session, _settings(request), now=_clock(request)(), license_types=measured
    )
    return report.as_json()


@router.get(
    "/services", response_model=ServicesOut, responses=_API_RESPONSES, openapi_extra=_OPS_AUTH
)
async def services(request: Request, session: SessionDep, _: OpsDep) -> dict[str, Any]:
    """Every onboarded service (active and retired): breaker, recent errors and latency."""
    manager: RouteTableManager | None = request.app.state.routes
    recent: RecentEvents = request.app.state.recent_events
    return await services_overview(
        session,
        _settings(request),
        table=manager.table if manager is not None else EMPTY_TABLE,
        recent=recent.snapshot(),
        now=_clock(request)(),
    )


@router.get(
    "/access-counts",
    response_model=AccessCountsOut,
    responses=problem_responses(401, 403, 422),
    openapi_extra={PARAMETERS_KEY: COUNTS_PARAMETER_SCHEMAS, **_OPS_AUTH},
)
async def access_counts(
    request: Request,
    session: SessionDep,
    _: OpsDep,
    group_by: Annotated[
        str | None,
        Query(
            description="one or two of " + ", ".join(DIMENSIONS) + ", comma-separated",
            examples=["service,day"],
        ),
    ] = None,
    since: Annotated[
        str | None,
        Query(description="local date YYYY-MM-DD or ISO datetime (default: 7 days back)"),
    ] = None,
    until: Annotated[
        str | None,
        Query(description="local date (included) or ISO datetime (excluded); default: now"),
    ] = None,
    division: Annotated[
        str | None, Query(description="GB/T 2260 codes (a prefecture includes its counties)")
    ] = None,
    service: Annotated[
        str | None, Query(description="division/slug or id of onboarded services, comma-separated")
    ] = None,
    outcome: Annotated[
        str | None, Query(description="comma-separated among " + ", ".join(OUTCOMES))
    ] = None,
    limit: Annotated[str | None, Query(description="groups at most (1-10000, default 1000)")] = (
        None
    ),
) -> dict[str, Any]:
    """Calls, errors and p50/p95 latency per group, from the hourly roll-ups."""
    settings = _settings(request)
    result = await count_accesses(
        session,
        settings,
        now=_clock(request)(),
        group_by=group_by,
        since=since,
        until=until,
        division=division,
        service=service,
        outcome=outcome,
        limit=limit,
    )
    return counts_json(result, settings)


# -- the audit log ----------------------------------------------------------------------------

AUDIT_CURSOR_PURPOSE = "audit-cursor"


@dataclass(frozen=True, slots=True)
class AuditReader:
    name: str
    divisions: frozenset[str] | None  # a division admin's reach; None: every record


async def audit_reader(request: Request, session: SessionDep) -> AuditReader:
    """Operators (token or dashboard session) read every record; a division admin's token
    reads the records of its division and the counties under it."""
    if request.headers.get("authorization") is not None:
        caller = caller_of(request)
        if caller.roles & DASHBOARD_ROLES:
            return AuditReader(caller.client_id, None)
        if Role.DIVISION_ADMIN.value in caller.roles:
            reach = division_codes(caller.division) if caller.division else set()
            return AuditReader(caller.client_id, frozenset(reach))
        raise Forbidden(
            f"This needs the role {Role.OPERATOR.value} or {Role.DIVISION_ADMIN.value}.",
            extensions={"required_roles": [Role.OPERATOR.value, Role.DIVISION_ADMIN.value]},
        )
    principal = await ops_principal(request, session)
    return AuditReader(principal.name, None)


AuditReaderDep = Annotated[AuditReader, Depends(audit_reader)]


def _cursor_signer(request: Request) -> Callable[[str], str]:
    """Cursors signed with a key derived from the data key (valid on every instance)."""
    cipher: DataCipher = request.app.state.identity.cipher
    return lambda payload: cipher.lookup_hash(payload, purpose=AUDIT_CURSOR_PURPOSE)


def _moment_query(name: str) -> Any:
    return Query(
        description=f"ISO datetime (naive: the gateway's zone) or local date; {name}"
        + (" included" if name == "since" else " excluded (a date: that whole day included)")
    )


@router.get(
    "/audit",
    response_model=AuditPageOut,
    responses=problem_responses(401, 403, 422),
    openapi_extra={PARAMETERS_KEY: AUDIT_PARAMETER_SCHEMAS, **_OPS_AUTH},
)
async def audit(
    request: Request,
    session: SessionDep,
    reader: AuditReaderDep,
    since: Annotated[str | None, _moment_query("since")] = None,
    until: Annotated[str | None, _moment_query("until")] = None,
    service: Annotated[str | None, Query(description="division/slug, comma-separated")] = None,
    operation: Annotated[str | None, Query(description="an operationId")] = None,
    client: Annotated[str | None, Query(description="client ids, comma-separated")] = None,
    subject: Annotated[str | None, Query(description="a caller's pairwise subject")] = None,
    outcome: Annotated[
        str | None, Query(description="comma-separated among " + ", ".join(OUTCOMES) + ", failure")
    ] = None,
    action: Annotated[
        str | None, Query(description="admin actions, comma-separated (e.g. grant.give)")
    ] = None,
    kind: Annotated[str | None, Query(description="call or admin")] = None,
    limit: Annotated[str | None, Query(description=f"1-{MAX_LIMIT}, default 50")] = None,
    cursor: Annotated[str | None, Query(description="next_cursor of the previous page")] = None,
) -> dict[str, Any]:
    """Audit records (calls and admin actions), newest first, with filters and cursor paging.

    A division admin sees the records of services in its divisions only."""
    sign = _cursor_signer(request)
    query = parse_audit_query(
        settings=_settings(request),
        sign=sign,
        divisions=reader.divisions,
        since=since,
        until=until,
        service=service,
        operation=operation,
        client=client,
        subject=subject,
        outcome=outcome,
        action=action,
        kind=kind,
        limit=limit,
        cursor=cursor,
    )
    return await audit_page(session, query, sign)


@router.get(
    "/personal-data-reads",
    response_model=PersonalReadsOut,
    responses=problem_responses(401, 403, 422),
    openapi_extra={PARAMETERS_KEY: READS_PARAMETER_SCHEMAS, **_OPS_AUTH},
)
async def personal_data_reads(
    request: Request,
    session: SessionDep,
    reader: AuditReaderDep,
    client: Annotated[str | None, Query(description="client ids, comma-separated")] = None,
    service: Annotated[str | None, Query(description="division/slug, comma-separated")] = None,
    kind: Annotated[
        str | None, Query(description="identity-lookup, gateway-call or license-read")
    ] = None,
    since: Annotated[str | None, _moment_query("since")] = None,
    until: Annotated[str | None, _moment_query("until")] = None,
    limit: Annotated[str | None, Query(description=f"1-{MAX_LIMIT}, default 50")] = None,
    cursor: Annotated[str | None, Query(description="next_cursor of the previous page")] = None,
) -> dict[str, Any]:
    """Reads of residents' personal data by client, newest first: who, through what, why. The
    resident is named by a pseudonym and the masked ID number, never the number itself."""
    sign = _cursor_signer(request)
    query = parse_reads_query(
        settings=_settings(request),
        sign=sign,
        divisions=reader.divisions,
        since=since,
        until=until,
        client=client,
        service=service,
        kind=kind,
        limit=limit,
        cursor=cursor,
        default_limit=50,
        max_limit=MAX_LIMIT,
    )
    return await reads_page(session, query, sign, for_operators=True)


# -- pages ------------------------------------------------------------------------------------


@functools.cache
def _template(name: str) -> str:
    return (STATIC_DIR / name).read_text(encoding="utf-8")


@functools.lru_cache(maxsize=32)  # bounded: callers choose the names
def _asset(name: str) -> bytes | None:
    """A vendored asset's bytes, read once (None: no such file)."""
    resource = STATIC_DIR / name
    return resource.read_bytes() if resource.is_file() else None


def _login_page(
    message: str | None, status: int, headers: dict[str, str] | None = None
) -> Response:
    notice = ""
    if message:
        escaped = html.escape(message)
        notice = f'<p class="notice" role="alert" data-testid="login-message">{escaped}</p>'
    body = _template("login.html").replace("{{message}}", notice)
    return HTMLResponse(body, status_code=status, headers={**_PAGE_HEADERS, **(headers or {})})


def _secure(request: Request) -> bool:
    # A TLS-terminating proxy's X-Forwarded-Proto counts only from XYB_TRUSTED_PROXIES; an https
    # XYB_PUBLIC_URL says the same without it.
    settings: Settings = request.app.state.settings
    return request.url.scheme == "https" or settings.resolved_public_url.startswith("https://")


@router.get("/login", include_in_schema=False)
async def login_form(request: Request, session: SessionDep) -> Response:
    """The sign-in form (straight to the dashboard when already signed in)."""
    principal, reason = await _session_principal(request, session)
    if principal is not None:
        return RedirectResponse("/ops/dashboard", status_code=303, headers=_PAGE_HEADERS)
    message = "Your session has expired; sign in again." if reason == "expired" else None
    return _login_page(message, 200)


async def _form(request: Request) -> dict[str, str] | None:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/x-www-form-urlencoded":
        return None
    body = await request.body()
    if len(body) > _MAX_FORM:
        return None
    try:
        return dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
    except UnicodeDecodeError:
        return None


def _record_sign_in(request: Request, username: str, outcome: str, reason: str | None) -> None:
    """An operator's sign-in, or its failure: the username typed, never the password (nor a
    phone or ID number typed as a username: usernames never hold one)."""
    if personal_number_in(username):
        username = "(a personal number)"
    record_admin_now(
        getattr(request.app.state, "audit", None),
        actor=username,
        action="operator.sign-in",
        object=f"operator:{username}",
        summary={"reason": reason} if reason else None,
        outcome=outcome,
    )


@router.post("/login", include_in_schema=False)
async def login(request: Request, session: SessionDep) -> Response:
    """Form sign-in: a session cookie and a redirect to the dashboard, or the form again."""
    if not _same_origin(request):
        return _login_page("This sign-in did not come from the gateway's own page.", 403)
    form = await _form(request)
    if form is None:
        return _login_page("Send the form (application/x-www-form-urlencoded).", 400)
    username = form.get("username", "").strip()
    password = form.get("password", "")
    if not username or not password or len(username) > 64 or len(password) > MAX_PASSWORD:
        return _login_page("Enter your username and password.", 401, _CHALLENGE)
    signer = _signer(request)
    throttle: LoginThrottle = request.app.state.login_throttle
    address = request.client.host if request.client else None
    account = signer.throttle_key(username)
    wait = await throttle.check(account=account, address=address)
    if wait is not None:
        seconds = max(1, int(wait + 0.999))
        _record_sign_in(request, username, "failure", "throttled: too many failed sign-ins")
        return _login_page(
            f"Too many failed sign-ins; try again in {seconds} s.",
            429,
            {"Retry-After": str(seconds)},
        )
    row = await authenticate(session, username, password)
    if row is None:
        await throttle.failure(account=account, address=address)
        _record_sign_in(request, username, "failure", "wrong username or password")
        return _login_page("Wrong username or password.", 401, _CHALLENGE)
    if not set(row.roles) & DASHBOARD_ROLES:
        await throttle.success(account=account)
        _record_sign_in(request, username, "failure", "no operator role")
        return _login_page("This account has no operator role.", 403)
    await throttle.success(account=account)
    _record_sign_in(request, row.username, "success", None)
    settings = _settings(request)
    token, _claims = signer.issue(
        row.username,
        list(row.roles),
        row.password_hash,
        ttl=settings.operator_session_ttl,
        now=_now_s(request),
    )
    response = RedirectResponse("/ops/dashboard", status_code=303, headers=_PAGE_HEADERS)
    response.set_cookie(
        COOKIE_NAME,
        token,
        max_age=settings.operator_session_ttl,
        path=COOKIE_PATH,
        secure=_secure(request),
        httponly=True,
        samesite="strict",
    )
    return response


@router.post("/logout", include_in_schema=False)
async def logout(request: Request, session: SessionDep) -> Response:
    """End the session: the cookie is deleted and its id refused by every instance."""
    if not _same_origin(request):
        raise Forbidden("A sign-out must come from the gateway's own pages.")
    await lock_for_write(session)  # SQLite: read-then-write needs the write lock first
    principal, _reason = await _session_principal(request, session)
    if principal is not None and principal.claims is not None:
        await end_session(
            session,
            session_id=principal.claims.session_id,
            username=principal.name,
            expires_at=principal.claims.expires_at,
            now=_clock(request)(),
        )
    response = RedirectResponse("/ops/login", status_code=303, headers=_PAGE_HEADERS)
    response.delete_cookie(
        COOKIE_NAME, path=COOKIE_PATH, secure=_secure(request), httponly=True, samesite="strict"
    )
    return response


@router.get("/dashboard", include_in_schema=False)
async def dashboard(request: Request, session: SessionDep) -> Response:
    """The dashboard page for a signed-in operator (else the sign-in form)."""
    principal, _reason = await _session_principal(request, session)
    if principal is None:
        return RedirectResponse("/ops/login", status_code=303, headers=_PAGE_HEADERS)
    # One zone on the page: the gateway's (the roll-ups' hours), named wherever a time is shown.
    body = (
        _template("dashboard.html")
        .replace("{{username}}", html.escape(principal.name))
        .replace("{{timezone}}", html.escape(_settings(request).timezone))
    )
    return HTMLResponse(body, headers=_PAGE_HEADERS)


@router.get("/dashboard/audit", include_in_schema=False)
async def audit_dashboard(request: Request, session: SessionDep) -> Response:
    """The audit page: the latest records with filters (it reads /ops/audit)."""
    principal, _reason = await _session_principal(request, session)
    if principal is None:
        return RedirectResponse("/ops/login", status_code=303, headers=_PAGE_HEADERS)
    body = (
        _template("audit.html")
        .replace("{{username}}", html.escape(principal.name))
        .replace("{{timezone}}", html.escape(_settings(request).timezone))
    )
    return HTMLResponse(body, headers=_PAGE_HEADERS)


@router.get("/static/{name}", include_in_schema=False)
async def static(name: str) -> Response:
    """The dashboard's vendored assets (app/static: no CDN, works offline)."""
    match = _STATIC_NAME.match(name)
    content = _asset(name) if match else None
    if match is None or content is None:
        raise NotFound("No such asset.")
    return Response(
        content,
        media_type=_STATIC_TYPES[match.group(1)],
        headers={"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"},
    )
