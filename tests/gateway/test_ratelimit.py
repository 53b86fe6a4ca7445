"""Rate limits: GCRA in memory (fake clock) and in Redis, headers, degraded mode, recovery."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator, Iterable, Mapping
from typing import TYPE_CHECKING, cast

import http_sf
import httpx
import pytest
import respx
from fastapi import FastAPI
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError

from app.core.config import Settings
from app.gateway.ratelimit import (
    Decision,
    LocalLimiter,
    RateLimiter,
    RateLimitPolicy,
    RedisLimiter,
    limiter_redis,
    ratelimit_headers,
)
from app.gateway.routetable import TransportFactory
from tests.conftest import GrantAccess
from tests.databases import TEST_REDIS_URL
from tests.gateway.support import UPSTREAM, onboard, respx_transport

if TYPE_CHECKING:
    from redis.asyncio import Redis

needs_redis = pytest.mark.skipif(TEST_REDIS_URL is None, reason="XYB_TEST_REDIS_URL not set")


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


# --- policy --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("rate", "burst"), [(0, 1), (-1, 1), (float("nan"), 1), (1, 0), (1, 1.5)])
def test_policy_refuses_nonsense(rate: float, burst: int) -> None:
    with pytest.raises(ValueError, match="must be"):
        RateLimitPolicy(rate, burst)


# --- local limiter -------------------------------------------------------------------------------


def test_local_burst_then_rate() -> None:
    limiter = LocalLimiter()
    policy = RateLimitPolicy(rate_per_s=10, burst=3)
    burst = [limiter.acquire_sync("c", policy, now=0.0) for _ in range(3)]
    assert [d.allowed for d in burst] == [True, True, True]
    assert [d.remaining for d in burst] == [2, 1, 0]
    assert all(d.limit == 3 and d.retry_after_s is None for d in burst)
    assert burst[-1].reset_after_s == pytest.approx(0.3)

    refused = limiter.acquire_sync("c", policy, now=0.0)
    assert not refused.allowed
    assert refused.remaining == 0
    assert refused.retry_after_s == pytest.approx(0.1)
    assert refused.reset_after_s == pytest.approx(0.3)

    # Refused requests cost nothing: 30 ms later the wait is 70 ms.
    later = limiter.acquire_sync("c", policy, now=0.03)
    assert not later.allowed
    assert later.retry_after_s == pytest.approx(0.07)

    assert limiter.acquire_sync("c", policy, now=0.1).allowed
    assert not limiter.acquire_sync("c", policy, now=0.1).allowed


def test_local_sustained_rate_over_a_second() -> None:
    limiter = LocalLimiter()
    policy = RateLimitPolicy(rate_per_s=20, burst=5)
    admitted = sum(limiter.acquire_sync("c", policy, now=i / 1000).allowed for i in range(0, 3001))
    assert admitted == 5 + 20 * 3  # burst + rate * 3 s (the ends of [0, 3] included)


def test_local_refill_to_the_full_burst_and_no_further() -> None:
    limiter = LocalLimiter()
    policy = RateLimitPolicy(rate_per_s=2, burst=4)
    for _ in range(4):
        assert limiter.acquire_sync("c", policy, now=0.0).allowed
    assert not limiter.acquire_sync("c", policy, now=0.0).allowed
    half = limiter.acquire_sync("c", policy, now=1.0)  # two tokens back, one taken
    assert half.allowed
    assert half.remaining == 1
    full = limiter.acquire_sync("c", policy, now=100.0)  # idle for long: the burst, no more
    assert full.remaining == 3
    assert full.reset_after_s == pytest.approx(0.5)


def test_local_keys_are_independent() -> None:
    limiter = LocalLimiter()
    policy = RateLimitPolicy(rate_per_s=1, burst=1)
    assert limiter.acquire_sync("a", policy, now=0.0).allowed
    assert not limiter.acquire_sync("a", policy, now=0.0).allowed
    assert limiter.acquire_sync("b", policy, now=0.0).allowed


def test_local_memory_is_bounded_and_idle_keys_go() -> None:
    limiter = LocalLimiter(max_keys=100)
    policy = RateLimitPolicy(rate_per_s=1, burst=5)
    for i in range(1000):
        limiter.acquire_sync(f"k{i}", policy, now=0.0)
    assert len(limiter) == 100
    # Long after, each call drops idle keys: a stream of fresh keys shrinks the old ones away.
    for i in range(200):
        limiter.acquire_sync(f"new{i}", policy, now=1000.0 + i)
    assert all(not key.startswith("k") for key in limiter._tats)
    assert len(limiter) <= 100


async def test_local_async_interface_and_clock() -> None:
    clock = FakeClock(50.0)
    limiter: RateLimiter = LocalLimiter(clock=clock)
    policy = RateLimitPolicy(rate_per_s=1, burst=1)
    assert (await limiter.acquire("c", policy)).allowed
    refused = await limiter.acquire("c", policy)
    assert refused.retry_after_s == pytest.approx(1.0)
    clock.advance(1.0)
    assert (await limiter.acquire("c", policy)).allowed


# --- headers -------------------------------------------------------------------------------------


def _fields(headers: Iterable[tuple[str, str]] | Mapping[str, str]) -> dict[str, dict[str, int]]:
    """RateLimit-Policy and RateLimit parsed as Structured Field Lists (RFC 9651, http-sf): one
    item named "client" each; its parameters, all non-negative integers."""
    pairs = {
        k.lower(): v for k, v in (headers.items() if isinstance(headers, Mapping) else headers)
    }
    parsed: dict[str, dict[str, int]] = {}
    for name in ("RateLimit-Policy", "RateLimit"):
        value = pairs[name.lower()]
        items = http_sf.parse(value.encode("ascii"), tltype="list")
        assert isinstance(items, list), value
        assert len(items) == 1, value
        member = items[0]
        assert isinstance(member, tuple), value
        item, parameters = member
        assert item == "client", value
        assert isinstance(parameters, dict), value
        params = {}
        for key, number in parameters.items():
            assert type(number) is int, value
            assert number >= 0, value
            params[key] = number
        parsed[name] = params
    return parsed


def test_headers_when_admitted() -> None:
    policy = RateLimitPolicy(rate_per_s=20, burst=5)
    decision = Decision(True, 5, 4, 0.1, None)
    headers = ratelimit_headers(decision, policy)
    assert headers == [
        ("RateLimit-Policy", '"client";q=20;w=1;xyb-burst=5'),
        ("RateLimit", '"client";r=4;t=1'),
    ]


def test_headers_when_refused_carry_retry_after() -> None:
    policy = RateLimitPolicy(rate_per_s=0.5, burst=2)
    decision = Decision(False, 2, 0, 3.2, 1.2)
    headers = dict(ratelimit_headers(decision, policy))
    assert headers["RateLimit-Policy"] == '"client";q=2;w=4;xyb-burst=2'
    assert headers["RateLimit"] == '"client";r=0;t=2'
    assert headers["Retry-After"] == "2"
    # Retry-After is never 0, even when the next slot is a few milliseconds away.
    soon = dict(ratelimit_headers(Decision(False, 2, 0, 0.01, 0.004), policy))
    assert soon["Retry-After"] == "1"
    assert _fields(soon)["RateLimit"] == {"r": 0, "t": 1}


@pytest.mark.parametrize(
    ("rate", "burst", "quota", "window"),
    [
        (20, 1, 20, 1),
        (2.5, 1, 5, 2),
        (0.1, 1, 1, 10),
        (1 / 3, 1, 1, 3),
        (1000, 1, 1000, 1),
        (0.75, 1, 3, 4),
        (50, 100, 100, 2),  # the defaults: the burst refills in 2 s
        (20, 5, 20, 1),
        (30, 100, 120, 4),  # 100 / 30 s is no whole window: the next one that is
        (0.1, 2, 2, 20),
    ],
)
def test_the_policy_states_the_rate_in_whole_numbers_and_holds_the_burst(
    rate: float, burst: int, quota: int, window: int
) -> None:
    headers = ratelimit_headers(Decision(True, burst, 0, 1.0, None), RateLimitPolicy(rate, burst))
    assert _fields(headers)["RateLimit-Policy"] == {"q": quota, "w": window, "xyb-burst": burst}


def test_headers_from_a_real_decision_sequence() -> None:
    limiter = LocalLimiter()
    policy = RateLimitPolicy(rate_per_s=10, burst=2)
    for _ in range(2):
        limiter.acquire_sync("c", policy, now=0.0)
    refused = limiter.acquire_sync("c", policy, now=0.0)
    headers = dict(ratelimit_headers(refused, policy))
    assert headers["Retry-After"] == "1"
    assert _fields(headers)["RateLimit"]["t"] == int(headers["Retry-After"])


def test_the_effective_window_does_not_jump_within_an_instant() -> None:
    # One request per 10 s, burst 2: t said 10, 20, then 10 (the refusal's Retry-After) within
    # milliseconds. Each answer's t is now when one more request than r passes: 10 for all.
    limiter = LocalLimiter()
    policy = RateLimitPolicy(rate_per_s=0.1, burst=2)
    answers = [ratelimit_headers(limiter.acquire_sync("c", policy, now=0.0), policy) for _ in "abc"]
    assert [_fields(h)["RateLimit"] for h in answers] == [
        {"r": 1, "t": 10},
        {"r": 0, "t": 10},
        {"r": 0, "t": 10},
    ]
    assert dict(answers[2])["Retry-After"] == "10"
    later = ratelimit_headers(limiter.acquire_sync("c", policy, now=3.0), policy)
    assert _fields(later)["RateLimit"] == {"r": 0, "t": 7}  # it moves with time only
    assert dict(later)["Retry-After"] == "7"


def _copy(limiter: LocalLimiter) -> LocalLimiter:
    """Another limiter in the same state, to try what would pass without touching the first."""
    copy = LocalLimiter()
    copy._tats.update(limiter._tats)
    return copy


@hypothesis_settings(max_examples=300, deadline=None)
@given(
    rate=st.sampled_from([0.01, 0.1, 1 / 3, 0.75, 1.0, 2.5, 20.0, 30.0, 50.0, 1000.0]),
    burst=st.integers(min_value=1, max_value=200),
    gaps=st.lists(
        st.sampled_from([0.0, 0.0, 0.0, 0.001, 0.05, 0.5, 1.0, 3.7, 60.0]), min_size=1, max_size=80
    ),
)
def test_the_fields_agree_with_the_bucket(rate: float, burst: int, gaps: list[float]) -> None:
    """Whatever the traffic: the policy stays the same and holds every r; a refusal's t is its
    Retry-After, and a request at that moment passes; at one instant t stays the same; r is
    what passes at once."""
    policy = RateLimitPolicy(rate_per_s=rate, burst=burst)
    limiter, now, previous = LocalLimiter(), 0.0, None
    first_policy = None
    for gap in gaps:
        now += gap
        decision = limiter.acquire_sync("c", policy, now=now)
        headers = ratelimit_headers(decision, policy)
        fields = _fields(headers)
        first_policy = first_policy or fields["RateLimit-Policy"]
        assert fields["RateLimit-Policy"] == first_policy
        assert fields["RateLimit"]["r"] <= first_policy["q"]
        assert first_policy["q"] >= burst
        assert first_policy["w"] >= burst / rate - 1e-9  # a drained bucket refills within w
        if gap == 0.0 and previous is not None:
            assert fields["RateLimit"]["t"] == previous  # no jump within an instant
        previous = fields["RateLimit"]["t"]
        if not decision.allowed:
            assert fields["RateLimit"]["r"] == 0
            assert dict(headers)["Retry-After"] == str(fields["RateLimit"]["t"])
            probe = _copy(limiter)
            assert probe.acquire_sync("c", policy, now=now + fields["RateLimit"]["t"]).allowed
        else:
            # r more pass at this instant, and not one more.
            probe = _copy(limiter)
            passed = [probe.acquire_sync("c", policy, now=now).allowed for _ in range(burst + 1)]
            assert passed.count(True) == fields["RateLimit"]["r"]


# --- Redis limiter -------------------------------------------------------------------------------


@pytest.fixture
async def redis_client() -> AsyncIterator[Redis]:
    assert TEST_REDIS_URL is not None
    # Generous timeouts: these tests are about what Redis decides, and a busy CI machine can take
    # longer than the hot path's 0.2 s to run a script; the timeout itself has its own tests.
    client = limiter_redis(TEST_REDIS_URL, timeout_s=5.0)
    yield client
    await client.aclose()


@pytest.fixture
def prefix() -> str:
    return f"xyb:test:rl:{uuid.uuid4().hex[:12]}:"


@needs_redis
async def test_redis_burst_then_refusal(redis_client: Redis, prefix: str) -> None:
    limiter = RedisLimiter(redis_client, fallback=LocalLimiter(), prefix=prefix, timeout_s=5.0)
    policy = RateLimitPolicy(rate_per_s=1, burst=3)
    decisions = [await limiter.acquire("c", policy) for _ in range(3)]
    assert [d.allowed for d in decisions] == [True, True, True]
    assert [d.remaining for d in decisions] == [2, 1, 0]
    refused = await limiter.acquire("c", policy)
    assert not refused.allowed
    assert refused.retry_after_s is not None
    assert 0.5 < refused.retry_after_s <= 1.0  # generous: the calls above took < 0.5 s
    assert 2.5 < refused.reset_after_s <= 3.0
    assert not limiter.degraded
    assert (await limiter.acquire("other", policy)).allowed


@needs_redis
async def test_redis_refills_at_the_rate(redis_client: Redis, prefix: str) -> None:
    limiter = RedisLimiter(redis_client, fallback=LocalLimiter(), prefix=prefix, timeout_s=5.0)
    policy = RateLimitPolicy(rate_per_s=50, burst=1)
    assert (await limiter.acquire("c", policy)).allowed
    refused = await limiter.acquire("c", policy)
    assert not refused.allowed
    assert refused.retry_after_s is not None
    await asyncio.sleep(refused.retry_after_s + 0.01)
    assert (await limiter.acquire("c", policy)).allowed


@needs_redis
async def test_redis_keys_expire_when_idle(redis_client: Redis, prefix: str) -> None:
    limiter = RedisLimiter(redis_client, fallback=LocalLimiter(), prefix=prefix, timeout_s=5.0)
    await limiter.acquire("c", RateLimitPolicy(rate_per_s=2, burst=3))
    ttl = await redis_client.pttl(prefix + "c")
    assert 0 < ttl <= 500  # the TAT is one interval ahead: idle state, nothing to keep after it


@needs_redis
async def test_redis_reloads_an_unknown_script(redis_client: Redis, prefix: str) -> None:
    limiter = RedisLimiter(redis_client, fallback=LocalLimiter(), prefix=prefix, timeout_s=5.0)
    real_sha = limiter.script.sha
    limiter.script.sha = "0" * 40  # as after SCRIPT FLUSH or a Redis restart: NOSCRIPT
    assert (await limiter.acquire("c", RateLimitPolicy(1, 1))).allowed
    assert limiter.script.sha == real_sha
    assert not limiter.degraded


@needs_redis
async def test_redis_two_instances_share_one_limit(prefix: str) -> None:
    assert TEST_REDIS_URL is not None
    rate, burst, seconds = 20, 5, 3.0
    policy = RateLimitPolicy(rate_per_s=rate, burst=burst)
    # Two clients (two connection pools), as two gateway processes would have.
    # Generous timeouts: 40 callers on a busy 2-core machine can wait longer than the hot path's
    # 0.2 s for a script, and falling back to memory is not what this test is about.
    clients = [limiter_redis(TEST_REDIS_URL, timeout_s=5.0) for _ in range(2)]
    limiters = [
        RedisLimiter(c, fallback=LocalLimiter(), prefix=prefix, timeout_s=5.0) for c in clients
    ]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    admitted = refused = 0

    async def hammer(limiter: RedisLimiter) -> None:
        nonlocal admitted, refused
        while loop.time() < deadline:
            decision = await limiter.acquire("shared", policy)
            if decision.allowed:
                admitted += 1
            else:
                refused += 1

    try:
        await asyncio.gather(*(hammer(limiter) for limiter in limiters for _ in range(20)))
    finally:
        for client in clients:
            await client.aclose()
    assert not any(limiter.degraded for limiter in limiters)
    ceiling = rate * seconds + burst
    assert admitted <= ceiling
    assert admitted >= 0.9 * ceiling
    assert refused > admitted  # the limit was actually under pressure


# --- degraded mode -------------------------------------------------------------------------------


class FlakyRedis:
    """Just enough of a Redis client for the limiter: can be taken down and brought back."""

    def __init__(self) -> None:
        self.down = False
        self.hang = False
        self.calls = 0
        self.loaded = False

    async def evalsha(self, sha: str, numkeys: int, *keys_and_args: object) -> list[int]:
        self.calls += 1
        if self.hang:
            await asyncio.Event().wait()
        if self.down:
            raise RedisConnectionError("Error 111 connecting to redis:6379. Connection refused.")
        if not self.loaded:
            raise NoScriptError("NOSCRIPT No matching script.")
        return [1, 4, 50_000, 0]

    async def script_load(self, source: str) -> str:
        self.loaded = True
        return "f" * 40


def _flaky_limiter(clock: FakeClock) -> tuple[RedisLimiter, FlakyRedis]:
    fake = FlakyRedis()
    limiter = RedisLimiter(cast("Redis", fake), fallback=LocalLimiter(clock=clock), clock=clock)
    return limiter, fake


async def test_unreachable_redis_falls_back_to_memory() -> None:
    client = limiter_redis("redis://127.0.0.1:1/0")
    try:
        limiter = RedisLimiter(client, fallback=LocalLimiter())
        policy = RateLimitPolicy(rate_per_s=1, burst=2)
        decisions = [await limiter.acquire("c", policy) for _ in range(3)]
    finally:
        await client.aclose()
    assert [d.allowed for d in decisions] == [True, True, False]  # the local limit still holds
    assert limiter.degraded
    assert limiter.last_error is not None
    assert "ConnectionError" in limiter.last_error


async def test_degraded_backs_off_probes_once_and_recovers(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="xyb.ratelimit")
    clock = FakeClock()
    limiter, fake = _flaky_limiter(clock)
    policy = RateLimitPolicy(rate_per_s=100, burst=100)

    assert (await limiter.acquire("c", policy)).remaining == 4  # from "Redis", after NOSCRIPT
    assert not limiter.degraded

    fake.down = True
    calls = fake.calls
    for _ in range(50):
        assert (await limiter.acquire("c", policy)).allowed  # the fallback answers
    assert limiter.degraded
    assert fake.calls == calls + 1  # one failed call, then no Redis calls during the back-off

    clock.advance(0.6)  # past the first back-off: one probe, which fails; the back-off doubles
    for _ in range(10):
        await limiter.acquire("c", policy)
    assert fake.calls == calls + 2
    clock.advance(0.6)
    await limiter.acquire("c", policy)
    assert fake.calls == calls + 2  # still backing off (1 s now)

    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1  # at most one warning per 30 s
    clock.advance(30)
    await limiter.acquire("c", policy)
    assert len([r for r in caplog.records if r.levelno == logging.WARNING]) == 2

    fake.down = False
    clock.advance(10)
    decision = await limiter.acquire("c", policy)
    assert decision.remaining == 4  # Redis again
    assert not limiter.degraded
    assert limiter.last_error is not None  # kept for the record
    assert any("answers again" in r.getMessage() for r in caplog.records)


async def test_a_cancelled_probe_does_not_block_recovery() -> None:
    clock = FakeClock()
    limiter, fake = _flaky_limiter(clock)
    policy = RateLimitPolicy(rate_per_s=100, burst=10)
    fake.down = True
    await limiter.acquire("c", policy)
    clock.advance(1)
    fake.down = False
    fake.hang = True
    probe = asyncio.create_task(limiter.acquire("c", policy))
    await asyncio.sleep(0)
    probe.cancel()
    with pytest.raises(asyncio.CancelledError):
        await probe
    fake.hang = False
    await limiter.acquire("c", policy)
    assert not limiter.degraded


class SwitchableProxy:
    """A TCP proxy in front of the real Redis that can go down (refusing, cutting) and come back."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()
        for writer in list(self._writers):
            writer.close()
        await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self.target)
        self._writers.update((writer, up_writer))

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except OSError:
                pass
            finally:
                dst.close()

        try:
            await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        finally:
            self._writers.difference_update((writer, up_writer))


