"""Access tokens, assertions and partner ID tokens: issuing, verifying, and every refusal."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

from app.identity import tokens
from app.identity.crypto import DataCipher
from app.identity.keys import KeyRing, SigningKey, generate_key, public_key_from_jwk
from app.identity.tokens import (
    AccessClaims,
    InvalidToken,
    TokenIssuer,
    TokenVerifier,
    issue_assertion,
    verify_assertion,
    verify_partner_token,
)

ISSUER = "https://xyb.hunan.gov.cn"
AUDIENCE = "xyb-gateway"
NOW = 1_790_000_000.0
T0 = datetime(2026, 1, 1, tzinfo=UTC)

Json = dict[str, Any]


# --- helpers ---------------------------------------------------------------------------------


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64json(value: object) -> str:
    return b64(json.dumps(value, separators=(",", ":")).encode())


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def parts(token: str) -> tuple[Json, Json, str]:
    header, payload, signature = token.split(".")
    return json.loads(unb64(header)), json.loads(unb64(payload)), signature


def forge(header: Json, payload: Json | bytes, sign: Callable[[bytes], bytes]) -> str:
    """A compact JWS with exactly this header, payload and signer."""
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    signing_input = f"{b64json(header)}.{b64(body)}"
    return f"{signing_input}.{b64(sign(signing_input.encode()))}"


def ed_signer(key: SigningKey | Ed25519PrivateKey) -> Callable[[bytes], bytes]:
    private = key.private_key if isinstance(key, SigningKey) else key
    assert private is not None
    return private.sign


def hmac_signer(secret: bytes, digest: str = "sha256") -> Callable[[bytes], bytes]:
    return lambda data: hmac.new(secret, data, getattr(hashlib, digest)).digest()


def rsa_signer(key: rsa.RSAPrivateKey) -> Callable[[bytes], bytes]:
    return lambda data: key.sign(data, padding.PKCS1v15(), hashes.SHA256())


def ec_signer(key: ec.EllipticCurvePrivateKey) -> Callable[[bytes], bytes]:
    def sign(data: bytes) -> bytes:
        r, s = decode_dss_signature(key.sign(data, ec.ECDSA(hashes.SHA256())))
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")

    return sign


def resign(token: str, key: SigningKey, *, header: Json | None = None, **claims: Any) -> str:
    """``token`` with its header/claims changed, signed again with ``key``."""
    old_header, payload, _ = parts(token)
    payload.update(claims)
    for name, value in list(payload.items()):
        if value is _DROP:
            del payload[name]
    return forge(header if header is not None else old_header, payload, ed_signer(key))


_DROP: Any = object()


def refused(verify: Callable[[], object], fragment: str) -> InvalidToken:
    with pytest.raises(InvalidToken) as info:
        verify()
    assert fragment in info.value.reason, info.value.reason
    assert str(info.value) == info.value.reason
    return info.value


# --- fixtures --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def key() -> SigningKey:
    return generate_key(T0)


@pytest.fixture(scope="module")
def other_key() -> SigningKey:
    return generate_key(T0 + timedelta(days=1))


@pytest.fixture(scope="module")
def ring(key: SigningKey) -> KeyRing:
    return KeyRing([key])


@pytest.fixture
def issuer(ring: KeyRing) -> TokenIssuer:
    return TokenIssuer(ring, issuer=ISSUER, audience=AUDIENCE)


@pytest.fixture
def verifier(ring: KeyRing) -> TokenVerifier:
    return TokenVerifier(ring.get, issuer=ISSUER, audience=AUDIENCE, cache_size=0)


def person_token(issuer: TokenIssuer, now: float = NOW, **extra: Any) -> tuple[str, AccessClaims]:
    fields: Json = {
        "subject": "p:123",
        "client_id": "xyb-app",
        "kind": "person",
        "roles": (),
        "assurance": 2,
        "family": "fam-1",
        **extra,
    }
    return issuer.issue(now=now, **fields)


@pytest.fixture
def token(issuer: TokenIssuer) -> str:
    return person_token(issuer)[0]


# --- issuing ---------------------------------------------------------------------------------


def test_person_token_round_trips(issuer: TokenIssuer, verifier: TokenVerifier) -> None:
    token, claims = person_token(
        issuer, acting_for="lp:9", division="430100", sealed_id_number="v1.sealed"
    )
    assert claims == AccessClaims(
        subject="p:123",
        client_id="xyb-app",
        kind="person",
        roles=(),
        assurance=2,
        family="fam-1",
        acting_for="lp:9",
        division="430100",
        issued_at=int(NOW),
        expires_at=int(NOW) + 900,
        token_id=claims.token_id,
        sealed_id_number="v1.sealed",
    )
    assert verifier.verify(token, now=NOW) == claims


def test_client_token_round_trips(issuer: TokenIssuer, verifier: TokenVerifier) -> None:
    token, claims = issuer.issue(
        subject="c:cs-dev",
        client_id="cs-dev",
        kind="client",
        roles=["division_admin", "operator"],
        assurance=0,
        division="430100",
        now=NOW,
    )
    verified = verifier.verify(token, now=NOW)
    assert verified == claims
    assert verified.kind == "client"
    assert verified.roles == ("division_admin", "operator")
    assert (verified.family, verified.acting_for, verified.division) == (None, None, "430100")


def test_token_layout(issuer: TokenIssuer, key: SigningKey) -> None:
    token, claims = person_token(issuer, roles=("operator",), acting_for="lp:9", division="430100")
    header, payload, _ = parts(token)
    assert header == {"alg": "EdDSA", "kid": key.kid, "typ": "at+jwt"}
    assert payload == {
        "iss": ISSUER,
        "sub": "p:123",
        "aud": AUDIENCE,
        "iat": int(NOW),
        "nbf": int(NOW),
        "exp": int(NOW) + 900,
        "jti": claims.token_id,
        "client_id": "xyb-app",
        "roles": ["operator"],
        "acr": "2",
        "fam": "fam-1",
        "acting_for": "lp:9",
        "division": "430100",
    }


def test_optional_claims_are_left_out(issuer: TokenIssuer) -> None:
    token, _ = issuer.issue(
        subject="p:1", client_id="app", kind="person", roles=(), assurance=1, now=NOW
    )
    _, payload, _ = parts(token)
    assert not {"fam", "acting_for", "act", "division", "sealed_id_number"} & set(payload)


def test_every_token_has_its_own_id(issuer: TokenIssuer) -> None:
    ids = {person_token(issuer)[1].token_id for _ in range(50)}
    assert len(ids) == 50
    assert all(len(token_id) >= 22 for token_id in ids)


def test_ttl_is_configurable(ring: KeyRing) -> None:
    issuer = TokenIssuer(ring, issuer=ISSUER, audience=AUDIENCE, ttl_seconds=60)
    _, claims = person_token(issuer)
    assert claims.expires_at - claims.issued_at == 60
    with pytest.raises(ValueError, match="positive"):
        TokenIssuer(ring, issuer=ISSUER, audience=AUDIENCE, ttl_seconds=0)


def test_an_issuer_needs_a_private_key(key: SigningKey) -> None:
    public_only = KeyRing([public_key_from_jwk(key.public_jwk)])
    with pytest.raises(LookupError):
        TokenIssuer(public_only, issuer=ISSUER, audience=AUDIENCE)


def test_tokens_interoperate_with_pyjwt(issuer: TokenIssuer, key: SigningKey) -> None:
    token, _ = issuer.issue(
        subject="p:1", client_id="app", kind="person", roles=(), assurance=1
    )  # real time: PyJWT checks against the clock
    decoded = jwt.decode(
        token, key.public_key, algorithms=["EdDSA"], audience=AUDIENCE, issuer=ISSUER
    )
    assert decoded["sub"] == "p:1"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"subject": "c:other", "client_id": "app", "kind": "client"}, "c:<client_id>"),
        ({"subject": "c:app", "client_id": "app", "kind": "client", "assurance": 2}, "assurance 0"),
        ({"subject": "c:app", "client_id": "app", "kind": "client", "family": "f"}, "no family"),
        ({"subject": "c:app", "client_id": "app", "kind": "client", "acting_for": "1"}, "nobody"),
        ({"subject": "c:app", "client_id": "app", "kind": "person"}, "'c:' subjects"),
        ({"subject": "p:1", "client_id": "app", "kind": "robot"}, "kind"),
        ({"subject": "", "client_id": "app", "kind": "person"}, "subject"),
        ({"subject": "p:1", "client_id": "", "kind": "person"}, "client_id"),
        ({"subject": "p:1", "client_id": "app", "kind": "person", "assurance": -1}, "assurance"),
        ({"subject": "p:1", "client_id": "app", "kind": "person", "assurance": True}, "assurance"),
        ({"subject": "p:1", "client_id": "app", "kind": "person", "roles": ("",)}, "roles"),
        (
            {"subject": "c:app", "client_id": "app", "kind": "client", "sealed_id_number": "v1.x"},
            "sealed",
        ),
    ],
)
def test_inconsistent_claims_are_not_issued(
    issuer: TokenIssuer, fields: Json, message: str
) -> None:
    arguments: Json = {"roles": (), "assurance": 0, **fields}
    with pytest.raises(ValueError, match=message):
        issuer.issue(now=NOW, **arguments)


# --- times -----------------------------------------------------------------------------------


@pytest.mark.parametrize("cache_size", [0, 10])
def test_expiry_with_leeway(issuer: TokenIssuer, ring: KeyRing, cache_size: int) -> None:
    verifier = TokenVerifier(ring.get, issuer=ISSUER, audience=AUDIENCE, cache_size=cache_size)
    token, claims = person_token(issuer)
    assert claims.expires_at == NOW + 900
    for moment in (NOW, NOW + 899, NOW + 900, NOW + 929.9):  # 30 s of leeway past exp
        assert verifier.verify(token, now=moment) == claims
    refused(lambda: verifier.verify(token, now=NOW + 930), "expired")
    refused(lambda: verifier.verify(token, now=NOW + 86_400), "expired")


@pytest.mark.parametrize("cache_size", [0, 10])
def test_not_yet_valid(issuer: TokenIssuer, ring: KeyRing, cache_size: int) -> None:
    verifier = TokenVerifier(ring.get, issuer=ISSUER, audience=AUDIENCE, cache_size=cache_size)
    token, _ = person_token(issuer)
    assert verifier.verify(token, now=NOW - 30)  # inside the leeway
    refused(lambda: verifier.verify(token, now=NOW - 31), "not yet valid")


def test_leeway_is_configurable(issuer: TokenIssuer, ring: KeyRing) -> None:
    strict = TokenVerifier(ring.get, issuer=ISSUER, audience=AUDIENCE, leeway_seconds=0)
    token, _ = person_token(issuer)
    refused(lambda: strict.verify(token, now=NOW + 900), "expired")
    refused(lambda: strict.verify(token, now=NOW - 1), "not yet valid")
    with pytest.raises(ValueError, match="negative"):
        TokenVerifier(ring.get, issuer=ISSUER, audience=AUDIENCE, leeway_seconds=-1)


def test_iat_in_the_future_is_refused(token: str, key: SigningKey, verifier: TokenVerifier) -> None:
    future = resign(token, key, iat=int(NOW) + 3600)
    refused(lambda: verifier.verify(future, now=NOW), "issued in the future")


# --- the cache -------------------------------------------------------------------------------


@pytest.fixture
def verifications(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Counts full verifications (signature checks), so cache hits can be told apart."""
    seen: list[str] = []
    real = tokens._verify_own

    def counting(token: object, keys: Any, *, typ: str) -> tuple[Json, SigningKey]:
        seen.append(str(token))
        return real(token, keys, typ=typ)

    monkeypatch.setattr(tokens, "_verify_own", counting)
    return seen


