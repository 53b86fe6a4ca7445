"""What the three partner simulators (粤省事, 随申办, 赣服通) share: who has a history in each
province, the partners' signing keys and ID tokens (inbound single sign-on), and the user-bound
credentials they mint for the gateway (outbound single sign-on).

The residents are ordinary Hunan residents of the city simulators who once worked in the partner's
province: about one in twenty per partner, chosen by a hash of the partner and the ID number, so
every simulator and every test agrees without sharing state.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import random
import secrets
import time
from dataclasses import dataclass
from datetime import date
from functools import cache
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from app.simulators.city.data import Resident, city_data, prefectures


@dataclass(frozen=True, slots=True)
class Partner:
    code: str  # GB/T 2260 province code
    app: str  # the partner's app
    province: str
    provider: str  # the contract's provider name
    issuer: str  # the `iss` of its ID tokens


PARTNERS: dict[str, Partner] = {
    "440000": Partner("440000", "粤省事", "广东省", "guangdong", "https://ysx.gd.gov.cn.sim"),
    "310000": Partner("310000", "随申办", "上海市", "shanghai", "https://zwdt.sh.gov.cn.sim"),
    "360000": Partner("360000", "赣服通", "江西省", "jiangxi", "https://gft.jiangxi.gov.cn.sim"),
}
# One resident in this many has a history in a given partner's province.
SHARE = 20
# How long a user-bound credential (outbound single sign-on) lives.
CREDENTIAL_TTL_S = 600
ID_TOKEN_TTL_S = 300


def partner(code: str) -> Partner:
    try:
        return PARTNERS[code]
    except KeyError:
        raise ValueError(f"{code} is not an alliance partner ({', '.join(PARTNERS)})") from None


@dataclass(frozen=True, slots=True)
class AllianceResident:
    """A Hunan resident who worked in the partner's province from ``since`` to ``until``."""

    resident: Resident
    partner: str
    since: date  # first month worked there
    until: date  # last month worked there (before they came back to Hunan)
    city: str  # the partner-province city they worked in
    base: int  # monthly contribution base there (yuan)

    @property
    def id_number(self) -> str:
        return self.resident.id_number

    @property
    def name(self) -> str:
        return self.resident.name


_CITIES = {
    "440000": ("广州市", "深圳市", "东莞市", "佛山市"),
    "310000": ("上海市",),
    "360000": ("南昌市", "赣州市", "九江市"),
}


def _digest(*parts: str) -> bytes:
    return hashlib.sha256("\x00".join(parts).encode("utf-8")).digest()


