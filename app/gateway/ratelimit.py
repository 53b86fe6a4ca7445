"""Per-client rate limits: requests per second with a burst, per process or cluster-wide in Redis.

Both limiters implement GCRA (the generic cell rate algorithm, a token bucket kept as one number
per key: the theoretical arrival time, TAT). With ``T = 1 / rate_per_s`` a request at ``now`` is
admitted when ``max(TAT, now) + T - burst * T <= now``, and then ``TAT = max(TAT, now) + T``. A
fresh key admits ``burst`` requests at once, then one every ``T`` seconds; over any span of
``s`` seconds at most ``burst + rate_per_s * s`` requests pass.

:class:`LocalLimiter` keeps the TATs in memory (one process). :class:`RedisLimiter` keeps them in
Redis with one Lua script that reads Redis' own clock (``TIME``), so every gateway instance shares
one limit whatever its own clock says. When Redis fails it answers from a :class:`LocalLimiter`,
reports itself ``degraded`` and tries Redis again after a short back-off.

:func:`ratelimit_headers` writes the ``RateLimit-Policy``, ``RateLimit`` and ``Retry-After``
fields of draft-ietf-httpapi-ratelimit-headers-11 (structured-field form); how a token bucket maps
onto them is explained there.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import logging
import math
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, cast

from redis.exceptions import NoScriptError, RedisError

from app.core.logging import describe_exception

if TYPE_CHECKING:
    from redis.asyncio import Redis

log = logging.getLogger("xyb.ratelimit")

# What counts as "Redis is not answering": its own errors (connection refused or reset, timeouts,
# OOM, READONLY, BUSY...), socket errors that escape them, and our own per-call time limit.
REDIS_FAILURES: tuple[type[BaseException], ...] = (RedisError, OSError, TimeoutError)

# Float noise (1e9 * 3 / 3 is not always 1e9) must not turn "exactly one more" into "none".
_EPSILON = 1e-9


@dataclass(frozen=True, slots=True)
class RateLimitPolicy:
    """A sustained rate in requests per second and the burst admitted at once."""

    rate_per_s: float
    burst: int

    def __post_init__(self) -> None:
        if not (math.isfinite(self.rate_per_s) and self.rate_per_s > 0):
            raise ValueError(f"rate_per_s must be a positive number, not {self.rate_per_s!r}")
        if isinstance(self.burst, bool) or not isinstance(self.burst, int) or self.burst < 1:
            raise ValueError(f"burst must be an integer of at least 1, not {self.burst!r}")

    @property
    def interval_s(self) -> float:
        """Seconds between two requests at the sustained rate (GCRA's emission interval)."""
        return 1.0 / self.rate_per_s


@dataclass(frozen=True, slots=True)
class Decision:
    """One request's verdict: admitted or not, what is left, and when to come back."""

    allowed: bool
    limit: int  # the burst: the most requests admitted at once
    remaining: int  # requests that would be admitted right now, after this one
    reset_after_s: float  # seconds until the full burst is available again
    retry_after_s: float | None  # refused: seconds until a request would be admitted


class RateLimiter(Protocol):
    """What the gateway needs from a limiter, local or cluster-wide."""

    async def acquire(
        self, key: str, policy: RateLimitPolicy, *, now: float | None = None
    ) -> Decision:
        """Count one request for ``key`` and say whether it may pass."""
        ...


def _gcra(tat: float, now: float, policy: RateLimitPolicy) -> tuple[Decision, float | None]:
    """GCRA for one request: the decision and the key's new TAT (None when refused)."""
    interval = policy.interval_s
    tat = max(tat, now)
    new_tat = tat + interval
    allow_at = new_tat - policy.burst * interval
    if now < allow_at - _EPSILON * interval:
        decision = Decision(False, policy.burst, 0, tat - now, allow_at - now)
        return decision, None
    remaining = min(policy.burst - 1, math.floor((now - allow_at) / interval + _EPSILON))
    return Decision(True, policy.burst, max(0, remaining), new_tat - now, None), new_tat


class LocalLimiter:
    """GCRA in this process' memory: O(1) per call, at most ``max_keys`` keys kept.

    A key whose TAT has passed is in the same state as a key never seen, so it is dropped: each
    call looks at the two least recently used keys and drops them when idle. Beyond ``max_keys``
    busy keys the least recently used one is dropped anyway (its debt forgiven). Times are
    ``time.monotonic()`` seconds unless ``now`` (or ``clock``) says otherwise. Not thread-safe:
    one event loop per process, as in the gateway.
    """

    def __init__(
        self, *, max_keys: int = 100_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if max_keys < 1:
            raise ValueError("max_keys must be at least 1")
        self._max_keys = max_keys
        self._clock = clock
        self._tats: OrderedDict[str, float] = OrderedDict()

    def __len__(self) -> int:
        return len(self._tats)

    def acquire_sync(
        self, key: str, policy: RateLimitPolicy, *, now: float | None = None
    ) -> Decision:
        """Count one request for ``key`` and say whether it may pass (no await needed)."""
        if now is None:
            now = self._clock()
        tats = self._tats
        tat = tats.get(key)
        decision, new_tat = _gcra(now if tat is None else tat, now, policy)
        if new_tat is not None:
            tats[key] = new_tat
            tats.move_to_end(key)
        # Amortised clean-up: the least recently used keys are the likeliest to be idle.
        for _ in range(2):
            if not tats:
                break
            oldest, oldest_tat = next(iter(tats.items()))
            if oldest_tat > now:
                break
            del tats[oldest]
        if len(tats) > self._max_keys:
            tats.popitem(last=False)
        return decision

    async def acquire(
        self, key: str, policy: RateLimitPolicy, *, now: float | None = None
    ) -> Decision:
        """:meth:`acquire_sync` behind the :class:`RateLimiter` interface."""
        return self.acquire_sync(key, policy, now=now)


class RedisScript:
    """A Lua script run with EVALSHA; on NOSCRIPT (a restarted or flushed Redis) loaded again."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.sha = hashlib.sha1(source.encode(), usedforsecurity=False).hexdigest()

    async def __call__(
        self, redis: Redis, keys: Sequence[str], args: Sequence[str | int]
    ) -> object:
        """Run the script on ``keys`` with ``args``; load it first if Redis does not know it."""
        try:
            return await cast("Awaitable[object]", redis.evalsha(self.sha, len(keys), *keys, *args))
        except NoScriptError:
            self.sha = str(await cast("Awaitable[object]", redis.script_load(self.source)))
            return await cast("Awaitable[object]", redis.evalsha(self.sha, len(keys), *keys, *args))


class RedisHealth:
    """Whether to ask Redis now: after a failure, only one probe per back-off until it answers.

    ``degraded`` and ``last_error`` are for readiness checks. A failure is logged as a warning at
    most once per ``warn_every_s``; the recovery after a logged failure is logged once.
    """

    def __init__(
        self,
        what: str,
        *,
        logger: logging.Logger = log,
        clock: Callable[[], float] = time.monotonic,
        backoff_min_s: float = 0.5,
        backoff_max_s: float = 5.0,
        warn_every_s: float = 30.0,
    ) -> None:
        self._what = what
        self._log = logger
        self._clock = clock
        self._backoff_min = backoff_min_s
        self._backoff_max = backoff_max_s
        self._warn_every = warn_every_s
        self._degraded = False
        self._backoff = backoff_min_s
        self._retry_at = 0.0
        self._probing = False
        self._last_error: str | None = None
        self._last_warning: float | None = None
        self._unreported_failures = 0
        self._warned_since_recovery = False

    @property
    def degraded(self) -> bool:
        """True while Redis is failing and answers come from memory."""
        return self._degraded

    @property
    def last_error(self) -> str | None:
        """The last Redis failure (kept after recovery), e.g. ``ConnectionError: ...``."""
        return self._last_error

    def may_try(self) -> bool:
        """True when a call may go to Redis; while degraded, for one probe per back-off."""
        if not self._degraded:
            return True
        if self._probing or self._clock() < self._retry_at:
            return False
        self._probing = True
        return True

    def succeeded(self) -> None:
        """Redis answered: leave the degraded state."""
        self._probing = False
        if not self._degraded:
            return
        self._degraded = False
        self._backoff = self._backoff_min
        if self._warned_since_recovery:
            self._warned_since_recovery = False
            self._log.info("%s: Redis answers again, cluster-wide state restored", self._what)

    def failed(self, exc: BaseException) -> None:
        """Redis failed: degrade, back off (doubling up to the maximum), warn now and then."""
        now = self._clock()
        self._probing = False
        if self._degraded:
            self._backoff = min(self._backoff * 2, self._backoff_max)
        self._degraded = True
        self._retry_at = now + self._backoff
        self._last_error = f"{type(exc).__name__}: {_first_line(exc)}"
        self._unreported_failures += 1
        if self._last_warning is None or now - self._last_warning >= self._warn_every:
            self._log.warning(
                "%s: Redis failed, answering from this process' memory (per-instance state)",
                self._what,
                # The class names only: a client library's message may quote keys or values.
                extra={"error": describe_exception(exc), "failures": self._unreported_failures},
            )
            self._last_warning = now
            self._unreported_failures = 0
            self._warned_since_recovery = True

    def abandon(self) -> None:
        """A call was cancelled before Redis answered: let another one probe."""
        self._probing = False


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [""])[0][:200]


# KEYS[1]: the key. ARGV[1]: emission interval in microseconds (may be fractional), ARGV[2]: burst.
# Returns {allowed, remaining, reset_after_us, retry_after_us} as integers (Redis truncates Lua
# numbers in replies). The TAT is stored in whole microseconds with "%.0f": tostring() would keep
# only 14 significant digits. The key expires when its TAT passes (then it is as good as new).
_GCRA_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now) or now
if tat < now then tat = now end
local new_tat = tat + interval
local allow_at = new_tat - burst * interval
if now < allow_at - interval * 1e-9 then
  return {0, 0, math.ceil(tat - now), math.ceil(allow_at - now)}
end
redis.call('SET', KEYS[1], string.format('%.0f', new_tat), 'PX', math.ceil((new_tat - now) / 1000))
local remaining = math.floor((now - allow_at) / interval + 1e-9)
if remaining > burst - 1 then remaining = burst - 1 end
if remaining < 0 then remaining = 0 end
return {1, remaining, math.ceil(new_tat - now), 0}
"""


def limiter_redis(url: str, *, timeout_s: float = 0.2) -> Redis:
    """A Redis client for the hot path: short timeouts and no retries (the limiter falls back)."""
    from redis.asyncio import Redis
    from redis.asyncio.retry import Retry
    from redis.backoff import NoBackoff

    return Redis.from_url(
        url,
        socket_timeout=timeout_s,
        socket_connect_timeout=timeout_s,
        retry=Retry(NoBackoff(), 0),
    )


class RedisLimiter:
    """GCRA in Redis, shared by every instance; Redis' clock decides, never the instances'.

    Each call is one EVALSHA bounded by ``timeout_s`` (also give the client short socket timeouts
    and no retries: :func:`limiter_redis`). When Redis fails the answer comes from ``fallback``
    (per-instance limits), ``degraded`` turns true with ``last_error``, a warning is logged at most
    every 30 s, and Redis is probed again after a back-off (0.5 s doubling up to 5 s), one call at
    a time. ``now`` is only used by the fallback. ``clock`` times the back-off.
    """

    def __init__(
        self,
        redis: Redis,
        *,
        fallback: LocalLimiter,
        prefix: str = "xyb:rl:",
        timeout_s: float = 0.2,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.redis = redis
        self.fallback = fallback
        self.prefix = prefix
        self.timeout_s = timeout_s
        self.script = RedisScript(_GCRA_LUA)
        self.health = RedisHealth("rate limits", clock=clock)

    @property
    def degraded(self) -> bool:
        """True while Redis fails and limits are per instance."""
        return self.health.degraded

    @property
    def last_error(self) -> str | None:
        """The last Redis failure, for readiness reports."""
        return self.health.last_error

    async def acquire(
        self, key: str, policy: RateLimitPolicy, *, now: float | None = None
    ) -> Decision:
        """Count one request for ``key`` cluster-wide (or locally while Redis fails)."""
        if not self.health.may_try():
            return self.fallback.acquire_sync(key, policy, now=now)
        interval_us = policy.interval_s * 1_000_000
        try:
            async with asyncio.timeout(self.timeout_s):
                reply = await self.script(
                    self.redis, (self.prefix + key,), (repr(interval_us), policy.burst)
                )
        except REDIS_FAILURES as exc:
            self.health.failed(exc)
            return self.fallback.acquire_sync(key, policy, now=now)
        except BaseException:
            self.health.abandon()
            raise
        self.health.succeeded()
        allowed, remaining, reset_us, retry_us = cast("list[int]", reply)
        return Decision(
            allowed=bool(allowed),
            limit=policy.burst,
            remaining=int(remaining),
            reset_after_s=reset_us / 1_000_000,
            retry_after_s=retry_us / 1_000_000 if not allowed else None,
        )


POLICY_NAME = "client"
BURST_PARAMETER = "xyb-burst"  # a vendor parameter, as the draft's section 3.1 suggests


# How a token bucket (burst b, refilled at rate_per_s) maps onto the draft's fields:
#
#   RateLimit-Policy: "client";q=Q;w=W;xyb-burst=b
#     Q requests per W whole seconds is the sustained rate, and W is at least the time a drained
#     bucket takes to refill (b / rate_per_s), so Q >= b: the available quota r never exceeds q.
#     xyb-burst says b itself. Defaults (50/s, burst 100): q=100;w=2;xyb-burst=100, and when
#     q = b as there, a client sending at most q in any w seconds is never refused.
#   RateLimit: "client";r=R;t=T
#     R requests pass now; T whole seconds until one more than R would pass: until then the
#     client can use no more than R, the draft's effective window. The fields take whole seconds
#     only, so T is rounded up: a client spending at most R within T is never refused. At
#     one instant T is the same for every request of a burst and for the refusal after it, so it
#     moves only with time; when refused, R=0 and T is Retry-After (the draft's section 6: never
#     earlier than the end of the effective window).
@functools.lru_cache(maxsize=1024)
def _quota_window(policy: RateLimitPolicy) -> tuple[int, int]:
    """The policy as whole ``(q, w)``: ``q / w`` the rate where it can be, ``q >= burst``."""
    rate = policy.rate_per_s
    refill = policy.burst / rate  # seconds for a drained bucket to fill again
    first = max(1, math.ceil(refill - 1e-9))
    # The smallest window from there over which the rate is a whole number of requests (20/s
    # burst 5: 20 per 1 s; 2.5/s burst 4: 5 per 2 s); failing that within an hour, that window
    # with the quota rounded down, which still holds a full burst.
    for window in range(first, first + 3600):
        quota = rate * window
        if abs(quota - round(quota)) <= 1e-9 * max(1.0, quota):
            return max(policy.burst, round(quota)), window
    return max(policy.burst, math.floor(rate * first)), first


def _whole_seconds(seconds: float) -> int:
    return max(1, math.ceil(seconds - 1e-9))


def _until_one_more(decision: Decision, policy: RateLimitPolicy) -> float:
    """Seconds until a request beyond the ``remaining`` ones would pass (Retry-After if refused).

    ``reset_after_s`` is when the bucket is full again: ``burst - 1 - remaining`` intervals
    before that, one more request than ``remaining`` passes.
    """
    if not decision.allowed and decision.retry_after_s is not None:
        return decision.retry_after_s
    spare = policy.burst - 1 - decision.remaining
    return max(0.0, decision.reset_after_s - spare * policy.interval_s)


def ratelimit_headers(decision: Decision, policy: RateLimitPolicy) -> list[tuple[str, str]]:
    """``RateLimit-Policy``, ``RateLimit`` and, when refused, ``Retry-After`` for a response."""
    quota, window = _quota_window(policy)
    headers = [
        (
            "RateLimit-Policy",
            f'"{POLICY_NAME}";q={quota};w={window};{BURST_PARAMETER}={policy.burst}',
        )
    ]
    wait = _whole_seconds(_until_one_more(decision, policy))
    remaining = decision.remaining if decision.allowed else 0
    headers.append(("RateLimit", f'"{POLICY_NAME}";r={remaining};t={wait}'))
    if not decision.allowed:
        headers.append(("Retry-After", str(wait)))
    return headers