def test_a_verified_token_is_cached(
    issuer: TokenIssuer, ring: KeyRing, verifications: list[str]
) -> None:
    verifier = TokenVerifier(ring.get, issuer=ISSUER, audience=AUDIENCE)
    token, claims = person_token(issuer)
    for _ in range(5):
        assert verifier.verify(token, now=NOW + 10) == claims
    assert len(verifications) == 1


def test_a_cache_hit_still_checks_expiry(
    issuer: TokenIssuer, ring: KeyRing, verifications: list[str]
) -> None:
    verifier = TokenVerifier(ring.get, issuer=ISSUER, audience=AUDIENCE)
    token, _ = person_token(issuer)
    verifier.verify(token, now=NOW)
    refused(lambda: verifier.verify(token, now=NOW + 930), "expired")
    assert len(verifications) == 1  # refused from the cache ...
    refused(lambda: verifier.verify(token, now=NOW + 931), "expired")
    assert len(verifications) == 2  # ... and dropped from it


def test_failures_are_not_cached(
    issuer: TokenIssuer, ring: KeyRing, verifications: list[str]
) -> None:
    verifier = TokenVerifier(ring.get, issuer=ISSUER, audience="someone-else")
    token, _ = person_token(issuer)
    for _ in range(3):
        refused(lambda: verifier.verify(token, now=NOW), "wrong audience")
    assert len(verifications) == 3


