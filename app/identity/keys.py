"""Signing keys for the gateway's JWTs: Ed25519 (``EdDSA``), a key ring, the published JWKS.

A key's id is the first 16 characters of its RFC 7638 JWK thumbprint (base64url SHA-256 of the
canonical public JWK): stable, derived from the key itself, 96 bits. Private keys are stored as
PKCS#8 PEM encrypted with the ``DataCipher`` under the context ``signing-key:<kid>``, so a stored
key cannot be passed off under another id. A ``KeyRing`` is immutable: rotation builds a new one
holding the new key and the older ones, which keep verifying until their tokens have expired.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from app.identity.crypto import DataCipher

__all__ = [
    "KeyRing",
    "SigningKey",
    "generate_key",
    "key_from_text",
    "private_to_text",
    "public_key_from_jwk",
]

ALGORITHM = "EdDSA"
_KID_LENGTH = 16
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _public_x(public_key: Ed25519PublicKey) -> str:
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return _b64url(raw)


def _thumbprint_kid(x: str) -> str:
    # RFC 7638 §3.2: the required members of an OKP key, in lexicographic order, no whitespace.
    canonical = json.dumps({"crv": "Ed25519", "kty": "OKP", "x": x}, separators=(",", ":"))
    return _b64url(hashlib.sha256(canonical.encode("ascii")).digest())[:_KID_LENGTH]


def _jwk(kid: str, x: str) -> dict[str, str]:
    return {"kid": kid, "kty": "OKP", "crv": "Ed25519", "x": x, "alg": ALGORITHM, "use": "sig"}


def _decode_x(x: object) -> Ed25519PublicKey:
    if not isinstance(x, str) or not x:
        raise ValueError("an Ed25519 JWK needs its public key in 'x'")
    try:
        raw = base64.urlsafe_b64decode(x + "=" * (-len(x) % 4))
    except (binascii.Error, ValueError) as exc:
        raise ValueError("the JWK's 'x' is not base64url") from exc
    if len(raw) != 32:
        raise ValueError(f"the JWK's 'x' must be 32 bytes, not {len(raw)}")
    return Ed25519PublicKey.from_public_bytes(raw)


@dataclass(frozen=True)
class SigningKey:
    """One Ed25519 key: its id, its public JWK, and the private key when this process signs."""

    kid: str
    algorithm: str
    private_key: Ed25519PrivateKey | None = field(repr=False, compare=False)
    public_jwk: dict[str, str]
    created_at: datetime
    public_key: Ed25519PublicKey = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        """Check the parts agree and keep the public key object for verification."""
        if not self.kid:
            raise ValueError("a signing key needs a kid")
        if self.algorithm != ALGORITHM:
            raise ValueError(f"signing keys are {ALGORITHM}, not {self.algorithm!r}")
        if self.created_at.tzinfo is None:
            raise ValueError("created_at must be timezone-aware")
        jwk = self.public_jwk
        if jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519":
            raise ValueError("the public JWK must be an Ed25519 key (kty OKP, crv Ed25519)")
        if jwk.get("kid", self.kid) != self.kid:
            raise ValueError("the public JWK's kid differs from the key's kid")
        public_key = _decode_x(jwk.get("x"))
        if self.private_key is not None and _public_x(self.private_key.public_key()) != jwk["x"]:
            raise ValueError("the private key does not belong to the public JWK")
        object.__setattr__(self, "public_key", public_key)


def generate_key(now: datetime) -> SigningKey:
    """A new Ed25519 signing key created at ``now`` (timezone-aware)."""
    return _from_private(Ed25519PrivateKey.generate(), now)


def _from_private(private_key: Ed25519PrivateKey, created_at: datetime) -> SigningKey:
    x = _public_x(private_key.public_key())
    kid = _thumbprint_kid(x)
    return SigningKey(kid, ALGORITHM, private_key, _jwk(kid, x), created_at)


def _context(kid: str) -> str:
    return f"signing-key:{kid}"


def private_to_text(key: SigningKey, cipher: DataCipher) -> str:
    """The private key as PKCS#8 PEM, encrypted under ``signing-key:<kid>``, for storage."""
    if key.private_key is None:
        raise ValueError(f"key {key.kid} has no private key to store")
    pem = key.private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return cipher.encrypt(pem.decode("ascii"), context=_context(key.kid))


def key_from_text(kid: str, created_at: datetime, text: str, cipher: DataCipher) -> SigningKey:
    """The stored key ``kid`` (DecryptionError if it was stored under another id or data key)."""
    pem = cipher.decrypt(text, context=_context(kid))
    private_key = serialization.load_pem_private_key(pem.encode("ascii"), password=None)
    if not isinstance(private_key, Ed25519PrivateKey):
        raise ValueError(f"stored key {kid} is not an Ed25519 key")
    key = _from_private(private_key, created_at)
    if key.kid != kid:
        raise ValueError(f"stored key {kid} has the thumbprint {key.kid}")
    return key


def public_key_from_jwk(jwk: Mapping[str, Any], *, created_at: datetime = _EPOCH) -> SigningKey:
    """A verify-only key from a published JWK (its kid kept, else the thumbprint's)."""
    if jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519":
        raise ValueError("only Ed25519 JWKs (kty OKP, crv Ed25519) are signing keys here")
    if jwk.get("alg", ALGORITHM) != ALGORITHM:
        raise ValueError(f"the JWK's alg must be {ALGORITHM}, not {jwk.get('alg')!r}")
    if jwk.get("use", "sig") != "sig":
        raise ValueError("the JWK is not a signature key (use is not 'sig')")
    _decode_x(jwk.get("x"))
    x: str = jwk["x"]
    kid = jwk.get("kid") or _thumbprint_kid(x)
    if not isinstance(kid, str):
        raise ValueError("the JWK's kid must be a string")
    return SigningKey(kid, ALGORITHM, None, _jwk(kid, x), created_at)


class KeyRing:
    """An immutable set of signing keys: the newest private one signs, all of them verify."""

    __slots__ = ("_by_kid", "_keys", "_signing")

    def __init__(self, keys: Iterable[SigningKey]) -> None:
        """A ring of ``keys`` (ValueError on a repeated kid)."""
        ordered = sorted(keys, key=lambda key: key.created_at, reverse=True)
        by_kid: dict[str, SigningKey] = {}
        for key in ordered:
            if key.kid in by_kid:
                raise ValueError(f"kid {key.kid} appears twice in the key ring")
            by_kid[key.kid] = key
        self._keys = tuple(ordered)
        self._by_kid = by_kid
        self._signing = next((key for key in ordered if key.private_key is not None), None)

    def __repr__(self) -> str:
        """The kids, newest first."""
        return f"KeyRing({[key.kid for key in self._keys]})"

    @property
    def keys(self) -> tuple[SigningKey, ...]:
        """Every key, newest first (build a new ring from these plus a new key to rotate)."""
        return self._keys

    @property
    def signing_key(self) -> SigningKey:
        """The newest key with a private key (LookupError when the ring only verifies)."""
        if self._signing is None:
            raise LookupError("the key ring has no private key to sign with")
        return self._signing

    def get(self, kid: str) -> SigningKey | None:
        """The key ``kid``, or None when the ring does not hold it."""
        return self._by_kid.get(kid)

    def jwks(self) -> dict[str, list[dict[str, str]]]:
        """The public JWK Set (RFC 7517) to publish at ``/.well-known/jwks.json``."""
        return {"keys": [dict(key.public_jwk) for key in self._keys]}
