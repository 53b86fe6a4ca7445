"""The gateway's signed assertion, checked as a real upstream checks it: offline, with the keys
the gateway publishes (its JWK Set), read again on every call so a rotation is followed.

A simulator given the gateway's keys builds one checker with :func:`gateway_assertions` and
calls :meth:`GatewayAssertions.verify` on the ``X-XYB-Assertion`` header; a refusal is an
:class:`AssertionRefused`, which each simulator answers in its own protocol (its envelope, its
status and its code). Without keys (contract replay, which has no gateway) there is no checker.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from app.identity.keys import public_key_from_jwk
from app.identity.tokens import InvalidToken, verify_assertion

ASSERTION_HEADER = "X-XYB-Assertion"

Jwks = Mapping[str, Any]
# The gateway's JWK Set, or a function that returns the current one.
JwksSource = Jwks | Callable[[], Jwks]


class AssertionRefused(Exception):
    """The assertion is missing, forged, expired or addressed to someone else; ``reason`` says
    which, in the words every simulator answers with."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class GatewayAssertions:
    """Verifies the gateway's assertions by ``issuer`` for ``audience`` with its published keys."""

    jwks: Callable[[], Jwks]
    issuer: str
    audience: str

    def verify(self, token: str | None, now: float | None = None) -> dict[str, Any]:
        """The assertion's claims; :class:`AssertionRefused` otherwise. ``now`` (epoch
        seconds) decides what has expired (None: the wall clock)."""
        if not token:
            raise AssertionRefused(f"缺少网关断言（{ASSERTION_HEADER}）")
        keys = {}
        for jwk in self.jwks().get("keys", []):
            try:
                key = public_key_from_jwk(jwk)
            except (ValueError, TypeError):
                continue
            keys[key.kid] = key
        try:
            return verify_assertion(
                token, keys.get, issuer=self.issuer, audience=self.audience, now=now
            )
        except InvalidToken as refused:
            raise AssertionRefused(f"网关断言无效：{refused}") from None


def _jwks_source(jwks: JwksSource) -> Callable[[], Jwks]:
    if callable(jwks):
        return jwks
    fixed = dict(jwks)
    return lambda: fixed


def gateway_assertions(
    gateway_jwks: JwksSource | None, issuer: str | None, audience: str
) -> GatewayAssertions | None:
    """The checker of a simulator given ``gateway_jwks`` (None without keys: nothing is
    checked); ValueError for keys without the gateway's ``issuer``."""
    if gateway_jwks is None:
        return None
    if not issuer:
        raise ValueError("checking the gateway's assertions needs its issuer")
    return GatewayAssertions(_jwks_source(gateway_jwks), issuer, audience)
