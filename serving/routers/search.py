"""Hybrid search over the published index."""

import time

from fastapi import APIRouter

from manualqa.index.base import Hit, SearchFilters
from serving.deps import StateDep
from serving.schemas import SearchRequest, SearchResponse, SearchResult

router = APIRouter(prefix="/v1", tags=["search"])


def to_result(hit: Hit) -> SearchResult:
    return SearchResult(
        text=hit.text,
        score=round(hit.score, 4),
        manual_id=hit.manual_key,
        title=hit.title,
        vendor=hit.vendor,
        product=hit.product,
        source=hit.file_name or hit.source_uri,
        page=hit.page,
        page_end=hit.page_end,
        page_label=hit.page_label,
        section=hit.section,
        section_path=list(hit.section_path),
    )


@router.post("/search", response_model=SearchResponse)
def search(body: SearchRequest, state: StateDep) -> SearchResponse:
    """The best passages for a query, each with manual, page and section."""
    started = time.perf_counter()
    hits = state.retriever.search(
        body.query, body.top_k, SearchFilters(vendor=body.vendor, product=body.product)
    )
    return SearchResponse(
        query=body.query,
        results=[to_result(h) for h in hits],
        index_version=state.index.version,
        took_ms=round((time.perf_counter() - started) * 1000, 2),
    )
