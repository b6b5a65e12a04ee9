"""LLM calls in the catalog: one row per call, totals per API client, partition or role."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Literal

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from manualqa.usage import LLMCall
from sql.models import LLMCallRecord

Dimension = Literal["client_id", "partition", "role", "model"]


def record_llm_calls(session: Session, calls: Iterable[LLMCall]) -> int:
    """Store `calls`; return how many."""
    rows = [asdict(call) for call in calls]
    if rows:
        session.execute(insert(LLMCallRecord), rows)
    return len(rows)


@dataclass(frozen=True)
class UsageTotal:
    key: str | None
    calls: int
    cached: int
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float  # priced calls only
    unpriced_calls: int


def usage_by(session: Session, dimension: Dimension) -> list[UsageTotal]:
    """Totals grouped by API client, asset partition, role or model."""
    column = getattr(LLMCallRecord, dimension)
    query = (
        select(
            column.label("key"),
            func.count().label("calls"),
            func.count().filter(LLMCallRecord.cached).label("cached"),
            func.coalesce(func.sum(LLMCallRecord.prompt_tokens), 0).label("prompt_tokens"),
            func.coalesce(func.sum(LLMCallRecord.completion_tokens), 0).label("completion_tokens"),
            func.coalesce(func.sum(LLMCallRecord.cost_usd), 0.0).label("cost_usd"),
            func.count().filter(LLMCallRecord.cost_usd.is_(None)).label("unpriced_calls"),
        )
        .group_by(column)
        .order_by(column.nulls_first())
    )
    return [UsageTotal(**row._mapping) for row in session.execute(query)]
