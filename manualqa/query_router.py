"""One question, routed: catalog (SQL), manual content (RAG) or both, composed into one answer.

Plain functions with the parts passed in (the catalog part lives in `sql/`, which this
library cannot import). One citation model: `[T<n>]` cites catalog rows (table and
primary keys), `[<n>]` cites manual passages (manual, page, section).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from manualqa.answer import Answer
from manualqa.llm import LLMClient
from manualqa.llm.offline_router import BOTH, CATALOG, MANUAL
from manualqa.prompts import fence, load_prompt
from manualqa.sql_generation import ModelOutput
from manualqa.usage import add_costs


class QueryRefused(Exception):
    """The question is neither about the catalog nor about manual content."""


@dataclass(frozen=True)
class CatalogPart:
    """The catalog's share of an answer: rows with `[T<n>]` markers, or why there are none."""

    rows_text: str
    result: Any  # the catalog's own result object, passed through to the response
    cost_usd: float | None
    refused: str | None = None


@dataclass(frozen=True)
class QueryAnswer:
    question: str
    intent: str
    text: str
    catalog: CatalogPart | None
    manual: Answer | None
    model: str
    cost_usd: float | None


def format_rows(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """Rows as text a model can cite: `[T1] key=…; title=…`, one line each."""
    if not rows:
        return "The catalog has no rows for this question."
    return "\n".join(
        f"[T{n}] " + "; ".join(f"{c}={v}" for c, v in zip(columns, row, strict=True))
        for n, row in enumerate(rows, start=1)
    )


def compose(llm: LLMClient, question: str, rows_text: str, manual_answer: str) -> ModelOutput:
    """One answer from both parts through the `composition` role."""
    prompt = load_prompt("composition").render(
        question=fence(question), rows=fence(rows_text), manual_answer=fence(manual_answer)
    )
    completion = llm.complete(
        "composition",
        prompt,
        offline_input={"rows_text": rows_text, "manual_answer": manual_answer},
    )
    return ModelOutput(
        completion.text.strip(), completion.model, completion.cost_usd, completion.cached
    )


def route_query(
    question: str,
    *,
    classify: Callable[[str], ModelOutput],
    ask_catalog: Callable[[str], CatalogPart],
    ask_manuals: Callable[[str], Answer],
    compose_parts: Callable[[str, str, str], ModelOutput],
) -> QueryAnswer:
    """Classify, run the parts the intent needs, compose.

    Raises:
        QueryRefused: the intent is `other`, or a catalog-only question was refused.
    """
    intent = classify(question)
    if intent.text not in (CATALOG, MANUAL, BOTH):
        raise QueryRefused(
            "this is neither a question about the catalog nor about what a manual says"
        )
    catalog = ask_catalog(question) if intent.text in (CATALOG, BOTH) else None
    if intent.text == CATALOG and catalog is not None and catalog.refused:
        raise QueryRefused(catalog.refused)
    manual = ask_manuals(question) if intent.text in (MANUAL, BOTH) else None
    if catalog is None or catalog.refused:
        assert manual is not None
        return QueryAnswer(
            question=question,
            intent=intent.text,
            text=manual.text,
            catalog=catalog,
            manual=manual,
            model=manual.model,
            cost_usd=add_costs(
                intent.cost_usd, catalog.cost_usd if catalog else 0.0, manual.cost_usd
            ),
        )
    manual_text = "" if manual is None or manual.abstained else manual.text
    composed = compose_parts(question, catalog.rows_text, manual_text)
    return QueryAnswer(
        question=question,
        intent=intent.text,
        text=composed.text,
        catalog=catalog,
        manual=manual,
        model=composed.model,
        cost_usd=add_costs(
            intent.cost_usd,
            catalog.cost_usd,
            manual.cost_usd if manual else 0.0,
            composed.cost_usd,
        ),
    )