@needs_redis
async def test_real_redis_outage_and_recovery(prefix: str) -> None:
    from redis.asyncio.connection import parse_url

    assert TEST_REDIS_URL is not None
    target = parse_url(TEST_REDIS_URL)
    proxy = SwitchableProxy(str(target.get("host", "127.0.0.1")), int(target.get("port", 6379)))
    await proxy.start()
    clock = FakeClock()
    client = limiter_redis(f"redis://127.0.0.1:{proxy.port}/{target.get('db', 0)}")
    limiter = RedisLimiter(client, fallback=LocalLimiter(), prefix=prefix, clock=clock)
    policy = RateLimitPolicy(rate_per_s=0.1, burst=2)  # no refill worth speaking of in the test
    try:
        assert (await limiter.acquire("c", policy)).remaining == 1
        assert not limiter.degraded

        await proxy.stop()  # live connections cut, new ones refused
        down = await limiter.acquire("c", policy)
        assert down.allowed  # the fallback has not seen "c": a fresh local burst
        assert limiter.degraded
        clock.advance(1)
        await limiter.acquire("c", policy)  # the probe fails too
        assert limiter.degraded

        await proxy.start()  # Redis is back, with the state it had
        clock.advance(10)
        back = await limiter.acquire("c", policy)
        assert not limiter.degraded
        assert back.allowed
        assert back.remaining == 0  # the first call's debt is still in Redis
    finally:
        await client.aclose()
        await proxy.stop()


