"""Optional cross-encoder reranking of retrieved passages, and hosted pair scoring.

A reranker is configured as a LiteLLM rerank model (`answer.rerank.model`, with
`api_base` for a self-hosted TEI/Infinity/Cohere-compatible server) or as a local
sentence-transformers CrossEncoder folder (`answer.rerank.path`). It is consulted only
when the best fused scores are within `max_gap` of each other: a clear winner needs no
second opinion. With neither configured it is off, and the log says so once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from functools import cache
from pathlib import Path

import litellm

from manualqa.config import RerankSettings
from manualqa.index.base import Hit

log = logging.getLogger(__name__)

PairScorer = Callable[[str, list[str]], list[float]]


def litellm_scorer(model: str, api_base: str | None) -> PairScorer:
    """Relevance of each document to the query, from a LiteLLM rerank model."""

    def score(query: str, documents: list[str]) -> list[float]:
        response = litellm.rerank(
            model=model, query=query, documents=documents, api_base=api_base, top_n=len(documents)
        )
        scores = [0.0] * len(documents)
        for result in response.results or []:
            scores[int(result["index"])] = float(result["relevance_score"])
        return scores

    return score


@cache
def _cross_encoder(path: Path) -> object:
    from sentence_transformers import CrossEncoder

    if not path.is_dir():
        raise FileNotFoundError(f"answer.rerank.path {path} is not a model folder")
    return CrossEncoder(str(path), device="cpu")


def local_scorer(path: Path) -> PairScorer:
    def score(query: str, documents: list[str]) -> list[float]:
        model = _cross_encoder(path)
        return [float(s) for s in model.predict([(query, d) for d in documents])]  # type: ignore[attr-defined]

    return score


class Reranker:
    """Reorders hits by a pair scorer when their fused scores are too close to call."""

    def __init__(self, settings: RerankSettings, scorer: PairScorer | None) -> None:
        self.settings = settings
        self.scorer = scorer

    def rerank(self, query: str, hits: Sequence[Hit]) -> list[Hit]:
        hits = list(hits)
        if self.scorer is None or len(hits) < 2:
            return hits
        if hits[0].score - hits[1].score > self.settings.max_gap:
            return hits
        scores = self.scorer(query, [h.text for h in hits])
        order = sorted(range(len(hits)), key=lambda i: -scores[i])
        return [hits[i] for i in order]


def build_reranker(settings: RerankSettings) -> Reranker:
    if settings.model:
        return Reranker(settings, litellm_scorer(settings.model, settings.api_base))
    if settings.path:
        return Reranker(settings, local_scorer(settings.path))
    _log_off_once()
    return Reranker(settings, None)


@cache
def _log_off_once() -> None:
    log.info("no reranker configured (answer.rerank.model / answer.rerank.path): reranking is off")
