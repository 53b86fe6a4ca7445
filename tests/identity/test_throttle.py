"""Login throttle: free failures, doubling locks, windows, success, bounds, Redis, fallback."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import pytest

from app.gateway.ratelimit import limiter_redis
from app.identity.throttle import LoginThrottle
from tests.databases import TEST_REDIS_URL

if TYPE_CHECKING:
    from redis.asyncio import Redis

needs_redis = pytest.mark.skipif(TEST_REDIS_URL is None, reason="XYB_TEST_REDIS_URL not set")

ACCOUNT = "acct-hmac-5f1c"  # callers pass keyed hashes, never ID numbers
ADDRESS = "203.0.113.7"


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


async def test_free_failures_then_doubling_locks_capped() -> None:
    clock = FakeClock()
    throttle = LoginThrottle(account_free=3, max_lockout_s=10, clock=clock)
    for _ in range(3):
        assert await throttle.check(account=ACCOUNT, address=None) is None
        await throttle.failure(account=ACCOUNT, address=None)
    assert await throttle.check(account=ACCOUNT, address=None) is None

    locks = []
    for _ in range(6):
        await throttle.failure(account=ACCOUNT, address=None)
        wait = await throttle.check(account=ACCOUNT, address=None)
        assert wait is not None
        locks.append(wait)
        clock.advance(wait)  # the caller waits it out, then fails again
        assert await throttle.check(account=ACCOUNT, address=None) is None
    assert locks == [1, 2, 4, 8, 10, 10]


async def test_attempts_during_a_lock_get_the_remaining_time() -> None:
    clock = FakeClock()
    throttle = LoginThrottle(account_free=0, clock=clock)
    for _ in range(3):
        await throttle.failure(account=ACCOUNT, address=None)  # locks of 1, 2, 4 s
    assert await throttle.check(account=ACCOUNT, address=None) == pytest.approx(4)
    clock.advance(1.5)
    assert await throttle.check(account=ACCOUNT, address=None) == pytest.approx(2.5)


async def test_success_clears_the_account_not_the_address() -> None:
    clock = FakeClock()
    throttle = LoginThrottle(account_free=2, address_free=2, clock=clock)
    for _ in range(2):
        await throttle.failure(account=ACCOUNT, address=ADDRESS)
    await throttle.success(account=ACCOUNT)
    # The account starts again; the address does not: its next failure locks it.
    await throttle.failure(account="someone-else", address=ADDRESS)
    assert await throttle.check(account=None, address=ADDRESS) == pytest.approx(1)
    assert await throttle.check(account=ACCOUNT, address=None) is None
    await throttle.failure(account=ACCOUNT, address=None)
    assert await throttle.check(account=ACCOUNT, address=None) is None


async def test_an_address_lock_stops_every_account_from_it() -> None:
    clock = FakeClock()
    throttle = LoginThrottle(account_free=100, address_free=3, clock=clock)
    for i in range(4):
        await throttle.failure(account=f"acct-{i}", address=ADDRESS)
    assert await throttle.check(account="acct-new", address=ADDRESS) == pytest.approx(1)
    assert await throttle.check(account="acct-new", address="198.51.100.1") is None


async def test_the_longer_of_two_locks_wins() -> None:
    clock = FakeClock()
    throttle = LoginThrottle(account_free=0, address_free=1, clock=clock)
    for _ in range(3):
        await throttle.failure(account=ACCOUNT, address=ADDRESS)  # account 1,2,4; address -,1,2
    assert await throttle.check(account=ACCOUNT, address=ADDRESS) == pytest.approx(4)
    assert await throttle.check(account=None, address=ADDRESS) == pytest.approx(2)


async def test_failures_count_within_the_window() -> None:
    clock = FakeClock()
    throttle = LoginThrottle(account_free=2, window_s=900, clock=clock)
    await throttle.failure(account=ACCOUNT, address=None)
    clock.advance(600)
    await throttle.failure(account=ACCOUNT, address=None)
    clock.advance(301)  # the window opened by the first failure has ended: free again
    await throttle.failure(account=ACCOUNT, address=None)
    assert await throttle.check(account=ACCOUNT, address=None) is None
    await throttle.failure(account=ACCOUNT, address=None)
    await throttle.failure(account=ACCOUNT, address=None)  # third in the new window
    assert await throttle.check(account=ACCOUNT, address=None) == pytest.approx(1)


async def test_no_keys_no_throttle() -> None:
    throttle = LoginThrottle(account_free=0)
    await throttle.failure(account=None, address=None)
    await throttle.success(account=None)
    assert await throttle.check(account=None, address=None) is None
    assert len(throttle) == 0


async def test_memory_is_bounded_and_idle_records_go() -> None:
    clock = FakeClock()
    throttle = LoginThrottle(max_keys=50, window_s=10, clock=clock)
    for i in range(500):
        await throttle.failure(account=f"acct-{i}", address=None)
    assert len(throttle) == 50
    clock.advance(3600)
    for i in range(30):
        await throttle.failure(account=f"late-{i}", address=None)
    assert len(throttle) == 30  # each failure dropped two idle records


@pytest.mark.parametrize("kwargs", [{"account_free": -1}, {"window_s": 0}, {"max_lockout_s": -1}])
def test_nonsense_settings_are_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match=r"must|cannot"):
        LoginThrottle(**kwargs)  # type: ignore[arg-type]


# --- Redis ---------------------------------------------------------------------------------------


@pytest.fixture
async def redis_client() -> AsyncIterator[Redis]:
    assert TEST_REDIS_URL is not None
    client = limiter_redis(TEST_REDIS_URL)
    yield client
    await client.aclose()


@pytest.fixture
def prefix() -> str:
    return f"xyb:test:lt:{uuid.uuid4().hex[:12]}:"


@needs_redis
async def test_redis_free_failures_then_locks(redis_client: Redis, prefix: str) -> None:
    throttle = LoginThrottle(redis_client, account_free=2, prefix=prefix)
    for _ in range(2):
        await throttle.failure(account=ACCOUNT, address=ADDRESS)
    assert await throttle.check(account=ACCOUNT, address=ADDRESS) is None
    await throttle.failure(account=ACCOUNT, address=ADDRESS)
    first = await throttle.check(account=ACCOUNT, address=ADDRESS)
    assert first is not None
    assert 0.5 < first <= 1.0
    await throttle.failure(account=ACCOUNT, address=ADDRESS)  # a racing attempt: 2 s now
    second = await throttle.check(account=ACCOUNT, address=ADDRESS)
    assert second is not None
    assert 1.5 < second <= 2.0
    # Nothing was kept in memory: the state is Redis', shared by every instance.
    assert len(throttle) == 0
    other_instance = LoginThrottle(redis_client, account_free=2, prefix=prefix)
    assert await other_instance.check(account=ACCOUNT, address=None) is not None

    await throttle.success(account=ACCOUNT)
    assert await throttle.check(account=ACCOUNT, address=None) is None
    assert await throttle.check(account=None, address=ADDRESS) is None  # 4 of 50 free
    assert not throttle.degraded


@needs_redis
async def test_redis_lock_expires_and_keys_have_ttls(redis_client: Redis, prefix: str) -> None:
    throttle = LoginThrottle(
        redis_client, account_free=0, address_free=5, window_s=60, prefix=prefix
    )
    await throttle.failure(account=ACCOUNT, address=ADDRESS)
    count_ttl = await redis_client.pttl(f"{prefix}{{a:{ACCOUNT}}}:n")
    lock_ttl = await redis_client.pttl(f"{prefix}{{a:{ACCOUNT}}}:l")
    address_ttl = await redis_client.pttl(f"{prefix}{{i:{ADDRESS}}}:n")
    assert 0 < count_ttl <= 60_000
    assert 0 < lock_ttl <= 1_000
    assert 0 < address_ttl <= 60_000
    await asyncio.sleep(lock_ttl / 1000 + 0.05)
    assert await throttle.check(account=ACCOUNT, address=ADDRESS) is None
    await throttle.failure(account=ACCOUNT, address=None)  # second of the window: 2 s
    wait = await throttle.check(account=ACCOUNT, address=None)
    assert wait is not None
    assert 1.5 < wait <= 2.0


@needs_redis
async def test_redis_reloads_an_unknown_script(redis_client: Redis, prefix: str) -> None:
    throttle = LoginThrottle(redis_client, account_free=0, prefix=prefix)
    throttle._script.sha = "0" * 40  # as after SCRIPT FLUSH or a Redis restart
    await throttle.failure(account=ACCOUNT, address=None)
    assert await throttle.check(account=ACCOUNT, address=None) is not None
    assert not throttle.degraded


async def test_unreachable_redis_falls_back_to_memory() -> None:
    clock = FakeClock()
    client = limiter_redis("redis://127.0.0.1:1/0")
    try:
        throttle = LoginThrottle(client, account_free=1, clock=clock)
        await throttle.failure(account=ACCOUNT, address=ADDRESS)
        await throttle.failure(account=ACCOUNT, address=ADDRESS)
        wait = await throttle.check(account=ACCOUNT, address=ADDRESS)
        assert throttle.degraded
        assert throttle.last_error is not None
        assert "ConnectionError" in throttle.last_error
        assert wait == pytest.approx(1)  # counted in memory meanwhile
        clock.advance(10)  # past the back-off: Redis is probed again, still down
        await throttle.success(account=ACCOUNT)
        assert await throttle.check(account=ACCOUNT, address=None) is None
        assert throttle.degraded
    finally:
        await client.aclose()
