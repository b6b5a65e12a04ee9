"""The LLM steps of catalog questions: intent, then one SQL statement from the `sql` role.

The catalog side (schema, guard, read-only execution) is in `sql/`; these functions
take the schema as plain values, so the library stays free of the database.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from manualqa.llm import LLMClient
from manualqa.llm.offline import PROVIDER
from manualqa.llm.offline_router import INTENTS, OTHER
from manualqa.prompts import CANNOT_ANSWER_SQL, fence, load_prompt

_FENCE_RE = re.compile(r"^```(?:sql)?\s*(?P<body>.*?)\s*```$", re.DOTALL | re.IGNORECASE)


@dataclass(frozen=True)
class ModelOutput:
    text: str
    model: str
    cost_usd: float | None
    cached: bool
    cannot_answer: str | None = None  # why the model declined; `text` is then empty


def classify_intent(llm: LLMClient, question: str) -> ModelOutput:
    """catalog, manual, both or other, from the `router` role (anything unexpected: other)."""
    prompt = load_prompt("router").render(question=fence(question))
    completion = llm.complete("router", prompt, offline_input={"question": question})
    word = completion.text.strip().lower().strip(".")
    label = word if word in INTENTS else OTHER
    return ModelOutput(label, completion.model, completion.cost_usd, completion.cached)


def _values_text(values: Mapping[str, Sequence[Any]]) -> str:
    lines = [f"vendors: {', '.join(map(str, values.get('vendors', [])))}"]
    products = values.get("products", [])
    lines.append("products: " + "; ".join(f"{p[0]} ({p[1]})" for p in products))
    lines.append(f"licenses: {'; '.join(map(str, values.get('licenses', [])))}")
    return fence("\n".join(lines))


def generate_sql(
    llm: LLMClient,
    question: str,
    *,
    ddl: str,
    columns: Mapping[str, Sequence[str]],
    values: Mapping[str, Sequence[Any]],
) -> ModelOutput:
    """One SQL statement for `question` from the `sql` role, unchecked (the guard checks it).

    When the model replies that the catalog cannot answer, the output's `cannot_answer`
    says so (for the offline model: the question is not one of its documented forms).
    """
    prompt = load_prompt("sql").render(
        cannot_answer=CANNOT_ANSWER_SQL,
        schema=ddl,
        values=_values_text(values),
        question=fence(question),
    )
    completion = llm.complete(
        "sql",
        prompt,
        offline_input={
            "question": question,
            "columns": {t: list(c) for t, c in columns.items()},
            "values": dict(values),
        },
    )
    text = completion.text.strip()
    if match := _FENCE_RE.match(text):
        text = match["body"].strip()
    text = text.rstrip(";").strip()
    if text == CANNOT_ANSWER_SQL or not text:
        reason = (
            "the offline SQL model answers only the documented catalog question forms; "
            "configure a SQL model (llm.sql.model) to ask this"
            if completion.model.startswith(f"{PROVIDER}/")
            else f"the SQL model {completion.model} cannot answer this"
        )
        return ModelOutput(
            "", completion.model, completion.cost_usd, completion.cached, cannot_answer=reason
        )
    return ModelOutput(text, completion.model, completion.cost_usd, completion.cached)
