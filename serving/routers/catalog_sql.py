"""Catalog questions answered in SQL, through the guard and the read-only role."""

import time

from fastapi import APIRouter, HTTPException, status

from manualqa.questions import check_question
from manualqa.sql_generation import classify_intent, generate_sql
from manualqa.usage import add_costs, usage_scope
from serving.auth import ClientIdDep, Principal, SqlCaller
from serving.deps import StateDep
from serving.schemas import RowCitationOut, SqlRequest, SqlResponse, UsageOut
from serving.state import AppState
from sql.text_to_sql import CatalogAnswer

router = APIRouter(prefix="/v1", tags=["catalog"])
RESTRICTED = "catalog questions need a credential not restricted to vendors or products"


def catalog_refusal(caller: Principal) -> str | None:
    """Why this caller may not query the catalog, or None. The catalog lists every
    vendor's manuals, so a vendor- or product-restricted credential may not."""
    if not caller.allows("sql"):
        return "this credential lacks the 'sql' scope"
    return RESTRICTED if caller.restricted else None


def answer_from_catalog(state: AppState, question: str, client_id: str) -> CatalogAnswer:
    """The text-to-SQL path with this app's `router` and `sql` roles."""
    llm = state.llm
    return state.text_to_sql.answer(
        question,
        classify=lambda q: classify_intent(llm, q),
        generate=lambda q, schema, names: generate_sql(
            llm, q, ddl=schema.ddl, columns=schema.columns, values=names
        ),
        actor=client_id,
    )


def sql_response(
    answer: CatalogAnswer, took_ms: float, usage: UsageOut | None = None
) -> SqlResponse:
    return SqlResponse(
        question=answer.question,
        intent=answer.intent,
        statement=answer.statement,
        params=answer.params,
        columns=answer.columns,
        rows=answer.rows,
        citations=[RowCitationOut(ref=f"T{c.number}", keys=c.keys) for c in answer.citations],
        tables=answer.tables,
        model=answer.model,
        cost_usd=add_costs(*answer.step_costs_usd),
        template_cached=answer.template_cached,
        schema_version=answer.schema_version,
        usage=usage,
        took_ms=took_ms,
    )


@router.post("/sql", response_model=SqlResponse)
def catalog_question(
    body: SqlRequest, state: StateDep, caller: SqlCaller, client_id: ClientIdDep
) -> SqlResponse:
    """Rows from the catalog for a question about it; each row cites its table and keys.

    A question that is not about the catalog, a statement the guard refuses, or one
    the offline SQL model cannot write gets a 422 with the reason (and an audit row).
    """
    started = time.perf_counter()
    refusal = catalog_refusal(caller)
    if refusal:
        raise HTTPException(status_code=status.HTTP_403_FORBIDDEN, detail=refusal)
    question = check_question(body.question, state.settings.questions.max_chars)
    with usage_scope(client_id=client_id) as scope:
        answer = answer_from_catalog(state, question, client_id)
    usage = UsageOut.of(scope.calls)
    return sql_response(answer, round((time.perf_counter() - started) * 1000, 2), usage)
