"""Identity endpoints: accounts, the token endpoint, and the published keys and metadata."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import parse_qsl, unquote_plus, urlsplit

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from app.core.config import Settings, is_https_issuer
from app.core.deps import SessionDep
from app.core.errors import NotFound, Unauthorized, ValidationFailed
from app.core.identifiers import validate_uscc
from app.core.openapi import PARAMETERS_KEY, Scheme, problem_responses, security
from app.identity.accounts import (
    NewPerson,
    agencies,
    field_error,
    lock_for_write,
    masked_view,
    register_person,
)
from app.identity.callers import PersonDep, identity_of
from app.identity.enterprise_register import EnterpriseRecord, EnterpriseRegister
from app.identity.legal_persons import (
    AgentView,
    InvitationView,
    agents_of,
    answer_invitation,
    invitations_for,
    invitations_of,
    invite,
    register_legal_person,
    revoke_invitation,
)
from app.identity.oauth import (
    ID_TOKEN_TYPE,
    OAUTH_HEADERS,
    OAUTH_MEDIA_TYPE,
    SCOPES,
    TOKEN_EXCHANGE,
    OAuthClientError,
    OAuthError,
    OAuthSlowDown,
    authenticate_client,
    client_credentials,
    no_scope,
    parse_scope,
    password_grant,
    refresh_grant,
    token_exchange,
)
from app.identity.state import ACCESS_AUDIENCE, IdentityManager
from app.models.identity import LegalPerson, Person
from app.services.audit.actions import record_reads_after_commit
from app.services.audit.queries import (
    ACCESS_LOG_MAX,
    ACCESS_LOG_PARAMETER_SCHEMAS,
    parse_reads_query,
    reads_page,
)
from app.services.audit.schemas import AccessLogOut

router = APIRouter(tags=["identity"])

MAX_ID = 2**62  # ids are BIGINT (PostgreSQL): anything larger is no id


def manager_of(request: Request) -> IdentityManager:
    manager = request.app.state.identity
    assert isinstance(manager, IdentityManager)
    return manager


ManagerDep = Annotated[IdentityManager, Depends(manager_of)]


class PersonIn(BaseModel):
    # Lengths and formats are checked by register_person, so that every bad field is reported
    # at once (a too-long phone must not hide a wrong check digit); the body limit bounds sizes.
    name: str = Field(description="1 to 100 characters")
    id_number: str = Field(description="GB 11643 resident ID number (any province)")
    phone: str = Field(description="mainland mobile number, 11 digits")
    password: str = Field(description="8 to 128 characters, not the phone or the ID number")


class PersonOut(BaseModel):
    id: int
    name: str
    id_number: str = Field(description="masked, e.g. 4301**********123X")
    phone: str | None = Field(description="masked, e.g. 138****5678")
    assurance: int
    source: str
    status: str
    created_at: str | None


class LegalPersonOut(BaseModel):
    id: int
    name: str
    uscc: str
    legal_representative: str


class MeOut(PersonOut):
    acting_for: LegalPersonOut | None = None
    agent_of: list[LegalPersonOut]


class LegalPersonIn(BaseModel):
    uscc: str = Field(description="unified social credit code (GB 32100, GB 11714 inside)")
    # Accepted for older clients and ignored: the name and the representative stored are the
    # enterprise register's, whatever a caller says.
    name: str | None = Field(default=None, description="ignored: the register's name is used")
    legal_representative: str | None = Field(
        default=None, description="ignored: the register's legal representative is used"
    )


class InvitationIn(BaseModel):
    id_number: str = Field(min_length=1, max_length=40, description="GB 11643 ID number")


class InvitationOut(BaseModel):
    id: int
    legal_person: LegalPersonOut
    id_number: str = Field(description="the invited ID number, masked")
    status: str = Field(description="pending, accepted, declined, revoked or expired")
    invited_by: str = Field(description="the inviting agent's name")
    created_at: datetime
    expires_at: datetime
    decided_at: datetime | None


class AgentOut(BaseModel):
    name: str
    id_number: str = Field(description="masked")
    since: datetime


def _shown(
    request: Request,
    session: SessionDep,
    caller: PersonDep,
    person_ids: list[int],
    purpose: str,
) -> None:
    """Record that an answer showed other residents' personal data (names, masked ID numbers)
    from their accounts: each of them finds it in GET /identity/me/access-log. A resident's own
    data shown to themselves is not recorded: the log answers "who else looked at my data"."""
    others = [pid for pid in person_ids if pid != caller.person_id]
    record_reads_after_commit(
        session,
        getattr(request.app.state, "audit", None),
        others,
        purpose=purpose,
        client_id=caller.client_id,
    )


def _inviters(views: list[InvitationView]) -> list[int]:
    return [view.invitation.invited_by for view in views]


def _legal_out(row: LegalPerson) -> LegalPersonOut:
    return LegalPersonOut(
        id=row.id, name=row.name, uscc=row.uscc, legal_representative=row.legal_representative
    )


@router.post(
    "/identity/persons",
    status_code=201,
    response_model=PersonOut,
    responses=problem_responses(400, 409, 413, 422),
)
async def register(body: PersonIn, session: SessionDep, manager: ManagerDep) -> PersonOut:
    """Register a resident (自然人): name, ID number (GB 11643), phone and password."""
    person = await register_person(
        session,
        manager.cipher,
        NewPerson(
            name=body.name, id_number=body.id_number, phone=body.phone, password=body.password
        ),
    )
    return PersonOut(**masked_view(person))


async def _me_person(session: SessionDep, person_id: int | None) -> Person:
    person = await session.get(Person, person_id) if person_id is not None else None
    if person is None:
        raise NotFound("The account of this token does not exist any more.")
    return person


@router.get("/identity/me", response_model=MeOut, responses=problem_responses(401, 403, 404))
async def me(caller: PersonDep, session: SessionDep) -> MeOut:
    """The account of the token's person, masked; and the legal persons it may act for."""
    person = await _me_person(session, caller.person_id)
    agent_of = [_legal_out(row) for row in await agencies(session, person.id)]
    acting = next((a for a in agent_of if caller.acting_for == a.id), None)
    return MeOut(**masked_view(person), agent_of=agent_of, acting_for=acting)


