"""Signing keys: generation, RFC 7638 key ids, encrypted storage, the key ring and its JWKS."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from app.identity.crypto import DataCipher, DecryptionError
from app.identity.keys import (
    KeyRing,
    SigningKey,
    generate_key,
    key_from_text,
    private_to_text,
    public_key_from_jwk,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)
# RFC 8037 Appendix A: an Ed25519 key and (A.3) its RFC 7638 thumbprint.
RFC8037_D = "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"
RFC8037_X = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
RFC8037_THUMBPRINT = "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def thumbprint(x: str) -> str:
    canonical = json.dumps({"crv": "Ed25519", "kty": "OKP", "x": x}, separators=(",", ":"))
    digest = hashlib.sha256(canonical.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def pem(private_key: object) -> str:
    assert isinstance(
        private_key, Ed25519PrivateKey | rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
    )
    return private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


@pytest.fixture(scope="module")
def cipher() -> DataCipher:
    return DataCipher(bytes(range(32)))


# --- generation ------------------------------------------------------------------------------


def test_generated_key_has_a_thumbprint_kid_and_a_public_jwk() -> None:
    key = generate_key(T0)
    assert key.algorithm == "EdDSA"
    assert key.created_at == T0
    assert key.private_key is not None
    jwk = key.public_jwk
    assert set(jwk) == {"kid", "kty", "crv", "x", "alg", "use"}
    assert (jwk["kty"], jwk["crv"], jwk["alg"], jwk["use"]) == ("OKP", "Ed25519", "EdDSA", "sig")
    assert len(b64url_decode(jwk["x"])) == 32
    assert key.kid == jwk["kid"] == thumbprint(jwk["x"])[:16]
    raw = key.private_key.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    assert b64url_decode(jwk["x"]) == raw


def test_each_generated_key_is_new() -> None:
    assert generate_key(T0).kid != generate_key(T0).kid


def test_kid_is_the_rfc_7638_thumbprint_of_the_rfc_8037_key() -> None:
    assert thumbprint(RFC8037_X) == RFC8037_THUMBPRINT  # the helper agrees with the RFC
    key = public_key_from_jwk({"kty": "OKP", "crv": "Ed25519", "x": RFC8037_X})
    assert key.kid == RFC8037_THUMBPRINT[:16]


def test_naive_created_at_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        generate_key(datetime(2026, 1, 1))


def test_repr_never_shows_the_private_key() -> None:
    key = generate_key(T0)
    assert "private" not in repr(key).lower()
    assert key.kid in repr(key)


def test_signing_key_is_frozen() -> None:
    key = generate_key(T0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        key.kid = "other"  # type: ignore[misc]


def test_signing_key_checks_its_parts_agree() -> None:
    key = generate_key(T0)
    other = generate_key(T0)
    with pytest.raises(ValueError, match="does not belong"):
        SigningKey(key.kid, "EdDSA", other.private_key, key.public_jwk, T0)
    with pytest.raises(ValueError, match="EdDSA"):
        SigningKey(key.kid, "ES256", key.private_key, key.public_jwk, T0)
    with pytest.raises(ValueError, match="kid"):
        SigningKey("", "EdDSA", key.private_key, key.public_jwk, T0)
    with pytest.raises(ValueError, match="kid differs"):
        SigningKey("another", "EdDSA", key.private_key, key.public_jwk, T0)
    with pytest.raises(ValueError, match="Ed25519"):
        SigningKey(key.kid, "EdDSA", None, {**key.public_jwk, "crv": "Ed448"}, T0)
    with pytest.raises(ValueError, match="32 bytes"):
        SigningKey(key.kid, "EdDSA", None, {**key.public_jwk, "x": "AAAA"}, T0)


# --- storage ---------------------------------------------------------------------------------


def test_private_key_round_trips_through_encrypted_text(cipher: DataCipher) -> None:
    key = generate_key(T0)
    text = private_to_text(key, cipher)
    assert text.startswith("v1.")
    assert "PRIVATE KEY" not in text
    loaded = key_from_text(key.kid, T0, text, cipher)
    assert loaded.kid == key.kid
    assert loaded.public_jwk == key.public_jwk
    assert loaded.created_at == T0
    assert loaded.private_key is not None
    signature = loaded.private_key.sign(b"message")
    key.public_key.verify(signature, b"message")  # the same key pair


def test_stored_key_is_bound_to_its_kid(cipher: DataCipher) -> None:
    key, other = generate_key(T0), generate_key(T0)
    text = private_to_text(key, cipher)
    with pytest.raises(DecryptionError):
        key_from_text(other.kid, T0, text, cipher)


def test_stored_key_needs_the_same_data_key(cipher: DataCipher) -> None:
    key = generate_key(T0)
    text = private_to_text(key, cipher)
    with pytest.raises(DecryptionError):
        key_from_text(key.kid, T0, text, DataCipher(bytes(32)))


def test_a_key_stored_under_a_foreign_kid_is_refused(cipher: DataCipher) -> None:
    key, other = generate_key(T0), generate_key(T0)
    assert other.private_key is not None
    text = cipher.encrypt(pem(other.private_key), context=f"signing-key:{key.kid}")
    with pytest.raises(ValueError, match="thumbprint"):
        key_from_text(key.kid, T0, text, cipher)


def test_rfc_8037_private_key_loads_under_its_thumbprint(cipher: DataCipher) -> None:
    private_key = Ed25519PrivateKey.from_private_bytes(b64url_decode(RFC8037_D))
    kid = RFC8037_THUMBPRINT[:16]
    text = cipher.encrypt(pem(private_key), context=f"signing-key:{kid}")
    loaded = key_from_text(kid, T0, text, cipher)
    assert loaded.public_jwk["x"] == RFC8037_X


@pytest.mark.parametrize(
    "private_key",
    [
        rsa.generate_private_key(public_exponent=65537, key_size=2048),
        ec.generate_private_key(ec.SECP256R1()),
    ],
    ids=["rsa", "ec"],
)
def test_a_stored_non_ed25519_key_is_refused(cipher: DataCipher, private_key: object) -> None:
    text = cipher.encrypt(pem(private_key), context="signing-key:abc")
    with pytest.raises(ValueError, match="not an Ed25519 key"):
        key_from_text("abc", T0, text, cipher)


def test_a_public_only_key_cannot_be_stored(cipher: DataCipher) -> None:
    public = public_key_from_jwk(generate_key(T0).public_jwk)
    with pytest.raises(ValueError, match="no private key"):
        private_to_text(public, cipher)


# --- public keys -----------------------------------------------------------------------------


def test_public_key_from_a_published_jwk_verifies() -> None:
    key = generate_key(T0)
    assert key.private_key is not None
    public = public_key_from_jwk(KeyRing([key]).jwks()["keys"][0], created_at=T0)
    assert public.private_key is None
    assert public.kid == key.kid
    assert public.public_jwk == key.public_jwk
    assert public.created_at == T0
    public.public_key.verify(key.private_key.sign(b"m"), b"m")


def test_public_key_keeps_a_foreign_kid() -> None:
    key = public_key_from_jwk({"kty": "OKP", "crv": "Ed25519", "x": RFC8037_X, "kid": "k-2026"})
    assert key.kid == key.public_jwk["kid"] == "k-2026"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"kty": "RSA"}, "Ed25519"),
        ({"crv": "Ed448"}, "Ed25519"),
        ({"crv": "X25519"}, "Ed25519"),
        ({"alg": "RS256"}, "alg"),
        ({"alg": "none"}, "alg"),
        ({"use": "enc"}, "signature key"),
        ({"x": ""}, "'x'"),
        ({"x": "AAAA"}, "32 bytes"),
        ({"x": "!!!"}, "'x'"),
        ({"x": 12}, "'x'"),
        ({"kid": 12}, "kid"),
    ],
)
def test_unusable_jwks_are_refused(change: dict[str, object], message: str) -> None:
    jwk = {"kty": "OKP", "crv": "Ed25519", "x": RFC8037_X, **change}
    with pytest.raises(ValueError, match=message):
        public_key_from_jwk(jwk)


# --- the ring --------------------------------------------------------------------------------


def test_ring_signs_with_the_newest_private_key_and_verifies_with_all() -> None:
    old = generate_key(T0)
    new = generate_key(T0 + timedelta(days=30))
    published_only = public_key_from_jwk(
        generate_key(T0).public_jwk, created_at=T0 + timedelta(days=60)
    )
    ring = KeyRing([old, published_only, new])
    assert ring.signing_key is new  # the newer public-only key cannot sign
    assert ring.get(old.kid) is old
    assert ring.get(new.kid) is new
    assert ring.get(published_only.kid) is published_only
    assert ring.get("missing") is None
    assert [key.kid for key in ring.keys] == [published_only.kid, new.kid, old.kid]


def test_ring_without_a_private_key_cannot_sign() -> None:
    with pytest.raises(LookupError, match="no private key"):
        _ = KeyRing([]).signing_key
    public = public_key_from_jwk(generate_key(T0).public_jwk)
    with pytest.raises(LookupError):
        _ = KeyRing([public]).signing_key


def test_ring_refuses_a_repeated_kid() -> None:
    key = generate_key(T0)
    with pytest.raises(ValueError, match="twice"):
        KeyRing([key, public_key_from_jwk(key.public_jwk)])


def test_jwks_publishes_every_public_key_and_nothing_private() -> None:
    old, new = generate_key(T0), generate_key(T0 + timedelta(days=1))
    jwks = KeyRing([old, new]).jwks()
    assert list(jwks) == ["keys"]
    assert [entry["kid"] for entry in jwks["keys"]] == [new.kid, old.kid]
    for entry, key in zip(jwks["keys"], (new, old), strict=True):
        assert entry == {
            "kid": key.kid,
            "kty": "OKP",
            "crv": "Ed25519",
            "x": key.public_jwk["x"],
            "alg": "EdDSA",
            "use": "sig",
        }
    assert all("d" not in entry for entry in jwks["keys"])  # no private member
    json.dumps(jwks)  # serialisable as is


def test_ring_is_immutable() -> None:
    key = generate_key(T0)
    ring = KeyRing([key])
    jwks = ring.jwks()
    jwks["keys"][0]["x"] = "tampered"
    jwks["keys"].clear()
    assert ring.jwks()["keys"][0]["x"] == key.public_jwk["x"]
    with pytest.raises(AttributeError):
        ring.extra = 1  # type: ignore[attr-defined]
    assert isinstance(ring.keys, tuple)


def test_rotation_builds_a_new_ring() -> None:
    first = generate_key(T0)
    ring = KeyRing([first])
    second = generate_key(T0 + timedelta(days=90))
    rotated = KeyRing([*ring.keys, second])
    assert ring.signing_key is first  # the old ring is unchanged
    assert rotated.signing_key is second
    assert rotated.get(first.kid) is first
    retired = KeyRing([key for key in rotated.keys if key.kid != first.kid])
    assert retired.get(first.kid) is None
