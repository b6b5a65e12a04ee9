"""Request and response bodies of the public API."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field

from manualqa.usage import CallTotals, LLMCall

MAX_TOP_K = 8
# Library objects call a manual's key `manual_key`; the API calls it `manual_id`.
MANUAL_ID = Field(validation_alias=AliasChoices("manual_id", "manual_key"))


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    top_k: int = Field(5, ge=1, le=MAX_TOP_K, description="How many passages to retrieve.")
    vendor: str | None = Field(None, max_length=200, description="Only this vendor's manuals.")
    product: str | None = Field(None, max_length=200, description="Only this product's manuals.")


class SearchRequest(_Request):
    query: str = Field(..., min_length=1, max_length=2000, examples=["How do I reset Wi-Fi?"])


ANSWER_TOP_K = Field(
    None,
    ge=1,
    le=MAX_TOP_K,
    description="How many passages the answer may draw from (default: answer.top_k).",
)


class AskRequest(_Request):
    question: str = Field(..., min_length=1, max_length=2000)
    top_k: int | None = ANSWER_TOP_K  # type: ignore[assignment]


class SearchResult(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    text: str
    score: float = Field(description="Cosine similarity between the query and the passage.")
    manual_id: str = MANUAL_ID
    title: str
    vendor: str
    product: str
    source: str = Field(description="The manual's file name or URL.")
    page: int | None = Field(description="1-based page in the PDF; null for HTML and Markdown.")
    page_end: int | None
    page_label: str | None = Field(description="The page number printed on the page, if any.")
    section: str
    section_path: list[str]
    chunk_id: str = Field(description="The passage's id in the index (changes with its text).")


class SearchResponse(BaseModel):
    query: str
    results: list[SearchResult]
    index_version: str | None
    took_ms: float


class CitationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    number: int = Field(description="The [n] marker in the answer text.")
    manual_id: str = MANUAL_ID
    title: str
    vendor: str
    product: str
    page: int | None = Field(description="First page of the cited passage (PDF, 1-based).")
    page_end: int | None = Field(description="Last page of the cited passage.")
    page_label: str | None
    section: str
    source: str
    score: float
    chunk_id: str = Field(description="The cited passage's id in the index.")
    edition: str = Field(description="The manual's version or edition ('' when unknown).")
    published: str | None = Field(description="ISO date of that edition, when known.")


class UsageOut(BaseModel):
    """The model calls a request made (embedding included), as recorded in `llm_calls`."""

    calls: int
    cached: int = Field(description="Calls answered from the LLM cache (they cost nothing).")
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float | None = Field(description="None when a model's price is unknown.")

    @classmethod
    def of(cls, calls: Iterable[LLMCall]) -> UsageOut:
        return cls.model_validate(CallTotals.of(calls), from_attributes=True)


class AskResponse(BaseModel):
    question: str
    answer: str
    abstained: bool
    citations: list[CitationOut]
    model: str
    cached: bool
    cost_usd: float | None
    confidence: float = Field(description="Calibrated confidence that the evidence answers.")
    index_version: str | None
    usage: UsageOut
    took_ms: float


class HealthResponse(BaseModel):
    status: str


class ReadyResponse(BaseModel):
    ready: bool
    index_version: str | None
    index_points: int | None
    database: bool
    detail: dict[str, str] = {}


class WebhookAcceptedResponse(BaseModel):
    partner: str
    item_id: str = Field(description="The inbox item; the same idempotency key maps to it.")
    document_id: str
    action: str = Field(description="`deliver` (a document) or `withdraw` (the partner's own).")
    received_at: str


class SqlRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    question: str = Field(
        ..., min_length=1, max_length=10_000, examples=["How many manuals does Acme have?"]
    )


class RowCitationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    ref: str = Field(description="The [T<n>] marker: the n-th row of the result.")
    keys: dict[str, dict[str, Any]] = Field(
        description="Table -> primary key -> value of the catalog rows this row was read from."
    )


class SqlResponse(BaseModel):
    question: str
    intent: str
    statement: str = Field(description="The statement that ran, as the guard rewrote it.")
    params: dict[str, Any]
    columns: list[str]
    rows: list[list[Any]]
    citations: list[RowCitationOut]
    tables: list[str] = Field(description="Catalog tables the statement read.")
    model: str
    cost_usd: float | None
    template_cached: bool
    schema_version: str
    usage: UsageOut | None = Field(
        None, description="The request's model calls (inside a /v1/query answer: its own)."
    )
    took_ms: float


class QueryRequest(_Request):
    question: str = Field(..., min_length=1, max_length=10_000)
    top_k: int | None = ANSWER_TOP_K  # type: ignore[assignment]


class QueryCitation(BaseModel):
    """One citation model for both parts: a catalog row or a manual passage."""

    kind: Literal["row", "passage"]
    ref: str = Field(description="The marker in the answer: T<n> for rows, <n> for passages.")
    table_keys: dict[str, dict[str, Any]] | None = None
    passage: CitationOut | None = None


class QueryResponse(BaseModel):
    question: str
    intent: str
    answer: str
    abstained: bool
    citations: list[QueryCitation]
    catalog: SqlResponse | None
    catalog_refused: str | None = Field(
        None, description="Why the catalog part gave no rows, when the question needed it."
    )
    model: str
    cost_usd: float | None
    usage: UsageOut
    took_ms: float


class FieldError(BaseModel):
    loc: list[str] = Field(description="Where in the request: body, field name, index.")
    msg: str
    type: str


class ErrorResponse(BaseModel):
    """Every error has this shape; it never echoes the request."""

    error: str = Field(description="A machine-readable code: unauthorized, rate_limited, …")
    detail: str | list[FieldError] | dict[str, Any]
