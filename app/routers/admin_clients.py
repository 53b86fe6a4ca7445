"""Client applications, their grants and limits, and account administration (platform admin)."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import jwt
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from sqlalchemy import select

from app.core.deps import SessionDep, after_commit
from app.core.divisions import division as known_division
from app.core.errors import Conflict, NotFound, ValidationFailed
from app.core.openapi import problem_responses
from app.identity.accounts import lock_for_write, unprintable
from app.identity.callers import AdminDep, require_admin
from app.identity.events import EventKind, emit
from app.identity.oauth import new_secret, secret_hash
from app.identity.roles import ALL_ROLES, Role
from app.identity.state import IdentityManager
from app.models.identity import Client, Grant, Person
from app.routers.audited import audit_change

router = APIRouter(
    prefix="/admin",
    tags=["admin: clients"],
    dependencies=[Depends(require_admin)],
    responses=problem_responses(401, 403),
)

ClientId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{1,40}$")]
GrantId = Annotated[int, Path(ge=1, le=2**62)]
PersonId = Annotated[int, Path(ge=1, le=2**62)]


def _printable(value: str) -> str:
    reason = unprintable(value)
    if reason is not None:
        raise ValueError(reason)
    return value


# Text stored as given: no control characters (PostgreSQL refuses NUL in text and JSON).
Text = Annotated[str, AfterValidator(_printable)]


# What a partner's ID tokens may be signed with (app.identity.tokens checks the same): the JWK
# key type and curve of each algorithm, and the members of its public part.
_PARTNER_KEY_TYPES: dict[str, tuple[str | None, tuple[str, ...]]] = {
    "RSA": (None, ("kty", "n", "e")),
    "EC": ("P-256", ("kty", "crv", "x", "y")),
    "OKP": ("Ed25519", ("kty", "crv", "x")),
}
_MIN_RSA_BITS = 2048


# JWK members that hold private or secret key material (RFC 7518 §6.2.2, §6.3.2, §6.4.1).
_PRIVATE_MEMBERS = ("d", "p", "q", "dp", "dq", "qi", "oth", "k")
MAX_PARTNER_KEYS = 20


def _check_partner_key(entry: dict[str, Any]) -> str | None:
    """Why one JWK cannot verify a partner's ID tokens (None: it can). Values are never quoted:
    whatever an administrator pasted stays out of the answer."""
    kty = entry.get("kty")
    if kty not in _PARTNER_KEY_TYPES:
        return "kty must be RSA, EC (P-256) or OKP (Ed25519)"
    crv, members = _PARTNER_KEY_TYPES[kty]
    if crv is not None and entry.get("crv") != crv:
        return f"a {kty} key must be on the curve {crv}"
    if entry.get("use", "sig") != "sig":
        return "is not a signature key (use is not 'sig')"
    kid = entry.get("kid")
    if kid is not None and (not isinstance(kid, str) or not kid):
        return "kid must be a non-empty string"
    try:
        key = jwt.PyJWK({name: entry[name] for name in members if name in entry})
    except (jwt.PyJWTError, ValueError, TypeError, KeyError):
        return "cannot be read as a public key"
    if isinstance(key.key, RSAPublicKey) and key.key.key_size < _MIN_RSA_BITS:
        return f"an RSA key must have at least {_MIN_RSA_BITS} bits"
    return None


def check_partner_jwks(jwks: dict[str, Any]) -> None:
    """Refuse (422, every problem with its pointer) a partner key set that could never verify a
    token, or that carries private key material: that is refused, never stored."""
    base = "/body/partner/jwks"
    keys = jwks.get("keys")
    if not isinstance(keys, list) or not keys:
        problems = [
            {"pointer": base, "detail": "a JWK Set is an object with a non-empty list 'keys'"}
        ]
    elif len(keys) > MAX_PARTNER_KEYS:
        problems = [{"pointer": f"{base}/keys", "detail": f"at most {MAX_PARTNER_KEYS} keys"}]
    else:
        problems = []
        for index, entry in enumerate(keys):
            here = f"{base}/keys/{index}"
            if not isinstance(entry, dict):
                problems.append({"pointer": here, "detail": "is not a JSON object"})
                continue
            private = [name for name in _PRIVATE_MEMBERS if name in entry]
            problems += [
                {
                    "pointer": f"{here}/{name}",
                    "detail": f"'{name}' is private key material: register only the public"
                    " key (and treat this key as exposed: the partner should replace it)",
                }
                for name in private
            ]
            reason = None if private else _check_partner_key(entry)
            if reason is not None:
                problems.append({"pointer": here, "detail": reason})
        kids = [entry.get("kid") for entry in keys if isinstance(entry, dict)]
        if len(keys) > 1 and (None in kids or len(set(map(str, kids))) != len(kids)):
            problems.append(
                {"pointer": f"{base}/keys", "detail": "with several keys, each needs its own kid"}
            )
    if problems:
        raise ValidationFailed(
            f"{len(problems)} problem(s) with the partner's keys: none was stored.",
            errors=problems,
        )


class PartnerIn(BaseModel):
    """A partner app's identity provider (cross-province single sign-on)."""

    model_config = ConfigDict(extra="forbid")

    province: Literal["440000", "310000", "360000"]
    issuer: Text = Field(min_length=1, max_length=500)
    jwks: dict[str, Any] = Field(
        description="the partner's public keys (a JWK Set); private members are refused"
    )


class ClientIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Text = Field(min_length=1, max_length=200)
    kind: Literal["app", "partner", "integrator"]
    roles: list[str] = Field(default_factory=list, max_length=10)
    division: str | None = Field(default=None, pattern=r"^\d{6}$")
    rate_per_s: float | None = Field(default=None, gt=0, le=100_000)
    burst: int | None = Field(default=None, ge=1, le=1_000_000)
    partner: PartnerIn | None = None


class ClientPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Text | None = Field(default=None, min_length=1, max_length=200)
    roles: list[str] | None = Field(default=None, max_length=10)
    rate_per_s: float | None = Field(default=None, gt=0, le=100_000)
    burst: int | None = Field(default=None, ge=1, le=1_000_000)
    status: Literal["active", "disabled"] | None = None
    partner: PartnerIn | None = None


class GrantIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    division: str = Field(pattern=r"^\d{6}$")
    slug: str = Field(pattern=r"^[a-z0-9-]{2,40}$")
    operations: list[Annotated[Text, Field(min_length=1, max_length=200)]] | None = Field(
        default=None, max_length=1000, description="operationIds; omitted: every operation"
    )


class GrantOut(BaseModel):
    id: int
    division: str
    slug: str
    operations: list[str] | None


class ClientOut(BaseModel):
    client_id: str
    name: str
    kind: str
    roles: list[str]
    division: str | None
    rate_per_s: float
    burst: int
    status: str
    partner_province: str | None
    grants: list[GrantOut]
    created_at: datetime


class ClientCreated(ClientOut):
    client_secret: str = Field(description="shown once; stored hashed")


class PersonStatusIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: Literal["active", "disabled"]


def _manager(request: Request) -> IdentityManager:
    manager: IdentityManager = request.app.state.identity
    return manager


def _check_roles(roles: list[str], division: str | None) -> None:
    errors: list[dict[str, str]] = []
    for index, role in enumerate(roles):
        if role not in ALL_ROLES:
            errors.append(
                {
                    "pointer": f"/body/roles/{index}",
                    "detail": f"unknown role {role!r}; roles: {', '.join(sorted(ALL_ROLES))}",
                }
            )
    if Role.DIVISION_ADMIN.value in roles and division is None:
        errors.append(
            {"pointer": "/body/division", "detail": "a division admin needs its division"}
        )
    if division is not None and known_division(division) is None:
        errors.append(
            {"pointer": "/body/division", "detail": f"{division} is not a known division"}
        )
    if errors:
        raise ValidationFailed(f"{len(errors)} problem(s) with the client.", errors=errors)


