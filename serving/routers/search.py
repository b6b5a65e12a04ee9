"""Hybrid search over the published index."""

import time

from fastapi import APIRouter

from manualqa.index.base import SearchFilters
from serving.deps import StateDep
from serving.schemas import SearchRequest, SearchResponse, SearchResult

router = APIRouter(prefix="/v1", tags=["search"])


@router.post("/search", response_model=SearchResponse)
def search(body: SearchRequest, state: StateDep) -> SearchResponse:
    """The best passages for a query, each with manual, page and section."""
    started = time.perf_counter()
    hits = state.retriever.search(
        body.query, body.top_k, SearchFilters(vendor=body.vendor, product=body.product)
    )
    return SearchResponse(
        query=body.query,
        results=[SearchResult.model_validate(h) for h in hits],
        index_version=state.index.version,
        took_ms=round((time.perf_counter() - started) * 1000, 2),
    )
