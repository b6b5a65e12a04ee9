"""Model responses cached through LiteLLM's own cache (`litellm.caching.Cache`).

Redis when configured (`llm.cache: redis`, shared by every API worker), LiteLLM's
in-process cache otherwise. Keys are LiteLLM's (`Cache.get_cache_key`: a SHA-256 over the
request's model, messages or input, and generation parameters) under the namespace
`manualqa:llm`, so `redis-cli --scan --pattern 'manualqa:llm:*'` lists them.

`LLMClient` looks each request up and stores each reply through one `LLMCache` of its own,
rather than turning on LiteLLM's automatic caching (the process-wide `litellm.cache`):

- a LiteLLM Router call is keyed by its model group, here the role's name, so a role moved
  to another model would be answered from the old model's entries; this key names the
  deployment's model;
- LiteLLM keys no metadata, and the offline models read their structured input from it:
  that input is hashed into the key here;
- each client keeps the backend its settings name, where the global holds one per process;
- in litellm 1.110 an automatic hit on a synchronous call imports `litellm.proxy`, which
  needs packages the proxy extra brings (it fails with `No module named 'soundfile'`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from litellm.caching.caching import Cache, LiteLLMCacheType
from litellm.caching.in_memory_cache import InMemoryCache

NAMESPACE = "manualqa:llm"
MEMORY_ENTRIES = 4096


class LLMCache:
    """Requests' replies in a LiteLLM cache, each entry kept `ttl_s` seconds."""

    def __init__(self, cache: Cache) -> None:
        self._cache = cache

    @classmethod
    def redis(cls, url: str, ttl_s: int) -> LLMCache:
        """Redis at `url`; refuses to start when it does not answer."""
        cache = Cache(type=LiteLLMCacheType.REDIS, url=url, namespace=NAMESPACE, ttl=ttl_s)
        # LiteLLM logs a failed ping and carries on; a configured cache must be there.
        cache.cache.redis_client.ping()  # type: ignore[attr-defined]
        return cls(cache)

    @classmethod
    def memory(cls, ttl_s: int, max_entries: int = MEMORY_ENTRIES) -> LLMCache:
        """LiteLLM's in-process cache, bounded to `max_entries`."""
        backend = InMemoryCache(max_size_in_memory=max_entries, default_ttl=ttl_s)
        return cls(
            Cache(type=LiteLLMCacheType.LOCAL, namespace=NAMESPACE, ttl=ttl_s, _backend=backend)
        )

    def key(
        self, request: Mapping[str, Any], structured_input: Mapping[str, Any] | None = None
    ) -> str:
        """LiteLLM's key for `request` (the keyword arguments of a LiteLLM call).

        Args:
            request: model, messages or input, and generation parameters.
            structured_input: what an offline model reads instead of the messages; LiteLLM
                does not key it, so its hash is appended.
        """
        key = self._cache.get_cache_key(**request)
        if structured_input:
            canonical = json.dumps(dict(structured_input), sort_keys=True, default=str)
            key = f"{key}:{hashlib.sha256(canonical.encode()).hexdigest()[:32]}"
        return key

    def get(self, key: str) -> dict[str, Any] | None:
        """The stored reply, or None (also when the backend fails: LiteLLM logs it)."""
        found = self._cache.get_cache(cache_key=key)
        return found if isinstance(found, dict) else None

    def set(self, key: str, reply: Mapping[str, Any]) -> None:
        self._cache.add_cache(dict(reply), cache_key=key)
