"""LLMClient: per-role models behind a LiteLLM Router, caching, and cost per call."""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import litellm
import numpy as np
from litellm import Router

from manualqa.config import EmbeddingSettings, LLMRoleSettings, LLMSettings, read_secret
from manualqa.llm.cache import LLMCache
from manualqa.llm.offline import CHAT_MODELS, EMBEDDING_MODEL, PROVIDER, OfflineProvider
from manualqa.llm.params import generation_params
from manualqa.prompts import RenderedPrompt
from manualqa.usage import LLMCall, current_scope, note_call

log = logging.getLogger(__name__)
_register_lock = threading.Lock()
ROLES = ("answer", "sql", "router", "composition")
EMBEDDING_ROLE = "embedding"
PENDING_CALLS = 10_000  # calls kept for `UsageLedger.take` when no sink stores them
# TEI serves the OpenAI embeddings route and ignores the key unless started with --api-key.
TEI_KEY_SECRET = "TEI_API_KEY"
_FREE = {
    "input_cost_per_token": 0.0,
    "output_cost_per_token": 0.0,
    "cache_read_input_token_cost": 0.0,
    "cache_creation_input_token_cost": 0.0,
}


def register_offline_provider() -> None:
    """Make `manualqa/…` models known to LiteLLM (idempotent), priced at zero."""
    with _register_lock:
        if any(p.get("provider") == PROVIDER for p in litellm.custom_provider_map):
            return
        litellm.custom_provider_map = [
            *litellm.custom_provider_map,
            {"provider": PROVIDER, "custom_handler": OfflineProvider()},
        ]
        models: dict[str, dict[str, Any]] = {
            f"{PROVIDER}/{name}": {"litellm_provider": PROVIDER, "mode": "chat", **_FREE}
            for name in CHAT_MODELS
        }
        models[f"{PROVIDER}/{EMBEDDING_MODEL}"] = {
            "litellm_provider": PROVIDER,
            "mode": "embedding",
            **_FREE,
        }
        litellm.register_model(models)


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
    """Running totals per role, and every call handed to `sink` (thread-safe).

    Without a sink the latest calls wait in memory until `take` collects them: a
    pipeline run writes its partition's calls to the catalog when it commits.
    """

    sink: Callable[[LLMCall], None] | None = None
    roles: dict[str, RoleUsage] = field(default_factory=dict)
    _pending: deque[LLMCall] = field(default_factory=lambda: deque(maxlen=PENDING_CALLS))
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def record(self, call: LLMCall) -> None:
        with self._lock:
            usage = self.roles.setdefault(call.role, RoleUsage())
            usage.calls += 1
            usage.cached += int(call.cached)
            usage.prompt_tokens += call.prompt_tokens
            usage.completion_tokens += call.completion_tokens
            if call.cost_usd is None:
                usage.unpriced_calls += 1
            else:
                usage.cost_usd += call.cost_usd
            if self.sink is None:
                self._pending.append(call)
        note_call(call)  # the request or run in progress reports its own calls
        if self.sink is not None:
            self.sink(call)

    def take(self, partition: str | None = None) -> list[LLMCall]:
        """Remove and return the pending calls (only `partition`'s when given)."""
        with self._lock:
            taken: list[LLMCall] = []
            kept: list[LLMCall] = []
            for call in self._pending:
                (taken if partition is None or call.partition == partition else kept).append(call)
            self._pending.clear()
            self._pending.extend(kept)
            return taken

    def snapshot(self) -> dict[str, dict[str, float | int]]:
        with self._lock:
            return {role: dict(vars(u)) for role, u in self.roles.items()}


@dataclass(frozen=True)
class Completion:
    text: str
    model: str
    cached: bool
    cost_usd: float | None
    prompt_tokens: int
    completion_tokens: int
    prompt_hash: str


def make_cache(settings: LLMSettings) -> LLMCache | None:
    """The response cache `llm.cache` names (None for `none`)."""
    if settings.cache == "redis":
        return LLMCache.redis(settings.redis_url, ttl_s=settings.cache_ttl_s)
    if settings.cache == "memory":
        return LLMCache.memory(ttl_s=settings.cache_ttl_s)
    return None


def _deployment(
    group: str, model: str, api_base: str | None, role: LLMRoleSettings, llm: LLMSettings
) -> dict[str, Any]:
    params = generation_params(
        model,
        role.api,
        max_tokens=role.max_tokens,
        temperature=role.temperature,
        reasoning_patterns=llm.reasoning_models,
    )
    litellm_params: dict[str, Any] = {"model": model, "timeout": role.timeout_s, **params}
    if api_base is not None:
        litellm_params["api_base"] = api_base
    return {"model_name": group, "litellm_params": litellm_params}


