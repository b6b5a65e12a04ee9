"""Hybrid search over the published index."""

import time

from fastapi import APIRouter

from manualqa.index.base import SearchFilters
from serving.deps import ClientIdDep, StateDep
from serving.licensing import audit_text_reads, servable_filters
from serving.schemas import SearchRequest, SearchResponse, SearchResult

router = APIRouter(prefix="/v1", tags=["search"])


@router.post("/search", response_model=SearchResponse)
def search(body: SearchRequest, state: StateDep, client_id: ClientIdDep) -> SearchResponse:
    """The best passages for a query, each with manual, page and section, from manuals
    whose license allows serving now."""
    started = time.perf_counter()
    filters = servable_filters(state, SearchFilters(vendor=body.vendor, product=body.product))
    hits = state.retriever.search(body.query, body.top_k, filters)
    audit_text_reads(state, client_id, "text.read.search", [h.manual_key for h in hits])
    return SearchResponse(
        query=body.query,
        results=[SearchResult.model_validate(h) for h in hits],
        index_version=state.index.version,
        took_ms=round((time.perf_counter() - started) * 1000, 2),
    )
