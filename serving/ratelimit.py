"""Request budgets per API key and per client IP (the `limits` library's moving window).

Counts live in Redis when `serving.rate_limits.storage` is a redis:// URL, so every worker
and replica shares them; otherwise in this process's memory.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass

from fastapi import HTTPException, status
from limits import RateLimitItem, parse
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

from manualqa.config import RateLimitSettings

log = logging.getLogger(__name__)


class RateLimited(HTTPException):
    """429 with the seconds until the budget allows another request."""

    def __init__(self, what: str, limit: RateLimitItem, retry_after_s: int) -> None:
        super().__init__(
            status_code=status.HTTP_429_TOO_MANY_REQUESTS,
            detail=f"rate limit of {limit} per {what} reached; retry in {retry_after_s} s",
            headers={"Retry-After": str(retry_after_s)},
        )


@dataclass
class RateLimiter:
    limiter: MovingWindowRateLimiter
    per_key: RateLimitItem
    per_ip: RateLimitItem

    @classmethod
    def from_settings(cls, settings: RateLimitSettings) -> RateLimiter | None:
        """None when rate limiting is off."""
        if not settings.enabled:
            return None
        storage = storage_from_string(settings.storage, key_prefix="manualqa-rate")
        return cls(
            MovingWindowRateLimiter(storage), parse(settings.per_key), parse(settings.per_ip)
        )

    def available(self) -> bool:
        """Whether the storage answers (Redis up), for readiness."""
        return bool(self.limiter.storage.check())

    def check_ip(self, ip: str) -> None:
        self._hit(self.per_ip, "client IP", "ip", ip)

    def check_key(self, principal_id: str) -> None:
        self._hit(self.per_key, "API key", "key", principal_id)

    def _hit(self, limit: RateLimitItem, what: str, *identifiers: str) -> None:
        try:
            allowed = self.limiter.hit(limit, *identifiers)
            reset_at = None if allowed else self.limiter.get_window_stats(limit, *identifiers)[0]
        except Exception as exc:  # the storage (Redis) is down: refuse rather than not count
            log.error("rate limit storage failed: %s", exc)
            raise HTTPException(
                status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
                detail="the rate limiter's storage is unavailable",
                headers={"Retry-After": "5"},
            ) from exc
        if reset_at is not None:
            raise RateLimited(what, limit, max(1, math.ceil(reset_at - time.time())))
