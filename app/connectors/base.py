"""The connector contract and its error tree.

A connector carries one request to one upstream and returns the upstream's answer. The gateway
does everything else (routing, validation, breaker, counting); connectors stay small.

Errors, with whose fault each is (the problem's ``fault``, the access event's outcome)::

    ConnectorError                 a technical failure: the upstream gave no usable answer
    ├── UpstreamUnavailable        503 upstream: could not reach it (refused, DNS, no route, pool
    │   │                          exhausted, an address no upstream may have)
    │   ├── CircuitOpen            503 upstream: not called, its breaker is open after repeated
    │   │                          failures of the upstream (Retry-After)
    │   └── UpstreamBusy           503 gateway: not called, the gateway's cap on calls in flight
    │                              to it is reached (the gateway's capacity, not the city's fault)
    ├── UpstreamTimeout            504 upstream: no complete answer within the service's timeout
    └── UpstreamBadResponse        502 upstream: an answer that is not valid HTTP, is cut short,
                                   is too large, or declares JSON and is not JSON

Logical errors are not exceptions: an upstream's own answer (a 404, a 500 with its error body)
is returned as an :class:`UpstreamResponse` and passed through unchanged, marked with a header
naming the service. Transport exceptions (httpx, aiohttp, OS) are mapped to this tree in one
place, :func:`app.connectors.errors.map_transport_error`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import httpx

from app.core.config import Settings
from app.core.errors import GatewayError, register_problem_type

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

    from app.identity.state import IdentityManager

UPSTREAM_UNAVAILABLE = register_problem_type(
    "upstream-unavailable",
    503,
    "Upstream unavailable",
    "The gateway could not reach the service's upstream (connection refused, DNS, network).",
)
UPSTREAM_CIRCUIT_OPEN = register_problem_type(
    "upstream-circuit-open",
    503,
    "Upstream circuit open",
    "The upstream failed repeatedly; the gateway stops calling it for a while. Retry-After says"
    " when it will try again.",
)
UPSTREAM_BUSY = register_problem_type(
    "upstream-busy",
    503,
    "Upstream at capacity",
    "The gateway's cap on concurrent calls to this service is reached; the upstream was not"
    " called. Retry shortly.",
    fault="gateway",
)
UPSTREAM_TIMEOUT = register_problem_type(
    "upstream-timeout",
    504,
    "Upstream timeout",
    "The upstream did not answer completely within the service's timeout.",
)
UPSTREAM_BAD_RESPONSE = register_problem_type(
    "upstream-bad-response",
    502,
    "Bad upstream response",
    "The upstream's answer was not valid HTTP, was cut short, was too large, or declared JSON"
    " and was not JSON.",
)


class ConnectorError(GatewayError):
    """A technical failure talking to an upstream (never the upstream's own answer)."""

    problem = UPSTREAM_UNAVAILABLE
    # True when the request certainly never reached the upstream, so a retry cannot duplicate it.
    not_sent: bool = False


class UpstreamUnavailable(ConnectorError):
    problem = UPSTREAM_UNAVAILABLE


class CircuitOpen(UpstreamUnavailable):
    problem = UPSTREAM_CIRCUIT_OPEN


class UpstreamBusy(UpstreamUnavailable):
    problem = UPSTREAM_BUSY


class UpstreamTimeout(ConnectorError):
    problem = UPSTREAM_TIMEOUT


class UpstreamBadResponse(ConnectorError):
    problem = UPSTREAM_BAD_RESPONSE


@dataclass(frozen=True, slots=True)
class CallerFacts:
    """What the gateway verified about the caller, for connectors that decide on it (the
    e-license connector: whose licenses, whose consent). Never taken from the caller's headers."""

    client_id: str
    kind: str  # "person" | "client" | "admin-token"
    roles: frozenset[str]
    person_id: int | None
    assurance: int
    # The legal person a resident acts for (an agent's token), by its id.
    acting_for: int | None
    # The resident's verified ID number: only when the service's classification lets it see it.
    id_number: str | None
    # The caller's Xyb-Purpose, already checked (app.gateway.purpose).
    purpose: str | None
    # A client's own division (GB/T 2260), when it has one: a department issues within it.
    division: str | None = None


@dataclass(frozen=True, slots=True)
class PersonalRead:
    """A connector's word that its answer disclosed a resident's personal data (not the caller's
    own): the gateway records it in the personal-data access log."""

    person_id: int
    purpose: str
    kind: str


@dataclass(frozen=True, slots=True)
class UpstreamRequest:
    """One call to an upstream, relative to the service's base URL."""

    method: str
    # Percent-encoded path below the upstream's base URL, starting with "/".
    path: str
    # Raw query string without "?" (percent-encoded as the caller sent it).
    query: str
    headers: Sequence[tuple[str, str]]
    body: bytes
    # Seconds for the whole exchange: connecting, retries, headers and a buffered body.
    timeout: float
    idempotent: bool
    # Who is calling, for the headers the gateway adds (never taken from the caller's headers).
    request_id: str
    division: str
    client_id: str | None = None
    # Headers the gateway adds for this upstream (its signed assertion, the service's own
    # credentials): never taken from the caller.
    extra_headers: Sequence[tuple[str, str]] = ()
    caller: CallerFacts | None = None


async def _no_more() -> AsyncIterator[bytes]:
    return
    yield  # pragma: no cover


async def _nothing_to_close() -> None:
    return None


@dataclass(slots=True)
class UpstreamResponse:
    """The upstream's answer: headers and the first (often whole) part of the body.

    ``body`` holds what was read while the deadline applied. When the answer was larger than the
    buffer, ``rest`` yields the remainder (bounded by the size cap) and ``aclose`` must be awaited.
    """

    status: int
    headers: list[tuple[str, str]]
    body: bytes
    complete: bool = True
    # The upstream's Content-Length (the relayed headers leave framing to the gateway); a HEAD
    # answer needs it, as it has no body to measure.
    declared_length: int | None = None
    rest: Callable[[], AsyncIterator[bytes]] = field(default=_no_more)
    aclose: Callable[[], Awaitable[None]] = field(default=_nothing_to_close)
    personal_read: PersonalRead | None = None


@dataclass(frozen=True, slots=True)
class ConnectorConfig:
    """What a connector is built from: one upstream of one service."""

    service: str  # "division/slug", for messages and headers
    base_url: str
    transport: httpx.AsyncBaseTransport
    max_connections: int
    buffer_bytes: int
    max_response_bytes: int
    retries: int
    # The pseudonym this gateway adds to Via (loop detection).
    gateway_id: str = "xyb-gateway"
    # What the gateway lends connectors that keep state of their own (None where it is not
    # running, e.g. a connector built by a test or a tool).
    host: ConnectorHost | None = None


@dataclass(frozen=True, slots=True)
class ConnectorHost:
    """The gateway's database and identity (keys, cipher), for connectors that keep state of their
    own: the e-license connector's consents and presentations."""

    sessionmaker: async_sessionmaker[AsyncSession]
    identity: Callable[[], IdentityManager]
    settings: Settings
    # "Now" for the state a connector keeps (the hotline's deadlines); tests fix it.
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))


@runtime_checkable
class Connector(Protocol):
    """Carries requests to one upstream; one instance (one connection pool) per upstream."""

    kind: str

    async def send(self, request: UpstreamRequest) -> UpstreamResponse:
        """Send ``request``; return the upstream's answer or raise a :class:`ConnectorError`."""
        ...

    async def aclose(self) -> None:
        """Close the connection pool."""
        ...


class ConnectorFactory(Protocol):
    """What the ``xyb.connectors`` entry points name: builds a connector for one upstream."""

    def __call__(self, config: ConnectorConfig) -> Connector: ...
