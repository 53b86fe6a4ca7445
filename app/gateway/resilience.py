"""Per-service protection of upstreams: a circuit breaker and a cap on concurrent calls.

Every refusal that knows when to try again says so in ``Retry-After``: an open breaker (the
seconds left of its cool-down), the call whose failure opened it (the whole cool-down), and a
full cap (1 s: calls in flight end within the service's timeout, usually far sooner).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from enum import StrEnum

from app.connectors.base import CircuitOpen, ConnectorError, UpstreamBusy


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitBreaker:
    """Opens after ``threshold`` consecutive failures; after ``cooldown`` one probe may pass.

    Failures are connection failures, timeouts, invalid answers and 5xx answers. While open the
    upstream is not called. A successful probe closes the breaker; a failed one reopens it.
    """

    def __init__(
        self,
        service: str,
        *,
        threshold: int,
        cooldown: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.service = service
        self.threshold = max(1, threshold)
        self.cooldown = cooldown
        self._clock = clock
        self.state = BreakerState.CLOSED
        self.failures = 0
        self._opened_at = 0.0
        self._probe_in_flight = False
        self.last_error: str | None = None

    def retry_after(self) -> int:
        """Whole seconds until a probe may pass (at least 1)."""
        remaining = self.cooldown - (self._clock() - self._opened_at)
        return max(1, math.ceil(remaining))

    def before_call(self) -> None:
        """Raise :class:`CircuitOpen` unless a call may go to the upstream now."""
        if self.state is BreakerState.CLOSED:
            return
        if self.state is BreakerState.OPEN:
            if self._clock() - self._opened_at < self.cooldown:
                raise self._open_error()
            self.state = BreakerState.HALF_OPEN
            self._probe_in_flight = False
        # Half-open: exactly one probe at a time.
        if self._probe_in_flight:
            raise self._open_error()
        self._probe_in_flight = True

    def record_success(self) -> None:
        self.failures = 0
        self._probe_in_flight = False
        self.state = BreakerState.CLOSED

    def record_failure(self, reason: str) -> None:
        self.last_error = reason
        self._probe_in_flight = False
        if self.state is BreakerState.HALF_OPEN:
            self._open()
            return
        self.failures += 1
        if self.failures >= self.threshold:
            self._open()

    def record_error(self, error: ConnectorError) -> None:
        """Record a failed call; if it opened the breaker, its answer says when to come back."""
        self.record_failure(error.detail)
        if self.state is BreakerState.OPEN:
            seconds = self.retry_after()
            error.headers.setdefault("Retry-After", str(seconds))
            error.extensions.setdefault("retry_after", seconds)

    def release_probe(self) -> None:
        """A probe ended without a verdict (e.g. the caller went away): let another one try."""
        self._probe_in_flight = False

    def _open(self) -> None:
        self.state = BreakerState.OPEN
        self._opened_at = self._clock()

    def _open_error(self) -> CircuitOpen:
        seconds = self.retry_after()
        return CircuitOpen(
            f"The upstream of {self.service} failed {self.threshold} times in a row; the gateway"
            f" will try it again in {seconds} s.",
            headers={"Retry-After": str(seconds)},
            extensions={"retry_after": seconds, "last_error": self.last_error},
        )


class ConcurrencyLimit:
    """At most ``limit`` calls in flight to one upstream; the next one is refused, not queued."""

    def __init__(self, service: str, limit: int) -> None:
        self.service = service
        self.limit = max(1, limit)
        self.in_flight = 0

    def acquire(self) -> None:
        if self.in_flight >= self.limit:
            raise UpstreamBusy(
                f"{self.service} already has {self.limit} calls in flight (its cap); try again"
                " shortly.",
                headers={"Retry-After": "1"},
            )
        self.in_flight += 1

    def release(self) -> None:
        self.in_flight -= 1
