"""What one model call cost, and who it was made for.

Plain data with no LiteLLM import, so the catalog (`sql.usage`) can store it. Who a
call is for comes from a context variable that the API sets per request (the API
client) and an asset sets per run (the partition), so the code between them does
not have to pass it along.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass


@dataclass(frozen=True)
class UsageScope:
    client_id: str | None = None
    partition: str | None = None


_NO_SCOPE = UsageScope()
_scope: contextvars.ContextVar[UsageScope | None] = contextvars.ContextVar(
    "manualqa_usage_scope", default=None
)


@contextmanager
def usage_scope(*, client_id: str | None = None, partition: str | None = None) -> Iterator[None]:
    """Attribute the model calls made inside the block to an API client and/or partition."""
    token = _scope.set(UsageScope(client_id=client_id, partition=partition))
    try:
        yield
    finally:
        _scope.reset(token)


def current_scope() -> UsageScope:
    return _scope.get() or _NO_SCOPE


@dataclass(frozen=True)
class LLMCall:
    """One chat or embedding call (a cache hit counts as a call that cost nothing).

    `cost_usd` is None when LiteLLM knows no price for the model.
    """

    role: str  # answer, sql, router, composition, or embedding
    model: str
    prompt_name: str | None  # the prompt file's name and hash; None for embeddings
    prompt_hash: str | None
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float | None
    cached: bool
    latency_ms: float
    client_id: str | None
    partition: str | None


def add_costs(*costs: float | None) -> float | None:
    """The total of several calls' costs, or None when any of them has no known price."""
    return None if any(c is None for c in costs) else sum(c for c in costs if c is not None)
