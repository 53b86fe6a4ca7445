"""Operators' dashboard sessions: a signed, expiring token in an HttpOnly cookie.

The token is ``v1.<payload>.<mac>`` (base64url): the payload is compact JSON with the operator's
username, roles, issue and expiry times (Unix seconds), a random id, and a fingerprint of the
operator's password hash; the MAC is HMAC-SHA256 over ``v1.<payload>`` under a key derived from
the data key (``XYB_DATA_KEY``) with HKDF-SHA256 (its own salt and info, so it is independent of
every other subkey). Nothing is stored server-side; a token stops working when it expires
(``XYB_OPERATOR_SESSION_TTL``), when its MAC or shape is wrong, when the account is disabled or
its password changes (the fingerprint no longer matches), or, on the instance that signed the
operator out, after logout: sign-outs are the one thing kept server-side, in the database
(``operator_session_ends``, see ``app.services.ops.operators.end_session``), so that they hold on
every worker and instance and across restarts.

The cookie: ``xyb_ops_session``, ``Path=/ops`` (never sent to /gw or anywhere else),
``HttpOnly``, ``SameSite=Strict``, ``Secure`` when the request came over https, ``Max-Age`` = the
TTL. Strict rather than Lax: nothing legitimately reaches the operators' pages from another
site, and Strict keeps the cookie off every cross-site request, top-level navigations included.
State-changing cookie requests (login, logout) also check ``Origin`` (or ``Referer``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

COOKIE_NAME = "xyb_ops_session"
COOKIE_PATH = "/ops"
_PREFIX = "v1."
_SALT = b"xyb-gateway/ops-session"
_MAX_TOKEN = 4096
_CLOCK_SKEW_S = 60


class InvalidSession(ValueError):
    """A session token that cannot be used; ``reason`` is a short fixed phrase."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class SessionClaims:
    username: str
    roles: tuple[str, ...]
    issued_at: int
    expires_at: int
    session_id: str
    password_fingerprint: str


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    if not text or not text.isascii() or len(text) % 4 == 1:
        raise InvalidSession("malformed")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise InvalidSession("malformed") from None


def _master_key(text: str) -> bytes:
    value = text.strip().rstrip("=")
    raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    if len(raw) != 32:
        raise ValueError("the data key must decode to 32 bytes")
    return raw


class SessionSigner:
    """Issues and verifies operators' session tokens (and keys their login throttle)."""

    __slots__ = ("_mac_key", "_throttle_key")

    def __init__(self, data_key: str) -> None:
        master = _master_key(data_key)
        self._mac_key = HKDF(
            algorithm=hashes.SHA256(), length=32, salt=_SALT, info=b"xyb/v1/ops-session/mac"
        ).derive(master)
        self._throttle_key = HKDF(
            algorithm=hashes.SHA256(), length=32, salt=_SALT, info=b"xyb/v1/ops-session/throttle"
        ).derive(master)

    def __repr__(self) -> str:
        return "SessionSigner(<secret>)"

    def _mac(self, signed: str) -> bytes:
        return hmac.new(self._mac_key, signed.encode("ascii"), hashlib.sha256).digest()

    def fingerprint(self, password_hash: str) -> str:
        """A short keyed digest of the stored hash: a password change ends every session."""
        digest = hmac.new(self._mac_key, b"pw\x00" + password_hash.encode(), hashlib.sha256)
        return _b64(digest.digest()[:12])

    def throttle_key(self, username: str) -> str:
        """The login throttle's key for ``username`` (a keyed hash: no names in Redis)."""
        digest = hmac.new(self._throttle_key, username.lower().encode(), hashlib.sha256)
        return "op:" + digest.hexdigest()[:32]

    def issue(
        self,
        username: str,
        roles: list[str] | tuple[str, ...],
        password_hash: str,
        *,
        ttl: int,
        now: float | None = None,
    ) -> tuple[str, SessionClaims]:
        issued = int(time.time() if now is None else now)
        claims = SessionClaims(
            username=username,
            roles=tuple(roles),
            issued_at=issued,
            expires_at=issued + ttl,
            session_id=_b64(secrets.token_bytes(12)),
            password_fingerprint=self.fingerprint(password_hash),
        )
        payload = {
            "sub": claims.username,
            "roles": list(claims.roles),
            "iat": claims.issued_at,
            "exp": claims.expires_at,
            "sid": claims.session_id,
            "pwf": claims.password_fingerprint,
        }
        body = _b64(json.dumps(payload, separators=(",", ":"), ensure_ascii=True).encode())
        signed = _PREFIX + body
        return f"{signed}.{_b64(self._mac(signed))}", claims

    def verify(self, token: str, *, now: float | None = None) -> SessionClaims:
        """The claims of a genuine, unexpired token; InvalidSession otherwise."""
        if not token or len(token) > _MAX_TOKEN or not token.startswith(_PREFIX):
            raise InvalidSession("malformed")
        signed, dot, mac = token.rpartition(".")
        if not dot or signed.count(".") != 1:
            raise InvalidSession("malformed")
        if not hmac.compare_digest(self._mac(signed), _unb64(mac)):
            raise InvalidSession("bad signature")
        try:
            payload: Any = json.loads(_unb64(signed[len(_PREFIX) :]))
        except ValueError:
            raise InvalidSession("malformed") from None
        if not isinstance(payload, dict):
            raise InvalidSession("malformed")
        sub, roles, iat, exp = (payload.get(k) for k in ("sub", "roles", "iat", "exp"))
        sid, pwf = payload.get("sid"), payload.get("pwf")
        if not (
            isinstance(sub, str)
            and isinstance(roles, list)
            and all(isinstance(r, str) for r in roles)
            and isinstance(iat, int)
            and isinstance(exp, int)
            and isinstance(sid, str)
            and isinstance(pwf, str)
        ):
            raise InvalidSession("malformed")
        moment = time.time() if now is None else now
        if moment >= exp:
            raise InvalidSession("expired")
        if iat > moment + _CLOCK_SKEW_S:
            raise InvalidSession("issued in the future")
        return SessionClaims(sub, tuple(roles), iat, exp, sid, pwf)