async def _grants(session: SessionDep, client_id: str) -> list[Grant]:
    return list(
        (
            await session.scalars(
                select(Grant).where(Grant.client_id == client_id).order_by(Grant.id)
            )
        ).all()
    )


def _out(row: Client, grants: list[Grant]) -> ClientOut:
    return ClientOut(
        client_id=row.id,
        name=row.name,
        kind=row.kind,
        roles=list(row.roles),
        division=row.division,
        rate_per_s=row.rate_per_s,
        burst=row.burst,
        status=row.status,
        partner_province=row.partner_province,
        grants=[
            GrantOut(id=g.id, division=g.division, slug=g.slug, operations=g.operations)
            for g in grants
        ],
        created_at=row.created_at,
    )


async def _changed(session: SessionDep, request: Request, client_id: str) -> None:
    await emit(session, EventKind.CLIENT_CHANGED, client_id)
    after_commit(session, _manager(request).refresh)


def _partner_summary(partner: PartnerIn | None) -> dict[str, Any] | None:
    """A partner's identity provider without its keys: the province, issuer and key ids."""
    if partner is None:
        return None
    keys = partner.jwks.get("keys")
    kids = [k.get("kid") for k in keys if isinstance(k, dict)] if isinstance(keys, list) else []
    return {"province": partner.province, "issuer": partner.issuer, "kids": kids}


async def _load(session: SessionDep, client_id: str) -> Client:
    row = await session.get(Client, client_id)
    if row is None:
        raise NotFound(f"There is no client {client_id!r}.")
    return row


async def create_client_row(
    session: SessionDep,
    *,
    name: str,
    kind: str,
    roles: list[str],
    division: str | None,
    rate_per_s: float,
    burst: int,
    partner: PartnerIn | None,
) -> tuple[Client, str]:
    """A new client and its secret (returned once, stored hashed)."""
    _check_roles(roles, division)
    if partner is not None:
        check_partner_jwks(partner.jwks)
    if kind == "partner" and partner is None:
        raise ValidationFailed(
            "A partner client needs its identity provider.",
            errors=[{"pointer": "/body/partner", "detail": "province, issuer and jwks"}],
        )
    secret = new_secret()
    row = Client(
        id=f"cli_{secrets.token_hex(8)}",
        name=name,
        kind=kind,
        roles=sorted(set(roles)),
        division=division,
        secret_hash=secret_hash(secret),
        rate_per_s=rate_per_s,
        burst=burst,
        status="active",
        partner_province=partner.province if partner else None,
        partner_issuer=partner.issuer if partner else None,
        partner_jwks=partner.jwks if partner else None,
    )
    session.add(row)
    await session.flush()
    return row, secret


@router.post(
    "/clients",
    status_code=201,
    response_model=ClientCreated,
    responses=problem_responses(400, 413, 422),
)
async def create_client(
    body: ClientIn, session: SessionDep, request: Request, response: Response, caller: AdminDep
) -> ClientCreated:
    """A new client application; its secret is shown once."""
    settings = request.app.state.settings
    row, secret = await create_client_row(
        session,
        name=body.name,
        kind=body.kind,
        roles=body.roles,
        division=body.division,
        rate_per_s=body.rate_per_s or settings.default_client_rate,
        burst=body.burst or settings.default_client_burst,
        partner=body.partner,
    )
    await _changed(session, request, row.id)
    audit_change(
        request,
        session,
        caller,
        "client.create",
        f"client:{row.id}",
        {
            "name": row.name,
            "kind": row.kind,
            "roles": list(row.roles),
            "division": row.division,
            "rate_per_s": row.rate_per_s,
            "burst": row.burst,
            "partner": _partner_summary(body.partner),
        },
        row.division,
    )
    response.headers["Location"] = f"/admin/clients/{row.id}"
    return ClientCreated(**_out(row, []).model_dump(), client_secret=secret)


