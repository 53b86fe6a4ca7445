"""Access tokens, upstream assertions and partner ID tokens: issuing and offline verification.

- Access tokens are JWTs (RFC 9068 ``typ: at+jwt``) signed with the key ring's newest Ed25519 key,
  ``kid`` in the header. ``TokenVerifier`` checks them without I/O: the algorithm is pinned to
  EdDSA before any key is looked up (``alg: none`` and HMAC-with-the-public-key tokens never reach
  a verifier), the key comes only from the ring by ``kid`` (``jwk``/``jku``/``x5u`` headers are
  ignored), then signature, issuer, audience and times. Verified tokens are cached (LRU keyed by
  the token string); a hit re-checks the expiry and that the ring still holds the key.
- Assertions (``typ: xyb-assertion+jwt``) are what the gateway sends upstream: short-lived, the
  service as audience, the pairwise subject, and the ID number only when the caller passes it.
- Partner ID tokens (cross-province single sign-on) are verified against the partner's JWKS:
  RS256 (RSA >= 2048 bits), ES256 (P-256) or EdDSA (Ed25519) only, the key type matching ``alg``;
  ``iat``, ``exp`` and ``jti`` are required and ``exp - iat`` is at most 10 minutes.

Measured on the development machine (2 vCPUs, timeit, best of 5): signing an access token takes
about 48 us, verifying one cold about 124 us (116 us of it the Ed25519 signature check itself), a
cached verification about 0.9 us.

Revocation (disabled clients and persons, revoked refresh families) is the caller's check on the
returned claims: the cache only remembers that a signature was good.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import math
import re
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

import jwt
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

from app.identity.keys import ALGORITHM, KeyRing, SigningKey

__all__ = [
    "ACCESS_TOKEN_TYPE",
    "ASSERTION_TYPE",
    "AccessClaims",
    "InvalidToken",
    "TokenIssuer",
    "TokenVerifier",
    "issue_assertion",
    "verify_assertion",
    "verify_partner_token",
]

ACCESS_TOKEN_TYPE = "at+jwt"  # noqa: S105 - a media type, not a secret
ASSERTION_TYPE = "xyb-assertion+jwt"
Kind = Literal["person", "client"]
KeyLookup = Callable[[str], SigningKey | None]

_MAX_TOKEN = 8 * 1024  # our own tokens are about 500 characters
_MAX_PARTNER_TOKEN = 16 * 1024
_COMPACT = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
_ACR = re.compile(r"[0-9]{1,3}")
_ALG_NAME = re.compile(r"[A-Za-z0-9]{1,16}")
# alg -> (JWK kty, JWK crv) a partner key must have to be used with it.
_PARTNER_ALGORITHMS: dict[str, tuple[str, str | None]] = {
    "RS256": ("RSA", None),
    "ES256": ("EC", "P-256"),
    "EdDSA": ("OKP", "Ed25519"),
}
_PUBLIC_MEMBERS = {
    "RSA": ("kty", "n", "e"),
    "EC": ("kty", "crv", "x", "y"),
    "OKP": ("kty", "crv", "x"),
}
_MIN_RSA_BITS = 2048
# A partner's ID token is exchanged right after sign-in: it need not live long, and its (issuer,
# jti) is remembered until it expires so that it is exchanged once.
MAX_PARTNER_TOKEN_LIFETIME = 600
_MAX_JTI = 256
# Only the three asymmetric algorithms are even registered: HS*/none cannot be selected.
_PARTNER_JWS = jwt.PyJWS(algorithms=list(_PARTNER_ALGORITHMS))


class InvalidToken(Exception):
    """A refused token; ``reason`` says why (fixed ASCII text, safe in logs and headers)."""

    def __init__(self, reason: str) -> None:
        """Refuse with ``reason``."""
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class AccessClaims:
    """What a verified access token says about its caller."""

    subject: str
    client_id: str
    kind: Kind
    roles: tuple[str, ...]
    assurance: int
    family: str | None
    acting_for: str | None
    division: str | None
    issued_at: int
    expires_at: int
    token_id: str
    sealed_id_number: str | None = None


# ---------------------------------------------------------------------------------------------
# Compact JWS parsing and the registered claims, shared by every verifier here.


class _Parsed(NamedTuple):
    header: dict[str, Any]
    payload: bytes
    signing_input: bytes
    signature: bytes


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64url(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def _no_constants(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def _json_object(data: bytes) -> dict[str, Any]:
    try:
        value = json.loads(data, parse_constant=_no_constants)
    except (ValueError, RecursionError):
        raise InvalidToken("malformed token") from None
    if not isinstance(value, dict):
        raise InvalidToken("malformed token")
    return value


def _parse(token: object, max_length: int) -> _Parsed:
    if not isinstance(token, str) or len(token) > max_length or not _COMPACT.fullmatch(token):
        raise InvalidToken("malformed token")
    header_segment, payload_segment, signature_segment = token.split(".")
    try:
        header_bytes = _unb64url(header_segment)
        payload = _unb64url(payload_segment)
        signature = _unb64url(signature_segment)
    except (binascii.Error, ValueError):
        raise InvalidToken("malformed token") from None
    # The header and payload are signed as text; only the signature could be re-encoded.
    if _b64url(signature) != signature_segment:
        raise InvalidToken("malformed token")
    signing_input = token[: len(header_segment) + 1 + len(payload_segment)].encode("ascii")
    return _Parsed(_json_object(header_bytes), payload, signing_input, signature)


def _is_number(value: object) -> bool:
    return (isinstance(value, int) and not isinstance(value, bool)) or (
        isinstance(value, float) and math.isfinite(value)
    )


def _check_registered(
    claims: Mapping[str, Any],
    *,
    issuer: str,
    audience: str,
    now: float,
    leeway: float,
    required: Iterable[str],
) -> None:
    for name in required:
        if name not in claims:
            raise InvalidToken(f"missing claim: {name}")
    if claims.get("iss") != issuer:
        raise InvalidToken("wrong issuer")
    aud = claims.get("aud")
    if not (aud == audience or (isinstance(aud, list) and audience in aud)):
        raise InvalidToken("wrong audience")
    for name in ("exp", "nbf", "iat"):
        if name in claims and not _is_number(claims[name]):
            raise InvalidToken(f"claim {name} is not a number")
    if "exp" in claims and now >= claims["exp"] + leeway:
        raise InvalidToken("token expired")
    if "nbf" in claims and now < claims["nbf"] - leeway:
        raise InvalidToken("token not yet valid")
    if "iat" in claims and now < claims["iat"] - leeway:
        raise InvalidToken("token issued in the future")


def _algorithm_name(alg: object) -> str:
    # Reasons end up in logs and WWW-Authenticate headers: echo only a plain JOSE name.
    if isinstance(alg, str) and _ALG_NAME.fullmatch(alg):
        return f"algorithm {alg}"
    return "the algorithm"


def _typ_is(header: Mapping[str, Any], expected: str) -> bool:
    # RFC 7515 §4.1.9: media types compare case-insensitively, "application/" may be left out.
    typ = header.get("typ")
    if not isinstance(typ, str):
        return False
    typ = typ.lower()
    return typ == expected or typ == "application/" + expected


def _verify_own(token: object, keys: KeyLookup, *, typ: str) -> tuple[dict[str, Any], SigningKey]:
    """Header checks and the signature of one of our own tokens; the payload and the key."""
    parsed = _parse(token, _MAX_TOKEN)
    header = parsed.header
    alg = header.get("alg")
    if alg != ALGORITHM:
        raise InvalidToken(f"{_algorithm_name(alg)} is not accepted (only {ALGORITHM})")
    if not _typ_is(header, typ):
        raise InvalidToken(f"wrong token type (typ): expected {typ}")
    if "crit" in header:
        raise InvalidToken("unsupported critical header parameters")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise InvalidToken("no key id (kid)")
    key = keys(kid)
    if key is None:
        raise InvalidToken("unknown key id")
    try:
        key.public_key.verify(parsed.signature, parsed.signing_input)
    except InvalidSignature:
        raise InvalidToken("bad signature") from None
    return _json_object(parsed.payload), key


def _sign(key: SigningKey, typ: str, payload: dict[str, Any]) -> str:
    if key.private_key is None:
        raise LookupError(f"key {key.kid} has no private key to sign with")
    return jwt.encode(
        payload, key.private_key, algorithm=ALGORITHM, headers={"kid": key.kid, "typ": typ}
    )


def _now(now: float | None) -> float:
    return time.time() if now is None else now


# ---------------------------------------------------------------------------------------------
# Access tokens.


class TokenIssuer:
    """Signs access tokens with the key ring's newest key (build a new issuer on rotation)."""

    __slots__ = ("_audience", "_issuer", "_key", "_ttl")

    def __init__(
        self, keyring: KeyRing, *, issuer: str, audience: str, ttl_seconds: int = 900
    ) -> None:
        """An issuer of tokens for ``audience`` living ``ttl_seconds`` (LookupError: no key)."""
        if ttl_seconds <= 0:
            raise ValueError("ttl_seconds must be positive")
        self._key = keyring.signing_key
        self._issuer = issuer
        self._audience = audience
        self._ttl = int(ttl_seconds)

    def issue(
        self,
        *,
        subject: str,
        client_id: str,
        kind: Kind,
        roles: Iterable[str],
        assurance: int,
        family: str | None = None,
        acting_for: str | None = None,
        division: str | None = None,
        sealed_id_number: str | None = None,
        scope: str | None = None,
        now: float | None = None,
    ) -> tuple[str, AccessClaims]:
        """A signed access token and its claims (a client's subject is ``c:<client_id>``).

        ``scope`` is the granted scope (RFC 9068 §2.2.3), written as the ``scope`` claim.
        """
        role_tuple = tuple(roles)
        _check_issue(subject, client_id, kind, role_tuple, assurance, family, acting_for)
        if sealed_id_number is not None and (kind != "person" or not sealed_id_number):
            raise ValueError("only a person's token carries a (non-empty) sealed ID number")
        if scope is not None and not scope:
            raise ValueError("a granted scope is not empty (leave it out instead)")
        issued_at = int(_now(now))
        claims = AccessClaims(
            subject=subject,
            client_id=client_id,
            kind=kind,
            roles=role_tuple,
            assurance=assurance,
            family=family,
            acting_for=acting_for,
            division=division,
            issued_at=issued_at,
            expires_at=issued_at + self._ttl,
            token_id=secrets.token_urlsafe(16),
            sealed_id_number=sealed_id_number,
        )
        payload: dict[str, Any] = {
            "iss": self._issuer,
            "sub": subject,
            "aud": self._audience,
            "iat": issued_at,
            "nbf": issued_at,
            "exp": claims.expires_at,
            "jti": claims.token_id,
            "client_id": client_id,
            "roles": list(role_tuple),
            "acr": str(assurance),
        }
        if scope is not None:
            payload["scope"] = scope
        if family is not None:
            payload["fam"] = family
        if acting_for is not None:
            # Not RFC 8693 "act": that names the actor, while this names the party acted for.
            payload["acting_for"] = acting_for
        if division is not None:
            payload["division"] = division
        if sealed_id_number is not None:
            # Ciphertext from DataCipher.encrypt: opaque to the token's holder, opened by the
            # gateway only for services allowed to see the ID number.
            payload["sealed_id_number"] = sealed_id_number
        return _sign(self._key, ACCESS_TOKEN_TYPE, payload), claims


