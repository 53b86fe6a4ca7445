"""Helpers for the identity API tests: residents, clients, tokens, partner keys, stubbed cities.

Everything goes through the HTTP API (``client`` fixture), the way an app or an operator would.
"""

from __future__ import annotations

import base64
import itertools
import json
import secrets
import time
from datetime import date
from typing import Any

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi import FastAPI
from jwt.algorithms import ECAlgorithm

from app.core.identifiers import make_resident_id
from app.identity.state import IdentityManager
from app.simulators.enterprise import CONTRACT_CONSUMER_TOKEN
from tests.contract_stubs import CONTRACTS
from tests.contract_stubs import load as load_contract
from tests.log_guard import secret as log_secret

Json = dict[str, Any]
PROBLEM = "application/problem+json"
PASSWORD = "correct horse battery"
CHANGSHA_DOCUMENT = (CONTRACTS / "municipal" / "changsha.openapi.yaml").read_text(encoding="utf-8")
UPSTREAM = "http://127.0.0.1:9001"
# A contracted call of the 长沙 stub (contracts/municipal/changsha.contract.yaml).
FUND_ACCOUNT = "/gjj/accounts/430121199912124865"
FUND_OPERATION = "getFundAccount_430100"
ESTATE_OPERATION = "listEstateRecords_430100"
PARTNER_ISSUER = "https://sso.gdzwfw.gov.cn"
GATEWAY_ISSUER = "xyb-gateway"  # the default XYB_ISSUER: partners put it in their ID tokens' aud

# The enterprise register the identity tests consult (tests/identity/conftest.py stubs it), and
# the gateway's credential there: the consumer token its contract's interactions present.
REGISTER_URL = "http://enterprise-register.test"
REGISTER_CONTRACT = load_contract("registers/enterprise")
REGISTER_TOKEN = CONTRACT_CONSUMER_TOKEN

_serial = itertools.count(1)


def resident_id(address: str = "430102", born: date = date(1990, 5, 17)) -> str:
    """A valid GB 11643 number, different on each call."""
    n = next(_serial)
    return make_resident_id(address, born.replace(day=1 + n % 28), n % 1000)


def phone_number() -> str:
    """A valid mainland mobile number, different on each call."""
    return f"139{next(_serial) % 10**8:08d}"


def is_problem(response: httpx.Response, status: int) -> Json:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM), response.headers
    body: Json = response.json()
    assert body["status"] == status
    return body


