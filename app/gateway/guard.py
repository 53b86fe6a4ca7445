"""Who may call what through /gw: authentication, grants, assurance, rate limits, and what the
upstream learns about the caller. Everything here reads memory only (no database per call)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import NamedTuple

from starlette.types import Scope

from app.core.errors import Forbidden, TooManyRequests
from app.gateway.ratelimit import RateLimiter, ratelimit_headers
from app.gateway.routetable import RouteOperation, ServiceEntry
from app.identity.accounts import ID_CONTEXT
from app.identity.callers import Caller, bearer_token, identity_of
from app.identity.state import IdentityManager
from app.identity.tokens import issue_assertion
from app.models.service import DataClassification

# Classifications whose upstreams may receive the verified ID number (数据分级分类).
ID_NUMBER_ALLOWED = frozenset(
    {DataClassification.PERSONAL.value, DataClassification.SENSITIVE.value}
)
ASSERTION_HEADER = "x-xyb-assertion"
ASSERTION_TTL_S = 60
# An assertion is reused while more than this much of its life is left (signing costs ~50 µs,
# a dictionary look-up well under 1 µs); an upstream never receives one with under 30 s to live.
ASSERTION_REUSE_S = 30
ASSERTION_CACHE_SIZE = 50_000


class Asserted(NamedTuple):
    """What the gateway sends an upstream about the caller."""

    headers: list[tuple[str, str]]  # the assertion (and the service's own credentials)
    subject: str  # the pairwise subject the assertion carries
    # Whether the assertion carries the resident's verified ID number: the call reads the
    # personal data of the token's person (never of a legal person it acts for: the assertion
    # names no one else).
    with_id_number: bool
    # The ID number itself, for connectors that decide on it (app.connectors.base.CallerFacts).
    id_number: str | None = None


class GatewayGuard:
    """Authenticate, authorize and rate-limit a /gw call; sign what the upstream is told."""

    def __init__(self, identity: Callable[[], IdentityManager], limiter: RateLimiter) -> None:
        self._identity = identity
        self.limiter = limiter
        # (subject, client, service, with ID number, signing kid)
        #   -> (assertion, reuse until, pairwise subject, ID number)
        self._assertions: dict[
            tuple[str, str, str, bool, str], tuple[str, float, str, str | None]
        ] = {}

    def authenticate(self, scope: Scope) -> Caller:
        authorization = None
        for name, value in scope["headers"]:
            if name == b"authorization":
                authorization = value.decode("latin-1")
                break
        return identity_of(self._identity(), bearer_token(authorization), now=time.time())

    def authorize(self, caller: Caller, entry: ServiceEntry, operation: RouteOperation) -> None:
        client = self._identity().state.clients.get(caller.client_id)
        if client is None or not client.may_call(
            entry.division, entry.slug, operation.operation_id
        ):
            raise Forbidden(
                f"The client {caller.client_id} holds no grant for {operation.operation_id} of"
                f" {entry.key}.",
                extensions={
                    "missing_grant": {
                        "client_id": caller.client_id,
                        "division": entry.division,
                        "slug": entry.slug,
                        "operation": operation.operation_id,
                    }
                },
            )
        needed = entry.min_assurance
        if needed > 0 and (caller.person_id is None or caller.assurance < needed):
            have = caller.assurance if caller.person_id is not None else 0
            raise Forbidden(
                f"{entry.key} needs a resident's token of assurance {needed} or more; this one has"
                f" {have}. Sign in again through a stronger method (step-up).",
                extensions={"required_assurance": needed, "assurance": have, "step_up": True},
            )

    async def limit(self, caller: Caller) -> list[tuple[bytes, bytes]]:
        """Rate-limit headers for the answer; 429 over the client's limit."""
        client = self._identity().state.clients.get(caller.client_id)
        if client is None:
            return []
        decision = await self.limiter.acquire(f"client:{client.id}", client.policy)
        headers = ratelimit_headers(decision, client.policy)
        if not decision.allowed:
            raise TooManyRequests(
                f"The client {client.id} is over its limit of {client.policy.rate_per_s:g}"
                f" requests per second (burst {client.policy.burst}).",
                headers=dict(headers),
            )
        return [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers]

    def upstream_headers(self, caller: Caller, entry: ServiceEntry) -> Asserted:
        """The signed assertion (and the service's own upstream credentials, if any), with what
        it tells the upstream about the caller (for the access event and the audit log)."""
        manager = self._identity()
        subject = (
            f"p:{caller.person_id}" if caller.person_id is not None else f"c:{caller.client_id}"
        )
        sealed = caller.sealed_id_number if entry.data_classification in ID_NUMBER_ALLOWED else None
        with_id_number = sealed is not None
        keyring = manager.state.keyring
        key = (subject, caller.client_id, entry.key, with_id_number, keyring.signing_key.kid)
        now = time.time()
        cached = self._assertions.get(key)
        if cached is not None and cached[1] > now:
            assertion, _, pairwise, id_number = cached
        else:
            id_number = None
            if sealed is not None:
                id_number = manager.cipher.decrypt(sealed, context=ID_CONTEXT)
            # Kept with the assertion: the access event needs it on every call, and an HMAC per
            # call costs more than the look-up.
            pairwise = manager.cipher.pairwise(subject, entry.key)
            assertion = issue_assertion(
                keyring,
                issuer=manager.settings.resolved_issuer,
                audience=entry.key,
                subject=pairwise,
                client_id=caller.client_id,
                id_number=id_number,
                ttl_seconds=ASSERTION_TTL_S,
                now=now,
            )
            if len(self._assertions) >= ASSERTION_CACHE_SIZE:
                self._assertions.clear()  # rare; simpler than LRU bookkeeping on the hot path
            self._assertions[key] = (
                assertion,
                now + ASSERTION_TTL_S - ASSERTION_REUSE_S,
                pairwise,
                id_number,
            )
        headers = [(ASSERTION_HEADER, assertion)]
        if entry.upstream_auth is not None:
            headers.append(entry.upstream_auth)
        return Asserted(headers, pairwise, with_id_number, id_number)