# --- over HTTP ----------------------------------------------------------------------------------

LATEST = "/gw/430100/bdc/records/latest"
RECORD = {"cert_no": "BDC430100-2023-0000001", "owner_id_number": "11010519491231002X"}


@pytest.fixture
def redis_url() -> str | None:
    """Which limiter the app gets: None for the per-process one; a test may parametrize it."""
    return None


@pytest.fixture
def settings(settings: Settings, redis_url: str | None) -> Settings:
    return settings if redis_url is None else settings.model_copy(update={"redis_url": redis_url})


@pytest.fixture
def upstream() -> respx.MockRouter:
    router = respx.MockRouter(assert_all_called=False, base_url=UPSTREAM)
    router.get("/records/latest").respond(200, json=RECORD)
    return router


@pytest.fixture
def transport_factory(upstream: respx.MockRouter) -> TransportFactory:
    return respx_transport(upstream)


@pytest.fixture
async def bdc(client: httpx.AsyncClient, admin_headers: dict[str, str]) -> None:
    await onboard(client, admin_headers)


async def _three_calls(
    client: httpx.AsyncClient, grant_access: GrantAccess, **limits: float
) -> list[httpx.Response]:
    caller = await grant_access(("430100", "bdc"), **limits)
    return [await client.get(LATEST, headers=caller) for _ in range(3)]


