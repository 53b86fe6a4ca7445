"""Brute-force protection for logins: failures per account and per address slow, then lock.

Failures are counted per account key and per address key in a window of ``window_s`` that starts
at the key's first failure (so a busy shared address cannot accumulate failures for ever). The
first ``account_free`` (``address_free``) failures cost nothing; the k-th failure beyond them locks
the key for ``2 ** (k - 1)`` seconds (1, 2, 4, ... at most ``max_lockout_s``). While a key is
locked, :meth:`LoginThrottle.check` answers the seconds left (the caller's ``Retry-After``).
A success clears the account's failures, never the address's.

With Redis the counts and locks live there (one Lua script per key, TTLs kept by Redis' clock, so
instances agree and keys vanish when idle); without Redis, or while Redis fails, in memory.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

from app.gateway.ratelimit import REDIS_FAILURES, RedisHealth, RedisScript

if TYPE_CHECKING:
    from redis.asyncio import Redis

log = logging.getLogger("xyb.identity.throttle")

# Powers of two beyond this are far beyond any sensible cap (and 2.0 ** 1024 overflows).
_MAX_EXPONENT = 40

# KEYS[1]: the failure count, KEYS[2]: the lock. ARGV: window ms, free failures, max lock ms.
# The count's TTL is set at the window's first failure only; a lock never shortens an existing one.
_FAILURE_LUA = """
local n = redis.call('INCR', KEYS[1])
if n == 1 or redis.call('PTTL', KEYS[1]) < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
end
local over = n - tonumber(ARGV[2])
if over > 0 then
  local ms = math.floor(math.min(2 ^ math.min(over - 1, 40) * 1000, tonumber(ARGV[3])))
  if ms >= 1 and redis.call('PTTL', KEYS[2]) < ms then
    redis.call('SET', KEYS[2], '1', 'PX', ms)
  end