def test_the_cache_is_a_bounded_lru(
    issuer: TokenIssuer, ring: KeyRing, verifications: list[str]
) -> None:
    verifier = TokenVerifier(ring.get, issuer=ISSUER, audience=AUDIENCE, cache_size=2)
    first, second, third = (person_token(issuer)[0] for _ in range(3))
    verifier.verify(first, now=NOW)
    verifier.verify(second, now=NOW)
    verifier.verify(first, now=NOW)  # first is now the most recently used
    verifier.verify(third, now=NOW)  # evicts second
    assert len(verifications) == 3
    assert len(verifier._cache) == 2
    verifier.verify(first, now=NOW)
    assert len(verifications) == 3  # still cached
    verifier.verify(second, now=NOW)
    assert len(verifications) == 4  # was evicted


def test_cache_size_zero_disables_the_cache(
    issuer: TokenIssuer, ring: KeyRing, verifications: list[str]
) -> None:
    verifier = TokenVerifier(ring.get, issuer=ISSUER, audience=AUDIENCE, cache_size=0)
    token, _ = person_token(issuer)
    for _ in range(3):
        verifier.verify(token, now=NOW)
    assert len(verifications) == 3
    assert len(verifier._cache) == 0


# --- key rotation ----------------------------------------------------------------------------


def test_rotation_old_tokens_verify_until_their_key_leaves_the_ring(
    key: SigningKey, other_key: SigningKey
) -> None:
    current = {"ring": KeyRing([key])}
    verifier = TokenVerifier(lambda kid: current["ring"].get(kid), issuer=ISSUER, audience=AUDIENCE)
    old_token, _ = person_token(TokenIssuer(current["ring"], issuer=ISSUER, audience=AUDIENCE))
    verifier.verify(old_token, now=NOW)  # cached too

    current["ring"] = KeyRing([*current["ring"].keys, other_key])  # rotate: other_key is newer
    new_issuer = TokenIssuer(current["ring"], issuer=ISSUER, audience=AUDIENCE)
    new_token, _ = person_token(new_issuer)
    assert parts(new_token)[0]["kid"] == other_key.kid
    assert verifier.verify(old_token, now=NOW + 1).subject == "p:123"
    assert verifier.verify(new_token, now=NOW + 1).subject == "p:123"
    assert {entry["kid"] for entry in current["ring"].jwks()["keys"]} == {key.kid, other_key.kid}

    current["ring"] = KeyRing([other_key])  # the old key is retired
    refused(lambda: verifier.verify(old_token, now=NOW + 2), "unknown key id")  # even if cached
    assert verifier.verify(new_token, now=NOW + 2).subject == "p:123"


def test_a_kid_reused_for_another_key_does_not_pass_from_the_cache(
    key: SigningKey, other_key: SigningKey
) -> None:
    impostor = SigningKey(
        key.kid, "EdDSA", other_key.private_key, {**other_key.public_jwk, "kid": key.kid}, T0
    )
    current = {"ring": KeyRing([key])}
    verifier = TokenVerifier(lambda kid: current["ring"].get(kid), issuer=ISSUER, audience=AUDIENCE)
    token, _ = person_token(TokenIssuer(current["ring"], issuer=ISSUER, audience=AUDIENCE))
    verifier.verify(token, now=NOW)
    current["ring"] = KeyRing([impostor])
    refused(lambda: verifier.verify(token, now=NOW), "bad signature")


def test_verification_with_a_ring_built_from_the_published_jwks(token: str, ring: KeyRing) -> None:
    published = KeyRing([public_key_from_jwk(entry) for entry in ring.jwks()["keys"]])
    verifier = TokenVerifier(published.get, issuer=ISSUER, audience=AUDIENCE)
    assert verifier.verify(token, now=NOW).subject == "p:123"


# --- tampering -------------------------------------------------------------------------------


def test_a_changed_claim_breaks_the_signature(token: str, verifier: TokenVerifier) -> None:
    header, payload, signature = token.split(".")
    claims = json.loads(unb64(payload))
    for change in ({"sub": "p:124"}, {"acr": "3"}, {"roles": ["platform_admin"]}, {"exp": 9e9}):
        forged = f"{header}.{b64json({**claims, **change})}.{signature}"
        refused(partial(verifier.verify, forged, now=NOW), "bad signature")


def test_every_flipped_payload_character_is_refused(token: str, verifier: TokenVerifier) -> None:
    header, payload, signature = token.split(".")
    for index in range(0, len(payload), 7):
        flipped = payload[:index] + ("A" if payload[index] != "A" else "B") + payload[index + 1 :]
        forged = f"{header}.{flipped}.{signature}"
        with pytest.raises(InvalidToken):
            verifier.verify(forged, now=NOW)