@pytest.mark.usefixtures("bdc")
async def test_the_default_policy_states_the_burst_over_http(
    client: httpx.AsyncClient, grant_access: GrantAccess, app: FastAPI
) -> None:
    app.state.guard.limiter = LocalLimiter(clock=lambda: 1000.0)  # only the calls count
    first = (await _three_calls(client, grant_access))[0]
    assert first.status_code == 200
    fields = _fields(first.headers)
    # 50/s with a burst of 100: 99 are left after the first, and the policy holds them.
    assert fields["RateLimit-Policy"] == {"q": 100, "w": 2, "xyb-burst": 100}
    assert fields["RateLimit"] == {"r": 99, "t": 1}


@pytest.mark.usefixtures("bdc")
async def test_a_burst_then_a_refusal_over_http(
    client: httpx.AsyncClient, grant_access: GrantAccess, app: FastAPI
) -> None:
    app.state.guard.limiter = LocalLimiter(clock=lambda: 1000.0)
    answers = await _three_calls(client, grant_access, rate_per_s=0.1, burst=2)
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert [_fields(a.headers)["RateLimit"] for a in answers] == [
        {"r": 1, "t": 10},
        {"r": 0, "t": 10},
        {"r": 0, "t": 10},
    ]
    assert {str(_fields(a.headers)["RateLimit-Policy"]) for a in answers} == {
        str({"q": 2, "w": 20, "xyb-burst": 2})
    }
    assert answers[2].headers["retry-after"] == "10"


@pytest.mark.parametrize("redis_url", [pytest.param(TEST_REDIS_URL, marks=needs_redis)])
@pytest.mark.usefixtures("bdc")
async def test_the_fields_over_http_with_the_redis_limiter(
    client: httpx.AsyncClient, grant_access: GrantAccess, app: FastAPI
) -> None:
    limiter = app.state.guard.limiter
    assert isinstance(limiter, RedisLimiter)
    # One request per 100 s on Redis' own clock: the test's pace cannot refill the bucket.
    answers = await _three_calls(client, grant_access, rate_per_s=0.01, burst=2)
    assert not limiter.degraded
    assert [a.status_code for a in answers] == [200, 200, 429]
    fields = [_fields(a.headers) for a in answers]
    assert all(f["RateLimit-Policy"] == {"q": 2, "w": 200, "xyb-burst": 2} for f in fields)
    assert [f["RateLimit"]["r"] for f in fields] == [1, 0, 0]
    windows = [f["RateLimit"]["t"] for f in fields]
    assert windows[0] == 100
    assert windows == sorted(windows, reverse=True)  # time moves t down, requests never up
    assert 1 <= windows[2] == int(answers[2].headers["retry-after"])
