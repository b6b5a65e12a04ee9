"""What one model call cost, and who it was made for.

Plain data with no LiteLLM import, so the catalog (`sql.usage`) can store it. Who a
call is for comes from a context variable that the API sets per request (the API
client) and an asset sets per run (the partition), so the code between them does
not have to pass it along.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field


@dataclass(frozen=True)
class UsageScope:
    client_id: str | None = None
    partition: str | None = None
    calls: list[LLMCall] = field(default_factory=list, compare=False)  # made in the block


_NO_SCOPE = UsageScope()
_scope: contextvars.ContextVar[UsageScope | None] = contextvars.ContextVar(
    "manualqa_usage_scope", default=None
)


@contextmanager
def usage_scope(
    *, client_id: str | None = None, partition: str | None = None
) -> Iterator[UsageScope]:
    """Attribute the model calls made inside the block to an API client and/or partition;
    the scope yielded collects them (an API response reports what its request used)."""
    scope = UsageScope(client_id=client_id, partition=partition)
    token = _scope.set(scope)
    try:
        yield scope
    finally:
        _scope.reset(token)


def current_scope() -> UsageScope:
    return _scope.get() or _NO_SCOPE


def note_call(call: LLMCall) -> None:
    """Add `call` to the current scope's calls (outside any scope it is only counted)."""
    scope = _scope.get()
    if scope is not None:
        scope.calls.append(call)


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


@dataclass(frozen=True)
class CallTotals:
    """What a set of calls used: calls, cache hits, tokens and cost (None when a call's
    price is unknown)."""

    calls: int
    cached: int
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float | None

    @classmethod
    def of(cls, calls: Iterable[LLMCall]) -> CallTotals:
        made = list(calls)
        return cls(
            calls=len(made),
            cached=sum(c.cached for c in made),
            prompt_tokens=sum(c.prompt_tokens for c in made),
            completion_tokens=sum(c.completion_tokens for c in made),
            cost_usd=add_costs(*(c.cost_usd for c in made)),
        )


def add_costs(*costs: float | None) -> float | None:
    """The total of several calls' costs, or None when any of them has no known price."""
    return None if any(c is None for c in costs) else sum(c for c in costs if c is not None)
