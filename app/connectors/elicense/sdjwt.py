"""SD-JWT (draft-ietf-oauth-selective-disclosure-jwt) for e-licenses: issue, present, verify.

Only the subset the e-license needs: flat claims at the top level of the payload (no nested or
array-element disclosures), digests with SHA-256, no key binding (the presentation ends in ``~``),
compact serialisation. The issuer JWT is signed with the identity key ring's Ed25519 key (alg
EdDSA, header ``typ: dc+sd-jwt`` and ``kid``); ``verify`` takes keys only from the caller's lookup
by ``kid`` (``jwk``/``jku``/``x5c`` headers are ignored) after pinning the algorithm.

A disclosure is ``base64url(JSON [salt, name, value])`` with a 128-bit random salt; its digest is
``base64url(sha256(<the disclosure's ASCII text>))``. The payload's ``_sd`` holds the sorted
digests of every disclosable claim plus decoys, so neither order nor count says which are which.

``verify`` refuses with ``SdJwtInvalid``, whose ``reason`` is one of a few fixed ASCII phrases:
nothing the caller sent is echoed, so the reason is safe in logs and answers.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import math
import re
import secrets
import time
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.exceptions import InvalidSignature

from app.identity.keys import ALGORITHM, SigningKey

__all__ = [
    "HASH_ALGORITHM",
    "MAX_LENGTH",
    "SD_JWT_TYPE",
    "Disclosure",
    "KeyLookup",
    "SdJwtInvalid",
    "Verified",
    "issue",
    "make_disclosure",
    "present",
    "verify",
]

SD_JWT_TYPE = "dc+sd-jwt"
HASH_ALGORITHM = "sha-256"
# A license has a dozen or so short fields: its SD-JWT is 1-3 KiB. The bound is checked before
# anything is split or decoded, so a hostile text costs at most one length comparison.
MAX_LENGTH = 16 * 1024
KeyLookup = Callable[[str], SigningKey | None]

_SALT_BYTES = 16  # 128 bits, as the draft recommends
# Decoys pad _sd to a multiple of this, with at least ``decoys`` of them. A license type's fields
# are published (listLicenseTypes), so what the count could betray is which optional fields a
# license leaves empty. Padding to a bucket hides that deterministically; a random number of
# decoys would not, since the smallest count seen over many presentations of one license gives
# the true number away.
_PAD_TO = 4
_DEFAULT_DECOYS = 1
_RESERVED = frozenset({"_sd", "_sd_alg", "..."})
_B64URL = re.compile(r"[A-Za-z0-9_-]+")
_COMPACT = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
_DIGEST = re.compile(r"[A-Za-z0-9_-]{43}")  # base64url of 32 bytes, unpadded


class SdJwtInvalid(Exception):
    """A refused SD-JWT; ``reason`` says why (fixed ASCII text, never the caller's input)."""

    def __init__(self, reason: str) -> None:
        """Refuse with ``reason``."""
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Disclosure:
    """One disclosable claim: its salt, name and value, its encoded form and that form's digest."""

    salt: str
    name: str
    value: Any
    encoded: str
    digest: str


@dataclass(frozen=True, slots=True)
class Verified:
    """A verified SD-JWT: the always-visible claims, the disclosed ones, the JOSE header."""

    claims: dict[str, Any]
    disclosed: dict[str, Any]
    header: dict[str, Any]


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _digest(encoded: str) -> str:
    return _b64url(hashlib.sha256(encoded.encode("ascii")).digest())


def _no_constants(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # Parsers disagree on which of two equal keys wins; refusing both leaves nothing to disagree on.
    result = dict(pairs)
    if len(result) != len(pairs):
        raise ValueError("repeated object key")
    return result


def _loads(data: bytes) -> Any:
    return json.loads(data, parse_constant=_no_constants, object_pairs_hook=_unique_keys)


def _holds_sd(value: Any) -> bool:
    """Whether ``value`` holds an ``_sd`` key or a ``{"...": digest}`` array element anywhere."""
    stack = [value]  # iterative: a deeply nested value must not hit the recursion limit here
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if "_sd" in item or "..." in item:
                return True
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def _check_name(name: object) -> str:
    if not isinstance(name, str) or not name:
        raise ValueError("a disclosable claim's name must be a non-empty string")
    if name in _RESERVED:
        raise ValueError(f"{name!r} is reserved by SD-JWT and cannot be a claim name")
    return name


def make_disclosure(name: str, value: Any, salt: str | None = None) -> Disclosure:
    """The disclosure of claim ``name`` = ``value`` (a fresh 128-bit salt unless one is given)."""
    _check_name(name)
    if _holds_sd(value):
        raise ValueError("nested selective disclosure is not supported: value holds _sd or ...")
    if salt is None:
        salt = _b64url(secrets.token_bytes(_SALT_BYTES))
    elif not salt:
        raise ValueError("a salt must not be empty")
    # UTF-8 as it is: Chinese names and values stay a third shorter than as \\u escapes.
    text = json.dumps([salt, name, value], ensure_ascii=False, allow_nan=False)
    encoded = _b64url(text.encode("utf-8"))
    return Disclosure(salt, name, value, encoded, _digest(encoded))


def _decoy_digest() -> str:
    return _b64url(hashlib.sha256(secrets.token_bytes(32)).digest())


def _decoy_count(disclosable: int, minimum: int) -> int:
    total = disclosable + minimum
    return minimum + (-total % _PAD_TO)


def issue(
    key: SigningKey,
    *,
    visible: Mapping[str, Any],
    disclosable: Mapping[str, Any],
    decoys: int = _DEFAULT_DECOYS,
) -> tuple[str, list[Disclosure]]:
    """The issuer-signed JWT and one disclosure per ``disclosable`` claim (in its order).

    The payload is ``visible`` plus ``_sd_alg`` and ``_sd`` (the sorted digests of the disclosures
    and of at least ``decoys`` decoys, padded so that ``_sd`` has a multiple of 4 entries).
    ``visible`` must hold a numeric ``exp`` (``verify`` requires one), no ``_sd``/``_sd_alg`` and
    none of the disclosable names. LookupError when ``key`` cannot sign.
    """
    if key.private_key is None:
        raise LookupError(f"key {key.kid} has no private key to sign with")
    if decoys < 0:
        raise ValueError("decoys cannot be negative")
    if _holds_sd(dict(visible)) or "_sd_alg" in visible:
        raise ValueError("visible claims must not hold _sd, _sd_alg or ... (SD-JWT's own)")
    clashes = sorted(set(visible) & set(disclosable))
    if clashes:
        raise ValueError(f"claims both visible and disclosable: {', '.join(clashes)}")
    if not _is_number(visible.get("exp")):
        raise ValueError("visible claims need a numeric exp: an e-license SD-JWT always expires")
    disclosures = [make_disclosure(name, value) for name, value in disclosable.items()]
    digests = [d.digest for d in disclosures]
    digests += [_decoy_digest() for _ in range(_decoy_count(len(digests), decoys))]
    payload = {**visible, "_sd_alg": HASH_ALGORITHM, "_sd": sorted(digests)}
    token = jwt.encode(
        payload, key.private_key, algorithm=ALGORITHM, headers={"kid": key.kid, "typ": SD_JWT_TYPE}
    )
    return token, disclosures


def present(issuer_jwt: str, disclosures: Sequence[Disclosure], reveal: Collection[str]) -> str:
    """``<issuer_jwt>~<d1>~...~`` with the disclosures named in ``reveal`` (ValueError: unknown)."""
    known = {d.name for d in disclosures}
    unknown = sorted(set(reveal) - known)
    if unknown:
        raise ValueError(f"no disclosure for: {', '.join(unknown)}")
    chosen = [d.encoded for d in disclosures if d.name in reveal]
    return "~".join([issuer_jwt, *chosen, ""])


# ---------------------------------------------------------------------------------------------
# Verification.


def _is_number(value: object) -> bool:
    return (isinstance(value, int) and not isinstance(value, bool)) or (
        isinstance(value, float) and math.isfinite(value)
    )


def _json_object(data: bytes, reason: str) -> dict[str, Any]:
    try:
        value = _loads(data)
    except (ValueError, RecursionError):
        raise SdJwtInvalid(reason) from None
    if not isinstance(value, dict):
        raise SdJwtInvalid(reason)
    return value


def _typ_is(header: Mapping[str, Any], expected: str) -> bool:
    # RFC 7515 §4.1.9: media types compare case-insensitively, "application/" may be left out.
    typ = header.get("typ")
    if not isinstance(typ, str):
        return False
    typ = typ.lower()
    return typ in (expected, "application/" + expected)


def _split(text: object) -> tuple[str, list[str]]:
    if not isinstance(text, str):
        raise SdJwtInvalid("not an SD-JWT")
    if len(text) > MAX_LENGTH:
        raise SdJwtInvalid("SD-JWT too long")
    parts = text.split("~")
    if len(parts) < 2 or not _COMPACT.fullmatch(parts[0]):
        raise SdJwtInvalid("not an SD-JWT")
    if parts[-1]:
        raise SdJwtInvalid("key binding is not supported")
    return parts[0], parts[1:-1]


def _verify_jws(token: str, keys: KeyLookup) -> tuple[dict[str, Any], dict[str, Any]]:
    header_segment, payload_segment, signature_segment = token.split(".")
    try:
        header_bytes = _unb64url(header_segment)
        payload_bytes = _unb64url(payload_segment)
        signature = _unb64url(signature_segment)
    except (binascii.Error, ValueError):
        raise SdJwtInvalid("not an SD-JWT") from None
    # Spare bits in the last character would give one signature several spellings: a text that
    # differs but verifies. The header and payload are signed as text, so only this can vary.
    if _b64url(signature) != signature_segment:
        raise SdJwtInvalid("not an SD-JWT")
    header = _json_object(header_bytes, "not an SD-JWT")
    if header.get("alg") != ALGORITHM:
        raise SdJwtInvalid("algorithm not accepted (only EdDSA)")
    if not _typ_is(header, SD_JWT_TYPE):
        raise SdJwtInvalid("wrong type (typ): expected dc+sd-jwt")
    if "crit" in header:
        raise SdJwtInvalid("unsupported critical header parameters")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise SdJwtInvalid("no key id (kid)")
    key = keys(kid)
    if key is None:
        raise SdJwtInvalid("unknown key id")
    signing_input = token[: len(header_segment) + 1 + len(payload_segment)].encode("ascii")
    try:
        key.public_key.verify(signature, signing_input)
    except InvalidSignature:
        raise SdJwtInvalid("bad signature") from None
    # Signed, so from the issuer: still checked, since a key may sign other kinds of JWT.
    return header, _json_object(payload_bytes, "malformed payload")


def _check_payload(payload: Mapping[str, Any], now: float) -> set[str]:
    """The payload's ``_sd`` digests after its structure and times are checked."""
    if payload.get("_sd_alg") != HASH_ALGORITHM:
        raise SdJwtInvalid("unsupported or missing _sd_alg (only sha-256)")
    digests = payload.get("_sd", [])
    if not isinstance(digests, list) or not all(
        isinstance(d, str) and _DIGEST.fullmatch(d) for d in digests
    ):
        raise SdJwtInvalid("malformed _sd")
    unique = set(digests)
    if len(unique) != len(digests):
        raise SdJwtInvalid("repeated digest in _sd")
    if _holds_sd({k: v for k, v in payload.items() if k != "_sd"}):
        raise SdJwtInvalid("nested disclosures are not supported")
    for name in ("exp", "nbf", "iat"):
        if name in payload and not _is_number(payload[name]):
            raise SdJwtInvalid(f"claim {name} is not a number")
    if "exp" not in payload:
        raise SdJwtInvalid("no expiry (exp)")
    if now >= payload["exp"]:
        raise SdJwtInvalid("expired")
    if "nbf" in payload and now < payload["nbf"]:
        raise SdJwtInvalid("not yet valid")
    return unique


def _decode_disclosure(encoded: str) -> tuple[str, Any]:
    try:
        value = _loads(_unb64url(encoded))  # UTF-8 (or -16/-32) as RFC 8259 allows
    except (binascii.Error, ValueError, RecursionError):
        raise SdJwtInvalid("malformed disclosure") from None
    if (
        not isinstance(value, list)
        or len(value) != 3  # two would be an array element's disclosure: not issued here
        or not isinstance(value[0], str)
        or not isinstance(value[1], str)
        or not value[1]
        or value[1] in _RESERVED
        or _holds_sd(value[2])
    ):
        raise SdJwtInvalid("malformed disclosure")
    return value[1], value[2]


def _disclose(
    encoded_list: Iterable[str], digests: set[str], visible: Mapping[str, Any]
) -> dict[str, Any]:
    disclosed: dict[str, Any] = {}
    seen: set[str] = set()
    for encoded in encoded_list:
        if not _B64URL.fullmatch(encoded):
            raise SdJwtInvalid("malformed disclosure")
        digest = _digest(encoded)
        if digest in seen:
            raise SdJwtInvalid("repeated disclosure")
        seen.add(digest)
        # Checked before decoding: only what the issuer signed for is ever parsed.
        if digest not in digests:
            raise SdJwtInvalid("disclosure not in _sd")
        name, value = _decode_disclosure(encoded)
        if name in visible:
            raise SdJwtInvalid("disclosed claim collides with a visible claim")
        if name in disclosed:
            raise SdJwtInvalid("claim disclosed twice")
        disclosed[name] = value
    return disclosed


def verify(text: str, keys: KeyLookup, *, now: float | None = None) -> Verified:
    """The claims of a valid SD-JWT presentation (``keys``: e.g. a ``KeyRing``'s ``get``).

    SdJwtInvalid saying why otherwise: format, size, algorithm, type, key id, signature, expiry,
    ``_sd`` structure, and every disclosure (well-formed, its digest in ``_sd``, not repeated, not
    clashing with a visible claim or another disclosure).
    """
    token, encoded_list = _split(text)
    header, payload = _verify_jws(token, keys)
    digests = _check_payload(payload, time.time() if now is None else now)
    visible = {k: v for k, v in payload.items() if k not in ("_sd", "_sd_alg")}
    disclosed = _disclose(encoded_list, digests, visible)
    return Verified(visible, disclosed, header)