@cache
def alliance_residents(partner_code: str, seed: int = 1) -> tuple[AllianceResident, ...]:
    """The Hunan residents with a history in ``partner_code``'s province, by ID number order."""
    partner(partner_code)
    found: list[AllianceResident] = []
    for city in prefectures():
        for resident in city_data(city.code).residents.values():
            mark = _digest(str(seed), partner_code, resident.id_number)
            if int.from_bytes(mark[:4], "big") % SHARE:
                continue
            rng = random.Random(mark)  # noqa: S311 - simulated data, not security
            adult = resident.birth_date.year + 18
            first_year = max(adult, rng.randint(2008, 2018))
            if first_year > 2020:
                continue  # too young to have worked there before coming back
            since = date(first_year, rng.randint(1, 12), 1)
            months = rng.randint(18, 96)
            end_index = since.year * 12 + since.month - 1 + months
            until = date(min(end_index // 12, 2022), end_index % 12 + 1, 1)
            if until <= since:
                continue
            found.append(
                AllianceResident(
                    resident,
                    partner_code,
                    since,
                    until,
                    rng.choice(_CITIES[partner_code]),
                    rng.randrange(4000, 20001, 100),
                )
            )
    return tuple(sorted(found, key=lambda r: r.id_number))


# -- keys and ID tokens (inbound single sign-on) --------------------------------------------


@cache
def partner_key(partner_code: str, seed: int = 1) -> Ed25519PrivateKey:
    """The partner's Ed25519 signing key: deterministic per seed, so the demo and the tests can
    register its public key with the gateway without asking a running simulator."""
    partner(partner_code)
    return Ed25519PrivateKey.from_private_bytes(_digest("alliance-key", str(seed), partner_code))


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def partner_kid(partner_code: str, seed: int = 1) -> str:
    public = (
        partner_key(partner_code, seed).public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    )
    return _b64(hashlib.sha256(public).digest()[:12])


def partner_jwks(partner_code: str, seed: int = 1) -> dict[str, list[dict[str, str]]]:
    """The partner's public JWK Set (what a gateway registers for its token exchange)."""
    public = (
        partner_key(partner_code, seed).public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    )
    jwk = {
        "kty": "OKP",
        "crv": "Ed25519",
        "x": _b64(public),
        "kid": partner_kid(partner_code, seed),
        "alg": "EdDSA",
        "use": "sig",
    }
    return {"keys": [jwk]}


def issue_id_token(
    partner_code: str,
    resident: AllianceResident | Resident,
    audience: str,
    *,
    now: float | None = None,
    ttl: int = ID_TOKEN_TTL_S,
    seed: int = 1,
) -> str:
    """The partner's ID token for its signed-in resident, for the gateway ``audience`` (its
    issuer): what the partner app hands 湘易办 when the resident opens a 湘易办 service."""
    person = resident.resident if isinstance(resident, AllianceResident) else resident
    return id_token_for(
        partner_code, person.id_number, person.name, audience, now=now, ttl=ttl, seed=seed
    )


def id_token_for(
    partner_code: str,
    id_number: str,
    name: str,
    audience: str,
    *,
    now: float | None = None,
    ttl: int = ID_TOKEN_TTL_S,
    seed: int = 1,
) -> str:
    """The partner's ID token for the person ``id_number`` its app signed in."""
    at = int(time.time() if now is None else now)
    claims: dict[str, Any] = {
        "iss": partner(partner_code).issuer,
        "aud": audience,
        "sub": _b64(_digest("sub", partner_code, id_number)[:16]),
        "iat": at,
        "exp": at + ttl,
        "jti": secrets.token_urlsafe(16),
        "id_number": id_number,
        "name": name,
        "acr": "2",
    }
    return jwt.encode(
        claims,
        partner_key(partner_code, seed),
        algorithm="EdDSA",
        headers={"kid": partner_kid(partner_code, seed), "typ": "JWT"},
    )


# -- user-bound credentials (outbound single sign-on) ---------------------------------------


def _credential_key(partner_code: str, seed: int) -> bytes:
    return _digest("alliance-credential", str(seed), partner_code)


def mint_user_credential(
    partner_code: str, id_number: str, *, now: float | None = None, seed: int = 1
) -> tuple[str, int]:
    """A credential of the partner for one user (and its expiry, epoch seconds): what a partner's
    token endpoint gives the gateway for a 湘易办 user, so the user never signs in twice and the
    gateway never forwards its own token. ``<partner>.<payload>.<mac>``, opaque to callers."""
    expires = int(time.time() if now is None else now) + CREDENTIAL_TTL_S
    payload = _b64(
        json.dumps(
            {"p": partner_code, "u": id_number, "e": expires, "n": secrets.token_hex(4)},
            separators=(",", ":"),
        ).encode("utf-8")
    )
    mac = _b64(hmac.new(_credential_key(partner_code, seed), payload.encode(), "sha256").digest())
    return f"{partner(partner_code).provider}.{payload}.{mac}", expires


class CredentialRefused(ValueError):
    """Why a presented credential is not good at this partner (a short fixed reason)."""


def check_user_credential(
    partner_code: str, credential: str | None, *, now: float | None = None, seed: int = 1
) -> str:
    """The ID number a credential of this partner is bound to; :class:`CredentialRefused` for a
    missing, foreign (another partner's, a 湘易办 access token), altered or expired one."""
    if not credential:
        raise CredentialRefused("no credential")
    parts = credential.split(".")
    if len(parts) != 3:
        raise CredentialRefused("not a credential of this partner")
    provider, payload, mac = parts
    if provider != partner(partner_code).provider:
        raise CredentialRefused("not a credential of this partner")
    expected = _b64(
        hmac.new(_credential_key(partner_code, seed), payload.encode(), "sha256").digest()
    )
    if not hmac.compare_digest(mac, expected):
        raise CredentialRefused("credential altered")
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except ValueError:
        raise CredentialRefused("credential altered") from None
    if not isinstance(claims, dict) or claims.get("p") != partner_code:
        raise CredentialRefused("not a credential of this partner")
    expires = claims.get("e")
    if not isinstance(expires, int) or expires <= int(time.time() if now is None else now):
        raise CredentialRefused("credential expired")
    user = claims.get("u")
    if not isinstance(user, str):
        raise CredentialRefused("credential altered")
    return user