def test_a_flipped_signature_byte_is_refused(token: str, verifier: TokenVerifier) -> None:
    header, payload, signature = token.split(".")
    raw = bytearray(unb64(signature))
    for index in (0, 31, 32, 63):
        tampered = bytearray(raw)
        tampered[index] ^= 0x80
        forged = f"{header}.{payload}.{b64(bytes(tampered))}"
        refused(partial(verifier.verify, forged, now=NOW), "bad signature")


def test_a_non_canonical_signature_encoding_is_refused(token: str, verifier: TokenVerifier) -> None:
    header, payload, signature = token.split(".")
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    last = alphabet.index(signature[-1])
    sibling = alphabet[last ^ 1]  # same decoded bytes (the spare low bits differ)
    variant = f"{header}.{payload}.{signature[:-1]}{sibling}"
    assert unb64(variant.split(".")[2]) == unb64(signature)
    refused(lambda: verifier.verify(variant, now=NOW), "malformed")


def test_a_truncated_signature_is_refused(token: str, verifier: TokenVerifier) -> None:
    header, payload, signature = token.split(".")
    refused(lambda: verifier.verify(f"{header}.{payload}.{signature[:-4]}", now=NOW), "")


def test_resigned_with_a_key_outside_the_ring(
    token: str, other_key: SigningKey, verifier: TokenVerifier
) -> None:
    forged = resign(token, other_key)  # keeps the ring's kid
    refused(lambda: verifier.verify(forged, now=NOW), "bad signature")
    own_kid = resign(token, other_key, header={**parts(token)[0], "kid": other_key.kid})
    refused(lambda: verifier.verify(own_kid, now=NOW), "unknown key id")


def test_a_swapped_kid_is_refused(token: str, key: SigningKey, other_key: SigningKey) -> None:
    ring = KeyRing([key, other_key])
    verifier = TokenVerifier(ring.get, issuer=ISSUER, audience=AUDIENCE)
    header, payload, signature = token.split(".")
    swapped = b64json({**json.loads(unb64(header)), "kid": other_key.kid})
    refused(lambda: verifier.verify(f"{swapped}.{payload}.{signature}", now=NOW), "bad signature")


@pytest.mark.parametrize("kid", [_DROP, "", 7, None, ["k"]])
def test_a_missing_or_odd_kid_is_refused(
    token: str, key: SigningKey, verifier: TokenVerifier, kid: Any
) -> None:
    header = {"alg": "EdDSA", "typ": "at+jwt"} | ({} if kid is _DROP else {"kid": kid})
    forged = resign(token, key, header=header)
    refused(lambda: verifier.verify(forged, now=NOW), "no key id")


def test_an_embedded_jwk_is_never_trusted(
    token: str, other_key: SigningKey, verifier: TokenVerifier
) -> None:
    header = {
        "alg": "EdDSA",
        "typ": "at+jwt",
        "kid": other_key.kid,
        "jwk": other_key.public_jwk,
        "jku": "https://attacker.example/jwks.json",
    }
    forged = resign(token, other_key, header=header)
    refused(lambda: verifier.verify(forged, now=NOW), "unknown key id")


@pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE"])
def test_alg_none_is_refused(
    token: str, key: SigningKey, verifier: TokenVerifier, alg: str
) -> None:
    header = {"alg": alg, "kid": key.kid, "typ": "at+jwt"}
    _, payload, _ = parts(token)
    unsigned = f"{b64json(header)}.{b64json(payload)}."
    refused(lambda: verifier.verify(unsigned, now=NOW), "malformed")
    with_signature = forge(header, payload, ed_signer(key))
    refused(lambda: verifier.verify(with_signature, now=NOW), f"algorithm {alg} is not accepted")


def test_pyjwt_alg_none_token_is_refused(token: str, verifier: TokenVerifier) -> None:
    _, payload, _ = parts(token)
    unsigned = jwt.encode(payload, "", algorithm="none", headers={"typ": "at+jwt"})
    refused(lambda: verifier.verify(unsigned, now=NOW), "malformed")


def _public_secrets(key: SigningKey) -> dict[str, bytes]:
    public = key.public_key
    return {
        "raw": public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw),
        "pem": public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
        "der": public.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
        "openssh": public.public_bytes(
            serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
        ),
        "x": key.public_jwk["x"].encode(),
        "jwk": json.dumps(key.public_jwk).encode(),
    }


@pytest.mark.parametrize(
    ("alg", "digest"), [("HS256", "sha256"), ("HS384", "sha384"), ("HS512", "sha512")]
)
@pytest.mark.parametrize("form", ["raw", "pem", "der", "openssh", "x", "jwk"])
def test_hmac_signed_with_the_public_key_is_refused(
    token: str, key: SigningKey, verifier: TokenVerifier, alg: str, digest: str, form: str
) -> None:
    _, payload, _ = parts(token)
    secret = _public_secrets(key)[form]
    forged = forge(
        {"alg": alg, "kid": key.kid, "typ": "at+jwt"}, payload, hmac_signer(secret, digest)
    )
    refused(lambda: verifier.verify(forged, now=NOW), f"algorithm {alg} is not accepted")


@pytest.mark.parametrize("alg", ["ES256", "RS256", "PS256", "Ed25519", "EDDSA", "eddsa", ""])
def test_other_algorithms_are_refused(
    token: str, key: SigningKey, verifier: TokenVerifier, alg: str
) -> None:
    forged = resign(token, key, header={"alg": alg, "kid": key.kid, "typ": "at+jwt"})
    refused(lambda: verifier.verify(forged, now=NOW), "is not accepted (only EdDSA)")


def test_a_missing_alg_is_refused(token: str, key: SigningKey, verifier: TokenVerifier) -> None:
    forged = resign(token, key, header={"kid": key.kid, "typ": "at+jwt"})
    refused(lambda: verifier.verify(forged, now=NOW), "not accepted")


