"""Catalog questions answered in SQL: intent check, generation, guard, read-only run, audit.

The model steps come in as callables (`manualqa.sql_generation` bound to an
`LLMClient`), so this module needs no LLM. Successful statements are cached by a hash
of the normalised question and the schema version; a cached statement is checked by
the guard again before it runs.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal
from typing import Any, NoReturn, Protocol

from sqlalchemy import Engine

from manualqa.config import TextToSqlSettings
from sql import catalog
from sql.allowlist import CatalogSchema, catalog_schema
from sql.db import session_scope
from sql.guard import CheckedStatement, GuardRefusal, check_statement
from sql.readonly import StatementTimeout, catalog_names, run_readonly

log = logging.getLogger(__name__)
CATALOG_INTENTS = ("catalog", "both")


class Generated(Protocol):
    """What a model step returns: its text, or why the model cannot answer."""

    @property
    def text(self) -> str: ...
    @property
    def model(self) -> str: ...
    @property
    def cost_usd(self) -> float | None: ...
    @property
    def cannot_answer(self) -> str | None: ...


Classify = Callable[[str], Generated]
Generate = Callable[[str, CatalogSchema, Mapping[str, Sequence[Any]]], Generated]


class CatalogQuestionRefused(Exception):
    """The question was not answered; `stage` says where (intent, model, guard, run)."""

    def __init__(self, stage: str, reason: str, statement: str | None = None) -> None:
        super().__init__(reason)
        self.stage = stage
        self.reason = reason
        self.statement = statement


@dataclass(frozen=True)
class RowCitation:
    """`[T<n>]`: the catalog rows one result row was read from."""

    number: int
    keys: dict[str, dict[str, Any]]  # table -> primary key column -> value


@dataclass(frozen=True)
class CatalogAnswer:
    question: str
    intent: str
    statement: str
    params: dict[str, Any]
    columns: list[str]
    rows: list[list[Any]]
    citations: list[RowCitation]
    tables: list[str]
    model: str
    step_costs_usd: tuple[float | None, ...]  # the intent step's, then the SQL step's
    template_cached: bool
    schema_version: str


def normalise_question(question: str) -> str:
    return re.sub(r"\s+", " ", question.strip().lower()).strip(" ?.!")


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return value


class TextToSql:
    """Answers catalog questions; one per process, shared between requests."""

    def __init__(
        self,
        catalog_engine: Engine,
        readonly_engine: Engine,
        settings: TextToSqlSettings,
        schema: CatalogSchema | None = None,
    ) -> None:
        self.catalog_engine = catalog_engine
        self.readonly_engine = readonly_engine
        self.settings = settings
        self.schema = schema or catalog_schema()
        self._templates: OrderedDict[str, str] = OrderedDict()
        self._lock = threading.Lock()

    def template_key(self, question: str) -> str:
        text = f"{self.schema.version}\n{normalise_question(question)}"
        return hashlib.sha256(text.encode()).hexdigest()

    def answer(
        self, question: str, *, classify: Classify, generate: Generate, actor: str
    ) -> CatalogAnswer:
        """Classify, generate (or reuse a cached statement), check, run, audit.

        Raises:
            CatalogQuestionRefused: at any stage; an audit row records it.
        """
        intent = classify(question)
        if intent.text not in CATALOG_INTENTS:
            self._refuse(
                actor,
                question,
                CatalogQuestionRefused(
                    "intent",
                    f"this is not a question about the catalog (intent: {intent.text}); "
                    "ask /v1/ask or /v1/query instead",
                ),
            )
        key = self.template_key(question)
        with self._lock:
            cached_sql = self._templates.get(key)
        cost: float | None
        if cached_sql is not None:
            sql_text, model, cost = cached_sql, "template-cache", 0.0
        else:
            generated = generate(question, self.schema, catalog_names(self.readonly_engine))
            if generated.cannot_answer:
                self._refuse(
                    actor, question, CatalogQuestionRefused("model", generated.cannot_answer)
                )
            sql_text, model, cost = generated.text, generated.model, generated.cost_usd
        checked = self.check(sql_text, actor=actor, question=question)
        try:
            result = run_readonly(self.readonly_engine, checked, self.settings.statement_timeout_ms)
        except StatementTimeout as exc:
            self._refuse(actor, question, CatalogQuestionRefused("run", str(exc), checked.sql))
        if cached_sql is None:
            self._remember(key, sql_text)
        answer = replace(
            self._shape(question, intent.text, checked, result.columns, result.rows),
            model=model,
            step_costs_usd=(intent.cost_usd, cost),
            template_cached=cached_sql is not None,
        )
        with session_scope(self.catalog_engine) as session:
            catalog.record_audit(
                session,
                actor,
                "sql.executed",
                question[:500],
                {
                    "statement": checked.sql,
                    "params": _jsonable(checked.params),
                    "rows": len(answer.rows),
                },
            )
        return answer

    def check(self, sql_text: str, *, actor: str, question: str) -> CheckedStatement:
        """The guard, with refusals audited."""
        try:
            return check_statement(sql_text, self.settings.max_rows, self.schema)
        except GuardRefusal as exc:
            self._refuse(actor, question, CatalogQuestionRefused("guard", exc.reason, sql_text))

    def _remember(self, key: str, sql_text: str) -> None:
        if self.settings.template_cache_size == 0:
            return
        with self._lock:
            self._templates[key] = sql_text
            self._templates.move_to_end(key)
            while len(self._templates) > self.settings.template_cache_size:
                self._templates.popitem(last=False)

    def _refuse(self, actor: str, question: str, refusal: CatalogQuestionRefused) -> NoReturn:
        log.warning("text-to-SQL refused at %s: %s", refusal.stage, refusal.reason)
        with session_scope(self.catalog_engine) as session:
            catalog.record_audit(
                session,
                actor,
                "sql.refused",
                question[:500],
                {"stage": refusal.stage, "reason": refusal.reason, "statement": refusal.statement},
            )
        raise refusal

    def _shape(
        self,
        question: str,
        intent: str,
        checked: CheckedStatement,
        columns: list[str],
        rows: list[tuple[Any, ...]],
    ) -> CatalogAnswer:
        key_columns = {name for name, _, _ in checked.row_keys}
        visible = [i for i, c in enumerate(columns) if c not in key_columns]
        index = {c: i for i, c in enumerate(columns)}
        citations = []
        for number, row in enumerate(rows, start=1):
            keys: dict[str, dict[str, Any]] = {}
            for column, table, pk in checked.row_keys:
                keys.setdefault(table, {})[pk] = _json_value(row[index[column]])
            citations.append(RowCitation(number=number, keys=keys))
        return CatalogAnswer(
            question=question,
            intent=intent,
            statement=checked.sql,
            params=_jsonable(checked.params),
            columns=[columns[i] for i in visible],
            rows=[[_json_value(row[i]) for i in visible] for row in rows],
            citations=citations,
            tables=list(checked.tables),
            model="",
            step_costs_usd=(),
            template_cached=False,
            schema_version=self.schema.version,
        )


def _jsonable(params: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _json_value(v) for k, v in params.items()}
