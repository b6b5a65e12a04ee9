"""Response caches for LLM calls: in-process LRU (embedded) or Redis (production)."""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from typing import Any, Protocol


class ResponseCache(Protocol):
    def get(self, key: str) -> str | None: ...

    def set(self, key: str, value: str) -> None: ...


def cache_key(kind: str, payload: dict[str, Any]) -> str:
    """A stable key for a request: kind plus a SHA-256 of its canonical JSON."""
    digest = hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()
    return f"manualqa:llm:{kind}:{digest}"


class MemoryCache:
    """A bounded, thread-safe LRU."""

    def __init__(self, max_entries: int = 4096) -> None:
        self._data: OrderedDict[str, str] = OrderedDict()
        self._max = max_entries
        self._lock = threading.Lock()

    def get(self, key: str) -> str | None:
        with self._lock:
            value = self._data.get(key)
            if value is not None:
                self._data.move_to_end(key)
            return value

    def set(self, key: str, value: str) -> None:
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self._max:
                self._data.popitem(last=False)


class RedisCache:
    """Shared across API workers; entries expire after `ttl_s`."""

    def __init__(self, url: str, ttl_s: int = 86_400) -> None:
        import redis

        self._client = redis.Redis.from_url(url, socket_timeout=2.0)
        self._client.ping()  # fail at start-up, not on the first request
        self._ttl = ttl_s

    def get(self, key: str) -> str | None:
        value = self._client.get(key)
        if value is None:
            return None
        return value.decode() if isinstance(value, bytes) else str(value)

    def set(self, key: str, value: str) -> None:
        self._client.set(key, value, ex=self._ttl)


class NoCache:
    def get(self, key: str) -> str | None:
        return None

    def set(self, key: str, value: str) -> None:
        return None