@pytest.mark.parametrize("alg", ['x"\r\nSet-Cookie: a=b', "中文", "A" * 40, 7, None, {"a": 1}])
def test_reasons_never_echo_token_content(
    token: str, key: SigningKey, verifier: TokenVerifier, alg: Any
) -> None:
    forged = resign(token, key, header={"alg": alg, "kid": key.kid, "typ": "at+jwt"})
    error = refused(lambda: verifier.verify(forged, now=NOW), "the algorithm is not accepted")
    assert error.reason.isascii()
    assert '"' not in error.reason
    assert "\n" not in error.reason


def test_critical_headers_are_refused(token: str, key: SigningKey, verifier: TokenVerifier) -> None:
    header = {**parts(token)[0], "crit": ["exp"], "exp": 1}
    refused(lambda: verifier.verify(resign(token, key, header=header), now=NOW), "critical")


# --- claims ----------------------------------------------------------------------------------


def test_wrong_issuer(token: str, ring: KeyRing) -> None:
    verifier = TokenVerifier(ring.get, issuer="https://other.example", audience=AUDIENCE)
    refused(lambda: verifier.verify(token, now=NOW), "wrong issuer")


def test_wrong_audience(token: str, ring: KeyRing) -> None:
    verifier = TokenVerifier(ring.get, issuer=ISSUER, audience="430100/zwfw")
    refused(lambda: verifier.verify(token, now=NOW), "wrong audience")


def test_audience_list(token: str, key: SigningKey, verifier: TokenVerifier) -> None:
    assert verifier.verify(resign(token, key, aud=["x", AUDIENCE]), now=NOW)
    refused(lambda: verifier.verify(resign(token, key, aud=["x"]), now=NOW), "wrong audience")
    refused(lambda: verifier.verify(resign(token, key, aud=[]), now=NOW), "wrong audience")


@pytest.mark.parametrize(
    "claim", ["iss", "sub", "aud", "exp", "iat", "nbf", "jti", "client_id", "roles", "acr"]
)
def test_required_claims(token: str, key: SigningKey, verifier: TokenVerifier, claim: str) -> None:
    forged = resign(token, key, **{claim: _DROP})
    refused(lambda: verifier.verify(forged, now=NOW), f"missing claim: {claim}")


@pytest.mark.parametrize(
    ("claims", "fragment"),
    [
        ({"exp": "soon"}, "exp is not a number"),
        ({"exp": True}, "exp is not a number"),
        ({"nbf": None}, "nbf is not a number"),
        ({"exp": NOW + 10.5}, "integers"),
        ({"roles": "operator"}, "roles"),
        ({"roles": [1]}, "roles"),
        ({"acr": 2}, "acr"),
        ({"acr": "high"}, "acr"),
        ({"sub": 123}, "strings"),
        ({"jti": ""}, "strings"),
        ({"fam": ""}, "fam"),
        ({"division": 430100}, "division"),
        ({"sub": "c:someone", "client_id": "xyb-app"}, "not its client"),
    ],
)
def test_malformed_claims_are_refused(
    token: str, key: SigningKey, verifier: TokenVerifier, claims: Json, fragment: str
) -> None:
    forged = resign(token, key, **claims)
    refused(lambda: verifier.verify(forged, now=NOW), fragment)


def test_nan_and_infinity_are_not_json(
    token: str, key: SigningKey, verifier: TokenVerifier
) -> None:
    _, payload, _ = parts(token)
    for constant in ("NaN", "Infinity", "-Infinity"):
        body = json.dumps(payload).replace(str(payload["exp"]), constant).encode()
        forged = forge(parts(token)[0], body, ed_signer(key))
        refused(partial(verifier.verify, forged, now=NOW), "malformed")


@pytest.mark.parametrize("body", [b"[]", b'"text"', b"not json", b"", b"{" * 5000])
def test_a_signed_payload_that_is_not_an_object(
    token: str, key: SigningKey, verifier: TokenVerifier, body: bytes
) -> None:
    forged = forge(parts(token)[0], body, ed_signer(key))
    refused(lambda: verifier.verify(forged, now=NOW), "malformed")


@pytest.mark.parametrize("typ", ["JWT", "jwt", "at+JWT-x", "xyb-assertion+jwt", "", None, _DROP])
def test_wrong_typ_is_refused(
    token: str, key: SigningKey, verifier: TokenVerifier, typ: Any
) -> None:
    header = {"alg": "EdDSA", "kid": key.kid} | ({} if typ is _DROP else {"typ": typ})
    refused(lambda: verifier.verify(resign(token, key, header=header), now=NOW), "wrong token type")


@pytest.mark.parametrize("typ", ["at+jwt", "AT+JWT", "application/at+jwt", "Application/AT+JWT"])
def test_equivalent_typ_spellings_are_accepted(
    token: str, key: SigningKey, verifier: TokenVerifier, typ: str
) -> None:
    header = {"alg": "EdDSA", "kid": key.kid, "typ": typ}
    assert verifier.verify(resign(token, key, header=header), now=NOW).subject == "p:123"


@pytest.mark.parametrize(
    "garbage",
    [
        "",
        "abc",
        "a.b",
        "a.b.c.d",
        "..",
        "a..c",
        "e30.e30.",
        "e30.e30.!!!!",
        "e30.e30.AAAA AAAA",
        "e30.e30.A",
        "W10.e30.AAAA",  # header is a JSON array
        "bm90IGpzb24.e30.AAAA",  # header is not JSON
        "中文.e30.AAAA",
        "e30.e30.AAAA\n",
        "A" * 9000 + ".e30.AAAA",
    ],
)
def test_malformed_tokens_are_refused(verifier: TokenVerifier, garbage: str) -> None:
    refused(lambda: verifier.verify(garbage, now=NOW), "")


@pytest.mark.parametrize("value", [None, b"e30.e30.AAAA", ["a"], 7])
def test_a_token_that_is_not_a_string(verifier: TokenVerifier, value: Any) -> None:
    refused(lambda: verifier.verify(value, now=NOW), "malformed")


