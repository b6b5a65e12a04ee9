"""Query-time retrieval: embed the query through LiteLLM, search the index."""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from manualqa.config import Settings
from manualqa.index import open_index
from manualqa.index.base import (
    EmbeddingMismatch,
    EmbeddingSpace,
    Hits,
    IndexQuery,
    IndexReader,
    SearchFilters,
    VectorIndex,
    check_embedding,
    sparse_from_token_ids,
)
from manualqa.llm import LLMClient
from manualqa.tokens import default_token_counter

MAX_QUERY_CHARS = 2000


class QueryError(ValueError):
    """The query cannot be searched (empty or too long)."""


def check_query(query: str) -> str:
    query = " ".join(query.split())
    if not query:
        raise QueryError("the query is empty")
    if len(query) > MAX_QUERY_CHARS:
        raise QueryError(f"the query is longer than {MAX_QUERY_CHARS} characters")
    return query


def open_retriever(
    settings: Settings, llm: LLMClient, index: VectorIndex | None = None
) -> tuple[Retriever, IndexReader]:
    """The index (by default the configured one) opened at its published version, and a
    retriever over it.

    Raises:
        EmbeddingMismatch: the published index was built with another embedding model or
            dimension than `settings.embedding` names (its queries would match nothing).
    """
    reader = (index or open_index(settings)).reader()
    recorded = reader.embedding()
    if recorded is not None:
        configured = EmbeddingSpace(settings.embedding.model, settings.embedding.dimension)
        try:
            check_embedding(recorded, configured, f"the published {settings.index.backend} index")
        except EmbeddingMismatch:
            reader.close()
            raise
    retriever = Retriever(llm, reader, default_token_counter().ids, mode=settings.retrieval.mode)
    return retriever, reader


class Retriever:
    """Hybrid (dense + sparse, fused by RRF) or dense-only search over one index."""

    def __init__(
        self,
        llm: LLMClient,
        index: IndexReader,
        token_ids: Callable[[str], list[int]],
        mode: Literal["hybrid", "dense"] = "hybrid",
    ) -> None:
        self.llm = llm
        self.index = index
        self.token_ids = token_ids
        self.mode = mode

    def search(self, query: str, top_k: int, filters: SearchFilters | None = None) -> Hits:
        """The `top_k` best passages for `query` and the index version they come from; each
        hit's score is its cosine similarity."""
        query = check_query(query)
        dense = self.llm.embed([query], use_cache=True)[0]
        sparse = sparse_from_token_ids(self.token_ids(query)) if self.mode == "hybrid" else None
        return self.index.search(
            IndexQuery(query, dense, sparse, top_k, filters or SearchFilters())
        )
