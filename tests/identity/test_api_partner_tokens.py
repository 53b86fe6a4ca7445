"""Partner ID tokens at the token exchange: each is exchanged once, lives at most 10 minutes,
and makes a token no stronger than the account; a partner's key set with private key material
is refused at registration, and nothing of it is echoed."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models.identity import PartnerTokenUse, Person
from tests.identity.api_support import (
    Json,
    Partner,
    bearer,
    create_client,
    exchange,
    is_problem,
    oauth_problem,
    register,
    resident_id,
    segments,
)

YEAR_2500 = int(datetime(2500, 1, 1, tzinfo=UTC).timestamp())


@pytest.fixture
def partner() -> Partner:
    return Partner()


@pytest.fixture
async def partner_client(
    client: httpx.AsyncClient, admin_headers: dict[str, str], partner: Partner
) -> Json:
    return await create_client(
        client, admin_headers, name="粤省事", kind="partner", partner=partner.body()
    )


async def persons(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(Person)) or 0)


# --- replay --------------------------------------------------------------------------------------


async def test_a_partner_id_token_is_exchanged_once(
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    session: AsyncSession,
    partner: Partner,
    partner_client: Json,
) -> None:
    """The attack: the same ID token, exchanged twice, gave two access tokens."""
    token = partner.id_token(resident_id("440106"))
    first = await exchange(client, partner_client, token)
    assert first.status_code == 200, first.text
    replayed = await exchange(client, partner_client, token)
    body = oauth_problem(replayed, 400, "invalid_grant")
    assert "exchanged already" in body["detail"]
    # Another client of the same partner (its issuer) cannot exchange it either.
    twin = await create_client(
        client, admin_headers, name="粤省事 (2)", kind="partner", partner=partner.body()
    )
    oauth_problem(await exchange(client, twin, token), 400, "invalid_grant")
    # Remembered in the database (every instance and worker asks it) until the token expires.
    (use,) = (await session.scalars(select(PartnerTokenUse))).all()
    claims = segments(token)[1]
    assert use.expires_at == datetime.fromtimestamp(claims["exp"] + 60, UTC)
    assert claims["jti"] not in use.token_key


async def test_remembered_tokens_are_forgotten_once_expired(
    client: httpx.AsyncClient, session: AsyncSession, partner: Partner, partner_client: Json
) -> None:
    session.add(PartnerTokenUse(token_key="0" * 64, expires_at=datetime(2020, 1, 1, tzinfo=UTC)))
    await session.flush()
    response = await exchange(client, partner_client, partner.id_token(resident_id("440106")))
    assert response.status_code == 200, response.text
    keys = (await session.scalars(select(PartnerTokenUse.token_key))).all()
    assert "0" * 64 not in keys
    assert len(keys) == 1


# --- lifetime ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("claims", "reason"),
    [
        ({"exp": YEAR_2500}, "lives longer than 600 s"),
        ({"iat": "now - 5", "exp": "now + 596"}, "lives longer than 600 s"),
        ({"iat": None}, "missing claim: iat"),
        ({"jti": None}, "missing claim: jti"),
        ({"jti": 42}, "claim jti must be a string"),
        ({"jti": ""}, "claim jti must be a string"),
        ({"jti": "j" * 257}, "claim jti must be a string"),
    ],
    ids=["year-2500", "601-s", "no-iat", "no-jti", "numeric-jti", "empty-jti", "long-jti"],
)
async def test_partner_tokens_must_be_short_lived_and_identified(
    client: httpx.AsyncClient,
    session: AsyncSession,
    partner: Partner,
    partner_client: Json,
    claims: Json,
    reason: str,
) -> None:
    """The attack: an ID token with exp in the year 2500 was accepted."""
    before = await persons(session)
    now = int(time.time())
    # "now ± n": a time relative to the test's own clock.
    relative = {
        name: now + int(value.removeprefix("now ").replace(" ", ""))
        for name, value in claims.items()
        if isinstance(value, str) and value.startswith("now ")
    }
    token = partner.id_token(resident_id("440106"), **{**claims, **relative})
    body = oauth_problem(await exchange(client, partner_client, token), 400, "invalid_grant")
    assert reason in body["error_description"]
    assert await persons(session) == before


async def test_ten_minutes_is_accepted(
    client: httpx.AsyncClient, partner: Partner, partner_client: Json
) -> None:
    now = int(time.time())
    token = partner.id_token(resident_id("440106"), iat=now, exp=now + 600)
    assert (await exchange(client, partner_client, token)).status_code == 200


# --- assurance -----------------------------------------------------------------------------------


async def test_an_exchanged_token_is_no_stronger_than_the_account(
    client: httpx.AsyncClient, partner: Partner, partner_client: Json
) -> None:
    """The attack: a password account (assurance 1) got an acr 2 token through a partner."""
    person = await register(client)
    assert person["assurance"] == 1
    response = await exchange(client, partner_client, partner.id_token(person["raw"]["id_number"]))
    assert response.status_code == 200, response.text
    access = response.json()["access_token"]
    assert segments(access)[1]["acr"] == "1"
    me = (await client.get("/identity/me", headers=bearer(access))).json()
    assert (me["id"], me["assurance"]) == (person["id"], 1)
    # A resident whose account the partner created has the partner's assurance.
    newcomer = await exchange(client, partner_client, partner.id_token(resident_id("440106")))
    assert segments(newcomer.json()["access_token"])[1]["acr"] == "2"


# --- private key material in a partner's key set --------------------------------------------------


def _rsa_private_jwk() -> Json:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk: Json = RSAAlgorithm.to_jwk(key, as_dict=True)
    return {**jwk, "kid": "gd-rsa"}


PRIVATE_SETS: dict[str, Callable[[Partner], list[Json]]] = {
    "ec-d": lambda partner: [
        {**ECAlgorithm.to_jwk(partner.key, as_dict=True), "kid": "gd-1", "alg": "ES256"}
    ],
    "rsa-crt": lambda partner: [_rsa_private_jwk()],
    "second-key": lambda partner: [
        partner.jwks["keys"][0],
        {**ECAlgorithm.to_jwk(partner.key, as_dict=True), "kid": "gd-2"},
    ],
    "oct-k": lambda partner: [{"kty": "oct", "k": "c2VjcmV0LWtleS1tYXRlcmlhbA", "kid": "hs"}],
}
EXPECTED_POINTERS = {
    "ec-d": ["/body/partner/jwks/keys/0/d"],
    "rsa-crt": [f"/body/partner/jwks/keys/0/{m}" for m in ("d", "p", "q", "dp", "dq", "qi")],
    "second-key": ["/body/partner/jwks/keys/1/d"],
    "oct-k": ["/body/partner/jwks/keys/0/k"],
}


def _private_values(keys: list[Json]) -> list[str]:
    members = ("d", "p", "q", "dp", "dq", "qi", "k")
    return [str(key[m]) for key in keys for m in members if m in key]


@pytest.mark.parametrize("case", sorted(PRIVATE_SETS))
async def test_a_partner_key_set_with_private_members_is_refused_and_not_echoed(
    client: httpx.AsyncClient, admin_headers: dict[str, str], partner: Partner, case: str
) -> None:
    """The attack: a JWKS with the partner's private key was accepted and stored in clear."""
    keys = PRIVATE_SETS[case](partner)
    before = await client.get("/admin/clients", headers=admin_headers)
    response = await client.post(
        "/admin/clients",
        json={
            "name": "粤省事",
            "kind": "partner",
            "partner": {**partner.body(), "jwks": {"keys": keys}},
        },
        headers=admin_headers,
    )
    body = is_problem(response, 422)
    assert [e["pointer"] for e in body["errors"]] == EXPECTED_POINTERS[case]
    for value in _private_values(keys):
        assert value not in response.text
    after = await client.get("/admin/clients", headers=admin_headers)
    assert len(after.json()) == len(before.json())


