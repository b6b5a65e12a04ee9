"""HTML manuals: trafilatura keeps the main content (no navigation, footers or ads)
and renders it as Markdown, which the Markdown splitter turns into sections.

trafilatura runs in its recall-oriented mode. Its precision mode judges each element by
text density, and on a plain manual page (headings, paragraphs and an <ol> straight in
<body>) it dropped every heading and the whole numbered procedure, with no error: a manual
that loses its steps answers nothing about them. Navigation, headers and footers are
removed in both modes."""

from __future__ import annotations

import logging

import lxml.html
import trafilatura

from manualqa.documents import ExtractedManual, ManualRef
from manualqa.extraction import ExtractionError, collapse_spaces
from manualqa.extraction.markdown import split_markdown

__all__ = ["extract_html", "html_to_markdown"]

log = logging.getLogger(__name__)

# Below this, what trafilatura kept is a stray menu item, not a manual.
MIN_MAIN_CONTENT_WORDS = 8


def html_to_markdown(html: bytes | str) -> str | None:
    """The main content of an HTML page as Markdown (headings, lists, tables kept), or
    None when there is none."""
    text: str | None = trafilatura.extract(
        _paired_definitions(html),
        output_format="markdown",
        include_tables=True,
        include_formatting=True,
        include_links=False,
        include_images=False,
        include_comments=False,
        deduplicate=False,
        favor_recall=True,
    )
    return text if text and text.strip() else None


def _paired_definitions(html: bytes | str) -> bytes | str:
    """The page with each definition list (<dl>) made a list of "term: description" items.

    trafilatura renders a term and its description as two unrelated list items, so an
    error code ("E4") lost the meaning and the remedy that follow it."""
    has_list = b"<dl" in html.lower() if isinstance(html, bytes) else "<dl" in html.lower()
    if not has_list:
        return html
    root = lxml.html.document_fromstring(html)
    for dl in list(root.iter("dl")):
        items = lxml.html.Element("ul")
        terms: list[str] = []  # the <dt>s the next <dd> describes
        described = False  # ... and whether one already did (a new <dt> starts a group)
        for child in dl.iter("dt", "dd"):  # HTML allows a <div> around each pair
            text = " ".join(child.text_content().split())
            if child.tag == "dt":
                if described:
                    terms, described = [], False
                terms.append(text)
            elif child.tag == "dd" and text:
                item = lxml.html.Element("li")
                item.text = f"{', '.join(terms)}: {text}" if terms else text
                items.append(item)
                described = True
        parent = dl.getparent()
        if parent is not None:
            parent.replace(dl, items)
    return lxml.html.tostring(root, encoding="unicode")


def extract_html(data: bytes, ref: ManualRef) -> ExtractedManual:
    """Extract an HTML manual's main content, split into sections by its headings.

    The title is the page's own (trafilatura metadata), else `ref.title`.

    Raises:
        ExtractionError: when the page has no main content.
    """
    if b"\x00" in data[:4096]:
        raise ExtractionError("the file holds binary data (NUL bytes), not HTML")
    markdown = html_to_markdown(data)
    words = len(markdown.split()) if markdown else 0
    if markdown is None or words < MIN_MAIN_CONTENT_WORDS:
        raise ExtractionError(
            "no main content found in the HTML page (empty, or only navigation/boilerplate: "
            f"{words} words of main text)"
        )
    title = ref.title
    try:
        metadata = trafilatura.extract_metadata(data)
    except Exception as exc:  # metadata is optional; the content is what matters
        log.warning("could not read HTML metadata of %s: %s", ref.key, exc)
        metadata = None
    if metadata is not None and metadata.title:
        title = collapse_spaces(metadata.title)
    blocks, sections = split_markdown(markdown, title)
    if not blocks:
        raise ExtractionError("no text found in the HTML page's main content")
    return ExtractedManual(
        key=ref.key,
        media_type="text/html",
        title=title,
        page_count=None,
        blocks=blocks,
        sections=sections,
    )