def _check_issue(
    subject: str,
    client_id: str,
    kind: str,
    roles: tuple[str, ...],
    assurance: int,
    family: str | None,
    acting_for: str | None,
) -> None:
    if not subject or not client_id:
        raise ValueError("a token needs a subject and a client_id")
    if not all(isinstance(role, str) and role for role in roles):
        raise ValueError("roles must be non-empty strings")
    if isinstance(assurance, bool) or not isinstance(assurance, int) or not 0 <= assurance < 1000:
        raise ValueError("assurance must be an integer from 0")
    if kind == "client":
        if subject != f"c:{client_id}":
            raise ValueError("a client token's subject must be 'c:<client_id>'")
        if assurance != 0 or family is not None or acting_for is not None:
            raise ValueError("a client token has assurance 0, no family and acts for nobody")
    elif kind == "person":
        if subject.startswith("c:"):
            raise ValueError("'c:' subjects are clients; a person's subject is e.g. 'p:123'")
    else:
        raise ValueError(f"kind must be 'person' or 'client', not {kind!r}")


def _optional_str(payload: Mapping[str, Any], name: str) -> str | None:
    value = payload.get(name)
    if value is None or (isinstance(value, str) and value):
        return value
    raise InvalidToken(f"claim {name} is malformed")


def _access_claims(payload: Mapping[str, Any]) -> AccessClaims:
    subject, client_id, token_id = payload["sub"], payload["client_id"], payload["jti"]
    roles, acr = payload["roles"], payload["acr"]
    if not all(isinstance(value, str) and value for value in (subject, client_id, token_id)):
        raise InvalidToken("claims sub, client_id and jti must be strings")
    if not isinstance(roles, list) or not all(isinstance(role, str) for role in roles):
        raise InvalidToken("claim roles must be a list of strings")
    if not isinstance(acr, str) or not _ACR.fullmatch(acr):
        raise InvalidToken("claim acr must be an assurance level")
    issued_at, expires_at = payload["iat"], payload["exp"]
    if not isinstance(issued_at, int) or not isinstance(expires_at, int):
        raise InvalidToken("claims iat and exp must be integers")
    kind: Kind = "client" if subject.startswith("c:") else "person"
    if kind == "client" and subject != f"c:{client_id}":
        raise InvalidToken("a client token's subject is not its client")
    return AccessClaims(
        subject=subject,
        client_id=client_id,
        kind=kind,
        roles=tuple(roles),
        assurance=int(acr),
        family=_optional_str(payload, "fam"),
        acting_for=_optional_str(payload, "acting_for"),
        division=_optional_str(payload, "division"),
        issued_at=issued_at,
        expires_at=expires_at,
        token_id=token_id,
        sealed_id_number=_optional_str(payload, "sealed_id_number"),
    )