def build_router(llm: LLMSettings) -> Router:
    """One LiteLLM model group per role, each fallback a group of its own tried in order.

    Output limit and temperature live in each deployment, mapped for its model family
    (`generation_params`): a fallback of another family gets the names it expects.
    """
    model_list: list[dict[str, Any]] = []
    fallbacks: list[dict[str, list[str]]] = []
    for name in ROLES:
        role: LLMRoleSettings = getattr(llm, name)
        model_list.append(_deployment(name, role.model, role.api_base, role, llm))
        chain = []
        for i, fallback in enumerate(role.fallbacks, start=1):
            group = f"{name}:fallback:{i}"
            model_list.append(_deployment(group, fallback.model, fallback.api_base, role, llm))
            chain.append(group)
        if chain:
            fallbacks.append({name: chain})
    return Router(model_list=model_list, fallbacks=fallbacks, num_retries=0)


class LLMClient:
    """The one door to chat and embedding models.

    Roles `answer`, `sql`, `router` and `composition` each have a model, limits,
    retries and fallbacks in `LLMSettings`. Every call is counted in `ledger` with its
    tokens, cost, prompt hash, and the API client or partition it was made for
    (`manualqa.usage.usage_scope`).
    """

    def __init__(
        self,
        llm: LLMSettings,
        embedding: EmbeddingSettings,
        sink: Callable[[LLMCall], None] | None = None,
    ) -> None:
        register_offline_provider()
        self.llm = llm
        self.embedding_settings = embedding
        self.cache = make_cache(llm)
        self.ledger = UsageLedger(sink=sink)
        self.router = build_router(llm)

    def role(self, name: str) -> LLMRoleSettings:
        settings = getattr(self.llm, name, None) if name in ROLES else None
        if not isinstance(settings, LLMRoleSettings):
            raise KeyError(f"no LLM role {name!r} is configured")
        return settings

    def complete(
        self,
        role: str,
        prompt: RenderedPrompt,
        *,
        offline_input: Mapping[str, Any] | None = None,
    ) -> Completion:
        """One completion for `role`, served from cache when the request repeats.

        Args:
            role: answer, sql, router or composition.
            prompt: messages rendered from a prompt file (its hash is recorded).
            offline_input: the structured form of what the prompt says, for the offline
                `manualqa/…` models; LiteLLM passes it as metadata and never sends it
                to a hosted provider.
        """
        cfg = self.role(role)
        if not isinstance(prompt, RenderedPrompt):
            raise TypeError("complete() takes a RenderedPrompt from manualqa.prompts")
        template = prompt.template
        started = time.perf_counter()
        cache = self.cache
        key = None if cache is None else cache.key(self._request(role, cfg, prompt), offline_input)
        stored = cache.get(key) if cache is not None and key is not None else None
        if stored is not None:
            completion = Completion(
                text=stored["text"],
                model=stored["model"],
                cached=True,
                cost_usd=0.0,
                prompt_tokens=0,
                completion_tokens=0,
                prompt_hash=template.hash,
            )
        else:
            completion = self._call(role, cfg, prompt, offline_input)
            if cache is not None and key is not None:
                cache.set(key, {"text": completion.text, "model": completion.model})
        self._record(role, completion, template.name, started)
        return completion

    def _request(self, role: str, cfg: LLMRoleSettings, prompt: RenderedPrompt) -> dict[str, Any]:
        """The role's own deployment as LiteLLM is called with it, messages included: the
        material of the cache key (which so names the model, not the role)."""
        deployment = _deployment(role, cfg.model, cfg.api_base, cfg, self.llm)
        text = "input" if cfg.api == "responses" else "messages"
        return {**deployment["litellm_params"], text: list(prompt)}

    def _call(
        self,
        role: str,
        cfg: LLMRoleSettings,
        prompt: RenderedPrompt,
        offline_input: Mapping[str, Any] | None,
    ) -> Completion:
        common: dict[str, Any] = {"model": role, "num_retries": cfg.num_retries}
        if offline_input is not None:
            common["metadata"] = {"manualqa": dict(offline_input)}
        if cfg.api == "responses":
            response: Any = self.router.responses(input=list(prompt), **common)
            text = response.output_text or ""
            usage = response.usage
            prompt_tokens = int(getattr(usage, "input_tokens", 0) or 0)
            completion_tokens = int(getattr(usage, "output_tokens", 0) or 0)
        else:
            response = self.router.completion(messages=list(prompt), **common)
            text = response.choices[0].message.content or ""
            usage = getattr(response, "usage", None)
            prompt_tokens = int(getattr(usage, "prompt_tokens", 0) or 0)
            completion_tokens = int(getattr(usage, "completion_tokens", 0) or 0)
        hidden = getattr(response, "_hidden_params", None) or {}
        return Completion(
            text=text,
            model=str(hidden.get("litellm_model_name") or response.model),
            cached=False,
            cost_usd=_cost(response, role),
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            prompt_hash=prompt.template.hash,
        )

    def _record(self, role: str, completion: Completion, prompt_name: str, started: float) -> None:
        scope = current_scope()
        call = LLMCall(
            role=role,
            model=completion.model,
            prompt_name=prompt_name,
            prompt_hash=completion.prompt_hash,
            prompt_tokens=completion.prompt_tokens,
            completion_tokens=completion.completion_tokens,
            cost_usd=completion.cost_usd,
            cached=completion.cached,
            latency_ms=round((time.perf_counter() - started) * 1000, 2),
            client_id=scope.client_id,
            partition=scope.partition,
        )
        log.info(
            "llm call role=%s model=%s prompt=%s@%s tokens=%d+%d cost=%s cached=%s client=%s",
            role,
            call.model,
            prompt_name,
            call.prompt_hash,
            call.prompt_tokens,
            call.completion_tokens,
            call.cost_usd,
            call.cached,
            call.client_id,
        )
        self.ledger.record(call)

    def embed(self, texts: list[str], use_cache: bool = False) -> np.ndarray:
        """Unit-length embeddings for `texts` (float32, one row each), in batches."""
        cfg = self.embedding_settings
        if not texts:
            return np.zeros((0, cfg.dimension), dtype=np.float32)
        cache = self.cache if use_cache and len(texts) == 1 else None
        key = None
        if cache is not None:
            started = time.perf_counter()
            key = cache.key({"model": self._embedding_target()["model"], "input": texts})
            stored = cache.get(key)
            if stored is not None:
                self._record_embedding(None, cfg.model, 0, started)
                return np.asarray([stored["vector"]], dtype=np.float32)
        # Calls (and the model's batches inside them) take texts of similar length, so
        # short ones are not padded to a long one's length; rows go back in input order.
        order = np.argsort([len(t) for t in texts], kind="stable")
        rows: list[np.ndarray] = []
        for start in range(0, len(texts), cfg.batch_size):
            batch = [texts[i] for i in order[start : start + cfg.batch_size]]
            started = time.perf_counter()
            response = litellm.embedding(input=batch, **self._embedding_target())
            tokens = int(getattr(getattr(response, "usage", None), "prompt_tokens", 0) or 0)
            self._record_embedding(response, cfg.model, tokens, started)
            rows.append(np.asarray([d["embedding"] for d in response.data], dtype=np.float32))
        vectors = np.empty((len(texts), rows[0].shape[1]), dtype=np.float32)
        vectors[order] = _normalise(np.vstack(rows))
        if vectors.shape[1] != cfg.dimension:
            raise ValueError(
                f"{cfg.model} returned {vectors.shape[1]}-d vectors; config says {cfg.dimension}"
            )
        if cache is not None and key is not None:
            cache.set(key, {"vector": vectors[0].tolist()})
        return vectors

    def _embedding_target(self) -> dict[str, Any]:
        cfg = self.embedding_settings
        if cfg.provider == "tei":
            return {
                "model": f"openai/{cfg.model}",
                "api_base": cfg.api_base,
                "api_key": read_secret(TEI_KEY_SECRET) or "tei",
                "encoding_format": "float",
            }
        return {"model": cfg.model, "api_base": cfg.api_base}

    def _record_embedding(self, response: Any, model: str, tokens: int, started: float) -> None:
        scope = current_scope()
        call = LLMCall(
            role=EMBEDDING_ROLE,
            model=model,
            prompt_name=None,
            prompt_hash=None,
            prompt_tokens=tokens,
            completion_tokens=0,
            cost_usd=0.0 if response is None else _cost(response, EMBEDDING_ROLE),
            cached=response is None,
            latency_ms=round((time.perf_counter() - started) * 1000, 2),
            client_id=scope.client_id,
            partition=scope.partition,
        )
        self.ledger.record(call)


def _cost(response: Any, role: str) -> float | None:
    hidden = getattr(response, "_hidden_params", None) or {}
    if hidden.get("response_cost") is not None:
        return float(hidden["response_cost"])
    try:
        return float(litellm.completion_cost(completion_response=response))
    except Exception as exc:  # LiteLLM raises plain Exception for unknown prices
        log.warning("no price known for the %s model (%s); cost not counted", role, exc)
        return None


def _normalise(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    if np.any(norms == 0):
        raise ValueError("the embedding model returned a zero vector")
    return vectors / norms
