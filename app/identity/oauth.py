"""The token endpoint's grants (RFC 6749, RFC 8693), scopes, and refresh-token rotation.

Errors are sent as ``application/json``, as RFC 6749 §5.2 requires: OAuth's ``error`` and
``error_description`` beside the problem members (``type``, ``title``, ``status``, ``detail``),
so OAuth clients and problem-aware clients both understand them.

Scopes are the roles a client's token carries (RFC 6749 §3.3): a client may ask for some of the
roles it holds (``scope=operator``), and gets them all when it asks for none. Residents' tokens
carry no roles, so they take no scope. Access through /gw follows the client's grants, whatever
the scope.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.errors import GatewayError, TooManyRequests, register_problem_type
from app.identity.accounts import (
    ASSURANCE_PARTNER,
    find_person_for_login,
    is_agent,
    person_for_partner,
    person_id_number,
)
from app.identity.crypto import DataCipher
from app.identity.events import EventKind, emit
from app.identity.passwords import burn_verification, hash_password, needs_rehash, verify_password
from app.identity.roles import ALL_ROLES
from app.identity.state import ClientView, IdentityManager
from app.identity.tokens import InvalidToken, verify_partner_token
from app.models.identity import Client, PartnerTokenUse, Person, RefreshToken

# RFC 8693 identifiers (names, not secrets).
TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"  # noqa: S105
ID_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:id_token"  # noqa: S105
JWT_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:jwt"  # noqa: S105
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"  # noqa: S105

OAUTH_ERROR = register_problem_type(
    "oauth-error",
    400,
    "Token request refused",
    "The token endpoint refused the request; error and error_description say why, as OAuth 2.0"
    " (RFC 6749 §5.2) defines them.",
)
OAUTH_CLIENT_ERROR = register_problem_type(
    "oauth-invalid-client",
    401,
    "Client authentication failed",
    "The client credentials are missing or wrong (RFC 6749 §5.2 invalid_client).",
)


# RFC 6749 §5.2: the token endpoint's errors are application/json.
OAUTH_MEDIA_TYPE = "application/json"
OAUTH_HEADERS = {"Cache-Control": "no-store", "Pragma": "no-cache"}


class OAuthError(GatewayError):
    """A refused token request (400): ``error`` is one of RFC 6749 §5.2's codes."""

    problem = OAUTH_ERROR
    media_type = OAUTH_MEDIA_TYPE

    def __init__(self, error: str, description: str) -> None:
        super().__init__(
            description,
            headers=OAUTH_HEADERS,
            extensions={"error": error, "error_description": description},
        )


class OAuthClientError(GatewayError):
    """invalid_client (401, with a Basic challenge as RFC 6749 §5.2 asks)."""

    problem = OAUTH_CLIENT_ERROR
    media_type = OAUTH_MEDIA_TYPE

    def __init__(self, description: str) -> None:
        super().__init__(
            description,
            headers={**OAUTH_HEADERS, "WWW-Authenticate": 'Basic realm="xyb-token"'},
            extensions={"error": "invalid_client", "error_description": description},
        )


class OAuthSlowDown(TooManyRequests):
    """Too many failed logins (429 with Retry-After), in the token endpoint's JSON."""

    media_type = OAUTH_MEDIA_TYPE

    def __init__(self, seconds: int) -> None:
        description = f"Too many failed logins; try again in {seconds} s."
        super().__init__(
            description,
            headers={**OAUTH_HEADERS, "Retry-After": str(seconds)},
            extensions={"error": "slow_down", "error_description": description},
        )


# RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ), separated by spaces.
_SCOPE_TOKEN = re.compile(r"[\x21\x23-\x5B\x5D-\x7E]{1,64}")
_MAX_SCOPES = 16
SCOPES = tuple(sorted(ALL_ROLES))


def parse_scope(raw: str | None) -> frozenset[str] | None:
    """The requested scope as a set of scope tokens; None when the request has none."""
    if raw is None:
        return None
    tokens = [token for token in raw.split(" ") if token]
    if not tokens:
        return None
    if len(tokens) > _MAX_SCOPES or not all(_SCOPE_TOKEN.fullmatch(t) for t in tokens):
        raise OAuthError(
            "invalid_scope", "The scope is malformed: it is role names separated by spaces."
        )
    return frozenset(tokens)


