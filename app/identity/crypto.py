"""Personal data at rest: authenticated encryption, keyed look-up hashes and pairwise subjects.

One 32-byte master key (``XYB_DATA_KEY`` in production, generated into the data dir in
development) never touches data directly: HKDF-SHA256 derives a separate subkey per purpose, so
the encryption key, each look-up purpose's HMAC key and the pairwise-subject key are independent
(learning one reveals nothing about the others or the master key).

- ``encrypt``/``decrypt``: AES-256-GCM with a random 96-bit nonce and the caller's ``context``
  (e.g. ``"persons.id_number"``) as associated data, so a ciphertext copied into another column
  or row context does not decrypt. Tokens are ASCII: ``v1.`` + base64url(nonce | ciphertext | tag).
  Random nonces under one key stay safe up to about 2^32 encryptions (NIST SP 800-38D).
- ``lookup_hash``: HMAC-SHA256 (hex) under a key per purpose, for equality look-ups of encrypted
  values (one account per ID number). The value is hashed exactly as given: normalise it first.
- ``pairwise``: a stable pseudonymous subject per (subject, audience) that cannot be linked
  across audiences without the key (OIDC "pairwise" subject identifiers).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDFExpand

__all__ = ["DataCipher", "DecryptionError"]

_KEY_BYTES = 32
_NONCE_BYTES = 12
_TAG_BYTES = 16
_PREFIX = "v1."
# HKDF salt: a fixed, public domain separator (RFC 5869 §3.1 allows a constant salt).
_HKDF_SALT = b"xyb-gateway/data-cipher"
_B64URL = re.compile(r"[A-Za-z0-9_-]*")
_B64URL_KEY = re.compile(r"[A-Za-z0-9_-]+={0,2}")


class DecryptionError(ValueError):
    """A token that does not decrypt: tampered, another context, another key, or not a token."""


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _extract(master_key: bytes) -> bytes:
    """HKDF-Extract (RFC 5869 §2.2): the pseudorandom key all subkeys are expanded from."""
    return hmac.new(_HKDF_SALT, master_key, hashlib.sha256).digest()


def _expand(prk: bytes, info: bytes) -> bytes:
    """HKDF-Expand (RFC 5869 §2.3) of one subkey; ``info`` names its purpose."""
    return HKDFExpand(algorithm=hashes.SHA256(), length=_KEY_BYTES, info=info).derive(prk)


def _length_prefixed(*parts: str) -> bytes:
    out = bytearray()
    for part in parts:
        data = part.encode("utf-8")
        out += len(data).to_bytes(4, "big") + data
    return bytes(out)


class DataCipher:
    """Encryption, look-up hashes and pairwise subjects, each under its own HKDF subkey."""

    __slots__ = ("_aead", "_lookup_keys", "_pairwise_key", "_prk")

    def __init__(self, master_key: bytes) -> None:
        """Derive the subkeys from a 32-byte master key (ValueError for any other length)."""
        if not isinstance(master_key, bytes | bytearray) or len(master_key) != _KEY_BYTES:
            size = len(master_key) if isinstance(master_key, bytes | bytearray) else "no"
            raise ValueError(f"the data key must be exactly {_KEY_BYTES} bytes, not {size}")
        # HKDF-SHA256 = Extract once, then Expand per purpose (the info strings are injective:
        # a fixed label, and for look-ups a NUL then the purpose).
        self._prk = _extract(bytes(master_key))
        self._aead = AESGCM(_expand(self._prk, b"xyb/v1/encrypt"))
        self._pairwise_key = _expand(self._prk, b"xyb/v1/pairwise")
        self._lookup_keys: dict[str, bytes] = {}  # purpose -> subkey, derived on first use

    def __repr__(self) -> str:
        """Never show key material."""
        return "DataCipher(<secret>)"

    @classmethod
    def from_text(cls, text: str) -> DataCipher:
        """A cipher from a base64url master key (padding optional), as kept in settings."""
        value = text.strip()
        if not _B64URL_KEY.fullmatch(value):
            raise ValueError(
                "the data key must be base64url text (A-Z a-z 0-9 - _, optional = padding)"
            )
        try:
            raw = _unb64url(value.rstrip("="))
        except (binascii.Error, ValueError) as exc:
            raise ValueError("the data key is not valid base64url") from exc
        if len(raw) != _KEY_BYTES:
            raise ValueError(
                f"the data key must decode to {_KEY_BYTES} bytes (43 base64url characters), "
                f"not {len(raw)} bytes"
            )
        return cls(raw)

    @staticmethod
    def generate_text() -> str:
        """A new random master key as base64url text (43 characters, no padding)."""
        return _b64url(secrets.token_bytes(_KEY_BYTES))

    def encrypt(self, plaintext: str, *, context: str) -> str:
        """AES-256-GCM-encrypt ``plaintext`` bound to ``context``: ``v1.`` + base64url."""
        if not context:
            raise ValueError("an encryption context is required (e.g. 'persons.id_number')")
        nonce = secrets.token_bytes(_NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, plaintext.encode("utf-8"), self._aad(context))
        return _PREFIX + _b64url(nonce + sealed)

    def decrypt(self, token: str, *, context: str) -> str:
        """The plaintext of ``token`` under ``context``; DecryptionError for anything else."""
        if not isinstance(token, str) or not token.startswith(_PREFIX):
            raise DecryptionError("not an encrypted value (expected the 'v1.' prefix)")
        body = token[len(_PREFIX) :]
        if not _B64URL.fullmatch(body) or len(body) % 4 == 1:
            raise DecryptionError("not an encrypted value (invalid base64url)")
        raw = _unb64url(body)
        if len(raw) < _NONCE_BYTES + _TAG_BYTES:
            raise DecryptionError("not an encrypted value (too short)")
        try:
            plain = self._aead.decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], self._aad(context))
        except InvalidTag:
            raise DecryptionError(
                "the value does not decrypt: tampered, another context or another key"
            ) from None
        try:
            return plain.decode("utf-8")
        except UnicodeDecodeError:  # pragma: no cover - authenticated, so only our own output
            raise DecryptionError("the decrypted value is not UTF-8") from None

    def lookup_hash(self, value: str, *, purpose: str) -> str:
        """HMAC-SHA256 (64 hex characters) of ``value`` under the key of ``purpose``."""
        key = self._lookup_keys.get(purpose)
        if key is None:
            if not purpose:
                raise ValueError("a look-up purpose is required (e.g. 'id_number')")
            key = _expand(self._prk, b"xyb/v1/lookup\x00" + purpose.encode("utf-8"))
            self._lookup_keys[purpose] = key
        return hmac.new(key, value.encode("utf-8"), hashlib.sha256).hexdigest()

    def pairwise(self, subject: str, audience: str) -> str:
        """A stable pseudonym of ``subject`` for ``audience``: 32 characters of [a-z2-7]."""
        digest = hmac.new(
            self._pairwise_key, _length_prefixed(subject, audience), hashlib.sha256
        ).digest()
        return base64.b32encode(digest[:20]).decode("ascii").lower()

    @staticmethod
    def _aad(context: str) -> bytes:
        return b"xyb/v1\x00" + context.encode("utf-8")
