"""Which generation parameters a model family takes, and under which names.

Reasoning models (`gpt-5*`, `o1*`, `o3*`, `o4*` and configured patterns) refuse
`max_tokens` and `temperature`: they take `max_completion_tokens` on the Chat
Completions API and no temperature. Everyone's limit is `max_output_tokens` on the
Responses API. Sending the wrong name is a 400 from the provider, or a silently
ignored limit, so the mapping is decided here once, per deployment.
"""

from __future__ import annotations

from collections.abc import Sequence
from fnmatch import fnmatchcase
from typing import Any, Literal

Api = Literal["chat", "responses"]


def is_reasoning_model(model: str, patterns: Sequence[str]) -> bool:
    """Whether `model` (with or without its `provider/` prefix) matches a reasoning pattern."""
    name = model.rsplit("/", 1)[-1].lower()
    return any(fnmatchcase(name, pattern.lower()) for pattern in patterns)


def generation_params(
    model: str,
    api: Api,
    *,
    max_tokens: int,
    temperature: float,
    reasoning_patterns: Sequence[str],
) -> dict[str, Any]:
    """The output limit and temperature for one call to `model`, named as it expects."""
    reasoning = is_reasoning_model(model, reasoning_patterns)
    if api == "responses":
        params: dict[str, Any] = {"max_output_tokens": max_tokens}
    elif reasoning:
        params = {"max_completion_tokens": max_tokens}
    else:
        params = {"max_tokens": max_tokens}
    if not reasoning:
        params["temperature"] = temperature
    return params
