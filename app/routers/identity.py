"""Identity endpoints: accounts, the token endpoint, and the published keys and metadata."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from app.core.deps import SessionDep
from app.core.errors import MalformedBody, NotFound, TooManyRequests, Unauthorized
from app.core.openapi import problem_responses
from app.core.security import PersonDep, identity_of
from app.identity.accounts import (
    NewPerson,
    agencies,
    bind_agent,
    lock_for_write,
    masked_view,
    register_legal_person,
    register_person,
)
from app.identity.oauth import (
    ID_TOKEN_TYPE,
    TOKEN_EXCHANGE,
    OAuthClientError,
    OAuthError,
    authenticate_client,
    client_credentials,
    password_grant,
    refresh_grant,
    token_exchange,
)
from app.identity.state import ACCESS_AUDIENCE, IdentityManager
from app.models.identity import LegalPerson, Person

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
    # Checked by register_legal_person, every bad field at once (see PersonIn).
    name: str = Field(description="1 to 200 characters")
    uscc: str = Field(description="unified social credit code (GB 32100, GB 11714 inside)")
    legal_representative: str = Field(description="1 to 100 characters")


class AgentIn(BaseModel):
    id_number: str = Field(min_length=1, max_length=40)


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


@router.post(
    "/identity/legal-persons",
    status_code=201,
    response_model=LegalPersonOut,
    responses=problem_responses(400, 401, 403, 409, 413, 422),
)
async def register_legal(
    body: LegalPersonIn, caller: PersonDep, session: SessionDep
) -> LegalPersonOut:
    """Register a legal person (法人) by its unified social credit code (GB 32100 + GB 11714);
    the registering person becomes its agent."""
    await lock_for_write(session)
    person = await _me_person(session, caller.person_id)
    legal = await register_legal_person(
        session,
        name=body.name,
        uscc=body.uscc,
        representative=body.legal_representative,
        agent=person,
    )
    return _legal_out(legal)


@router.post(
    "/identity/legal-persons/{legal_person_id}/agents",
    status_code=201,
    response_model=PersonOut,
    responses=problem_responses(400, 401, 403, 404, 413, 422),
)
async def add_agent(
    legal_person_id: Annotated[int, Field(ge=1, le=MAX_ID)],
    body: AgentIn,
    caller: PersonDep,
    session: SessionDep,
    manager: ManagerDep,
) -> PersonOut:
    """An agent of a legal person binds another registered person as an agent of it."""
    await lock_for_write(session)
    person = await _me_person(session, caller.person_id)
    agent = await bind_agent(
        session,
        manager.cipher,
        legal_person_id=legal_person_id,
        by=person,
        id_number=body.id_number,
    )
    return PersonOut(**masked_view(agent))


_TOKEN_FORM = {
    "requestBody": {
        "required": True,
        "content": {
            "application/x-www-form-urlencoded": {
                "schema": {
                    "type": "object",
                    "required": ["grant_type"],
                    "properties": {
                        "grant_type": {
                            "type": "string",
                            "enum": [
                                "password",
                                "client_credentials",
                                "refresh_token",
                                TOKEN_EXCHANGE,
                            ],
                        },
                        "client_id": {"type": "string"},
                        "client_secret": {"type": "string"},
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


class TokenOut(BaseModel):
    access_token: str
    token_type: str
    expires_in: int
    refresh_token: str | None = None
    issued_token_type: str | None = None


def _client_credentials_of(request: Request, form: dict[str, str]) -> tuple[str, str]:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("basic "):
        try:
            decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise OAuthClientError("Malformed Basic credentials.") from None
        client_id, _, secret = decoded.partition(":")
        return client_id, secret
    return form.get("client_id", ""), form.get("client_secret", "")


@router.post(
    "/identity/token",
    response_model=TokenOut,
    openapi_extra=_TOKEN_FORM,
    responses=problem_responses(400, 401, 413, 415, 429),
)
async def token(request: Request, session: SessionDep, manager: ManagerDep) -> JSONResponse:
    """OAuth 2.0 token endpoint: password (ID number or phone), client_credentials,
    refresh_token (rotated; reuse revokes the family) and token exchange (RFC 8693)."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/x-www-form-urlencoded":
        raise OAuthError(
            "invalid_request", "Send the token request as application/x-www-form-urlencoded."
        )
    try:
        pairs = parse_qsl((await request.body()).decode("utf-8"), keep_blank_values=True)
    except UnicodeDecodeError:
        raise MalformedBody("The form is not UTF-8.") from None
    form: dict[str, str] = {}
    for key, value in pairs:
        if key not in _TOKEN_PARAMETERS:
            continue  # RFC 6749 §3.2: unrecognized parameters are ignored
        if key in form:
            raise OAuthError("invalid_request", f"The parameter {key} is given more than once.")
        form[key] = value
    grant = form.get("grant_type", "")
    client_id, client_secret = _client_credentials_of(request, form)
    if grant != "client_credentials":
        await lock_for_write(session)  # the other grants read, then write
    client = await authenticate_client(session, manager, client_id, client_secret)
    if grant == "client_credentials":
        response = await client_credentials(manager, client)
    elif grant == "password":
        response = await _password(request, session, manager, client, form)
    elif grant == "refresh_token":
        response = await refresh_grant(session, manager, client, form.get("refresh_token", ""))
    elif grant == TOKEN_EXCHANGE:
        response, _created = await token_exchange(
            session,
            manager,
            client,
            subject_token=form.get("subject_token", ""),
            subject_token_type=form.get("subject_token_type", ID_TOKEN_TYPE),
        )
    else:
        raise OAuthError("unsupported_grant_type", f"grant_type {grant!r} is not supported.")
    return JSONResponse(
        response.body(), headers={"Cache-Control": "no-store", "Pragma": "no-cache"}
    )


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
        seconds = max(1, int(wait + 0.999))
        raise TooManyRequests(
            f"Too many failed logins; try again in {seconds} s.",
            headers={"Retry-After": str(seconds)},
            extensions={"error": "slow_down", "error_description": "too many failed logins"},
        )
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


@router.get(
    "/.well-known/openid-configuration",
    responses={200: {"description": "Authorization server metadata (RFC 8414)"}},
)
async def discovery(request: Request, manager: ManagerDep) -> dict[str, Any]:
    """Where the token endpoint and the keys are, and what they support."""
    base = str(request.base_url).rstrip("/")
    return {
        "issuer": manager.settings.issuer,
        "token_endpoint": f"{base}/identity/token",
        "jwks_uri": f"{base}/.well-known/jwks.json",
        "userinfo_endpoint": f"{base}/identity/me",
        "grant_types_supported": [
            "password",
            "client_credentials",
            "refresh_token",
            TOKEN_EXCHANGE,
        ],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "id_token_signing_alg_values_supported": ["EdDSA"],
        "token_endpoint_auth_signing_alg_values_supported": ["EdDSA"],
        "subject_token_types_supported": [ID_TOKEN_TYPE],
        "audience": ACCESS_AUDIENCE,
    }


__all__ = ["Unauthorized", "identity_of", "router"]
