"""Optional reranking through LiteLLM's rerank API, against the local stub server."""

import logging

from manualqa.answer import rerank
from manualqa.answer.rerank import Reranker, build_reranker, litellm_scorer
from manualqa.config import RerankSettings
from manualqa.index.base import Hit


def _hit(text: str, score: float) -> Hit:
    return Hit(
        chunk_id=text,
        manual_key="m",
        text=text,
        score=score,
        page=1,
        page_end=1,
        page_label=None,
        section="",
        section_path=(),
        vendor="v",
        product="p",
        title="t",
        file_name="f.pdf",
        source_uri="",
        license="",
    )


def test_close_calls_are_reordered_by_the_rerank_model(openai_stub):
    openai_stub.rerank = lambda query, document: 1.0 if "6 months" in document else 0.1
    settings = RerankSettings(model="cohere/rerank-english-v3.0", api_base=openai_stub.url)
    reranker = build_reranker(settings)
    hits = [
        _hit("Specifications: 220-240 V, 45 W.", 0.71),
        _hit("Replace it every 6 months.", 0.70),
    ]
    assert reranker.rerank("How often?", hits)[0].text == "Replace it every 6 months."
    (sent,) = [r for r in openai_stub.requests if r["path"].endswith("rerank")]
    assert sent["query"] == "How often?" and len(sent["documents"]) == 2


def test_a_clear_winner_is_not_sent_to_the_rerank_model(openai_stub):
    scorer = litellm_scorer("cohere/rerank-english-v3.0", openai_stub.url)
    reranker = Reranker(RerankSettings(max_gap=0.05), scorer)
    hits = [_hit("first", 0.9), _hit("second", 0.5)]
    assert reranker.rerank("q", hits) == hits
    assert not openai_stub.requests


def test_without_a_model_reranking_is_off_and_the_log_says_so_once(caplog):
    rerank._log_off_once.cache_clear()
    with caplog.at_level(logging.INFO, logger="manualqa.answer.rerank"):
        first = build_reranker(RerankSettings())
        build_reranker(RerankSettings())
    assert first.scorer is None
    assert [r.message for r in caplog.records].count(
        "no reranker configured (answer.rerank.model / answer.rerank.path): reranking is off"
    ) == 1
