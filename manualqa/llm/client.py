"""LLMClient: per-role models, caching and cost tracking over LiteLLM."""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass, field
from typing import Any

import litellm
import numpy as np

from manualqa.config import EmbeddingSettings, LLMRoleSettings, LLMSettings
from manualqa.llm.cache import (
    MemoryCache,
    NoCache,
    RedisCache,
    ResponseCache,
    cache_key,
)
from manualqa.llm.offline import (
    EMBEDDING_MODEL,
    EXTRACTIVE_MODEL,
    PROVIDER,
    OfflineProvider,
)

log = logging.getLogger(__name__)
_register_lock = threading.Lock()


def register_offline_provider() -> None:
    """Make `manualqa/…` models known to LiteLLM (idempotent), priced at zero."""
    with _register_lock:
        if any(p.get("provider") == PROVIDER for p in litellm.custom_provider_map):
            return
        litellm.custom_provider_map = [
            *litellm.custom_provider_map,
            {"provider": PROVIDER, "custom_handler": OfflineProvider()},
        ]
        litellm.register_model(
            {
                f"{PROVIDER}/{EXTRACTIVE_MODEL}": {
                    "litellm_provider": PROVIDER,
                    "mode": "chat",
                    "input_cost_per_token": 0.0,
                    "output_cost_per_token": 0.0,
                    "cache_read_input_token_cost": 0.0,
                    "cache_creation_input_token_cost": 0.0,
                },
                f"{PROVIDER}/{EMBEDDING_MODEL}": {
                    "litellm_provider": PROVIDER,
                    "mode": "embedding",
                    "input_cost_per_token": 0.0,
                    "output_cost_per_token": 0.0,
                    "cache_read_input_token_cost": 0.0,
                    "cache_creation_input_token_cost": 0.0,
                },
            }
        )


@dataclass
class RoleUsage:
    calls: int = 0
    cached: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    unpriced_calls: int = 0


@dataclass
class UsageLedger:
    """Running token and cost totals per role (thread-safe)."""

    roles: dict[str, RoleUsage] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def record(self, role: str, response: Any, cached: bool) -> float | None:
        with self._lock:
            usage = self.roles.setdefault(role, RoleUsage())
            usage.calls += 1
            if cached:
                usage.cached += 1
                return 0.0
            tokens = getattr(response, "usage", None)
            usage.prompt_tokens += int(getattr(tokens, "prompt_tokens", 0) or 0)
            usage.completion_tokens += int(getattr(tokens, "completion_tokens", 0) or 0)
            try:
                cost = float(litellm.completion_cost(completion_response=response))
            except Exception as exc:  # LiteLLM raises plain Exception for unknown prices
                usage.unpriced_calls += 1
                log.warning("no price known for %s (%s); cost not counted", role, exc)
                return None
            usage.cost_usd += cost
            return cost

    def snapshot(self) -> dict[str, dict[str, float | int]]:
        with self._lock:
            return {role: dict(vars(u)) for role, u in self.roles.items()}


@dataclass(frozen=True)
class Completion:
    text: str
    model: str
    cached: bool
    cost_usd: float | None


def make_cache(settings: LLMSettings) -> ResponseCache:
    if settings.cache == "redis":
        return RedisCache(settings.redis_url)
    if settings.cache == "memory":
        return MemoryCache()
    return NoCache()


class LLMClient:
    """The one door to chat and embedding models.

    Roles (`answer`, later `sql`, `judge`…) each map to a model in `LLMSettings`.
    """

    def __init__(
        self,
        llm: LLMSettings,
        embedding: EmbeddingSettings,
        cache: ResponseCache | None = None,
    ) -> None:
        register_offline_provider()
        self.llm = llm
        self.embedding_settings = embedding
        self.cache = cache if cache is not None else make_cache(llm)
        self.ledger = UsageLedger()

    def role(self, name: str) -> LLMRoleSettings:
        settings = getattr(self.llm, name, None)
        if not isinstance(settings, LLMRoleSettings):
            raise KeyError(f"no LLM role {name!r} is configured")
        return settings

    def complete(self, role: str, messages: list[dict[str, str]], **params: Any) -> Completion:
        """One chat completion for `role`, served from cache when the request repeats."""
        cfg = self.role(role)
        request = {
            "model": cfg.model,
            "messages": messages,
            "temperature": cfg.temperature,
            "max_tokens": cfg.max_tokens,
            **params,
        }
        key = cache_key("chat", request)
        hit = self.cache.get(key)
        if hit is not None:
            self.ledger.record(role, None, cached=True)
            return Completion(text=hit, model=cfg.model, cached=True, cost_usd=0.0)
        response = litellm.completion(api_base=cfg.api_base, **request)
        text = response.choices[0].message.content or ""
        cost = self.ledger.record(role, response, cached=False)
        self.cache.set(key, text)
        return Completion(text=text, model=cfg.model, cached=False, cost_usd=cost)

    def embed(self, texts: list[str], use_cache: bool = False) -> np.ndarray:
        """Unit-length embeddings for `texts` (float32, one row each), in batches."""
        if not texts:
            return np.zeros((0, self.embedding_settings.dimension), dtype=np.float32)
        cfg = self.embedding_settings
        if use_cache and len(texts) == 1:
            key = cache_key("embed", {"model": cfg.model, "input": texts[0]})
            hit = self.cache.get(key)
            if hit is not None:
                self.ledger.record("embedding", None, cached=True)
                return np.asarray([json.loads(hit)], dtype=np.float32)
        rows: list[np.ndarray] = []
        for start in range(0, len(texts), cfg.batch_size):
            batch = texts[start : start + cfg.batch_size]
            response = litellm.embedding(model=cfg.model, input=batch, api_base=cfg.api_base)
            self.ledger.record("embedding", response, cached=False)
            rows.append(np.asarray([d["embedding"] for d in response.data], dtype=np.float32))
        vectors = _normalise(np.vstack(rows))
        if vectors.shape[1] != cfg.dimension:
            raise ValueError(
                f"{cfg.model} returned {vectors.shape[1]}-d vectors; config says {cfg.dimension}"
            )
        if use_cache and len(texts) == 1:
            self.cache.set(key, json.dumps(vectors[0].tolist()))
        return vectors


def _normalise(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    if np.any(norms == 0):
        raise ValueError("the embedding model returned a zero vector")
    return vectors / norms