def test_an_oversized_token_is_refused_before_parsing(
    token: str, key: SigningKey, verifier: TokenVerifier
) -> None:
    forged = resign(token, key, padding="x" * 10_000)
    refused(lambda: verifier.verify(forged, now=NOW), "malformed")


def test_a_token_of_another_issuer_with_the_same_keys(
    ring: KeyRing, verifier: TokenVerifier
) -> None:
    other = TokenIssuer(ring, issuer="https://evil.example", audience=AUDIENCE)
    token, _ = person_token(other)
    refused(lambda: verifier.verify(token, now=NOW), "wrong issuer")


def test_invalid_token_carries_its_reason() -> None:
    error = InvalidToken("token expired")
    assert error.reason == "token expired"
    assert str(error) == "token expired"


# --- assertions ------------------------------------------------------------------------------


def test_assertion_round_trip(ring: KeyRing, key: SigningKey) -> None:
    cipher = DataCipher(bytes(range(32)))
    subject = cipher.pairwise("p:123", "430100/zwfw")
    assertion = issue_assertion(
        ring,
        issuer=ISSUER,
        audience="430100/zwfw",
        subject=subject,
        client_id="xyb-app",
        id_number="430121199912124865",
        now=NOW,
    )
    header, payload, _ = parts(assertion)
    assert header == {"alg": "EdDSA", "kid": key.kid, "typ": "xyb-assertion+jwt"}
    assert payload["exp"] - payload["iat"] == 60
    claims = verify_assertion(
        assertion, ring.get, issuer=ISSUER, audience="430100/zwfw", now=NOW + 5
    )
    assert claims["sub"] == subject
    assert claims["client_id"] == "xyb-app"
    assert claims["id_number"] == "430121199912124865"


def test_assertion_carries_the_id_number_only_when_given(ring: KeyRing) -> None:
    assertion = issue_assertion(
        ring,
        issuer=ISSUER,
        audience="430100/zwfw",
        subject="abc",
        client_id="xyb-app",
        id_number=None,
        now=NOW,
    )
    assert "id_number" not in parts(assertion)[1]
    assert "id_number" not in verify_assertion(
        assertion, ring.get, issuer=ISSUER, audience="430100/zwfw", now=NOW
    )


def test_assertion_subjects_are_pairwise_per_service(ring: KeyRing) -> None:
    cipher = DataCipher(bytes(range(32)))
    subjects = {}
    for service in ("430100/zwfw", "430100/gjj", "430200/zwfw"):
        assertion = issue_assertion(
            ring,
            issuer=ISSUER,
            audience=service,
            subject=cipher.pairwise("p:123", service),
            client_id="xyb-app",
            id_number=None,
            now=NOW,
        )
        subjects[service] = verify_assertion(
            assertion, ring.get, issuer=ISSUER, audience=service, now=NOW
        )["sub"]
        assert subjects[service] == cipher.pairwise("p:123", service)  # stable
    assert len(set(subjects.values())) == 3


def test_assertion_refusals(ring: KeyRing, issuer: TokenIssuer) -> None:
    assertion = issue_assertion(
        ring,
        issuer=ISSUER,
        audience="430100/zwfw",
        subject="abc",
        client_id="xyb-app",
        id_number=None,
        now=NOW,
    )

    def check(token: str, *, audience: str = "430100/zwfw", now: float = NOW) -> object:
        return verify_assertion(token, ring.get, issuer=ISSUER, audience=audience, now=now)

    refused(lambda: check(assertion, audience="430200/zwfw"), "wrong audience")
    refused(lambda: check(assertion, now=NOW + 90), "expired")
    refused(
        lambda: verify_assertion(
            assertion, ring.get, issuer="other", audience="430100/zwfw", now=NOW
        ),
        "wrong issuer",
    )
    refused(lambda: check(assertion, audience=AUDIENCE), "wrong audience")
    access_token, _ = person_token(issuer)
    refused(lambda: check(access_token, audience=AUDIENCE), "wrong token type")
    refused(lambda: check(assertion[:-3] + "AAA"), "")
    as_access = TokenVerifier(ring.get, issuer=ISSUER, audience="430100/zwfw")
    refused(lambda: as_access.verify(assertion, now=NOW), "wrong token type")


def test_upstream_verifies_an_assertion_with_the_published_jwks(ring: KeyRing) -> None:
    published = json.loads(json.dumps(ring.jwks()))  # what /.well-known/jwks.json serves
    upstream_ring = KeyRing([public_key_from_jwk(entry) for entry in published["keys"]])
    assertion = issue_assertion(
        ring,
        issuer=ISSUER,
        audience="430100/zwfw",
        subject="abc",
        client_id="xyb-app",
        id_number=None,
        now=NOW,
    )
    claims = verify_assertion(
        assertion, upstream_ring.get, issuer=ISSUER, audience="430100/zwfw", now=NOW
    )
    assert claims["sub"] == "abc"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"subject": ""}, "subject"),
        ({"client_id": ""}, "client_id"),
        ({"audience": ""}, "audience"),
        ({"ttl_seconds": 0}, "positive"),
    ],
)
def test_inconsistent_assertions_are_not_issued(ring: KeyRing, fields: Json, message: str) -> None:
    arguments: Json = {
        "issuer": ISSUER,
        "audience": "430100/zwfw",
        "subject": "abc",
        "client_id": "app",
        "id_number": None,
        **fields,
    }
    with pytest.raises(ValueError, match=message):
        issue_assertion(ring, **arguments)


# --- partner ID tokens -----------------------------------------------------------------------

PARTNER = "https://id.gdzwfw.gov.cn"