def oauth_problem(response: httpx.Response, status: int, error: str) -> Json:
    """A token endpoint's error: application/json (RFC 6749 §5.2), also a problem document."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json", response.headers
    body: Json = response.json()
    assert body["status"] == status
    assert body["error"] == error, body
    assert body["error_description"], body
    assert response.headers["cache-control"] == "no-store"
    return body


def invalid_token(response: httpx.Response) -> Json:
    """A 401 telling the client its token is no good (RFC 6750 invalid_token): get a new one."""
    body = is_problem(response, 401)
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith("Bearer "), challenge
    assert 'error="invalid_token"' in challenge, challenge
    return body


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def identity(app: FastAPI) -> IdentityManager:
    manager = app.state.identity
    assert isinstance(manager, IdentityManager)
    return manager


async def register(
    client: httpx.AsyncClient,
    *,
    id_number: str | None = None,
    phone: str | None = None,
    password: str = PASSWORD,
    name: str = "张三",
) -> Json:
    """A registered resident: the answer plus the raw values it was registered with."""
    body = {
        "name": name,
        "id_number": id_number or resident_id(),
        "phone": phone or phone_number(),
        "password": log_secret(password),  # no log line may carry it (tests/log_guard.py)
    }
    response = await client.post("/identity/persons", json=body)
    assert response.status_code == 201, response.text
    return {**response.json(), "raw": body}


async def create_client(
    client: httpx.AsyncClient, admin_headers: dict[str, str], **fields: Any
) -> Json:
    """POST /admin/clients (default: the app itself); the answer includes the secret once."""
    body = {"name": "湘易办 app", "kind": "app", **fields}
    response = await client.post("/admin/clients", json=body, headers=admin_headers)
    assert response.status_code == 201, response.text
    created: Json = response.json()
    log_secret(created["client_secret"])
    return created


async def grant(
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    client_id: str,
    division: str = "430100",
    slug: str = "zwfw",
    operations: list[str] | None = None,
) -> Json:
    body: Json = {"division": division, "slug": slug}
    if operations is not None:
        body["operations"] = operations
    response = await client.post(
        f"/admin/clients/{client_id}/grants", json=body, headers=admin_headers
    )
    assert response.status_code == 201, response.text
    granted: Json = response.json()
    return granted


async def token_request(client: httpx.AsyncClient, app_client: Json, **form: str) -> httpx.Response:
    return await client.post(
        "/identity/token",
        data=form,
        auth=(app_client["client_id"], app_client["client_secret"]),
    )


async def login(
    client: httpx.AsyncClient,
    app_client: Json,
    username: str,
    password: str = PASSWORD,
    **extra: str,
) -> Json:
    """The password grant; the token answer."""
    response = await token_request(
        client, app_client, grant_type="password", username=username, password=password, **extra
    )
    assert response.status_code == 200, response.text
    issued: Json = response.json()
    return issued


async def client_token(client: httpx.AsyncClient, app_client: Json) -> str:
    response = await token_request(client, app_client, grant_type="client_credentials")
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


async def onboard_changsha(
    client: httpx.AsyncClient, admin_headers: dict[str, str], slug: str = "zwfw", **fields: Any
) -> Json:
    """长沙's service from its contract's OpenAPI document (the stubbed upstream answers it)."""
    if "upstream_auth" in fields:
        log_secret(fields["upstream_auth"]["value"])
    body = {
        "division": "430100",
        "slug": slug,
        "name": "长沙市政务服务",
        "upstream_url": UPSTREAM,
        "document": CHANGSHA_DOCUMENT,
        **fields,
    }
    response = await client.post("/admin/services", json=body, headers=admin_headers)
    assert response.status_code == 201, response.text
    service: Json = response.json()
    return service


def segments(token: str) -> tuple[Json, Json, str]:
    header, payload, signature = token.split(".")
    return _unb64json(header), _unb64json(payload), signature


def _unb64json(segment: str) -> Json:
    value: Json = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    return value


def b64json(value: object) -> str:
    raw = json.dumps(value, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


class Partner:
    """A partner province's identity provider (粤省事): an ES256 key generated in the test."""

    def __init__(self, issuer: str = PARTNER_ISSUER, kid: str = "gd-1") -> None:
        self.issuer = issuer
        self.kid = kid
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.jwks: Json = {
            "keys": [
                {
                    **ECAlgorithm.to_jwk(self.key.public_key(), as_dict=True),
                    "kid": kid,
                    "use": "sig",
                    "alg": "ES256",
                }
            ]
        }

    def public_pem(self) -> bytes:
        from cryptography.hazmat.primitives import serialization

        return self.key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def claims(self, id_number: str, /, **overrides: Any) -> Json:
        """The ID token's claims; an override of None drops the claim."""
        now = int(time.time())
        claims: Json = {
            "iss": self.issuer,
            "aud": GATEWAY_ISSUER,
            "sub": f"gd-{id_number[-6:]}",
            "iat": now,
            "exp": now + 300,
            "jti": secrets.token_urlsafe(12),  # each token exchanged once
            "id_number": id_number,
            "name": "李四",
            **overrides,
        }
        return {k: v for k, v in claims.items() if v is not None}

    def id_token(self, id_number: str, /, **overrides: Any) -> str:
        return jwt.encode(
            self.claims(id_number, **overrides),
            self.key,
            algorithm="ES256",
            headers={"kid": self.kid},
        )

    def body(self) -> Json:
        return {"province": "440000", "issuer": self.issuer, "jwks": self.jwks}


EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ID_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:id_token"


async def exchange(
    client: httpx.AsyncClient, partner_client: Json, subject_token: str
) -> httpx.Response:
    return await token_request(
        client,
        partner_client,
        grant_type=EXCHANGE,
        subject_token=subject_token,
        subject_token_type=ID_TOKEN_TYPE,
    )


def enterprise(interaction_id: str) -> Json:
    """The enterprise an interaction of the register's contract is about (its provider state):
    ``uscc``, ``name``, ``legal_representative``, ``legal_representative_id_number``, ``status``."""
    given = REGISTER_CONTRACT.interaction(interaction_id).given
    assert given is not None
    return dict(given.params)


async def representative_token(
    client: httpx.AsyncClient, app_client: Json, company: Json, **fields: Any
) -> tuple[Json, str]:
    """The legal representative of ``company`` registered as a resident, and their token."""
    person = await register(client, id_number=company["legal_representative_id_number"], **fields)
    issued = await login(client, app_client, person["raw"]["phone"])
    return person, issued["access_token"]


async def register_company(
    client: httpx.AsyncClient, token: str, uscc: str, **fields: Any
) -> httpx.Response:
    return await client.post(
        "/identity/legal-persons", json={"uscc": uscc, **fields}, headers=bearer(token)
    )
