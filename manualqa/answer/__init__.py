"""Answers with verified citations from the manuals (see `engine` for the steps)."""

from __future__ import annotations

from collections.abc import Sequence

from manualqa.answer.engine import Answer, AnswerEngine, Citation, StoredVectors
from manualqa.answer.rerank import build_reranker, litellm_scorer
from manualqa.answer.verify import Verifier
from manualqa.config import AnswerSettings
from manualqa.documents import ManualProfile
from manualqa.llm import LLMClient
from manualqa.retrieval import Retriever

__all__ = ["Answer", "AnswerEngine", "Citation", "StoredVectors", "build_engine"]


def build_engine(
    settings: AnswerSettings,
    llm: LLMClient,
    retriever: Retriever,
    profiles: Sequence[ManualProfile] = (),
    stored_vectors: StoredVectors | None = None,
) -> AnswerEngine:
    """The engine as configured: reranker and verifier included."""
    verify = settings.verify
    hosted = litellm_scorer(verify.model, verify.api_base) if verify.model else None
    verifier = Verifier(verify, embed=llm.embed, hosted_score=hosted)
    reranker = build_reranker(settings.rerank)
    return AnswerEngine(settings, llm, retriever, reranker, verifier, profiles, stored_vectors)