@router.get("/clients", response_model=list[ClientOut], responses=problem_responses(422))
async def list_clients(
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    after: Annotated[
        str,
        # Client ids only: anything else (a NUL byte, say) would reach the database's text.
        Query(pattern=r"^[A-Za-z0-9_-]{0,40}$", description="cursor: the last client_id"),
    ] = "",
) -> list[ClientOut]:
    """Client applications, by id."""
    rows = (
        await session.scalars(
            select(Client).where(Client.id > after).order_by(Client.id).limit(limit)
        )
    ).all()
    return [_out(row, await _grants(session, row.id)) for row in rows]


@router.get("/clients/{client_id}", response_model=ClientOut, responses=problem_responses(404, 422))
async def get_client(client_id: ClientId, session: SessionDep) -> ClientOut:
    """One client with its grants."""
    row = await _load(session, client_id)
    return _out(row, await _grants(session, client_id))


@router.patch(
    "/clients/{client_id}", response_model=ClientOut, responses=problem_responses(404, 413, 422)
)
async def update_client(
    client_id: ClientId, body: ClientPatch, session: SessionDep, request: Request, caller: AdminDep
) -> ClientOut:
    """Change a client's name, roles, rate limit, status or partner keys (applies within 2 s)."""
    if body.partner is not None:
        check_partner_jwks(body.partner.jwks)
    await lock_for_write(session)
    row = await _load(session, client_id)
    before = {
        "name": row.name,
        "roles": list(row.roles),
        "rate_per_s": row.rate_per_s,
        "burst": row.burst,
        "status": row.status,
        "partner_issuer": row.partner_issuer,
    }
    if body.roles is not None:
        _check_roles(body.roles, row.division)
        row.roles = sorted(set(body.roles))
    if body.name is not None:
        row.name = body.name
    if body.rate_per_s is not None:
        row.rate_per_s = body.rate_per_s
    if body.burst is not None:
        row.burst = body.burst
    if body.status is not None:
        row.status = body.status
    if body.partner is not None:
        row.partner_province = body.partner.province
        row.partner_issuer = body.partner.issuer
        row.partner_jwks = body.partner.jwks
    row.updated_at = datetime.now(UTC)
    await _changed(session, request, client_id)
    after = {
        "name": row.name,
        "roles": list(row.roles),
        "rate_per_s": row.rate_per_s,
        "burst": row.burst,
        "status": row.status,
        "partner_issuer": row.partner_issuer,
    }
    changed = {k: {"before": before[k], "after": v} for k, v in after.items() if before[k] != v}
    if body.partner is not None:
        changed["partner"] = {"before": None, "after": _partner_summary(body.partner)}
    action = "client.update"
    if "status" in changed:
        action = "client.disable" if row.status == "disabled" else "client.enable"
    audit_change(request, session, caller, action, f"client:{client_id}", {"changed": changed})
    return _out(row, await _grants(session, client_id))


@router.post(
    "/clients/{client_id}/secret",
    response_model=ClientCreated,
    responses=problem_responses(404, 422),
)
async def rotate_secret(
    client_id: ClientId, session: SessionDep, request: Request, caller: AdminDep
) -> ClientCreated:
    """A new secret for the client (shown once); the old one stops working."""
    await lock_for_write(session)
    row = await _load(session, client_id)
    secret = new_secret()
    row.secret_hash = secret_hash(secret)
    await _changed(session, request, client_id)
    # Only that it was reset: neither the secret nor its hash is recorded.
    audit_change(request, session, caller, "client.secret-reset", f"client:{client_id}", {})
    return ClientCreated(
        **_out(row, await _grants(session, client_id)).model_dump(), client_secret=secret
    )


