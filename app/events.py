"""Access events: one per call through the gateway, handed to sinks without waiting on storage.

Each call's outcome says whose fault a failure is, so an operator knows whom to call:

- ``success``: below 400;
- ``caller_error``: the caller's mistake, the gateway's refusals (401, 403, 404, 422, 429, a body
  that did not arrive whole: 400) and the upstream's own 4xx answers;
- ``upstream_error``: the city's system failed: its own 5xx answers, and the gateway's problems
  whose fault is the upstream's (a refused connection 503, a timeout 504, an invalid or cut-short
  answer 502, its breaker open after its repeated failures 503);
- ``gateway_error``: the gateway failed: its own 500, a full concurrency cap (503
  ``upstream-busy``: the gateway's capacity), every slot for validating large requests taken
  (503 ``validation-busy``), a request that looped back through it (508, a service pointing at
  the gateway).

The problem types carry the fault (``app.core.errors.ProblemType.fault``; the connector errors'
in ``app.connectors.base``), so the caller's ``fault`` and the count agree. A request the server
refuses before the app sees it (431, 408, bytes that are not HTTP) is no call and has no event.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from app.core.errors import Fault


class Outcome(StrEnum):
    SUCCESS = "success"
    CALLER_ERROR = "caller_error"
    UPSTREAM_ERROR = "upstream_error"
    GATEWAY_ERROR = "gateway_error"


@dataclass(frozen=True, slots=True)
class AccessEvent:
    """One call through /gw. ``event_id`` is minted by the gateway; request ids can repeat."""

    event_id: str
    request_id: str
    at: datetime
    client_id: str | None
    division: str
    service_id: int | None
    service: str | None  # "division/slug" when a service matched
    operation_id: str | None
    item_code: str | None
    method: str
    status: int
    outcome: Outcome
    # Whether the status is the upstream's own answer (passed through) or the gateway's.
    from_upstream: bool
    upstream_ms: float | None
    total_ms: float
    # For the audit log (issue 11): the caller's pairwise subject for this service, SHA-256 (hex)
    # of the request as received (see app.services.audit.digests) and of the body sent back.
    subject: str | None = None
    request_digest: str | None = None
    response_digest: str | None = None
    # A read of a resident's personal data: the resident, and why (the caller's stated purpose,
    # else the service's data classification). None when the call read nobody's personal data.
    personal_data_of: int | None = None
    purpose: str | None = None
    # How it was read, when a connector said so (e.g. "license-read": a client read a holder's
    # e-license under the holder's consent); None: the call carried the resident's ID number.
    read_kind: str | None = None


_BY_FAULT: dict[Fault, Outcome] = {
    "caller": Outcome.CALLER_ERROR,
    "upstream": Outcome.UPSTREAM_ERROR,
    "gateway": Outcome.GATEWAY_ERROR,
}


def outcome_of(status: int, *, from_upstream: bool, fault: Fault | None = None) -> Outcome:
    """Classify a finished call: whose fault, if anyone's (see the module's docstring).

    ``fault`` is the fault of the problem the gateway answered with (or of the failure that cut
    an upstream's answer short); without one the status decides, and a 5xx is the upstream's
    when it is the upstream's own answer (``from_upstream``), else the gateway's.
    """
    if fault is not None:
        return _BY_FAULT[fault]
    if status < 400:
        return Outcome.SUCCESS
    if status < 500:
        return Outcome.CALLER_ERROR
    return Outcome.UPSTREAM_ERROR if from_upstream else Outcome.GATEWAY_ERROR


class AccessEventSink(Protocol):
    """Receives access events. ``emit`` must return at once: it runs on the request path."""

    def emit(self, event: AccessEvent) -> None: ...


class RecentEvents:
    """Keeps the last ``size`` events in memory (for operators' views and tests)."""

    def __init__(self, size: int = 1000) -> None:
        self._events: deque[AccessEvent] = deque(maxlen=size)

    def emit(self, event: AccessEvent) -> None:
        self._events.append(event)

    def snapshot(self) -> Sequence[AccessEvent]:
        return list(self._events)


class FanOut:
    """Hands each event to several sinks."""

    def __init__(self, *sinks: AccessEventSink) -> None:
        self.sinks = sinks

    def emit(self, event: AccessEvent) -> None:
        for sink in self.sinks:
            sink.emit(event)