end
return n
"""


@dataclass(slots=True)
class _Record:
    count: int
    window_end: float
    lock_until: float


class LoginThrottle:
    """Counts failed logins per account and per address and locks keys that fail too often.

    Keys must not be personal data: pass a keyed hash of the account (never a raw ID number or
    phone number) and an address form fit for storage; they are kept in memory or Redis as given.
    ``redis=None`` keeps everything in this process (at most ``max_keys`` keys, idle ones dropped).
    """

    def __init__(
        self,
        redis: Redis | None = None,
        *,
        account_free: int = 5,
        address_free: int = 50,
        window_s: float = 900,
        max_lockout_s: float = 900,
        prefix: str = "xyb:lt:",
        timeout_s: float = 0.2,
        max_keys: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if account_free < 0 or address_free < 0:
            raise ValueError("the free failures cannot be negative")
        if window_s <= 0 or max_lockout_s < 0:
            raise ValueError("window_s must be positive and max_lockout_s not negative")
        self.redis = redis
        self.account_free = account_free
        self.address_free = address_free
        self.window_s = window_s
        self.max_lockout_s = max_lockout_s
        self.prefix = prefix
        self.timeout_s = timeout_s
        self._max_keys = max(1, max_keys)
        self._clock = clock
        self._records: OrderedDict[str, _Record] = OrderedDict()
        self._script = RedisScript(_FAILURE_LUA)
        self.health = RedisHealth("login throttle", logger=log, clock=clock)

    @property
    def degraded(self) -> bool:
        """True while Redis is configured but failing (counts are per instance meanwhile)."""
        return self.health.degraded

    @property
    def last_error(self) -> str | None:
        """The last Redis failure, for readiness reports."""
        return self.health.last_error

    def _subjects(self, account: str | None, address: str | None) -> list[tuple[str, int]]:
        subjects = []
        if account is not None:
            subjects.append((f"a:{account}", self.account_free))
        if address is not None:
            subjects.append((f"i:{address}", self.address_free))
        return subjects

    def _redis_keys(self, subject: str) -> tuple[str, str]:
        # One hash tag per subject: its count and lock share a Redis Cluster slot.
        return f"{self.prefix}{{{subject}}}:n", f"{self.prefix}{{{subject}}}:l"

    def lockout_s(self, count: int, free: int) -> float:
        """The lock after the ``count``-th failure of a window with ``free`` free failures."""
        over = count - free
        if over <= 0:
            return 0.0
        return min(2.0 ** min(over - 1, _MAX_EXPONENT), self.max_lockout_s)

    async def check(self, *, account: str | None, address: str | None) -> float | None:
        """None when a login may be tried now, else the seconds until it may (Retry-After)."""
        subjects = self._subjects(account, address)
        if not subjects:
            return None
        # Memory holds what was counted while Redis failed: those locks still hold after it is back.
        waits = [self._memory_wait(subject) for subject, _ in subjects]
        if self.redis is not None:
            waits += await self._redis_waits(subjects) or []
        longest = max(waits)
        return longest if longest > 0 else None

    async def failure(self, *, account: str | None, address: str | None) -> None:
        """Count a failed login against the account and the address."""
        subjects = self._subjects(account, address)
        if not subjects:
            return
        if self.redis is not None and await self._redis_failure(subjects):
            return
        now = self._clock()
        for subject, free in subjects:
            self._memory_failure(subject, free, now)

    async def success(self, *, account: str | None) -> None:
        """Forget the account's failures (the address keeps its count)."""
        if account is None:
            return
        subject = f"a:{account}"
        self._records.pop(subject, None)
        if self.redis is not None and self.health.may_try():
            redis = self.redis
            try:
                async with asyncio.timeout(self.timeout_s):
                    await cast("Awaitable[int]", redis.delete(*self._redis_keys(subject)))
            except REDIS_FAILURES as exc:
                self.health.failed(exc)
            except BaseException:
                self.health.abandon()
                raise
            else:
                self.health.succeeded()

    # --- Redis -------------------------------------------------------------------------------

    async def _redis_waits(self, subjects: list[tuple[str, int]]) -> list[float] | None:
        redis = self.redis
        if redis is None or not self.health.may_try():
            return None
        try:
            async with asyncio.timeout(self.timeout_s):
                async with redis.pipeline(transaction=False) as pipe:
                    for subject, _ in subjects:
                        pipe.pttl(self._redis_keys(subject)[1])
                    ttls = cast("list[int]", await pipe.execute())
        except REDIS_FAILURES as exc:
            self.health.failed(exc)
            return None
        except BaseException:
            self.health.abandon()
            raise
        self.health.succeeded()
        return [max(0, ttl) / 1000 for ttl in ttls]

    async def _redis_failure(self, subjects: list[tuple[str, int]]) -> bool:
        redis = self.redis
        if redis is None or not self.health.may_try():
            return False
        window_ms = max(1, round(self.window_s * 1000))
        max_ms = int(self.max_lockout_s * 1000)
        try:
            async with asyncio.timeout(self.timeout_s):
                for subject, free in subjects:
                    await self._script(redis, self._redis_keys(subject), (window_ms, free, max_ms))
        except REDIS_FAILURES as exc:
            self.health.failed(exc)
            return False
        except BaseException:
            self.health.abandon()
            raise
        self.health.succeeded()
        return True

    # --- memory ------------------------------------------------------------------------------

    def _memory_wait(self, subject: str) -> float:
        record = self._records.get(subject)
        if record is None:
            return 0.0
        return max(0.0, record.lock_until - self._clock())

    def _memory_failure(self, subject: str, free: int, now: float) -> None:
        records = self._records
        record = records.get(subject)
        if record is None:
            record = records[subject] = _Record(0, now + self.window_s, now)
        elif now >= record.window_end:
            record.count, record.window_end = 0, now + self.window_s
        record.count += 1
        record.lock_until = max(record.lock_until, now + self.lockout_s(record.count, free))
        records.move_to_end(subject)
        # Amortised clean-up of the least recently used records, then the hard bound.
        for _ in range(2):
            oldest = next(iter(records.values()))
            if max(oldest.window_end, oldest.lock_until) > now:
                break
            records.popitem(last=False)
        if len(records) > self._max_keys:
            records.popitem(last=False)

    def __len__(self) -> int:
        return len(self._records)