ACCESS_LOG_CURSOR_PURPOSE = "access-log-cursor"


@router.get(
    "/identity/me/access-log",
    response_model=AccessLogOut,
    responses=problem_responses(401, 403, 422),
    openapi_extra={PARAMETERS_KEY: ACCESS_LOG_PARAMETER_SCHEMAS},
)
async def access_log(
    caller: PersonDep,
    session: SessionDep,
    manager: ManagerDep,
    request: Request,
    limit: Annotated[str | None, Query(description=f"1-{ACCESS_LOG_MAX}, default 20")] = None,
    cursor: Annotated[str | None, Query(description="next_cursor of the previous page")] = None,
) -> dict[str, Any]:
    """Who read my personal data: each read by an application (which one), through which
    service, why and when, newest first. Only the caller's own reads; reading one's own data
    (this page, GET /identity/me) is not listed."""
    assert caller.person_id is not None  # PersonDep
    cipher = manager.cipher

    def sign(payload: str) -> str:
        return cipher.lookup_hash(payload, purpose=ACCESS_LOG_CURSOR_PURPOSE)

    query = parse_reads_query(
        settings=request.app.state.settings,
        sign=sign,
        person_id=caller.person_id,
        limit=limit,
        cursor=cursor,
    )
    return await reads_page(session, query, sign, for_operators=False)


def register_of(request: Request) -> EnterpriseRegister:
    register = request.app.state.enterprise_register
    assert isinstance(register, EnterpriseRegister)
    return register


async def enterprise_of(body: LegalPersonIn, request: Request) -> EnterpriseRecord | None:
    """The register's answer for the submitted code (None: no such enterprise)."""
    uscc = body.uscc.strip().upper()
    reasons = validate_uscc(uscc)
    if reasons:
        raise ValidationFailed(
            "The credit code is not valid.", errors=[field_error("uscc", r) for r in reasons]
        )
    return await register_of(request).lookup(uscc)


# Legal persons' ids: a path segment beyond them is no id (404/422, never a database error).
LegalPersonId = Annotated[int, Field(ge=1, le=MAX_ID)]
InvitationId = Annotated[int, Field(ge=1, le=MAX_ID)]