def _unknown_scope(scope: str) -> OAuthError:
    if scope == "openid":
        return OAuthError(
            "invalid_scope",
            "openid: this gateway issues access tokens, not ID tokens (it is no OpenID provider).",
        )
    return OAuthError(
        "invalid_scope", f"Unknown scope {scope}: the scopes are the roles {', '.join(SCOPES)}."
    )


def scoped_roles(client: ClientView, scope: frozenset[str] | None) -> tuple[str, ...]:
    """The roles a client's token carries: those asked for, all the client's by default."""
    if scope is None:
        return tuple(sorted(client.roles))
    for name in sorted(scope):
        if name not in ALL_ROLES:
            raise _unknown_scope(name)
        if name not in client.roles:
            raise OAuthError("invalid_scope", f"This client does not hold the role {name}.")
    return tuple(sorted(scope))


def no_scope(scope: frozenset[str] | None) -> None:
    """Residents' tokens carry no roles: any scope is refused, naming the first."""
    if scope is None:
        return
    first = min(scope)
    if first == "openid" or first not in ALL_ROLES:
        raise _unknown_scope(first)
    raise OAuthError(
        "invalid_scope", "A resident's token carries no roles: ask for it without a scope."
    )


CLIENT_ID = re.compile(r"[A-Za-z0-9_-]{1,40}")
PARTNER_TOKEN_LEEWAY = 60  # seconds of clock skew allowed with partners' clocks
REFRESH_TOKEN_ID = re.compile(r"[0-9a-f]{32}")  # secrets.token_hex(16)


def secret_hash(secret: str) -> str:
    """Client secrets and refresh tokens are 256-bit random: a SHA-256 is enough to store them."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def new_secret() -> str:
    return secrets.token_urlsafe(32)


@dataclass(frozen=True)
class TokenResponse:
    access_token: str
    expires_in: int
    refresh_token: str | None = None
    issued_token_type: str | None = None
    scope: str | None = None

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "access_token": self.access_token,
            "token_type": "Bearer",
            "expires_in": self.expires_in,
        }
        if self.refresh_token is not None:
            body["refresh_token"] = self.refresh_token
        if self.issued_token_type is not None:
            body["issued_token_type"] = self.issued_token_type
        if self.scope is not None:
            body["scope"] = self.scope
        return body


async def authenticate_client(
    session: AsyncSession, manager: IdentityManager, client_id: str, client_secret: str
) -> ClientView:
    """The client behind these credentials, or invalid_client."""
    # Only what a client id can be reaches the database (PostgreSQL refuses NUL in text).
    plausible = CLIENT_ID.fullmatch(client_id) is not None
    row = await session.get(Client, client_id) if plausible else None
    if row is None or not hmac.compare_digest(row.secret_hash, secret_hash(client_secret)):
        raise OAuthClientError("Unknown client or wrong client secret.")
    if row.status != "active":
        raise OAuthClientError("This client is disabled.")
    view = manager.state.clients.get(client_id)
    if view is None:
        await manager.refresh()
        view = manager.state.clients.get(client_id)
    if view is None:
        raise OAuthClientError("This client is not known yet; try again.")
    return view


async def client_credentials(
    manager: IdentityManager, client: ClientView, scope: frozenset[str] | None = None
) -> TokenResponse:
    """A client's own token, with the roles its scope asks for (all of them by default)."""
    roles = scoped_roles(client, scope)
    granted = " ".join(roles) or None
    token, claims = manager.issuer.issue(
        subject=f"c:{client.id}",
        client_id=client.id,
        kind="client",
        roles=roles,
        assurance=0,
        division=client.division,
        scope=granted,
    )
    return TokenResponse(token, claims.expires_at - claims.issued_at, scope=granted)


async def _issue_person_tokens(
    session: AsyncSession,
    manager: IdentityManager,
    *,
    person: Person,
    client: ClientView,
    family: str | None,
    acting_for: int | None,
    with_refresh: bool = True,
    assurance: int | None = None,
) -> TokenResponse:
    family = family or secrets.token_hex(16)
    token, claims = manager.issuer.issue(
        subject=f"p:{person.id}",
        client_id=client.id,
        kind="person",
        roles=(),
        assurance=person.assurance if assurance is None else assurance,
        family=family,
        acting_for=str(acting_for) if acting_for is not None else None,
        sealed_id_number=person.id_number_enc,
    )
    refresh: str | None = None
    if with_refresh:
        token_id = secrets.token_hex(16)
        secret = new_secret()
        session.add(
            RefreshToken(
                id=token_id,
                family=family,
                person_id=person.id,
                client_id=client.id,
                secret_hash=secret_hash(secret),
                acting_for=acting_for,
                expires_at=datetime.now(UTC)
                + timedelta(seconds=manager.settings.refresh_token_ttl),
            )
        )
        refresh = f"{token_id}.{secret}"
    return TokenResponse(token, claims.expires_at - claims.issued_at, refresh)


