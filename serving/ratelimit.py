"""Request budgets per API key and per client IP, as token buckets.

A budget of "120/minute" is a bucket of 120 tokens that refills at 2 a second: a client
may burst up to the whole budget, then goes at the refill rate. A request takes one token;
one that finds none is refused with the seconds until the next token (`Retry-After`).

Buckets live in Redis when `serving.rate_limits.storage` is a redis:// URL, so every worker
and replica shares them (one Lua script a request: read, refill, take, on Redis's own
clock); otherwise in this process's memory. The `limits` library parses the budgets; its
in-memory storage was not kept: it started a timer thread every 10 ms under load and kept
an entry per request still inside the window.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from dataclasses import dataclass
from typing import Protocol

import redis
from fastapi import HTTPException, status
from limits import parse

from manualqa.config import RateLimitSettings

log = logging.getLogger(__name__)

KEY_PREFIX = "manualqa-rate"


@dataclass(frozen=True)
class Budget:
    """`amount` requests per `per_s` seconds: the bucket's size and its refill rate."""

    text: str  # as configured, for messages
    amount: int
    per_s: int

    @classmethod
    def parse(cls, text: str) -> Budget:
        item = parse(text)  # "120/minute", "3 per 2 seconds", ...
        return cls(text, item.amount, item.get_expiry())

    @property
    def rate(self) -> float:
        return self.amount / self.per_s


class Buckets(Protocol):
    def take(self, key: str, budget: Budget) -> float:
        """Take a token from `key`'s bucket: 0 when there was one, else the seconds until
        there is one."""

    def available(self) -> bool: ...


class MemoryBuckets:
    """This process's buckets: tokens and when they were counted, per key."""

    MAX_KEYS = 100_000  # past this, buckets that have refilled are forgotten (once a second)

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._buckets: dict[str, tuple[float, float, Budget]] = {}
        self._pruned_at = 0.0

    def take(self, key: str, budget: Budget) -> float:
        now = time.monotonic()
        with self._lock:
            tokens, then, _ = self._buckets.get(key, (float(budget.amount), now, budget))
            tokens = min(float(budget.amount), tokens + (now - then) * budget.rate)
            wait = 0.0 if tokens >= 1 else (1 - tokens) / budget.rate
            self._buckets[key] = (tokens - 1 if wait == 0 else tokens, now, budget)
            if len(self._buckets) > self.MAX_KEYS and now - self._pruned_at >= 1:
                self._forget_refilled(now)
        return wait

    def _forget_refilled(self, now: float) -> None:
        """Forget the buckets that are full again: a new one starts full, so nothing changes."""
        self._pruned_at = now
        self._buckets = {
            key: (tokens, then, budget)
            for key, (tokens, then, budget) in self._buckets.items()
            if tokens + (now - then) * budget.rate < budget.amount
        }

    def available(self) -> bool:
        return True


# KEYS[1]: the bucket; ARGV: size, tokens a second. Returns the seconds to wait, as a string
# (Lua numbers become integers on the way back).
_TAKE = """
local size, rate = tonumber(ARGV[1]), tonumber(ARGV[2])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1e6
local held = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(held[1]) or size
local at = tonumber(held[2]) or now
tokens = math.min(size, tokens + math.max(0, now - at) * rate)
local wait = 0
if tokens >= 1 then tokens = tokens - 1 else wait = (1 - tokens) / rate end
redis.call('HSET', KEYS[1], 'tokens', tokens, 'at', now)
redis.call('PEXPIRE', KEYS[1], math.ceil(size / rate * 1000) + 1000)
return tostring(wait)
"""


class RedisBuckets:
    """Buckets in Redis, shared by every process that uses the same server and database."""

    def __init__(self, url: str) -> None:
        self._client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        self._take = self._client.register_script(_TAKE)

    def take(self, key: str, budget: Budget) -> float:
        return float(self._take(keys=[key], args=[budget.amount, budget.rate]))

    def available(self) -> bool:
        try:
            return bool(self._client.ping())
        except redis.RedisError:
            return False


class RateLimited(HTTPException):
    """429 with the seconds until the budget allows another request."""

    def __init__(self, what: str, budget: Budget, retry_after_s: int) -> None:
        super().__init__(
            status_code=status.HTTP_429_TOO_MANY_REQUESTS,
            detail=f"rate limit of {budget.text} per {what} reached; retry in {retry_after_s} s",
            headers={"Retry-After": str(retry_after_s)},
        )


@dataclass
class RateLimiter:
    buckets: Buckets
    per_key: Budget
    per_ip: Budget

    @classmethod
    def from_settings(cls, settings: RateLimitSettings) -> RateLimiter | None:
        """None when rate limiting is off."""
        if not settings.enabled:
            return None
        storage = settings.storage
        buckets: Buckets
        if storage.startswith(("redis://", "rediss://")):
            buckets = RedisBuckets(storage)
        elif storage == "memory://":
            buckets = MemoryBuckets()
        else:
            raise ValueError(f"rate_limits.storage must be memory:// or a redis:// URL: {storage}")
        return cls(buckets, Budget.parse(settings.per_key), Budget.parse(settings.per_ip))

    def available(self) -> bool:
        """Whether the storage answers (Redis up), for readiness."""
        return self.buckets.available()

    def check_ip(self, ip: str) -> None:
        self._take(self.per_ip, "client IP", f"{KEY_PREFIX}:ip:{ip}")

    def check_key(self, principal_id: str) -> None:
        self._take(self.per_key, "API key", f"{KEY_PREFIX}:key:{principal_id}")

    def _take(self, budget: Budget, what: str, key: str) -> None:
        try:
            wait = self.buckets.take(key, budget)
        except Exception as exc:  # the storage (Redis) is down: refuse rather than not count
            log.error("rate limit storage failed: %s", exc)
            raise HTTPException(
                status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
                detail="the rate limiter's storage is unavailable",
                headers={"Retry-After": "5"},
            ) from exc
        if wait > 0:
            raise RateLimited(what, budget, max(1, math.ceil(wait)))