_ACCESS_REQUIRED = ("iss", "sub", "aud", "exp", "iat", "nbf", "jti", "client_id", "roles", "acr")


class _Cached(NamedTuple):
    claims: AccessClaims
    not_before: int
    kid: str
    x: str


class TokenVerifier:
    """Offline verification of access tokens, with an LRU of verified tokens."""

    __slots__ = ("_audience", "_cache", "_cache_size", "_issuer", "_keys", "_leeway")

    def __init__(
        self,
        keys: KeyLookup,
        *,
        issuer: str,
        audience: str,
        leeway_seconds: int = 30,
        cache_size: int = 10_000,
    ) -> None:
        """A verifier taking keys from ``keys`` (e.g. the current ring's ``get``)."""
        if leeway_seconds < 0 or cache_size < 0:
            raise ValueError("leeway_seconds and cache_size cannot be negative")
        self._keys = keys
        self._issuer = issuer
        self._audience = audience
        self._leeway = leeway_seconds
        self._cache_size = cache_size
        self._cache: OrderedDict[str, _Cached] = OrderedDict()

    def verify(self, token: str, *, now: float | None = None) -> AccessClaims:
        """The claims of a valid access token; InvalidToken saying why otherwise."""
        if not isinstance(token, str):
            raise InvalidToken("malformed token")
        moment = _now(now)
        hit = self._cache.get(token) if self._cache_size else None
        if hit is not None:
            key = self._keys(hit.kid)
            if key is not None and key.public_jwk.get("x") == hit.x:
                if moment >= hit.claims.expires_at + self._leeway:
                    self._cache.pop(token, None)
                    raise InvalidToken("token expired")
                if moment < hit.not_before - self._leeway:
                    raise InvalidToken("token not yet valid")
                with contextlib.suppress(KeyError):  # evicted meanwhile by another thread
                    self._cache.move_to_end(token)
                return hit.claims
            self._cache.pop(token, None)  # the key left the ring (or changed): verify afresh
        payload, key = _verify_own(token, self._keys, typ=ACCESS_TOKEN_TYPE)
        _check_registered(
            payload,
            issuer=self._issuer,
            audience=self._audience,
            now=moment,
            leeway=self._leeway,
            required=_ACCESS_REQUIRED,
        )
        claims = _access_claims(payload)
        if self._cache_size:
            nbf = payload["nbf"]
            self._cache[token] = _Cached(claims, int(nbf), key.kid, key.public_jwk["x"])
            while len(self._cache) > self._cache_size:
                try:
                    self._cache.popitem(last=False)
                except KeyError:  # pragma: no cover - emptied by another thread
                    break
        return claims