async def test_patching_in_a_private_key_is_refused_and_the_keys_stay(
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    partner: Partner,
    partner_client: Json,
) -> None:
    leaked = {**ECAlgorithm.to_jwk(partner.key, as_dict=True), "kid": "gd-1"}
    response = await client.patch(
        f"/admin/clients/{partner_client['client_id']}",
        json={"partner": {**partner.body(), "jwks": {"keys": [leaked]}}},
        headers=admin_headers,
    )
    body = is_problem(response, 422)
    assert [e["pointer"] for e in body["errors"]] == ["/body/partner/jwks/keys/0/d"]
    assert str(leaked["d"]) not in response.text
    # The registered public key still verifies the partner's tokens.
    exchanged = await exchange(client, partner_client, partner.id_token(resident_id("440106")))
    assert exchanged.status_code == 200, exchanged.text


async def test_a_public_key_set_still_registers(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = {**RSAAlgorithm.to_jwk(key.public_key(), as_dict=True), "kid": "gd-rsa"}
    partner = Partner()
    created = await create_client(
        client,
        admin_headers,
        name="粤省事",
        kind="partner",
        partner={**partner.body(), "jwks": {"keys": [public, *partner.jwks["keys"]]}},
    )
    token = jwt.encode(
        Partner.claims(partner, resident_id("440106")),
        key,
        algorithm="RS256",
        headers={"kid": "gd-rsa"},
    )
    assert (await exchange(client, created, token)).status_code == 200