async def create_grant(
    session: SessionDep,
    client_id: str,
    division: str,
    slug: str,
    operations: list[str] | None,
) -> Grant:
    """A new grant (404 for an unknown client, 422 for an unknown division, 409 for a second
    grant of the same service); the API and ``xyb clients grant`` both make grants here."""
    await lock_for_write(session)
    await _load(session, client_id)
    if known_division(division) is None:
        raise ValidationFailed(
            "Unknown division.",
            errors=[{"pointer": "/body/division", "detail": f"{division} is not known"}],
        )
    existing = await session.scalar(
        select(Grant).where(
            Grant.client_id == client_id, Grant.division == division, Grant.slug == slug
        )
    )
    if existing is not None:
        raise Conflict(
            f"The client already holds a grant for {division}/{slug} (id"
            f" {existing.id}); revoke it to change it.",
            extensions={"grant_id": existing.id},
        )
    grant = Grant(
        client_id=client_id,
        division=division,
        slug=slug,
        operations=sorted(set(operations)) if operations is not None else None,
    )
    session.add(grant)
    await session.flush()
    return grant


@router.post(
    "/clients/{client_id}/grants",
    status_code=201,
    response_model=GrantOut,
    responses=problem_responses(404, 409, 413, 422),
)
async def add_grant(
    client_id: ClientId, body: GrantIn, session: SessionDep, request: Request, caller: AdminDep
) -> GrantOut:
    """Grant a service, or some of its operations, to a client (applies within 2 s)."""
    grant = await create_grant(session, client_id, body.division, body.slug, body.operations)
    await _changed(session, request, client_id)
    audit_change(
        request,
        session,
        caller,
        "grant.give",
        f"client:{client_id}",
        {
            "grant_id": grant.id,
            "service": f"{grant.division}/{grant.slug}",
            "operations": grant.operations,
        },
        grant.division,
    )
    return GrantOut(
        id=grant.id, division=grant.division, slug=grant.slug, operations=grant.operations
    )


@router.delete(
    "/clients/{client_id}/grants/{grant_id}",
    status_code=204,
    responses=problem_responses(404, 422),
)
async def revoke_grant(
    client_id: ClientId, grant_id: GrantId, session: SessionDep, request: Request, caller: AdminDep
) -> Response:
    """Revoke a grant (applies within 2 s)."""
    await lock_for_write(session)
    grant = await session.get(Grant, grant_id)
    if grant is None or grant.client_id != client_id:
        raise NotFound(f"Client {client_id!r} has no grant {grant_id}.")
    revoked = {
        "grant_id": grant.id,
        "service": f"{grant.division}/{grant.slug}",
        "operations": grant.operations,
    }
    division = grant.division
    await session.delete(grant)
    await _changed(session, request, client_id)
    audit_change(request, session, caller, "grant.revoke", f"client:{client_id}", revoked, division)
    return Response(status_code=204)


@router.patch(
    "/persons/{person_id}",
    responses={200: {"description": "The new status"}, **problem_responses(404, 413, 422)},
)
async def set_person_status(
    person_id: PersonId,
    body: PersonStatusIn,
    session: SessionDep,
    request: Request,
    caller: AdminDep,
) -> dict[str, Any]:
    """Disable (or re-enable) a resident's account: its tokens stop on every instance within 2 s."""
    await lock_for_write(session)
    person = await session.get(Person, person_id)
    if person is None:
        raise NotFound(f"There is no person {person_id}.")
    if person.status != body.status:
        person.status = body.status
        person.disabled_at = datetime.now(UTC) if body.status == "disabled" else None
        kind = EventKind.PERSON_DISABLED if body.status == "disabled" else EventKind.PERSON_ENABLED
        await emit(session, kind, str(person_id))
        after_commit(session, _manager(request).refresh)
        action = "person.disable" if body.status == "disabled" else "person.enable"
        audit_change(
            request, session, caller, action, f"person:{person_id}", {"status": body.status}
        )
    return {"id": person.id, "status": person.status}
