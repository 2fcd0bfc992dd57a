"""The Redis limiter: one Lua script per request checks and consumes the bucket and the quota
atomically, on the Redis server's clock, so that every process and machine shares the limits.

Keys, under a prefix: `{<key>}:bucket` a hash (t: tokens, ts: when), expiring when the bucket
would be full again; `{<key>}:<period>` a hash (p: period start, n: used), expiring at the
period's end. The braces keep a key's two hashes in one Redis Cluster slot.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Self

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

from evshare.errors import Unavailable
from evshare.limits.decision import Decision, decide
from evshare.limits.policy import policy_for
from evshare.model import Plan

# The Lua twin of periods.bounds (days_from_civil / civil_from_days after H. Hinnant).
PERIODS_LUA = """
local function days_from_civil(y, m, d)
  if m <= 2 then y = y - 1 end
  local era = math.floor(y / 400)
  local yoe = y - era * 400
  local doy = math.floor((153 * ((m + 9) % 12) + 2) / 5) + d - 1
  local doe = yoe * 365 + math.floor(yoe / 4) - math.floor(yoe / 100) + doy
  return era * 146097 + doe - 719468
end

local function civil_from_days(z)
  z = z + 719468
  local era = math.floor(z / 146097)
  local doe = z - era * 146097
  local yoe = math.floor((doe - math.floor(doe / 1460) + math.floor(doe / 36524)
    - math.floor(doe / 146096)) / 365)
  local doy = doe - (365 * yoe + math.floor(yoe / 4) - math.floor(yoe / 100))
  local mp = math.floor((5 * doy + 2) / 153)
  local y, m = yoe + era * 400, mp + 3
  if mp >= 10 then y, m = y + 1, mp - 9 end
  return y, m
end

local function period_bounds(period, now)
  local day = math.floor(now / 86400)
  local first, after
  if period == 'day' then
    first, after = day, day + 1
  elseif period == 'week' then
    first = day - (day + 3) % 7
    after = first + 7
  else
    local y, m = civil_from_days(day)
    first = days_from_civil(y, m, 1)
    after = days_from_civil(y + math.floor(m / 12), m % 12 + 1, 1)
  end
  return first * 86400, after * 86400
end
"""

# ARGV: rate, burst (0: no throttle), quota (0: no quota), period.
# Returns the server time and the state before this request; Python's `decide` reaches the
# same verdict from the same numbers, so the rule is written here only to consume.
ADMIT_LUA = (
    PERIODS_LUA
    + """
if redis.replicate_commands then redis.replicate_commands() end  -- TIME before writes, Redis < 7
local rate, burst, quota, period = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4]
local YEAR_MS = 366 * 86400 * 1000  -- a bucket that slow just counts as full after a year
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local now_text = string.format('%.17g', now)

local tokens = burst
if burst > 0 then
  local saved = redis.call('HMGET', KEYS[1], 't', 'ts')
  if saved[1] then
    tokens = math.min(burst, tonumber(saved[1]) + math.max(0, now - tonumber(saved[2])) * rate)
  end
end

local used, first, after = 0, 0, 0
if quota > 0 then
  first, after = period_bounds(period, now)
  local saved = redis.call('HMGET', KEYS[2], 'p', 'n')
  if tonumber(saved[1]) == first then used = tonumber(saved[2]) end
end

if (burst == 0 or tokens >= 1) and (quota == 0 or used < quota) then
  if burst > 0 then
    local left = tokens - 1
    redis.call('HSET', KEYS[1], 't', string.format('%.17g', left), 'ts', now_text)
    local full_ms = math.min(YEAR_MS, math.max(1, math.ceil((burst - left) / rate * 1000)))
    redis.call('PEXPIRE', KEYS[1], string.format('%d', full_ms))
  end
  if quota > 0 then
    redis.call('HSET', KEYS[2], 'p', string.format('%d', first), 'n', string.format('%d', used + 1))
    redis.call('EXPIREAT', KEYS[2], string.format('%d', after))
  end
end
return {clock[1], clock[2], string.format('%.17g', tokens), used}
"""
)


class RedisLimiter:
    """Raises Unavailable (never a redis exception) when Redis fails or takes longer than
    `timeout` seconds; wrap it in GuardedLimiter to apply `limiter_failure`."""

    def __init__(self, client: Redis, *, timeout: float, prefix: str = "evshare:limits:") -> None:
        self._client = client
        self._timeout = timeout
        self._prefix = prefix
        self._script = client.register_script(ADMIT_LUA)

    @classmethod
    def from_url(cls, url: str, *, timeout: float, prefix: str = "evshare:limits:") -> Self:
        """Connects lazily, on the first request. Commands are never retried: the script
        consumes, so running it twice could charge a request twice."""
        client = Redis.from_url(
            url,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            retry=Retry(NoBackoff(), 0),
        )
        return cls(client, timeout=timeout, prefix=prefix)

    async def admit(self, key: str, plan: Plan) -> Decision:
        policy = policy_for(plan)
        if policy is None:
            return Decision(True)
        throttle, quota = policy.throttle, policy.quota
        tag = f"{self._prefix}{{{key}}}"
        keys = [f"{tag}:bucket", f"{tag}:{quota.period if quota else 'none'}"]
        args: list[str | int] = [
            repr(throttle.rate) if throttle else "0",
            throttle.burst if throttle else 0,
            quota.limit if quota else 0,
            quota.period if quota else "",
        ]
        try:
            async with asyncio.timeout(self._timeout):
                seconds, micros, tokens, used = await self._script(keys=keys, args=args)
        except (RedisError, OSError) as exc:  # OSError includes asyncio's TimeoutError
            if isinstance(exc, RedisConnectionError):
                await self._drop_idle_connections()
            raise Unavailable(f"Redis: {type(exc).__name__}: {exc}") from exc
        now = int(seconds) + int(micros) / 1_000_000
        return decide(policy, now, float(tokens), int(used))

    async def _drop_idle_connections(self) -> None:
        """Close the pool's idle connections after a connection failed. They were opened to the
        Redis that just failed, so they are likely dead too, and the pool does not always see it
        before lending one out: each would fail one request after Redis is back, and with the
        guard resting a second after each failure, a pool of N stale connections kept the limiter
        refusing (closed) or unchecked (open) for up to N seconds after Redis returned."""
        with contextlib.suppress(RedisError, OSError):
            await self._client.connection_pool.disconnect(inuse_connections=False)

    async def close(self) -> None:
        await self._client.aclose()
