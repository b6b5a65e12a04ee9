"""Answers with citations: retrieve, prompt the `answer` role, keep only cited claims."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from manualqa.index.base import Hit, SearchFilters
from manualqa.injection import keep_out_of_prompts
from manualqa.llm import LLMClient
from manualqa.prompts import ABSTAIN_TEXT, PromptPassage, render_answer_prompt
from manualqa.retrieval import Retriever

log = logging.getLogger(__name__)
_CITATION_RE = re.compile(r"\[(\d+)\]")


@dataclass(frozen=True)
class Citation:
    number: int
    manual_key: str
    title: str
    vendor: str
    product: str
    page: int | None
    page_end: int | None  # a passage may run onto the next page
    page_label: str | None
    section: str
    source: str
    chunk_id: str
    score: float


@dataclass(frozen=True)
class Answer:
    question: str
    text: str
    abstained: bool
    citations: list[Citation]
    passages: list[Hit]  # everything retrieved, best first (citations number the relevant ones)
    model: str
    cached: bool
    cost_usd: float | None


def _citation(number: int, hit: Hit) -> Citation:
    return Citation(
        number=number,
        manual_key=hit.manual_key,
        title=hit.title,
        vendor=hit.vendor,
        product=hit.product,
        page=hit.page,
        page_end=hit.page_end,
        page_label=hit.page_label,
        section=hit.section,
        source=hit.source,
        chunk_id=hit.chunk_id,
        score=hit.score,
    )


def _passage(number: int, hit: Hit) -> PromptPassage:
    page = "" if hit.page is None else str(hit.page)
    return PromptPassage(number, hit.manual_key, hit.product, page, hit.section, hit.text)


def answer_question(
    question: str,
    retriever: Retriever,
    llm: LLMClient,
    top_k: int,
    min_score: float,
    filters: SearchFilters | None = None,
) -> Answer:
    """Answer `question` from the manuals, or abstain.

    Abstains without calling the model when no passage reaches `min_score`, and
    refuses an answer that cites no passage it was given (no citation, no claim).
    Passages flagged for prompt injection never reach the model.
    """
    hits = retriever.search(question, top_k, filters)
    relevant = keep_out_of_prompts([h for h in hits if h.score >= min_score])
    role = llm.role("answer")
    if not relevant:
        return Answer(question, ABSTAIN_TEXT, True, [], hits, role.model, False, 0.0)
    messages = render_answer_prompt(question, [_passage(i + 1, h) for i, h in enumerate(relevant)])
    completion = llm.complete("answer", messages)
    text = completion.text.strip()
    cited = sorted({int(n) for n in _CITATION_RE.findall(text) if 1 <= int(n) <= len(relevant)})
    abstained = text == ABSTAIN_TEXT or not cited
    if not cited and text != ABSTAIN_TEXT:
        log.warning("answer model %s gave no valid citation; abstaining", completion.model)
    citations = [] if abstained else [_citation(n, relevant[n - 1]) for n in cited]
    return Answer(
        question=question,
        text=ABSTAIN_TEXT if abstained else text,
        abstained=abstained,
        citations=citations,
        passages=hits,
        model=completion.model,
        cached=completion.cached,
        cost_usd=completion.cost_usd,
    )