# ---------------------------------------------------------------------------------------------
# Assertions sent upstream.

_ASSERTION_REQUIRED = ("iss", "sub", "aud", "exp", "iat", "jti", "client_id")


def issue_assertion(
    keyring: KeyRing,
    *,
    issuer: str,
    audience: str,
    subject: str,
    client_id: str,
    id_number: str | None,
    ttl_seconds: int = 60,
    now: float | None = None,
) -> str:
    """A short-lived signed assertion for the service ``audience`` (e.g. ``430100/zwfw``)."""
    if not subject or not client_id or not audience:
        raise ValueError("an assertion needs a subject, a client_id and an audience")
    if ttl_seconds <= 0:
        raise ValueError("ttl_seconds must be positive")
    issued_at = int(_now(now))
    payload: dict[str, Any] = {
        "iss": issuer,
        "sub": subject,
        "aud": audience,
        "iat": issued_at,
        "nbf": issued_at,
        "exp": issued_at + int(ttl_seconds),
        "jti": secrets.token_urlsafe(16),
        "client_id": client_id,
    }
    if id_number is not None:
        payload["id_number"] = id_number
    return _sign(keyring.signing_key, ASSERTION_TYPE, payload)


def verify_assertion(
    token: str,
    keys: KeyLookup,
    *,
    issuer: str,
    audience: str,
    now: float | None = None,
    leeway_seconds: int = 30,
) -> dict[str, Any]:
    """The claims of a gateway assertion (for upstreams and tests); InvalidToken otherwise."""
    payload, _ = _verify_own(token, keys, typ=ASSERTION_TYPE)
    _check_registered(
        payload,
        issuer=issuer,
        audience=audience,
        now=_now(now),
        leeway=leeway_seconds,
        required=_ASSERTION_REQUIRED,
    )
    return payload


