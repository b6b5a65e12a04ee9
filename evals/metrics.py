"""Retrieval and answer metrics over one golden question."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from evals.golden import GoldenQuestion


@dataclass(frozen=True)
class Located:
    """Where a retrieved passage or a citation points."""

    manual_key: str
    page: int | None
    page_end: int | None


def normalise(text: str) -> str:
    return " ".join(text.lower().split())


def is_match(q: GoldenQuestion, loc: Located, *, page_level: bool = True) -> bool:
    """Right manual, and (for paged manuals) a page range that covers an expected page."""
    if loc.manual_key != q.manual_key:
        return False
    if not page_level or not q.pages or loc.page is None:
        return True
    last = loc.page_end if loc.page_end is not None else loc.page
    return any(loc.page <= p <= last for p in q.pages)


def first_match_rank(
    q: GoldenQuestion, ranked: Sequence[Located], *, page_level: bool = True
) -> int | None:
    """1-based rank of the first matching passage, or None."""
    for rank, loc in enumerate(ranked, start=1):
        if is_match(q, loc, page_level=page_level):
            return rank
    return None


def citation_precision(q: GoldenQuestion, citations: Sequence[Located]) -> float | None:
    """Share of citations that point at the expected manual and page (None: nothing cited)."""
    if not citations:
        return None
    return sum(is_match(q, c) for c in citations) / len(citations)


def answer_contains(q: GoldenQuestion, answer: str) -> bool:
    text = normalise(answer)
    return all(normalise(s) in text for s in q.answer_contains)


def citation_recall(q: GoldenQuestion, citations: Sequence[Located]) -> float:
    """Share of the expected pages some citation covers (1 or 0 when no pages are given)."""
    if not q.pages:
        return float(any(is_match(q, c) for c in citations))
    covered = [
        p for p in q.pages if any(c.manual_key == q.manual_key and _covers(c, p) for c in citations)
    ]
    return len(covered) / len(q.pages)


def _covers(c: Located, page: int) -> bool:
    if c.page is None:
        return True
    last = c.page_end if c.page_end is not None else c.page
    return c.page <= page <= last
