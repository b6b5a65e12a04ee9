"""One endpoint for any question: catalog (SQL), manual content (RAG) or both."""

import time

from fastapi import APIRouter

from manualqa.query_router import CatalogPart, compose, format_rows, route_query
from manualqa.questions import check_question
from manualqa.sql_generation import classify_intent
from manualqa.usage import add_costs, usage_scope
from serving.auth import AskCaller, ClientIdDep, readable_filters
from serving.deps import StateDep
from serving.licensing import audit_text_reads
from serving.routers.catalog_sql import answer_from_catalog, catalog_refusal, sql_response
from serving.schemas import CitationOut, QueryCitation, QueryRequest, QueryResponse, UsageOut
from sql.text_to_sql import CatalogQuestionRefused

router = APIRouter(prefix="/v1", tags=["answers"])


@router.post("/query", response_model=QueryResponse)
def query(
    body: QueryRequest, state: StateDep, caller: AskCaller, client_id: ClientIdDep
) -> QueryResponse:
    """Classifies the question, runs the catalog part, the manual part or both, and
    composes one answer: `[T<n>]` cites catalog rows, `[<n>]` cites manual passages."""
    started = time.perf_counter()
    question = check_question(body.question, state.settings.questions.max_chars)
    refusal = catalog_refusal(caller)
    filters = readable_filters(caller, state, body.vendor, body.product)

    def ask_catalog(q: str) -> CatalogPart:
        if refusal:
            return CatalogPart(rows_text="", result=None, cost_usd=0.0, refused=refusal)
        try:
            answer = answer_from_catalog(state, q, client_id)
        except CatalogQuestionRefused as exc:
            return CatalogPart(rows_text="", result=None, cost_usd=0.0, refused=exc.reason)
        return CatalogPart(
            format_rows(answer.columns, answer.rows), answer, add_costs(*answer.step_costs_usd)
        )

    with usage_scope(client_id=client_id) as scope:
        result = route_query(
            question,
            classify=lambda q: classify_intent(state.llm, q),
            ask_catalog=ask_catalog,
            ask_manuals=lambda q: state.answers.answer(
                q,
                filters,
                body.top_k,
            ),
            compose_parts=lambda q, rows, manual: compose(state.llm, q, rows, manual),
        )
    took_ms = round((time.perf_counter() - started) * 1000, 2)
    citations: list[QueryCitation] = []
    catalog = None
    if result.catalog is not None and result.catalog.result is not None:
        catalog = sql_response(result.catalog.result, took_ms)
        citations += [
            QueryCitation(kind="row", ref=c.ref, table_keys=c.keys) for c in catalog.citations
        ]
    if result.manual is not None:
        audit_text_reads(
            state, client_id, "text.read.query", [c.manual_key for c in result.manual.citations]
        )
        citations += [
            QueryCitation(kind="passage", ref=str(c.number), passage=CitationOut.model_validate(c))
            for c in result.manual.citations
        ]
    manual_abstained = result.manual is None or result.manual.abstained
    return QueryResponse(
        question=question,
        intent=result.intent,
        answer=result.text,
        abstained=catalog is None and manual_abstained,
        citations=citations,
        catalog=catalog,
        catalog_refused=result.catalog.refused if result.catalog else None,
        model=result.model,
        cost_usd=result.cost_usd,
        usage=UsageOut.of(scope.calls),
        took_ms=took_ms,
    )
