"""Hybrid search over the published index."""

import time

from fastapi import APIRouter

from serving.auth import ClientIdDep, SearchCaller, readable_filters
from serving.deps import StateDep
from serving.licensing import audit_text_reads
from serving.schemas import SearchRequest, SearchResponse, SearchResult

router = APIRouter(prefix="/v1", tags=["search"])


@router.post("/search", response_model=SearchResponse)
def search(
    body: SearchRequest, state: StateDep, caller: SearchCaller, client_id: ClientIdDep
) -> SearchResponse:
    """The best passages for a query, each with manual, page and section, from manuals
    the caller may see and whose license allows serving now."""
    started = time.perf_counter()
    filters = readable_filters(caller, state, body.vendor, body.product)
    hits = state.retriever.search(body.query, body.top_k, filters)
    audit_text_reads(state, client_id, "text.read.search", [h.manual_key for h in hits])
    return SearchResponse(
        query=body.query,
        results=[SearchResult.model_validate(h) for h in hits],
        index_version=hits.version,
        took_ms=round((time.perf_counter() - started) * 1000, 2),
    )