class Partner:
    """A partner province's signing keys (RSA, EC P-256, Ed25519) and its JWKS."""

    def __init__(self) -> None:
        self.rsa = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.ec = ec.generate_private_key(ec.SECP256R1())
        self.ed = Ed25519PrivateKey.generate()
        self.keys: dict[str, Any] = {"RS256": self.rsa, "ES256": self.ec, "EdDSA": self.ed}
        self.kids = {"RS256": "gd-rsa-1", "ES256": "gd-ec-1", "EdDSA": "gd-ed-1"}
        self.jwks: Json = {
            "keys": [
                {**RSAAlgorithm.to_jwk(self.rsa.public_key(), as_dict=True), "kid": "gd-rsa-1"},
                {**ECAlgorithm.to_jwk(self.ec.public_key(), as_dict=True), "kid": "gd-ec-1"},
                {**OKPAlgorithm.to_jwk(self.ed.public_key(), as_dict=True), "kid": "gd-ed-1"},
            ]
        }

    def token(self, alg: str = "ES256", *, headers: Json | None = None, **claims: Any) -> str:
        payload: Json = {
            "iss": PARTNER,
            "sub": "gd-resident-77",
            "aud": ISSUER,
            "iat": int(NOW),
            "exp": int(NOW) + 300,
            "jti": "gd-token-1",
            "id_number": "440106199003077652",
            **claims,
        }
        payload = {name: value for name, value in payload.items() if value is not _DROP}
        return jwt.encode(
            payload,
            self.keys[alg],
            algorithm=alg,
            headers={"kid": self.kids[alg], **(headers or {})},
        )


@pytest.fixture(scope="module")
def partner() -> Partner:
    return Partner()


def check_partner(partner: Partner, token: str, *, now: float = NOW, **options: Any) -> Json:
    arguments: Json = {"jwks": partner.jwks, "issuer": PARTNER, "audience": ISSUER, **options}
    return verify_partner_token(token, now=now, **arguments)


@pytest.mark.parametrize("alg", ["RS256", "ES256", "EdDSA"])
def test_partner_tokens_of_each_algorithm_verify(partner: Partner, alg: str) -> None:
    claims = check_partner(partner, partner.token(alg))
    assert claims["id_number"] == "440106199003077652"
    assert claims["sub"] == "gd-resident-77"


def test_the_only_key_is_used_when_the_token_has_no_kid(partner: Partner) -> None:
    only_ec = {"keys": [partner.jwks["keys"][1]]}
    token = forge({"alg": "ES256"}, parts(partner.token())[1], ec_signer(partner.ec))
    assert check_partner(partner, token, jwks=only_ec)["sub"] == "gd-resident-77"
    refused(lambda: check_partner(partner, token), "no kid and the partner has several keys")


def test_a_kid_must_match_even_with_a_single_key(partner: Partner) -> None:
    only_ec = {"keys": [{k: v for k, v in partner.jwks["keys"][1].items() if k != "kid"}]}
    refused(lambda: check_partner(partner, partner.token(), jwks=only_ec), "unknown key id")


def test_unknown_and_ambiguous_partner_kids(partner: Partner) -> None:
    token = partner.token(headers={"kid": "gd-ec-2"})
    refused(lambda: check_partner(partner, token), "unknown key id")
    doubled = {"keys": [*partner.jwks["keys"], partner.jwks["keys"][1]]}
    refused(lambda: check_partner(partner, partner.token(), jwks=doubled), "ambiguous")


def test_partner_alg_none_is_refused(partner: Partner) -> None:
    payload = parts(partner.token())[1]
    for alg in ("none", "None"):
        header = {"alg": alg, "kid": "gd-ec-1"}
        unsigned = f"{b64json(header)}.{b64json(payload)}."
        refused(partial(check_partner, partner, unsigned), "malformed")
        signed = forge(header, payload, ec_signer(partner.ec))
        refused(partial(check_partner, partner, signed), "is not accepted")


@pytest.mark.parametrize("alg", ["HS256", "HS384", "HS512"])
@pytest.mark.parametrize("target", ["RS256", "ES256", "EdDSA"])
def test_partner_hmac_with_the_public_key_is_refused(
    partner: Partner, alg: str, target: str
) -> None:
    public = partner.keys[target].public_key()
    pem = public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    jwk = next(entry for entry in partner.jwks["keys"] if entry["kid"] == partner.kids[target])
    payload = parts(partner.token())[1]
    digest = {"HS256": "sha256", "HS384": "sha384", "HS512": "sha512"}[alg]
    for secret in (pem, json.dumps(jwk).encode(), str(jwk.get("x", jwk.get("n"))).encode()):
        forged = forge(
            {"alg": alg, "kid": partner.kids[target]}, payload, hmac_signer(secret, digest)
        )
        refused(partial(check_partner, partner, forged), f"algorithm {alg} is not")


@pytest.mark.parametrize(
    ("alg", "key"),
    [("RS512", "rsa"), ("PS256", "rsa"), ("RS384", "rsa")],
)
def test_partner_other_asymmetric_algorithms_are_refused(
    partner: Partner, alg: str, key: str
) -> None:
    payload = parts(partner.token())[1]
    token = jwt.encode(payload, partner.rsa, algorithm=alg, headers={"kid": "gd-rsa-1"})
    refused(lambda: check_partner(partner, token), f"algorithm {alg} is not accepted")


def test_partner_es384_and_ed448_curves_are_refused(partner: Partner) -> None:
    p384 = ec.generate_private_key(ec.SECP384R1())
    jwks = {"keys": [{**ECAlgorithm.to_jwk(p384.public_key(), as_dict=True), "kid": "p384"}]}
    payload = parts(partner.token())[1]
    es384 = jwt.encode(payload, p384, algorithm="ES384", headers={"kid": "p384"})
    refused(lambda: check_partner(partner, es384, jwks=jwks), "algorithm ES384 is not accepted")
    # ES256 named in the header, but the JWKS key is on P-384.
    lying = forge({"alg": "ES256", "kid": "p384"}, payload, ec_signer(partner.ec))
    refused(lambda: check_partner(partner, lying, jwks=jwks), "does not match algorithm ES256")


