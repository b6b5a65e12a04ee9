"""Turn the bytes of one manual into page- and section-aware text.

`extract_manual` dispatches on the media type to the PDF, HTML or Markdown
extractor. Every failure that means "this input cannot be indexed" is an
`ExtractionError` whose message says what is wrong, so the pipeline can
quarantine the manual with that reason.
"""

from __future__ import annotations

import re
import unicodedata

from manualqa.documents import ExtractedManual, ManualRef

__all__ = [
    "HTML_TYPES",
    "MARKDOWN_TYPES",
    "PDF_TYPES",
    "TABLE_ROW_RE",
    "TABLE_RULE_RE",
    "ExtractionError",
    "canonical_media_type",
    "collapse_spaces",
    "extract_manual",
    "has_words",
    "heading_keys",
    "match_key",
    "names_a_column",
]

PDF_TYPES = frozenset({"application/pdf", "application/x-pdf"})
HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
MARKDOWN_TYPES = frozenset({"text/markdown", "text/x-markdown"})
# A table row as extracted text writes it, one line a row: "| cell | cell |" (Markdown and
# HTML tables, and PDF tables read from the layout text).
TABLE_ROW_RE = re.compile(r"^\|.*\|$")
# ... and the rule under a table's header row: "|---|---|" (colons allowed for alignment).
TABLE_RULE_RE = re.compile(r"^\|[\s:|]*-[\s:|-]*\|$")
_ABBREVIATION_RE = re.compile(r"(?:^|\s)[A-Za-z]{1,3}\.$")  # "No.", "Part no."
_DIGIT_RE = re.compile(r"\d")


def names_a_column(cell: str) -> bool:
    """Whether a table cell reads as the name of a column rather than a value: no figure,
    no list ("DLP, single chip") and no sentence (a cell ending in ".", "!", "?", ":" or
    ";" but for an abbreviation such as "No.")."""
    return (
        not _DIGIT_RE.search(cell)  # a decimal digit: "m³" names a unit
        and ", " not in cell
        and (
            cell[-1:] not in (".", "!", "?", ":", ";") or _ABBREVIATION_RE.search(cell) is not None
        )
    )


class ExtractionError(ValueError):
    """The manual cannot be turned into text; the message says why."""


def canonical_media_type(media_type: str) -> str:
    """Map a media type (parameters and aliases allowed) to the canonical one.

    Raises:
        ExtractionError: when the type is none of PDF, HTML or Markdown.
    """
    base = media_type.split(";", 1)[0].strip().lower()
    if base in PDF_TYPES:
        return "application/pdf"
    if base in HTML_TYPES:
        return "text/html"
    if base in MARKDOWN_TYPES:
        return "text/markdown"
    raise ExtractionError(
        f"unsupported media type {media_type!r}: "
        "expected application/pdf, text/html or text/markdown"
    )


def extract_manual(data: bytes, ref: ManualRef) -> ExtractedManual:
    """Extract the text of one manual, split into page- and section-aware blocks.

    Args:
        data: the manual's bytes as fetched from its source.
        ref: the manual's reference; `ref.media_type` selects the extractor and
            `ref.title` is the fallback title.

    Returns:
        The manual's blocks (in reading order) and its sections.

    Raises:
        ExtractionError: unsupported type, empty input, unreadable, encrypted or
            corrupt PDF, undecodable text, or no text at all.
    """
    media_type = canonical_media_type(ref.media_type)
    if not data:
        raise ExtractionError(f"{ref.file_name or ref.key}: the file is empty (0 bytes)")
    # Imported here so a PDF-only process never pays for trafilatura/lxml and back.
    if media_type == "application/pdf":
        from manualqa.extraction.pdf import extract_pdf

        return extract_pdf(data, ref)
    if media_type == "text/html":
        from manualqa.extraction.html import extract_html

        return extract_html(data, ref)
    from manualqa.extraction.markdown import extract_markdown

    return extract_markdown(data, ref)


_PUNCT_FOLD = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u2013": "-",
        "\u2014": "-",
        "\u2212": "-",
        "\u00a0": " ",
    }
)
_SPACE_RE = re.compile(r"\s+")
_WORD_RE = re.compile(r"[^\W\d_]{2,}")
_NUMBER_PREFIX_RE = re.compile(r"^\s*(?:\d+(?:\s?\.\d+)*\s?\.?|[IVXLC]+\.|[A-Z]\.)\s+")


def match_key(text: str) -> tuple[str, list[int]]:
    """Fold `text` for robust matching and keep a map back to the original.

    Whitespace is dropped, case is folded, accents are stripped and typographic
    quotes and dashes become ASCII, so "1.5. The  differences\\nof X" and
    "1.5. THE DIFFERENCES OF X" have the same key.

    Returns:
        The folded string and, for each of its characters, the index of the
        character of `text` it came from.
    """
    out: list[str] = []
    index: list[int] = []
    for i, ch in enumerate(text.translate(_PUNCT_FOLD)):
        if ch.isspace():
            continue
        for folded in unicodedata.normalize("NFKD", ch.casefold()):
            if unicodedata.combining(folded):
                continue
            out.append(folded)
            index.append(i)
    return "".join(out), index


def collapse_spaces(text: str) -> str:
    """Collapse every whitespace run to one space and strip the ends."""
    return _SPACE_RE.sub(" ", text).strip()


def has_words(text: str) -> bool:
    """Whether `text` holds at least one word of two or more letters."""
    return _WORD_RE.search(text) is not None


def heading_keys(title: str) -> list[str]:
    """Match keys (see `match_key`) under which a heading may appear in the text.

    The full title first, then the title without its leading number
    ("2.3 Power supply" -> "Power supply"); trailing ':' and '.' are ignored.
    """
    variants = [title]
    unnumbered = _NUMBER_PREFIX_RE.sub("", title)
    if unnumbered != title:
        variants.append(unnumbered)
    keys = [match_key(v)[0].rstrip(":.") for v in variants]
    return [k for k in dict.fromkeys(keys) if len(k) >= 2]
