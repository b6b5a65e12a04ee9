"""Whether a fetched document may enter the pipeline, and if not, why.

`validate` inspects the bytes (type from magic bytes, size, PDF health, language) and
returns a `Verdict`: accepted, or refused with a reason code and a sentence a person
can act on. Refused documents are quarantined with their bytes, never dropped.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

from manualqa.config import ValidationSettings
from manualqa.documents import ManualRef
from manualqa.inspection import HTML, MARKDOWN, PDF, TEXT, DocumentFacts, inspect_document

# Which sniffed types a declared media type may arrive as. Markdown and HTML without a
# doctype sniff as plain text.
COMPATIBLE = {
    PDF: {PDF},
    HTML: {HTML, TEXT},
    MARKDOWN: {TEXT},
}


@dataclass(frozen=True)
class Verdict:
    """`ok`, or `code` (a stable slug) and `reason` (a sentence) saying why not."""

    ok: bool
    code: str
    reason: str
    facts: DocumentFacts

    @property
    def summary(self) -> dict[str, object]:
        """What a catalog row or asset metadata shows about the document."""
        facts = self.facts
        return {
            "sniffed_type": facts.sniffed_type,
            "size_bytes": facts.size,
            "pages": facts.page_count,
            "pages_without_text": facts.pages_without_text,
            "image_only_pages": list(facts.image_only_pages),
            "encrypted": facts.encrypted,
            "language": facts.language,
        }


def validate(data: bytes, ref: ManualRef, settings: ValidationSettings) -> Verdict:
    """Judge `data`, which the source offered as `ref`."""
    size = len(data)
    if size == 0:
        return _refuse("empty", "the file is empty", size)
    if size < settings.min_bytes:
        return _refuse(
            "too_small", f"{size} bytes, fewer than the {settings.min_bytes} required", size
        )
    if size > settings.max_bytes:
        return _refuse(
            "too_large", f"{size} bytes, more than the {settings.max_bytes} allowed", size
        )
    facts = inspect_document(data, ref.media_type, max_pages=settings.max_pages)
    allowed = COMPATIBLE.get(ref.media_type)
    if allowed is None:
        return Verdict(False, "unsupported_type", f"{ref.media_type} is not a manual format", facts)
    if facts.sniffed_type not in allowed:
        found = facts.sniffed_type or "unrecognised bytes"
        return Verdict(
            False, "type_mismatch", f"the content is {found}, not {ref.media_type}", facts
        )
    if facts.encrypted and facts.error:
        return Verdict(False, "encrypted", facts.error, facts)
    if facts.error:
        return Verdict(False, "unreadable", facts.error, facts)
    if ref.media_type == PDF:
        verdict = _pdf_health(facts, settings)
        if verdict is not None:
            return verdict
    elif not facts.text:
        return Verdict(False, "no_text", "the document has no text", facts)
    if settings.languages and facts.language not in settings.languages:
        return Verdict(
            False,
            "language",
            f"the text is in {facts.language or 'no detectable language'}, "
            f"not one of {settings.languages}",
            facts,
        )
    return Verdict(True, "ok", "accepted", facts)


def _pdf_health(facts: DocumentFacts, settings: ValidationSettings) -> Verdict | None:
    pages = facts.page_count or 0
    if pages > settings.max_pages:
        return Verdict(
            False, "too_many_pages", f"{pages} pages, more than {settings.max_pages}", facts
        )
    without = facts.pages_without_text
    if without == len(facts.page_chars):
        images = len(facts.image_only_pages)
        what = f"{images} of {pages} pages are images" if images else "no page has text"
        return Verdict(False, "image_only", f"no extractable text: {what} (scan?)", facts)
    if without / len(facts.page_chars) > settings.max_image_only_ratio:
        return Verdict(
            False,
            "mostly_images",
            f"{without} of {pages} pages have no text (pages "
            f"{list(facts.image_only_pages)[:10]} are images)",
            facts,
        )
    mean_chars = statistics.fmean(c for c in facts.page_chars if c)
    if mean_chars < settings.min_chars_per_page:
        return Verdict(
            False,
            "too_little_text",
            f"{mean_chars:.0f} characters per page, fewer than {settings.min_chars_per_page:.0f}",
            facts,
        )
    return None


def _refuse(code: str, reason: str, size: int) -> Verdict:
    return Verdict(False, code, reason, DocumentFacts(size=size, sniffed_type=None))