@router.post(
    "/identity/legal-persons",
    status_code=201,
    response_model=LegalPersonOut,
    responses={
        200: {
            "description": "Registered already: you, its legal representative, are its agent now"
        },
        **problem_responses(400, 401, 403, 409, 413, 422, 503),
    },
)
async def register_legal(
    caller: PersonDep,
    # Before the session: the register is asked over the network, and a SQLite write request
    # holds the database's lock from its first statement (FastAPI resolves in this order).
    enterprise: Annotated[EnterpriseRecord | None, Depends(enterprise_of)],
    session: SessionDep,
    manager: ManagerDep,
    response: Response,
) -> LegalPersonOut:
    """Register a legal person (法人) by its unified social credit code: the market-supervision
    register must list it in existence, and only its legal representative registers it (the
    name and representative stored are the register's); the registrant becomes its agent."""
    person = await _me_person(session, caller.person_id)
    legal, created = await register_legal_person(
        session, manager.cipher, record=enterprise, caller=person
    )
    if not created:
        response.status_code = 200
    return _legal_out(legal)


def _invitation_out(view: InvitationView) -> InvitationOut:
    row = view.invitation
    return InvitationOut(
        id=row.id,
        legal_person=_legal_out(view.legal_person),
        id_number=row.id_number_masked,
        status=view.status,
        invited_by=view.invited_by,
        created_at=row.created_at,
        expires_at=row.expires_at,
        decided_at=row.decided_at,
    )


@router.post(
    "/identity/legal-persons/{legal_person_id}/invitations",
    status_code=201,
    response_model=InvitationOut,
    responses=problem_responses(400, 401, 403, 404, 409, 413, 422),
)
async def invite_agent(
    legal_person_id: LegalPersonId,
    body: InvitationIn,
    caller: PersonDep,
    session: SessionDep,
    manager: ManagerDep,
) -> InvitationOut:
    """An agent invites a person, by ID number, to become an agent too (valid 7 days). The
    answer is the same whether or not the number has an account: the invited person (now or
    once registered) lists it at GET /identity/invitations and accepts or declines it."""
    await lock_for_write(session)
    person = await _me_person(session, caller.person_id)
    view = await invite(
        session,
        manager.cipher,
        legal_person_id=legal_person_id,
        by=person,
        id_number=body.id_number,
    )
    return _invitation_out(view)


@router.get(
    "/identity/legal-persons/{legal_person_id}/invitations",
    response_model=list[InvitationOut],
    responses=problem_responses(401, 403, 404, 422),
)
async def company_invitations(
    legal_person_id: LegalPersonId,
    caller: PersonDep,
    session: SessionDep,
    request: Request,
    limit: Annotated[int, Query(ge=1, le=200)] = 100,
) -> list[InvitationOut]:
    """A legal person's invitations, newest first (its agents only)."""
    person = await _me_person(session, caller.person_id)
    views = await invitations_of(session, legal_person_id=legal_person_id, by=person, limit=limit)
    _shown(
        request,
        session,
        caller,
        _inviters(views),
        f"invitations of legal person {legal_person_id} (inviters' names)",
    )
    return [_invitation_out(view) for view in views]