async def password_grant(
    session: AsyncSession,
    manager: IdentityManager,
    client: ClientView,
    *,
    username: str,
    password: str,
    acting_for: int | None,
    verify: bool = True,
) -> tuple[TokenResponse | None, str]:
    """Tokens for a person, or None when the credentials are wrong; and the throttle key."""
    if client.kind != "app":
        raise OAuthError(
            "unauthorized_client", "Only the app's own clients may use the password grant."
        )
    person, account_key = await find_person_for_login(session, manager.cipher, username)
    # argon2 takes tens of milliseconds: in a worker thread, never on the event loop (which
    # carries every /gw call of this instance meanwhile).
    if person is None or person.password_hash is None:
        # Same time as a real check: no account enumeration.
        await asyncio.to_thread(burn_verification, password)
        return None, account_key
    if not await asyncio.to_thread(verify_password, person.password_hash, password):
        return None, account_key
    if person.status != "active":
        raise OAuthError("invalid_grant", "This account is disabled.")
    if needs_rehash(person.password_hash):
        person.password_hash = await asyncio.to_thread(hash_password, password)
    if acting_for is not None and not await is_agent(
        session, person_id=person.id, legal_person_id=acting_for
    ):
        raise OAuthError("invalid_request", f"You are not an agent of legal person {acting_for}.")
    response = await _issue_person_tokens(
        session, manager, person=person, client=client, family=None, acting_for=acting_for
    )
    return response, account_key


async def refresh_grant(
    session: AsyncSession, manager: IdentityManager, client: ClientView, refresh_token: str
) -> TokenResponse:
    """Rotate: the old token is used up; reusing a used token revokes its whole family."""
    token_id, _, secret = refresh_token.partition(".")
    plausible = REFRESH_TOKEN_ID.fullmatch(token_id) is not None and bool(secret)
    row = await session.get(RefreshToken, token_id) if plausible else None
    if row is None or not hmac.compare_digest(row.secret_hash, secret_hash(secret)):
        raise OAuthError("invalid_grant", "Unknown refresh token.")
    if row.client_id != client.id:
        raise OAuthError("invalid_grant", "This refresh token was issued to another client.")
    now = datetime.now(UTC)
    if row.revoked_at is not None:
        raise OAuthError("invalid_grant", "This refresh token's session was revoked.")
    if row.used_at is not None:
        await _revoke_for_reuse(session, manager, row.family)
        raise OAuthError(
            "invalid_grant",
            "This refresh token was used already: the session is revoked. Log in again.",
        )
    if row.expires_at <= now:
        raise OAuthError("invalid_grant", "This refresh token has expired. Log in again.")
    # Mark it used with a guarded UPDATE: of two concurrent uses, exactly one wins.
    used = await session.execute(
        update(RefreshToken)
        .where(RefreshToken.id == row.id, RefreshToken.used_at.is_(None))
        .values(used_at=now)
    )
    if used.rowcount != 1:  # type: ignore[attr-defined]
        await _revoke_for_reuse(session, manager, row.family)
        raise OAuthError("invalid_grant", "This refresh token was used already: session revoked.")
    person = await session.get(Person, row.person_id)
    if person is None or person.status != "active":
        raise OAuthError("invalid_grant", "This account is disabled.")
    return await _issue_person_tokens(
        session,
        manager,
        person=person,
        client=client,
        family=row.family,
        acting_for=row.acting_for,
    )


async def _revoke_for_reuse(session: AsyncSession, manager: IdentityManager, family: str) -> None:
    """Revoke the family of a replayed refresh token, durably, although the request fails.

    The token endpoint answers the replay with an error, and an error rolls the request's
    transaction back: the revocation is committed here first (with whatever the request did
    before, which is only the lookup), then applied to this instance at once; the others follow
    the change feed.
    """
    await revoke_family(session, family)
    await session.commit()
    await manager.refresh()


