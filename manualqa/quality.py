"""Measurements behind the asset checks: is the extracted text and its chunking usable?

Validation (`manualqa.validation`) judges a source's bytes before they are ingested;
these measure what the pipeline's own extraction and chunking made of them. Each
function measures; the checks in `manual_assets` compare the figures with the
thresholds in `Settings.checks`.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from manualqa.documents import Chunk, ExtractedManual
from manualqa.inspection import LANGUAGE_SAMPLE_CHARS, detect_language


@dataclass(frozen=True)
class PageText:
    """How much text each page of a paged manual yielded."""

    chars_per_page: tuple[int, ...]  # index 0 is page 1
    image_only_pages: tuple[int, ...]  # 1-based numbers of pages without a usable text layer

    @property
    def median_chars(self) -> float:
        return statistics.median(self.chars_per_page) if self.chars_per_page else 0.0

    @property
    def image_only_share(self) -> float:
        pages = len(self.chars_per_page)
        return len(self.image_only_pages) / pages if pages else 0.0


def page_text(doc: ExtractedManual, image_only_chars: int) -> PageText | None:
    """Characters per page, and the pages with fewer than `image_only_chars` of them.

    Returns None for a manual without pages (HTML, Markdown).
    """
    if not doc.page_count:
        return None
    chars = [0] * doc.page_count
    for block in doc.blocks:
        if block.page is not None and 1 <= block.page <= doc.page_count:
            chars[block.page - 1] += len(block.text.strip())
    empty = tuple(n for n, count in enumerate(chars, start=1) if count < image_only_chars)
    return PageText(chars_per_page=tuple(chars), image_only_pages=empty)


def text_language(doc: ExtractedManual) -> str:
    """The ISO 639-1 code of the language most of the manual's extracted text is in."""
    return detect_language(" ".join(block.text for block in doc.blocks)[:LANGUAGE_SAMPLE_CHARS])


@dataclass(frozen=True)
class ChunkLengths:
    """The distribution of chunk sizes in the embedding model's tokens."""

    count: int
    p10: int
    median: int
    p90: int
    max: int
    short: int  # chunks below the `short_tokens` given to `chunk_lengths`

    @property
    def short_share(self) -> float:
        return self.short / self.count if self.count else 0.0


def chunk_lengths(chunks: Sequence[Chunk], short_tokens: int) -> ChunkLengths:
    tokens = sorted(c.token_count for c in chunks)
    if not tokens:
        return ChunkLengths(count=0, p10=0, median=0, p90=0, max=0, short=0)

    def quantile(q: float) -> int:
        return tokens[round(q * (len(tokens) - 1))]

    return ChunkLengths(
        count=len(tokens),
        p10=quantile(0.1),
        median=quantile(0.5),
        p90=quantile(0.9),
        max=tokens[-1],
        short=sum(1 for t in tokens if t < short_tokens),
    )


def orphan_chunks(chunks: Sequence[Chunk], *, paged: bool) -> list[Chunk]:
    """Chunks a citation cannot locate: without a section, or without a page in a paged
    manual (a PDF)."""
    return [c for c in chunks if not c.section_path or (paged and c.page is None)]