# ---------------------------------------------------------------------------------------------
# Partner ID tokens (token exchange).


def _partner_jwk(jwks: Mapping[str, Any], kid: object) -> Mapping[str, Any]:
    entries = jwks.get("keys")
    if not isinstance(entries, list) or not all(isinstance(entry, Mapping) for entry in entries):
        raise ValueError("the partner's JWKS must be an object with a list of keys")
    if kid is None:
        if len(entries) != 1:
            raise InvalidToken("the token has no kid and the partner has several keys")
        return entries[0]  # type: ignore[no-any-return]
    if not isinstance(kid, str):
        raise InvalidToken("malformed token")
    matches = [entry for entry in entries if entry.get("kid") == kid]
    if not matches:
        raise InvalidToken("unknown key id")
    if len(matches) > 1:
        raise InvalidToken("the partner's key id is ambiguous")
    return matches[0]  # type: ignore[no-any-return]


def _partner_key(jwk: Mapping[str, Any], alg: str) -> jwt.PyJWK:
    kty, crv = _PARTNER_ALGORITHMS[alg]
    if jwk.get("kty") != kty or (crv is not None and jwk.get("crv") != crv):
        raise InvalidToken(f"the partner's key does not match algorithm {alg}")
    if jwk.get("alg", alg) != alg:
        raise InvalidToken(f"the partner's key is not for {alg}")
    if jwk.get("use", "sig") != "sig":
        raise InvalidToken("the partner's key is not a signature key")
    # Only the public members: a JWKS that leaks a private part must not make a signing key.
    public = {name: jwk[name] for name in _PUBLIC_MEMBERS[kty] if name in jwk}
    try:
        key = jwt.PyJWK(public, algorithm=alg)
    except (jwt.PyJWTError, ValueError, TypeError):
        raise InvalidToken("the partner's key cannot be read") from None
    if isinstance(key.key, RSAPublicKey) and key.key.key_size < _MIN_RSA_BITS:
        raise InvalidToken(f"the partner's RSA key is shorter than {_MIN_RSA_BITS} bits")
    return key


def verify_partner_token(
    token: str,
    *,
    jwks: Mapping[str, Any],
    issuer: str,
    audience: str,
    now: float | None = None,
    leeway_seconds: int = 60,
    max_lifetime_seconds: int = MAX_PARTNER_TOKEN_LIFETIME,
) -> dict[str, Any]:
    """The claims of a partner's ID token checked against its JWKS; InvalidToken otherwise.

    ``iat``, ``exp`` and ``jti`` are required and the token may live at most
    ``max_lifetime_seconds`` (``exp - iat``): a token valid for centuries is refused. That a
    ``jti`` is used once is the caller's check (it needs shared storage).
    """
    parsed = _parse(token, _MAX_PARTNER_TOKEN)
    alg = parsed.header.get("alg")
    if not isinstance(alg, str) or alg not in _PARTNER_ALGORITHMS:
        raise InvalidToken(f"{_algorithm_name(alg)} is not accepted (only RS256, ES256, EdDSA)")
    if _typ_is(parsed.header, ACCESS_TOKEN_TYPE):
        raise InvalidToken("an access token is not an ID token")
    key = _partner_key(_partner_jwk(jwks, parsed.header.get("kid")), alg)
    try:
        _PARTNER_JWS.decode_complete(token, key, algorithms=[alg])
    except jwt.InvalidSignatureError:
        raise InvalidToken("bad signature") from None
    except jwt.PyJWTError:
        raise InvalidToken("malformed token") from None
    payload = _json_object(parsed.payload)
    _check_registered(
        payload,
        issuer=issuer,
        audience=audience,
        now=_now(now),
        leeway=leeway_seconds,
        required=("exp", "iat", "jti"),
    )
    jti = payload["jti"]
    if not isinstance(jti, str) or not 1 <= len(jti) <= _MAX_JTI:
        raise InvalidToken(f"claim jti must be a string of 1 to {_MAX_JTI} characters")
    if payload["exp"] - payload["iat"] > max_lifetime_seconds:
        raise InvalidToken(f"the token lives longer than {max_lifetime_seconds} s (exp - iat)")
    return payload