async def revoke_family(session: AsyncSession, family: str) -> None:
    """Revoke every refresh token of a family and stop its access tokens on every instance."""
    await session.execute(
        update(RefreshToken)
        .where(RefreshToken.family == family, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=datetime.now(UTC))
    )
    await emit(session, EventKind.FAMILY_REVOKED, family)


async def token_exchange(
    session: AsyncSession,
    manager: IdentityManager,
    client: ClientView,
    *,
    subject_token: str,
    subject_token_type: str,
) -> tuple[TokenResponse, bool]:
    """A partner's ID token for a resident → a 湘易办 token for the same person (RFC 8693).

    The person is matched by ID number and created on the first visit (a new user). Each ID
    token is exchanged once (its issuer and jti are remembered in the database until it
    expires, so every instance agrees); the token's assurance is capped at the account's.
    """
    if client.kind != "partner" or not client.partner_jwks or not client.partner_issuer:
        raise OAuthError(
            "unauthorized_client", "Only partner apps with registered keys may exchange tokens."
        )
    if subject_token_type not in (ID_TOKEN_TYPE, JWT_TOKEN_TYPE):
        raise OAuthError(
            "invalid_request", f"subject_token_type must be {ID_TOKEN_TYPE} or {JWT_TOKEN_TYPE}."
        )
    try:
        claims = verify_partner_token(
            subject_token,
            jwks=client.partner_jwks,
            issuer=client.partner_issuer,
            audience=manager.settings.resolved_issuer,
            leeway_seconds=PARTNER_TOKEN_LEEWAY,
        )
    except InvalidToken as exc:
        raise OAuthError(
            "invalid_grant", f"The partner's token is not valid: {exc.reason}"
        ) from None
    except ValueError:
        # A key set stored before registration checked it: the partner's configuration, not
        # the resident's token, is wrong (and no 500 for it).
        raise OAuthError(
            "unauthorized_client", "This partner's registered keys are not a usable JWK Set."
        ) from None
    id_number = claims.get("id_number")
    if not isinstance(id_number, str):
        raise OAuthError("invalid_grant", "The partner's token carries no id_number claim.")
    from app.core.identifiers import validate_resident_id

    if validate_resident_id(id_number):
        raise OAuthError("invalid_grant", "The partner's token carries an invalid ID number.")
    if not await first_use(
        session,
        issuer=client.partner_issuer,
        jti=claims["jti"],
        until=claims["exp"] + PARTNER_TOKEN_LEEWAY,
    ):
        raise OAuthError(
            "invalid_grant",
            "This partner ID token was exchanged already: each is good for one exchange; sign"
            " in at the partner again.",
        )
    name = claims.get("name")
    person, created = await person_for_partner(
        session,
        manager.cipher,
        id_number=id_number,
        name=name if isinstance(name, str) else "",
        province=client.partner_province or "000000",
    )
    if person.status != "active":
        raise OAuthError("invalid_grant", "This account is disabled.")
    response = await _issue_person_tokens(
        session,
        manager,
        person=person,
        client=client,
        family=None,
        acting_for=None,
        with_refresh=False,
        # As strong as the partner's sign-in, and never stronger than the account itself: an
        # account registered here with a password holds a number checked only for its form, so
        # a partner's word about the number does not make a token for that account stronger.
        assurance=min(person.assurance, ASSURANCE_PARTNER),
    )
    return (
        TokenResponse(
            response.access_token, response.expires_in, issued_token_type=ACCESS_TOKEN_TYPE
        ),
        created,
    )


async def first_use(session: AsyncSession, *, issuer: str, jti: str, until: float) -> bool:
    """Record the exchange of the partner token (issuer, jti); False when it was recorded before.

    A unique insert, so that of two concurrent exchanges on any instances exactly one wins; the
    row is kept until the token could no longer be accepted (``until``, epoch seconds), and rows
    past that are removed on the way.
    """
    now = datetime.now(UTC)
    await session.execute(delete(PartnerTokenUse).where(PartnerTokenUse.expires_at < now))
    # A hash: the key has a fixed size and no character PostgreSQL refuses (a jti may hold NUL).
    key = hashlib.sha256(json.dumps([issuer, jti]).encode("ascii")).hexdigest()
    try:
        async with session.begin_nested():
            session.add(
                PartnerTokenUse(
                    token_key=key, expires_at=datetime.fromtimestamp(until, UTC), used_at=now
                )
            )
            await session.flush()
    except IntegrityError:
        return False
    return True


def id_number_of(cipher: DataCipher, person: Person) -> str:
    return person_id_number(cipher, person)