@pytest.mark.parametrize(
    ("alg", "kid_of"),
    [("ES256", "RS256"), ("RS256", "EdDSA"), ("EdDSA", "ES256"), ("RS256", "ES256")],
)
def test_partner_key_type_must_match_the_alg(partner: Partner, alg: str, kid_of: str) -> None:
    token = partner.token(alg, headers={"kid": partner.kids[kid_of]})
    refused(lambda: check_partner(partner, token), f"does not match algorithm {alg}")


def test_partner_jwk_alg_and_use_members_are_honoured(partner: Partner) -> None:
    token = partner.token("RS256")
    rsa_jwk = partner.jwks["keys"][0]
    for change, fragment in (({"alg": "RS512"}, "not for RS256"), ({"use": "enc"}, "signature")):
        jwks = {"keys": [{**rsa_jwk, **change}]}
        refused(partial(check_partner, partner, token, jwks=jwks), fragment)
    assert check_partner(partner, token, jwks={"keys": [{**rsa_jwk, "alg": "RS256", "use": "sig"}]})


def test_partner_short_rsa_keys_are_refused(partner: Partner) -> None:
    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505
    jwks = {"keys": [{**RSAAlgorithm.to_jwk(weak.public_key(), as_dict=True), "kid": "weak"}]}
    token = forge({"alg": "RS256", "kid": "weak"}, parts(partner.token())[1], rsa_signer(weak))
    refused(lambda: check_partner(partner, token, jwks=jwks), "shorter than 2048 bits")


def test_partner_unreadable_keys_are_refused(partner: Partner) -> None:
    token = partner.token("EdDSA")
    jwks = {"keys": [{"kty": "OKP", "crv": "Ed25519", "x": "AAAA", "kid": "gd-ed-1"}]}
    refused(lambda: check_partner(partner, token, jwks=jwks), "cannot be read")


def test_partner_private_members_in_the_jwks_are_ignored(partner: Partner) -> None:
    leaked = {
        "keys": [
            {
                **OKPAlgorithm.to_jwk(partner.ed, as_dict=True),  # includes "d"
                "kid": "gd-ed-1",
            }
        ]
    }
    assert "d" in leaked["keys"][0]
    assert check_partner(partner, partner.token("EdDSA"), jwks=leaked)["sub"] == "gd-resident-77"


@pytest.mark.parametrize("alg", ["RS256", "ES256", "EdDSA"])
def test_partner_tampering_is_refused(partner: Partner, alg: str) -> None:
    token = partner.token(alg)
    header, payload, signature = token.split(".")
    changed = b64json({**json.loads(unb64(payload)), "id_number": "430121199912124865"})
    refused(lambda: check_partner(partner, f"{header}.{changed}.{signature}"), "bad signature")
    raw = bytearray(unb64(signature))
    raw[5] ^= 0x01
    refused(
        lambda: check_partner(partner, f"{header}.{payload}.{b64(bytes(raw))}"), "bad signature"
    )


def test_partner_tokens_resigned_by_another_key_are_refused(partner: Partner) -> None:
    impostor = Partner()
    for alg in ("RS256", "ES256", "EdDSA"):
        token = impostor.token(alg)  # the same kids, other keys
        refused(partial(check_partner, partner, token), "bad signature")


def test_partner_embedded_keys_are_never_trusted(partner: Partner) -> None:
    attacker = Ed25519PrivateKey.generate()
    header = {
        "alg": "EdDSA",
        "kid": "gd-ed-1",
        "jwk": OKPAlgorithm.to_jwk(attacker.public_key(), as_dict=True),
        "jku": "https://attacker.example/jwks.json",
        "x5u": "https://attacker.example/cert.pem",
    }
    token = forge(header, parts(partner.token())[1], attacker.sign)
    refused(lambda: check_partner(partner, token), "bad signature")


@pytest.mark.parametrize(
    ("claims", "options", "fragment"),
    [
        ({"iss": "https://evil.example"}, {}, "wrong issuer"),
        ({"iss": _DROP}, {}, "wrong issuer"),
        ({"aud": "https://other.example"}, {}, "wrong audience"),
        ({"aud": _DROP}, {}, "wrong audience"),
        ({"exp": _DROP}, {}, "missing claim: exp"),
        ({"exp": "later"}, {}, "exp is not a number"),
        ({"exp": int(NOW) - 61}, {}, "expired"),
        ({"nbf": int(NOW) + 61}, {}, "not yet valid"),
        ({"iat": int(NOW) + 61}, {}, "issued in the future"),
        ({"exp": int(NOW) - 1}, {"leeway_seconds": 0}, "expired"),
    ],
)
def test_partner_claim_refusals(
    partner: Partner, claims: Json, options: Json, fragment: str
) -> None:
    token = partner.token(**claims)
    refused(lambda: check_partner(partner, token, **options), fragment)


def test_partner_leeway_and_audience_lists(partner: Partner) -> None:
    assert check_partner(partner, partner.token(exp=int(NOW) - 59))
    assert check_partner(partner, partner.token(nbf=int(NOW) + 59))
    assert check_partner(partner, partner.token(aud=["https://other.example", ISSUER]))
    assert check_partner(partner, partner.token(exp=int(NOW) + 300.5))


def test_partner_access_tokens_are_not_id_tokens(partner: Partner) -> None:
    token = partner.token(headers={"typ": "at+jwt"})
    refused(lambda: check_partner(partner, token), "not an ID token")


def test_our_own_access_token_is_not_a_partner_token(partner: Partner, token: str) -> None:
    refused(lambda: check_partner(partner, token), "")


@pytest.mark.parametrize("jwks", [{}, {"keys": "none"}, {"keys": [1, 2]}])
def test_a_malformed_partner_jwks_is_a_configuration_error(partner: Partner, jwks: Json) -> None:
    with pytest.raises(ValueError, match="JWKS"):
        check_partner(partner, partner.token(), jwks=jwks)


@pytest.mark.parametrize("garbage", ["", "a.b", "a.b.c", "e30.e30.AAAA", "x" * 20_000])
def test_malformed_partner_tokens(partner: Partner, garbage: str) -> None:
    refused(lambda: check_partner(partner, garbage), "")
