"""Run a golden set through retrieval and answering; aggregate the scores."""

from __future__ import annotations

import statistics
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from evals.golden import GoldenQuestion
from evals.metrics import (
    Located,
    answer_contains,
    citation_precision,
    first_match_rank,
)
from manualqa.answering import answer_question
from manualqa.index.base import SearchFilters
from manualqa.llm import LLMClient
from manualqa.retrieval import Retriever

K_VALUES = (1, 3, 5)
WHOLE_COLLECTION = SearchFilters(public_only=False)


@dataclass
class QuestionResult:
    id: str
    answerable: bool
    rank: int | None
    manual_rank: int | None
    abstained: bool
    citation_precision: float | None
    contains_answer: bool | None
    answer: str
    top_manuals: list[str]
    latency_ms: float


@dataclass
class EvalReport:
    scores: dict[str, float]
    results: list[QuestionResult] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"scores": self.scores, "results": [asdict(r) for r in self.results]}

    def failures(self) -> list[QuestionResult]:
        return [
            r
            for r in self.results
            if (r.answerable and (r.rank is None or r.rank > 5 or not r.contains_answer))
            or (not r.answerable and not r.abstained)
        ]


def evaluate_question(
    q: GoldenQuestion, retriever: Retriever, llm: LLMClient, top_k: int, min_score: float
) -> QuestionResult:
    started = time.perf_counter()
    # Evals score the whole collection, non-public manuals included; the API hides those.
    answer = answer_question(
        q.question, retriever, llm, top_k=top_k, min_score=min_score, filters=WHOLE_COLLECTION
    )
    latency = (time.perf_counter() - started) * 1000
    # Rank over everything retrieved, not only what passed the answer threshold.
    ranked = [Located(h.manual_key, h.page, h.page_end) for h in answer.passages] or [
        Located(h.manual_key, h.page, h.page_end) for h in retriever.search(q.question, top_k)
    ]
    cited = [Located(c.manual_key, c.page, c.page_end) for c in answer.citations]
    return QuestionResult(
        id=q.id,
        answerable=q.answerable,
        rank=first_match_rank(q, ranked) if q.answerable else None,
        manual_rank=first_match_rank(q, ranked, page_level=False) if q.answerable else None,
        abstained=answer.abstained,
        citation_precision=citation_precision(q, cited) if q.answerable else None,
        contains_answer=answer_contains(q, answer.text) if q.answerable else None,
        answer=answer.text,
        top_manuals=[loc.manual_key for loc in ranked],
        latency_ms=round(latency, 2),
    )


def run_golden_set(
    questions: list[GoldenQuestion],
    retriever: Retriever,
    llm: LLMClient,
    top_k: int,
    min_score: float,
) -> EvalReport:
    """Score every question; `scores` holds the aggregate metrics."""
    results = [evaluate_question(q, retriever, llm, top_k, min_score) for q in questions]
    return EvalReport(scores=aggregate(results), results=results)


def aggregate(results: list[QuestionResult]) -> dict[str, float]:
    answerable = [r for r in results if r.answerable]
    unanswerable = [r for r in results if not r.answerable]
    scores: dict[str, float] = {
        "questions": float(len(results)),
        "answerable": float(len(answerable)),
        "unanswerable": float(len(unanswerable)),
    }
    if answerable:
        n = len(answerable)
        for k in K_VALUES:
            scores[f"hit_at_{k}"] = sum(1 for r in answerable if r.rank and r.rank <= k) / n
            scores[f"manual_hit_at_{k}"] = (
                sum(1 for r in answerable if r.manual_rank and r.manual_rank <= k) / n
            )
        scores["mrr"] = sum(1 / r.rank for r in answerable if r.rank) / n
        precisions = [r.citation_precision for r in answerable if r.citation_precision is not None]
        scores["citation_precision"] = statistics.fmean(precisions) if precisions else 0.0
        scores["answer_containment"] = sum(1 for r in answerable if r.contains_answer) / n
        scores["false_abstention_rate"] = sum(1 for r in answerable if r.abstained) / n
    if unanswerable:
        scores["abstention_accuracy"] = sum(1 for r in unanswerable if r.abstained) / len(
            unanswerable
        )
    latencies = [r.latency_ms for r in results]
    if latencies:
        scores["latency_p50_ms"] = statistics.median(latencies)
    return {k: round(v, 4) for k, v in scores.items()}
