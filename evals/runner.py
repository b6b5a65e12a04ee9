"""Run a golden set through the answer engine, as the API serves it; aggregate the scores.

Each question is asked once, with the filters the API would use (public manuals only,
unless the question is marked `audience: internal`), and never searched again with other
filters. Scores are reported per split: `dev` (tuned and calibrated on) and `test` (frozen,
reported only).
"""

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
    citation_recall,
    first_match_rank,
    is_match,
)
from manualqa.answer import AnswerEngine
from manualqa.index.base import SearchFilters

K_VALUES = (1, 3, 5)
SPLITS = ("dev", "test")


def view_for(q: GoldenQuestion) -> SearchFilters:
    """What the API shows the asker: public manuals, or all for an internal question."""
    return SearchFilters(public_only=q.audience != "internal")


@dataclass
class QuestionResult:
    id: str
    split: str
    answerable: bool
    lookalike: bool
    rank: int | None  # first retrieved passage on the right manual and page
    manual_rank: int | None
    abstained: bool
    answered_correctly: bool  # answered, and a citation points at the right manual and page
    citation_precision: float | None  # share of citations on the right manual and page
    citation_recall: float | None  # share of the expected pages cited
    only_right_manual: bool | None  # every citation is of the right manual
    contains_answer: bool | None
    confidence: float
    answer: str
    cited: list[str]
    top_manuals: list[str]
    latency_ms: float


@dataclass
class EvalReport:
    scores: dict[str, dict[str, float]]  # split ("all", "dev", "test") -> metric -> value
    results: list[QuestionResult] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"scores": self.scores, "results": [asdict(r) for r in self.results]}

    def failures(self) -> list[QuestionResult]:
        return [
            r
            for r in self.results
            if (r.answerable and not r.answered_correctly) or (not r.answerable and not r.abstained)
        ]


def evaluate_question(q: GoldenQuestion, engine: AnswerEngine) -> QuestionResult:
    started = time.perf_counter()
    answer = engine.answer(q.question, view_for(q))
    latency = (time.perf_counter() - started) * 1000
    ranked = [Located(h.manual_key, h.page, h.page_end) for h in answer.passages]
    cited = [Located(c.manual_key, c.page, c.page_end) for c in answer.citations]
    right = q.answerable and any(is_match(q, c) for c in cited)
    return QuestionResult(
        id=q.id,
        split=q.split,
        answerable=q.answerable,
        lookalike=q.confusable_with is not None,
        rank=first_match_rank(q, ranked) if q.answerable else None,
        manual_rank=first_match_rank(q, ranked, page_level=False) if q.answerable else None,
        abstained=answer.abstained,
        answered_correctly=bool(right and not answer.abstained),
        citation_precision=citation_precision(q, cited) if q.answerable else None,
        citation_recall=citation_recall(q, cited) if q.answerable else None,
        only_right_manual=(
            bool(cited) and all(c.manual_key == q.manual_key for c in cited)
            if q.answerable
            else None
        ),
        contains_answer=answer_contains(q, answer.text) if q.answerable else None,
        confidence=round(answer.confidence, 4),
        answer=answer.text,
        cited=[f"{c.manual_key}:{c.page}" for c in cited],
        top_manuals=[loc.manual_key for loc in ranked],
        latency_ms=round(latency, 2),
    )


def run_golden_set(questions: list[GoldenQuestion], engine: AnswerEngine) -> EvalReport:
    """Score every question; `scores` holds the metrics for all, dev and test."""
    results = [evaluate_question(q, engine) for q in questions]
    scores = {"all": aggregate(results)}
    for split in SPLITS:
        part = [r for r in results if r.split == split]
        if part:
            scores[split] = aggregate(part)
    return EvalReport(scores=scores, results=results)


def aggregate(results: list[QuestionResult]) -> dict[str, float]:
    answerable = [r for r in results if r.answerable]
    unanswerable = [r for r in results if not r.answerable]
    lookalike = [r for r in answerable if r.lookalike]
    scores: dict[str, float] = {
        "questions": float(len(results)),
        "answerable": float(len(answerable)),
        "unanswerable": float(len(unanswerable)),
    }
    if answerable:
        n = len(answerable)
        for k in K_VALUES:
            scores[f"hit_at_{k}"] = sum(1 for r in answerable if r.rank and r.rank <= k) / n
        scores["mrr"] = sum(1 / r.rank for r in answerable if r.rank) / n
        scores["answered_correctly"] = sum(r.answered_correctly for r in answerable) / n
        scores["false_abstention_rate"] = sum(r.abstained for r in answerable) / n
        precisions = [r.citation_precision for r in answerable if r.citation_precision is not None]
        scores["citation_precision"] = statistics.fmean(precisions) if precisions else 0.0
        scores["citation_recall"] = statistics.fmean(r.citation_recall or 0.0 for r in answerable)
        scores["answer_containment"] = sum(1 for r in answerable if r.contains_answer) / n
    if lookalike:
        scores["lookalike_questions"] = float(len(lookalike))
        scores["lookalike_accuracy"] = sum(
            1 for r in lookalike if not r.abstained and r.only_right_manual
        ) / len(lookalike)
    if unanswerable:
        scores["abstention_accuracy"] = sum(r.abstained for r in unanswerable) / len(unanswerable)
    latencies = sorted(r.latency_ms for r in results)
    if latencies:
        scores["latency_p50_ms"] = statistics.median(latencies)
        scores["latency_p95_ms"] = latencies[min(len(latencies) - 1, int(0.95 * len(latencies)))]
    return {k: round(v, 4) for k, v in scores.items()}
