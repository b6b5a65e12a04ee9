"""Hybrid search over the published index."""

import time

import anyio.to_thread
from fastapi import APIRouter

from serving.auth import ClientIdDep, Principal, SearchCaller, readable_filters
from serving.deps import StateDep
from serving.licensing import audit_text_reads
from serving.schemas import SearchRequest, SearchResponse, SearchResult
from serving.state import AppState

router = APIRouter(prefix="/v1", tags=["search"])


@router.post("/search", response_model=SearchResponse)
async def search(
    body: SearchRequest, state: StateDep, caller: SearchCaller, client_id: ClientIdDep
) -> SearchResponse:
    """The best passages for a query, each with manual, page and section, from manuals
    the caller may see and whose license allows serving now."""
    # On `serving.request_threads`, not the shared pool: a search holds the GIL, and
    # eight of them side by side only queue for it.
    return await anyio.to_thread.run_sync(
        _search, body, state, caller, client_id, limiter=state.request_threads
    )


def _search(
    body: SearchRequest, state: AppState, caller: Principal, client_id: str
) -> SearchResponse:
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
