"""Circuit breaker transitions and the concurrency cap, on a fake clock."""

from __future__ import annotations

import pytest

from app.connectors.base import CircuitOpen, UpstreamBusy
from app.gateway.resilience import BreakerState, CircuitBreaker, ConcurrencyLimit


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_opens_after_consecutive_failures_only() -> None:
    clock = Clock()
    breaker = CircuitBreaker("430100/bdc", threshold=3, cooldown=10, clock=clock)
    breaker.record_failure("timeout")
    breaker.record_failure("timeout")
    breaker.record_success()  # resets the run
    breaker.record_failure("timeout")
    breaker.record_failure("timeout")
    assert breaker.state is BreakerState.CLOSED
    breaker.before_call()
    breaker.record_failure("answered 503")
    assert breaker.state.value == "open"


def test_open_refuses_with_retry_after_then_half_open_probe() -> None:
    clock = Clock()
    breaker = CircuitBreaker("430100/bdc", threshold=1, cooldown=10, clock=clock)
    breaker.record_failure("refused")
    clock.now += 3
    with pytest.raises(CircuitOpen) as refused:
        breaker.before_call()
    assert refused.value.headers["Retry-After"] == "7"
    assert refused.value.extensions["last_error"] == "refused"
    clock.now += 7
    breaker.before_call()  # the probe
    assert breaker.state is BreakerState.HALF_OPEN
    with pytest.raises(CircuitOpen):
        breaker.before_call()  # only one probe at a time
    breaker.record_success()
    assert breaker.state.value == "closed"
    breaker.before_call()


def test_failed_probe_reopens_for_a_full_cooldown() -> None:
    clock = Clock()
    breaker = CircuitBreaker("s", threshold=2, cooldown=5, clock=clock)
    breaker.record_failure("x")
    breaker.record_failure("x")
    clock.now += 5
    breaker.before_call()
    breaker.record_failure("still down")
    assert breaker.state is BreakerState.OPEN
    with pytest.raises(CircuitOpen) as refused:
        breaker.before_call()
    assert refused.value.headers["Retry-After"] == "5"


def test_abandoned_probe_lets_another_try() -> None:
    clock = Clock()
    breaker = CircuitBreaker("s", threshold=1, cooldown=1, clock=clock)
    breaker.record_failure("x")
    clock.now += 1
    breaker.before_call()
    breaker.release_probe()
    breaker.before_call()


def test_concurrency_cap_refuses_instead_of_queueing() -> None:
    limit = ConcurrencyLimit("s", 2)
    limit.acquire()
    limit.acquire()
    with pytest.raises(UpstreamBusy):
        limit.acquire()
    limit.release()
    limit.acquire()