@router.delete(
    "/identity/legal-persons/{legal_person_id}/invitations/{invitation_id}",
    response_model=InvitationOut,
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def revoke(
    legal_person_id: LegalPersonId,
    invitation_id: InvitationId,
    caller: PersonDep,
    session: SessionDep,
) -> InvitationOut:
    """An agent of the legal person withdraws a pending invitation."""
    await lock_for_write(session)
    person = await _me_person(session, caller.person_id)
    view = await revoke_invitation(
        session, legal_person_id=legal_person_id, invitation_id=invitation_id, by=person
    )
    return _invitation_out(view)


@router.get(
    "/identity/legal-persons/{legal_person_id}/agents",
    response_model=list[AgentOut],
    responses=problem_responses(401, 403, 404, 422),
)
async def list_agents(
    legal_person_id: LegalPersonId, caller: PersonDep, session: SessionDep, request: Request
) -> list[AgentOut]:
    """The agents of a legal person, each of whom registered it or accepted an invitation
    (its agents only)."""
    person = await _me_person(session, caller.person_id)
    agents: list[AgentView] = await agents_of(session, legal_person_id=legal_person_id, by=person)
    _shown(
        request,
        session,
        caller,
        [a.person_id for a in agents],
        f"agents of legal person {legal_person_id} (names, masked ID numbers)",
    )
    return [AgentOut(name=a.name, id_number=a.id_number_masked, since=a.since) for a in agents]


@router.get(
    "/identity/invitations",
    response_model=list[InvitationOut],
    responses=problem_responses(401, 403, 404),
)
async def my_invitations(
    caller: PersonDep, session: SessionDep, request: Request
) -> list[InvitationOut]:
    """The pending invitations of the caller's ID number, oldest first."""
    person = await _me_person(session, caller.person_id)
    views = await invitations_for(session, person)
    _shown(
        request, session, caller, _inviters(views), "invitations to the caller (inviters' names)"
    )
    return [_invitation_out(view) for view in views]


async def _answer(
    invitation_id: int, caller: PersonDep, session: SessionDep, *, accept: bool
) -> InvitationOut:
    await lock_for_write(session)
    person = await _me_person(session, caller.person_id)
    view = await answer_invitation(
        session, invitation_id=invitation_id, person=person, accept=accept
    )
    return _invitation_out(view)


@router.post(
    "/identity/invitations/{invitation_id}/accept",
    response_model=InvitationOut,
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def accept(
    invitation_id: InvitationId, caller: PersonDep, session: SessionDep
) -> InvitationOut:
    """Accept an invitation of one's own ID number: one becomes an agent of the legal person."""
    return await _answer(invitation_id, caller, session, accept=True)


@router.post(
    "/identity/invitations/{invitation_id}/decline",
    response_model=InvitationOut,
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def decline(
    invitation_id: InvitationId, caller: PersonDep, session: SessionDep
) -> InvitationOut:
    """Decline an invitation of one's own ID number."""
    return await _answer(invitation_id, caller, session, accept=False)


_GRANT_TYPES = ("password", "client_credentials", "refresh_token", TOKEN_EXCHANGE)
_TOKEN_FORM = {
    "requestBody": {
        "required": True,
        "content": {
            "application/x-www-form-urlencoded": {
                "schema": {
                    "type": "object",
                    "required": ["grant_type"],
                    "properties": {
                        "grant_type": {"type": "string", "enum": list(_GRANT_TYPES)},
                        "client_id": {"type": "string"},
                        "client_secret": {"type": "string"},
                        "scope": {
                            "type": "string",
                            "description": "roles the client's token carries, space-separated"
                            " (a subset of the client's; default: all); residents' tokens take"
                            " none",
                        },
                        "username": {"type": "string", "description": "ID number or phone"},
                        "password": {"type": "string"},
                        "acting_for": {"type": "string", "description": "a legal person's id"},
                        "refresh_token": {"type": "string"},
                        "subject_token": {"type": "string"},
                        "subject_token_type": {"type": "string"},
                    },
                }
            }
        },
    }
}


_TOKEN_PARAMETERS = frozenset(
    _TOKEN_FORM["requestBody"]["content"]["application/x-www-form-urlencoded"]["schema"][  # type: ignore[index]
        "properties"
    ]
)


def _oauth_error_response(description: str, errors: list[str]) -> dict[str, Any]:
    """An ``application/json`` error of the token endpoint (RFC 6749 §5.2), documented."""
    return {
        "description": description,
        "content": {
            OAUTH_MEDIA_TYPE: {
                "schema": {
                    "allOf": [
                        {"$ref": "#/components/schemas/Problem"},
                        {
                            "type": "object",
                            "required": ["error", "error_description"],
                            "properties": {
                                "error": {"type": "string", "enum": errors},
                                "error_description": {"type": "string"},
                            },
                        },
                    ]
                }
            }
        },
    }


_TOKEN_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: _oauth_error_response(
        "The request is refused (RFC 6749 §5.2)",
        [
            "invalid_request",
            "invalid_grant",
            "unauthorized_client",
            "unsupported_grant_type",
            "invalid_scope",
        ],
    ),
    401: _oauth_error_response("Client authentication failed", ["invalid_client"]),
    **problem_responses(413),
    429: _oauth_error_response("Too many failed logins (Retry-After)", ["slow_down"]),
}


class TokenOut(BaseModel):
    access_token: str
    token_type: str
    expires_in: int
    refresh_token: str | None = None
    issued_token_type: str | None = None
    scope: str | None = Field(default=None, description="the roles granted, space-separated")


def _client_credentials_of(request: Request, form: dict[str, str]) -> tuple[str, str]:
    header = request.headers.get("authorization", "")
    if not header.lower().startswith("basic "):
        return form.get("client_id", ""), form.get("client_secret", "")
    if "client_secret" in form:
        raise OAuthError(
            "invalid_request", "Authenticate the client one way: Basic or client_secret, not both."
        )
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise OAuthClientError("Malformed Basic credentials.") from None
    # RFC 6749 §2.3.1: both halves are form-encoded before they are joined.
    raw_id, _, raw_secret = decoded.partition(":")
    client_id, secret = unquote_plus(raw_id), unquote_plus(raw_secret)
    if form.get("client_id", client_id) != client_id:
        raise OAuthError("invalid_request", "client_id differs from the Basic credentials.")
    return client_id, secret


def _token_form(content_type: str, body: bytes) -> dict[str, str]:
    """The recognised parameters of a token request, each given at most once."""
    if content_type != "application/x-www-form-urlencoded":
        raise OAuthError(
            "invalid_request", "Send the token request as application/x-www-form-urlencoded."
        )
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True)
    except UnicodeDecodeError:
        raise OAuthError("invalid_request", "The form is not UTF-8.") from None
    form: dict[str, str] = {}
    for key, value in pairs:
        if key not in _TOKEN_PARAMETERS:
            continue  # RFC 6749 §3.2: unrecognized parameters are ignored
        if key in form:
            raise OAuthError("invalid_request", f"The parameter {key} is given more than once.")
        form[key] = value
    grant = form.get("grant_type", "")
    if not grant:
        raise OAuthError("invalid_request", "grant_type is missing.")
    if grant not in _GRANT_TYPES:
        shown = grant if len(grant) <= 80 and grant.isprintable() else "this grant_type"
        raise OAuthError(
            "unsupported_grant_type",
            f"{shown!r} is not supported; grant_type is one of {', '.join(_GRANT_TYPES)}.",
        )
    return form


@router.post(
    "/identity/token",
    response_model=TokenOut,
    # The client authenticates with HTTP Basic or with client_id/client_secret in the form.
    openapi_extra={**_TOKEN_FORM, **security(Scheme.CLIENT_BASIC, optional=True)},
    responses=_TOKEN_RESPONSES,
)
async def token(request: Request, session: SessionDep, manager: ManagerDep) -> JSONResponse:
    """OAuth 2.0 token endpoint: password (ID number or phone), client_credentials,
    refresh_token (rotated; reuse revokes the family) and token exchange (RFC 8693). Errors are
    application/json (RFC 6749 §5.2)."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    # Checked before anything touches the database: a malformed request takes no lock.
    form = _token_form(content_type, await request.body())
    grant = form["grant_type"]
    scope = parse_scope(form.get("scope"))
    client_id, client_secret = _client_credentials_of(request, form)
    if grant != "client_credentials":
        await lock_for_write(session)  # the other grants read, then write
    client = await authenticate_client(session, manager, client_id, client_secret)
    if grant == "client_credentials":
        response = await client_credentials(manager, client, scope)
    else:
        no_scope(scope)
        if grant == "password":
            response = await _password(request, session, manager, client, form)
        elif grant == "refresh_token":
            response = await refresh_grant(session, manager, client, form.get("refresh_token", ""))
        else:
            response, _created = await token_exchange(
                session,
                manager,
                client,
                subject_token=form.get("subject_token", ""),
                subject_token_type=form.get("subject_token_type", ID_TOKEN_TYPE),
            )
    return JSONResponse(response.body(), headers=OAUTH_HEADERS)


async def _password(
    request: Request,
    session: SessionDep,
    manager: ManagerDep,
    client: Any,
    form: dict[str, str],
) -> Any:
    throttle = request.app.state.login_throttle
    address = request.client.host if request.client else None
    username, password = form.get("username", ""), form.get("password", "")
    if not username or not password:
        raise OAuthError("invalid_request", "username and password are required.")
    acting_raw = form.get("acting_for")
    acting_for: int | None = None
    if acting_raw:
        # ASCII digits of a plausible id: int() of anything else fails or overflows the column.
        if not (acting_raw.isascii() and acting_raw.isdigit() and len(acting_raw) <= 19):
            raise OAuthError("invalid_request", "acting_for is a legal person's id.")
        acting_for = int(acting_raw)
        if not 1 <= acting_for <= MAX_ID:
            raise OAuthError("invalid_request", "acting_for is a legal person's id.")
    from app.identity.accounts import find_person_for_login

    _, account_key = await find_person_for_login(session, manager.cipher, username)
    wait = await throttle.check(account=account_key, address=address)
    if wait is not None:
        raise OAuthSlowDown(max(1, int(wait + 0.999)))
    response, account_key = await password_grant(
        session, manager, client, username=username, password=password, acting_for=acting_for
    )
    if response is None:
        await throttle.failure(account=account_key, address=address)
        raise OAuthError("invalid_grant", "Wrong ID number, phone or password.")
    await throttle.success(account=account_key)
    return response


@router.get("/.well-known/jwks.json", responses={200: {"description": "JSON Web Key Set"}})
async def jwks(manager: ManagerDep) -> dict[str, Any]:
    """The public keys that verify the gateway's tokens and upstream assertions."""
    return manager.state.keyring.jwks()


METADATA_PATH = "/.well-known/oauth-authorization-server"


def authorization_server_metadata(settings: Settings) -> dict[str, Any]:
    """RFC 8414 metadata: an OAuth 2.0 authorization server issuing access tokens to apps.

    Not an OpenID provider (no ID tokens, no authorization endpoint): no OpenID member is
    claimed. RFC 8414 requires a non-empty ``response_types_supported`` even of a server
    without an authorization endpoint; ``none`` (OAuth 2.0 Multiple Response Types §4) is the
    response type that returns no credential, and with no ``authorization_endpoint`` nothing can
    be asked there.
    """
    # The configured address, never the request's Host: a forged Host would otherwise point
    # whoever caches this document at someone else's keys.
    base = settings.resolved_public_url
    return {
        "issuer": settings.resolved_issuer,
        "token_endpoint": f"{base}/identity/token",
        "jwks_uri": f"{base}/.well-known/jwks.json",
        "scopes_supported": list(SCOPES),
        "response_types_supported": ["none"],
        "grant_types_supported": list(_GRANT_TYPES),
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "service_documentation": f"{base}/docs",
        # Beyond RFC 8414: what token exchange takes, and the audience of the access tokens.
        "subject_token_types_supported": [ID_TOKEN_TYPE],
        "audience": ACCESS_AUDIENCE,
    }


@router.get(METADATA_PATH, responses={200: {"description": "Authorization server metadata"}})
async def metadata(manager: ManagerDep) -> dict[str, Any]:
    """OAuth 2.0 authorization server metadata (RFC 8414): the token endpoint, the keys, the
    grants and scopes."""
    return authorization_server_metadata(manager.settings)


@router.get(METADATA_PATH + "/{suffix:path}", include_in_schema=False)
async def metadata_for_issuer_path(suffix: str, manager: ManagerDep) -> dict[str, Any]:
    """RFC 8414 §3: an issuer with a path has its metadata at the well-known path + that path."""
    issuer = manager.settings.resolved_issuer
    if not is_https_issuer(issuer) or urlsplit(issuer).path.strip("/") != suffix.strip("/"):
        raise NotFound(f"The authorization server metadata is at {METADATA_PATH}.")
    return authorization_server_metadata(manager.settings)


@router.get("/.well-known/openid-configuration", include_in_schema=False)
async def not_an_openid_provider() -> None:
    """No OpenID Connect discovery: the gateway issues no ID tokens."""
    raise NotFound(
        "This gateway is an OAuth 2.0 authorization server, not an OpenID provider: its"
        f" metadata (RFC 8414) is at {METADATA_PATH}."
    )


__all__ = ["Unauthorized", "identity_of", "router"]
