"""Access events: one per call through the gateway, handed to a sink without waiting on storage."""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol


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


def outcome_of(status: int, *, from_upstream: bool) -> Outcome:
    """Classify a finished call: whose fault, if anyone's."""
    if status < 400:
        return Outcome.SUCCESS
    if status < 500:
        return Outcome.CALLER_ERROR
    if from_upstream or status in (502, 503, 504):
        return Outcome.UPSTREAM_ERROR
    return Outcome.GATEWAY_ERROR


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
