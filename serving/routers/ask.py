"""Answers with citations."""

import time

from fastapi import APIRouter

from manualqa.questions import check_question
from manualqa.usage import usage_scope
from serving.auth import AskCaller, ClientIdDep, readable_filters
from serving.deps import StateDep
from serving.licensing import audit_text_reads
from serving.schemas import AskRequest, AskResponse, CitationOut, UsageOut

router = APIRouter(prefix="/v1", tags=["answers"])


@router.post("/ask", response_model=AskResponse)
def ask(
    body: AskRequest, state: StateDep, caller: AskCaller, client_id: ClientIdDep
) -> AskResponse:
    """An answer composed from the manuals, citing manual, page and section; or an abstention."""
    started = time.perf_counter()
    question = check_question(body.question, state.settings.questions.max_chars)
    with usage_scope(client_id=client_id) as scope:
        answer = state.answers.answer(
            question,
            readable_filters(caller, state, body.vendor, body.product),
            body.top_k,
        )
    audit_text_reads(state, client_id, "text.read.ask", [c.manual_key for c in answer.citations])
    return AskResponse(
        question=answer.question,
        answer=answer.text,
        abstained=answer.abstained,
        citations=[CitationOut.model_validate(c) for c in answer.citations],
        model=answer.model,
        cached=answer.cached,
        cost_usd=answer.cost_usd,
        confidence=round(answer.confidence, 4),
        index_version=answer.index_version,
        usage=UsageOut.of(scope.calls),
        took_ms=round((time.perf_counter() - started) * 1000, 2),
    )
